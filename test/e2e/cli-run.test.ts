// End to end: the CLI as a child process, stopped by SIGTERM or SIGKILL and restarted; every event arrives.
import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, mkdtempSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { connectEventJson, connectEventLines } from '../support/generate.ts';

const ROOT = resolve(import.meta.dirname, '../..');
const NODE = join(ROOT, 'node_modules/.bin/node');
const CLI = join(ROOT, 'src/cli/main.ts');

function setup(total: number, batch = 20) {
  const dir = mkdtempSync(join(tmpdir(), 'af-e2e-'));
  writeFileSync(join(dir, 'input.jsonl'), connectEventLines(0, total));
  writeFileSync(
    join(dir, 'config.yaml'),
    `sources:
  export: { type: jsonl, paths: [input.jsonl], format: connect, follow: true, pollInterval: 50ms }
sinks:
  archive: { type: file, path: out/events.jsonl, mapping: canonical }
routes:
  export-to-archive:
    from: export
    to: [archive]
    batch: { maxEvents: ${batch}, maxBytes: 1MiB, maxAge: 100ms }
    maxInFlight: 2
checkpoints: { directory: state/checkpoints }
deadLetter: { directory: state/dead-letter }
shutdownTimeout: 10s
logging: { level: info }
`,
  );
  return dir;
}

function start(dir: string): ChildProcess & { stderrText: () => string } {
  const child = spawn(NODE, [CLI, 'run', '-c', join(dir, 'config.yaml')], { stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  return Object.assign(child, { stderrText: () => err });
}

function outputIds(dir: string): string[] {
  const file = join(dir, 'out/events.jsonl');
  if (!existsSync(file)) return [];
  // Whole lines only: the forwarder may be in the middle of appending the next one.
  return readFileSync(file, 'utf8')
    .split('\n')
    .slice(0, -1)
    .filter((l) => l !== '')
    .map((l) => (JSON.parse(l) as { id: string }).id);
}

async function waitFor(cond: () => boolean, ms = 60_000): Promise<void> {
  const until = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > until) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
}

const exited = (c: ChildProcess) => new Promise<number | null>((r) => c.once('exit', (code) => r(code)));
const idOf = (i: number) => connectEventJson(i).id as string;

describe('audit-forwarder run (child process)', () => {
  it('SIGTERM mid-run, events appended while stopped, restart: every event exactly once, in order', async () => {
    const total = 30_000;
    const dir = setup(total);
    const first = start(dir);
    await waitFor(() => outputIds(dir).length >= 500);
    first.kill('SIGTERM');
    expect(await exited(first)).toBe(0);
    const afterFirst = outputIds(dir).length;
    expect(afterFirst).toBeLessThan(total);

    appendFileSync(join(dir, 'input.jsonl'), connectEventLines(total, 1000));
    const second = start(dir);
    await waitFor(() => outputIds(dir).length >= total + 1000);
    second.kill('SIGTERM');
    expect(await exited(second)).toBe(0);
    expect(second.stderrText()).toContain('"msg":"run ended: stopped"');

    const ids = outputIds(dir);
    expect(ids).toEqual(Array.from({ length: total + 1000 }, (_, i) => idOf(i)));
  });

  it('SIGKILL mid-run, restart: every event at least once, duplicates only from the uncommitted tail', async () => {
    const total = 20_000;
    const dir = setup(total, 50);
    const first = start(dir);
    await waitFor(() => outputIds(dir).length >= 2000);
    first.kill('SIGKILL');
    await exited(first);
    // What the killed run committed: every event after this line may be sent again, nothing before it.
    const checkpointFile = join(dir, 'state/checkpoints/routes/export-to-archive.checkpoint.json');
    const checkpoint = (existsSync(checkpointFile) ? JSON.parse(readFileSync(checkpointFile, 'utf8')) : { sinks: {} }) as {
      sinks: { archive?: { position: { line: number } } };
    };
    const committedLines = checkpoint.sinks.archive?.position.line ?? 0;
    const beforeRestart = outputIds(dir).length;
    const second = start(dir);
    await waitFor(() => new Set(outputIds(dir)).size >= total);
    second.kill('SIGTERM');
    expect(await exited(second)).toBe(0);
    const ids = outputIds(dir);
    expect(new Set(ids)).toEqual(new Set(Array.from({ length: total }, (_, i) => idOf(i))));
    // Duplicates are exactly the events past the committed position that the killed run had already written.
    const seen = new Set<string>();
    const duplicates = ids.filter((id) => (seen.has(id) ? true : (seen.add(id), false)));
    const indexOf = new Map(Array.from({ length: total }, (_, i) => [idOf(i), i] as const));
    for (const id of duplicates) expect(indexOf.get(id)!).toBeGreaterThanOrEqual(committedLines);
    expect(duplicates.length).toBeLessThanOrEqual(Math.max(0, beforeRestart - committedLines));
  });
});
