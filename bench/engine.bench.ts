// Benchmark: the engine alone — jsonl source → canonical mapping → discard sink — on 1 million synthetic events.
import { benchRunner, machine } from './support.ts';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectEventLines } from '../test/support/generate.ts';

const EVENTS = Number(process.env.BENCH_EVENTS ?? 1_000_000);
const dir = mkdtempSync(join(tmpdir(), 'af-bench-'));
try {
  const input = join(dir, 'events.jsonl');
  for (let i = 0; i < EVENTS; i += 5_000) writeFileSync(input, connectEventLines(i, Math.min(5_000, EVENTS - i)), { flag: 'a' });
  const bytes = statSync(input).size;
  const started = process.hrtime.bigint();
  const [summary] = await (await benchRunner(dir, '{ type: jsonl, paths: [events.jsonl], format: connect }')).run();
  const secs = Number(process.hrtime.bigint() - started) / 1e9;
  const c = summary!.counters;
  if (c.delivered !== EVENTS) throw new Error(`delivered ${c.delivered} of ${EVENTS}`);
  const rssMb = process.resourceUsage().maxRSS / 1024;
  console.log(
    `engine jsonl→canonical→discard: ${EVENTS} events, ${(bytes / 1e6).toFixed(0)} MB in ${secs.toFixed(2)} s: ` +
      `${Math.round(EVENTS / secs)} events/s, ${(bytes / 1e6 / secs).toFixed(1)} MB/s, peak RSS ${rssMb.toFixed(0)} MB ` +
      `(${machine()})`,
  );
} finally {
  rmSync(dir, { recursive: true, force: true });
}
