// The harness of the audit-files end-to-end tests: a temporary setup, the CLI as a child process, its output read as it grows.
import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, closeSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, openSync, readSync, renameSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { expect } from 'vitest';

const ROOT = resolve(import.meta.dirname, '../..');
const NODE = join(ROOT, 'node_modules/.bin/node');
const CLI = join(ROOT, 'src/cli/main.ts');
export const ROUTE = 'r1';


const dirs: string[] = [];
const children = new Set<ChildProcess>();
/** Kills forwarders still running and removes the temporary directories (but those kept for a diagnosis). */
export function cleanUp(): void {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  if (process.env.KEEP_TEMP === undefined) for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
}

/** Keeps `dir` after the run (it holds what a failed case needs for its diagnosis). */
export function keep(dir: string): void {
  const i = dirs.indexOf(dir);
  if (i !== -1) dirs.splice(i, 1);
}

export interface Env {
  readonly dir: string;
  readonly logs: string;
  readonly config: string;
  readonly out: string;
  readonly dlq: string;
}

export interface EnvOptions {
  /** Glob patterns, relative to the temp dir (made absolute). */
  readonly paths?: readonly string[];
  readonly maxEvents?: number;
  readonly maxInFlight?: number;
  readonly fsync?: boolean;
  readonly extraSource?: string;
}

export function setup(options: EnvOptions = {}): Env {
  const dir = mkdtempSync(join(tmpdir(), 'af-audit-'));
  dirs.push(dir);
  const logs = join(dir, 'logs');
  mkdirSync(logs);
  const paths = (options.paths ?? ['logs/*-audit.log']).map((p) => JSON.stringify(join(dir, p)));
  const config = join(dir, 'config.yaml');
  writeFileSync(
    config,
    `sources:
  audit: { type: audit-files, paths: [${paths.join(', ')}], pollInterval: 50ms${options.extraSource ?? ''} }
sinks:
  archive: { type: file, path: out/events.jsonl, mapping: canonical, fsync: ${options.fsync ?? true} }
routes:
  ${ROUTE}:
    from: audit
    to: [archive]
    batch: { maxEvents: ${options.maxEvents ?? 50}, maxBytes: 4MiB, maxAge: 50ms }
    maxInFlight: ${options.maxInFlight ?? 2}
checkpoints: { directory: state/checkpoints }
deadLetter: { directory: state/dead-letter }
shutdownTimeout: 20s
logging: { level: info }
`,
  );
  return { dir, logs, config, out: join(dir, 'out/events.jsonl'), dlq: join(dir, `state/dead-letter/${ROUTE}.dlq.jsonl`) };
}

export interface Forwarder {
  readonly child: ChildProcess;
  readonly exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stderr(): string;
}

export function start(env: Env): Forwarder {
  const child = spawn(NODE, [CLI, 'run', '-c', env.config], { cwd: env.dir, stdio: ['ignore', 'ignore', 'pipe'] });
  children.add(child);
  let err = '';
  child.stderr!.on('data', (d: Buffer) => {
    if (err.length < 200_000) err += d.toString();
    // Every run's log, kept with the files of a failed case for the diagnosis.
    appendFileSync(join(env.dir, 'forwarder.log'), d);
  });
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) =>
    child.once('exit', (code, signal) => {
      children.delete(child);
      r({ code, signal });
    }),
  );
  return { child, exit, stderr: () => err };
}

/** SIGTERM: the forwarder finishes what is in flight, saves its checkpoint and exits 0. */
export async function stop(f: Forwarder): Promise<void> {
  f.child.kill('SIGTERM');
  const { code, signal } = await f.exit;
  expect({ code, signal }, f.stderr()).toEqual({ code: 0, signal: null });
}

export async function kill(f: Forwarder): Promise<void> {
  f.child.kill('SIGKILL');
  await f.exit;
}

export const pause = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Polls `cond` until it holds; fails early, with its stderr, if the forwarder died. */
export async function waitFor(what: string, cond: () => boolean, f?: Forwarder, ms = 60_000, detail?: () => string): Promise<void> {
  const until = Date.now() + ms;
  while (!cond()) {
    if (f !== undefined && (f.child.exitCode !== null || f.child.signalCode !== null)) {
      throw new Error(`the forwarder exited (${f.child.exitCode ?? f.child.signalCode}) while waiting for ${what}\n${f.stderr()}`);
    }
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}${detail === undefined ? '' : `: ${detail()}`}\n${f?.stderr() ?? ''}`);
    await pause(20);
  }
}

/**
 * The sink's output file read incrementally, whole lines only (the forwarder may be appending the next one):
 * every delivered id in order, and how often each was seen.
 */
export class Output {
  readonly ids: string[] = [];
  readonly count = new Map<string, number>();
  private offset = 0;
  private rest = '';
  private readonly file: string;

  constructor(file: string) {
    this.file = file;
  }

  poll(): this {
    if (!existsSync(this.file)) return this;
    const fd = openSync(this.file, 'r');
    try {
      // Read from the end of the last whole line each time: after a crash the sink cuts a torn last line off
      // and appends after the cut, so bytes past it are not to be trusted until a newline ends them.
      const buf = Buffer.allocUnsafe(1 << 20);
      for (;;) {
        const n = readSync(fd, buf, 0, buf.length, this.offset);
        const end = buf.subarray(0, n).lastIndexOf(0x0a) + 1;
        if (end === 0) break;
        this.offset += end;
        for (const line of buf.toString('utf8', 0, end).split('\n')) {
          if (line === '') continue;
          const id = (JSON.parse(line) as { id: string }).id;
          this.ids.push(id);
          this.count.set(id, (this.count.get(id) ?? 0) + 1);
        }
      }
    } finally {
      closeSync(fd);
    }
    return this;
  }

  hasAll(ids: readonly string[]): boolean {
    this.poll();
    return ids.every((id) => this.count.has(id));
  }
}

/** Every id written was delivered, nothing else was, and at most `maxDuplicates` were delivered twice. */
export function expectComplete(out: Output, written: readonly string[], maxDuplicates: number, context = ''): void {
  out.poll();
  const expected = new Set(written);
  expect(expected.size, `${context}: the writer's ids are unique`).toBe(written.length);
  const missing = written.filter((id) => !out.count.has(id));
  expect(missing.length, `${context}: ${missing.length} lines lost, first ${missing.slice(0, 5).join(', ')}`).toBe(0);
  const unexpected = [...out.count.keys()].filter((id) => !expected.has(id));
  expect(unexpected.slice(0, 5), `${context}: delivered ids nobody wrote`).toEqual([]);
  const duplicates = out.ids.length - out.count.size;
  expect(duplicates, `${context}: duplicates`).toBeLessThanOrEqual(maxDuplicates);
}

/** Logrotate's `copytruncate` keeping one generation: `<file>.1` is replaced by a copy, the file emptied in place. */
export function copyTruncate(live: string): void {
  rmSync(`${live}.1`, { force: true });
  copyFileSync(live, `${live}.1`);
  truncateSync(live, 0);
}

/** Logrotate's default: the file is renamed to `<file>.1` (replacing the previous one). */
export function renameRotate(live: string): void {
  renameSync(live, `${live}.1`);
}
