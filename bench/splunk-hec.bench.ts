// Benchmark: audit files → splunk-hec mapping → HEC on loopback (the fake HEC in its own process), 1 million events,
// with and without gzip and indexer acknowledgement.
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { benchRunner, machine, runUntilDelivered, runVariants, writeCadfLog } from './support.ts';

const EVENTS = Number(process.env.BENCH_EVENTS ?? 1_000_000);
const VARIANTS = ['ack', 'ack+gzip', 'no-ack', 'no-ack+gzip'] as const;
type Variant = (typeof VARIANTS)[number];


async function runVariant(v: Variant): Promise<void> {
  const server = spawn(process.execPath, [join(import.meta.dirname, 'hec-server.ts')], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = createInterface({ input: server.stdout! })[Symbol.asyncIterator]();
  const next = async () => String((await lines.next()).value);
  const dir = mkdtempSync(join(tmpdir(), 'af-bench-hec-'));
  try {
    const url = await next();
    mkdirSync(join(dir, 'logs'));
    const bytes = writeCadfLog(join(dir, 'logs/auth-idp-audit.log'), EVENTS);
    const ack = v.startsWith('ack');
    const gzip = v.endsWith('gzip');
    const sink = `{ type: splunk-hec, url: "${url}", token: ${ack ? 'bench-ack' : 'bench-no-ack'}, gzip: ${gzip}, concurrency: 8, ack: { pollInterval: 50ms } }`;
    const started = process.hrtime.bigint();
    const runner = await benchRunner(dir, '{ type: audit-files, paths: [logs/*-audit.log], pollInterval: 50ms }', { kind: 'live' }, { sink, maxInFlight: 8 });
    const { secs } = await runUntilDelivered(runner, EVENTS, started);
    server.stdin!.write('count\n');
    const indexed = Number(await next());
    if (indexed < EVENTS) throw new Error(`HEC indexed ${indexed} of ${EVENTS}`);
    const rssMb = process.resourceUsage().maxRSS / 1024;
    console.log(
      `audit-files→splunk-hec (${v}): ${EVENTS} lines, ${(bytes / 1e6).toFixed(0)} MB in ${secs.toFixed(2)} s: ` +
        `${Math.round(EVENTS / secs)} events/s, ${(bytes / 1e6 / secs).toFixed(1)} MB/s, peak RSS ${rssMb.toFixed(0)} MB ` +
        `(forwarder process; HEC on loopback in another process; batches of 1000, 8 in flight; ${machine()})`,
    );
  } finally {
    server.kill();
    rmSync(dir, { recursive: true, force: true });
  }
}

await runVariants(import.meta.filename, 'HEC_BENCH_VARIANT', VARIANTS, runVariant);
