// End to end: 100 000 Connect events through the CLI into the fake Elasticsearch during 429 storms, a restart and a SIGKILL: each event in the index exactly once.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { cleanUp, committedLine, exited, jsonlRouteDir, newScene, startRun, until } from '../support/cli-child.ts';
import { afterAll, describe, expect, it } from 'vitest';
import { startFakeElasticsearch, type FakeElasticsearch } from '../support/fake-elasticsearch.ts';
import { connectEventJson } from '../support/generate.ts';
import { cli } from '../cli/cli-helpers.ts';

const TOTAL = 100_000;
const API_KEY = Buffer.from('superkey:superkey-secret').toString('base64');

const scene = newScene();
const fakes: FakeElasticsearch[] = [];
afterAll(async () => {
  cleanUp(scene);
  for (const f of fakes) await f.close();
});

const setup = (url: string) =>
  jsonlRouteDir(scene, 'af-es-', {
    events: TOTAL,
    sink: { name: 'elastic', yaml: `type: elasticsearch
url: ${url}
auth: { apiKey: "\${ES_API_KEY}" }
namespace: e2e` },
    route: 'export-to-elastic',
    batch: '{ maxEvents: 1000, maxBytes: 2MiB, maxAge: 50ms }',
    maxInFlight: 4,
    maxRetryDelay: '500ms',
  });

const start = (dir: string) => startRun(dir, { env: { ES_API_KEY: API_KEY }, track: scene.children });
const committedLines = (dir: string) => committedLine(dir, 'export-to-elastic', 'elastic');

describe('run: jsonl → elasticsearch (child process)', () => {
  it('429 storms (whole requests and items), a cluster restart and a SIGKILL: every event in the index exactly once; setup and check through the CLI', { timeout: 300_000 }, async () => {
    const fake = await startFakeElasticsearch();
    fakes.push(fake);
    const dir = setup(fake.url);
    const env = { ES_API_KEY: API_KEY };
    const config = join(dir, 'config.yaml');

    const setupRun = await cli(['setup', 'elasticsearch', '-c', config], { env });
    expect(setupRun.code, setupRun.stderr + setupRun.stdout).toBe(0);
    expect(setupRun.stdout).toContain('index template audit-forwarder-elastic');
    const checkRun = await cli(['check', '-c', config], { env });
    expect(checkRun.code, checkRun.stdout).toBe(0);
    expect(checkRun.stdout).toMatch(/^sink elastic \(elasticsearch\): ok: reachable: elasticsearch 8\.17\.0.*index template audit-forwarder-elastic installed; delivered means acknowledged/m);

    const ids = Array.from({ length: TOTAL }, (_, i) => connectEventJson(i).id as string);
    const held = () => fake.documentIds('logs-cofide.audit-e2e').length;
    let child = start(dir);
    await until(() => held() >= 15_000);
    fake.failNext(30, 429, undefined, { retryAfterSec: 0 });
    await until(() => held() >= 30_000);
    fake.rejectItems(2_000, 429);
    await until(() => held() >= 45_000);
    await fake.restart(300);
    await until(() => held() >= 60_000);
    // A crash: batches in flight and delivered since the last checkpoint are sent again by the next run.
    child.kill('SIGKILL');
    await exited(child);
    child = start(dir);
    await until(() => held() >= 80_000);
    fake.rejectItems(500, 503);
    expect(await exited(child), child.stderrText()).toBe(0);

    expect(committedLines(dir)).toBe(TOTAL);
    const documentIds = fake.documentIds('logs-cofide.audit-e2e');
    // Exactly once in the index: a resent document answered 409 and was counted delivered.
    expect(documentIds.length).toBe(TOTAL);
    expect(new Set(documentIds)).toEqual(new Set(ids));
    const bulks = fake.requests().filter((r) => r.path === '/_bulk');
    expect(bulks.filter((r) => r.status === 429).length).toBe(30);
    expect(bulks.some((r) => r.failedItems > 0)).toBe(true);
    // Resends really happened (documents sent more often than they are held, besides the scripted 429s and 503s),
    // and were refused by _id rather than stored twice.
    const sent = bulks.filter((r) => r.status === 200).reduce((n, r) => n + r.items, 0);
    expect(sent - 2_500).toBeGreaterThan(TOTAL);
    expect(existsSync(join(dir, 'state/dead-letter/export-to-elastic.dlq.jsonl'))).toBe(false);
  });
});
