// End to end: the CLI as a child process reading Cofide Connect through the API (gRPC, SPIFFE mTLS) into a file; stopped, restarted, then a replay of a sub-range.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatEpochMicros } from '../../src/model/time.ts';
import { startConnectServer, tlsFixture, type ConnectTestServer } from '../support/connect-server.ts';
import { connectEventJson } from '../support/generate.ts';
import { startPostgres, type TestPostgres } from '../support/postgres.ts';

const ROOT = resolve(import.meta.dirname, '../..');
const NODE = join(ROOT, 'node_modules/.bin/node');
const CLI = join(ROOT, 'src/cli/main.ts');
const ROUTE = 'connect-to-archive';

/** Events already in the store when the forwarder first starts (March 2026, long settled). */
const HISTORY = 10_000;
/** Events recorded while the forwarder is stopped (now). */
const RECENT = 500;

type Event = Record<string, unknown> & { id: string; occurredAt: string };

let postgres: TestPostgres;
let server: ConnectTestServer;
let dir: string;
const children: Child[] = [];

function writeConfig(): void {
  writeFileSync(
    join(dir, 'config.yaml'),
    `sources:
  connect:
    type: connect
    transport: api
    api:
      url: ${server.url}
      pageSize: 1000
      tls:
        caFile: ${tlsFixture('ca.pem')}
        certFile: ${tlsFixture('client-1.pem')}
        keyFile: ${tlsFixture('client-1.key')}
        serverSpiffeId: spiffe://example.org/connect
    pollInterval: 100ms
    settleDelay: 200ms
    lookback: 5m
    replayChunk: 1h
sinks:
  archive: { type: file, path: out/events.jsonl, mapping: canonical }
routes:
  ${ROUTE}:
    from: connect
    to: [archive]
    batch: { maxEvents: 500, maxBytes: 1MiB, maxAge: 100ms }
    maxInFlight: 2
checkpoints: { directory: state/checkpoints }
deadLetter: { directory: state/dead-letter }
shutdownTimeout: 10s
logging: { level: info }
`,
  );
}

type Child = ChildProcess & { stderrText: () => string; exited: Promise<number | null> };

function cli(...args: string[]): Child {
  const child = spawn(NODE, [CLI, ...args, '-c', join(dir, 'config.yaml')], { stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  child.stdout!.resume();
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  const handle = Object.assign(child, { stderrText: () => err, exited });
  children.push(handle);
  return handle;
}

/** Lines in the output file so far (cheap: no parsing). */
function outputLines(): number {
  const file = join(dir, 'out/events.jsonl');
  if (!existsSync(file)) return 0;
  const text = readFileSync(file);
  let n = 0;
  for (let i = text.indexOf(10); i !== -1; i = text.indexOf(10, i + 1)) n++;
  return n;
}

function outputIds(): string[] {
  const file = join(dir, 'out/events.jsonl');
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => (JSON.parse(l) as { id: string }).id);
}

async function waitFor(what: string, cond: () => boolean, child: Child, ms = 30_000): Promise<void> {
  const until = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}; stderr: ${child.stderrText()}`);
    if (child.exitCode !== null) throw new Error(`the forwarder exited (${child.exitCode}) before ${what}; stderr: ${child.stderrText()}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const history: Event[] = Array.from({ length: HISTORY }, (_, i) => connectEventJson(i) as Event);

beforeAll(async () => {
  postgres = await startPostgres();
  const databaseUrl = await postgres.createDatabase('connect_e2e');
  server = await startConnectServer({ databaseUrl, tls: { clientAuth: 'require' } });
  await server.insertEvents(history);
  dir = mkdtempSync(join(tmpdir(), 'af-e2e-connect-'));
  writeConfig();
});

afterAll(async () => {
  // A failed assertion may leave a forwarder running.
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  await server?.close();
  await postgres?.stop();
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
});

describe('audit-forwarder with a connect source (child process)', () => {
  it('run, SIGTERM mid-window, new events, restart: every event exactly once; then replay of a sub-range, reported per chunk', async () => {
    const first = cli('run');
    await waitFor('the first events', () => outputLines() >= 1_000, first);
    first.kill('SIGTERM');
    expect(await first.exited).toBe(0);
    const afterFirst = outputIds();
    expect(afterFirst.length).toBeLessThan(HISTORY);
    expect(afterFirst).toEqual(history.slice(0, afterFirst.length).map((e) => e.id));

    // Recorded while the forwarder is down, a microsecond apart, at the current time.
    const nowMicros = BigInt(Date.now()) * 1000n;
    const recent: Event[] = Array.from({ length: RECENT }, (_, k) => ({
      ...connectEventJson(HISTORY + k),
      id: `ae-recent-${String(k).padStart(4, '0')}`,
      occurredAt: formatEpochMicros(nowMicros + BigInt(k)),
    })) as Event[];
    await server.insertEvents(recent);

    const second = cli('run');
    await waitFor('every event', () => outputLines() >= HISTORY + RECENT, second);
    second.kill('SIGTERM');
    expect(await second.exited).toBe(0);
    expect(second.stderrText()).toContain('"msg":"run ended: stopped"');
    const live = outputIds();
    expect(live).toEqual([...history, ...recent].map((e) => e.id));

    // A replay of [00:30, 02:45) in chunks of an hour writes that range again, and says what each chunk did.
    const range = { from: '2026-03-01T00:30:00.000000Z', to: '2026-03-01T02:45:00.000000Z' };
    const inRange = history.filter((e) => e.occurredAt >= range.from && e.occurredAt < range.to);
    const chunks = [
      [range.from, '2026-03-01T01:30:00.000000Z'],
      ['2026-03-01T01:30:00.000000Z', '2026-03-01T02:30:00.000000Z'],
      ['2026-03-01T02:30:00.000000Z', range.to],
    ] as const;
    const replay = cli('replay', '--route', ROUTE, '--from', '2026-03-01T00:30:00Z', '--to', '2026-03-01T02:45:00Z');
    expect(await replay.exited, replay.stderrText()).toBe(0);
    expect(outputIds().slice(live.length)).toEqual(inRange.map((e) => e.id));
    const report = replay.stderrText();
    expect(report).toContain(`replay of ${ROUTE} [${range.from}, ${range.to}) ended`);
    for (const [from, to] of chunks) {
      const n = inRange.filter((e) => e.occurredAt >= from && e.occurredAt < to).length;
      expect(n).toBeGreaterThan(0);
      expect(report).toContain(`\n    ${from} – ${to}: read ${n}, committed ${n}\n`);
    }

    // The same replay again: it resumes from its checkpoint at the end, so it reads and writes nothing.
    const again = cli('replay', '--route', ROUTE, '--from', '2026-03-01T00:30:00Z', '--to', '2026-03-01T02:45:00Z');
    expect(await again.exited, again.stderrText()).toBe(0);
    expect(outputIds().length).toBe(live.length + inRange.length);
    expect(again.stderrText()).toMatch(new RegExp(`\\n {4}${range.from} – ${range.to} \\(\\d chunks\\): read 0, committed ${inRange.length}\\n`));
  });
});
