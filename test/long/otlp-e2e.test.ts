// End to end: 100 000 Connect events through the CLI into the fake OTLP receiver over gRPC, during 503 storms, partial successes, a receiver restart and a SIGKILL: every event arrives or is in the dead-letter file.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cleanUp, committedLine, exited, jsonlRouteDir, newScene, startRun, until } from '../support/cli-child.ts';
import { startFakeOtlp, type FakeOtlp } from '../support/fake-otlp.ts';
import { connectEventJson } from '../support/generate.ts';

const TOTAL = 100_000;
const BATCH = 500;

const scene = newScene();
const fakes: FakeOtlp[] = [];
afterAll(async () => {
  cleanUp(scene);
  for (const f of fakes) await f.close();
});

const setup = (url: string) =>
  jsonlRouteDir(scene, 'af-otlp-', {
    events: TOTAL,
    sink: { name: 'collector', yaml: `type: otlp\nprotocol: grpc\nurl: ${url}\nhttp: { timeout: 5s }` },
    route: 'export-to-collector',
    batch: `{ maxEvents: ${BATCH}, maxBytes: 4MiB, maxAge: 50ms }`,
    maxInFlight: 4,
    maxRetryDelay: '300ms',
    routeYaml: 'mappingOptions: { deploymentEnvironment: e2e }',
  });

const start = (dir: string) => startRun(dir, { track: scene.children });
const committedLines = (dir: string) => committedLine(dir, 'export-to-collector', 'collector');

/** Event ids in the route's dead-letter file. */
function deadLettered(dir: string): string[] {
  const file = join(dir, 'state/dead-letter/export-to-collector.dlq.jsonl');
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as { eventId?: string; reason?: string })
    .filter((e) => e.eventId !== undefined)
    .map((e) => e.eventId!);
}

describe('run: jsonl → otlp over gRPC (child process)', () => {
  it('503 storms, partial successes, a receiver restart and a SIGKILL: every event arrives at least once or is dead-lettered with the receiver’s message', { timeout: 300_000 }, async () => {
    const fake = await startFakeOtlp();
    fakes.push(fake);
    const dir = setup(fake.grpcUrl);
    const ids = Array.from({ length: TOTAL }, (_, i) => connectEventJson(i).id as string);
    const held = () => new Set(fake.records().map((r) => r.uid)).size;

    // A 503 storm first, then two requests refused in part: the receiver keeps BATCH − 7 of each, and says only
    // how many it refused. (Scripted before the start, so that they meet the first requests whatever the speed.)
    fake.failNext(20, { status: 503, retryAfterSec: 0 });
    fake.partialNext(2, 7, 'log records too old');
    let child = start(dir);
    // The two partially refused requests, as the receiver saw them (a batch may be cut short of BATCH by maxAge).
    const partials = () => fake.requests().filter((r) => r.status === 200 || r.status === 'OK').filter((r) => r.accepted < r.records);
    await until(() => partials().length === 2 && deadLettered(dir).length >= partials().reduce((n, r) => n + r.records, 0), 'the two partial batches in the dead-letter file');
    await until(() => held() >= 30_000, '30,000 records');
    await fake.restart(300);
    await until(() => held() >= 55_000, '55,000 records');
    child.kill('SIGKILL');
    await exited(child);
    child = start(dir);
    await until(() => held() >= 75_000, '75,000 records');
    fake.failNext(10, { status: 429, retryAfterSec: 0 });
    expect(await exited(child), child.stderrText()).toBe(0);

    expect(committedLines(dir)).toBe(TOTAL);
    const dead = deadLettered(dir);
    // Exactly the records of the two partially refused requests, each once, whatever the receiver kept of them.
    const refusedRequests = partials();
    expect(refusedRequests.map((r) => r.records - r.accepted)).toEqual([7, 7]);
    const expectedDead = refusedRequests.reduce((n, r) => n + r.records, 0);
    expect(dead).toHaveLength(expectedDead);
    expect(new Set(dead).size).toBe(expectedDead);
    const reasons = readFileSync(join(dir, 'state/dead-letter/export-to-collector.dlq.jsonl'), 'utf8');
    expect(reasons).toMatch(/refused 7 of \d+ records without saying which.*log records too old/);
    const received = new Set(fake.records().map((r) => r.uid));
    const missing = ids.filter((id) => !received.has(id) && !dead.includes(id));
    expect(missing).toEqual([]);
    // Every record carries its resource and event name as mapped.
    const sample = fake.records()[0]!;
    expect(sample.resource).toMatchObject({ 'deployment.environment.name': 'e2e' });
    expect(sample.eventName).toMatch(/^cofide\.connect\.audit\./);
    expect(fake.requests().some((r) => r.status === 'UNAVAILABLE')).toBe(true);
  });
});
