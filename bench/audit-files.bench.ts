// Benchmark: tailing CADF audit files — audit-files source → canonical mapping → discard sink — on 1 million ~450-byte lines.
import { benchRunner, machine, runUntilDelivered, writeCadfLog } from './support.ts';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const EVENTS = Number(process.env.BENCH_EVENTS ?? 1_000_000);

const dir = mkdtempSync(join(tmpdir(), 'af-bench-audit-'));
try {
  mkdirSync(join(dir, 'logs'));
  const input = join(dir, 'logs/auth-idp-audit.log');
  const bytes = writeCadfLog(input, EVENTS);
  const started = process.hrtime.bigint();
  const runner = await benchRunner(dir, '{ type: audit-files, paths: [logs/*-audit.log], pollInterval: 50ms }');
  // Live mode never ends by itself: it is stopped once every line is delivered.
  const { secs, summary } = await runUntilDelivered(runner, EVENTS, started);
  const rssMb = process.resourceUsage().maxRSS / 1024;
  console.log(
    `audit-files tail→canonical→discard: ${EVENTS} lines, ${(bytes / 1e6).toFixed(0)} MB in ${secs.toFixed(2)} s: ` +
      `${Math.round(EVENTS / secs)} events/s, ${(bytes / 1e6 / secs).toFixed(1)} MB/s, peak RSS ${rssMb.toFixed(0)} MB ` +
      `(${machine()}; source stats ${JSON.stringify(summary.sourceStats ?? {})})`,
  );
} finally {
  rmSync(dir, { recursive: true, force: true });
}
