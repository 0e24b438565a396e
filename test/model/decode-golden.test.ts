// Golden decoder tests: each test/golden/decode/<case>.input.json must decode to <case>.expected.json (UPDATE_GOLDEN=1 rewrites).
import { describe, it, expect } from 'vitest';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { decodeLine, decodeRecord } from '../../src/model/decode.ts';
import type { DecodeContext, InputFormat } from '../../src/model/decode.ts';

const DIR = fileURLToPath(new URL('../golden/decode/', import.meta.url));
const UPDATE = process.env['UPDATE_GOLDEN'] === '1';

interface GoldenInput {
  readonly format: InputFormat;
  readonly context?: DecodeContext;
  /** The parsed JSON record, or… */
  readonly record?: unknown;
  /** …a raw line of text, for cases about the text itself. */
  readonly line?: string;
}

const cases = readdirSync(DIR)
  .filter((f) => f.endsWith('.input.json'))
  .map((f) => f.slice(0, -'.input.json'.length))
  .sort();

describe('decoder golden files', () => {
  it('has cases', () => {
    expect(cases.length).toBeGreaterThanOrEqual(25);
  });

  it.each(cases)('%s', (name) => {
    const input = JSON.parse(readFileSync(join(DIR, `${name}.input.json`), 'utf8')) as GoldenInput;
    const result =
      input.line !== undefined ? decodeLine(input.line, input.format, input.context) : decodeRecord(input.record, input.format, input.context);
    const actual = `${JSON.stringify(result, null, 2)}\n`;
    const expectedPath = join(DIR, `${name}.expected.json`);
    if (UPDATE) {
      writeFileSync(expectedPath, actual);
      return;
    }
    expect(existsSync(expectedPath), `${name}.expected.json is missing: run with UPDATE_GOLDEN=1 and review it`).toBe(true);
    expect(JSON.parse(actual)).toEqual(JSON.parse(readFileSync(expectedPath, 'utf8')));
  });
});
