// `audit-forwarder check` tries every source (Connect API, PostgreSQL, audit files, jsonl) as a child process; `run` warns of a pattern that matches nothing.
import { mkdirSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cadfLines } from '../support/cadf-lines.ts';
import { exited, startRun, until } from '../support/cli-child.ts';
import { startConnectServer, tlsFixture, type ConnectTestServer } from '../support/connect-server.ts';
import { connectEventLines } from '../support/generate.ts';
import { listenOn } from '../support/listen.ts';
import { DEFAULT_AUDIT_TABLE_DDL, startPostgres, type TestPostgres } from '../support/postgres.ts';
import { cli, linesOf, removeTempDirs, tempDir, write } from './cli-helpers.ts';

const TOKEN = 'cli-check-token';

let postgres: TestPostgres;
let databaseUrl: string;
let server: ConnectTestServer;

beforeAll(async () => {
  postgres = await startPostgres();
  databaseUrl = await postgres.createDatabase('cli_check');
  server = await startConnectServer({ databaseUrl, token: TOKEN });
  const admin = new pg.Client({ connectionString: databaseUrl });
  await admin.connect();
  try {
    await admin.query(DEFAULT_AUDIT_TABLE_DDL.replaceAll('audit_events', 'unindexed_events').replace(/CREATE INDEX[^;]*;/, ''));
    await admin.query(DEFAULT_AUDIT_TABLE_DDL.replaceAll('audit_events', 'short_events').replace(/^\s*actor\s+[^\n]*\n/m, ''));
  } finally {
    await admin.end();
  }
}, 60_000);

afterAll(async () => {
  removeTempDirs();
  await server?.close();
  await postgres?.stop();
});

/** A loopback port nothing listens on (listened on, then closed). */
async function closedPort(): Promise<number> {
  const listener = createServer();
  const port = await listenOn(listener, 0, '127.0.0.1');
  await new Promise((resolve) => listener.close(resolve));
  return port;
}

/** The settings of a connect source reading the test server's API with an SVID and `token`. */
const apiSource = (url: string, token: string) =>
  `{ type: connect, transport: api, api: { url: "${url}", token: "${token}", tls: { caFile: ${tlsFixture('ca.pem')}, certFile: ${tlsFixture('client-1.pem')}, keyFile: ${tlsFixture('client-1.key')}, serverSpiffeId: "spiffe://example.org/connect" } } }`;
const postgresSource = (table: string) => `{ type: connect, transport: postgres, postgres: { connectionString: "\${DB_URL}", table: ${table} } }`;

/** A configuration of the given sources (name → settings), each read by a route of its own to a discard sink. */
function configOf(dir: string, sources: Readonly<Record<string, string>>): string {
  const names = Object.keys(sources);
  return write(
    dir,
    'config.yaml',
    `sources:
${names.map((n) => `  ${n}: ${sources[n]}`).join('\n')}
sinks:
  void: { type: discard }
routes:
${names.map((n) => `  r-${n}: { from: ${n}, to: void }`).join('\n')}
checkpoints: { directory: state/checkpoints }
deadLetter: { directory: state/dead-letter }
`,
  );
}

/** The lines of `check`'s output about source `name`: its own, and the findings indented under it. */
function sourceLines(stdout: string, name: string): string[] {
  const lines = stdout.split('\n');
  const at = lines.findIndex((l) => l.startsWith(`source ${name} `));
  if (at < 0) return [];
  const out = [lines[at]!];
  for (const l of lines.slice(at + 1)) {
    if (!l.startsWith('  ')) break;
    out.push(l);
  }
  return out;
}

describe('audit-forwarder check: sources', () => {
  it('sources that work, some with warnings: one line (or block) each, exit 0', async () => {
    const dir = tempDir();
    mkdirSync(join(dir, 'logs'));
    write(dir, 'logs/iam-audit.log', '');
    write(dir, 'input.jsonl', connectEventLines(0, 3));
    const config = configOf(dir, {
      api: apiSource(server.url, TOKEN),
      db: postgresSource('audit_events'),
      unindexed: postgresSource('unindexed_events'),
      files: '{ type: audit-files, paths: [logs/*-audit.log, logs/pdp-audit.log] }',
      lines: '{ type: jsonl, paths: [input.jsonl] }',
    });
    const r = await cli(['check', '-c', config], { env: { DB_URL: databaseUrl } });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(sourceLines(r.stdout, 'api')).toEqual([
      `source api (connect): ok: the Connect API at ${server.url} (gRPC over TLS, server spiffe://example.org/connect; ` +
        'credentials: SPIFFE mTLS (client SVID api.tls.certFile) and bearer token): ListEvents answered (no event in the last hour)',
    ]);
    expect(sourceLines(r.stdout, 'db')).toEqual([
      'source db (connect): ok',
      expect.stringMatching(/^ {2}ok: postgres 127\.0\.0\.1:\d+\/cli_check: the page query runs/),
      '  ok: index audit_events_occurred_at_id serves the page order (occurred_at, id)',
    ]);
    expect(sourceLines(r.stdout, 'unindexed')).toEqual([
      'source unindexed (connect): WARNING',
      expect.stringMatching(/^ {2}ok: postgres /),
      '  WARNING: no index of "unindexed_events" serves the page order (occurred_at, id): each page then reads the whole table; ' +
        'create one: CREATE INDEX CONCURRENTLY ON "unindexed_events" ("occurred_at", "id");',
    ]);
    expect(sourceLines(r.stdout, 'files')).toEqual([
      'source files (audit-files): WARNING',
      `  ok: ${dir}/logs/*-audit.log: 1 file, readable`,
      `  WARNING: ${dir}/logs/pdp-audit.log: no file matches it yet (files are read when they appear)`,
    ]);
    expect(sourceLines(r.stdout, 'lines')).toEqual([`source lines (jsonl): ok: ${dir}/input.jsonl: 1 file, readable`]);
    expect(r.stdout).not.toContain(TOKEN);
  });

  it('sources that cannot read as configured: FAILED each, exit 1, secrets never shown', async () => {
    const dir = tempDir();
    // A path that is a file where a directory is expected: unreadable as a directory, for root too.
    writeFileSync(join(dir, 'logs'), 'not a directory\n');
    const config = configOf(dir, {
      badtoken: apiSource(server.url, 'not-the-token'),
      down: apiSource(`https://127.0.0.1:${await closedPort()}`, TOKEN),
      notable: postgresSource('no_such_events'),
      nocolumn: postgresSource('short_events'),
      files: '{ type: audit-files, paths: [logs/*-audit.log] }',
      lines: '{ type: jsonl, paths: [missing/*.jsonl], follow: true }',
    });
    const r = await cli(['check', '-c', config], { env: { DB_URL: databaseUrl } });
    expect(r.code).toBe(1);
    expect(sourceLines(r.stdout, 'badtoken')).toEqual([expect.stringMatching(/^source badtoken \(connect\): FAILED: the Connect API at .*: ListEvents failed: UNAUTHENTICATED: /)]);
    expect(sourceLines(r.stdout, 'down')).toEqual([expect.stringMatching(/^source down \(connect\): FAILED: the Connect API at .*: ListEvents failed: ECONNREFUSED: the connection was refused/)]);
    expect(sourceLines(r.stdout, 'notable')).toEqual([
      expect.stringMatching(/^source notable \(connect\): FAILED: postgres 127\.0\.0\.1:\d+\/cli_check: relation "no_such_events" does not exist .*check postgres\.table/),
    ]);
    expect(sourceLines(r.stdout, 'nocolumn')).toEqual([expect.stringMatching(/^source nocolumn \(connect\): FAILED: .*not columns of "short_events": postgres\.columns\.actor = "actor"/)]);
    expect(sourceLines(r.stdout, 'files')).toEqual([`source files (audit-files): FAILED: ${dir}/logs/*-audit.log: ${dir}/logs is not a directory`]);
    expect(sourceLines(r.stdout, 'lines')).toEqual([`source lines (jsonl): FAILED: ${dir}/missing/*.jsonl: directory ${dir}/missing does not exist`]);
    expect(r.stdout + r.stderr).not.toContain('not-the-token');
    expect(r.stdout + r.stderr).not.toContain('test-only');
  });
});

describe('audit-forwarder run: a pattern that matches nothing', () => {
  it('is a warning logged once at the start, naming the pattern, however many sinks read the source', async () => {
    const dir = tempDir();
    mkdirSync(join(dir, 'logs'));
    writeFileSync(
      join(dir, 'config.yaml'),
      `sources:
  files: { type: audit-files, paths: [logs/*-audit.log, logs/pdp-audit.log], pollInterval: 20ms }
sinks:
  a: { type: file, path: out/a.jsonl }
  b: { type: file, path: out/b.jsonl }
routes:
  r: { from: files, to: [a, b], batch: { maxAge: 10ms } }
checkpoints: { directory: state/checkpoints }
deadLetter: { directory: state/dead-letter }
`,
    );
    const child = startRun(dir);
    try {
      const warnings = () =>
        child
          .stderrText()
          .split('\n')
          .filter((l) => l.startsWith('{'))
          .map((l) => JSON.parse(l) as Record<string, unknown>)
          .filter((l) => l['source'] === 'files' && Array.isArray(l['patterns']));
      await until(() => warnings().length > 0, 'the warning');
      // A file appears: both lanes read it, so both have started (and polled) since the warning.
      write(dir, 'logs/iam-audit.log', cadfLines('run', 0, 2));
      await until(() => linesOf(join(dir, 'out/a.jsonl')).length === 2 && linesOf(join(dir, 'out/b.jsonl')).length === 2, 'both sinks');
      child.kill('SIGTERM');
      expect(await exited(child)).toBe(0);
      const found = warnings();
      expect(found).toHaveLength(1);
      expect(found[0]!['patterns']).toEqual([join(dir, 'logs/*-audit.log'), join(dir, 'logs/pdp-audit.log')]);
      expect(['warn', 40]).toContain(found[0]!['level']);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });
});
