// The shared HTTP client against real servers: base path, credentials that rotate, gzip, capped replies, Retry-After, a new pool per TLS generation.
import { copyFileSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import type { ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Secret } from '../../src/config/types.ts';
import { createAuthorization, createSecretHeaders, CredentialValueError } from '../../src/net/auth.ts';
import { gzip } from '../../src/net/gzip.ts';
import { createHttpClient, type HttpClient, type HttpClientOptions } from '../../src/net/http.ts';
import type { TlsFileError } from '../../src/net/tls.ts';
import { tlsFixture } from '../support/connect-server.ts';
import { startHttpServer, type Handler, type TestHttpServer } from '../support/net-servers.ts';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'af-net-http-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** A server whose answer can be changed per test, and requests held until released. */
async function server(tls?: Parameters<typeof startHttpServer>[1]) {
  let answer: Handler = (_req, res) => res.end('{"ok":true}');
  const held: ServerResponse[] = [];
  let holdNext = 0;
  const s = await startHttpServer((req, res, body) => {
    if (holdNext > 0) {
      holdNext -= 1;
      held.push(res);
      return;
    }
    answer(req, res, body);
  }, tls);
  cleanups.push(() => s.close());
  return Object.assign(s, {
    answer: (h: Handler) => (answer = h),
    hold: () => (holdNext += 1),
    held,
  }) as TestHttpServer & { answer(h: Handler): void; hold(): void; held: ServerResponse[] };
}

function client(options: Partial<HttpClientOptions> & { url: string }): HttpClient {
  const c = createHttpClient({ connections: 2, timeoutMs: 5_000, ...options });
  cleanups.push(() => c.close());
  return c;
}

function replaceFile(target: string, content: Buffer | string): void {
  writeFileSync(`${target}.tmp`, content);
  renameSync(`${target}.tmp`, target);
}

describe('requests', () => {
  it('keeps the base URL’s path as a prefix; sends the body as JSON with the user agent', async () => {
    const s = await server();
    const c = client({ url: `${s.url}/splunk/` });
    const reply = await c.request({ method: 'POST', path: '/services/collector/event?x=1', body: '{"a":1}' });
    expect(reply.status).toBe(200);
    expect(JSON.parse(reply.text())).toEqual({ ok: true });
    expect(s.requests[0]).toMatchObject({ method: 'POST', url: '/splunk/services/collector/event?x=1', body: Buffer.from('{"a":1}') });
    expect(s.requests[0]!.headers).toMatchObject({ 'content-type': 'application/json', 'user-agent': 'audit-forwarder' });
    await c.request({ method: 'POST', path: '/_bulk', body: '{}\n', contentType: 'application/x-ndjson' });
    expect(s.requests[1]!.headers['content-type']).toBe('application/x-ndjson');
  });

  it('gzips the body on request, with Content-Encoding', async () => {
    const s = await server();
    const c = client({ url: s.url });
    const body = Buffer.from('{"event":"x"}\n'.repeat(1000));
    await c.request({ method: 'POST', path: '/', body, gzip: true });
    expect(s.requests[0]!.headers['content-encoding']).toBe('gzip');
    expect(gunzipSync(s.requests[0]!.body)).toEqual(body);
    expect(gunzipSync(await gzip('abc')).toString()).toBe('abc');
  });

  it('an error status is an answer, with Retry-After and headers; a long body is cut at the cap and says so', async () => {
    const s = await server();
    s.answer((_q, res) => {
      res.writeHead(503, { 'Retry-After': '30', 'X-Thing': 'y' });
      res.end('x'.repeat(10_000));
    });
    const c = client({ url: s.url, maxReplyBytes: 100 });
    const reply = await c.request({ method: 'GET', path: '/' });
    expect(reply).toMatchObject({ status: 503, retryAfter: '30', truncated: true });
    expect(reply.headers['x-thing']).toBe('y');
    expect(reply.body).toHaveLength(100);
    const whole = await c.request({ method: 'GET', path: '/', maxReplyBytes: 20_000 });
    expect([whole.body.length, whole.truncated]).toEqual([10_000, false]);
  });

  it('rejects with the signal’s reason when aborted', async () => {
    const s = await server();
    s.hold();
    const controller = new AbortController();
    const c = client({ url: s.url });
    const pending = c.request({ method: 'GET', path: '/' }, controller.signal).catch((e: unknown) => e);
    await expect.poll(() => s.held.length).toBe(1);
    const reason = new Error('stopping');
    controller.abort(reason);
    expect(await pending).toBe(reason);
    s.held[0]!.end();
  });

  it('close() lets a request in flight finish; requests after it reject', async () => {
    const s = await server();
    s.hold();
    const c = createHttpClient({ url: s.url, connections: 1, timeoutMs: 5_000 });
    const pending = c.request({ method: 'GET', path: '/' });
    await expect.poll(() => s.held.length).toBe(1);
    let closed = false;
    const closing = c.close().then(() => (closed = true));
    s.held[0]!.end('late');
    expect((await pending).text()).toBe('late');
    await closing;
    expect(closed).toBe(true);
    await expect(c.request({ method: 'GET', path: '/' })).rejects.toThrow(/closed/);
  });
});

describe('credentials', () => {
  it('sends Authorization and extra headers, re-reading their files when they change', async () => {
    const s = await server();
    const tokenFile = join(dir, 'token');
    const keyFile = join(dir, 'dd-key');
    writeFileSync(tokenFile, 'token-1\n');
    writeFileSync(keyFile, 'key-1\n');
    const c = client({
      url: s.url,
      authorization: createAuthorization({ type: 'bearer', bearer: new Secret('token-1', tokenFile) }),
      headers: createSecretHeaders({ 'DD-API-KEY': new Secret('key-1', keyFile), 'X-Scope-OrgID': new Secret('tenant') }),
    });
    await c.request({ method: 'GET', path: '/' });
    expect(s.requests[0]!.headers).toMatchObject({ authorization: 'Bearer token-1', 'dd-api-key': 'key-1', 'x-scope-orgid': 'tenant' });
    replaceFile(tokenFile, 'token-2\n');
    replaceFile(keyFile, 'key-2\n');
    await c.request({ method: 'GET', path: '/' });
    expect(s.requests[1]!.headers).toMatchObject({ authorization: 'Bearer token-2', 'dd-api-key': 'key-2' });
  });

  it('a credential that cannot be sent rejects with CredentialValueError, and nothing is sent', async () => {
    const s = await server();
    const c = client({ url: s.url, authorization: createAuthorization({ type: 'apiKey', apiKey: new Secret('a\nb') }) });
    const e = await c.request({ method: 'GET', path: '/' }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(CredentialValueError);
    expect(s.requests).toHaveLength(0);
  });
});

describe('TLS', () => {
  const clientCerts = () => {
    const certFile = join(dir, `client-${Math.random().toString(36).slice(2)}.pem`);
    const keyFile = certFile.replace(/\.pem$/, '.key');
    copyFileSync(tlsFixture('client-1.pem'), certFile);
    copyFileSync(tlsFixture('client-1.key'), keyFile);
    return { caFile: tlsFixture('ca.pem'), certFile, keyFile };
  };

  it('rotated client certificate: new requests go through a new pool, a request in flight finishes on the old one', async () => {
    const s = await server({ cert: 'server.pem', key: 'server.key', clientCa: 'ca.pem' });
    const tls = clientCerts();
    const generations: number[] = [];
    const c = client({ url: s.url, tls, tlsEvents: { changed: (st) => generations.push(st.generation) } });
    await c.request({ method: 'GET', path: '/first' });
    s.hold();
    const inFlight = c.request({ method: 'GET', path: '/held' });
    await expect.poll(() => s.held.length).toBe(1);

    replaceFile(tls.certFile, readFileSync(tlsFixture('client-2.pem')));
    replaceFile(tls.keyFile, readFileSync(tlsFixture('client-2.key')));
    expect((await c.request({ method: 'GET', path: '/after' })).status).toBe(200);
    s.held[0]!.end('old pool');
    expect((await inFlight).text()).toBe('old pool');

    const seen = Object.fromEntries(s.requests.map((r) => [r.url, r]));
    expect([seen['/first']?.clientSerial, seen['/held']?.clientSerial, seen['/after']?.clientSerial]).toEqual(['1001', '1001', '1002']);
    expect(seen['/after']?.connection).not.toBe(seen['/held']?.connection);
    expect(generations).toEqual([1, 2]);
  });

  it('a half-rotated pair: requests go on with the previous certificate, and the client says so', async () => {
    const s = await server({ cert: 'server.pem', key: 'server.key', clientCa: 'ca.pem' });
    const tls = clientCerts();
    const kept: TlsFileError[] = [];
    const c = client({ url: s.url, tls, tlsEvents: { keptPrevious: (e) => kept.push(e) } });
    await c.request({ method: 'GET', path: '/' });
    replaceFile(tls.certFile, readFileSync(tlsFixture('client-2.pem')));
    expect((await c.request({ method: 'GET', path: '/' })).status).toBe(200);
    expect(s.requests.map((r) => r.clientSerial)).toEqual(['1001', '1001']);
    expect(kept.map((k) => k.problem)).toEqual(['unusable']);
  });

  it('TLS settings are not used for http://', async () => {
    const s = await server();
    const c = client({ url: s.url, tls: { caFile: join(dir, 'does-not-exist.pem') } });
    expect((await c.request({ method: 'GET', path: '/' })).status).toBe(200);
    expect(await c.tlsState()).toBeUndefined();
  });
});
