// The direct PostgreSQL transport of the Connect source: keyset-paginated, read-only page queries on the audit table.
import { readFileSync } from 'node:fs';
import pg from 'pg';
import type { ConnectorContext } from '../../src/contracts/connector.ts';
import { ForwarderError } from '../../src/contracts/errors.ts';
import { eventTypeByNumber } from '../../src/model/event-types.ts';
import type { JsonObject, JsonValue } from '../../src/model/json.ts';
import { classifyPostgresError, postgresSourceError } from './classify-postgres.ts';
import type { ConnectPostgresConfig } from './config.ts';
import type { SourceCheckFinding } from '../../src/contracts/source.ts';
import { checkQuery, type ConnectEventReader, type EventPage, type WindowQuery } from './window.ts';

/*
 * The query and the index it needs.
 *
 * A window is read page by page with keyset pagination on (occurred_at, id):
 *
 *     SELECT t.id, to_char(t.occurred_at …), …, <selected> FROM <table> AS t
 *     WHERE t.occurred_at >= $from AND t.occurred_at <= $to AND t.id IS NOT NULL
 *       AND (t.occurred_at, t.id) > ($lastTime, $lastId)          -- every page after the first
 *     ORDER BY t.occurred_at, t.id LIMIT $pageSize
 *
 * which needs this index (the documented default layout creates it):
 *
 *     CREATE INDEX ON <table> (occurred_at, id);
 *
 * With it, each page is one index range scan that starts at the previous page's last key and stops after
 * `pageSize` rows, so a page costs the same on the first page of a ten-row table and the millionth page of
 * one with hundreds of millions of rows; EXPLAIN shows `Index Scan using <index>` with the row comparison
 * as its Index Cond, and no Sort. Without it, every page is a sequential scan of the table plus a sort
 * (OFFSET pagination would be no better: it reads and throws away every row before the page).
 *
 * The route's type selection is evaluated by the server, but as a column (`<selected>`) rather than in the
 * WHERE clause: a row that is not selected comes back as its key alone (the other columns are NULL), and the
 * next page starts after the last row scanned. So a page never scans more than `pageSize` index entries,
 * however rare the selected types are — in the WHERE clause, a page of a rare type over a large table would
 * scan until it found `pageSize` of them, possibly the whole table, beyond the statement timeout — while the
 * bodies of the rows not selected are neither detoasted nor sent. The `type` column may hold the enum name
 * (`EVENT_TYPE_TRUST_ZONE_CREATION`), the short name (`trust_zone_creation`) or the number (as an integer or
 * as text), so it is compared as text against all three spellings of every selected type; no index on
 * `type` is needed.
 *
 * Entity links may live in a second table (`linksTable`, one row per link) rather than in a JSON column. They
 * are then selected in the column's place by a correlated subquery that aggregates the event's links into the
 * same JSON array:
 *
 *     (SELECT coalesce(json_agg(json_build_object('type', l.<type>, 'id', l.<id>::text)
 *                               ORDER BY l.<type>, l.<id>), '[]')
 *      FROM <linksTable> AS l WHERE l.<eventId> = t.<id>)
 *
 * A join would multiply the rows, so LIMIT would no longer count events, and needs a GROUP BY over the page;
 * the subquery leaves the main scan exactly as above and is evaluated per returned row only, inside the same
 * CASE as the other body columns, so the links of rows not selected are not looked up. Each lookup is an
 * index scan, given `CREATE INDEX ON <linksTable> (<eventId>)`. The links are ordered by (type, id) because a
 * table has no order of its own; the id is sent as text since the decoder wants a string.
 *
 * Times are selected as canonical strings by `to_char` (microseconds, what PostgreSQL stores), never as a
 * JS Date, which has milliseconds. Each page runs in its own READ ONLY transaction in UTC, so a
 * `timestamp without time zone` column is read as UTC; no transaction or connection is held while the
 * caller delivers a page. Rows whose occurred_at or id is NULL are never read.
 */

type ColumnKey = keyof ConnectPostgresConfig['columns'];

/** The columns in the order the page query selects them (rows are read as arrays). */
const SELECTED: readonly ColumnKey[] = ['id', 'occurredAt', 'type', 'message', 'links', 'data', 'actor', 'sourceIp', 'outcome', 'serverVersion'];
const ID = 0;
const TIME = 1;
/** After the columns: whether the row is in the route's type selection. */
const IS_SELECTED = SELECTED.length;

const CANONICAL_TIME_FORMAT = `'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'`;
const STATEMENT_TIMEOUT_MS = 60_000;
/** The client gives up on a page this long after the server should have (a connection that went silent). */
const PAGE_DEADLINE_MS = STATEMENT_TIMEOUT_MS + 15_000;
const CONNECT_TIMEOUT_MS = 10_000;
const IDLE_CONNECTION_MS = 30_000;
const POOL_SIZE = 2;
const APPLICATION_NAME = 'audit-forwarder';

/** OIDs of `pg_type` for the columns whose values arrive as JS strings but are JSON. */
const JSON_OIDS = new Set([114, 3802]);

/** The key of the last row of a page: the next page starts after it. */
export interface PageKey {
  /** Canonical time, as selected. */
  readonly time: string;
  /** The id as the driver returned it, passed back as is so the comparison uses the column's own type. */
  readonly id: unknown;
}

/** The page key a token names (the tokens are ours: the JSON of the last key read). */
function parseToken(token: string): PageKey {
  const key = JSON.parse(token) as { time?: unknown; id?: unknown };
  if (typeof key.time !== 'string') throw new TypeError(`not a page token of this reader: ${token}`);
  return { time: key.time, id: key.id };
}

export interface PageQuery {
  readonly text: string;
  readonly values: unknown[];
}

function configError(message: string): ForwarderError {
  return new ForwarderError('FWD_CONFIG_INVALID', message, { stage: 'config', disposition: 'fatal' });
}

/**
 * Quotes a configured table (`key` names its configuration key for the error): `audit.events` is schema
 * `audit`, table `events`. Names are used exactly as written (case-sensitive, no folding), quoted with
 * `pg.escapeIdentifier`.
 */
export function quoteTable(table: string, key = 'postgres.table'): string {
  const parts = table.split('.');
  if (parts.length > 2 || parts.some((p) => p === '')) {
    throw configError(`${key} ${JSON.stringify(table)} is not a table name or schema.table`);
  }
  return parts.map((p) => pg.escapeIdentifier(p)).join('.');
}

/** Every spelling the `type` column may use for the given type numbers: number, short name, enum name. */
export function typeSpellings(numbers: readonly number[]): string[] {
  const out = new Set<string>();
  for (const n of numbers) {
    out.add(String(n));
    const t = eventTypeByNumber(n);
    if (t !== undefined) {
      out.add(t.name);
      out.add(`EVENT_TYPE_${t.name.toUpperCase()}`);
    }
  }
  return [...out];
}

type LinksTableConfig = NonNullable<ConnectPostgresConfig['linksTable']>;
type LinkColumnKey = keyof LinksTableConfig['columns'];
const LINK_COLUMNS: readonly LinkColumnKey[] = ['eventId', 'type', 'id'];

/** The JSON array of an event's links, from the links table (see the comment at the top). */
function linksSubquery(links: LinksTableConfig, eventId: string): string {
  const col = (k: LinkColumnKey) => `l.${pg.escapeIdentifier(links.columns[k])}`;
  return (
    `(SELECT coalesce(json_agg(json_build_object('type', ${col('type')}, 'id', ${col('id')}::text) ORDER BY ${col('type')}, ${col('id')}), '[]'::json) ` +
    `FROM ${quoteTable(links.table, 'postgres.linksTable.table')} AS l WHERE ${col('eventId')} = ${eventId})`
  );
}

/**
 * The SQL of one page of a window: the first page when `after` is undefined, else the page after that key.
 * Exported for the EXPLAIN test; pure.
 */
export function buildPageQuery(config: ConnectPostgresConfig, query: WindowQuery, after?: PageKey): PageQuery {
  const col = (k: ColumnKey) => `t.${pg.escapeIdentifier(config.columns[k])}`;
  const values: unknown[] = [query.from, query.to];
  const param = (v: unknown) => {
    values.push(v);
    return `$${values.length}`;
  };
  const selection: string[] = [];
  // An empty inclusion list pushes nothing down: the caller filters again, so reading more is safe.
  if (query.includeTypes !== undefined && query.includeTypes.length > 0) {
    selection.push(`${col('type')}::text = ANY(${param(typeSpellings(query.includeTypes))}::text[])`);
  }
  if (query.excludeTypes !== undefined && query.excludeTypes.length > 0) {
    // A row without a type is not excluded: it reaches the decoder, which reports it.
    selection.push(`(${col('type')} IS NULL OR ${col('type')}::text <> ALL(${param(typeSpellings(query.excludeTypes))}::text[]))`);
  }
  const selected = selection.length === 0 ? undefined : `(${selection.join(' AND ')})`;
  const body = (k: ColumnKey) => (k === 'links' && config.linksTable !== undefined ? linksSubquery(config.linksTable, col('id')) : col(k));
  const select = SELECTED.map((k) => {
    if (k === 'occurredAt') return `to_char(${col(k)} AT TIME ZONE 'UTC', ${CANONICAL_TIME_FORMAT})`;
    if (k === 'id') return col(k);
    if (selected === undefined) return body(k);
    return `CASE WHEN ${selected} THEN ${body(k)} END`;
  });
  select.push(selected === undefined ? 'TRUE' : `coalesce(${selected}, FALSE)`);
  const where = [`${col('occurredAt')} >= $1`, `${col('occurredAt')} <= $2`, `${col('id')} IS NOT NULL`];
  if (after !== undefined) where.push(`(${col('occurredAt')}, ${col('id')}) > (${param(after.time)}, ${param(after.id)})`);
  const text =
    `SELECT ${select.join(', ')} FROM ${quoteTable(config.table)} AS t WHERE ${where.join(' AND ')} ` +
    `ORDER BY ${col('occurredAt')}, ${col('id')} LIMIT ${param(query.pageSize ?? config.pageSize)}`;
  return { text, values };
}

/** Where the database is, from the connection string: no user, no password. */
export interface PostgresTarget {
  readonly host: string;
  readonly port: number;
  readonly database: string;
}

interface ParsedConnection {
  readonly target: PostgresTarget;
  /** The connection string without its TLS parameters (TLS is decided here, see `tlsOptions`). */
  readonly connectionString: string;
  readonly sslmode: string | undefined;
}

const TLS_PARAMS = ['ssl', 'sslmode', 'sslrootcert', 'sslcert', 'sslkey', 'sslpassword', 'uselibpqcompat', 'sslnegotiation'];

function parseConnectionString(s: string): ParsedConnection {
  let url: URL;
  try {
    url = new URL(s);
  } catch {
    throw configError('postgres.connectionString is not a URL (expected postgres://user:password@host:5432/database)');
  }
  if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') {
    throw configError(`postgres.connectionString must start with postgres:// or postgresql://, not ${url.protocol}//`);
  }
  const decode = (v: string) => {
    try {
      return decodeURIComponent(v);
    } catch {
      return v;
    }
  };
  const host = url.searchParams.get('host') ?? (url.hostname === '' ? 'localhost' : decode(url.hostname));
  const port = Number(url.port === '' ? (url.searchParams.get('port') ?? 5432) : url.port);
  // As libpq: without a database, the user name is the database name.
  const database = decode(url.pathname.replace(/^\//, '')) || decode(url.username);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw configError('postgres.connectionString has an invalid port');

  for (const p of ['sslcert', 'sslkey', 'sslpassword', 'sslrootcert']) {
    if (url.searchParams.has(p)) {
      throw configError(`postgres.connectionString sets ${p}: configure TLS with postgres.ssl.caFile instead (client certificates are not supported)`);
    }
  }
  const sslParam = url.searchParams.get('ssl');
  let sslmode = url.searchParams.get('sslmode') ?? undefined;
  if (sslmode === undefined && (sslParam === 'true' || sslParam === '1')) sslmode = 'require';
  if (TLS_PARAMS.some((p) => url.searchParams.has(p))) for (const p of TLS_PARAMS) url.searchParams.delete(p);
  return { target: { host, port, database }, connectionString: url.toString(), sslmode };
}

function tlsOptions(config: ConnectPostgresConfig, sslmode: string | undefined): pg.ClientConfig['ssl'] {
  switch (sslmode) {
    case undefined:
    case 'prefer':
    case 'allow':
      break;
    case 'disable':
      if (config.ssl !== undefined) throw configError('postgres.connectionString says sslmode=disable but postgres.ssl is set: remove one of them');
      return false;
    case 'require':
    case 'verify-ca':
    case 'verify-full':
      // Verification is always on: these all mean "TLS, with the server certificate checked".
      return { rejectUnauthorized: true };
    default:
      throw configError(`postgres.connectionString has sslmode=${sslmode}: the server certificate is always verified (use require, verify-full or disable)`);
  }
  if (config.ssl === undefined) return false;
  if (config.ssl.caFile === undefined) return { rejectUnauthorized: true };
  let ca: string;
  try {
    ca = readFileSync(config.ssl.caFile, 'utf8');
  } catch (e) {
    throw configError(`postgres.ssl.caFile ${JSON.stringify(config.ssl.caFile)} cannot be read: ${(e as Error).message}`);
  }
  return { rejectUnauthorized: true, ca };
}

function base64(bytes: Buffer): string {
  return bytes.toString('base64');
}

/** A row of the page query, in the proto3 JSON form of `proto.audit.v1alpha1.Event`. */
function eventJson(row: readonly unknown[], dataIsJson: boolean, linksIsJson: boolean): JsonObject {
  const out: Record<string, JsonValue> = {};
  const text = (key: string, v: unknown) => {
    if (v === null || v === undefined) return;
    out[key] = typeof v === 'string' ? v : String(v);
  };
  const scalar = (key: string, v: unknown) => {
    if (v === null || v === undefined) return;
    out[key] = typeof v === 'string' || typeof v === 'number' ? v : String(v);
  };
  text('id', row[ID]);
  text('occurredAt', row[TIME]);
  scalar('type', row[2]);
  text('message', row[3]);
  const links = row[4];
  if (links !== null && links !== undefined) {
    if (typeof links === 'string' && !linksIsJson) {
      // A text column holding the JSON array; if it is not JSON the decoder says so.
      try {
        out.links = JSON.parse(links) as JsonValue;
      } catch {
        out.links = links;
      }
    } else out.links = links as JsonValue;
  }
  const data = row[5];
  if (data !== null && data !== undefined) {
    if (Buffer.isBuffer(data)) out.data = base64(data);
    else if (typeof data === 'object') out.data = data as JsonValue;
    else if (typeof data === 'string' && !dataIsJson) out.data = base64(Buffer.from(data, 'utf8'));
    // A JSON scalar (a jsonb string, number or boolean): as bytes, so the decoder does not take a string for base64.
    else out.data = base64(Buffer.from(JSON.stringify(data), 'utf8'));
  }
  text('actor', row[6]);
  text('sourceIp', row[7]);
  scalar('outcome', row[8]);
  text('serverVersion', row[9]);
  return out;
}

/**
 * Settles with `work`, or rejects with the signal's reason when it aborts, or with a retryable error after
 * `deadlineMs`; `onGiveUp` then runs (to destroy the connection still working on it).
 */
function guarded<T>(work: Promise<T>, signal: AbortSignal, deadlineMs: number, onGiveUp: () => void): Promise<T> {
  work.catch(() => undefined);
  return new Promise<T>((resolve, reject) => {
    const settle = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
    };
    const onAbort = () => {
      settle();
      onGiveUp();
      reject(signal.reason);
    };
    const timer = setTimeout(() => {
      settle();
      onGiveUp();
      reject(new Error(`no answer from PostgreSQL within ${deadlineMs} ms`));
    }, deadlineMs);
    if (signal.aborted) return onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(
      (v) => {
        settle();
        resolve(v);
      },
      (e: unknown) => {
        settle();
        reject(e);
      },
    );
  });
}

/** What the catalog says of a table and the index a query needs on it. */
interface IndexLookup {
  /** `pg_class.relkind`: `r` a table, `p` a partitioned one, `v` a view, `m` a materialized view, … */
  readonly kind: string;
  /** The name of an index serving the columns, or null when there is none. */
  readonly index: string | null;
}

/**
 * The catalog query of `check`: the kind of `$1` (a quoted table name) and a valid, non-partial B-tree index of
 * it whose first key columns are `columns` ($2, $3, …), in that order and all in one direction (so that an index
 * scan, forward or backward, yields rows in the order of `ORDER BY` on them). Pure.
 */
export function servingIndexQuery(columns: number): string {
  const att = (k: number) => `(SELECT a.attnum FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = $${k + 2} AND NOT a.attisdropped)`;
  const keys = Array.from({ length: columns }, (_, k) => `i.indkey[${k}] = ${att(k)} AND (i.indoption[${k}] & 1) = (i.indoption[0] & 1)`);
  return (
    `SELECT c.relkind::text AS kind, (SELECT i.indexrelid::regclass::text FROM pg_index i ` +
    `JOIN pg_class ic ON ic.oid = i.indexrelid JOIN pg_am am ON am.oid = ic.relam ` +
    `WHERE i.indrelid = c.oid AND am.amname = 'btree' AND i.indisvalid AND i.indpred IS NULL AND i.indnkeyatts >= ${columns} ` +
    `AND ${keys.join(' AND ')} ORDER BY i.indnkeyatts LIMIT 1) AS index ` +
    `FROM pg_class c WHERE c.oid = to_regclass($1)`
  );
}

/**
 * Creates the reader. Throws `FWD_CONFIG_INVALID` (fatal) when the connection string is not a
 * `postgres://` URL, the table name (or the links table's) is not `table` or `schema.table`, the TLS settings
 * contradict each other or the CA file cannot be read. Connects lazily, on the first page.
 */
export function createPostgresReader(config: ConnectPostgresConfig, context: ConnectorContext): Required<ConnectEventReader> {
  const parsed = parseConnectionString(config.connectionString.reveal());
  const ssl = tlsOptions(config, parsed.sslmode);
  quoteTable(config.table);
  if (config.linksTable !== undefined) quoteTable(config.linksTable.table, 'postgres.linksTable.table');
  const { target } = parsed;
  const where = `postgres ${target.host}:${target.port}/${target.database}`;
  const logger = context.logger.child({ transport: 'postgres', database: `${target.host}:${target.port}/${target.database}`, table: config.table });
  const clientConfig: pg.ClientConfig = {
    connectionString: parsed.connectionString,
    ssl,
    application_name: APPLICATION_NAME,
    keepAlive: true,
    connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
  };
  const pool = new pg.Pool({ ...clientConfig, max: POOL_SIZE, idleTimeoutMillis: IDLE_CONNECTION_MS, allowExitOnIdle: true });
  // An idle connection that breaks (the server restarted) is dropped by the pool; the next page opens another.
  pool.on('error', (e: Error & { code?: string }) => logger.warn({ code: e.code, error: e.message }, 'an idle PostgreSQL connection failed'));

  let closed = false;
  let closing: Promise<void> | undefined;

  /** What the catalog says is wrong with the configured names, and, when that is not `postgres.table`, what to check. */
  interface Diagnosis {
    readonly diagnosis: string;
    readonly advice?: string;
  }

  /** For a missing table or column: which configured names are wrong, from the catalog. Best effort. */
  async function diagnose(e: unknown): Promise<Diagnosis | undefined> {
    const code = (e as { code?: unknown }).code;
    if (code !== '42703' && code !== '42P01' && code !== '3F000') return undefined;
    const lookup = async (): Promise<Diagnosis | undefined> => {
      /** The columns of a table, or undefined when it does not exist or this role cannot see it. */
      const columnsOf = async (table: string, key: string): Promise<Set<string> | undefined> => {
        const rel = await pool.query<{ oid: number | null }>('SELECT to_regclass($1)::oid AS oid', [quoteTable(table, key)]);
        const oid = rel.rows[0]?.oid;
        if (oid === null || oid === undefined) return undefined;
        const attrs = await pool.query<{ name: string }>(
          'SELECT attname::text AS name FROM pg_attribute WHERE attrelid = $1 AND attnum > 0 AND NOT attisdropped ORDER BY attnum',
          [oid],
        );
        return new Set(attrs.rows.map((r) => r.name));
      };
      const events = await columnsOf(config.table, 'postgres.table');
      if (events === undefined) return { diagnosis: `table ${JSON.stringify(config.table)} does not exist or is not visible to this role (postgres.table)` };
      const problems: string[] = [];
      /** The configuration keys the problems are under. */
      const keys: string[] = [];
      // The links column is not read when the links come from their own table.
      const read = SELECTED.filter((k) => !(k === 'links' && config.linksTable !== undefined));
      const missing = read.filter((k) => !events.has(config.columns[k])).map((k) => `postgres.columns.${k} = ${JSON.stringify(config.columns[k])}`);
      if (missing.length > 0) {
        problems.push(`not columns of ${JSON.stringify(config.table)}: ${missing.join(', ')} (its columns: ${[...events].join(', ')})`);
        keys.push('postgres.columns');
      }
      const lt = config.linksTable;
      const links = lt === undefined ? undefined : await columnsOf(lt.table, 'postgres.linksTable.table');
      if (lt !== undefined && links === undefined) {
        problems.push(`links table ${JSON.stringify(lt.table)} does not exist or is not visible to this role (postgres.linksTable.table)`);
        keys.push('postgres.linksTable.table (schema-qualify it if its schema is not on the search_path)');
      } else if (lt !== undefined && links !== undefined) {
        const missingLinks = LINK_COLUMNS.filter((k) => !links.has(lt.columns[k])).map((k) => `postgres.linksTable.columns.${k} = ${JSON.stringify(lt.columns[k])}`);
        if (missingLinks.length > 0) {
          problems.push(`not columns of the links table ${JSON.stringify(lt.table)}: ${missingLinks.join(', ')} (its columns: ${[...links].join(', ')})`);
          keys.push('postgres.linksTable.columns');
        }
      }
      if (problems.length === 0) return undefined;
      // The rule's own advice points at postgres.table or postgres.columns: replaced when the fault is (also) in the links table.
      const inLinks = keys.some((k) => k.startsWith('postgres.linksTable'));
      return { diagnosis: problems.join('; '), ...(inLinks && { advice: `check ${keys.join(' and ')}` }) };
    };
    return guarded(lookup(), new AbortController().signal, CONNECT_TIMEOUT_MS, () => undefined).catch(() => undefined);
  }

  async function sourceError(e: unknown): Promise<unknown> {
    const c = classifyPostgresError(e);
    if (c === undefined) return e;
    const found = c.disposition === 'permanent' ? await diagnose(e) : undefined;
    return postgresSourceError(e, { where, table: config.table, ...found }) ?? e;
  }

  /** One page in its own READ ONLY transaction, on a pooled connection that is destroyed if anything fails. */
  async function runPage(q: PageQuery, signal: AbortSignal): Promise<pg.QueryArrayResult> {
    const acquiring = pool.connect();
    let client: pg.PoolClient;
    try {
      client = await guarded(acquiring, signal, CONNECT_TIMEOUT_MS * 2, () => {
        acquiring.then((c) => c.release(true), () => undefined);
      });
    } catch (e) {
      if (signal.aborted) throw signal.reason;
      throw await sourceError(e);
    }
    let broken = false;
    const page = (async () => {
      await client.query(`BEGIN READ ONLY; SET LOCAL statement_timeout = ${STATEMENT_TIMEOUT_MS}; SET LOCAL TIME ZONE 'UTC'`);
      const result = await client.query<unknown[]>({ text: q.text, values: q.values, rowMode: 'array' });
      await client.query('COMMIT');
      return result;
    })();
    try {
      return await guarded(page, signal, PAGE_DEADLINE_MS, () => {
        broken = true;
      });
    } catch (e) {
      broken = true;
      if (signal.aborted) throw signal.reason;
      throw await sourceError(e);
    } finally {
      client.release(broken);
    }
  }

  /** Whether `table` has an index whose first key columns are `columns`: a warning with the statement when not. */
  async function indexFinding(table: string, key: string, columns: readonly string[], serves: string): Promise<SourceCheckFinding> {
    const quoted = quoteTable(table, key);
    const list = columns.map((c) => pg.escapeIdentifier(c)).join(', ');
    const what = `${serves} (${columns.join(', ')})`;
    let found: IndexLookup | undefined;
    try {
      const lookup = pool.query<IndexLookup>(servingIndexQuery(columns.length), [quoted, ...columns]);
      found = (await guarded(lookup, new AbortController().signal, CONNECT_TIMEOUT_MS, () => undefined)).rows[0];
    } catch (e) {
      return { level: 'warning', detail: `could not look for the index of ${JSON.stringify(table)} that serves ${what}: ${(e as Error).message}` };
    }
    if (found === undefined) return { level: 'warning', detail: `${JSON.stringify(table)} is not in the catalog: its index could not be checked` };
    if (found.kind === 'v') {
      // The plan depends on the view's base table: see docs/sources/connect.md for how to check it with EXPLAIN.
      return { level: 'ok', detail: `${JSON.stringify(table)} is a view: the index its base table needs for ${what} is not checked here (see EXPLAIN in docs/sources/connect.md)` };
    }
    if (found.index !== null) return { level: 'ok', detail: `index ${found.index} serves ${what}` };
    return {
      level: 'warning',
      detail: `no index of ${JSON.stringify(table)} serves ${what}: each page then reads the whole table; create one: CREATE INDEX CONCURRENTLY ON ${quoted} (${list});`,
    };
  }

  // ---- LISTEN ----
  let listener: pg.Client | undefined;
  let listening: Promise<void> | undefined;
  let listenedBefore = false;
  let listenFailing = false;
  /** A notification came while nobody waited: the next wait returns at once. */
  let pending = false;
  const waiters = new Set<() => void>();

  function notify(): void {
    if (waiters.size === 0) {
      pending = true;
      return;
    }
    for (const w of [...waiters]) w();
  }

  /** Starts (in the background) the dedicated LISTEN connection, unless it is up or coming up. Never throws. */
  function ensureListener(channel: string): void {
    if (closed || listener !== undefined || listening !== undefined) return;
    const client = new pg.Client(clientConfig);
    let dropped = false;
    const drop = (e?: Error & { code?: string }) => {
      if (dropped) return;
      dropped = true;
      if (listener === client) listener = undefined;
      client.end().catch(() => undefined);
      if (e !== undefined && !listenFailing && !closed) {
        listenFailing = true;
        logger.warn({ code: e.code, error: e.message, channel }, 'LISTEN connection failed; polling until it is back');
      }
    };
    client.on('error', drop);
    client.on('end', () => drop());
    client.on('notification', (n) => {
      if (n.channel === channel) notify();
    });
    listening = (async () => {
      try {
        await client.connect();
        await client.query(`LISTEN ${pg.escapeIdentifier(channel)}`);
        if (closed || dropped) {
          drop();
          return;
        }
        listener = client;
        listenFailing = false;
        // While no connection listened, notifications were lost: look once.
        if (listenedBefore) notify();
        listenedBefore = true;
      } catch (e) {
        drop(e as Error);
      } finally {
        listening = undefined;
      }
    })();
  }

  const reader: Required<ConnectEventReader> = {
    // Keyset pagination: pages in (occurred_at, id) order, each after the one before.
    ordered: true,

    async readPage(query: WindowQuery, token: string | undefined, signal: AbortSignal): Promise<EventPage> {
      if (signal.aborted) throw signal.reason;
      if (closed) throw new TypeError('readPage called on a closed PostgreSQL reader');
      const after = token === undefined ? undefined : parseToken(token);
      const result = await runPage(buildPageQuery(config, query, after), signal);
      const dataIsJson = JSON_OIDS.has(result.fields[5]?.dataTypeID ?? 0);
      const linksIsJson = JSON_OIDS.has(result.fields[4]?.dataTypeID ?? 0);
      const rows = result.rows;
      const events = rows.filter((r) => r[IS_SELECTED] === true).map((r) => eventJson(r, dataIsJson, linksIsJson));
      const last = rows.at(-1);
      if (last === undefined || rows.length < (query.pageSize ?? config.pageSize)) return { events };
      // The next page starts after the last row scanned, selected or not.
      return { events, next: JSON.stringify({ time: last[TIME], id: last[ID] }) };
    },

    waitForChange(ms: number, signal: AbortSignal): Promise<void> {
      if (signal.aborted || closed) return Promise.resolve();
      if (config.listenChannel !== undefined) {
        ensureListener(config.listenChannel);
        if (pending) {
          pending = false;
          return Promise.resolve();
        }
      }
      return new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          signal.removeEventListener('abort', done);
          waiters.delete(done);
          resolve();
        };
        const timer = setTimeout(done, ms);
        signal.addEventListener('abort', done, { once: true });
        waiters.add(done);
      });
    },

    async check(untilMs: number, signal: AbortSignal): Promise<SourceCheckFinding[]> {
      try {
        // The reader's own query, one row: the connection, the credentials, the table, the columns, SELECT.
        await reader.readPage(checkQuery(untilMs), undefined, signal);
      } catch (e) {
        return [{ level: 'failure', detail: e instanceof Error ? e.message : String(e) }];
      }
      const lt = config.linksTable;
      const tables = `table ${JSON.stringify(config.table)}${lt === undefined ? '' : ` and links table ${JSON.stringify(lt.table)}`}`;
      const findings: SourceCheckFinding[] = [{ level: 'ok', detail: `${where}: the page query runs (connected; ${tables}, their columns and SELECT as configured)` }];
      findings.push(await indexFinding(config.table, 'postgres.table', [config.columns.occurredAt, config.columns.id], 'the page order'));
      if (lt !== undefined) findings.push(await indexFinding(lt.table, 'postgres.linksTable.table', [lt.columns.eventId], 'the lookup of each event\'s links'));
      return findings;
    },

    legacyIdentity: (): JsonValue => ({ host: target.host, port: target.port, database: target.database, table: config.table }),

    close(): Promise<void> {
      closing ??= (async () => {
        closed = true;
        for (const w of [...waiters]) w();
        await listening?.catch(() => undefined);
        await listener?.end().catch(() => undefined);
        listener = undefined;
        await pool.end().catch(() => undefined);
      })();
      return closing;
    },
  };
  return reader;
}
