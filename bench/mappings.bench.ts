// Benchmark: each registered mapping on 1 million events (10,000 distinct synthetic Connect events, mapped 100 times each).
import { machine } from './support.ts';
import { mappings } from '../mappings/index.ts';
import type { AuditEvent } from '../src/model/audit-event.ts';
import { decodeRecord } from '../src/model/decode.ts';
import { toJsonLine } from '../src/model/json.ts';
import { connectEventJson } from '../test/support/generate.ts';

const TOTAL = Number(process.env.BENCH_EVENTS ?? 1_000_000);
const DISTINCT = 10_000;
const events: AuditEvent[] = [];
for (let i = 0; i < DISTINCT; i++) {
  const d = decodeRecord(connectEventJson(i), 'connect');
  if (!d.ok) throw new Error(`synthetic event ${i} does not decode`);
  events.push(d.event);
}
const options = { observedTime: '2026-11-21T00:00:00.000000Z' };
for (const mapping of mappings.values()) {
  let bytes = 0;
  const started = process.hrtime.bigint();
  for (let n = 0; n < TOTAL; n++) {
    const r = mapping.map(events[n % DISTINCT]!, options);
    if (r.kind !== 'mapped') throw new Error(`${mapping.name}: ${r.kind}`);
    const text = mapping.encoding === 'json' ? toJsonLine(r.value) : (r.value as string);
    bytes += Buffer.byteLength(text);
  }
  const secs = Number(process.hrtime.bigint() - started) / 1e9;
  console.log(
    `mapping ${mapping.name.padEnd(10)} ${TOTAL} events in ${secs.toFixed(2)} s: ${Math.round(TOTAL / secs)} events/s, ` +
      `${(bytes / 1e6 / secs).toFixed(1)} MB/s out (${Math.round(bytes / TOTAL)} B/record), peak RSS ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MB ` +
      `(${machine()})`,
  );
}
