// The one TLS material reloader: generations on rotation, the previous state kept through a half-way rotation, options that work for undici and node:tls.
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect, type ConnectionOptions } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SpiffeIdMismatchError, spiffeIdCheck, uriSans } from '../../src/net/spiffe.ts';
import { createTlsMaterial, TlsFileError, type TlsEvents, type TlsSettings, type TlsState } from '../../src/net/tls.ts';
import { tlsFixture } from '../support/connect-server.ts';
import { startHttpServer, type TestHttpServer } from '../support/net-servers.ts';

let dir: string;
let n = 0;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'af-net-tls-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const fixture = (name: string): Buffer => readFileSync(tlsFixture(name));

/** Replaces a file the way SVID sidecars do: a temporary file renamed over the old one. */
function replaceFile(target: string, content: Buffer | string): void {
  writeFileSync(`${target}.tmp`, content);
  renameSync(`${target}.tmp`, target);
}

/** Copies of fixtures in a fresh folder, to rotate: `{ caFile, certFile, keyFile }`. */
function files(ca = 'ca.pem', cert = 'client-1.pem', key = 'client-1.key'): Required<Pick<TlsSettings, 'caFile' | 'certFile' | 'keyFile'>> {
  const d = join(dir, `set-${(n += 1)}`);
  mkdirSync(d);
  const out = { caFile: join(d, 'ca.pem'), certFile: join(d, 'cert.pem'), keyFile: join(d, 'cert.key') };
  copyFileSync(tlsFixture(ca), out.caFile);
  copyFileSync(tlsFixture(cert), out.certFile);
  copyFileSync(tlsFixture(key), out.keyFile);
  return out;
}

/** The events as they came. */
function recorder(): TlsEvents & { changed: NonNullable<TlsEvents['changed']>; kept: TlsFileError[]; generations: number[] } {
  const kept: TlsFileError[] = [];
  const generations: number[] = [];
  return { kept, generations, changed: (s) => generations.push(s.generation), keptPrevious: (e) => kept.push(e) };
}

const rejection = (p: Promise<unknown>): Promise<unknown> =>
  p.then(
    () => {
      throw new Error('expected a rejection');
    },
    (e: unknown) => e,
  );

describe('createTlsMaterial', () => {
  it('without files: generation 0, verification on, no secure context of its own (Node.js’s CA list)', async () => {
    const tls = createTlsMaterial({});
    const state = await tls.current();
    expect(state.generation).toBe(0);
    expect(state.options.rejectUnauthorized).toBe(true);
    expect(state.options.secureContext).toBeUndefined();
    expect(await tls.current()).toBe(state);
  });

  it('reads the files once, then only when they change: each rotation is a new generation', async () => {
    const f = files('other-ca.pem');
    const events = recorder();
    const tls = createTlsMaterial(f, events);
    const first = await tls.current();
    expect([first.generation, first.clientSerial]).toEqual([1, '1001']);
    expect(await tls.current()).toBe(first);

    replaceFile(f.caFile, fixture('ca.pem'));
    const second = await tls.current();
    expect(second.generation).toBe(2);
    expect(second.options.secureContext).not.toBe(first.options.secureContext);

    replaceFile(f.certFile, fixture('client-2.pem'));
    replaceFile(f.keyFile, fixture('client-2.key'));
    const third = await tls.current();
    expect([third.generation, third.clientSerial]).toEqual([3, '1002']);
    expect(events.generations).toEqual([1, 2, 3]);
    expect(events.kept).toEqual([]);
  });

  it('rewriting a file with the same content is not a new generation', async () => {
    const f = files();
    const tls = createTlsMaterial(f);
    const first = await tls.current();
    replaceFile(f.caFile, fixture('ca.pem'));
    expect(await tls.current()).toBe(first);
  });

  it('a half-rotated pair (new certificate, old key) keeps the previous state, said once, until the key follows', async () => {
    const f = files();
    const events = recorder();
    const tls = createTlsMaterial(f, events);
    const first = await tls.current();
    replaceFile(f.certFile, fixture('client-2.pem'));
    expect(await tls.current()).toBe(first);
    expect(await tls.current()).toBe(first);
    expect(events.kept).toHaveLength(1);
    expect(events.kept[0]).toMatchObject({ code: 'ERR_TLS_FILE', problem: 'unusable', keys: ['tls.certFile', 'tls.keyFile'] });
    expect(events.kept[0]!.message).toContain('do not make a usable certificate and key');

    replaceFile(f.keyFile, fixture('client-2.key'));
    const rotated = await tls.current();
    expect([rotated.generation, rotated.clientSerial]).toEqual([2, '1002']);
  });

  it('a file half-written (PEM that does not parse) keeps the previous state', async () => {
    const f = files();
    const events = recorder();
    const tls = createTlsMaterial(f, events);
    const first = await tls.current();
    replaceFile(f.caFile, fixture('ca.pem').subarray(0, 100));
    expect(await tls.current()).toBe(first);
    expect(events.kept[0]).toMatchObject({ problem: 'unusable', keys: ['tls.caFile'] });
    replaceFile(f.certFile, '');
    expect(await tls.current()).toBe(first);
  });

  it('a file that cannot be read keeps the previous state', async () => {
    const f = files();
    const events = recorder();
    const tls = createTlsMaterial(f, events);
    const first = await tls.current();
    // Tests may run as root, who reads any file whatever its mode: a directory in its place cannot be read.
    rmSync(f.keyFile);
    mkdirSync(f.keyFile);
    expect(await tls.current()).toBe(first);
    expect(events.kept[0]).toMatchObject({ problem: 'unreadable', keys: ['tls.keyFile'] });
    expect(events.kept[0]!.message).toMatch(/^cannot read tls\.keyFile .*cert\.key: EISDIR$/);
    rmSync(f.keyFile, { recursive: true });
    writeFileSync(f.keyFile, fixture('client-1.key'));
    expect(await tls.current()).toBe(first);
  });

  it('a file that is gone rejects even with a previous state (a removal is not a rotation); back, the same state goes on', async () => {
    const f = files();
    const tls = createTlsMaterial({ ...f, configKey: 'api.tls' });
    const first = await tls.current();
    rmSync(f.caFile);
    const e = await rejection(tls.current());
    expect(e).toBeInstanceOf(TlsFileError);
    expect(e).toMatchObject({ problem: 'missing', keys: ['api.tls.caFile'], message: expect.stringMatching(/^cannot read api\.tls\.caFile .*ca\.pem: ENOENT$/) });
    writeFileSync(f.caFile, fixture('ca.pem'));
    expect(await tls.current()).toBe(first);
  });

  it('with no previous state, files that cannot be used reject, naming the keys', async () => {
    const half = files('ca.pem', 'client-2.pem', 'client-1.key');
    expect(await rejection(createTlsMaterial(half).current())).toMatchObject({ problem: 'unusable', keys: ['tls.certFile', 'tls.keyFile'] });

    const garbage = files();
    writeFileSync(garbage.caFile, 'not a certificate\n');
    expect(await rejection(createTlsMaterial(garbage).current())).toMatchObject({ problem: 'unusable', message: expect.stringContaining('tls.caFile') });

    const unreadable = files();
    rmSync(unreadable.certFile);
    mkdirSync(unreadable.certFile);
    expect(await rejection(createTlsMaterial(unreadable).current())).toMatchObject({ problem: 'unreadable', keys: ['tls.certFile'] });

    expect(await rejection(createTlsMaterial({ caFile: join(dir, 'none.pem') }).current())).toMatchObject({ problem: 'missing' });
    // And once the files are right, the same material works.
    replaceFile(half.certFile, fixture('client-1.pem'));
    const tls = createTlsMaterial(half);
    expect((await tls.current()).clientSerial).toBe('1001');
  });
});

describe('the options, on real connections', () => {
  let server: TestHttpServer;
  let wrongId: TestHttpServer;
  const servers: TestHttpServer[] = [];
  beforeAll(async () => {
    server = await startHttpServer((_q, r) => r.end('ok'), { cert: 'server.pem', key: 'server.key', clientCa: 'ca.pem' });
    wrongId = await startHttpServer((_q, r) => r.end('ok'), { cert: 'server-wrong-id.pem', key: 'server-wrong-id.key' });
    servers.push(server, wrongId);
  });
  afterAll(async () => {
    for (const s of servers) await s.close();
  });

  /** One TLS connection with the state's options: the server's answer to a GET, or the error. */
  function get(state: TlsState, port: number, host = 'localhost'): Promise<string | Error> {
    return new Promise((resolve) => {
      const options: ConnectionOptions = { ...state.options, host, port, ...(state.options.servername === undefined && isIP(host) === 0 ? { servername: host } : {}) };
      const socket = tlsConnect(options, () => socket.write(`GET / HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`));
      let text = '';
      socket.on('data', (d: Buffer) => (text += d.toString()));
      socket.on('end', () => resolve(text.split('\r\n')[0] ?? ''));
      socket.on('error', (e) => resolve(e));
    });
  }

  it('node:tls with the client certificate: the server sees it, and a rotation shows the new one', async () => {
    const f = files();
    const tls = createTlsMaterial(f);
    expect(await get(await tls.current(), server.port)).toBe('HTTP/1.1 200 OK');
    replaceFile(f.certFile, fixture('client-2.pem'));
    replaceFile(f.keyFile, fixture('client-2.key'));
    expect(await get(await tls.current(), server.port)).toBe('HTTP/1.1 200 OK');
    expect(server.requests.slice(-2).map((r) => r.clientSerial)).toEqual(['1001', '1002']);
  });

  it('serverName: sent as SNI and checked; an IP address is checked but not sent', async () => {
    const f = files();
    expect(await get(await createTlsMaterial({ ...f, serverName: 'connect.example.org' }).current(), server.port, '127.0.0.2')).toBe('HTTP/1.1 200 OK');
    const byIp = await createTlsMaterial({ ...f, serverName: '127.0.0.1' }).current();
    expect(byIp.options.servername).toBeUndefined();
    expect(await get(byIp, server.port, '127.0.0.2')).toBe('HTTP/1.1 200 OK');
    const wrong = await get(await createTlsMaterial({ ...f, serverName: 'elsewhere.example.org' }).current(), server.port);
    expect(wrong).toMatchObject({ code: 'ERR_TLS_CERT_ALTNAME_INVALID' });
  });

  it('serverSpiffeId: the SPIFFE ID authorises the server, whatever its name; another ID is refused', async () => {
    const f = files();
    const tls = await createTlsMaterial({ ...f, serverSpiffeId: 'spiffe://example.org/connect', serverName: 'elsewhere.example.org' }).current();
    expect(await get(tls, server.port)).toBe('HTTP/1.1 200 OK');
    const refused = await get(tls, wrongId.port);
    expect(refused).toBeInstanceOf(SpiffeIdMismatchError);
    expect(refused).toMatchObject({ code: 'ERR_SPIFFE_ID_MISMATCH', expected: 'spiffe://example.org/connect', actual: ['spiffe://example.org/not-connect'] });
  });
});

describe('SPIFFE helpers', () => {
  it('uriSans reads the URI SANs of Node’s subjectaltname, quoted ones included', () => {
    expect(uriSans('URI:spiffe://example.org/connect, DNS:localhost, IP Address:127.0.0.1')).toEqual(['spiffe://example.org/connect']);
    expect(uriSans('DNS:a, URI:"spiffe://example.org/a, b", URI:spiffe://example.org/c')).toEqual(['spiffe://example.org/a, b', 'spiffe://example.org/c']);
    expect(uriSans(undefined)).toEqual([]);
  });

  it('spiffeIdCheck wants exactly one SPIFFE ID, the expected one', () => {
    const check = spiffeIdCheck('spiffe://example.org/connect');
    const cert = (san: string) => ({ subjectaltname: san }) as Parameters<typeof check>[1];
    expect(check('h', cert('URI:spiffe://example.org/connect, DNS:h'))).toBeUndefined();
    expect(check('h', cert('DNS:h'))?.message).toBe('the server certificate has no SPIFFE ID (URI SAN); expected spiffe://example.org/connect');
    expect(check('h', cert('URI:spiffe://example.org/connect, URI:spiffe://example.org/other'))).toBeInstanceOf(SpiffeIdMismatchError);
  });
});
