// `audit-forwarder map` reads lines as the daemon does: split at \n only, bytes checked as UTF-8, a deep record one bad line.
import { describe, expect, it } from 'vitest';
import { cli } from './cli-helpers.ts';

const cadf = (i: number, extra: Record<string, unknown> = {}): string =>
  JSON.stringify({ id: `cadf-${i}`, eventTime: '2026-05-12T07:59:16Z', action: 'create', outcome: 'success', ...extra });

/** A CADF record whose requestData is `depth` arrays deep: the reproduction of the issue (6 KB at 3,000). */
const deepCadf = (i: number, depth: number): string => `${cadf(i).slice(0, -1)},"requestData":${'['.repeat(depth)}${']'.repeat(depth)}}`;

const idsOf = (stdout: string): string[] =>
  stdout
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => (JSON.parse(l) as { id: string }).id);
const errorLines = (stderr: string): string[] => stderr.split('\n').filter((l) => l !== '');

describe('audit-forwarder map reads lines as the daemon does', () => {
  it('the issue: a record 3,000 levels deep is one bad line; the lines around it map (exit 2)', async () => {
    const input = [cadf(1), cadf(2), deepCadf(3, 3000), cadf(4)].join('\n');
    const r = await cli(['map', '--to', 'cef'], { input: `${input}\n` });
    expect(r.code).toBe(2);
    const out = r.stdout.split('\n').filter((l) => l !== '');
    expect(out).toHaveLength(3);
    expect(out.map((l) => /externalId=(\S+)/.exec(l)?.[1])).toEqual(['cadf-1', 'cadf-2', 'cadf-4']);
    const errors = errorLines(r.stderr);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(/^line 3: requestData\[0\]\S*… \(3001 levels\): nested deeper than maxNestingDepth \(128\)/);
    expect(r.stderr).not.toMatch(/RangeError|call stack/);
  });

  it('a record 100,000 levels deep is one bad line too', async () => {
    const r = await cli(['map', '--to', 'canonical'], { input: `${cadf(1)}\n${deepCadf(2, 100_000)}\n${cadf(3)}\n` });
    expect(r.code).toBe(2);
    expect(idsOf(r.stdout)).toEqual(['cadf-1', 'cadf-3']);
    expect(errorLines(r.stderr)).toEqual([expect.stringMatching(/^line 2: requestData.*nested deeper than maxNestingDepth/)]);
  });

  it('U+2028 / U+2029 inside a string and a lone CR between members are part of the line; later line numbers stay right', async () => {
    const withSeparators = cadf(2, { message: 'before\u2028between\u2029after' });
    const withLoneCr = cadf(3).replace(',"action"', ',\r"action"');
    const input = [cadf(1), withSeparators, withLoneCr, 'not JSON', cadf(5)].join('\n');
    const r = await cli(['map', '--to', 'canonical'], { input: `${input}\n` });
    expect(r.code).toBe(2);
    expect(idsOf(r.stdout)).toEqual(['cadf-1', 'cadf-2', 'cadf-3', 'cadf-5']);
    const mapped = r.stdout.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as { message?: string });
    expect(mapped[1]!.message).toBe('before\u2028between\u2029after');
    expect(errorLines(r.stderr)).toEqual([expect.stringMatching(/^line 4: not valid JSON/)]);
  });

  it('invalid UTF-8 is reported bad with its line number, not mapped with U+FFFD; the lines after keep their numbers', async () => {
    const bad = Buffer.concat([Buffer.from(cadf(2).slice(0, 20)), Buffer.from([0xff, 0xc3, 0x28]), Buffer.from(cadf(2).slice(20))]);
    const input = Buffer.concat([Buffer.from(`${cadf(1)}\n`), bad, Buffer.from(`\r\n\n${cadf(4)}\r\nbroken\n${cadf(6)}`)]);
    const r = await cli(['map', '--to', 'canonical'], { input });
    expect(r.code).toBe(2);
    // The last line has no newline: it is still a line.
    expect(idsOf(r.stdout)).toEqual(['cadf-1', 'cadf-4', 'cadf-6']);
    expect(r.stdout).not.toContain('\ufffd');
    expect(errorLines(r.stderr)).toEqual(['line 2: line is not valid UTF-8', expect.stringMatching(/^line 5: not valid JSON/)]);
  });

  it('a line longer than the daemon default maxLineBytes is reported bad with its size; reading goes on', async () => {
    const long = cadf(2, { message: 'm'.repeat(1024 * 1024) });
    const r = await cli(['map', '--to', 'canonical'], { input: `${cadf(1)}\n${long}\n${cadf(3)}\n` });
    expect(r.code).toBe(2);
    expect(idsOf(r.stdout)).toEqual(['cadf-1', 'cadf-3']);
    expect(errorLines(r.stderr)).toEqual([`line 2: line of ${Buffer.byteLength(long) + 1} bytes is longer than maxLineBytes (1048576)`]);
  });
});
