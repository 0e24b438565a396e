// What every benchmark shares: one route from a source to the `discard` sink, prepared as `run` would.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync, realpathSync, statSync, writeFileSync } from 'node:fs';
import { createServer as createNetServer } from 'node:net';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { connectors } from '../connectors/index.ts';
import { mappingNames, mappings } from '../mappings/index.ts';
import { createFileCheckpointStore } from '../src/checkpoint/file-store.ts';
import { parseConfig } from '../src/config/loader.ts';
import { silentLogger } from '../src/logging.ts';
import { Runner, prepareRoute, type LaneSummary, type RunMode } from '../src/pipeline/runner.ts';
import { sleepUnlessAborted } from '../src/util/sleep.ts';
import { cadfLines } from '../test/support/cadf-lines.ts';

export interface BenchRouteOptions {
  /** The sink (YAML flow mapping); default the discard sink with the canonical mapping. */
  readonly sink?: string;
  /** Default 4. */
  readonly maxInFlight?: number;
}

/**
 * A runner for route `bench`: `source` (YAML flow mapping) → the sink (default canonical → discard), batches of
 * 1000 / 4 MiB, 4 in flight, state under `dir`.
 */
export async function benchRunner(dir: string, source: string, mode: RunMode = { kind: 'live' }, options: BenchRouteOptions = {}): Promise<Runner> {
  const sink = options.sink ?? '{ type: discard, mapping: canonical }';
  const config = parseConfig(
    `sources: { in: ${source} }
sinks: { out: ${sink} }
routes: { bench: { from: in, to: [out], batch: { maxEvents: 1000, maxBytes: 4MiB, maxAge: 1s }, maxInFlight: ${options.maxInFlight ?? 4} } }
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

/**
 * Runs a live route until `events` records have ended (delivered, dead-lettered or skipped), then shuts it
 * down; throws unless all were delivered. Returns the seconds from `started` and the route's summary.
 */
export async function runUntilDelivered(runner: Runner, events: number, started: bigint): Promise<{ secs: number; summary: LaneSummary }> {
  const running = runner.run();
  const lane = runner.lanes[0]!.lane;
  const never = new AbortController().signal;
  let ended = false;
  running.then(
    () => (ended = true),
    () => (ended = true),
  );
  while (lane.counters.delivered + lane.counters.dead_lettered + lane.counters.skipped < events && !ended) {
    await sleepUnlessAborted(10, never);
  }
  const secs = Number(process.hrtime.bigint() - started) / 1e9;
  runner.shutdown();
  const [summary] = await running;
  const c = summary!.counters;
  if (c.delivered !== events) throw new Error(`delivered ${c.delivered} of ${events} (${summary!.state} ${summary!.error ?? ''})`);
  return { secs, summary: summary! };
}

/** `(node v24…, 2× AMD EPYC …)`: the machine, for the printed line. */
export function machine(): string {
  return `node ${process.version}, ${cpus().length}× ${cpus()[0]?.model.trim()}`;
}

/** Appends `events` synthetic CADF lines (~490 bytes each) to `file`; returns its size in bytes. */
export function writeCadfLog(file: string, events: number): number {
  for (let i = 0; i < events; i += 5_000) writeFileSync(file, cadfLines('bench', i, Math.min(5_000, events - i)), { flag: 'a' });
  return statSync(file).size;
}

/**
 * A benchmark of several variants: without `envKey` in the environment, runs this same file once per variant in a
 * child process (so that each peak RSS is its own) and sets the exit code; with it, runs that variant here.
 */
export async function runVariants<V extends string>(file: string, envKey: string, variants: readonly V[], run: (v: V) => Promise<void>): Promise<void> {
  const chosen = process.env[envKey] as V | undefined;
  if (chosen !== undefined) return run(chosen);
  let failed = false;
  for (const v of variants) {
    const r = spawnSync(process.execPath, [file], { stdio: 'inherit', env: { ...process.env, [envKey]: v } });
    failed ||= r.status !== 0;
  }
  process.exitCode = failed ? 1 : 0;
}

// --- The forwarder measured from outside, as a whole process (process.bench.ts, siem-down.bench.ts) ---

/** The repository's root directory. */
export const REPO_ROOT = join(import.meta.dirname, '..');

/** `../shared/bench` beside the repository (the yardsticks of issue 16), or undefined where it is absent. */
export function sharedBenchDir(): string | undefined {
  const dir = join(REPO_ROOT, '..', 'shared', 'bench');
  return ['gen-cadf.mjs', 'hec-null.mjs', 'ceiling.mjs'].every((f) => existsSync(join(dir, f))) ? dir : undefined;
}

/** The project's pinned Node (`node_modules/.bin/node`, the `node` devDependency), else the one running. */
export function pinnedNode(): string {
  const pinned = join(REPO_ROOT, 'node_modules', '.bin', 'node');
  return existsSync(pinned) ? realpathSync(pinned) : process.execPath;
}

/** Writes `events` records of `gen-cadf.mjs` (seed 42) to `file`; returns its size in bytes. */
export function generateSharedCadf(sharedDir: string, file: string, events: number): number {
  const fd = openSync(file, 'w');
  try {
    const r = spawnSync(pinnedNode(), [join(sharedDir, 'gen-cadf.mjs'), String(events), '--seed', '42'], { stdio: ['ignore', fd, 'pipe'] });
    if (r.status !== 0) throw new Error(`gen-cadf.mjs exited ${r.status ?? r.signal}: ${String(r.stderr)}`);
  } finally {
    closeSync(fd);
  }
  return statSync(file).size;
}

let ticks: number | undefined;
/** Clock ticks per second of `/proc/<pid>/stat` (`getconf CLK_TCK`, normally 100). */
export function clockTicks(): number {
  if (ticks === undefined) {
    const r = spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' });
    const n = Number(String(r.stdout).trim());
    ticks = r.status === 0 && Number.isInteger(n) && n > 0 ? n : 100;
  }
  return ticks;
}

/** What `/proc` says of a process: CPU seconds used (user + system), resident and peak resident memory. */
export interface ProcSample {
  readonly cpuSecs: number;
  readonly userSecs: number;
  readonly systemSecs: number;
  readonly rssMb: number;
  readonly peakRssMb: number;
}

/** Reads `/proc/<pid>/stat` (utime, stime) and `/proc/<pid>/status` (VmRSS, VmHWM) of a running process. */
export function procSample(pid: number): ProcSample {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name in parentheses (which may hold spaces): state is field 3, utime 14, stime 15.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const user = Number(fields[14 - 3]) / clockTicks();
  const system = Number(fields[15 - 3]) / clockTicks();
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
  return { cpuSecs: user + system, userSecs: user, systemSecs: system, rssMb: kb('VmRSS') / 1024, peakRssMb: kb('VmHWM') / 1024 };
}

/** How the forwarder is started: from the sources (Node's type stripping) or, with `dist`, the built `bin/`. */
/**
 * The V8 options the container image (deploy/docker/Dockerfile) and the systemd unit start the forwarder with:
 * a young generation of at most 2 × 16 MB instead of V8's default on a large machine (2 × 64 MB): ~90 MB less
 * peak RSS for ~10–15 % more CPU at full speed (docs/performance.md). test/deploy checks that both still say so.
 */
export const PACKAGED_NODE_OPTIONS = ['--max-semi-space-size=16'] as const;

export function forwarderArgs(config: string, options: { dist?: boolean; nodeOptions?: readonly string[] } = {}): string[] {
  const entry = options.dist ? join(REPO_ROOT, 'bin', 'audit-forwarder.js') : join(REPO_ROOT, 'src', 'cli', 'main.ts');
  return [...(options.nodeOptions ?? []), entry, 'run', '-c', config];
}

/** A child process whose stderr's last lines are kept (for the message when it fails), and its exit. */
export interface Child {
  readonly process: ChildProcess;
  readonly pid: number;
  /** Resolves with the exit code (or the signal's name) when the process has exited. */
  readonly exited: Promise<number | string>;
  /** The last lines it wrote on stderr. */
  stderrTail(): string;
}

/** Spawns `node args` (the pinned binary itself, so that the pid is the measured process's), stdout piped. */
export function spawnNode(args: readonly string[], env: NodeJS.ProcessEnv = process.env, stdin: 'pipe' | 'ignore' = 'ignore'): Child {
  const child = spawn(pinnedNode(), args, { stdio: [stdin, 'pipe', 'pipe'], env });
  const tail: string[] = [];
  createInterface({ input: child.stderr! }).on('line', (line) => {
    tail.push(line);
    if (tail.length > 40) tail.shift();
  });
  const exited = new Promise<number | string>((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal ?? 'unknown')));
  if (child.pid === undefined) throw new Error(`could not start ${pinnedNode()} ${args.join(' ')}`);
  return { process: child, pid: child.pid, exited, stderrTail: () => tail.join('\n') };
}

/** Sends SIGTERM and waits for the exit (SIGKILL after `timeoutMs`); returns the exit code or signal. */
export async function stopChild(child: Child, timeoutMs = 60_000): Promise<number | string> {
  if (child.process.exitCode !== null || child.process.signalCode !== null) return child.exited;
  child.process.kill('SIGTERM');
  const timer = setTimeout(() => child.process.kill('SIGKILL'), timeoutMs);
  try {
    return await child.exited;
  } finally {
    clearTimeout(timer);
  }
}

/** Reads the lines of a stream one by one: `next()` waits for the next line (undefined at the end). */
export function lineQueue(input: NodeJS.ReadableStream): { next(timeoutMs?: number): Promise<string | undefined> } {
  const lines = createInterface({ input })[Symbol.asyncIterator]();
  return {
    async next(timeoutMs = 60_000) {
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`no line within ${timeoutMs} ms`)), timeoutMs)));
      try {
        const r = await Promise.race([lines.next(), timeout]);
        return r.done ? undefined : String(r.value);
      } finally {
        clearTimeout(timer);
      }
    },
  };
}

/** A TCP port of 127.0.0.1 nothing listens on (one that was free a moment ago). */
export async function closedPort(): Promise<number> {
  const server = createNetServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** `980ded8 (working tree: 1 modified, 2 untracked)`: the commit measured and what else the tree held. */
export function gitState(): { commit: string; status: string[] } {
  const git = (...args: string[]) => spawnSync('git', args, { cwd: REPO_ROOT, encoding: 'utf8' });
  const head = git('rev-parse', '--short', 'HEAD');
  const status = git('status', '--short');
  return { commit: head.status === 0 ? head.stdout.trim() : 'unknown', status: status.status === 0 ? status.stdout.split('\n').filter((l) => l !== '') : [] };
}
