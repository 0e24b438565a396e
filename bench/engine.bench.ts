// Benchmark: the engine alone — jsonl source → canonical mapping → discard sink — on 1 million synthetic events.
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfig } from '../src/config/loader.ts';
import { connectors } from '../connectors/index.ts';
import { mappingNames, mappings } from '../mappings/index.ts';
import { createFileCheckpointStore } from '../src/checkpoint/file-store.ts';
import { silentLogger } from '../src/logging.ts';
import { Runner, prepareRoute } from '../src/pipeline/runner.ts';
import { connectEventLines } from '../test/support/generate.ts';

const EVENTS = Number(process.env.BENCH_EVENTS ?? 1_000_000);
const dir = mkdtempSync(join(tmpdir(), 'af-bench-'));
try {
  const input = join(dir, 'events.jsonl');
  for (let i = 0; i < EVENTS; i += 5_000) writeFileSync(input, connectEventLines(i, Math.min(5_000, EVENTS - i)), { flag: 'a' });
  const bytes = statSync(input).size;
  const config = await parseConfig(
    `sources: { in: { type: jsonl, paths: [events.jsonl], format: connect } }
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
  const started = process.hrtime.bigint();
  const route = await prepareRoute(config, 'bench', { mode: { kind: 'live' } }, deps);
  const [summary] = await new Runner([route], { shutdownTimeoutMs: 10_000, logger }).run();
  const secs = Number(process.hrtime.bigint() - started) / 1e9;
  const c = summary!.counters;
  if (c.delivered !== EVENTS) throw new Error(`delivered ${c.delivered} of ${EVENTS}`);
  const rssMb = process.resourceUsage().maxRSS / 1024;
  console.log(
    `engine jsonl→canonical→discard: ${EVENTS} events, ${(bytes / 1e6).toFixed(0)} MB in ${secs.toFixed(2)} s: ` +
      `${Math.round(EVENTS / secs)} events/s, ${(bytes / 1e6 / secs).toFixed(1)} MB/s, peak RSS ${rssMb.toFixed(0)} MB ` +
      `(node ${process.version}, ${cpus().length}× ${cpus()[0]?.model.trim()})`,
  );
} finally {
  rmSync(dir, { recursive: true, force: true });
}
