// `audit-forwarder replay` as a child process: time range, dry run, its own resumable checkpoint, usage errors.
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { EVENT_TYPES } from '../../src/model/event-types.ts';
import { connectEventJson } from '../support/generate.ts';
import { cli, jsonLinesOf, linesOf, removeTempDirs, standardConfig, tempDir, write } from './cli-helpers.ts';

afterAll(removeTempDirs);

const TOTAL = 100;
const FROM = '2026-03-01T00:00:10Z';
const TO = '2026-03-01T00:01:00Z';
const SLUG = '20260301T000010Z--20260301T000100Z';
const typeOf = (i: number) => EVENT_TYPES[i % EVENT_TYPES.length]!.name;

/** 100 events about one second apart from 2026-03-01T00:00:00Z, with an undecodable line after the 50th. */
function setup() {
  const dir = tempDir();
  const lines = Array.from({ length: TOTAL }, (_, i) => JSON.stringify(connectEventJson(i)));
  lines.splice(50, 0, 'garbage, not an event');
  write(dir, 'input.jsonl', `${lines.join('\n')}\n`);
  const config = write(dir, 'config.yaml', standardConfig({ routeExtra: '    disabledEvents: [node_attestation]' }));
  return { dir, config, out: join(dir, 'out/archive.jsonl'), dlq: join(dir, 'state/dead-letter/r1.dlq.jsonl') };
}

/** The generator indexes a replay of [FROM, TO) must send: in the range, and not a node attestation. */
function expectedIndexes(): number[] {
  const from = '2026-03-01T00:00:10.000000Z';
  const to = '2026-03-01T00:01:00.000000Z';
  return Array.from({ length: TOTAL }, (_, i) => i).filter((i) => {
    const t = connectEventJson(i)['occurredAt'] as string;
    return t >= from && t < to && typeOf(i) !== 'node_attestation';
  });
}

function countByType(types: readonly string[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const t of types) counts[t] = (counts[t] ?? 0) + 1;
  return counts;
}

/** The per-type rows of the dry-run table, and its total line. */
function parseDryRun(stdout: string): { counts: Record<string, number>; total: string } {
  const lines = stdout.split('\n').filter((l) => l !== '');
  expect(lines[0]).toMatch(/^dry run of route r1, 2026-03-01T00:00:10\.000000Z to 2026-03-01T00:01:00\.000000Z: would send$/);
  const counts: Record<string, number> = {};
  let total = '';
  for (const line of lines.slice(1)) {
    const m = /^ {2}(\S+) +(\d+)(.*)$/.exec(line);
    expect(m, line).not.toBeNull();
    if (m![1] === 'total') total = `${m![2]}${m![3]}`;
    else counts[m![1]!] = Number(m![2]);
  }
  return { counts, total };
}

describe('audit-forwarder replay', () => {
  it('forwards only [from, to), the dry run counts what it then sends, it has its own resumable checkpoint', async () => {
    const { dir, config, out, dlq } = setup();
    const expected = expectedIndexes();
    expect(expected.length).toBeGreaterThan(40);
    expect(new Set(expected.map(typeOf)).size).toBeLessThan(expected.length); // some types occur more than once

    // The live position first: the replay must leave it alone.
    const live = await cli(['run', '-c', config]);
    expect(live.code).toBe(0);
    const liveCheckpoint = join(dir, 'state/checkpoints/routes/r1.checkpoint.json');
    const liveBytes = readFileSync(liveCheckpoint);
    const liveLines = linesOf(out);
    const dlqLines = linesOf(dlq);
    expect(dlqLines).toHaveLength(1);

    const replayArgs = ['replay', '-c', config, '--route', 'r1', '--from', FROM, '--to', TO];
    const replayCheckpoint = join(dir, `state/checkpoints/replays/r1/${SLUG}.checkpoint.json`);

    // Dry run: a table, nothing written.
    const dry = await cli([...replayArgs, '--dry-run']);
    expect(dry.code).toBe(0);
    const table = parseDryRun(dry.stdout);
    expect(table.counts).toEqual(countByType(expected.map(typeOf)));
    expect(table.total).toBe(`${expected.length} (read ${TOTAL + 1}, outside the range or not selected ${TOTAL - expected.length}, undecodable 1)`);
    expect(linesOf(out)).toEqual(liveLines);
    expect(existsSync(join(dir, 'state/checkpoints/replays'))).toBe(false);
    expect(linesOf(dlq)).toEqual(dlqLines);

    // The real replay sends what the dry run counted, in order, and nothing outside the range.
    const real = await cli([...replayArgs, '--max-eps', '5000']);
    expect(real.code).toBe(0);
    const sent = jsonLinesOf<{ id: string; type: string; time: string }>(out).slice(liveLines.length);
    expect(sent.map((e) => e.id)).toEqual(expected.map((i) => connectEventJson(i)['id']));
    expect(countByType(sent.map((e) => e.type))).toEqual(table.counts);
    for (const e of sent) {
      expect(e.time >= '2026-03-01T00:00:10.000000Z' && e.time < '2026-03-01T00:01:00.000000Z').toBe(true);
    }
    expect(real.stderr).toContain(`r1 → archive: finished; read ${TOTAL + 1}, delivered ${expected.length}`);
    // Not a terminal: progress is plain lines, no carriage returns.
    expect(real.stderr).not.toContain('\r');
    expect(real.stderr).toMatch(/^replay +\d+% read=\d+ delivered=\d+/m);

    expect(existsSync(replayCheckpoint)).toBe(true);
    expect(readFileSync(liveCheckpoint)).toEqual(liveBytes);

    // The same replay again resumes at its end: nothing new.
    const again = await cli(replayArgs);
    expect(again.code).toBe(0);
    expect(jsonLinesOf(out)).toHaveLength(liveLines.length + expected.length);

    // --restart starts it over: everything in the range is sent again; the old checkpoint is kept aside.
    const restart = await cli([...replayArgs, '--restart']);
    expect(restart.code).toBe(0);
    const after = jsonLinesOf<{ id: string }>(out).slice(liveLines.length + expected.length);
    expect(after.map((e) => e.id)).toEqual(expected.map((i) => connectEventJson(i)['id']));
    expect(readdirSync(join(dir, 'state/checkpoints/replays/r1')).some((n) => n.startsWith(`${SLUG}.checkpoint.json.reset-`))).toBe(true);
    expect(readFileSync(liveCheckpoint)).toEqual(liveBytes);

    // The live route still has nothing new to send.
    const liveAgain = await cli(['run', '-c', config, '--log-level', 'info']);
    expect(liveAgain.code).toBe(0);
    expect(liveAgain.stderr).toContain('r1 → archive: finished; read 0, delivered 0');
  });

  it('usage errors exit 2: --from after --to, an empty range, a bad time, a bad --max-eps, a missing option, an unknown route', async () => {
    const { config, out } = setup();
    const base = ['replay', '-c', config, '--route', 'r1'];
    const results = await Promise.all([
      cli([...base, '--from', TO, '--to', FROM]),
      cli([...base, '--from', FROM, '--to', FROM]),
      cli([...base, '--from', 'last tuesday', '--to', TO]),
      cli([...base, '--from', '2026-03-01T00:00:10', '--to', TO]),
      cli([...base, '--from', FROM, '--to', TO, '--max-eps', '0']),
      cli([...base, '--from', FROM]),
      cli(['replay', '-c', config, '--route', 'nope', '--from', FROM, '--to', TO]),
    ]);
    for (const r of results) expect(r.code, r.stderr).toBe(2);
    const [after, empty, badTime, noZone, maxEps, missing, route] = results;
    expect(after!.stderr).toContain('--from must be before --to');
    expect(empty!.stderr).toContain('--from must be before --to');
    expect(badTime!.stderr).toContain('last tuesday');
    expect(noZone!.stderr).toContain('2026-03-01T00:00:10');
    expect(maxEps!.stderr).toContain('--max-eps');
    expect(missing!.stderr).toContain('--to');
    expect(route!.stderr).toContain('"nope"');
    expect(existsSync(out)).toBe(false);
  });
});
