// The socket/TLS error table and `check`'s wording, against real local servers: what undici and Node report, and the fix each line gives.
import { afterEach, describe, expect, it } from 'vitest';
import { causeChain, describeNetworkError, explainNetworkError, findNetworkError, NETWORK_ERRORS, networkKind, type NetworkKind } from '../../src/net/errors.ts';
import { createHttpClient, type HttpClient } from '../../src/net/http.ts';
import { describeProbeFailure } from '../../src/net/probe.ts';
import type { TlsSettings } from '../../src/net/tls.ts';
import { tlsFixture } from '../support/connect-server.ts';
import { closedPort, startHttpServer, startRawServer, type ServerTls, type TestServer } from '../support/net-servers.ts';

const TRUST: TlsSettings = { caFile: tlsFixture('ca.pem') };
const SERVER: ServerTls = { cert: 'server.pem', key: 'server.key' };
const ok = (_req: unknown, res: { end(body: string): void }) => res.end('ok');

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function serve(tls?: ServerTls): Promise<TestServer> {
  const s = await startHttpServer(ok, tls);
  cleanups.push(() => s.close());
  return s;
}

async function raw(onData: Parameters<typeof startRawServer>[0]): Promise<TestServer> {
  const s = await startRawServer(onData);
  cleanups.push(() => s.close());
  return s;
}

function client(url: string, tls: TlsSettings = {}, timeoutMs = 5_000): HttpClient {
  const c = createHttpClient({ url, tls, connections: 1, timeoutMs });
  cleanups.push(() => c.close());
  return c;
}

interface Failure {
  readonly error: unknown;
  /** The row of the table that matched. */
  readonly code: string | undefined;
  readonly kind: NetworkKind;
  readonly retryable: boolean | undefined;
  /** What `check` says. */
  readonly line: string;
}

/** One GET through the shared client that must fail, and how the table and `check` read the failure. */
async function failure(url: string, tls: TlsSettings = {}, timeoutMs = 5_000): Promise<Failure> {
  const c = client(url, tls, timeoutMs);
  const error = await c.request({ method: 'GET', path: '/' }).then(
    (reply) => {
      throw new Error(`expected no answer, got HTTP ${reply.status}`);
    },
    (e: unknown) => e,
  );
  const state = await c.tlsState().catch(() => undefined);
  const found = findNetworkError(error);
  return {
    error,
    code: found?.rule.code,
    kind: networkKind(error),
    retryable: found?.rule.retryable,
    line: await describeProbeFailure(error, { url, timeoutMs, ...(state === undefined ? {} : { tls: state.options }) }),
  };
}

async function answers(url: string, tls: TlsSettings = {}): Promise<number> {
  return (await client(url, tls).request({ method: 'GET', path: '/' })).status;
}

describe('server certificates', () => {
  it('from a CA the client does not trust: UNABLE_TO_VERIFY_LEAF_SIGNATURE, "set `tls.caFile`"', async () => {
    const s = await serve({ cert: 'server-other-ca.pem', key: 'server-other-ca.key' });
    const f = await failure(s.url, TRUST);
    expect([f.code, f.kind, f.retryable]).toEqual(['UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'tls', false]);
    expect(f.line).toMatch(/^TLS failure: UNABLE_TO_VERIFY_LEAF_SIGNATURE .*: set `tls\.caFile` to the CA that signed the server certificate$/);
  });

  it('a chain ending in a root the client does not trust: SELF_SIGNED_CERT_IN_CHAIN, "set `tls.caFile`"', async () => {
    const s = await serve({ cert: ['server-other-ca.pem', 'other-ca.pem'], key: 'server-other-ca.key' });
    const f = await failure(s.url, TRUST);
    expect(f.code).toBe('SELF_SIGNED_CERT_IN_CHAIN');
    expect(f.line).toMatch(/^TLS failure: SELF_SIGNED_CERT_IN_CHAIN .*: set `tls\.caFile` to the CA that signed the server certificate$/);
  });

  it('without tls.caFile, Node.js’s built-in list, which does not know the test CA', async () => {
    const s = await serve(SERVER);
    const f = await failure(s.url);
    expect(f.code).toBe('UNABLE_TO_VERIFY_LEAF_SIGNATURE');
    expect(f.line).toContain('set `tls.caFile`');
    expect(await answers(s.url, TRUST)).toBe(200);
  });

  it('self-signed: DEPTH_ZERO_SELF_SIGNED_CERT; trusting that certificate itself works', async () => {
    const s = await serve({ cert: 'self-signed.pem', key: 'self-signed.key' });
    const f = await failure(s.url, TRUST);
    expect([f.code, f.kind]).toEqual(['DEPTH_ZERO_SELF_SIGNED_CERT', 'tls']);
    expect(f.line).toMatch(/^TLS failure: DEPTH_ZERO_SELF_SIGNED_CERT .*: set `tls\.caFile` to that certificate/);
    expect(await answers(s.url, { caFile: tlsFixture('self-signed.pem') })).toBe(200);
  });

  it('a CA certificate presented by the server: INVALID_PURPOSE', async () => {
    const s = await serve({ cert: 'ca.pem', key: 'ca.key' });
    const f = await failure(s.url, TRUST);
    expect([f.code, f.kind]).toEqual(['INVALID_PURPOSE', 'tls']);
    expect(f.line).toContain('serverAuth');
  });

  it('for other names (the server reached by another address): ERR_TLS_CERT_ALTNAME_INVALID, "set `tls.serverName`", which fixes it', async () => {
    const s = await serve(SERVER);
    const url = `https://127.0.0.2:${s.port}`;
    const f = await failure(url, TRUST);
    expect([f.code, f.kind, f.retryable]).toEqual(['ERR_TLS_CERT_ALTNAME_INVALID', 'tls', false]);
    expect(f.line).toMatch(/^TLS failure: ERR_TLS_CERT_ALTNAME_INVALID .*127\.0\.0\.2.*: set `tls\.serverName` to a name the certificate carries, or use that name in `url`$/);
    expect(await answers(url, { ...TRUST, serverName: 'localhost' })).toBe(200);
    expect(await answers(url, { ...TRUST, serverName: '127.0.0.1' })).toBe(200);
  });

  it('another SPIFFE ID than the expected one: ERR_SPIFFE_ID_MISMATCH, saying both', async () => {
    const wrong = await serve({ cert: 'server-wrong-id.pem', key: 'server-wrong-id.key' });
    const settings = { ...TRUST, serverSpiffeId: 'spiffe://example.org/connect' };
    const f = await failure(wrong.url, settings);
    expect([f.code, f.kind, f.retryable]).toEqual(['ERR_SPIFFE_ID_MISMATCH', 'tls', false]);
    expect(f.line).toMatch(/^TLS failure: .*spiffe:\/\/example\.org\/not-connect; expected spiffe:\/\/example\.org\/connect: check `tls\.serverSpiffeId`/);
    const right = await serve(SERVER);
    expect(await answers(right.url, settings)).toBe(200);
  });
});

describe('client certificates', () => {
  it('a server requiring one, none given: a closed connection; check looks again and finds the alert, "check `tls.certFile`"', async () => {
    const s = await serve({ ...SERVER, clientCa: 'ca.pem' });
    const f = await failure(s.url, TRUST);
    // With TLS 1.3 the refusal comes after the handshake: undici only sees the connection closing.
    expect(f.code).toBe('UND_ERR_SOCKET');
    expect(f.line).toMatch(/^TLS failure: ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED .*: check `tls\.certFile` and `tls\.keyFile`/);
    expect(await answers(s.url, { ...TRUST, certFile: tlsFixture('client-1.pem'), keyFile: tlsFixture('client-1.key') })).toBe(200);
  });

  it('one the server does not trust: closed right after the handshake; check says it may refuse the certificate', async () => {
    const s = await serve({ ...SERVER, clientCa: 'other-ca.pem' });
    const f = await failure(s.url, { ...TRUST, certFile: tlsFixture('client-1.pem'), keyFile: tlsFixture('client-1.key') });
    expect(f.kind).toBe('connection');
    expect(f.line).toMatch(/^TLS failure: .*may refuse the client certificate \(check `tls\.certFile` and `tls\.keyFile`/);
  });
});

describe('the wrong protocol', () => {
  it('https:// to a plain HTTP port: ERR_SSL_WRONG_VERSION_NUMBER, "use http://"', async () => {
    const s = await serve();
    const f = await failure(`https://localhost:${s.port}`, TRUST);
    expect([f.code, f.kind, f.retryable]).toEqual(['ERR_SSL_WRONG_VERSION_NUMBER', 'protocol', false]);
    expect(f.line).toMatch(/^wrong protocol: ERR_SSL_WRONG_VERSION_NUMBER .*wrong version number.*: the server speaks plain HTTP here: use http:\/\/ in `url`/);
  });

  it('http:// to a TLS port that closes the connection (Node.js): UND_ERR_SOCKET; check tries TLS and says "use https://"', async () => {
    const s = await serve(SERVER);
    const f = await failure(`http://localhost:${s.port}`);
    expect([f.code, f.kind]).toEqual(['UND_ERR_SOCKET', 'connection']);
    expect(f.line).toMatch(/^wrong protocol: UND_ERR_SOCKET other side closed: the server expects TLS: use https:\/\/ in `url`$/);
  });

  it('http:// to a TLS port that answers with a TLS alert (OpenSSL servers): not HTTP; check says "use https://"', async () => {
    // A fatal protocol_version alert, what OpenSSL answers to bytes that are not a ClientHello.
    const s = await raw((socket) => socket.end(Buffer.from([0x15, 0x03, 0x01, 0x00, 0x02, 0x02, 0x46])));
    const f = await failure(s.url);
    expect([f.code, f.kind]).toEqual(['HTTPParserError', 'protocol']);
    expect(f.line).toMatch(/^wrong protocol: .*: the server expects TLS: use https:\/\/ in `url`$/);
  });

  it('a plain server that resets the connection is not taken for TLS', async () => {
    const s = await raw((socket) => socket.resetAndDestroy());
    const f = await failure(s.url);
    expect([f.code, f.kind]).toEqual(['ECONNRESET', 'connection']);
    expect(f.line).toMatch(/^connection failed: .*ECONNRESET/);
  });
});

describe('nothing to talk to', () => {
  it('a closed port: ECONNREFUSED, unreachable', async () => {
    const url = `http://127.0.0.1:${await closedPort()}`;
    const f = await failure(url);
    expect([f.code, f.kind, f.retryable]).toEqual(['ECONNREFUSED', 'unreachable', true]);
    expect(f.line).toMatch(/^unreachable: connect ECONNREFUSED 127\.0\.0\.1:\d+$/);
  });

  it('a host name that does not resolve: unreachable', async () => {
    const f = await failure('http://does-not-exist.invalid:8088');
    expect(f.kind).toBe('unreachable');
    expect(['ENOTFOUND', 'EAI_AGAIN']).toContain(f.code);
  });

  it('connected, but no answer within the timeout: UND_ERR_HEADERS_TIMEOUT', async () => {
    const s = await raw(() => undefined);
    const f = await failure(s.url, {}, 200);
    expect([f.code, f.kind, f.retryable]).toEqual(['UND_ERR_HEADERS_TIMEOUT', 'timeout', true]);
    expect(f.line).toMatch(/^timed out: UND_ERR_HEADERS_TIMEOUT/);
  });

  it('a TLS file that cannot be read: nothing is sent; check names the key and the file', async () => {
    const s = await serve(SERVER);
    const f = await failure(s.url, { caFile: '/nonexistent/ca.pem' });
    expect([f.code, f.kind]).toEqual(['ERR_TLS_FILE', 'tls']);
    expect(f.line).toMatch(/^TLS failure: ERR_TLS_FILE cannot read tls\.caFile \/nonexistent\/ca\.pem: ENOENT/);
  });
});

describe('the table', () => {
  it('has one row per code; a certificate or protocol problem is not retryable, a socket one is', () => {
    const codes = NETWORK_ERRORS.map((r) => r.code);
    expect(new Set(codes).size).toBe(codes.length);
    for (const r of NETWORK_ERRORS) {
      expect(['unreachable', 'timeout', 'connection', 'tls', 'protocol'], r.code).toContain(r.kind);
      if (r.kind === 'unreachable' || r.kind === 'timeout' || r.kind === 'connection') expect(r.retryable, r.code).toBe(true);
      if (r.kind === 'protocol') expect(r.retryable, r.code).toBe(false);
    }
    expect(NETWORK_ERRORS.filter((r) => r.kind === 'tls' && r.retryable).map((r) => r.code)).toEqual(['ERR_TLS_FILE']);
  });

  it('the innermost error it knows decides: an HTTP/2 stream cancelled by a refused connection is a refused connection', () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' });
    const cancelled = Object.assign(new Error('The pending stream has been canceled', { cause: refused }), { code: 'ERR_HTTP2_STREAM_CANCEL' });
    const wrapped = new Error('[unavailable] failed', { cause: cancelled });
    expect(causeChain(wrapped)).toEqual([wrapped, cancelled, refused]);
    expect(findNetworkError(wrapped)).toEqual({ rule: expect.objectContaining({ code: 'ECONNREFUSED' }), error: refused });
  });

  it('EPROTO saying "wrong version number" is https:// to a plain port (older Node.js)', () => {
    const e = Object.assign(new Error('write EPROTO 1234:error:1408F10B:SSL routines:ssl3_get_record:wrong version number'), { code: 'EPROTO' });
    expect(findNetworkError(e)?.rule.code).toBe('ERR_SSL_WRONG_VERSION_NUMBER');
    expect(findNetworkError(Object.assign(new Error('write EPROTO handshake failure'), { code: 'EPROTO' }))?.rule.code).toBe('EPROTO');
  });

  it('an unknown code is tls when it names TLS or a certificate, else connection; the code is added to the message', () => {
    expect(networkKind(Object.assign(new Error('x'), { code: 'ERR_SSL_SOMETHING_NEW' }))).toBe('tls');
    expect(networkKind(Object.assign(new Error('x'), { code: 'EWHATEVER' }))).toBe('connection');
    expect(describeNetworkError(Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }))).toBe('ECONNRESET socket hang up');
    expect(describeNetworkError(Object.assign(new Error('connect ECONNREFUSED 1.2.3.4:5'), { code: 'ECONNREFUSED' }))).toBe('connect ECONNREFUSED 1.2.3.4:5');
  });

  it('names the keys of the connector it is given', () => {
    const e = Object.assign(new Error('unable to verify the first certificate'), { code: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' });
    expect(explainNetworkError(e)).toContain('set `tls.caFile`');
    expect(explainNetworkError(e, { caFile: 'api.tls.caFile' })).toContain('set `api.tls.caFile`');
    const plain = Object.assign(new Error('wrong version number'), { code: 'ERR_SSL_WRONG_VERSION_NUMBER' });
    expect(explainNetworkError(plain)).toContain('use http:// in `url`');
    const syslog = explainNetworkError(plain, { url: 'host', withoutTls: 'use transport tcp' });
    expect(syslog).toContain('the server speaks no TLS here: use transport tcp');
    expect(syslog).not.toContain('http://');
  });
});
