// The Connect API transport against a real AuditService server (gRPC and Connect, TLS and SPIFFE mTLS) backed by PostgreSQL.
import { copyFileSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Code } from '@connectrpc/connect';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createApiReader } from '../../connectors/connect/api-reader.ts';
import { STATUS_TABLE } from '../../connectors/connect/classify.ts';
import { uriSans } from '../../src/net/spiffe.ts';
import { connectApiSchema, type ConnectApiConfig } from '../../connectors/connect/config.ts';
import { PageTokenRefused, readWholeWindow, type ConnectEventReader, type WindowQuery } from '../../connectors/connect/window.ts';
import { ForwarderError } from '../../src/contracts/errors.ts';
import { silentLogger } from '../../src/logging.ts';
import { decodeConnectEvent } from '../../src/model/decode-connect.ts';
import { isJsonObject, type JsonObject, type JsonValue } from '../../src/model/json.ts';
import { toEpochMicros } from '../../src/model/time.ts';
import { startConnectServer, tlsFixture, type ConnectTestServer } from '../support/connect-server.ts';
import { connectEventJson } from '../support/generate.ts';
import { startPostgres, type TestPostgres } from '../support/postgres.ts';

const COUNT = 2500;
const SERVER_ID = 'spiffe://example.org/connect';
const CLIENT_ID = 'spiffe://example.org/ns/forwarder/sa/audit-forwarder';
const context = { logger: silentLogger(), baseDir: process.cwd() };

const timeOf = (i: number): string => connectEventJson(i).occurredAt as string;
const ALL: WindowQuery = { from: timeOf(0), to: timeOf(COUNT - 1) };
const FAR = '2027-06-01T00:00:00.000000Z';

let postgres: TestPostgres;
let databaseUrl: string;
let server: ConnectTestServer;
let dir: string;
const readers: ConnectEventReader[] = [];

/** A parsed configuration: the server's CA, the first client SVID, the server's SPIFFE ID, pages of 100. */
function config(overrides: Record<string, unknown> = {}, tls: Record<string, unknown> = {}): ConnectApiConfig {
  return connectApiSchema.parse({
    url: server.url,
    pageSize: 100,
    ...overrides,
    tls: { caFile: tlsFixture('ca.pem'), certFile: tlsFixture('client-1.pem'), keyFile: tlsFixture('client-1.key'), serverSpiffeId: SERVER_ID, ...tls },
  });
}

function reader(c: ConnectApiConfig = config()): ConnectEventReader {
  const r = createApiReader(c, context);
  readers.push(r);
  return r;
}

async function readPages(r: ConnectEventReader, query: WindowQuery = ALL, signal = new AbortController().signal): Promise<JsonObject[][]> {
  const pages: JsonObject[][] = [];
  for await (const page of readWholeWindow(r, query, signal)) pages.push(page.filter(isJsonObject));
  return pages;
}

const idsOf = (pages: readonly (readonly JsonObject[])[]): string[] => pages.flat().map((e) => e.id as string);
const expectedIds = (from: number, to: number): string[] => Array.from({ length: to - from }, (_, k) => connectEventJson(from + k).id as string);

async function failure(p: Promise<unknown>): Promise<ForwarderError> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(ForwarderError);
  return e as ForwarderError;
}

/** Replaces a file the way SVID sidecars do: write a temporary file, rename it over the old one. */
function replaceFile(target: string, content: Buffer | string): void {
  const tmp = `${target}.tmp`;
  writeFileSync(tmp, content);
  renameSync(tmp, target);
}

beforeAll(async () => {
  postgres = await startPostgres();
  databaseUrl = await postgres.createDatabase('connect_api');
  server = await startConnectServer({ databaseUrl });
  await server.insertEvents(Array.from({ length: COUNT }, (_, i) => connectEventJson(i)));
  dir = mkdtempSync(join(tmpdir(), 'af-connect-api-'));
});

afterAll(async () => {
  for (const r of readers) await r.close();
  await server?.close();
  await postgres?.stop();
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
});

beforeEach(() => {
  Object.assign(server.knobs, { descending: false, exclusiveBounds: false, tokenMaxAgeCalls: undefined, token: undefined });
});

describe('reading a window', () => {
  it('follows next_page_token to the end: 2 500 events in pages of 100, over gRPC with SPIFFE mTLS', async () => {
    const before = server.calls.length;
    const pages = await readPages(reader());
    expect(pages).toHaveLength(COUNT / 100);
    expect(pages.every((p) => p.length === 100)).toBe(true);
    expect(idsOf(pages)).toEqual(expectedIds(0, COUNT));

    const calls = server.calls.slice(before);
    expect(calls).toHaveLength(COUNT / 100);
    expect(calls.every((c) => c.protocol === 'grpc' && c.result?.code === 'ok')).toBe(true);
    expect(calls.map((c) => ((c.request as JsonObject).pagination as JsonObject | undefined)?.pageToken !== undefined)).toEqual(calls.map((_, i) => i > 0));

    // What comes out is the proto3 JSON that decodeConnectEvent reads, to the microsecond, with the data intact.
    for (const i of [0, 1, 1234, COUNT - 1]) {
      const e = pages.flat()[i] as JsonObject;
      const want = connectEventJson(i);
      expect(toEpochMicros(e.occurredAt as string)).toBe(toEpochMicros(want.occurredAt as string));
      expect(e.type).toBe(want.type);
      expect(JSON.parse(Buffer.from(e.data as string, 'base64').toString('utf8'))).toEqual(JSON.parse(Buffer.from(want.data as string, 'base64').toString('utf8')));
      const decoded = decodeConnectEvent(e);
      expect(decoded.ok).toBe(true);
    }
  });

  it('speaks the Connect protocol as well', async () => {
    const before = server.calls.length;
    const pages = await readPages(reader(config({ protocol: 'connect' })), { from: timeOf(200), to: timeOf(449) });
    expect(idsOf(pages)).toEqual(expectedIds(200, 450));
    expect(server.calls.slice(before).map((c) => c.protocol)).toEqual(['connect', 'connect', 'connect']);
  });

  it('pushes the event-type selection down as filter.event_types and filter.exclude.event_types', async () => {
    const before = server.calls.length;
    const query = { ...ALL, includeTypes: [26, 27, 28], excludeTypes: [27] };
    const events = (await readPages(reader(), query)).flat();
    expect(events.length).toBeGreaterThan(0);
    expect(new Set(events.map((e) => e.type))).toEqual(new Set(['EVENT_TYPE_TRUST_ZONE_CREATION', 'EVENT_TYPE_TRUST_ZONE_DELETION']));
    const expected = Array.from({ length: COUNT }, (_, i) => connectEventJson(i)).filter((e) => e.type === 'EVENT_TYPE_TRUST_ZONE_CREATION' || e.type === 'EVENT_TYPE_TRUST_ZONE_DELETION');
    expect(events.map((e) => e.id)).toEqual(expected.map((e) => e.id));
    const filter = (server.calls[before]?.request as JsonObject).filter as JsonObject;
    expect(filter.eventTypes).toEqual(['EVENT_TYPE_TRUST_ZONE_CREATION', 'EVENT_TYPE_TRUST_ZONE_UPDATE', 'EVENT_TYPE_TRUST_ZONE_DELETION']);
    expect(filter.exclude).toEqual({ eventTypes: ['EVENT_TYPE_TRUST_ZONE_UPDATE'] });
  });

  it('asks nothing for an empty inclusion list (an empty repeated field would mean every type)', async () => {
    const before = server.calls.length;
    expect(await readPages(reader(), { ...ALL, includeTypes: [] })).toEqual([]);
    expect(server.calls.length).toBe(before);
  });

  it('returns the whole window, `from` included, when the server pages newest first and treats bounds as exclusive', async () => {
    server.knobs.descending = true;
    server.knobs.exclusiveBounds = true;
    const ids = idsOf(await readPages(reader(), { from: timeOf(100), to: timeOf(399) }));
    expect(ids[0]).toBe(connectEventJson(398).id);
    // `to` itself may or may not come back (the window contract); everything from `from` on must.
    expect([...ids].sort()).toEqual(expectedIds(100, 399).sort());

    server.knobs.exclusiveBounds = false;
    const inclusive = idsOf(await readPages(reader(), { from: timeOf(100), to: timeOf(399) }));
    expect([...inclusive].sort()).toEqual(expectedIds(100, 400).sort());
  });

  it('sends each bound to the microsecond, `occurred_after` one microsecond before `from`', async () => {
    const before = server.calls.length;
    await readPages(reader(), { from: '2026-03-01T00:00:01.000000Z', to: '2026-03-01T00:00:02.000007Z' });
    const filter = (server.calls[before]?.request as JsonObject).filter as JsonObject;
    expect(filter.occurredAfter).toBe('2026-03-01T00:00:00.999999Z');
    expect(filter.occurredBefore).toBe('2026-03-01T00:00:02.000007Z');
  });

  it('keeps event-type numbers the generated code does not know (forwarded as unknown_<n>)', async () => {
    await server.insertEvents([{ ...connectEventJson(0), id: 'ae-unknown-type', occurredAt: FAR, type: 99, links: [{ type: 42, id: 'x' }] }]);
    const events = (await readPages(reader(), { from: FAR, to: FAR })).flat();
    expect(events).toHaveLength(1);
    expect(events[0]?.type).toBe(99);
    const decoded = decodeConnectEvent(events[0]);
    expect(decoded.ok && decoded.event.type).toBe('unknown_99');
  });

  it('rejects promptly with the signal\'s reason when the signal aborts during a call', async () => {
    const hold = server.holdNext();
    const controller = new AbortController();
    const page = reader().readPage(ALL, undefined, controller.signal).then(
      () => 'resolved',
      (e: unknown) => e,
    );
    await hold.reached;
    const reason = new Error('stopping');
    controller.abort(reason);
    expect(await page).toBe(reason);
    hold.release();
  });
});

describe('page tokens', () => {
  it('hands out next_page_token, and the page after it for that token', async () => {
    const r = reader();
    const query = { from: timeOf(0), to: timeOf(249) };
    const first = await r.readPage(query, undefined, new AbortController().signal);
    expect(first.events).toHaveLength(100);
    expect(first.next).toEqual(expect.any(String));
    const second = await r.readPage(query, first.next, new AbortController().signal);
    expect(second.events.map((e) => (e as JsonObject).id)).toEqual(expectedIds(100, 200));
    // A failed call can be made again with the same token: the window resumes at that page.
    const again = await r.readPage(query, first.next, new AbortController().signal);
    expect(again.events).toEqual(second.events);
    const last = await r.readPage(query, second.next, new AbortController().signal);
    expect(last.events).toHaveLength(50);
    expect(last.next).toBeUndefined();
  });

  it('a refused (expired) page token is thrown as PageTokenRefused, for the source to decide where to go on', async () => {
    const r = reader();
    const query = { from: timeOf(0), to: timeOf(999) };
    const first = await r.readPage(query, undefined, new AbortController().signal);
    server.expireTokens();
    const before = server.calls.length;
    const e = await r.readPage(query, first.next, new AbortController().signal).then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(e).toBeInstanceOf(PageTokenRefused);
    expect(server.calls.slice(before).map((c) => c.result?.code)).toEqual(['InvalidArgument']);
  });

  it('takes FAILED_PRECONDITION on a request with a token as a refused token too; without a token it is permanent', async () => {
    const r = reader();
    const query = { from: timeOf(0), to: timeOf(299) };
    const first = await r.readPage(query, undefined, new AbortController().signal);
    server.failNext(1, Code.FailedPrecondition, 'page token too old');
    expect(await r.readPage(query, first.next, new AbortController().signal).catch((e: unknown) => e)).toBeInstanceOf(PageTokenRefused);
    server.failNext(1, Code.FailedPrecondition, 'not ready');
    const e = await failure(r.readPage(query, undefined, new AbortController().signal));
    expect(e.disposition).toBe('permanent');
  });
});

describe('errors', () => {
  it.each(STATUS_TABLE.map((r) => [r.name, r.action, r] as const))('%s on the first page is %s, as the table says', async (_name, _action, rule) => {
    const r = reader();
    server.failNext(1, rule.code, `injected ${rule.name}`);
    const e = await failure(readPages(r));
    expect(e.stage).toBe('source');
    expect(e.disposition).toBe(rule.action);
    expect(e.message).toContain(rule.name);
    // The same reader goes on working once the condition clears.
    expect(idsOf(await readPages(r, { from: timeOf(0), to: timeOf(9) }))).toHaveLength(10);
  });

  it('refuses a missing or wrong bearer token permanently, with a clear message that never shows a token', async () => {
    server.knobs.token = 'the-right-token';
    const missing = await failure(readPages(reader()));
    expect(missing.disposition).toBe('permanent');
    expect(missing.message).toContain('UNAUTHENTICATED');
    expect(missing.message).toContain('bearer token');

    const wrong = await failure(readPages(reader(config({ token: 'a-wrong-token' }))));
    expect(wrong.disposition).toBe('permanent');
    expect(wrong.message).not.toContain('a-wrong-token');
    expect(wrong.message).not.toContain('the-right-token');
  });

  it('sends the bearer token and re-reads its file after a change', async () => {
    const tokenFile = join(dir, 'token');
    writeFileSync(tokenFile, 'token-one\n');
    const r = reader(config({ tokenFile }));
    server.knobs.token = 'token-one';
    await readPages(r, { from: timeOf(0), to: timeOf(9) });
    expect(server.calls.at(-1)?.authorization).toBe('Bearer token-one');

    replaceFile(tokenFile, 'token-number-two\n');
    server.knobs.token = 'token-number-two';
    await readPages(r, { from: timeOf(0), to: timeOf(9) });
    expect(server.calls.at(-1)?.authorization).toBe('Bearer token-number-two');
    expect(server.calls.at(-1)?.result?.code).toBe('ok');
  });

  it('applies the per-call deadline: a call that takes longer is a retryable DEADLINE_EXCEEDED', async () => {
    const hold = server.holdNext();
    const e = await failure(readPages(reader(config({ deadline: '200ms' }))));
    hold.release();
    expect(e.disposition).toBe('retryable');
    expect(e.message).toContain('DEADLINE_EXCEEDED');
  });

  it.each(['grpc', 'connect'] as const)('a server restart during a call is retryable, and the next read reconnects (%s)', async (protocol) => {
    const r = reader(config({ protocol }));
    const hold = server.holdNext();
    const reading = failure(readPages(r));
    await hold.reached;
    await server.stop();
    await server.start();
    const e = await reading;
    expect(e.disposition).toBe('retryable');
    expect(idsOf(await readPages(r, { from: timeOf(0), to: timeOf(9) }))).toHaveLength(10);
  });

  it('a server that is down is retryable', async () => {
    const down = await startConnectServer({ databaseUrl });
    await down.stop();
    const e = await failure(readPages(reader(config({ url: down.url }))));
    expect(e.disposition).toBe('retryable');
    await down.close();
  });

  it('refuses a plaintext URL to a host that is not loopback', () => {
    expect(() => createApiReader(connectApiSchema.parse({ url: 'http://connect.example.org:8080' }), context)).toThrow(/only accepted for a loopback host/);
  });
});

describe('TLS and SPIFFE', () => {
  it('mTLS: the server sees the client SVID', async () => {
    const before = server.calls.length;
    await readPages(reader(), { from: timeOf(0), to: timeOf(9) });
    const cert = server.calls[before]?.clientCert;
    expect(cert?.serialNumber).toBe('1001');
    expect(cert?.uris).toEqual([CLIENT_ID]);
    expect(cert?.authorized).toBe(true);
  });

  it('refuses a server with another SPIFFE ID, permanently, saying which', async () => {
    const wrong = await startConnectServer({ databaseUrl, tls: { certFile: tlsFixture('server-wrong-id.pem'), keyFile: tlsFixture('server-wrong-id.key') } });
    try {
      const e = await failure(readPages(reader(config({ url: wrong.url }))));
      expect(e.disposition).toBe('permanent');
      expect(e.message).toContain('spiffe://example.org/not-connect');
      expect(e.message).toContain(`expected ${SERVER_ID}`);
      expect(wrong.calls).toHaveLength(0);
    } finally {
      await wrong.close();
    }
  });

  it('always verifies the server: a certificate from another CA is refused permanently', async () => {
    const other = await startConnectServer({ databaseUrl, tls: { certFile: tlsFixture('server-other-ca.pem'), keyFile: tlsFixture('server-other-ca.key') } });
    try {
      const e = await failure(readPages(reader(config({ url: other.url }))));
      expect(e.disposition).toBe('permanent');
      expect(e.message).toContain('does not chain to the CA bundle');
      expect(other.calls).toHaveLength(0);
    } finally {
      await other.close();
    }
  });

  it('a server requiring a client certificate refuses a client without one, permanently', async () => {
    const strict = await startConnectServer({ databaseUrl, tls: { clientAuth: 'require' } });
    try {
      const e = await failure(readPages(reader(config({ url: strict.url }, { certFile: undefined, keyFile: undefined }))));
      expect(e.disposition).toBe('permanent');
      expect(e.message).toContain('client certificate');
      expect(strict.calls).toHaveLength(0);
    } finally {
      await strict.close();
    }
  });

  it('authority override: SNI and :authority, and the host name checked against it when no SPIFFE ID is set', async () => {
    const before = server.calls.length;
    await readPages(reader(config({ authority: 'connect.example.org' }, { serverSpiffeId: undefined })), { from: timeOf(0), to: timeOf(9) });
    expect(server.calls[before]?.serverName).toBe('connect.example.org');
    expect(server.calls[before]?.authority).toBe('connect.example.org');

    const e = await failure(readPages(reader(config({ authority: 'elsewhere.example.org' }, { serverSpiffeId: undefined }))));
    expect(e.disposition).toBe('permanent');
    expect(e.message).toContain('ERR_TLS_CERT_ALTNAME_INVALID');

    // With a SPIFFE ID, the SPIFFE ID is what authorises the server, whatever the authority.
    const ok = await readPages(reader(config({ authority: 'elsewhere.example.org' })), { from: timeOf(0), to: timeOf(9) });
    expect(idsOf(ok)).toHaveLength(10);
  });

  it('picks up rotated SVID files without a restart, and keeps the connection while they do not change', async () => {
    const certFile = join(dir, 'svid.pem');
    const keyFile = join(dir, 'svid.key');
    copyFileSync(tlsFixture('client-1.pem'), certFile);
    copyFileSync(tlsFixture('client-1.key'), keyFile);
    const r = reader(config({}, { certFile, keyFile }));
    const small = { from: timeOf(0), to: timeOf(9) };
    const call = async () => {
      const before = server.calls.length;
      await readPages(r, small);
      const c = server.calls[before];
      return { serial: c?.clientCert?.serialNumber, connection: c?.connection };
    };

    const first = await call();
    expect(first.serial).toBe('1001');
    expect(await call()).toEqual(first);

    // Half-way through a rotation (new certificate, old key), the previous pair stays in use.
    replaceFile(certFile, readFixture('client-2.pem'));
    expect(await call()).toEqual(first);

    replaceFile(keyFile, readFixture('client-2.key'));
    const rotated = await call();
    expect(rotated.serial).toBe('1002');
    expect(rotated.connection).not.toBe(first.connection);
    expect(await call()).toEqual(rotated);
  });

  it('reads over plaintext HTTP/2 on loopback (tests)', async () => {
    const plain = await startConnectServer({ databaseUrl, tls: false });
    try {
      expect(plain.url.startsWith('http://')).toBe(true);
      const pages = await readPages(reader(connectApiSchema.parse({ url: plain.url, pageSize: 100 })), { from: timeOf(0), to: timeOf(149) });
      expect(idsOf(pages)).toEqual(expectedIds(0, 150));
    } finally {
      await plain.close();
    }
  });
});

function readFixture(name: string): Buffer {
  return readFileSync(tlsFixture(name));
}

describe('uriSans', () => {
  it('reads the URI SANs of Node’s subjectaltname, quoted ones included', () => {
    expect(uriSans('URI:spiffe://example.org/connect, DNS:localhost, IP Address:127.0.0.1')).toEqual(['spiffe://example.org/connect']);
    expect(uriSans('DNS:a, URI:"spiffe://example.org/a, b", URI:spiffe://example.org/c')).toEqual(['spiffe://example.org/a, b', 'spiffe://example.org/c']);
    expect(uriSans(undefined)).toEqual([]);
  });
});
