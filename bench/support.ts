// What every benchmark shares: one route from a source to the `discard` sink, prepared as `run` would.
import { spawnSync } from 'node:child_process';
import { statSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { connectors } from '../connectors/index.ts';
import { mappingNames, mappings } from '../mappings/index.ts';
import { createFileCheckpointStore } from '../src/checkpoint/file-store.ts';
import { parseConfig } from '../src/config/loader.ts';
import { silentLogger } from '../src/logging.ts';
import { Runner, prepareRoute, type LaneSummary, type RunMode } from '../src/pipeline/runner.ts';
import { sleepUnlessAborted } from '../src/util/sleep.ts';
import { cadfLines } from '../test/support/cadf-lines.ts';

export interface BenchRouteOptions {
  /** The sink (YAML flow mapping); default the discard sink with the canonical mapping. */
  readonly sink?: string;
  /** Default 4. */
  readonly maxInFlight?: number;
}

/**
 * A runner for route `bench`: `source` (YAML flow mapping) → the sink (default canonical → discard), batches of
 * 1000 / 4 MiB, 4 in flight, state under `dir`.
 */
export async function benchRunner(dir: string, source: string, mode: RunMode = { kind: 'live' }, options: BenchRouteOptions = {}): Promise<Runner> {
  const sink = options.sink ?? '{ type: discard, mapping: canonical }';
  const config = parseConfig(
    `sources: { in: ${source} }
sinks: { out: ${sink} }
routes: { bench: { from: in, to: [out], batch: { maxEvents: 1000, maxBytes: 4MiB, maxAge: 1s }, maxInFlight: ${options.maxInFlight ?? 4} } }
checkpoints: { directory: state }
deadLetter: { directory: state }
`,
    join(dir, 'config.yaml'),
    { registry: connectors, mappingNames },
  );
  const logger = silentLogger();
  const deps = { registry: connectors, mappings, store: createFileCheckpointStore(config.checkpoints.directory), logger };
  const route = await prepareRoute(config, 'bench', { mode }, deps);
  return new Runner([route], { shutdownTimeoutMs: 10_000, logger });
}

/**
 * Runs a live route until `events` records have ended (delivered, dead-lettered or skipped), then shuts it
 * down; throws unless all were delivered. Returns the seconds from `started` and the route's summary.
 */
export async function runUntilDelivered(runner: Runner, events: number, started: bigint): Promise<{ secs: number; summary: LaneSummary }> {
  const running = runner.run();
  const lane = runner.lanes[0]!.lane;
  const never = new AbortController().signal;
  let ended = false;
  running.then(
    () => (ended = true),
    () => (ended = true),
  );
  while (lane.counters.delivered + lane.counters.dead_lettered + lane.counters.skipped < events && !ended) {
    await sleepUnlessAborted(10, never);
  }
  const secs = Number(process.hrtime.bigint() - started) / 1e9;
  runner.shutdown();
  const [summary] = await running;
  const c = summary!.counters;
  if (c.delivered !== events) throw new Error(`delivered ${c.delivered} of ${events} (${summary!.state} ${summary!.error ?? ''})`);
  return { secs, summary: summary! };
}

/** `(node v24…, 2× AMD EPYC …)`: the machine, for the printed line. */
export function machine(): string {
  return `node ${process.version}, ${cpus().length}× ${cpus()[0]?.model.trim()}`;
}

/** Appends `events` synthetic CADF lines (~490 bytes each) to `file`; returns its size in bytes. */
export function writeCadfLog(file: string, events: number): number {
  for (let i = 0; i < events; i += 5_000) writeFileSync(file, cadfLines('bench', i, Math.min(5_000, events - i)), { flag: 'a' });
  return statSync(file).size;
}

/**
 * A benchmark of several variants: without `envKey` in the environment, runs this same file once per variant in a
 * child process (so that each peak RSS is its own) and sets the exit code; with it, runs that variant here.
 */
export async function runVariants<V extends string>(file: string, envKey: string, variants: readonly V[], run: (v: V) => Promise<void>): Promise<void> {
  const chosen = process.env[envKey] as V | undefined;
  if (chosen !== undefined) return run(chosen);
  let failed = false;
  for (const v of variants) {
    const r = spawnSync(process.execPath, [file], { stdio: 'inherit', env: { ...process.env, [envKey]: v } });
    failed ||= r.status !== 0;
  }
  process.exitCode = failed ? 1 : 0;
}
