// `audit-forwarder run` as a daemon: SIGHUP reloads (changed routes restarted, others untouched, nothing lost or re-sent), one process per route.
import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { connectEventJson, connectEventLines } from '../support/generate.ts';
import { CLI, NODE, cli, jsonLinesOf, removeTempDirs, tempDir, write } from './cli-helpers.ts';

const children = new Set<ChildProcess>();
afterAll(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  removeTempDirs();
});

const idOf = (i: number) => connectEventJson(i).id as string;
const ids = (from: number, to: number) => Array.from({ length: to - from }, (_, k) => idOf(from + k));
const idsIn = (file: string) => jsonLinesOf<{ id: string }>(file).map((e) => e.id);

interface Daemon {
  readonly child: ChildProcess;
  readonly exit: Promise<number | null>;
  /** The JSON log lines so far. */
  logs(): Array<Record<string, unknown>>;
  stderr(): string;
}

function startDaemon(dir: string, config: string): Daemon {
  const child = spawn(NODE, [CLI, 'run', '-c', config], { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  children.add(child);
  let err = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
  const exit = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  const logs = () =>
    err
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
  return { child, exit, logs, stderr: () => err };
}

async function waitFor(what: string, cond: () => boolean, d: Daemon, ms = 30_000): Promise<void> {
  const until = Date.now() + ms;
  while (!cond()) {
    if (d.child.exitCode !== null) throw new Error(`the forwarder exited (${d.child.exitCode}) while waiting for ${what}\n${d.stderr()}`);
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}\n${d.stderr()}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

function config(routes: string, sinks: readonly string[]): string {
  return `sources:
  src: { type: jsonl, paths: [input.jsonl], format: connect, follow: true, pollInterval: 50ms }
sinks:
${sinks.map((s) => `  ${s}: { type: file, path: out/${s}.jsonl, mapping: canonical }`).join('\n')}
routes:
${routes}
checkpoints: { directory: state/checkpoints }
deadLetter: { directory: state/dead-letter }
logging: { level: info }
`;
}

describe('audit-forwarder run: SIGHUP reloads the configuration', () => {
  it('restarts only the changed routes, starts new ones, stops removed ones; refuses an invalid file and goes on; nothing lost or sent twice', async () => {
    const dir = tempDir();
    const input = write(dir, 'input.jsonl', connectEventLines(0, 20));
    const file = write(
      dir,
      'config.yaml',
      config(
        `  r1: { from: src, to: [a], batch: { maxEvents: 7, maxAge: 50ms } }
  r2: { from: src, to: [b], batch: { maxEvents: 7, maxAge: 50ms } }
  r4: { from: src, to: [d], batch: { maxEvents: 7, maxAge: 50ms } }`,
        ['a', 'b', 'd'],
      ),
    );
    const out = (s: string) => join(dir, `out/${s}.jsonl`);
    const d = startDaemon(dir, file);
    await waitFor('the first 20 events on every route', () => ['a', 'b', 'd'].every((s) => idsIn(out(s)).length === 20), d);

    // A second process for the same routes is refused while this one runs, naming it.
    const second = await cli(['run', '-c', file], { cwd: dir });
    expect(second.code).toBe(2);
    expect(second.stderr).toContain(String(d.child.pid));

    // r1 changed, r2 unchanged, r3 new, r4 removed.
    write(
      dir,
      'config.yaml',
      config(
        `  r1: { from: src, to: [a], batch: { maxEvents: 3, maxAge: 50ms } }
  r2: { from: src, to: [b], batch: { maxEvents: 7, maxAge: 50ms } }
  r3: { from: src, to: [c], batch: { maxEvents: 7, maxAge: 50ms } }`,
        ['a', 'b', 'c'],
      ),
    );
    d.child.kill('SIGHUP');
    await waitFor('the reload', () => d.logs().some((l) => l.msg === 'configuration reloaded'), d);
    expect(d.logs().find((l) => l.msg === 'configuration reloaded')).toMatchObject({ restarted: ['r1'], kept: ['r2'], started: ['r3'], stopped: ['r4'], failed: [] });

    appendFileSync(input, connectEventLines(20, 20));
    await waitFor('40 events on r1, r2 and the new r3', () => ['a', 'b', 'c'].every((s) => idsIn(out(s)).length >= 40), d);

    // Not valid: logged with the key at fault, and the previous configuration goes on.
    write(dir, 'config.yaml', config(`  r1: { from: nowhere, to: [a] }`, ['a']));
    d.child.kill('SIGHUP');
    await waitFor('the refusal', () => d.logs().some((l) => l.msg?.toString().startsWith('configuration reload refused') === true), d);
    expect(String(d.logs().find((l) => l.msg?.toString().startsWith('configuration reload refused'))!.err)).toContain('routes.r1.from');
    appendFileSync(input, connectEventLines(40, 10));
    await waitFor('50 events on r1, r2 and r3', () => ['a', 'b', 'c'].every((s) => idsIn(out(s)).length >= 50), d);

    d.child.kill('SIGTERM');
    expect(await d.exit).toBe(0);
    // Drained before each restart: every event exactly once, in order; the removed route got nothing after it went.
    for (const s of ['a', 'b', 'c']) expect(idsIn(out(s)), s).toEqual(ids(0, 50));
    expect(idsIn(out('d'))).toEqual(ids(0, 20));
    expect(d.stderr()).toMatch(/r1 → a: stopped; read 50, delivered 50/);
    expect(d.stderr()).toMatch(/r2 → b: stopped; read 50, delivered 50/);
  });

  it('a changed route that cannot start on its new settings (its checkpoint belongs to another source) goes on with its previous ones', async () => {
    const dir = tempDir();
    const input = write(dir, 'input.jsonl', connectEventLines(0, 10));
    const route = `  r1: { from: src, to: [a], batch: { maxEvents: 7, maxAge: 50ms } }`;
    const file = write(dir, 'config.yaml', config(route, ['a']));
    const d = startDaemon(dir, file);
    const out = join(dir, 'out/a.jsonl');
    await waitFor('the first 10 events', () => idsIn(out).length === 10, d);
    // Another file list is another source: its checkpoint is refused, as at start-up.
    write(dir, 'config.yaml', config(route, ['a']).replace('paths: [input.jsonl]', 'paths: [input.jsonl, more.jsonl]'));
    d.child.kill('SIGHUP');
    await waitFor('the reload', () => d.logs().some((l) => l.msg === 'configuration reloaded'), d);
    expect(d.logs().find((l) => l.msg === 'configuration reloaded')).toMatchObject({ restarted: ['r1'], failed: ['r1'] });
    expect(d.logs().some((l) => l.route === 'r1' && l.level === 'error' && String(l.err).includes('checkpoint'))).toBe(true);
    appendFileSync(input, connectEventLines(10, 10));
    await waitFor('20 events', () => idsIn(out).length >= 20, d);
    d.child.kill('SIGTERM');
    expect(await d.exit).toBe(0);
    expect(idsIn(out)).toEqual(ids(0, 20));
  });
});
