// Benchmark (issue 16): the forwarder as a whole process, measured from outside, against the plain-Node ceiling of
// the same file in the same sitting. N CADF records of ../shared/bench/gen-cadf.mjs (seed 42) → `audit-files` →
// a sink → a null receiver in its own process; the forwarder is `node src/cli/main.ts run -c config.yaml` (or,
// with BENCH_DIST=1, the built `bin/audit-forwarder.js`), its CPU time and peak RSS read from /proc when the
// receiver has counted N events, before SIGTERM (so that shutdown is not counted).
//
//   npm run bench -- process                                  (1,000,000 records, every variant; ~10–15 min on 2 cores)
//   BENCH_EVENTS=200000 npm run bench -- process              (a quick run)
//   BENCH_VARIANTS=hec,hec+gzip npm run bench -- process      (some variants)
//   BENCH_DIST=1 npm run bench -- process                     (the built dist/: `npm run build` first)
//   BENCH_CPU_PROF=/tmp/prof npm run bench -- process          (node --cpu-prof for each forwarder, written there on
//                                                              its exit; summarise with bench/cpu-profile-summary.ts)
//
// Variants: `hec` (splunk-hec, ack off, gzip off → ../shared/bench/hec-null.mjs), `hec no-ledger` (the same as `hec` with `ledger.enabled: false`: the cost of the
// completeness ledger, which `hec` and the others keep, as by default), `hec+gzip`, `hec heap64` (the
// same as `hec` with node --max-old-space-size=64), `hec packaged` (the same as `hec` with the V8 options the image
// and the systemd unit start node with: PACKAGED_NODE_OPTIONS), `ecs bulk` (elasticsearch, gzip off → bench/es-null-server.ts:
// hec-null's `_bulk` answers `items: []`, which the sink cannot take for N documents — it sends the batch again,
// forever), `cef syslog` (syslog over TCP, octet counting → bench/null-tcp-server.ts), `otlp` (http/protobuf →
// bench/otlp-null-server.ts). Default source and route settings (batches of 500 / 1 MiB / 1 s, 4 in flight).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  REPO_ROOT,
  forwarderArgs,
  generateSharedCadf,
  gitState,
  lineQueue,
  machine,
  pinnedNode,
  procSample,
  sharedBenchDir,
  PACKAGED_NODE_OPTIONS,
  spawnNode,
  stopChild,
  type Child,
  type ProcSample,
} from './support.ts';

const SHARED = sharedBenchDir();
if (SHARED === undefined) {
  console.log(`process benchmark skipped: ${join(REPO_ROOT, '..', 'shared', 'bench')} (gen-cadf.mjs, hec-null.mjs, ceiling.mjs) is not there`);
  process.exit(0);
}
const shared: string = SHARED;

const EVENTS = Number(process.env.BENCH_EVENTS ?? 1_000_000);
const DIST = process.env.BENCH_DIST === '1';
const TIMEOUT_S = Number(process.env.BENCH_TIMEOUT_SECONDS ?? 1800);
/** A directory for a CPU profile of each variant's forwarder (profiling slows it: its figures are not comparable). */
const CPU_PROF = process.env.BENCH_CPU_PROF;
const VARIANTS = ['hec', 'hec no-ledger', 'hec packaged', 'hec+gzip', 'hec heap64', 'ecs bulk', 'cef syslog', 'otlp'] as const;
type Variant = (typeof VARIANTS)[number];
const chosen: Variant[] =
  process.env.BENCH_VARIANTS === undefined
    ? [...VARIANTS]
    : process.env.BENCH_VARIANTS.split(',').map((v) => {
        const name = v.trim() as Variant;
        if (!VARIANTS.includes(name)) throw new Error(`BENCH_VARIANTS: unknown variant "${v}" (one of: ${VARIANTS.join(', ')})`);
        return name;
      });
if (DIST && !existsSync(join(REPO_ROOT, 'dist', 'src', 'cli', 'main.js'))) {
  console.log('process benchmark: BENCH_DIST=1 needs the built dist/: run `npm run build` first');
  process.exit(1);
}
/** hec-null's quiet time after the last event before it exits (subtracted from the wall time). */
const LINGER_MS = 250;

/** A null receiver in its own process: the sink's settings, and a wait until it has counted `n` events. */
interface Receiver {
  readonly sink: string;
  readonly name: string;
  /** Resolves with the time (process.hrtime.bigint) the n-th event was counted, at most 100 ms late. */
  countedAll(n: number): Promise<bigint>;
  stop(): Promise<void>;
}

async function hecNull(gzip: boolean, dir: string): Promise<Receiver> {
  const portFile = join(dir, 'hec-null.port');
  const child = spawnNode([join(shared, 'hec-null.mjs'), '--port-file', portFile, '--exit-after', String(EVENTS), '--linger-ms', String(LINGER_MS), '--max-seconds', String(TIMEOUT_S)]);
  const lines = lineQueue(child.process.stdout!);
  // It writes the port file just after its "listening …" line.
  let port = 0;
  for (const deadline = Date.now() + 30_000; port === 0 && Date.now() < deadline; await new Promise((r) => setTimeout(r, 20))) {
    if (existsSync(portFile)) port = Number(readFileSync(portFile, 'utf8').trim());
  }
  if (!(port > 0)) {
    await stopChild(child);
    throw new Error(`hec-null.mjs did not start: ${child.stderrTail()}`);
  }
  return {
    name: '../shared/bench/hec-null.mjs',
    sink: `{ type: splunk-hec, url: "http://127.0.0.1:${port}", token: "\${HEC_TOKEN}", ack: { mode: off }, gzip: ${gzip} }`,
    async countedAll(n) {
      // With --exit-after N it prints "events N requests R …" once N envelopes came and none for --linger-ms.
      for (;;) {
        const line = await lines.next(TIMEOUT_S * 1000);
        if (line === undefined) throw new Error(`hec-null.mjs ended without a count: ${child.stderrTail()}`);
        const m = /^events (\d+)/.exec(line);
        if (m) {
          if (Number(m[1]) < n) throw new Error(`hec-null.mjs: ${line}`);
          return process.hrtime.bigint() - BigInt(LINGER_MS) * 1_000_000n;
        }
      }
    },
    async stop() {
      await stopChild(child);
    },
  };
}

/** A receiver of bench/ that prints its address(es) and answers `count` on stdin. */
async function countingServer(file: string, sinkFor: (first: string, second: string | undefined) => string, addresses = 1): Promise<Receiver> {
  const child = spawnNode([join(import.meta.dirname, file)], process.env, 'pipe');
  const lines = lineQueue(child.process.stdout!);
  const first = await lines.next(30_000).catch(() => undefined);
  const second = addresses > 1 ? await lines.next(30_000).catch(() => undefined) : undefined;
  if (first === undefined || (addresses > 1 && second === undefined)) {
    await stopChild(child);
    throw new Error(`${file} did not start: ${child.stderrTail()}`);
  }
  return {
    name: `bench/${file}`,
    sink: sinkFor(first, second),
    async countedAll(n) {
      const deadline = Date.now() + TIMEOUT_S * 1000;
      while (Date.now() < deadline) {
        child.process.stdin!.write('count\n');
        const count = Number(await lines.next(30_000));
        if (count >= n) return process.hrtime.bigint();
        await new Promise((r) => setTimeout(r, 100));
      }
      throw new Error(`${file}: not all ${n} events counted within ${TIMEOUT_S} s`);
    },
    async stop() {
      child.process.stdin!.end();
      await stopChild(child);
    },
  };
}

function receiverFor(v: Variant, dir: string): Promise<Receiver> {
  switch (v) {
    case 'hec':
    case 'hec no-ledger':
    case 'hec packaged':
    case 'hec heap64':
      return hecNull(false, dir);
    case 'hec+gzip':
      return hecNull(true, dir);
    case 'ecs bulk':
      return countingServer('es-null-server.ts', (url) => `{ type: elasticsearch, url: "${url}", http: { gzip: false } }`);
    case 'cef syslog':
      return countingServer('null-tcp-server.ts', (port) => `{ type: syslog, transport: tcp, host: 127.0.0.1, port: ${port} }`);
    case 'otlp':
      return countingServer('otlp-null-server.ts', (httpUrl) => `{ type: otlp, protocol: http/protobuf, url: "${httpUrl}" }`, 2);
  }
}

interface Ceiling {
  readonly raw: number;
  readonly mapped: number;
  readonly gzip: number;
  readonly lines: string[];
}

/** `ceiling.mjs FILE`: its events per CPU-second for `raw`, `mapped` and `gzip`. */
function ceiling(file: string): Ceiling {
  const r = spawnSync(pinnedNode(), [join(shared, 'ceiling.mjs'), file], { encoding: 'utf8', maxBuffer: 1 << 20 });
  if (r.status !== 0) throw new Error(`ceiling.mjs exited ${r.status ?? r.signal}: ${r.stderr}`);
  const lines = r.stdout.split('\n').filter((l) => l !== '');
  const rate = (kind: string) => {
    const m = new RegExp(`^${kind}\\s+events \\d+ .*events_per_cpu_s (\\d+)`, 'm').exec(r.stdout);
    if (!m) throw new Error(`ceiling.mjs printed no ${kind} line:\n${r.stdout}`);
    return Number(m[1]);
  };
  return { raw: rate('raw'), mapped: rate('mapped'), gzip: rate('gzip'), lines };
}

interface Result {
  readonly variant: Variant;
  readonly wallSecs: number;
  readonly sample: ProcSample;
  readonly exit: number | string;
  readonly receiver: string;
  /** The 1-minute load average when the forwarder started (other work on the machine shows here). */
  readonly loadBefore: string;
}

async function runVariant(v: Variant, root: string, logs: string): Promise<Result> {
  const dir = join(root, `run-${v.replace(/[^a-z0-9]+/g, '-')}`);
  mkdirSync(dir);
  const receiver = await receiverFor(v, dir);
  let forwarder: Child | undefined;
  try {
    const config = join(dir, 'config.yaml');
    writeFileSync(
      config,
      `sources: { in: { type: audit-files, paths: ["${logs}/*-audit.log"] } }
sinks: { out: ${receiver.sink} }
routes: { bench: { from: in, to: [out] } }
checkpoints: { directory: ${JSON.stringify(join(dir, 'state'))} }
deadLetter: { directory: ${JSON.stringify(join(dir, 'state'))} }
logging: { level: warn }
${v === 'hec no-ledger' ? 'ledger: { enabled: false }\n' : ''}`,
    );
    const nodeOptions = v === 'hec heap64' ? ['--max-old-space-size=64'] : v === 'hec packaged' ? [...PACKAGED_NODE_OPTIONS] : [];
    if (CPU_PROF !== undefined) nodeOptions.push('--cpu-prof', `--cpu-prof-dir=${CPU_PROF}`, `--cpu-prof-name=${v.replace(/[^a-z0-9]+/g, '-')}.cpuprofile`);
    const loadBefore = loadavg()[0]!.toFixed(2);
    const started = process.hrtime.bigint();
    const fwd = spawnNode(forwarderArgs(config, { dist: DIST, nodeOptions }), { ...process.env, HEC_TOKEN: 'bench-token' });
    forwarder = fwd;
    const died = fwd.exited.then((code) => {
      throw new Error(`the forwarder exited (${code}) before the receiver counted ${EVENTS} events:\n${fwd.stderrTail()}`);
    });
    const counted = await Promise.race([receiver.countedAll(EVENTS), died]);
    // Before SIGTERM, so that shutdown is not counted.
    const sample = procSample(fwd.pid);
    died.catch(() => undefined);
    const exit = await stopChild(fwd);
    if (exit !== 0) console.log(`  (${v}: the forwarder exited ${exit} after SIGTERM:\n${fwd.stderrTail()})`);
    return { variant: v, wallSecs: Number(counted - started) / 1e9, sample, exit, receiver: receiver.name, loadBefore };
  } finally {
    if (forwarder !== undefined) await stopChild(forwarder);
    await receiver.stop();
  }
}

const fmt = (n: number) => Math.round(n).toLocaleString('en-US');

const root = mkdtempSync(join(tmpdir(), 'af-bench-process-'));
try {
  const git = gitState();
  console.log(
    `process benchmark: ${EVENTS} records of gen-cadf.mjs (seed 42); commit ${git.commit}` +
      (git.status.length > 0 ? `; working tree not clean: ${git.status.join(', ')}` : '; working tree clean') +
      `; forwarder from ${DIST ? `dist/ (bin/audit-forwarder.js; built ${statSync(join(REPO_ROOT, 'dist', 'src', 'cli', 'main.js')).mtime.toISOString()})` : 'src/ (Node type stripping)'}; ${machine()}`,
  );
  const logs = join(root, 'logs');
  mkdirSync(logs);
  const file = join(logs, 'platform-identity-management-audit.log');
  const bytes = generateSharedCadf(shared, file, EVENTS);
  console.log(`  input: ${(bytes / 1e6).toFixed(1)} MB, ${(bytes / EVENTS).toFixed(0)} bytes per record`);

  const ceil = ceiling(file);
  for (const line of ceil.lines) console.log(`  ceiling.mjs: ${line}`);

  const results: Result[] = [];
  let failed = false;
  for (const v of chosen) {
    try {
      const r = await runVariant(v, root, logs);
      results.push(r);
      const cpuRate = EVENTS / r.sample.cpuSecs;
      const base = v === 'hec+gzip' ? ceil.gzip : ceil.mapped;
      const uncapped = results.find((x) => x.variant === 'hec');
      console.log(
        `process (${v}): ${EVENTS} events, ${(bytes / 1e6).toFixed(0)} MB in ${r.wallSecs.toFixed(2)} s: ${fmt(EVENTS / r.wallSecs)} events/s, ` +
          `${fmt(cpuRate)} events/CPU-s (${r.sample.cpuSecs.toFixed(2)} CPU-s: user ${r.sample.userSecs.toFixed(2)}, system ${r.sample.systemSecs.toFixed(2)}; ` +
          `${((r.sample.cpuSecs / EVENTS) * 1e6).toFixed(1)} CPU-s per million), ${(bytes / 1e6 / r.wallSecs).toFixed(1)} MB/s, peak RSS ${r.sample.peakRssMb.toFixed(0)} MB; ` +
          `${(cpuRate / base).toFixed(2)} of the ceiling's ${v === 'hec+gzip' ? 'gzip' : 'mapped'} (${fmt(base)})` +
          (v === 'hec heap64' && uncapped ? `; ${(cpuRate / (EVENTS / uncapped.sample.cpuSecs)).toFixed(2)} of the uncapped hec run` : '') +
          ` (forwarder process from outside; ${r.receiver} in its own process; load average before ${r.loadBefore}; ${machine()})`,
      );
    } catch (error) {
      failed = true;
      console.log(`process (${v}): FAILED: ${(error as Error).message}`);
    }
  }

  // The same, as the rows of docs/performance.md.
  console.log('\n| variant | wall s | events/s | CPU-s | events/CPU-s | CPU-s per 1M | MB/s (input) | peak RSS | ratio to the ceiling |');
  console.log('|---|---|---|---|---|---|---|---|---|');
  const uncapped = results.find((x) => x.variant === 'hec');
  for (const r of results) {
    const cpuRate = EVENTS / r.sample.cpuSecs;
    const base = r.variant === 'hec+gzip' ? ceil.gzip : ceil.mapped;
    console.log(
      `| ${r.variant} | ${r.wallSecs.toFixed(1)} | ${fmt(EVENTS / r.wallSecs)} | ${r.sample.cpuSecs.toFixed(1)} | ${fmt(cpuRate)} | ${((r.sample.cpuSecs / EVENTS) * 1e6).toFixed(1)} | ` +
        `${(bytes / 1e6 / r.wallSecs).toFixed(1)} | ${r.sample.peakRssMb.toFixed(0)} MB | ${(cpuRate / base).toFixed(2)} of ${r.variant === 'hec+gzip' ? 'gzip' : 'mapped'}` +
        (r.variant === 'hec heap64' && uncapped ? ` (${(cpuRate / (EVENTS / uncapped.sample.cpuSecs)).toFixed(2)} of uncapped hec)` : '') +
        ' |',
    );
  }
  console.log(`\nceiling (same file, same sitting): raw ${fmt(ceil.raw)}, mapped ${fmt(ceil.mapped)}, gzip ${fmt(ceil.gzip)} events/CPU-s`);
  // The forwarder runs the working tree: say so when it changed while the variants ran.
  const after = gitState();
  if (after.commit !== git.commit || after.status.join('\n') !== git.status.join('\n')) {
    console.log(`the working tree changed during the run: now commit ${after.commit}; ${after.status.join(', ') || 'clean'}`);
  }
  process.exitCode = failed ? 1 : 0;
} finally {
  rmSync(root, { recursive: true, force: true });
}
