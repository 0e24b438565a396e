// The forwarder's CLI as a child process for end-to-end tests: start `run`, wait for its exit, read its checkpoint, wait for conditions.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { connectEventLines } from './generate.ts';

export const ROOT = resolve(import.meta.dirname, '../..');
/** The pinned Node.js 24 of the project (the system's may be older). */
export const NODE = join(ROOT, 'node_modules/.bin/node');
export const CLI = join(ROOT, 'src/cli/main.ts');

export type CliChild = ChildProcess & { stderrText: () => string };

/** `audit-forwarder run -c <dir>/config.yaml`; stderr is kept. Children are added to `track` so a test can kill what is left. */
export function startRun(dir: string, options: { env?: Readonly<Record<string, string>>; track?: Set<ChildProcess> } = {}): CliChild {
  const child = spawn(NODE, [CLI, 'run', '-c', join(dir, 'config.yaml')], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, ...options.env } });
  options.track?.add(child);
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  return Object.assign(child, { stderrText: () => err });
}

/** Resolves with the exit code once the child has exited (at once if it already has). */
export const exited = (c: ChildProcess): Promise<number | null> =>
  c.exitCode !== null || c.signalCode !== null ? Promise.resolve(c.exitCode) : new Promise<number | null>((r) => c.once('exit', (code) => r(code)));

/** The input line a live route's checkpoint holds for a sink (a line-based source), 0 before the first commit. */
export function committedLine(dir: string, route: string, sink: string): number {
  const file = join(dir, `state/checkpoints/routes/${route}.checkpoint.json`);
  if (!existsSync(file)) return 0;
  const cp = JSON.parse(readFileSync(file, 'utf8')) as { sinks: Record<string, { position: { line: number } } | undefined> };
  return cp.sinks[sink]?.position.line ?? 0;
}

/** Polls `cond` every 20 ms until it holds; rejects after `ms` naming `what`. */
export async function until(cond: () => boolean, what = 'the condition', ms = 120_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** What an end-to-end test made: temp directories and child processes, removed and killed by `cleanUp`. */
export interface E2eScene {
  readonly dirs: string[];
  readonly children: Set<ChildProcess>;
}

export const newScene = (): E2eScene => ({ dirs: [], children: new Set() });

/** Kills what is still running and removes the directories (kept with KEEP_TEMP set, for a look after a failure). */
export function cleanUp(scene: E2eScene): void {
  for (const c of scene.children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  if (process.env.KEEP_TEMP === undefined) for (const d of scene.dirs) rmSync(d, { recursive: true, force: true });
}

export interface JsonlRoute {
  /** Connect events written to input.jsonl (`connectEventLines(0, events)`). */
  readonly events: number;
  readonly sink: { readonly name: string; /** The sink's keys, one per line, not indented. */ readonly yaml: string };
  readonly route: string;
  /** Further keys of the route, one per line, not indented (mappingOptions …). */
  readonly routeYaml?: string;
  readonly batch: string;
  readonly maxInFlight: number;
  readonly maxRetryDelay: string;
}

/**
 * A temp directory holding input.jsonl (Connect events) and config.yaml: one jsonl source `export`, one sink, one
 * route, state under `state/`, errors-only logging. Returns the directory.
 */
export function jsonlRouteDir(scene: E2eScene, prefix: string, r: JsonlRoute): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  scene.dirs.push(dir);
  const indent = (yaml: string, n: number) =>
    yaml
      .trim()
      .split('\n')
      .map((l) => ' '.repeat(n) + l.trim())
      .join('\n');
  writeFileSync(join(dir, 'input.jsonl'), connectEventLines(0, r.events));
  writeFileSync(
    join(dir, 'config.yaml'),
    `sources:
  export: { type: jsonl, paths: [input.jsonl], format: connect }
sinks:
  ${r.sink.name}:
${indent(r.sink.yaml, 4)}
routes:
  ${r.route}:
    from: export
    to: [${r.sink.name}]
    batch: ${r.batch}
    maxInFlight: ${r.maxInFlight}
    retry: { initialDelay: 20ms, maxDelay: ${r.maxRetryDelay} }
${r.routeYaml === undefined ? '' : `${indent(r.routeYaml, 4)}\n`}checkpoints: { directory: state/checkpoints }
deadLetter: { directory: state/dead-letter }
shutdownTimeout: 10s
logging: { level: error }
`,
  );
  return dir;
}
