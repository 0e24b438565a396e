// `audit-forwarder run` on a bounded source, and `checkpoint show|reset`, as child processes.
import { appendFileSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { connectEventJson, connectEventLines } from '../support/generate.ts';
import { cli, jsonLinesOf, linesOf, removeTempDirs, standardConfig, tempDir, write } from './cli-helpers.ts';

afterAll(removeTempDirs);

const idOf = (i: number) => connectEventJson(i).id as string;
const idsIn = (file: string) => jsonLinesOf<{ id: string }>(file).map((e) => e.id);
const range = (from: number, to: number) => Array.from({ length: to - from }, (_, k) => from + k);

/** Events 0..9 with two bad lines among them: line 4 is not JSON, line 8 is an event without occurredAt. */
function inputWithBadLines(): { text: string; bad: Map<number, string> } {
  const lines = range(0, 10).map((i) => JSON.stringify(connectEventJson(i)));
  const noTime = connectEventJson(100);
  delete noTime['occurredAt'];
  lines.splice(3, 0, '{"id": "truncated');
  lines.splice(7, 0, JSON.stringify(noTime));
  return { text: `${lines.join('\n')}\n`, bad: new Map([[4, lines[3]!], [8, lines[7]!]]) };
}

interface DeadLetter {
  route: string;
  sink: string;
  stage: string;
  reason: string;
  path?: string;
  locator?: string;
  raw?: string;
}

describe('audit-forwarder run', () => {
  it('a bounded source ends by itself; dead letters are kept; a second run resumes at the end; a changed source is refused', async () => {
    const dir = tempDir();
    const { text, bad } = inputWithBadLines();
    const input = write(dir, 'input.jsonl', text);
    const config = write(dir, 'config.yaml', standardConfig({}));
    const out = join(dir, 'out/archive.jsonl');
    const dlq = join(dir, 'state/dead-letter/r1.dlq.jsonl');

    const first = await cli(['run', '-c', config, '--log-level', 'info']);
    expect(first.code).toBe(0);
    expect(first.stderr).toContain('r1 → archive: finished; read 12, delivered 10, skipped 0, rejected 0, dead-lettered 2');
    expect(idsIn(out)).toEqual(range(0, 10).map(idOf));

    const letters = jsonLinesOf<DeadLetter>(dlq);
    expect(letters).toHaveLength(2);
    for (const [k, line] of [4, 8].entries()) {
      const e = letters[k]!;
      expect(e).toMatchObject({ route: 'r1', sink: 'archive', stage: 'decode', locator: `${input}:${line}`, raw: bad.get(line) });
      expect(e.reason).not.toBe('');
    }
    expect(letters[0]!.reason).toContain('JSON');
    expect(letters[1]!.path).toBe('occurredAt');

    // Again: nothing new is forwarded or dead-lettered.
    const second = await cli(['run', '-c', config, '--log-level', 'info']);
    expect(second.code).toBe(0);
    expect(second.stderr).toContain('r1 → archive: finished; read 0, delivered 0');
    expect(idsIn(out)).toEqual(range(0, 10).map(idOf));
    expect(jsonLinesOf(dlq)).toHaveLength(2);

    // Events appended since: only they are forwarded.
    appendFileSync(input, connectEventLines(10, 5));
    const third = await cli(['run', '-c', config, '--log-level', 'info']);
    expect(third.code).toBe(0);
    expect(third.stderr).toContain('r1 → archive: finished; read 5, delivered 5');
    expect(idsIn(out)).toEqual(range(0, 15).map(idOf));

    // The source's paths change: its checkpoint belongs to another source, start-up is refused.
    write(dir, 'more.jsonl', connectEventLines(50, 2));
    writeFileSync(config, standardConfig({ paths: ['input.jsonl', 'more.jsonl'] }));
    const changed = await cli(['run', '-c', config]);
    expect(changed.code).toBe(4);
    expect(changed.stderr).toContain('audit-forwarder checkpoint reset --route r1');
    expect(changed.stderr).toContain(join(dir, 'state/checkpoints/routes/r1.checkpoint.json'));
    expect(idsIn(out)).toHaveLength(15);
  });
});

describe('audit-forwarder checkpoint', () => {
  it('show prints the position of each sink; reset keeps the old file and the next run forwards everything again', async () => {
    const dir = tempDir();
    const input = write(dir, 'input.jsonl', connectEventLines(0, 20));
    const config = write(dir, 'config.yaml', standardConfig({ sinks: { archive: 'out/archive.jsonl', copy: 'out/copy.jsonl' } }));
    const run = await cli(['run', '-c', config]);
    expect(run.code).toBe(0);

    const [show, showAll] = await Promise.all([cli(['checkpoint', 'show', '-c', config, '--route', 'r1']), cli(['checkpoint', 'show', '-c', config])]);
    expect(show.code).toBe(0);
    expect(show.stdout.startsWith('routes/r1:\n')).toBe(true);
    const cp = JSON.parse(show.stdout.slice('routes/r1:\n'.length)) as {
      key: string;
      sinks: Record<string, { position: { file: string; line: number; offset: number }; records: number }>;
    };
    expect(cp.key).toBe('routes/r1');
    expect(Object.keys(cp.sinks).sort()).toEqual(['archive', 'copy']);
    const size = readFileSync(input).length;
    for (const sink of ['archive', 'copy']) {
      expect(cp.sinks[sink]!.position).toEqual({ file: input, line: 20, offset: size });
      expect(cp.sinks[sink]!.records).toBe(20);
    }
    expect(showAll.code).toBe(0);
    expect(showAll.stdout).toBe(show.stdout);

    const checkpoints = join(dir, 'state/checkpoints/routes');
    const before = readFileSync(join(checkpoints, 'r1.checkpoint.json'));
    const reset = await cli(['checkpoint', 'reset', '-c', config, '--route', 'r1']);
    expect(reset.code).toBe(0);
    expect(reset.stdout).toContain('routes/r1: reset');
    const names = readdirSync(checkpoints);
    expect(names).not.toContain('r1.checkpoint.json');
    const kept = names.filter((n) => /^r1\.checkpoint\.json\.reset-/.test(n));
    expect(kept).toHaveLength(1);
    expect(readFileSync(join(checkpoints, kept[0]!))).toEqual(before);

    const [showNone, again] = await Promise.all([
      cli(['checkpoint', 'show', '-c', config, '--route', 'r1']),
      cli(['checkpoint', 'reset', '-c', config, '--route', 'r1']),
    ]);
    expect(showNone.code).toBe(0);
    expect(showNone.stdout).toContain('routes/r1: no checkpoint');
    expect(again.code).toBe(0);
    expect(again.stdout).toContain('there was no checkpoint');

    const rerun = await cli(['run', '-c', config]);
    expect(rerun.code).toBe(0);
    const all = range(0, 20).map(idOf);
    expect(idsIn(join(dir, 'out/archive.jsonl'))).toEqual([...all, ...all]);
    expect(idsIn(join(dir, 'out/copy.jsonl'))).toEqual([...all, ...all]);
    expect(linesOf(join(dir, 'state/dead-letter/r1.dlq.jsonl'))).toEqual([]);
  });

  it('reset and show: a route that does not exist is a usage error (exit 2) listing the routes', async () => {
    const dir = tempDir();
    write(dir, 'input.jsonl', '');
    const config = write(dir, 'config.yaml', standardConfig({}));
    const [reset, show, missing] = await Promise.all([
      cli(['checkpoint', 'reset', '-c', config, '--route', 'nope']),
      cli(['checkpoint', 'show', '-c', config, '--route', 'nope']),
      cli(['checkpoint', 'reset', '-c', config]),
    ]);
    for (const r of [reset, show]) {
      expect(r.code).toBe(2);
      expect(r.stderr).toContain('"nope"');
      expect(r.stderr).toContain('r1');
    }
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('--route');
  });
});

describe('audit-forwarder run, a sink that can never be written', () => {
  it('stops that route with exit 1 and the reason; the other sink of the route delivers everything', async () => {
    const dir = tempDir();
    write(dir, 'input.jsonl', connectEventLines(0, 20));
    write(dir, 'blocker', 'a file, not a directory\n');
    const config = write(dir, 'config.yaml', standardConfig({ sinks: { good: 'out/good.jsonl', bad: 'blocker/events.jsonl' } }));
    const r = await cli(['run', '-c', config, '--log-level', 'info']);
    expect(r.code).toBe(1);
    // The summary is log lines: one per lane (the failed one at error, with its reason), then the headline,
    // which says which route failed and why.
    const logs = r.stderr.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(logs.at(-1)).toMatchObject({ level: 'error', lanes: 2, failed: 1 });
    expect(logs.at(-1)!['msg']).toMatch(/^run ended: route r1 → bad failed: sink bad refuses all data: .*blocker/);
    const bad = logs.find((l) => l['sink'] === 'bad' && l['state'] === 'failed');
    expect(bad).toMatchObject({ level: 'error', read: 20, delivered: 0, not_committed: 20 });
    expect(bad!['err']).toMatch(/^sink bad refuses all data: .*blocker/);
    expect(logs.find((l) => l['sink'] === 'good' && l['state'] === 'finished')).toMatchObject({ level: 'info', read: 20, delivered: 20, msg: expect.stringMatching(/^r1 → good: finished; read 20, delivered 20/) });
    expect(linesOf(join(dir, 'out/good.jsonl'))).toHaveLength(20);
  });
});
