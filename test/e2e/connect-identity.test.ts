// End to end: a connect route's checkpoint belongs to the store, not the road to it (URL, transport), an earlier release's checkpoint is accepted, `checkpoint set` and `startAt` choose where reading starts.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFileCheckpointStore, fingerprintOf } from '../../src/checkpoint/file-store.ts';
import { formatEpochMicros } from '../../src/model/time.ts';
import { CLI, NODE, cli } from '../cli/cli-helpers.ts';
import { startConnectServer, tlsFixture, type ConnectTestServer } from '../support/connect-server.ts';
import { connectEventJson } from '../support/generate.ts';
import { startPostgres, type TestPostgres } from '../support/postgres.ts';

const ROUTE = 'connect-to-archive';
/** Events in the store before anything runs (March 2026, long settled). */
const HISTORY = 40;

type Event = Record<string, unknown> & { id: string; occurredAt: string };
type Daemon = ChildProcess & { stderrText: () => string; exited: Promise<number | null> };

let postgres: TestPostgres;
let databaseUrl: string;
let server: ConnectTestServer;
const dirs: string[] = [];
const daemons: Daemon[] = [];
/** Every event in the store, in (occurred_at, id) order. */
const stored: Event[] = [];
let recentBatches = 0;

const history: Event[] = Array.from({ length: HISTORY }, (_, i) => connectEventJson(i) as Event);

async function insert(events: readonly Event[]): Promise<void> {
  await server.insertEvents(events);
  stored.push(...events);
  stored.sort((a, b) => (a.occurredAt < b.occurredAt ? -1 : a.occurredAt > b.occurredAt ? 1 : a.id < b.id ? -1 : 1));
}

/** `count` events at `atMs` (default now), a microsecond apart, with ids naming their batch. */
async function insertRecent(count: number, atMs = Date.now()): Promise<Event[]> {
  const batch = recentBatches++;
  const base = BigInt(atMs) * 1000n;
  const events = Array.from({ length: count }, (_, k) => ({
    ...connectEventJson(HISTORY + batch * 100 + k),
    id: `ae-recent-${batch}-${k}`,
    occurredAt: formatEpochMicros(base + BigInt(k)),
  })) as Event[];
  await insert(events);
  return events;
}

interface SourceSettings {
  readonly host?: string;
  readonly transport?: 'api' | 'postgres';
  readonly store?: string;
  readonly startAt?: string;
}

/** A fresh directory with `config.yaml`: the connect source as `settings` say, into a file. */
function newDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'af-e2e-identity-'));
  dirs.push(dir);
  return dir;
}

function writeConfig(dir: string, settings: SourceSettings = {}): string {
  const file = join(dir, 'config.yaml');
  writeFileSync(
    file,
    `sources:
  connect:
    type: connect
    transport: ${settings.transport ?? 'api'}
${settings.store === undefined ? '' : `    store: ${settings.store}\n`}${settings.startAt === undefined ? '' : `    startAt: "${settings.startAt}"\n`}    api:
      url: https://${settings.host ?? '127.0.0.1'}:${server.port}
      tls:
        caFile: ${tlsFixture('ca.pem')}
        certFile: ${tlsFixture('client-1.pem')}
        keyFile: ${tlsFixture('client-1.key')}
        serverSpiffeId: spiffe://example.org/connect
    postgres:
      connectionString: "\${CONNECT_DATABASE_URL}"
    pollInterval: 100ms
    settleDelay: 200ms
    lookback: 5m
sinks:
  archive: { type: file, path: out/events.jsonl, mapping: canonical }
routes:
  ${ROUTE}:
    from: connect
    to: [archive]
    batch: { maxEvents: 100, maxAge: 50ms }
checkpoints: { directory: state/checkpoints }
deadLetter: { directory: state/dead-letter }
shutdownTimeout: 10s
logging: { level: warn }
`,
  );
  return file;
}

const env = () => ({ CONNECT_DATABASE_URL: databaseUrl });

/** `audit-forwarder run` as a daemon, on the configuration in `dir`. */
function startRun(dir: string): Daemon {
  const child = spawn(NODE, [CLI, 'run', '-c', join(dir, 'config.yaml')], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env() } });
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  child.stdout!.resume();
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  const daemon = Object.assign(child, { stderrText: () => err, exited });
  daemons.push(daemon);
  return daemon;
}

async function stop(daemon: Daemon): Promise<void> {
  daemon.kill('SIGTERM');
  expect(await daemon.exited, daemon.stderrText()).toBe(0);
}

function outputIds(dir: string): string[] {
  const file = join(dir, 'out/events.jsonl');
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => (JSON.parse(l) as { id: string }).id);
}

async function waitFor(what: string, cond: () => boolean, daemon: Daemon, ms = 30_000): Promise<void> {
  const until = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}; stderr: ${daemon.stderrText()}`);
    if (daemon.exitCode !== null) throw new Error(`the forwarder exited (${daemon.exitCode}) before ${what}; stderr: ${daemon.stderrText()}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Runs the route until the output holds `count` events, then stops it (SIGTERM, exit 0). */
async function runUntil(dir: string, count: number): Promise<Daemon> {
  const daemon = startRun(dir);
  await waitFor(`${count} events`, () => outputIds(dir).length >= count, daemon);
  await stop(daemon);
  return daemon;
}

const ids = (events: readonly Event[]) => events.map((e) => e.id);
const checkpoints = (dir: string) => createFileCheckpointStore(join(dir, 'state/checkpoints'));
/** What `run` now expects for the default store. */
const CURRENT_FINGERPRINT = fingerprintOf({ source: { type: 'connect', store: 'connect' } });

beforeAll(async () => {
  postgres = await startPostgres();
  databaseUrl = await postgres.createDatabase('connect_identity');
  server = await startConnectServer({ databaseUrl, tls: { clientAuth: 'require' } });
  await insert(history);
});

afterAll(async () => {
  // A failed assertion may leave a forwarder running.
  for (const d of daemons) if (d.exitCode === null && d.signalCode === null) d.kill('SIGKILL');
  await server?.close();
  await postgres?.stop();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

describe('a connect route keeps its checkpoint across roads to the same store', () => {
  it('127.0.0.1 → localhost → postgres transport: resumed, nothing twice; another store: exit 4 until `checkpoint set`, which reads from that time', async () => {
    const dir = newDir();
    writeConfig(dir, { host: '127.0.0.1' });
    await runUntil(dir, stored.length);
    expect(outputIds(dir)).toEqual(ids(stored));

    // Another URL to the same server.
    const a = await insertRecent(5);
    writeConfig(dir, { host: 'localhost' });
    const callsBefore = server.calls.length;
    const second = startRun(dir);
    await waitFor('the events recorded while stopped', () => outputIds(dir).length >= stored.length, second);
    // While it runs, the route is its: `checkpoint set` is refused and names it.
    const refused = await cli(['checkpoint', 'set', '-c', join(dir, 'config.yaml'), '--route', ROUTE, '--at', '2026-03-01'], { env: env() });
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain(`pid ${second.pid}`);
    expect(refused.stderr).toContain('"audit-forwarder run"');
    await stop(second);
    const viaLocalhost = server.calls.slice(callsBefore);
    expect(viaLocalhost.length).toBeGreaterThan(0);
    expect(viaLocalhost.every((c) => c.serverName === 'localhost')).toBe(true);
    expect(outputIds(dir)).toEqual(ids(stored));
    expect(outputIds(dir).slice(-5)).toEqual(ids(a));

    // The datastore directly, instead of the API: no ListEvents call at all.
    await insertRecent(5);
    writeConfig(dir, { transport: 'postgres' });
    const callsBeforePostgres = server.calls.length;
    await runUntil(dir, stored.length);
    expect(server.calls.length).toBe(callsBeforePostgres);
    expect(outputIds(dir)).toEqual(ids(stored));

    // Another store: refused, and told how to go on.
    writeConfig(dir, { store: 'another' });
    const other = await cli(['run', '-c', join(dir, 'config.yaml')], { env: env() });
    expect(other.code).toBe(4);
    expect(other.stderr).toContain(`audit-forwarder checkpoint set --route ${ROUTE} --at <time>`);
    const delivered = outputIds(dir);
    expect(delivered).toEqual(ids(stored));

    // Everything from the 30th history event on: sent again (at least once), nothing before it.
    const at = history[30]!.occurredAt;
    const set = await cli(['checkpoint', 'set', '-c', join(dir, 'config.yaml'), '--route', ROUTE, '--at', at], { env: env() });
    expect(set.code, set.stderr).toBe(0);
    expect(set.stdout).toContain('written for another source');
    const fromAt = stored.filter((e) => e.occurredAt >= at);
    await runUntil(dir, delivered.length + fromAt.length);
    expect(outputIds(dir)).toEqual([...delivered, ...ids(fromAt)]);
  });

  it("a checkpoint of the previous release's identity (transport and URL) is accepted, and saved under the new one", async () => {
    const dir = newDir();
    writeConfig(dir);
    await runUntil(dir, stored.length);
    const store = checkpoints(dir);
    const written = (await store.inspect(`routes/${ROUTE}`))!;
    expect(written.fingerprint).toBe(CURRENT_FINGERPRINT);
    // As the previous release wrote it: the same positions, under the identity it had then.
    const legacy = fingerprintOf({ source: { type: 'connect', transport: 'api', reader: { transport: 'api', url: `https://127.0.0.1:${server.port}` } } });
    await store.save({ ...written, fingerprint: legacy });

    const delivered = outputIds(dir);
    const more = await insertRecent(3);
    await runUntil(dir, delivered.length + more.length);
    expect(outputIds(dir)).toEqual([...delivered, ...ids(more)]);
    expect((await store.inspect(`routes/${ROUTE}`))!.fingerprint).toBe(CURRENT_FINGERPRINT);
  });
});

describe('startAt: where a connect route without a checkpoint starts', () => {
  it('beginning (the default): every event of the store', async () => {
    const dir = newDir();
    writeConfig(dir);
    await runUntil(dir, stored.length);
    expect(outputIds(dir)).toEqual(ids(stored));
  });

  it('a time (with an offset): the events from that time on', async () => {
    const dir = newDir();
    // 2026-03-01T00:00:25Z: history events 25 and after.
    writeConfig(dir, { startAt: '2026-03-01T01:00:25+01:00' });
    const expected = stored.filter((e) => e.occurredAt >= '2026-03-01T00:00:25.000000Z');
    expect(expected[0]!.id).toBe(history[25]!.id);
    await runUntil(dir, expected.length);
    expect(outputIds(dir)).toEqual(ids(expected));
  });

  it('now: none of the events already stored, not even recent ones; those recorded after the start', async () => {
    const dir = newDir();
    writeConfig(dir, { startAt: 'now' });
    // A minute old: recent, but well before the start (less the settle delay).
    await insertRecent(3, Date.now() - 60_000);
    const callsBefore = server.calls.length;
    const daemon = startRun(dir);
    // The source fixes its start before its first call.
    await waitFor('the first ListEvents call', () => server.calls.length > callsBefore, daemon);
    const after = await insertRecent(4);
    await waitFor('the events recorded after the start', () => outputIds(dir).length >= after.length, daemon);
    await stop(daemon);
    expect(outputIds(dir)).toEqual(ids(after));
  });

  it('now, stopped before any event arrived: the start is kept, and what was recorded while stopped is delivered', async () => {
    const dir = newDir();
    writeConfig(dir, { startAt: 'now' });
    const callsBefore = server.calls.length;
    const first = startRun(dir);
    await waitFor('the first ListEvents call', () => server.calls.length > callsBefore, first);
    await stop(first);
    expect(outputIds(dir)).toEqual([]);
    // Recorded while the forwarder is stopped, after it first started: not before "now" of that first start.
    const whileStopped = await insertRecent(2);
    const second = startRun(dir);
    await waitFor('the events recorded while stopped', () => outputIds(dir).length >= whileStopped.length, second);
    await stop(second);
    expect(outputIds(dir)).toEqual(ids(whileStopped));
  });
});
