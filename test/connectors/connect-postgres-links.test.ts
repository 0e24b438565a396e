// The Connect PostgreSQL transport with entity links in a second table, and through views, on a real server: equivalence, pushdown, plans, errors.
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectPostgresSchema } from '../../connectors/connect/config.ts';
import { buildPageQuery, createPostgresReader } from '../../connectors/connect/postgres-reader.ts';
import { readWholeWindow, type ConnectEventReader, type WindowQuery } from '../../connectors/connect/window.ts';
import { ForwarderError, isForwarderError } from '../../src/contracts/errors.ts';
import type { AuditEvent } from '../../src/model/audit-event.ts';
import { decodeConnectEvent } from '../../src/model/decode-connect.ts';
import { EVENT_TYPES } from '../../src/model/event-types.ts';
import type { JsonValue } from '../../src/model/json.ts';
import { silentLogger } from '../../src/logging.ts';
import { insertConnectRows, rowFromEvent, type ConnectRow } from '../support/connect-rows.ts';
import { connectEventJson } from '../support/generate.ts';
import { DEFAULT_AUDIT_TABLE_DDL, startPostgres, type TestPostgres } from '../support/postgres.ts';

const EVENTS = 600;
const ALL: WindowQuery = { from: '2026-01-01T00:00:00.000000Z', to: '2027-01-01T00:00:00.000000Z' };

let server: TestPostgres;
let url: string;
let admin: pg.Client;
const readers: ConnectEventReader[] = [];

const range = (from: number, count: number) => Array.from({ length: count }, (_, k) => from + k);
const never = () => new AbortController().signal;

/** The default layout under another name, without its `links` column: the links live in their own table. */
const eventsTableWithoutLinks = (name: string) =>
  DEFAULT_AUDIT_TABLE_DDL.replaceAll('audit_events', name).replace(/^\s*links\s+jsonb[^\n]*\n/m, '');
const linksTableDdl = (name: string, type = 'text') => `
  CREATE TABLE ${name} (event_id text NOT NULL, entity_type ${type} NOT NULL, entity_id text NOT NULL);
  CREATE INDEX ${name}_event_id ON ${name} (event_id);`;

/** Entity types whose names and numbers (3, 8, 13) sort the same way, in any collation. */
const LINK_TYPES = [
  ['ENTITY_TYPE_CLUSTER', 3],
  ['ENTITY_TYPE_NODE', 8],
  ['ENTITY_TYPE_WORKLOAD', 13],
] as const;

/** The i-th synthetic event with 0, 1, 2 or 3 links (two of the same type), in (type, id) order. */
function eventWithLinks(i: number): Record<string, unknown> {
  const tag = String(i).padStart(5, '0');
  const candidates = [
    { type: LINK_TYPES[0][0], id: `c-${tag}-1` },
    { type: LINK_TYPES[0][0], id: `c-${tag}-2` },
    { type: LINK_TYPES[2][0], id: `w-${tag}` },
  ];
  const pick = [[], [2], [0, 2], [0, 1, 2]][i % 4]!;
  return { ...connectEventJson(i), links: pick.map((k) => candidates[k]!) };
}

interface LinkRow {
  readonly eventId: string;
  readonly type: string | number;
  readonly id: string;
}

function linkRows(rows: readonly ConnectRow[], typeAs: 'name' | 'number'): LinkRow[] {
  const number = new Map<string, number>(LINK_TYPES.map(([n, v]) => [n, v]));
  return rows.flatMap((r) =>
    (r.links as { type: string; id: string }[]).map((l) => ({ eventId: r.id, type: typeAs === 'name' ? l.type : number.get(l.type)!, id: l.id })),
  );
}

/**
 * Inserted in reverse (the order of the links read comes from the query, not from the heap), each value
 * converted to its column's type by `jsonb_populate_recordset`.
 */
async function insertLinks(table: string, links: readonly LinkRow[], columns = ['event_id', 'entity_type', 'entity_id']): Promise<void> {
  const [eventId, type, id] = columns as [string, string, string];
  const rows = [...links].reverse().map((l) => ({ [eventId]: l.eventId, [type]: l.type, [id]: l.id }));
  await admin.query(`INSERT INTO ${table} SELECT * FROM jsonb_populate_recordset(NULL::${table}, $1::jsonb)`, [JSON.stringify(rows)]);
}

beforeAll(async () => {
  server = await startPostgres();
  url = await server.createDatabase('connect_pg_links');
  admin = new pg.Client({ connectionString: url });
  await admin.connect();

  const rows = range(0, EVENTS).map((i) => rowFromEvent(eventWithLinks(i)));
  // The one-table layout, the reference.
  await admin.query(DEFAULT_AUDIT_TABLE_DDL);
  await insertConnectRows(admin, 'audit_events', rows);
  // The same events, their links in a second table (names as documented).
  await admin.query(`${eventsTableWithoutLinks('split_events')} ${linksTableDdl('audit_event_links')}`);
  await insertConnectRows(admin, 'split_events', rows);
  await insertLinks('audit_event_links', linkRows(rows, 'name'));
  await admin.query('ANALYZE');
});

afterAll(async () => {
  for (const r of readers) await r.close();
  await admin?.end().catch(() => undefined);
  await server?.stop();
});

function reader(options: Record<string, unknown> = {}, connectionString = url): Required<ConnectEventReader> {
  const config = connectPostgresSchema.parse({ connectionString, ...options });
  const r = createPostgresReader(config, { logger: silentLogger(), baseDir: process.cwd() });
  readers.push(r);
  return r;
}

const SPLIT = { table: 'split_events', linksTable: { table: 'audit_event_links' } };

async function readAll(r: ConnectEventReader, query: WindowQuery): Promise<JsonValue[]> {
  const events: JsonValue[] = [];
  for await (const page of readWholeWindow(r, query, never())) events.push(...page);
  return events;
}

/** The decoded event without `raw` (the form it was read in). */
function canonical(json: JsonValue): Omit<AuditEvent, 'raw'> {
  const d = decodeConnectEvent(json);
  if (!d.ok) throw new Error(`${JSON.stringify(json)} did not decode: ${d.error.path}: ${d.error.reason}`);
  const { raw: _raw, ...rest } = d.event;
  return rest;
}

async function errorOf(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (e) {
    return e;
  }
  throw new Error('expected a rejection');
}

type PlanNode = {
  'Node Type': string;
  'Relation Name'?: string;
  'Index Name'?: string;
  'Parent Relationship'?: string;
  'Subplan Name'?: string;
  'Actual Rows'?: number;
  'Actual Loops'?: number;
  Plans?: PlanNode[];
};
const nodes = (n: PlanNode): PlanNode[] => [n, ...(n.Plans ?? []).flatMap(nodes)];
/** The nodes of a subplan (an InitPlan or SubPlan below any node), with everything under them. */
const subplanNodes = (n: PlanNode): PlanNode[] =>
  (n.Plans ?? []).flatMap((c) => (c['Parent Relationship'] === 'SubPlan' || c['Parent Relationship'] === 'InitPlan' ? nodes(c) : subplanNodes(c)));

async function explainAnalyze(text: string, values: unknown[]): Promise<PlanNode> {
  const res = await admin.query<{ 'QUERY PLAN': [{ Plan: PlanNode }] }>({ text: `EXPLAIN (ANALYZE, FORMAT JSON) ${text}`, values });
  return res.rows[0]!['QUERY PLAN'][0].Plan;
}

describe('links from a second table', () => {
  it('reads events with 0, 1 and several links exactly as the one-table layout gives them, across pages', async () => {
    const reference = await readAll(reader({ pageSize: 37 }), ALL);
    expect(reference.length).toBe(EVENTS);
    expect(reference.map((e) => ((e as { links: unknown[] }).links ?? []).length).slice(0, 4)).toEqual([0, 1, 2, 3]);
    const split = await readAll(reader({ ...SPLIT, pageSize: 37 }), ALL);
    // The same JSON, not only the same decoded events: a link's type and id come back as they were stored.
    expect(split).toEqual(reference);
    expect(split.map(canonical)).toEqual(range(0, EVENTS).map((i) => canonical(eventWithLinks(i) as JsonValue)));
  });

  it('with a type selection, gives the selected events with their links', async () => {
    const query = { ...ALL, includeTypes: [26, 28], excludeTypes: [28] };
    const reference = await readAll(reader({ pageSize: 25 }), query);
    expect(reference.length).toBeGreaterThan(10);
    expect(await readAll(reader({ ...SPLIT, pageSize: 25 }), query)).toEqual(reference);
  });

  it('takes other names, a schema and an integer entity type', async () => {
    await admin.query(`
      CREATE SCHEMA "Links";
      CREATE TABLE "Links".events (LIKE audit_events INCLUDING DEFAULTS);
      ALTER TABLE "Links".events DROP COLUMN links;
      CREATE INDEX ON "Links".events (occurred_at, id);
      CREATE TABLE "Links"."Entity Links" ("Event" text NOT NULL, kind smallint NOT NULL, "Entity ID" text NOT NULL, extra text);
      CREATE INDEX ON "Links"."Entity Links" ("Event");
    `);
    const rows = range(0, 200).map((i) => rowFromEvent(eventWithLinks(i)));
    await insertConnectRows(admin, '"Links".events', rows);
    await insertLinks('"Links"."Entity Links"', linkRows(rows, 'number'), ['Event', 'kind', 'Entity ID']);
    const r = reader({ table: 'Links.events', linksTable: { table: 'Links.Entity Links', columns: { eventId: 'Event', type: 'kind', id: 'Entity ID' } }, pageSize: 30 });
    const events = await readAll(r, ALL);
    expect((events[3] as { links: unknown }).links).toEqual([
      { type: 3, id: 'c-00003-1' },
      { type: 3, id: 'c-00003-2' },
      { type: 13, id: 'w-00003' },
    ]);
    expect(events.map(canonical)).toEqual(range(0, 200).map((i) => canonical(eventWithLinks(i) as JsonValue)));
  });

  it('does not look up the links of the events not selected', async () => {
    const config = connectPostgresSchema.parse({ connectionString: url, ...SPLIT, pageSize: 100 });
    const query = { ...ALL, includeTypes: [26] };
    const q = buildPageQuery(config, query);
    const lookups = subplanNodes(await explainAnalyze(q.text, q.values)).filter((n) => n['Index Name'] === 'audit_event_links_event_id');
    // The first page scans events 0–99; a few of them are trust zone creations.
    const selected = range(0, 100).filter((i) => connectEventJson(i)['type'] === 'EVENT_TYPE_TRUST_ZONE_CREATION').length;
    expect(selected).toBeGreaterThan(0);
    expect(selected).toBeLessThan(10);
    expect(lookups.map((n) => n['Actual Loops'])).toEqual([selected]);
    expect((await reader({ ...SPLIT, pageSize: 100 }).readPage(query, undefined, never())).events.length).toBe(selected);

    // Without a selection, every row of the page has its links looked up.
    const all = buildPageQuery(config, ALL);
    const everyRow = subplanNodes(await explainAnalyze(all.text, all.values)).filter((n) => n['Index Name'] === 'audit_event_links_event_id');
    expect(everyRow.map((n) => n['Actual Loops'])).toEqual([100]);
  });
});

describe('the plans with a links table', () => {
  it('EXPLAIN ANALYZE on 50 000 events: an index range scan of the events, an index scan of the links per row; no Seq Scan, no Sort of the page', async () => {
    await admin.query(`${eventsTableWithoutLinks('explained')} ${linksTableDdl('explained_links')}`);
    await admin.query(
      `INSERT INTO explained (id, occurred_at, type, message, data, actor, source_ip, outcome, server_version)
       SELECT 'ae' || lpad(i::text, 24, '0'), timestamptz '2026-03-01 00:00:00Z' + i * interval '1.000003 second',
              ($1::text[])[1 + i % cardinality($1::text[])], 'synthetic ' || i, jsonb_build_object('seq', i),
              'user-' || i % 13, '10.0.0.' || i % 256, CASE WHEN i % 17 = 0 THEN 'OUTCOME_DENIED' ELSE 'OUTCOME_SUCCESS' END, '1.4.2'
       FROM generate_series(0, 49999) AS i`,
      [EVENT_TYPES.map((t) => `EVENT_TYPE_${t.name.toUpperCase()}`)],
    );
    // 0 to 3 links per event, 75 000 in all.
    await admin.query(
      `INSERT INTO explained_links (event_id, entity_type, entity_id)
       SELECT 'ae' || lpad(i::text, 24, '0'), 'ENTITY_TYPE_TRUST_ZONE', 'ent-' || i || '-' || k
       FROM generate_series(0, 49999) AS i, generate_series(1, 3) AS k WHERE k <= i % 4`,
    );
    await admin.query('ANALYZE explained; ANALYZE explained_links');
    const keyAt = async (n: number) =>
      (
        await admin.query<{ id: string; time: string }>(
          `SELECT id, to_char(occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS time FROM explained ORDER BY occurred_at, id OFFSET $1 LIMIT 1`,
          [n],
        )
      ).rows[0]!;
    const config = connectPostgresSchema.parse({ connectionString: url, table: 'explained', linksTable: { table: 'explained_links' }, pageSize: 1000 });
    const cases: [string, WindowQuery, { time: string; id: string } | undefined][] = [
      ['the first page of a long replay', ALL, undefined],
      ['a page in the middle', ALL, await keyAt(25_000)],
      ['a live window with a type selection', { from: (await keyAt(49_000)).time, to: (await keyAt(49_990)).time, includeTypes: [26, 28], excludeTypes: [35] }, undefined],
    ];
    const check = async (linksIndex: string) => {
      for (const [label, query, after] of cases) {
        const q = buildPageQuery(config, query, after);
        const plan = await explainAnalyze(q.text, q.values);
        const all = nodes(plan);
        const sub = new Set(subplanNodes(plan));
        const main = all.filter((n) => !sub.has(n));
        expect([label, all.filter((n) => n['Node Type'] === 'Seq Scan')]).toEqual([label, []]);
        expect([label, main.filter((n) => n['Node Type'] === 'Sort')]).toEqual([label, []]);
        // The main scan: the (occurred_at, id) index of the events, a page of entries at most.
        const scans = main.filter((n) => n['Relation Name'] === 'explained');
        expect([label, scans.map((n) => [n['Node Type'], n['Index Name']])]).toEqual([label, [['Index Scan', 'explained_occurred_at_id']]]);
        expect(scans[0]!['Actual Rows']).toBeLessThanOrEqual(1000);
        // The links: looked up by event id through the index, once per row returned.
        const lookups = [...sub].filter((n) => n['Relation Name'] === 'explained_links');
        expect([label, lookups.map((n) => [n['Node Type'].startsWith('Index'), n['Index Name']])]).toEqual([label, [[true, linksIndex]]]);
        expect(lookups[0]!['Actual Loops']).toBeLessThanOrEqual(1000);
        // A sort in the subplan orders the links of one event (json_agg … ORDER BY), never the page.
        for (const sort of [...sub].filter((n) => n['Node Type'] === 'Sort')) expect(sort['Actual Rows']).toBeLessThanOrEqual(3);
      }
    };
    await check('explained_links_event_id');
    // With the link columns in the index, the links come out of it in order: an index-only scan and no sort at all.
    await admin.query('DROP INDEX explained_links_event_id; CREATE INDEX explained_links_covering ON explained_links (event_id, entity_type, entity_id)');
    await admin.query('VACUUM ANALYZE explained_links');
    await check('explained_links_covering');
    const q = buildPageQuery(config, ALL, await keyAt(10_000));
    expect(nodes(await explainAnalyze(q.text, q.values)).filter((n) => n['Node Type'] === 'Sort')).toEqual([]);

    // And the links of a page read back as the events' links.
    const page = await reader({ table: 'explained', linksTable: { table: 'explained_links' }, pageSize: 8 }).readPage(ALL, undefined, never());
    expect(page.events.map((e) => (e as { links: unknown[] }).links.length)).toEqual([0, 1, 2, 3, 0, 1, 2, 3]);
    expect((page.events[2] as { links: unknown }).links).toEqual([
      { type: 'ENTITY_TYPE_TRUST_ZONE', id: 'ent-2-1' },
      { type: 'ENTITY_TYPE_TRUST_ZONE', id: 'ent-2-2' },
    ]);
  });
});

describe('views', () => {
  beforeAll(async () => {
    // Another layout, presented in the default one by simple views in a schema of their own; the role that
    // reads may SELECT the views and nothing else.
    await admin.query(`
      CREATE SCHEMA connect_store;
      CREATE TABLE connect_store.events (
        event_id text PRIMARY KEY, created_at timestamptz NOT NULL, kind text NOT NULL, description text,
        payload jsonb, principal text, remote_addr text, result text, version text);
      CREATE INDEX events_created_at_event_id ON connect_store.events (created_at, event_id);
      CREATE TABLE connect_store.event_entities (event text NOT NULL, entity_kind text NOT NULL, entity text NOT NULL);
      CREATE INDEX event_entities_event ON connect_store.event_entities (event);

      CREATE SCHEMA forwarder;
      CREATE VIEW forwarder.audit_events AS
        SELECT event_id AS id, created_at AS occurred_at, kind AS type, description AS message, payload AS data,
               principal AS actor, remote_addr AS source_ip, result AS outcome, version AS server_version
        FROM connect_store.events;
      CREATE VIEW forwarder.audit_event_links AS
        SELECT event AS event_id, entity_kind AS entity_type, entity AS entity_id FROM connect_store.event_entities;

      CREATE ROLE view_reader LOGIN PASSWORD 'view-only';
      GRANT USAGE ON SCHEMA forwarder TO view_reader;
      GRANT SELECT ON forwarder.audit_events, forwarder.audit_event_links TO view_reader;
    `);
    const rows = range(0, 300).map((i) => rowFromEvent(eventWithLinks(i)));
    await insertConnectRows(admin, 'connect_store.events', rows, {
      columns: {
        id: 'event_id',
        occurredAt: 'created_at',
        type: 'kind',
        message: 'description',
        data: 'payload',
        actor: 'principal',
        sourceIp: 'remote_addr',
        outcome: 'result',
        serverVersion: 'version',
      },
    });
    await insertLinks('connect_store.event_entities', linkRows(rows, 'name'), ['event', 'entity_kind', 'entity']);
    await admin.query('ANALYZE connect_store.events; ANALYZE connect_store.event_entities');
  });

  const VIEWS = { table: 'forwarder.audit_events', linksTable: { table: 'forwarder.audit_event_links' } };

  it('reads through views with the default column names, as a role that may only SELECT the views', async () => {
    const viewer = url.replace('postgres:test-only@', 'view_reader:view-only@');
    const denied = await admin.query(`SELECT has_table_privilege('view_reader', 'connect_store.events', 'SELECT') AS ok`);
    expect(denied.rows[0]).toEqual({ ok: false });
    const events = await readAll(reader({ ...VIEWS, pageSize: 40 }, viewer), ALL);
    expect(events.map(canonical)).toEqual(range(0, 300).map((i) => canonical(eventWithLinks(i) as JsonValue)));
  });

  it('the planner reads the base tables through their indexes: the check the docs describe', async () => {
    const config = connectPostgresSchema.parse({ connectionString: url, ...VIEWS, pageSize: 50 });
    const q = buildPageQuery(config, { ...ALL, includeTypes: [26] }, { time: connectEventJson(100)['occurredAt'] as string, id: connectEventJson(100)['id'] });
    const plan = await explainAnalyze(q.text, q.values);
    const all = nodes(plan);
    const sub = new Set(subplanNodes(plan));
    expect(all.filter((n) => n['Node Type'] === 'Seq Scan')).toEqual([]);
    expect(all.filter((n) => !sub.has(n) && n['Node Type'] === 'Sort')).toEqual([]);
    expect(all.filter((n) => !sub.has(n) && n['Index Name'] !== undefined).map((n) => n['Index Name'])).toEqual(['events_created_at_event_id']);
    expect([...sub].some((n) => n['Index Name'] === 'event_entities_event')).toBe(true);
  });
});

describe('errors of the links table', () => {
  it('a missing links table is permanent and named by postgres.linksTable.table', async () => {
    const e = await errorOf(readAll(reader({ ...SPLIT, linksTable: { table: 'no_such_links' } }), ALL));
    expect(isForwarderError(e, 'FWD_SOURCE_IO') && e.disposition).toBe('permanent');
    const message = (e as ForwarderError).message;
    expect(message).toContain('"no_such_links"');
    expect(message).toContain('postgres.linksTable.table');
    // The events table is fine: the message does not send the operator there.
    expect(message).not.toContain('check postgres.table');
  });

  it('a missing column of the links table is permanent and named by its configuration key', async () => {
    const e = await errorOf(readAll(reader({ ...SPLIT, linksTable: { table: 'audit_event_links', columns: { type: 'kind' } } }), ALL));
    expect(isForwarderError(e, 'FWD_SOURCE_IO') && e.disposition).toBe('permanent');
    const message = (e as ForwarderError).message;
    expect(message).toContain('postgres.linksTable.columns.type = "kind"');
    expect(message).not.toContain('postgres.columns.');
  });

  it('a missing column of the events table is still named, and the unread links column is not', async () => {
    const e = await errorOf(readAll(reader({ ...SPLIT, columns: { actor: 'who' } }), ALL));
    expect(isForwarderError(e) && e.disposition).toBe('permanent');
    const message = (e as ForwarderError).message;
    expect(message).toContain('postgres.columns.actor = "who"');
    expect(message).not.toContain('postgres.columns.links');
  });

  it('refuses a links table mapping without a table, or a name it cannot use', () => {
    const parsed = connectPostgresSchema.safeParse({ connectionString: url, linksTable: { columns: { eventId: 'e' } } });
    expect(parsed.success).toBe(false);
    expect(parsed.error?.issues.map((i) => i.path.join('.'))).toEqual(['linksTable.table']);
    expect(connectPostgresSchema.safeParse({ connectionString: url, linksTable: { table: 'l', columns: { event: 'e' } } }).success).toBe(false);
    expect(() => reader({ linksTable: { table: 'a.b.c' } })).toThrow(/postgres\.linksTable\.table/);
  });
});
