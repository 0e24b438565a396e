// The one golden-file walker of the mappings: every input under test/golden/mappings/inputs, through one mapping.
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { MapResult, Mapping, MappingOptions } from '../../src/contracts/mapping.ts';
import type { AuditEvent } from '../../src/model/audit-event.ts';
import { decodeRecord, type InputFormat } from '../../src/model/decode.ts';
import { toJsonLine } from '../../src/model/json.ts';

export const GOLDEN = resolve(import.meta.dirname, '../golden/mappings');
const INPUTS = join(GOLDEN, 'inputs');
/** The engine's `observedTime` in every golden case, so that outputs are stable. */
export const GOLDEN_OBSERVED_TIME = '2026-05-12T12:00:00.000000Z';

export interface GoldenInput {
  readonly format?: InputFormat;
  /** A source record (Connect proto3 JSON, CADF), decoded first… */
  readonly record?: unknown;
  /** …or a canonical event given as is (for inputs no decoder would produce). */
  readonly event?: AuditEvent;
  readonly options?: Record<string, string>;
}

export interface GoldenCase {
  readonly name: string;
  readonly event: AuditEvent;
  readonly options: MappingOptions;
}

/** Every golden input as a canonical event, sorted by name. */
export function goldenCases(): GoldenCase[] {
  return readdirSync(INPUTS)
    .filter((f) => f.endsWith('.input.json'))
    .sort()
    .map((f) => {
      const input = JSON.parse(readFileSync(join(INPUTS, f), 'utf8')) as GoldenInput;
      const name = f.replace(/\.input\.json$/, '');
      let event = input.event;
      if (event === undefined) {
        const decoded = decodeRecord(input.record, input.format ?? 'auto');
        if (!decoded.ok) throw new Error(`golden input ${f} does not decode: ${decoded.error.path}: ${decoded.error.reason}`);
        event = decoded.event;
      }
      return { name, event, options: { observedTime: GOLDEN_OBSERVED_TIME, ...input.options } };
    });
}

/** The mapped value of each case that maps (for format-specific checks over all golden outputs). */
export function mappedGoldens<T>(mapping: Mapping<T>): Array<{ name: string; event: AuditEvent; value: T }> {
  return goldenCases().flatMap((c) => {
    const r = mapping.map(c.event, c.options);
    return r.kind === 'mapped' ? [{ name: c.name, event: c.event, value: r.value }] : [];
  });
}

/**
 * Compares `mapping` on every golden input with `test/golden/mappings/<mapping.name>/<case>.expected.json`
 * (the MapResult as JSON; for `text` encodings the record is also written as `<case>.expected.txt` for
 * reading). `UPDATE_GOLDEN=1` rewrites the expected files instead: read the diff before committing.
 */
export function describeGolden(mapping: Mapping): void {
  const dir = join(GOLDEN, mapping.name);
  const update = process.env.UPDATE_GOLDEN === '1';
  describe(`golden ${mapping.name}`, () => {
    const cases = goldenCases();
    it.each(cases.map((c) => [c.name, c] as const))('%s', (_name, c) => {
      const result: MapResult = mapping.map(c.event, c.options);
      // Pure: the same input gives the same output.
      expect(mapping.map(structuredClone(c.event), { ...c.options })).toEqual(result);
      if (result.kind === 'mapped') {
        const text = mapping.encoding === 'json' ? toJsonLine(result.value) : (result.value as string);
        expect(typeof text).toBe('string');
        expect(text).not.toMatch(/[\r\n\u2028\u2029]/);
      }
      const file = join(dir, `${c.name}.expected.json`);
      if (update) {
        mkdirSync(dir, { recursive: true });
        // U+2028/U+2029 as JSON escapes: the same JSON, but visible in an editor and a diff.
        writeFileSync(file, `${JSON.stringify(result, null, 2).replace(/[\u2028\u2029]/g, (c) => (c === '\u2028' ? '\\u2028' : '\\u2029'))}\n`);
        if (mapping.encoding === 'text' && result.kind === 'mapped') writeFileSync(join(dir, `${c.name}.expected.txt`), `${result.value as string}\n`);
        return;
      }
      expect(existsSync(file), `${file} is missing (run with UPDATE_GOLDEN=1 and review it)`).toBe(true);
      expect(JSON.parse(JSON.stringify(result))).toEqual(JSON.parse(readFileSync(file, 'utf8')));
    });
    it('has a golden case for every Connect event type and cases that come out invalid', () => {
      const types = new Set(cases.filter((c) => c.event.origin?.kind === 'cofide-connect').map((c) => c.event.type));
      expect(types.size).toBeGreaterThanOrEqual(35);
      expect(cases.filter((c) => mapping.map(c.event, c.options).kind === 'invalid').length).toBeGreaterThanOrEqual(3);
    });
  });
}
