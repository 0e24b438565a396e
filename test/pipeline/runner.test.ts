// The runner: fan-out keeps one position per sink, checkpoints resume each lane, a refused checkpoint stops start-up.
import { mkdtempSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { connectors } from '../../connectors/index.ts';
import { mappingNames, mappings } from '../../mappings/index.ts';
import { createFileCheckpointStore } from '../../src/checkpoint/file-store.ts';
import { parseConfig } from '../../src/config/loader.ts';
import type { ConnectorRegistry, SinkConnector } from '../../src/contracts/connector.ts';
import type { SendOutcome } from '../../src/contracts/outcome.ts';
import { isForwarderError } from '../../src/contracts/errors.ts';
import { silentLogger } from '../../src/logging.ts';
import { Runner, prepareRoute } from '../../src/pipeline/runner.ts';
import { connectEventJson, connectEventLines } from '../support/generate.ts';
import { deferred, scriptedSink } from '../support/scripted-sink.ts';

function registryWith(script: (call: number) => SendOutcome | Promise<SendOutcome>): ConnectorRegistry {
  const gated: SinkConnector = {
    type: 'gated',
    schema: z.object({ type: z.literal('gated'), mapping: z.string().default('canonical') }).strict(),
    create: () => scriptedSink((_, call) => script(call)),
  };
  return { sources: connectors.sources, sinks: new Map([...connectors.sinks, ['gated', gated]]) };
}

function setup(events: number) {
  const dir = mkdtempSync(join(tmpdir(), 'af-runner-'));
  writeFileSync(join(dir, 'in.jsonl'), connectEventLines(0, events));
  const yaml = `sources: { in: { type: jsonl, paths: [in.jsonl], format: connect } }
sinks:
  fast: { type: file, path: out/fast.jsonl, mapping: canonical }
  slow: { type: gated, mapping: canonical }
routes:
  r: { from: in, to: [fast, slow], batch: { maxEvents: 10, maxBytes: 1MiB, maxAge: 1s }, maxInFlight: 2 }
checkpoints: { directory: cp }
deadLetter: { directory: dlq }
`;
  return { dir, yaml };
}

describe('Runner', () => {
  it('fan-out: a stalled sink does not hold back the other; each keeps its own position', async () => {
    const { dir, yaml } = setup(200);
    const gate = deferred<SendOutcome>();
    const registry = registryWith((call) => (call === 0 ? { status: 'delivered' } : gate.promise));
    const config = parseConfig(yaml, join(dir, 'config.yaml'), { registry, mappingNames });
    const logger = silentLogger();
    const store = createFileCheckpointStore(config.checkpoints.directory);
    const deps = { registry, mappings, store, logger };
    const route = await prepareRoute(config, 'r', { mode: { kind: 'live' } }, deps);
    const runner = new Runner([route], { shutdownTimeoutMs: 100, logger });
    const done = runner.run();

    const fastFile = join(dir, 'out/fast.jsonl');
    const lines = () => {
      try {
        return readFileSync(fastFile, 'utf8').split('\n').filter(Boolean).length;
      } catch {
        return 0;
      }
    };
    for (const end = Date.now() + 30_000; lines() < 200 && Date.now() < end; ) await new Promise((r) => setTimeout(r, 10));
    expect(lines()).toBe(200);

    runner.shutdown(); // the slow lane is abandoned after the deadline
    const summary = await done;
    const bySink = Object.fromEntries(summary.map((s) => [s.sink, s]));
    expect(bySink.fast!.counters.delivered).toBe(200);
    expect(bySink.slow!.counters.delivered).toBe(10);

    const cp = await store.load('routes/r', (await store.inspect('routes/r'))!.fingerprint);
    expect(cp!.sinks.fast!.records).toBe(200);
    expect(cp!.sinks.slow!.records).toBe(10);
    expect((cp!.sinks.slow!.position as { line: number }).line).toBe(10);

    // Restart: the fast sink has nothing left; the slow one resumes at its own position.
    const registry2 = registryWith(() => ({ status: 'delivered' }));
    const config2 = parseConfig(yaml, join(dir, 'config.yaml'), { registry: registry2, mappingNames });
    const route2 = await prepareRoute(config2, 'r', { mode: { kind: 'live' } }, { ...deps, registry: registry2 });
    const summary2 = await new Runner([route2], { shutdownTimeoutMs: 100, logger }).run();
    const bySink2 = Object.fromEntries(summary2.map((s) => [s.sink, s]));
    expect(bySink2.fast!.counters.read).toBe(0);
    expect(bySink2.slow!.counters.read).toBe(190);
    expect(bySink2.slow!.counters.delivered).toBe(190);
    expect(lines()).toBe(200);
  });

  it('refuses to start on a corrupt checkpoint, and on a checkpoint of another source', async () => {
    const { dir, yaml } = setup(5);
    const registry = registryWith(() => ({ status: 'delivered' }));
    const config = parseConfig(yaml, join(dir, 'config.yaml'), { registry, mappingNames });
    const store = createFileCheckpointStore(config.checkpoints.directory);
    const deps = { registry, mappings, store, logger: silentLogger() };
    await new Runner([await prepareRoute(config, 'r', { mode: { kind: 'live' } }, deps)], { shutdownTimeoutMs: 100, logger: deps.logger }).run();

    const changed = parseConfig(yaml.replace('format: connect', 'format: auto'), join(dir, 'config.yaml'), { registry, mappingNames });
    const e1 = await prepareRoute(changed, 'r', { mode: { kind: 'live' } }, deps).catch((e: unknown) => e);
    expect(isForwarderError(e1, 'FWD_CHECKPOINT_SOURCE_CHANGED')).toBe(true);

    const file = join(dir, 'cp/routes/r.checkpoint.json');
    const bytes = readFileSync(file);
    bytes[Math.floor(bytes.length / 2)]! ^= 0x04;
    writeFileSync(file, bytes);
    const e2 = await prepareRoute(config, 'r', { mode: { kind: 'live' } }, deps).catch((e: unknown) => e);
    expect(isForwarderError(e2, 'FWD_CHECKPOINT_CORRUPT')).toBe(true);
    expect((e2 as Error).message).toContain(file);
  });

  it('a replay keeps its own checkpoint and leaves the live one alone', async () => {
    const { dir, yaml } = setup(100);
    const registry = registryWith(() => ({ status: 'delivered' }));
    const config = parseConfig(yaml, join(dir, 'config.yaml'), { registry, mappingNames });
    const store = createFileCheckpointStore(config.checkpoints.directory);
    const deps = { registry, mappings, store, logger: silentLogger() };
    const from = connectEventJson(10).occurredAt as string;
    const to = connectEventJson(20).occurredAt as string;
    const replay = await prepareRoute(config, 'r', { mode: { kind: 'replay', range: { from, to } } }, deps);
    const summary = await new Runner([replay], { shutdownTimeoutMs: 100, logger: deps.logger }).run();
    expect(summary.map((s) => s.counters.delivered)).toEqual([10, 10]);
    expect(summary.map((s) => s.counters.skipped)).toEqual([90, 90]);
    expect(await store.list()).toEqual([replay.key]);
    expect(replay.key).toMatch(/^replays\/r\//);
  });
});
