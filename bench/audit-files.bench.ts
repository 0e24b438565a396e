// Benchmark: tailing CADF audit files — audit-files source → canonical mapping → discard sink — on 1 million ~450-byte lines.
import { benchRunner } from './support.ts';
import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { sleepUnlessAborted } from '../src/util/sleep.ts';
import { cadfLines } from '../test/support/cadf-lines.ts';

const EVENTS = Number(process.env.BENCH_EVENTS ?? 1_000_000);

const dir = mkdtempSync(join(tmpdir(), 'af-bench-audit-'));
try {
  mkdirSync(join(dir, 'logs'));
  const input = join(dir, 'logs/auth-idp-audit.log');
  for (let i = 0; i < EVENTS; i += 5_000) writeFileSync(input, cadfLines('bench', i, Math.min(5_000, EVENTS - i)), { flag: 'a' });
  const bytes = statSync(input).size;
  const started = process.hrtime.bigint();
  const runner = await benchRunner(dir, '{ type: audit-files, paths: [logs/*-audit.log], pollInterval: 50ms }');
  const running = runner.run();
  // Live mode never ends by itself: stop once every line is delivered.
  const lane = runner.lanes[0]!.lane;
  const never = new AbortController().signal;
  let failed: unknown;
  running.catch((e: unknown) => (failed = e));
  while (lane.counters.delivered + lane.counters.dead_lettered + lane.counters.skipped < EVENTS && failed === undefined) {
    await sleepUnlessAborted(10, never);
  }
  const secs = Number(process.hrtime.bigint() - started) / 1e9;
  runner.shutdown();
  const [summary] = await running;
  const c = summary!.counters;
  if (c.delivered !== EVENTS) throw new Error(`delivered ${c.delivered} of ${EVENTS} (${summary!.state} ${summary!.error ?? ''})`);
  const rssMb = process.resourceUsage().maxRSS / 1024;
  console.log(
    `audit-files tail→canonical→discard: ${EVENTS} lines, ${(bytes / 1e6).toFixed(0)} MB in ${secs.toFixed(2)} s: ` +
      `${Math.round(EVENTS / secs)} events/s, ${(bytes / 1e6 / secs).toFixed(1)} MB/s, peak RSS ${rssMb.toFixed(0)} MB ` +
      `(node ${process.version}, ${cpus().length}× ${cpus()[0]?.model.trim()}; source stats ${JSON.stringify(summary!.sourceStats ?? {})})`,
  );
} finally {
  rmSync(dir, { recursive: true, force: true });
}
