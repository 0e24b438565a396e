// `audit-forwarder dlq list|redrive` as child processes, on dead-letter files written by a real run.
import { appendFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { decodeLine } from '../../src/model/decode.ts';
import { connectEventJson, connectEventLines } from '../support/generate.ts';
import { cli, jsonLinesOf, removeTempDirs, standardConfig, tempDir, write } from './cli-helpers.ts';

afterAll(removeTempDirs);

/** A sink-stage dead letter, as the lane writes one when a sink refuses a record, for a valid event. */
function sinkStageEntry(i: number): { line: string; event: Record<string, unknown> } {
  const decoded = decodeLine(JSON.stringify(connectEventJson(i)), 'connect');
  if (!decoded.ok) throw new Error('the generated event does not decode');
  const event = JSON.parse(JSON.stringify(decoded.event)) as Record<string, unknown>;
  const entry = {
    time: '2026-03-02T10:00:00.000Z',
    route: 'r1',
    sink: 'archive',
    stage: 'sink',
    reason: 'HTTP 400: event rejected by the collector',
    eventId: event['id'],
    event,
    payload: JSON.stringify(event),
  };
  return { line: `${JSON.stringify(entry)}\n`, event };
}

describe('audit-forwarder dlq', () => {
  it('list shows each dead letter; redrive keeps what still fails (exit 1) and delivers what it can', async () => {
    const dir = tempDir();
    const noTime = connectEventJson(90);
    delete noTime['occurredAt'];
    const input = write(dir, 'input.jsonl', `${connectEventLines(0, 3)}not json at all\n${JSON.stringify(noTime)}\n${connectEventLines(3, 2)}`);
    const config = write(dir, 'config.yaml', standardConfig({}));
    const out = join(dir, 'out/archive.jsonl');
    const dlq = join(dir, 'state/dead-letter/r1.dlq.jsonl');
    expect((await cli(['run', '-c', config])).code).toBe(0);
    expect(jsonLinesOf(out)).toHaveLength(5);

    const [list, json] = await Promise.all([
      cli(['dlq', 'list', '-c', config, '--route', 'r1']),
      cli(['dlq', 'list', '-c', config, '--route', 'r1', '--json']),
    ]);
    expect(list.code).toBe(0);
    const rows = list.stdout.split('\n').filter((l) => l !== '').map((l) => l.split('\t'));
    expect(rows).toHaveLength(2);
    expect(rows.map((r) => [r[0], r[2], r[3], r[4]])).toEqual([
      ['1', 'archive', 'decode', `${input}:4`],
      ['2', 'archive', 'decode', `${input}:5`],
    ]);
    expect(rows[0]![5]).toContain('JSON');
    expect(rows[1]![5]).toMatch(/^occurredAt: \S/);
    expect(list.stderr).toContain('2 dead letter(s)');
    expect(json.code).toBe(0);
    const entries = json.stdout.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(entries.map((e) => [e['line'], e['stage'], e['raw']])).toEqual([
      [1, 'decode', 'not json at all'],
      [2, 'decode', JSON.stringify(noTime)],
    ]);

    // Nothing here can be decoded, and an entry whose `event` is not an event is not sent: everything stays.
    appendFileSync(dlq, `${JSON.stringify({ time: '2026-03-02T09:00:00.000Z', route: 'r1', sink: 'archive', stage: 'sink', reason: 'HTTP 400', event: { note: 'edited by hand' } })}\n`);
    const before = jsonLinesOf(dlq);
    const stuck = await cli(['dlq', 'redrive', '-c', config, '--route', 'r1']);
    expect(stuck.code).toBe(1);
    expect(stuck.stdout).toContain('redriven 0, still dead-lettered 3');
    expect(stuck.stderr).toMatch(/^line 3: /m);
    expect(jsonLinesOf(dlq)).toEqual(before);
    expect(jsonLinesOf(out)).toHaveLength(5);

    // A record the sink had refused, whose event is valid: redrive delivers it and marks it resolved.
    const refused = sinkStageEntry(500);
    appendFileSync(dlq, refused.line);
    const listed = await cli(['dlq', 'list', '-c', config, '--route', 'r1']);
    const fourth = listed.stdout.split('\n').filter((l) => l !== '')[3]!.split('\t');
    expect(fourth).toEqual(['4', '2026-03-02T10:00:00.000Z', 'archive', 'sink', refused.event['id'], 'HTTP 400: event rejected by the collector']);

    const partly = await cli(['dlq', 'redrive', '-c', config, '--route', 'r1']);
    expect(partly.code).toBe(1);
    expect(partly.stdout).toContain('redriven 1, still dead-lettered 3');
    const delivered = jsonLinesOf(out);
    expect(delivered).toHaveLength(6);
    expect(delivered[5]).toEqual(refused.event);
    // The dead-letter file is never rewritten; the resolution is recorded beside it.
    expect(jsonLinesOf(dlq)).toEqual([...before, JSON.parse(refused.line)]);
    expect(jsonLinesOf(join(dir, 'state/dead-letter/r1.dlq.resolved.jsonl'))).toEqual([
      expect.objectContaining({ line: 4, sink: 'archive', eventId: refused.event['id'], how: 'redriven' }),
    ]);
    const [remaining, all] = await Promise.all([
      cli(['dlq', 'list', '-c', config, '--route', 'r1']),
      cli(['dlq', 'list', '-c', config, '--route', 'r1', '--all']),
    ]);
    expect(remaining.stderr).toContain('3 dead letter(s)');
    expect(all.stderr).toContain('4 dead letter(s)');
    // Redriving again sends nothing twice.
    const again = await cli(['dlq', 'redrive', '-c', config, '--route', 'r1']);
    expect(again.stdout).toContain('redriven 0, still dead-lettered 3');
    expect(jsonLinesOf(out)).toHaveLength(6);
  });

  it('redrive exits 0 and leaves nothing to list when every entry is delivered', async () => {
    const dir = tempDir();
    write(dir, 'input.jsonl', connectEventLines(0, 2));
    const config = write(dir, 'config.yaml', standardConfig({}));
    const dlq = join(dir, 'state/dead-letter/r1.dlq.jsonl');
    expect((await cli(['run', '-c', config])).code).toBe(0);
    const a = sinkStageEntry(700);
    const b = sinkStageEntry(701);
    mkdirSync(join(dir, 'state/dead-letter'), { recursive: true });
    // A record an older release could not decode: the route's source (format: connect) decodes it now.
    const raw = JSON.stringify(connectEventJson(702));
    const c = `${JSON.stringify({ time: '2026-03-02T10:00:01.000Z', route: 'r1', sink: 'archive', stage: 'decode', reason: 'older release', raw })}\n`;
    writeFileSync(dlq, a.line + b.line + c);

    const r = await cli(['dlq', 'redrive', '-c', config, '--route', 'r1']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('redriven 3, still dead-lettered 0');
    expect(readFileSync(dlq, 'utf8')).toBe(a.line + b.line + c);
    const redriven = jsonLinesOf(join(dir, 'out/archive.jsonl')).slice(2);
    expect(redriven.slice(0, 2)).toEqual([a.event, b.event]);
    expect(redriven[2]).toMatchObject({ id: connectEventJson(702)['id'], raw: JSON.parse(raw) });

    const [list, unknown, missing] = await Promise.all([
      cli(['dlq', 'list', '-c', config, '--route', 'r1']),
      cli(['dlq', 'list', '-c', config, '--route', 'nope']),
      cli(['dlq', 'redrive', '-c', config]),
    ]);
    expect(list.code).toBe(0);
    expect(list.stdout).toBe('');
    expect(list.stderr).toContain('0 dead letter(s)');
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('"nope"');
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('--route');
  });
});
