// End to end: hostile audit lines (nested 3,000 and 100,000 deep) between good ones, through `run` on tailed audit files.
import { appendFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cadfId, cadfLines } from '../support/cadf-lines.ts';
import { cleanUp, Output, setup, start, stop, waitFor } from '../support/audit-files-harness.ts';
import { jsonLinesOf } from '../cli/cli-helpers.ts';

afterAll(cleanUp);

/** The reproduction: a valid CADF record whose requestData nests `depth` arrays. */
function deepLine(id: string, depth: number): string {
  return `${JSON.stringify({ id, eventTime: '2026-05-12T07:59:16Z', action: 'create', outcome: 'success' }).slice(0, -1)},"requestData":${'['.repeat(depth)}${']'.repeat(depth)}}\n`;
}

describe('hostile input through run', () => {
  it('deep lines in the same read chunk as good lines: the good ones are delivered, the deep ones dead-lettered, the route goes on and restarts cleanly', async () => {
    const env = setup();
    const live = join(env.logs, 'auth-pdp-audit.log');
    // One write, far smaller than a read chunk: the good lines before the deep ones are in the chunk that used to stop the route.
    writeFileSync(live, cadfLines('good', 0, 5) + deepLine('deep-3000', 3_000) + cadfLines('good', 5, 5) + deepLine('deep-100000', 100_000) + cadfLines('good', 10, 5));
    const out = new Output(env.out);
    const good = Array.from({ length: 15 }, (_, i) => cadfId('good', i));
    const first = start(env);
    await waitFor('the 15 good lines', () => out.hasAll(good), first);
    await waitFor('two dead letters', () => jsonLinesOf(env.dlq).length === 2, first);
    // Still running: lines written after the deep ones are forwarded.
    appendFileSync(live, cadfLines('later', 0, 3));
    await waitFor('the later lines', () => out.hasAll([0, 1, 2].map((i) => cadfId('later', i))), first);
    await stop(first);

    const letters = jsonLinesOf<{ stage: string; code: string; path: string; locator: string; reason: string }>(env.dlq);
    expect(letters.map((l) => [l.stage, l.code])).toEqual([
      ['decode', 'FWD_DECODE_TOO_DEEP'],
      ['decode', 'FWD_DECODE_TOO_DEEP'],
    ]);
    expect(letters[0]!.path).toMatch(/^requestData\[0\]/);
    expect(letters[0]!.locator).toBe(`${live}:6`);
    expect(letters[1]!.locator).toBe(`${live}:12`);
    expect(out.poll().ids.filter((id) => id.startsWith('good') || id.startsWith('later'))).toEqual([...good, ...[0, 1, 2].map((i) => cadfId('later', i))]);

    // A restart does not stop on them either, and sends nothing again.
    const second = start(env);
    appendFileSync(live, cadfLines('after-restart', 0, 2));
    await waitFor('the lines after the restart', () => out.hasAll([0, 1].map((i) => cadfId('after-restart', i))), second);
    await stop(second);
    expect(out.poll().ids).toHaveLength(15 + 3 + 2);
    expect(jsonLinesOf(env.dlq)).toHaveLength(2);
  });
});
