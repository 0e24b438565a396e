// Helpers for the CLI tests: run `src/cli/main.ts` as a child process, in real temporary directories.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

export const ROOT = resolve(import.meta.dirname, '../..');
export const NODE = join(ROOT, 'node_modules/.bin/node');
export const CLI = join(ROOT, 'src/cli/main.ts');

export interface CliResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

export interface CliOptions {
  /** Written to the child's stdin, which is then closed (bytes as they are: a Buffer may hold invalid UTF-8). */
  readonly input?: string | Buffer;
  /** Added to the environment (a copy of this process's). */
  readonly env?: Record<string, string>;
  readonly cwd?: string;
  readonly timeoutMs?: number;
}

/** Runs the CLI with `args` and resolves when it exits; killed (and rejected) after `timeoutMs`. */
export function cli(args: readonly string[], options: CliOptions = {}): Promise<CliResult> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(NODE, [CLI, ...args], {
      cwd: options.cwd ?? ROOT,
      env: { ...process.env, ...options.env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`audit-forwarder ${args.join(' ')} did not exit within ${options.timeoutMs ?? 20_000} ms\nstderr: ${stderr}`));
    }, options.timeoutMs ?? 20_000);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolvePromise({ code, stdout, stderr });
    });
    child.stdin.on('error', () => undefined);
    child.stdin.end(options.input ?? '');
  });
}

/** A fresh temporary directory, and a function that removes every one made so far. */
const made: string[] = [];
export function tempDir(prefix = 'af-cli-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  made.push(dir);
  return dir;
}
export function removeTempDirs(): void {
  for (const d of made.splice(0)) rmSync(d, { recursive: true, force: true });
}

/** The non-empty lines of a file, or [] when it does not exist. */
export function linesOf(file: string): string[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l !== '');
}

/** The JSON lines of a file, parsed. */
export function jsonLinesOf<T = Record<string, unknown>>(file: string): T[] {
  return linesOf(file).map((l) => JSON.parse(l) as T);
}

export function write(dir: string, name: string, text: string): string {
  const file = join(dir, name);
  writeFileSync(file, text);
  return file;
}

/**
 * A configuration with one jsonl source (`src`, reading `paths`, not following), the given file sinks
 * (name → path) and one route `r1` from the source to all of them; state under `state/`.
 */
export function standardConfig(options: {
  paths?: readonly string[];
  format?: 'connect' | 'cadf' | 'auto';
  sinks?: Readonly<Record<string, string>>;
  routeExtra?: string;
}): string {
  const paths = options.paths ?? ['input.jsonl'];
  const sinks = options.sinks ?? { archive: 'out/archive.jsonl' };
  const sinkLines = Object.entries(sinks)
    .map(([name, path]) => `  ${name}: { type: file, path: ${path}, mapping: canonical }`)
    .join('\n');
  return `sources:
  src: { type: jsonl, paths: [${paths.join(', ')}], format: ${options.format ?? 'connect'} }
sinks:
${sinkLines}
routes:
  r1:
    from: src
    to: [${Object.keys(sinks).join(', ')}]
    batch: { maxEvents: 7, maxAge: 50ms }
${options.routeExtra ?? ''}
checkpoints: { directory: state/checkpoints }
deadLetter: { directory: state/dead-letter }
logging: { level: warn }
`;
}
