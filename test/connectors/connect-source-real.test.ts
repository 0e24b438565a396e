// The Connect source end to end on real servers: one table of cases, each run over the API transport (gRPC, SPIFFE mTLS) and the PostgreSQL transport, on the same database.
import { chmodSync, chownSync, copyFileSync, mkdtempSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createApiReader } from '../../connectors/connect/api-reader.ts';
import { connectSourceSchema, type ConnectSourceConfig } from '../../connectors/connect/config.ts';
import type { ConnectLivePosition } from '../../connectors/connect/cursor.ts';
import { createPostgresReader } from '../../connectors/connect/postgres-reader.ts';
import { createConnectSource, type ConnectSource } from '../../connectors/connect/source.ts';
import type { ConnectEventReader, EventPage, WindowQuery } from '../../connectors/connect/window.ts';
import { ForwarderError } from '../../src/contracts/errors.ts';
import type { Position, SourceReadOptions, SourceRecord } from '../../src/contracts/source.ts';
import { silentLogger } from '../../src/logging.ts';
import { isJsonObject, type JsonObject, type JsonValue } from '../../src/model/json.ts';
import { nowCanonical } from '../../src/model/now.ts';
import { parseEventTime } from '../../src/model/time.ts';
import { startConnectServer, tlsFixture, type ConnectTestServer } from '../support/connect-server.ts';
import { connectEventJson } from '../support/generate.ts';
import { startPostgres, type TestPostgres } from '../support/postgres.ts';

/** `connectEventJson(i)` occurs at BASE_MS + i · 1.000003 s. */
const BASE_MS = Date.UTC(2026, 2, 1);
const MINUTE = 60_000;
const SETTLE = 10_000;
const LOOKBACK = 5 * MINUTE;
const SERVER_ID = 'spiffe://example.org/connect';
const context = { logger: silentLogger(), baseDir: process.cwd() };

type TransportName = 'api' | 'postgres';
type Event = Record<string, unknown> & { id: string; occurredAt: string };

let postgres: TestPostgres;
let databaseUrl: string;
let server: ConnectTestServer;
let admin: pg.Client;
let dir: string;
const opened: ConnectSource[] = [];
const cleanups: (() => Promise<void>)[] = [];

// ---- events ----

const event = (i: number, overrides: Record<string, unknown> = {}): Event => ({ ...connectEventJson(i), ...overrides }) as Event;
const events = (from: number, count: number): Event[] => Array.from({ length: count }, (_, k) => event(from + k));
/** A canonical time `offsetMs` after BASE_MS, with 250 µs more (so that it is no millisecond boundary). */
const timeAt = (offsetMs: number): string => nowCanonical(BASE_MS + offsetMs).replace(/000Z$/, '250Z');
const lastMs = (list: readonly Event[]): number => Math.max(...list.map((e) => Date.parse(e.occurredAt)));

/** Ids in the order the source must deliver them: (occurred_at, id), as strings compare. */
function inOrder(list: readonly Event[]): string[] {
  const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
  return [...list].sort((a, b) => cmp(a.occurredAt, b.occurredAt) || cmp(a.id, b.id)).map((e) => e.id);
}

function idOf(r: SourceRecord): string {
  if (r.decoded.ok) return r.decoded.event.id;
  return (JSON.parse(r.rawText!) as { id: string }).id;
}
const idsOf = (records: readonly SourceRecord[]): string[] => records.map(idOf);
/** The canonical `occurredAt` of an event as a transport returned it (proto3 JSON may drop trailing zeros). */
function timeOfPage(e: JsonValue): string | undefined {
  const t = isJsonObject(e) ? parseEventTime(e.occurredAt) : undefined;
  return t?.ok === true ? t.time : undefined;
}

// ---- the sources under test ----

class Clock {
  ms: number;
  constructor(ms: number) {
    this.ms = ms;
  }
  readonly now = (): number => this.ms;
}

interface ProbeHooks {
  /** Before the wait between two polls (n = 1, 2, …): may move the clock, insert events, abort the read. */
  onPoll?: (n: number) => void | Promise<void>;
  /** After the n-th page of the transport went to the source, before the next one is asked for (`more`: with a page token). */
  afterPage?: (n: number, more: boolean) => void | Promise<void>;
}

/**
 * The real transport, observed: every window asked for (with the fake clock when asked), every page it
 * returned, every poll. It passes everything through; the hooks let a case act at a precise moment.
 */
class ProbedReader implements ConnectEventReader {
  readonly inner: ConnectEventReader;
  readonly clock: Clock;
  readonly windows: { query: WindowQuery; atMs: number }[] = [];
  readonly pages: (readonly JsonValue[])[] = [];
  hooks: ProbeHooks = {};
  polls = 0;
  /** Pages whose `afterPage` hook ran. */
  private hooked = 0;

  constructor(inner: ConnectEventReader, clock: Clock) {
    this.inner = inner;
    this.clock = clock;
  }

  get ordered(): boolean | undefined {
    return this.inner.ordered;
  }

  async readPage(query: WindowQuery, token: string | undefined, signal: AbortSignal): Promise<EventPage> {
    // The hook of the page before runs when the next one is asked for (the source has handled that page).
    if (this.pages.length > this.hooked) {
      this.hooked = this.pages.length;
      await this.hooks.afterPage?.(this.pages.length, token !== undefined);
    }
    if (token === undefined) this.windows.push({ query, atMs: this.clock.ms });
    const page = await this.inner.readPage(query, token, signal);
    this.pages.push(page.events);
    return page;
  }

  async waitForChange(ms: number, signal: AbortSignal): Promise<void> {
    this.polls++;
    await this.hooks.onPoll?.(this.polls);
    if (signal.aborted) return;
    if (this.inner.waitForChange !== undefined) return this.inner.waitForChange(ms, signal);
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      signal.addEventListener('abort', () => (clearTimeout(timer), resolve()), { once: true });
    });
  }

  legacyIdentity(): JsonValue {
    return this.inner.legacyIdentity();
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}

interface SourceSettings {
  /** Page size of the transport (server pages for the API, rows per query for PostgreSQL). Default 100. */
  readonly pageSize?: number;
  readonly api?: Record<string, unknown>;
  readonly tls?: Record<string, unknown>;
  readonly postgres?: Record<string, unknown>;
}

/** The source configuration over a transport: the API with the client SVID and the server's SPIFFE ID checked, or PostgreSQL. */
function sourceConfig(transport: TransportName, s: SourceSettings = {}): ConnectSourceConfig {
  const pageSize = s.pageSize ?? 100;
  const tls = { caFile: tlsFixture('ca.pem'), certFile: tlsFixture('client-1.pem'), keyFile: tlsFixture('client-1.key'), serverSpiffeId: SERVER_ID, ...s.tls };
  const parsed = connectSourceSchema.parse({
    type: 'connect',
    transport,
    ...(transport === 'api' ? { api: { url: server.url, pageSize, ...s.api, tls } } : { postgres: { connectionString: databaseUrl, pageSize, ...s.postgres } }),
  });
  // Below the schema's minimum poll interval: the fake clock, not the wait, drives these reads.
  return { ...parsed, pollInterval: 20, settleDelay: SETTLE, lookback: LOOKBACK };
}

function openSource(transport: TransportName, clock: Clock, settings: SourceSettings = {}): { source: ConnectSource; reader: ProbedReader } {
  const config = sourceConfig(transport, settings);
  const inner = transport === 'api' ? createApiReader(config.api!, context) : createPostgresReader(config.postgres!, context);
  const reader = new ProbedReader(inner, clock);
  const source = createConnectSource(`connect-${transport}`, config, context, reader, { now: clock.now, retry: { initialDelayMs: 5, maxDelayMs: 50 } });
  opened.push(source);
  return { source, reader };
}

interface LiveRead {
  readonly from?: Position;
  readonly select?: SourceReadOptions['select'];
  /** Clock step at each poll. */
  readonly stepMs?: number;
  /** Checked at each poll, before the step: true ends the read. */
  readonly until: (received: readonly SourceRecord[], polls: number) => boolean;
  /** After the step, before the next poll. */
  readonly between?: (polls: number) => void | Promise<void>;
  readonly afterPage?: ProbeHooks['afterPage'];
  /** Stops the iteration (as a stopped forwarder) once this many records were received. */
  readonly stopAfter?: number;
}

/** Reads live, the fake clock driven from the polls; returns every record received. */
async function readLive(source: ConnectSource, reader: ProbedReader, o: LiveRead): Promise<SourceRecord[]> {
  const controller = new AbortController();
  const received: SourceRecord[] = [];
  reader.hooks = {
    onPoll: async (n) => {
      if (o.until(received, n)) return controller.abort();
      reader.clock.ms += o.stepMs ?? 0;
      await o.between?.(n);
    },
    ...(o.afterPage !== undefined ? { afterPage: o.afterPage } : {}),
  };
  try {
    for await (const chunk of source.read(o.from, { signal: controller.signal, ...(o.select !== undefined ? { select: o.select } : {}) })) {
      received.push(...chunk);
      if (o.stopAfter !== undefined && received.length >= o.stopAfter) break;
    }
  } finally {
    reader.hooks = {};
  }
  return received;
}

async function failure(p: Promise<unknown>): Promise<ForwarderError> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(ForwarderError);
  return e as ForwarderError;
}

/** Polls a condition (never a fixed sleep) until it holds. */
async function until(what: string, check: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** Replaces a file the way SVID sidecars do: write a temporary file, rename it over the old one. */
function replaceFile(target: string, content: Buffer): void {
  writeFileSync(`${target}.tmp`, content);
  renameSync(`${target}.tmp`, target);
}

/**
 * Breaks the transport while its next page is being read: the API server crashes and comes back while the
 * call waits for its answer; PostgreSQL's backend running the page query is terminated. Resolves once the
 * next page is sure to hit it; `done` once it is over.
 */
async function breakNextPage(transport: TransportName): Promise<{ done: Promise<void> }> {
  if (transport === 'api') {
    const hold = server.holdNext();
    return {
      done: (async () => {
        await hold.reached;
        await server.stop();
        await server.start();
      })(),
    };
  }
  const locker = new pg.Client({ connectionString: databaseUrl });
  await locker.connect();
  // The page query waits for the lock: it is in flight when its backend is terminated.
  await locker.query('BEGIN; LOCK TABLE audit_events IN ACCESS EXCLUSIVE MODE');
  return {
    done: (async () => {
      let pid = 0;
      await until('the reader blocked on the table', async () => {
        const res = await admin.query<{ pid: number }>(
          `SELECT pid FROM pg_stat_activity WHERE application_name = 'audit-forwarder' AND wait_event_type = 'Lock' AND query LIKE '%audit_events%'`,
        );
        pid = res.rows[0]?.pid ?? 0;
        return pid !== 0;
      });
      await admin.query('SELECT pg_terminate_backend($1)', [pid]);
      await locker.query('ROLLBACK');
      await locker.end();
    })(),
  };
}

let databaseTls: Promise<void> | undefined;

/** Turns TLS on in the PostgreSQL server, with the test PKI's server certificate (IP SAN 127.0.0.1). Once. */
function enableDatabaseTls(): Promise<void> {
  databaseTls ??= (async () => {
    for (const f of ['server.pem', 'server.key']) copyFileSync(tlsFixture(f), join(dir, `pg-${f}`));
    // The server runs as the owner of its data directory, which must own the key (mode 0600).
    const dataDir = (await admin.query<{ data_directory: string }>('SHOW data_directory')).rows[0]!.data_directory;
    const { uid, gid } = statSync(dataDir);
    for (const f of ['pg-server.pem', 'pg-server.key']) {
      chownSync(join(dir, f), uid, gid);
      chmodSync(join(dir, f), 0o600);
    }
    await admin.query(`ALTER SYSTEM SET ssl_cert_file = ${pg.escapeLiteral(join(dir, 'pg-server.pem'))}`);
    await admin.query(`ALTER SYSTEM SET ssl_key_file = ${pg.escapeLiteral(join(dir, 'pg-server.key'))}`);
    await admin.query('ALTER SYSTEM SET ssl = on');
    await admin.query('SELECT pg_reload_conf()');
    await until('TLS to be on', async () => (await admin.query<{ ssl: string }>('SHOW ssl')).rows[0]!.ssl === 'on');
  })();
  return databaseTls;
}

// ---- the cases ----

interface Case {
  readonly name: string;
  readonly transports: readonly TransportName[];
  run(transport: TransportName): Promise<void>;
}

const BOTH: readonly TransportName[] = ['api', 'postgres'];

const CASES: readonly Case[] = [
  {
    name: '10 000 events across many pages and windows: each delivered once, in (occurred_at, id) order, never past now − settleDelay',
    transports: BOTH,
    async run(transport) {
      const all = events(0, 10_000);
      await server.insertEvents(all);
      const clock = new Clock(BASE_MS);
      const { source, reader } = openSource(transport, clock);
      const end = lastMs(all) + SETTLE + 2 * MINUTE;
      const received = await readLive(source, reader, { stepMs: 20 * MINUTE, until: () => clock.ms > end });

      expect(idsOf(received)).toEqual(inOrder(all));
      expect(reader.windows.filter((w) => w.query.to > nowCanonical(w.atMs - SETTLE))).toEqual([]);
      // Windows overlap by the look-back, so more was read than delivered, in many pages of at most 100.
      expect(reader.windows.length).toBeGreaterThan(8);
      expect(reader.pages.length).toBeGreaterThan(100);
      expect(reader.pages.every((p) => p.length <= 100)).toBe(true);
      expect(reader.pages.flat().length).toBeGreaterThan(all.length);
      expect(source.stats()).toMatchObject({ late_events_total: 0, read_retries_total: 0, invalid_events_total: 0, unknown_types_total: 0 });
    },
  },
  {
    name: 'a server that pages newest first, treats bounds as exclusive and expires a page token mid-window: the same stream',
    transports: ['api'],
    async run(transport) {
      Object.assign(server.knobs, { descending: true, exclusiveBounds: true });
      const instant = event(700).occurredAt;
      const all = [...events(0, 2_000), ...Array.from({ length: 7 }, (_, k) => event(3_000 + k, { id: `ae-same-${k}`, occurredAt: instant }))];
      await server.insertEvents(all);
      const clock = new Clock(BASE_MS);
      const { source, reader } = openSource(transport, clock);
      const callsBefore = server.calls.length;
      const end = lastMs(all) + SETTLE + 2 * MINUTE;
      let expired = false;
      const received = await readLive(source, reader, {
        stepMs: 5 * MINUTE,
        afterPage: (n, more) => {
          // Mid-window: the next page is about to be asked for with its token.
          if (n >= 5 && more && !expired) {
            expired = true;
            server.expireTokens();
          }
        },
        until: () => clock.ms > end,
      });
      expect(idsOf(received)).toEqual(inOrder(all));
      expect(server.calls.slice(callsBefore).filter((c) => c.result?.code !== 'ok').map((c) => c.result?.code)).toEqual(['InvalidArgument']);
    },
  },
  {
    name: 'events sharing a microsecond, across page boundaries: each delivered once, in id order, and a restart between them',
    transports: BOTH,
    async run(transport) {
      const instant = event(150).occurredAt;
      // Inserted out of id order: the order comes from the source, whatever the store's.
      const same = Array.from({ length: 25 }, (_, k) => event(400 + k, { id: `ae-same-${String((k * 7) % 25).padStart(2, '0')}`, occurredAt: instant })).reverse();
      const all = [...events(0, 300), ...same];
      await server.insertEvents(all);
      const clock = new Clock(BASE_MS + 60 * MINUTE);
      const first = openSource(transport, clock, { pageSize: 10 });
      const received = await readLive(first.source, first.reader, { until: (_, polls) => polls >= 1 });
      const expected = inOrder(all);
      expect(idsOf(received)).toEqual(expected);
      const pagesAtInstant = first.reader.pages.filter((p) => p.some((e) => timeOfPage(e) === instant));
      expect(pagesAtInstant.length).toBeGreaterThanOrEqual(3);

      // Stopped after the 4th event of that instant: the position holds the 4 ids, the rest comes after a restart.
      const sameIds = expected.filter((id) => id.startsWith('ae-same-'));
      const k = expected.indexOf(sameIds[3]!);
      const position = received[k]!.position as ConnectLivePosition;
      expect(position.at).toBe(instant);
      // `ae-same-…` sort before the other event of that instant (`ae0…`).
      expect(position.ids).toEqual(sameIds.slice(0, 4));
      const second = openSource(transport, clock, { pageSize: 10 });
      const resumed = await readLive(second.source, second.reader, { from: position, until: (_, polls) => polls >= 1 });
      expect(idsOf(resumed)).toEqual(expected.slice(k + 1));
    },
  },
  {
    name: 'an event committed late, behind the cursor but within the look-back, is delivered once and counted; one beyond it is not',
    transports: BOTH,
    async run(transport) {
      const all = events(0, 600);
      await server.insertEvents(all);
      const clock = new Clock(BASE_MS);
      const { source, reader } = openSource(transport, clock);
      const within = event(0, { id: 'ae-late-within', occurredAt: timeAt(250_500) });
      const beyond = event(0, { id: 'ae-late-beyond', occurredAt: timeAt(10_000) });
      let cursorWhenInserted: string | undefined;
      const received = await readLive(source, reader, {
        stepMs: MINUTE,
        between: async () => {
          if (cursorWhenInserted === undefined && clock.ms >= BASE_MS + 7 * MINUTE) {
            cursorWhenInserted = nowCanonical(clock.ms - MINUTE - SETTLE);
            await server.insertEvents([within, beyond]);
          }
        },
        until: () => clock.ms > BASE_MS + 12 * MINUTE,
      });
      // The cursor had passed both (the last window ended at the previous clock − settleDelay).
      expect(cursorWhenInserted! > within.occurredAt).toBe(true);
      const got = idsOf(received);
      expect(got.filter((id) => id === 'ae-late-within')).toHaveLength(1);
      expect(got).not.toContain('ae-late-beyond');
      expect(got.filter((id) => id !== 'ae-late-within')).toEqual(inOrder(all));
      expect(got.indexOf('ae-late-within')).toBeGreaterThan(got.indexOf(event(300).id));
      expect(source.stats().late_events_total).toBe(1);
    },
  },
  {
    name: 'a forwarder stopped mid-window and restarted from the last position it handed out: nothing lost, nothing before it again',
    transports: BOTH,
    async run(transport) {
      const all = events(0, 3_000);
      await server.insertEvents(all);
      const expected = inOrder(all);
      const clock = new Clock(BASE_MS);
      const end = lastMs(all) + SETTLE + 2 * MINUTE;
      const K = 1_234;
      const first = openSource(transport, clock);
      const before = await readLive(first.source, first.reader, { stepMs: 10 * MINUTE, until: () => false, stopAfter: K });
      await first.source.close();
      expect(idsOf(before).slice(0, K)).toEqual(expected.slice(0, K));
      // The window being read when it stopped goes on beyond the K-th event.
      const stoppedIn = first.reader.windows.at(-1)!.query;
      expect(stoppedIn.to > all[K]!.occurredAt).toBe(true);

      const position = before[K - 1]!.position;
      const second = openSource(transport, clock);
      const after = await readLive(second.source, second.reader, { from: position, stepMs: 10 * MINUTE, until: () => clock.ms > end });
      const resumed = idsOf(after);
      const committed = new Set(expected.slice(0, K));
      expect(resumed.filter((id) => committed.has(id))).toEqual([]);
      expect(resumed).toEqual(expected.slice(K));
      expect(second.source.stats()).toMatchObject({ late_events_total: 0, redelivered_after_restart_total: 0 });
    },
  },
  {
    name: 'the transport broken while a page is in flight (API server restart; PostgreSQL backend terminated): the source retries and completes',
    transports: BOTH,
    async run(transport) {
      const all = events(0, 2_000);
      await server.insertEvents(all);
      const clock = new Clock(BASE_MS + 2 * 60 * MINUTE);
      const { source, reader } = openSource(transport, clock);
      const callsBefore = server.calls.length;
      let disruption: Promise<void> | undefined;
      const received = await readLive(source, reader, {
        afterPage: async (n) => {
          if (n === 3) disruption = (await breakNextPage(transport)).done;
        },
        until: (_, polls) => polls >= 1,
      });
      await disruption;
      expect(disruption).toBeDefined();
      expect(idsOf(received)).toEqual(inOrder(all));
      expect(source.stats().read_retries_total).toBeGreaterThanOrEqual(1);
      if (transport === 'api') expect(server.calls.slice(callsBefore).some((c) => c.result?.code !== 'ok')).toBe(true);
    },
  },
  {
    name: 'a server that is not the configured one is refused: the read throws a permanent error',
    transports: BOTH,
    async run(transport) {
      await server.insertEvents(events(0, 10));
      const clock = new Clock(BASE_MS + 60 * MINUTE);
      if (transport === 'api') {
        // Same trust domain, same names, another SPIFFE ID.
        const wrong = await startConnectServer({ databaseUrl, tls: { certFile: tlsFixture('server-wrong-id.pem'), keyFile: tlsFixture('server-wrong-id.key') } });
        cleanups.push(() => wrong.close());
        const { source, reader } = openSource(transport, clock, { api: { url: wrong.url } });
        const e = await failure(readLive(source, reader, { until: () => true }));
        expect(e.disposition).toBe('permanent');
        expect(e.message).toContain('spiffe://example.org/not-connect');
        expect(e.message).toContain(`expected ${SERVER_ID}`);
        expect(wrong.calls).toHaveLength(0);
      } else {
        // The database's certificate does not chain to the configured CA bundle.
        await enableDatabaseTls();
        const { source, reader } = openSource(transport, clock, { postgres: { ssl: { caFile: tlsFixture('other-ca.pem') } } });
        const e = await failure(readLive(source, reader, { until: () => true }));
        expect(e.disposition).toBe('permanent');
        expect(e.message).toContain('postgres.ssl.caFile');
        // With the right bundle, the same database is read over TLS.
        const ok = openSource(transport, clock, { postgres: { ssl: { caFile: tlsFixture('ca.pem') } } });
        expect(idsOf(await readLive(ok.source, ok.reader, { until: (_, polls) => polls >= 1 }))).toHaveLength(10);
      }
    },
  },
  {
    name: 'client SVID files rotated while running: the next poll presents the new certificate, and nothing is lost',
    transports: ['api'],
    async run(transport) {
      const all = events(0, 600);
      await server.insertEvents(all);
      const certFile = join(dir, 'svid.pem');
      const keyFile = join(dir, 'svid.key');
      copyFileSync(tlsFixture('client-1.pem'), certFile);
      copyFileSync(tlsFixture('client-1.key'), keyFile);
      const clock = new Clock(BASE_MS);
      const { source, reader } = openSource(transport, clock, { tls: { certFile, keyFile } });
      const start = server.calls.length;
      let rotatedAt: number | undefined;
      const received = await readLive(source, reader, {
        stepMs: MINUTE,
        between: (polls) => {
          if (polls === 5) {
            replaceFile(certFile, readFileSync(tlsFixture('client-2.pem')));
            replaceFile(keyFile, readFileSync(tlsFixture('client-2.key')));
            rotatedAt = server.calls.length;
          }
        },
        until: () => clock.ms > lastMs(all) + SETTLE + 2 * MINUTE,
      });
      expect(idsOf(received)).toEqual(inOrder(all));
      const serials = (from: number, to?: number) => new Set(server.calls.slice(from, to).map((c) => c.clientCert?.serialNumber));
      expect(rotatedAt).toBeGreaterThan(start);
      expect(serials(start, rotatedAt)).toEqual(new Set(['1001']));
      expect(server.calls.length).toBeGreaterThan(rotatedAt!);
      expect(serials(rotatedAt!)).toEqual(new Set(['1002']));
      expect(server.calls.slice(start).every((c) => c.clientCert?.authorized === true && c.result?.code === 'ok')).toBe(true);
    },
  },
  {
    name: 'an event-type number this build does not know is forwarded as unknown_<n> and counted',
    transports: BOTH,
    async run(transport) {
      const all = [...events(0, 100), event(50, { id: 'ae-type-99', type: 99 })];
      await server.insertEvents(all);
      const clock = new Clock(BASE_MS + 60 * MINUTE);
      const { source, reader } = openSource(transport, clock);
      const received = await readLive(source, reader, { until: (_, polls) => polls >= 1 });
      expect(idsOf(received)).toEqual(inOrder(all));
      const odd = received.find((r) => idOf(r) === 'ae-type-99')!;
      expect(odd.decoded.ok && odd.decoded.event.type).toBe('unknown_99');
      expect(source.stats()).toMatchObject({ unknown_types_total: 1, invalid_events_total: 0 });
    },
  },
  {
    name: 'the route’s selection is pushed down: only the selected events are read and delivered',
    transports: BOTH,
    async run(transport) {
      const all = events(0, 700);
      await server.insertEvents(all);
      const clock = new Clock(BASE_MS + 60 * MINUTE);
      const { source, reader } = openSource(transport, clock);
      const callsBefore = server.calls.length;
      const select = { includeTypes: ['trust_zone_creation', 'trust_zone_update', 'trust_zone_deletion'], excludeTypes: ['trust_zone_update'] };
      const received = await readLive(source, reader, { select, until: (_, polls) => polls >= 1 });
      const wanted = new Set(['EVENT_TYPE_TRUST_ZONE_CREATION', 'EVENT_TYPE_TRUST_ZONE_DELETION']);
      const expected = all.filter((e) => wanted.has(String(e.type)));
      expect(expected.length).toBeGreaterThan(30);
      expect(idsOf(received)).toEqual(inOrder(expected));
      // What the transport returned holds the selected events only: the server (or the query) did the filtering.
      expect(reader.pages.flat().map((e) => (e as JsonObject).id).sort()).toEqual(expected.map((e) => e.id).sort());
      if (transport === 'api') {
        const calls = server.calls.slice(callsBefore);
        expect(calls.length).toBeGreaterThan(0);
        for (const c of calls) {
          const filter = (c.request as JsonObject).filter as JsonObject;
          expect(filter.eventTypes).toEqual(['EVENT_TYPE_TRUST_ZONE_CREATION', 'EVENT_TYPE_TRUST_ZONE_UPDATE', 'EVENT_TYPE_TRUST_ZONE_DELETION']);
          expect(filter.exclude).toEqual({ eventTypes: ['EVENT_TYPE_TRUST_ZONE_UPDATE'] });
        }
      }
    },
  },
];

beforeAll(async () => {
  postgres = await startPostgres();
  databaseUrl = await postgres.createDatabase('connect_real');
  // mTLS required: a client without a trusted SVID does not get past the handshake.
  server = await startConnectServer({ databaseUrl, tls: { clientAuth: 'require' } });
  admin = new pg.Client({ connectionString: databaseUrl });
  await admin.connect();
  dir = mkdtempSync(join(tmpdir(), 'af-connect-real-'));
  chmodSync(dir, 0o755);
});

afterAll(async () => {
  await admin?.end();
  await server?.close();
  await postgres?.stop();
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
});

beforeEach(async () => {
  Object.assign(server.knobs, { descending: false, exclusiveBounds: false, tokenMaxAgeCalls: undefined, token: undefined });
  await server.deleteEvents();
});

afterEach(async () => {
  for (const s of opened.splice(0)) await s.close();
  for (const c of cleanups.splice(0)) await c();
});

describe.each(CASES)('$name', (c) => {
  it.each(c.transports)('over %s', (transport) => c.run(transport));
});
