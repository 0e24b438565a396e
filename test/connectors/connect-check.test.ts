// `check` of the connect source: the Connect API (real gRPC server, TLS, SPIFFE mTLS, bearer token) and PostgreSQL (real server): what it tries and says.
import { createServer } from 'node:net';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectSourceSchema } from '../../connectors/connect/config.ts';
import { createConnect } from '../../connectors/connect/index.ts';
import type { SourceCheckResult } from '../../src/contracts/source.ts';
import { silentLogger } from '../../src/logging.ts';
import type { JsonObject } from '../../src/model/json.ts';
import { startConnectServer, tlsFixture, type ConnectTestServer } from '../support/connect-server.ts';
import { connectEventJson } from '../support/generate.ts';
import { listenOn } from '../support/listen.ts';
import { DEFAULT_AUDIT_TABLE_DDL, startPostgres, type TestPostgres } from '../support/postgres.ts';

const TOKEN = 'check-test-token';
const SERVER_ID = 'spiffe://example.org/connect';
const context = { logger: silentLogger(), baseDir: process.cwd() };

let postgres: TestPostgres;
let databaseUrl: string;
let admin: pg.Client;
let server: ConnectTestServer;

/** The check of a connect source made from `settings` (the keys under the source, besides its type). */
async function check(settings: Record<string, unknown>): Promise<SourceCheckResult> {
  const source = createConnect('events', connectSourceSchema.parse({ type: 'connect', ...settings }), context);
  try {
    return await source.check!();
  } finally {
    await source.close();
  }
}

const api = (overrides: Record<string, unknown> = {}, tls: Record<string, unknown> = {}) => ({
  transport: 'api',
  api: {
    url: server.url,
    token: TOKEN,
    ...overrides,
    tls: { caFile: tlsFixture('ca.pem'), certFile: tlsFixture('client-1.pem'), keyFile: tlsFixture('client-1.key'), serverSpiffeId: SERVER_ID, ...tls },
  },
});

const postgresSource = (postgresSettings: Record<string, unknown> = {}, connectionString = databaseUrl) => ({
  transport: 'postgres',
  postgres: { connectionString, ...postgresSettings },
});

/** The default layout under another name, `columns` dropped and without the index unless `indexed`. */
async function createTable(name: string, options: { indexed?: boolean; drop?: readonly string[] } = {}): Promise<void> {
  let ddl = DEFAULT_AUDIT_TABLE_DDL.replaceAll('audit_events', name);
  if (options.indexed === false) ddl = ddl.replace(/CREATE INDEX[^;]*;/, '');
  for (const column of options.drop ?? []) ddl = ddl.replace(new RegExp(`^\\s*${column}\\s+[^\\n]*\\n`, 'm'), '');
  await admin.query(ddl);
}

beforeAll(async () => {
  postgres = await startPostgres();
  databaseUrl = await postgres.createDatabase('connect_check');
  server = await startConnectServer({ databaseUrl, token: TOKEN });
  admin = new pg.Client({ connectionString: databaseUrl });
  await admin.connect();
  // An event of the last hour, for the page `check` reads.
  await server.insertEvents([{ ...connectEventJson(0), occurredAt: new Date(Date.now() - 20 * 60_000).toISOString() }]);
  await createTable('unindexed_events', { indexed: false });
  await createTable('short_events', { drop: ['source_ip'] });
  await admin.query(`CREATE TABLE event_links (event_id text NOT NULL, entity_type text NOT NULL, entity_id text NOT NULL)`);
  await admin.query(`CREATE ROLE no_select LOGIN PASSWORD 'test-only'`);
}, 60_000);

afterAll(async () => {
  await admin?.end();
  await server?.close();
  await postgres?.stop();
});

describe('connect source check: the Connect API', () => {
  it('ok: one ListEvents page of one event, with the endpoint and how it authenticated', async () => {
    const before = server.calls.length;
    const result = await check(api());
    expect(result.ok).toBe(true);
    expect(result.findings).toEqual([
      {
        level: 'ok',
        detail:
          `the Connect API at ${server.url} (gRPC over TLS, server ${SERVER_ID}; credentials: SPIFFE mTLS (client SVID api.tls.certFile) and bearer token): ` +
          'ListEvents answered (with events in the last hour)',
      },
    ]);
    const calls = server.calls.slice(before);
    expect(calls).toHaveLength(1);
    expect(calls[0]!.result?.code).toBe('ok');
    expect(calls[0]!.clientCert?.uris).toEqual(['spiffe://example.org/ns/forwarder/sa/audit-forwarder']);
    expect(((calls[0]!.request as JsonObject).pagination as JsonObject).pageSize).toBe(1);
  });

  it('a refused bearer token: a failure naming the status and what to check', async () => {
    const result = await check(api({ token: 'not-the-token' }));
    expect(result.ok).toBe(false);
    expect(result.findings).toHaveLength(1);
    expect(result.findings[0]!.level).toBe('failure');
    expect(result.findings[0]!.detail).toMatch(new RegExp(`^the Connect API at ${server.url} \\(.*bearer token\\): ListEvents failed: UNAUTHENTICATED: the server refused the credentials`));
    expect(result.findings[0]!.detail).not.toContain('not-the-token');
  });

  it('nothing listening on the port: a failure saying the connection was refused', async () => {
    // A port that was free a moment ago: listened on, then closed.
    const listener = createServer();
    const port = await listenOn(listener, 0, '127.0.0.1');
    await new Promise((resolve) => listener.close(resolve));
    const result = await check(api({ url: `https://127.0.0.1:${port}` }));
    expect(result.ok).toBe(false);
    expect(result.findings[0]!.detail).toMatch(/^the Connect API at https:\/\/127\.0\.0\.1:\d+ \(.*\): ListEvents failed: ECONNREFUSED: the connection was refused/);
  });

  it('a server certificate of another CA: a TLS failure naming the key to fix', async () => {
    const result = await check(api({}, { caFile: tlsFixture('other-ca.pem') }));
    expect(result.ok).toBe(false);
    expect(result.findings[0]!.detail).toMatch(/ListEvents failed: [A-Z_]+: the server certificate does not chain to the CA bundle.*api\.tls\.caFile/);
  });
});

describe('connect source check: PostgreSQL', () => {
  it('ok: the page query runs and the (occurred_at, id) index is there', async () => {
    const result = await check(postgresSource());
    expect(result).toEqual({
      ok: true,
      findings: [
        { level: 'ok', detail: expect.stringMatching(/^postgres 127\.0\.0\.1:\d+\/connect_check: the page query runs \(connected; table "audit_events", their columns and SELECT as configured\)$/) },
        { level: 'ok', detail: 'index audit_events_occurred_at_id serves the page order (occurred_at, id)' },
      ],
    });
  });

  it('no index on (occurred_at, id): a warning with the statement that creates it, and still ok', async () => {
    const result = await check(postgresSource({ table: 'unindexed_events' }));
    expect(result.ok).toBe(true);
    expect(result.findings[1]).toEqual({
      level: 'warning',
      detail:
        'no index of "unindexed_events" serves the page order (occurred_at, id): each page then reads the whole table; ' +
        'create one: CREATE INDEX CONCURRENTLY ON "unindexed_events" ("occurred_at", "id");',
    });
  });

  it('the configured column names are those of the index looked for', async () => {
    await admin.query('CREATE TABLE IF NOT EXISTS renamed_events AS SELECT id AS event_id, occurred_at AS created_at, type, message, links, data, actor, source_ip, outcome, server_version FROM audit_events WITH NO DATA');
    await admin.query('CREATE INDEX IF NOT EXISTS renamed_by_time ON renamed_events (created_at DESC, event_id DESC)');
    const result = await check(postgresSource({ table: 'renamed_events', columns: { id: 'event_id', occurredAt: 'created_at' } }));
    expect(result.findings[1]).toEqual({ level: 'ok', detail: 'index renamed_by_time serves the page order (created_at, event_id)' });
  });

  it('a links table without an index on its event id: a warning for it', async () => {
    const result = await check(postgresSource({ linksTable: { table: 'event_links' } }));
    expect(result.ok).toBe(true);
    expect(result.findings.map((f) => f.level)).toEqual(['ok', 'ok', 'warning']);
    expect(result.findings[2]!.detail).toBe(
      'no index of "event_links" serves the lookup of each event\'s links (event_id): each page then reads the whole table; create one: CREATE INDEX CONCURRENTLY ON "event_links" ("event_id");',
    );
  });

  it('a table that does not exist: a failure naming postgres.table', async () => {
    const result = await check(postgresSource({ table: 'no_such_events' }));
    expect(result.ok).toBe(false);
    expect(result.findings).toHaveLength(1);
    expect(result.findings[0]!.detail).toMatch(/^postgres 127\.0\.0\.1:\d+\/connect_check: relation "no_such_events" does not exist .*check postgres\.table/);
  });

  it('a column that does not exist: a failure naming the configured column', async () => {
    const result = await check(postgresSource({ table: 'short_events' }));
    expect(result.ok).toBe(false);
    expect(result.findings[0]!.detail).toContain('not columns of "short_events": postgres.columns.sourceIp = "source_ip"');
  });

  it('a role without SELECT on the table: a failure saying so', async () => {
    const noSelect = databaseUrl.replace('postgres:test-only@', 'no_select:test-only@');
    const result = await check(postgresSource({}, noSelect));
    expect(result.ok).toBe(false);
    expect(result.findings[0]!.detail).toMatch(/permission denied for table audit_events \(insufficient_privilege, 42501\); the role needs USAGE on the schema and SELECT on the table/);
  });
});
