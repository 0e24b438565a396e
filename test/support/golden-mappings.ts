// The one golden-file walker of the mappings: every input under test/golden/mappings/inputs, through one mapping
// (and every heartbeat summary under test/golden/mappings/heartbeat-inputs, through its `heartbeat()`).
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { HeartbeatSummary, MapResult, Mapping, MappingOptions } from '../../src/contracts/mapping.ts';
import type { AuditEvent } from '../../src/model/audit-event.ts';
import { decodeRecord, type InputFormat } from '../../src/model/decode.ts';
import { toJsonLine } from '../../src/model/json.ts';

export const GOLDEN = resolve(import.meta.dirname, '../golden/mappings');
const INPUTS = join(GOLDEN, 'inputs');
/** Heartbeat summaries (`<case>.input.json`: `{summary, options?}`); outputs in `<mapping>/heartbeat/<case>.expected.json`. */
const HEARTBEAT_INPUTS = join(GOLDEN, 'heartbeat-inputs');
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
export function mappedGoldens<T>(mapping: Pick<Mapping<T>, 'map'>): Array<{ name: string; event: AuditEvent; value: T }> {
  return goldenCases().flatMap((c) => {
    const r = mapping.map(c.event, c.options);
    return r.kind === 'mapped' ? [{ name: c.name, event: c.event, value: r.value }] : [];
  });
}

/**
 * `result` against the expected file `<dir>/<name>.expected.json` (the MapResult as JSON; for `text` encodings the
 * record is also written as `<name>.expected.txt` for reading), or, with `update`, written there.
 */
function expectGolden(dir: string, name: string, result: MapResult, encoding: Mapping['encoding'], update: boolean): void {
  if (result.kind === 'mapped') {
    const text = encoding === 'json' ? toJsonLine(result.value) : (result.value as string);
    expect(typeof text).toBe('string');
    expect(text).not.toMatch(/[\r\n\u2028\u2029]/);
  }
  const file = join(dir, `${name}.expected.json`);
  if (update) {
    mkdirSync(dir, { recursive: true });
    // U+2028/U+2029 as JSON escapes: the same JSON, but visible in an editor and a diff.
    writeFileSync(file, `${JSON.stringify(result, null, 2).replace(/[\u2028\u2029]/g, (c) => (c === '\u2028' ? '\\u2028' : '\\u2029'))}\n`);
    if (encoding === 'text' && result.kind === 'mapped') writeFileSync(join(dir, `${name}.expected.txt`), `${result.value as string}\n`);
    return;
  }
  expect(existsSync(file), `${file} is missing (run with UPDATE_GOLDEN=1 and review it)`).toBe(true);
  expect(JSON.parse(JSON.stringify(result))).toEqual(JSON.parse(readFileSync(file, 'utf8')));
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
      expectGolden(dir, c.name, result, mapping.encoding, update);
    });
    it('has a golden case for every Connect event type and cases that come out invalid', () => {
      const types = new Set(cases.filter((c) => c.event.origin?.kind === 'cofide-connect').map((c) => c.event.type));
      expect(types.size).toBeGreaterThanOrEqual(35);
      expect(cases.filter((c) => mapping.map(c.event, c.options).kind === 'invalid').length).toBeGreaterThanOrEqual(3);
    });
  });
}

export interface HeartbeatGoldenInput {
  /** A heartbeat summary, as the ledger gives it (or broken on purpose, for the invalid cases). */
  readonly summary: HeartbeatSummary;
  readonly options?: Record<string, string>;
}

export interface HeartbeatGoldenCase {
  readonly name: string;
  readonly summary: HeartbeatSummary;
  readonly options: MappingOptions;
}

/** Every golden heartbeat input, sorted by name. */
export function heartbeatCases(): HeartbeatGoldenCase[] {
  return readdirSync(HEARTBEAT_INPUTS)
    .filter((f) => f.endsWith('.input.json'))
    .sort()
    .map((f) => {
      const input = JSON.parse(readFileSync(join(HEARTBEAT_INPUTS, f), 'utf8')) as HeartbeatGoldenInput;
      return { name: f.replace(/\.input\.json$/, ''), summary: input.summary, options: { observedTime: GOLDEN_OBSERVED_TIME, ...input.options } };
    });
}

/**
 * Compares `mapping.heartbeat` on every golden heartbeat input with
 * `test/golden/mappings/<mapping.name>/heartbeat/<case>.expected.json` (and `.expected.txt` for `text` encodings);
 * `UPDATE_GOLDEN=1` rewrites them.
 */
export function describeHeartbeatGolden(mapping: Mapping): void {
  const dir = join(GOLDEN, mapping.name, 'heartbeat');
  const update = process.env.UPDATE_GOLDEN === '1';
  describe(`golden heartbeat ${mapping.name}`, () => {
    const heartbeat = mapping.heartbeat?.bind(mapping);
    if (heartbeat === undefined) throw new Error(`mapping ${mapping.name} has no heartbeat()`);
    const cases = heartbeatCases();
    it.each(cases.map((c) => [c.name, c] as const))('%s', (_name, c) => {
      const result: MapResult = heartbeat(c.summary, c.options);
      // Pure: the same input gives the same output.
      expect(heartbeat(structuredClone(c.summary), { ...c.options })).toEqual(result);
      expectGolden(dir, c.name, result, mapping.encoding, update);
    });
    it('has a late case, a case with route options and a case that comes out invalid', () => {
      expect(cases.some((c) => c.summary.late === true && heartbeat(c.summary, c.options).kind === 'mapped')).toBe(true);
      expect(cases.some((c) => Object.keys(c.options).length > 1)).toBe(true);
      expect(cases.filter((c) => heartbeat(c.summary, c.options).kind === 'invalid').length).toBeGreaterThanOrEqual(1);
    });
  });
}
