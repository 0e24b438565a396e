// What every benchmark shares: one route from a source to the `discard` sink, prepared as `run` would.
import { join } from 'node:path';
import { connectors } from '../connectors/index.ts';
import { mappingNames, mappings } from '../mappings/index.ts';
import { createFileCheckpointStore } from '../src/checkpoint/file-store.ts';
import { parseConfig } from '../src/config/loader.ts';
import { silentLogger } from '../src/logging.ts';
import { Runner, prepareRoute, type RunMode } from '../src/pipeline/runner.ts';

/**
 * A runner for route `bench`: `source` (YAML flow mapping) → canonical → discard, batches of 1000 / 4 MiB,
 * 4 in flight, state under `dir`.
 */
export async function benchRunner(dir: string, source: string, mode: RunMode = { kind: 'live' }): Promise<Runner> {
  const config = parseConfig(
    `sources: { in: ${source} }
sinks: { drop: { type: discard, mapping: canonical } }
routes: { bench: { from: in, to: [drop], batch: { maxEvents: 1000, maxBytes: 4MiB, maxAge: 1s }, maxInFlight: 4 } }
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
