// The direct PostgreSQL transport of the Connect source on a real server: keyset pages, layouts, pushdown, LISTEN, errors, read-only, the index.
import { chmodSync, chownSync, copyFileSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectPostgresSchema } from '../../connectors/connect/config.ts';
import { POSTGRES_ERROR_RULES, classifyPostgresError } from '../../connectors/connect/classify-postgres.ts';
import { buildPageQuery, createPostgresReader, typeSpellings } from '../../connectors/connect/postgres-reader.ts';
import { readWholeWindow, type ConnectEventReader, type WindowQuery } from '../../connectors/connect/window.ts';
import { ForwarderError, isForwarderError } from '../../src/contracts/errors.ts';
import type { AuditEvent } from '../../src/model/audit-event.ts';
import { decodeConnectEvent } from '../../src/model/decode-connect.ts';
import { EVENT_TYPES } from '../../src/model/event-types.ts';
import type { JsonValue } from '../../src/model/json.ts';
import { silentLogger } from '../../src/logging.ts';
import { connectRow, insertConnectRows, rowFromEvent, type EnumForm } from '../support/connect-rows.ts';
import { connectEventJson } from '../support/generate.ts';
import { DEFAULT_AUDIT_TABLE_DDL, startPostgres, type TestPostgres } from '../support/postgres.ts';

const EVENTS = 10_000;
const ALL: WindowQuery = { from: '2026-01-01T00:00:00.000000Z', to: '2027-01-01T00:00:00.000000Z' };

let server: TestPostgres;
let url: string;
let admin: pg.Client;
const readers: ConnectEventReader[] = [];
const clients: pg.Client[] = [];

const range = (from: number, count: number) => Array.from({ length: count }, (_, k) => from + k);
const eventTime = (i: number) => connectEventJson(i)['occurredAt'] as string;
const eventId = (i: number) => connectEventJson(i)['id'] as string;
const never = () => new AbortController().signal;
/** The default layout under another table name. */
const defaultTable = (name: string) => DEFAULT_AUDIT_TABLE_DDL.replaceAll('audit_events', name);

beforeAll(async () => {
  server = await startPostgres();
  url = await server.createDatabase('connect_pg_reader');
  admin = await client();
  await admin.query(DEFAULT_AUDIT_TABLE_DDL);
  await insertConnectRows(admin, 'audit_events', range(0, EVENTS).map((i) => connectRow(i)));
  await admin.query('ANALYZE audit_events');
});

afterAll(async () => {
  for (const r of readers) await r.close();
  for (const c of clients) await c.end().catch(() => undefined);
  await server?.stop();
});

async function client(): Promise<pg.Client> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  clients.push(c);
  return c;
}

function reader(options: Record<string, unknown> = {}, connectionString = url): Required<ConnectEventReader> {
  const config = connectPostgresSchema.parse({ connectionString, ...options });
  const r = createPostgresReader(config, { logger: silentLogger(), baseDir: process.cwd() });
  readers.push(r);
  return r;
}

async function readAll(r: ConnectEventReader, query: WindowQuery, signal = never()): Promise<{ pages: (readonly JsonValue[])[]; events: JsonValue[] }> {
  const pages: (readonly JsonValue[])[] = [];
  for await (const page of readWholeWindow(r, query, signal)) pages.push(page);
  return { pages, events: pages.flat() };
}

function decoded(json: JsonValue): AuditEvent {
  const d = decodeConnectEvent(json);
  if (!d.ok) throw new Error(`${JSON.stringify(json)} did not decode: ${d.error.path}: ${d.error.reason}`);
  return d.event;
}

/** The decoded event without `raw` (the form it was read in). */
function canonical(json: unknown): Omit<AuditEvent, 'raw'> {
  const { raw: _raw, ...rest } = decoded(json as JsonValue);
  return rest;
}

const idOf = (json: JsonValue) => (json as { id: string }).id;

/** Polls a condition of the server (never a fixed sleep) until it holds. */
async function until(what: string, check: () => Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** The pid of the reader's backend waiting for a lock on `table`. */
async function blockedBackend(table: string): Promise<number> {
  let pid = 0;
  await until(`a backend blocked on ${table}`, async () => {
    const res = await admin.query<{ pid: number }>(
      `SELECT pid FROM pg_stat_activity WHERE application_name = 'audit-forwarder' AND wait_event_type = 'Lock' AND query LIKE $1`,
      [`%${table}%`],
    );
    pid = res.rows[0]?.pid ?? 0;
    return pid !== 0;
  });
  return pid;
}

async function errorOf(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (e) {
    return e;
  }
  throw new Error('expected a rejection');
}

describe('keyset pagination', () => {
  it('reads 10 000 events across many pages, each exactly once, as they were written', async () => {
    const { pages, events } = await readAll(reader({ pageSize: 199 }), ALL);
    expect(pages.length).toBe(Math.ceil(EVENTS / 199));
    expect(pages.every((p) => p.length <= 199)).toBe(true);
    const ids = events.map(idOf);
    expect(new Set(ids).size).toBe(EVENTS);
    expect(ids).toEqual(range(0, EVENTS).map(eventId));
    for (const [i, json] of events.entries()) expect(canonical(json)).toEqual(canonical(connectEventJson(i)));
  });

  it('keeps the microseconds of occurred_at and includes both bounds of the window', async () => {
    const { events } = await readAll(reader({ pageSize: 10 }), { from: eventTime(100), to: eventTime(200) });
    expect(events.map(idOf)).toEqual(range(100, 101).map(eventId));
    expect(events.map((e) => (e as { occurredAt: string }).occurredAt)).toEqual(range(100, 101).map(eventTime));
    expect(eventTime(150)).toMatch(/\.\d{6}Z$/);
  });

  it('reads events of the same microsecond across a page boundary exactly once', async () => {
    await admin.query(defaultTable('same_instant'));
    const t0 = '2026-04-01T12:00:00.123456Z';
    const at = (time: string, id: string) => rowFromEvent({ ...connectEventJson(1), id, occurredAt: time });
    const before = range(0, 3).map((k) => at('2026-04-01T12:00:00.123455Z', `ae-before-${k}`));
    // Inserted out of id order: the order comes from the index, not from insertion.
    const same = range(0, 25)
      .map((k) => at(t0, `ae-same-${String((k * 7) % 25).padStart(2, '0')}`))
      .reverse();
    const after = range(0, 3).map((k) => at('2026-04-01T12:00:00.123457Z', `ae-after-${k}`));
    await insertConnectRows(admin, 'same_instant', [...after, ...same, ...before]);

    const r = reader({ table: 'same_instant', pageSize: 10 });
    const { pages, events } = await readAll(r, ALL);
    expect(pages.map((p) => p.length)).toEqual([10, 10, 10, 1]);
    const ids = events.map(idOf);
    expect(new Set(ids).size).toBe(31);
    expect(ids.filter((id) => id.startsWith('ae-same-')).sort()).toEqual(range(0, 25).map((k) => `ae-same-${String(k).padStart(2, '0')}`));

    // A window that starts at that very microsecond.
    const fromT0 = await readAll(r, { from: t0, to: ALL.to });
    expect(fromT0.events.map(idOf).sort()).toEqual([...range(0, 3).map((k) => `ae-after-${k}`), ...range(0, 25).map((k) => `ae-same-${String(k).padStart(2, '0')}`)]);
  });
});

describe('layouts', () => {
  it('reads a table and columns named by the configuration (schema-qualified, mixed case, spaces, other types)', async () => {
    await admin.query(`
      CREATE SCHEMA "Audit";
      CREATE TABLE "Audit"."Connect Events" (
        "Event ID" text PRIMARY KEY, "When" timestamptz NOT NULL, kind integer NOT NULL, msg text, entity_links jsonb,
        payload bytea, who text, ip inet, result smallint, ver text, unrelated text
      );
      CREATE INDEX ON "Audit"."Connect Events" ("When", "Event ID");
    `);
    const columns = {
      id: 'Event ID',
      occurredAt: 'When',
      type: 'kind',
      message: 'msg',
      links: 'entity_links',
      data: 'payload',
      actor: 'who',
      sourceIp: 'ip',
      outcome: 'result',
      serverVersion: 'ver',
    };
    await insertConnectRows(admin, '"Audit"."Connect Events"', range(0, 500).map((i) => connectRow(i, 'number')), { columns, data: 'bytea' });

    const r = reader({ table: 'Audit.Connect Events', columns, pageSize: 50 });
    const { pages, events } = await readAll(r, ALL);
    expect(pages.length).toBe(10);
    expect(events.map(canonical)).toEqual(range(0, 500).map((i) => canonical(connectEventJson(i))));
    expect(r.legacyIdentity()).toEqual({ host: '127.0.0.1', port: server.port, database: 'connect_pg_reader', table: 'Audit.Connect Events' });
  });

  it('passes type and outcome through whether stored as enum names, short names or numbers', async () => {
    await admin.query(defaultTable('enum_forms'));
    const forms: EnumForm[] = ['name', 'short', 'number'];
    await insertConnectRows(admin, 'enum_forms', range(0, 300).map((i) => connectRow(i, forms[i % 3])));
    const { events } = await readAll(reader({ table: 'enum_forms', pageSize: 64 }), ALL);
    expect(events.map((e) => (e as { type: unknown }).type).slice(0, 3)).toEqual([
      'EVENT_TYPE_ATTESTATION_POLICY_CREATION',
      'attestation_policy_update',
      '3',
    ]);
    expect(events.map(canonical)).toEqual(range(0, 300).map((i) => canonical(connectEventJson(i))));
  });

  it('gives jsonb data to the decoder as parsed JSON, and text data as bytes (kept and flagged when not JSON)', async () => {
    await admin.query(`${defaultTable('data_jsonb')} ${defaultTable('data_text').replace(/\bdata\s+jsonb/, 'data text')}`);
    const row = (id: string, data: unknown) => ({ ...rowFromEvent({ ...connectEventJson(7), id }), data });
    await insertConnectRows(admin, 'data_jsonb', [
      row('ae-object', { a: 1, nested: { b: [true, null] } }),
      row('ae-array', [1, 'two']),
      row('ae-string', 'just a string'),
      row('ae-number', 42),
      row('ae-none', undefined),
    ]);
    const jsonb = new Map((await readAll(reader({ table: 'data_jsonb' }), ALL)).events.map((e) => [idOf(e), decoded(e)]));
    expect(jsonb.get('ae-object')?.data).toEqual({ a: 1, nested: { b: [true, null] } });
    expect(jsonb.get('ae-array')?.data).toEqual([1, 'two']);
    expect(jsonb.get('ae-string')?.data).toBe('just a string');
    expect(jsonb.get('ae-number')?.data).toBe(42);
    expect(jsonb.get('ae-none')?.data).toBeUndefined();

    await insertConnectRows(admin, 'data_text', [row('ae-json-text', { ok: true })], { data: 'text' });
    await admin.query(`INSERT INTO data_text (id, occurred_at, type, data) VALUES ('ae-not-json', '2026-03-01T00:00:00Z', 'EVENT_TYPE_NODE_PRUNING', '{oops')`);
    const text = new Map((await readAll(reader({ table: 'data_text' }), ALL)).events.map((e) => [idOf(e), decoded(e)]));
    expect(text.get('ae-json-text')?.data).toEqual({ ok: true });
    expect(text.get('ae-not-json')?.data).toBeUndefined();
    expect(text.get('ae-not-json')?.dataUnparsed?.original).toBe(Buffer.from('{oops').toString('base64'));
  });
});

describe('event-type selection pushed down', () => {
  let all: Omit<AuditEvent, 'raw'>[];
  let r: ConnectEventReader;

  beforeAll(async () => {
    await admin.query(defaultTable('selection'));
    const forms: EnumForm[] = ['name', 'short', 'number'];
    const rows = range(0, 340).map((i) => connectRow(i, forms[i % 3]));
    rows.push(rowFromEvent({ ...connectEventJson(3), id: 'ae-newer-server', type: 99 }, 'number'));
    await insertConnectRows(admin, 'selection', rows);
    r = reader({ table: 'selection', pageSize: 25 });
    all = (await readAll(r, ALL)).events.map(canonical);
    expect(all.length).toBe(341);
  });

  it('includes only the selected types, in every spelling the column may hold', async () => {
    const { pages, events } = await readAll(r, { ...ALL, includeTypes: [26, 28] });
    const expected = all.filter((e) => e.type === 'trust_zone_creation' || e.type === 'trust_zone_deletion');
    expect(expected.length).toBe(20);
    expect(events.map(canonical)).toEqual(expected);
    // Pages of 25 scanned rows hold one or two selected events; none is handed out empty.
    expect(pages.length).toBeGreaterThan(1);
    expect(pages.every((p) => p.length > 0)).toBe(true);
  });

  it('leaves out the excluded types', async () => {
    const { events } = await readAll(r, { ...ALL, excludeTypes: [26, 1] });
    expect(events.map(canonical)).toEqual(all.filter((e) => e.type !== 'trust_zone_creation' && e.type !== 'attestation_policy_creation'));
  });

  it('selects a type number this build does not know', async () => {
    const { events } = await readAll(r, { ...ALL, includeTypes: [99] });
    expect(events.map(canonical).map((e) => [e.id, e.type])).toEqual([['ae-newer-server', 'unknown_99']]);
  });

  it('compares the column against the number, the short name and the enum name of each type', () => {
    expect(typeSpellings([26, 99]).sort()).toEqual(['26', '99', 'EVENT_TYPE_TRUST_ZONE_CREATION', 'trust_zone_creation'].sort());
  });
});

describe('waitForChange', () => {
  it('resolves early on a NOTIFY on the listen channel, including one sent while nobody waited', async () => {
    const r = reader({ listenChannel: 'audit_events_changed' });
    const waiting = r.waitForChange(600_000, never());
    await until('the LISTEN to be in place', async () => {
      const res = await admin.query(`SELECT 1 FROM pg_stat_activity WHERE state = 'idle' AND query = 'LISTEN "audit_events_changed"'`);
      return res.rowCount === 1;
    });
    await admin.query('NOTIFY audit_events_changed');
    await waiting;

    await admin.query(`SELECT pg_notify('audit_events_changed', 'ae1')`);
    await r.waitForChange(600_000, never());
  });

  it('without a listen channel, waits the time given, or until aborted', async () => {
    const r = reader();
    const started = performance.now();
    await r.waitForChange(60, never());
    expect(performance.now() - started).toBeGreaterThanOrEqual(50);

    const ac = new AbortController();
    const waiting = r.waitForChange(600_000, ac.signal);
    ac.abort();
    await waiting;
  });

  it('close() ends a pending wait', async () => {
    const r = reader({ listenChannel: 'closing_channel' });
    const waiting = r.waitForChange(600_000, never());
    await r.close();
    await waiting;
    await r.close();
  });
});

describe('errors', () => {
  it('a wrong password is permanent, and the message names the key without revealing the secret', async () => {
    const r = reader({}, url.replace(':test-only@', ':not-the-password@'));
    const e = await errorOf(readAll(r, ALL));
    expect(isForwarderError(e, 'FWD_SOURCE_IO')).toBe(true);
    const fe = e as ForwarderError;
    expect(fe.stage).toBe('source');
    expect(fe.disposition).toBe('permanent');
    expect((fe.cause as { code?: string }).code).toBe('28P01');
    expect(fe.message).toContain('postgres.connectionString');
    expect(fe.message).not.toContain('not-the-password');
  });

  it('a missing table is permanent and named, with its configuration key', async () => {
    const e = await errorOf(readAll(reader({ table: 'no_such_table' }), ALL));
    expect(isForwarderError(e) && e.disposition).toBe('permanent');
    expect((e as ForwarderError).message).toContain('"no_such_table"');
    expect((e as ForwarderError).message).toContain('postgres.table');
  });

  it('a missing column is permanent and named by its configuration key', async () => {
    const e = await errorOf(readAll(reader({ columns: { occurredAt: 'ts' } }), ALL));
    expect(isForwarderError(e) && e.disposition).toBe('permanent');
    expect((e as ForwarderError).message).toContain('postgres.columns.occurredAt = "ts"');
  });

  it('a refused connection is retryable', async () => {
    const port = await new Promise<number>((resolve) => {
      const srv = createServer().listen(0, '127.0.0.1', () => {
        const p = (srv.address() as { port: number }).port;
        srv.close(() => resolve(p));
      });
    });
    const e = await errorOf(readAll(reader({}, `postgres://postgres:secret@127.0.0.1:${port}/connect`), ALL));
    expect(isForwarderError(e, 'FWD_SOURCE_IO') && e.disposition).toBe('retryable');
  });

  it('the server ending the connection mid-read is retryable, and the next read reconnects', async () => {
    await admin.query(defaultTable('mid_read'));
    await insertConnectRows(admin, 'mid_read', range(0, 100).map((i) => connectRow(i)));
    const r = reader({ table: 'mid_read', pageSize: 10 });
    const first = await r.readPage(ALL, undefined, never());
    expect(first.events.length).toBe(10);

    const locker = await client();
    await locker.query('BEGIN; LOCK TABLE mid_read IN ACCESS EXCLUSIVE MODE');
    const second = errorOf(r.readPage(ALL, first.next, never()));
    const pid = await blockedBackend('mid_read');
    await admin.query('SELECT pg_terminate_backend($1)', [pid]);
    const e = await second;
    expect(isForwarderError(e, 'FWD_SOURCE_IO') && e.disposition).toBe('retryable');
    await locker.query('ROLLBACK');

    expect((await readAll(r, ALL)).events.map(idOf)).toEqual(range(0, 100).map(eventId));
  });

  it('aborting a read whose query is blocked rejects at once with the reason', async () => {
    await admin.query(defaultTable('aborted_read'));
    await insertConnectRows(admin, 'aborted_read', range(0, 5).map((i) => connectRow(i)));
    const r = reader({ table: 'aborted_read' });
    const locker = await client();
    await locker.query('BEGIN; LOCK TABLE aborted_read IN ACCESS EXCLUSIVE MODE');
    const ac = new AbortController();
    const reading = errorOf(readAll(r, ALL, ac.signal));
    await blockedBackend('aborted_read');
    const reason = new Error('stop');
    ac.abort(reason);
    expect(await reading).toBe(reason);
    await locker.query('ROLLBACK');
    expect((await readAll(r, ALL)).events.length).toBe(5);
  });

  it('classifies the SQLSTATEs of the table: retryable for conditions that clear, permanent for the rest', () => {
    const dbError = (code: string) => Object.assign(new pg.DatabaseError('x', 0, 'error'), { code, severity: 'ERROR' });
    for (const code of ['57P01', '40001', '40P01', '53300', '08006', '08001', '57014']) {
      expect([code, classifyPostgresError(dbError(code))?.disposition]).toEqual([code, 'retryable']);
    }
    for (const code of ['28P01', '28000', '42501', '42P01', '42703', '3D000', '25006']) {
      expect([code, classifyPostgresError(dbError(code))?.disposition]).toEqual([code, 'permanent']);
    }
    for (const rule of POSTGRES_ERROR_RULES) {
      if (rule.kind === 'sqlstate' || rule.kind === 'class') {
        expect(rule.match).toMatch(rule.kind === 'class' ? /^[0-9A-Z]{2}$/ : /^[0-9A-Z]{5}$/);
        if (rule.kind === 'sqlstate') expect(classifyPostgresError(dbError(rule.match))?.rule).toBe(rule);
      }
      if (rule.disposition === 'permanent') expect(rule.configKey).toBeDefined();
    }
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED', syscall: 'connect' });
    expect(classifyPostgresError(refused)?.disposition).toBe('retryable');
    expect(classifyPostgresError(new Error('Connection terminated unexpectedly'))?.disposition).toBe('retryable');
    expect(classifyPostgresError(Object.assign(new Error('wrong version number'), { code: 'ERR_SSL_WRONG_VERSION_NUMBER' }))?.disposition).toBe('permanent');
    expect(classifyPostgresError(Object.assign(new Error('destroyed'), { code: 'ERR_STREAM_DESTROYED' }))?.disposition).toBe('retryable');
    expect(classifyPostgresError(dbError('XX000'))?.disposition).toBe('permanent');
    expect(classifyPostgresError(new TypeError('a bug'))).toBeUndefined();
  });

  it('refuses a connection string or table name it cannot use, without echoing the secret', () => {
    const create = (options: Record<string, unknown>) => () => reader(options);
    expect(create({ connectionString: 'host=db password=hunter2' })).toThrow(ForwarderError);
    expect(create({ connectionString: 'host=db password=hunter2' })).not.toThrow(/hunter2/);
    expect(create({ connectionString: 'mysql://u:p@db/x' })).toThrow(/postgres:\/\//);
    expect(create({ connectionString: `${url}?sslmode=no-verify` })).toThrow(/always verified/);
    expect(create({ table: 'a.b.c' })).toThrow(/postgres\.table/);
  });
});

describe('read-only transactions', () => {
  beforeAll(async () => {
    await admin.query(`
      CREATE TABLE ro_writes (n int);
      CREATE FUNCTION ro_state() RETURNS text LANGUAGE sql VOLATILE AS $$ SELECT current_setting('transaction_read_only') $$;
      CREATE FUNCTION ro_write() RETURNS text LANGUAGE plpgsql VOLATILE AS $$ BEGIN INSERT INTO ro_writes VALUES (1); RETURN 'written'; END $$;
      CREATE VIEW ro_state_view AS SELECT e.*, ro_state() AS probe FROM audit_events e;
      CREATE VIEW ro_write_view AS SELECT e.*, ro_write() AS probe FROM audit_events e;
    `);
  });

  it('every page runs in a READ ONLY transaction', async () => {
    const { events } = await readAll(reader({ table: 'ro_state_view', columns: { message: 'probe' }, pageSize: 5 }), { from: eventTime(0), to: eventTime(9) });
    expect(events.map((e) => (e as { message: string }).message)).toEqual(Array(10).fill('on'));
  });

  it('a write attempted in the reader session is refused by the server', async () => {
    const e = await errorOf(readAll(reader({ table: 'ro_write_view', columns: { message: 'probe' } }), { from: eventTime(0), to: eventTime(9) }));
    expect(isForwarderError(e) && e.disposition).toBe('permanent');
    expect(((e as ForwarderError).cause as { code?: string }).code).toBe('25006');
    expect((await admin.query('SELECT count(*)::int AS n FROM ro_writes')).rows[0]).toEqual({ n: 0 });
    // The same function outside the reader does write: the refusal is the transaction's.
    await admin.query('SELECT ro_write()');
    expect((await admin.query('SELECT count(*)::int AS n FROM ro_writes')).rows[0]).toEqual({ n: 1 });
  });
});

describe('the index the query needs', () => {
  type PlanNode = { 'Node Type': string; 'Index Name'?: string; 'Actual Rows'?: number; Plans?: PlanNode[] };
  const nodes = (n: PlanNode): PlanNode[] => [n, ...(n.Plans ?? []).flatMap(nodes)];

  it('EXPLAIN on 50 000 rows shows an index range scan on (occurred_at, id): no Seq Scan, no Sort', async () => {
    await admin.query(defaultTable('explained'));
    // Generated by the server: the plan depends on the row count and the statistics, not on the content.
    await admin.query(
      `INSERT INTO explained (id, occurred_at, type, message, links, data, actor, source_ip, outcome, server_version)
       SELECT 'ae' || lpad(i::text, 24, '0'), timestamptz '2026-03-01 00:00:00Z' + i * interval '1.000003 second',
              ($1::text[])[1 + i % cardinality($1::text[])], 'synthetic ' || i,
              jsonb_build_array(jsonb_build_object('type', 'ENTITY_TYPE_TRUST_ZONE', 'id', 'ent-' || i % 977)),
              jsonb_build_object('seq', i), 'user-' || i % 13, '10.0.0.' || i % 256,
              CASE WHEN i % 17 = 0 THEN 'OUTCOME_DENIED' ELSE 'OUTCOME_SUCCESS' END, '1.4.2'
       FROM generate_series(0, 49999) AS i`,
      [EVENT_TYPES.map((t) => `EVENT_TYPE_${t.name.toUpperCase()}`)],
    );
    await admin.query('ANALYZE explained');
    const keyAt = async (n: number) =>
      (
        await admin.query<{ id: string; time: string }>(
          `SELECT id, to_char(occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS time FROM explained ORDER BY occurred_at, id OFFSET $1 LIMIT 1`,
          [n],
        )
      ).rows[0]!;
    const config = connectPostgresSchema.parse({ connectionString: url, table: 'explained', pageSize: 1000 });
    const cases: [string, WindowQuery, { time: string; id: string } | undefined][] = [
      ['the first page of a long replay', ALL, undefined],
      ['a page in the middle', ALL, await keyAt(25_000)],
      ['a live window with a type selection', { from: (await keyAt(49_000)).time, to: (await keyAt(49_990)).time, includeTypes: [26, 28], excludeTypes: [35] }, undefined],
    ];
    for (const [label, query, after] of cases) {
      const q = buildPageQuery(config, query, after);
      const res = await admin.query<{ 'QUERY PLAN': [{ Plan: PlanNode }] }>({ text: `EXPLAIN (FORMAT JSON) ${q.text}`, values: q.values });
      const plan = nodes(res.rows[0]!['QUERY PLAN'][0].Plan);
      const types = plan.map((n) => n['Node Type']);
      expect([label, types.filter((t) => t === 'Seq Scan' || t === 'Sort')]).toEqual([label, []]);
      expect([label, plan.some((n) => n['Node Type'].startsWith('Index') && n['Index Name'] === 'explained_occurred_at_id')]).toEqual([label, true]);
    }

    // A selection that matches nothing still scans one page of index entries per query, not the whole table.
    const rare = buildPageQuery(config, { ...ALL, includeTypes: [99] });
    const analyzed = await admin.query<{ 'QUERY PLAN': [{ Plan: PlanNode }] }>({ text: `EXPLAIN (ANALYZE, FORMAT JSON) ${rare.text}`, values: rare.values });
    const scan = nodes(analyzed.rows[0]!['QUERY PLAN'][0].Plan).find((n) => n['Index Name'] === 'explained_occurred_at_id');
    expect(scan?.['Actual Rows']).toBe(1000);
  });
});

describe('TLS to the database', () => {
  let dir: string;
  /** The committed test PKI (test/fixtures/tls/README.md): its server certificate carries IP SAN 127.0.0.1. */
  const fixture = (name: string) => resolve(import.meta.dirname, '../fixtures/tls', name);
  function issue(): void {
    copyFileSync(fixture('ca.pem'), join(dir, 'trusted-ca.pem'));
    copyFileSync(fixture('server.pem'), join(dir, 'trusted-ca-server.pem'));
    copyFileSync(fixture('server.key'), join(dir, 'trusted-ca-server.key'));
    copyFileSync(fixture('other-ca.pem'), join(dir, 'other-ca.pem'));
  }

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'af-pg-tls-'));
    chmodSync(dir, 0o755);
    issue();
    // The server runs as the owner of its data directory, which must own the key (mode 0600).
    const dataDir = (await admin.query<{ data_directory: string }>('SHOW data_directory')).rows[0]!.data_directory;
    const { uid, gid } = statSync(dataDir);
    for (const f of ['trusted-ca-server.pem', 'trusted-ca-server.key']) {
      chownSync(join(dir, f), uid, gid);
      chmodSync(join(dir, f), 0o600);
    }
    await admin.query(`ALTER SYSTEM SET ssl_cert_file = ${pg.escapeLiteral(join(dir, 'trusted-ca-server.pem'))}`);
    await admin.query(`ALTER SYSTEM SET ssl_key_file = ${pg.escapeLiteral(join(dir, 'trusted-ca-server.key'))}`);
    await admin.query('ALTER SYSTEM SET ssl = on');
    await admin.query('SELECT pg_reload_conf()');
    await until('TLS to be on', async () => (await admin.query<{ ssl: string }>('SHOW ssl')).rows[0]!.ssl === 'on');
  });

  afterAll(() => {
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  it('reads over TLS when the server certificate chains to postgres.ssl.caFile', async () => {
    const r = reader({ ssl: { caFile: join(dir, 'trusted-ca.pem') } });
    expect((await readAll(r, { from: eventTime(0), to: eventTime(99) })).events.map(idOf)).toEqual(range(0, 100).map(eventId));
    const tls = await admin.query(
      `SELECT 1 FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid) WHERE a.application_name = 'audit-forwarder' AND s.ssl`,
    );
    expect(tls.rowCount).toBeGreaterThan(0);
  });

  it('refuses a server certificate from another CA, even with sslmode=require: permanent', async () => {
    for (const r of [reader({ ssl: { caFile: join(dir, 'other-ca.pem') } }), reader({}, `${url}?sslmode=require`)]) {
      const e = await errorOf(readAll(r, ALL));
      expect(isForwarderError(e, 'FWD_SOURCE_IO') && e.disposition).toBe('permanent');
      expect((e as ForwarderError).message).toContain('postgres.ssl.caFile');
    }
  });

  it('refuses TLS settings that contradict each other, or a CA file it cannot read', () => {
    expect(() => reader({ ssl: {} }, `${url}?sslmode=disable`)).toThrow(/sslmode=disable/);
    expect(() => reader({ ssl: { caFile: '/nonexistent/ca.pem' } })).toThrow(/postgres\.ssl\.caFile/);
  });
});
