// Long run (npm run test:long): a first start on 200,000 Connect events, the forwarder SIGKILLed every few seconds, over the API and from PostgreSQL: it finishes, every event delivered.
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startConnectServer, tlsFixture, type ConnectTestServer } from '../support/connect-server.ts';
import { insertSyntheticEvents, syntheticId } from '../support/connect-rows.ts';
import { startPostgres, type TestPostgres } from '../support/postgres.ts';

const ROOT = resolve(import.meta.dirname, '../..');
const NODE = join(ROOT, 'node_modules/.bin/node');
const CLI = join(ROOT, 'src/cli/main.ts');
const EVENTS = Number(process.env.KILL_TEST_EVENTS ?? 200_000);

let postgres: TestPostgres;
let server: ConnectTestServer;
let databaseUrl: string;
const dirs: string[] = [];
const children = new Set<ChildProcess>();

beforeAll(async () => {
  postgres = await startPostgres();
  databaseUrl = await postgres.createDatabase('connect_kill');
  server = await startConnectServer({ databaseUrl, tls: { clientAuth: 'require' } });
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    await insertSyntheticEvents(client, 0, EVENTS);
  } finally {
    await client.end();
  }
}, 120_000);

afterAll(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  await server?.close();
  await postgres?.stop();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function setup(transport: 'api' | 'postgres'): string {
  const dir = mkdtempSync(join(tmpdir(), `af-kill-${transport}-`));
  dirs.push(dir);
  const source =
    transport === 'api'
      ? `{ type: connect, transport: api, api: { url: "${server.url}", pageSize: 1000, tls: { caFile: "${tlsFixture('ca.pem')}", certFile: "${tlsFixture('client-1.pem')}", keyFile: "${tlsFixture('client-1.key')}", serverSpiffeId: "spiffe://example.org/connect" } }, pollInterval: 200ms }`
      : `{ type: connect, transport: postgres, postgres: { connectionString: "${databaseUrl}", pageSize: 1000 }, pollInterval: 200ms }`;
  writeFileSync(
    join(dir, 'config.yaml'),
    `sources: { connect: ${source} }
sinks: { archive: { type: file, path: out/events.jsonl, mapping: splunk-hec, fsync: false } }
routes: { r1: { from: connect, to: [archive], batch: { maxEvents: 1000, maxAge: 100ms }, maxInFlight: 4 } }
checkpoints: { directory: state/checkpoints }
deadLetter: { directory: state/dead-letter }
logging: { level: info }
`,
  );
  return dir;
}

/** The event ids delivered so far: the output is read incrementally, ids marked in a bitmap. */
class Delivered {
  readonly seen = new Uint8Array(EVENTS);
  unique = 0;
  private offset = 0;
  private readonly file: string;
  private readonly marker = Buffer.from('"event_id":"ae');
  constructor(dir: string) {
    this.file = join(dir, 'out/events.jsonl');
  }
  poll(): number {
    if (!existsSync(this.file)) return this.unique;
    const fd = openSync(this.file, 'r');
    try {
      const buf = Buffer.allocUnsafe(8 << 20);
      for (;;) {
        const n = readSync(fd, buf, 0, buf.length, this.offset);
        // Whole lines only: after a SIGKILL the sink cuts a torn last line off before appending again.
        const end = buf.subarray(0, n).lastIndexOf(10) + 1;
        if (end === 0) break;
        this.offset += end;
        for (let at = 0; at < end; ) {
          const nl = buf.indexOf(10, at);
          const m = buf.indexOf(this.marker, at);
          if (m !== -1 && m < nl) {
            const i = Number(buf.toString('latin1', m + this.marker.length, m + this.marker.length + 24));
            if (this.seen[i] === 0) this.unique++;
            this.seen[i] = 1;
          }
          at = nl + 1;
        }
      }
    } finally {
      closeSync(fd);
    }
    return this.unique;
  }
}

function start(dir: string): ChildProcess & { exited: Promise<void>; forwarding: () => boolean; stderrTail: () => string } {
  const child = spawn(NODE, [CLI, 'run', '-c', join(dir, 'config.yaml')], { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  children.add(child);
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  // The kill clock starts once the routes are running (start-up takes longer on a loaded machine).
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  return Object.assign(child, { exited, forwarding: () => err.includes('"msg":"forwarding"'), stderrTail: () => err.slice(-2000) });
}

const pause = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

describe('a first start on a large Connect store, killed again and again', () => {
  it.each(['postgres', 'api'] as const)('over %s: SIGKILL every 2–4 s, restart: it finishes, every event delivered', async (transport) => {
    const dir = setup(transport);
    const delivered = new Delivered(dir);
    let kills = 0;
    let stalled = 0;
    const started = Date.now();
    // Killed until done; a kill after a stretch with no progress at all three times in a row fails the test.
    while (delivered.poll() < EVENTS) {
      const before = delivered.unique;
      const child = start(dir);
      const spawned = Date.now();
      while (!child.forwarding() && child.exitCode === null && Date.now() < spawned + 60_000) await pause(20);
      const deadline = Date.now() + 2_000 + ((kills * 7919) % 2_000);
      while (Date.now() < deadline && delivered.poll() < EVENTS) await pause(50);
      child.kill('SIGKILL');
      await child.exited;
      kills++;
      stalled = delivered.poll() > before ? 0 : stalled + 1;
      expect(stalled, `no progress over three runs (${delivered.unique} of ${EVENTS} after ${kills} kills); the last run's log ends:\n${child.stderrTail()}`).toBeLessThan(3);
    }
    expect(delivered.unique).toBe(EVENTS);
    expect(delivered.seen.every((v) => v === 1)).toBe(true);
    console.info(`connect first start (${transport}): ${EVENTS} events delivered in ${((Date.now() - started) / 1000).toFixed(1)} s with ${kills} SIGKILLs`);
  }, 900_000);
});
