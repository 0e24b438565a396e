// Benchmark (issue 16): memory with the SIEM down and a million events behind. N CADF records of
// ../shared/bench/gen-cadf.mjs (seed 42) → `audit-files` → `splunk-hec` whose url is a closed port of 127.0.0.1
// (every send fails with ECONNREFUSED and is retried with backoff); the forwarder process (`node src/cli/main.ts
// run`, or the built `bin/audit-forwarder.js` with BENCH_DIST=1) runs for BENCH_DOWN_SECONDS while its RSS is read
// from /proc every 5 s. Prints min/max/last RSS and whether memory stayed flat (the last sample at most the
// highest of the first minute).
//
//   npm run bench -- siem-down                                        (1,000,000 records, 300 s)
//   BENCH_EVENTS=200000 BENCH_DOWN_SECONDS=60 npm run bench -- siem-down
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT, closedPort, forwarderArgs, generateSharedCadf, gitState, machine, procSample, sharedBenchDir, spawnNode, stopChild, type ProcSample } from './support.ts';

const SHARED = sharedBenchDir();
if (SHARED === undefined) {
  console.log(`siem-down benchmark skipped: ${join(REPO_ROOT, '..', 'shared', 'bench')} (gen-cadf.mjs) is not there`);
  process.exit(0);
}
const EVENTS = Number(process.env.BENCH_EVENTS ?? 1_000_000);
const SECONDS = Number(process.env.BENCH_DOWN_SECONDS ?? 300);
const DIST = process.env.BENCH_DIST === '1';
const EVERY_MS = 5_000;
if (DIST && !existsSync(join(REPO_ROOT, 'dist', 'src', 'cli', 'main.js'))) {
  console.log('siem-down benchmark: BENCH_DIST=1 needs the built dist/: run `npm run build` first');
  process.exit(1);
}

const root = mkdtempSync(join(tmpdir(), 'af-bench-siem-down-'));
try {
  const git = gitState();
  console.log(
    `siem-down benchmark: ${EVENTS} records of gen-cadf.mjs (seed 42) behind a closed HEC port, ${SECONDS} s, RSS every ${EVERY_MS / 1000} s; commit ${git.commit}` +
      (git.status.length > 0 ? `; working tree not clean: ${git.status.join(', ')}` : '; working tree clean') +
      `; forwarder from ${DIST ? 'dist/ (bin/audit-forwarder.js)' : 'src/ (Node type stripping)'}; ${machine()}`,
  );
  mkdirSync(join(root, 'logs'));
  const bytes = generateSharedCadf(SHARED, join(root, 'logs', 'platform-identity-management-audit.log'), EVENTS);
  const port = await closedPort();
  const config = join(root, 'config.yaml');
  writeFileSync(
    config,
    `sources: { in: { type: audit-files, paths: ["${join(root, 'logs')}/*-audit.log"] } }
sinks: { out: { type: splunk-hec, url: "http://127.0.0.1:${port}", token: "\${HEC_TOKEN}", ack: { mode: off }, gzip: false } }
routes: { bench: { from: in, to: [out] } }
checkpoints: { directory: ${JSON.stringify(join(root, 'state'))} }
deadLetter: { directory: ${JSON.stringify(join(root, 'state'))} }
logging: { level: warn }
shutdownTimeout: 5s
`,
  );
  const fwd = spawnNode(forwarderArgs(config, { dist: DIST }), { ...process.env, HEC_TOKEN: 'bench-token' });
  let exitedEarly: number | string | undefined;
  void fwd.exited.then((code) => (exitedEarly = code));
  const samples: { at: number; s: ProcSample }[] = [];
  const started = Date.now();
  for (let t = EVERY_MS; t <= SECONDS * 1000; t += EVERY_MS) {
    await new Promise((r) => setTimeout(r, started + t - Date.now()));
    if (exitedEarly !== undefined) break;
    samples.push({ at: t / 1000, s: procSample(fwd.pid) });
  }
  const early = exitedEarly;
  const exit = await stopChild(fwd);
  if (early !== undefined) {
    console.log(`siem-down: FAILED: the forwarder exited (${early}) after ${samples.length * (EVERY_MS / 1000)} s:\n${fwd.stderrTail()}`);
    process.exitCode = 1;
  }
  if (samples.length > 0) {
    const rss = samples.map((x) => x.s.rssMb);
    const firstMinute = Math.max(...samples.filter((x) => x.at <= 60).map((x) => x.s.rssMb));
    const last = samples.at(-1)!;
    console.log(`  RSS (MB) every ${EVERY_MS / 1000} s: ${rss.map((r) => r.toFixed(0)).join(' ')}`);
    console.log(
      `siem-down: ${EVENTS} records (${(bytes / 1e6).toFixed(0)} MB) behind, HEC refused for ${last.at} s: RSS min ${Math.min(...rss).toFixed(0)} MB, ` +
        `max ${Math.max(...rss).toFixed(0)} MB, last ${last.s.rssMb.toFixed(0)} MB, peak (VmHWM) ${last.s.peakRssMb.toFixed(0)} MB; ` +
        `${last.s.rssMb <= firstMinute ? 'flat' : 'NOT flat'} (last ${last.s.rssMb.toFixed(0)} MB vs ${firstMinute.toFixed(0)} MB, the highest of the first minute); ` +
        `CPU ${last.s.cpuSecs.toFixed(2)} s in ${last.at} s; exit after SIGTERM ${exit} (${machine()})`,
    );
  }
} finally {
  rmSync(root, { recursive: true, force: true });
}
