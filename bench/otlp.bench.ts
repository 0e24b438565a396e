// Benchmark: audit files → otlp-json mapping → otlp sink → a null OTLP receiver on loopback (its own process), 1 million events per protocol.
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { benchRunner, machine, runUntilDelivered, runVariants, writeCadfLog } from './support.ts';

const EVENTS = Number(process.env.BENCH_EVENTS ?? 1_000_000);
const VARIANTS = ['http/protobuf', 'http/protobuf+gzip', 'http/json', 'grpc'] as const;
type Variant = (typeof VARIANTS)[number];

async function runVariant(v: Variant): Promise<void> {
  const server = spawn(process.execPath, [join(import.meta.dirname, 'otlp-null-server.ts')], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = createInterface({ input: server.stdout! })[Symbol.asyncIterator]();
  const next = async () => String((await lines.next()).value);
  const dir = mkdtempSync(join(tmpdir(), 'af-bench-otlp-'));
  try {
    const httpUrl = await next();
    const grpcUrl = await next();
    mkdirSync(join(dir, 'logs'));
    const bytes = writeCadfLog(join(dir, 'logs/auth-idp-audit.log'), EVENTS);
    const protocol = v.replace('+gzip', '');
    const sink = `{ type: otlp, protocol: ${protocol}, url: "${protocol === 'grpc' ? grpcUrl : httpUrl}", http: { gzip: ${v.endsWith('+gzip')}, concurrency: 8 } }`;
    const started = process.hrtime.bigint();
    const runner = await benchRunner(dir, '{ type: audit-files, paths: [logs/*-audit.log], pollInterval: 50ms }', { kind: 'live' }, { sink, maxInFlight: 8 });
    const { secs } = await runUntilDelivered(runner, EVENTS, started);
    server.stdin!.write('count\n');
    const received = Number(await next());
    if (received < EVENTS) throw new Error(`the receiver got ${received} of ${EVENTS} records`);
    const usage = process.resourceUsage();
    const cpuSecs = (usage.userCPUTime + usage.systemCPUTime) / 1e6;
    console.log(
      `audit-files→otlp-json→otlp (${v}): ${EVENTS} lines, ${(bytes / 1e6).toFixed(0)} MB in ${secs.toFixed(2)} s: ` +
        `${Math.round(EVENTS / secs)} events/s, ${Math.round(EVENTS / cpuSecs)} events/CPU-s, ${(bytes / 1e6 / secs).toFixed(1)} MB/s, peak RSS ${(usage.maxRSS / 1024).toFixed(0)} MB ` +
        `(forwarder process; a null OTLP receiver decoding every request on loopback in another process; batches of 1000, 8 in flight; ${machine()})`,
    );
  } finally {
    server.kill();
    rmSync(dir, { recursive: true, force: true });
  }
}

await runVariants(import.meta.filename, 'OTLP_BENCH_VARIANT', VARIANTS, runVariant);
