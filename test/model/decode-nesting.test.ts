// The decoders at any depth and width: never a throw, a record deeper than the limit refused as FWD_DECODE_TOO_DEEP with its path.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { DecodeResult } from '../../src/model/audit-event.ts';
import { cadfField } from '../../src/model/decode-cadf.ts';
import { DEFAULT_MAX_NESTING_DEPTH, decodeLine, decodeLineBytes, decodeRecord, MAX_NESTING_DEPTH_LIMIT, type InputFormat } from '../../src/model/decode.ts';
import { jsonText } from '../../src/model/json.ts';
import { DEEP, deepEqual, deepValue, deepValueArbitrary, depthOf, nested } from '../support/deep-json.ts';

const FORMATS: readonly InputFormat[] = ['connect', 'cadf', 'auto'];
const CONNECT = { id: 'ae01deep', occurredAt: '2026-05-12T07:59:16Z', type: 'EVENT_TYPE_TRUST_ZONE_CREATION', outcome: 'OUTCOME_SUCCESS' };
const CADF = { id: 'cadf-deep', eventTime: '2026-05-12T07:59:16Z', action: 'create', outcome: 'success' };

type Placement = 'connect data' | 'connect base64 data' | 'cadf requestData' | 'whole record';
const PLACEMENTS: readonly Placement[] = ['connect data', 'connect base64 data', 'cadf requestData', 'whole record'];

/** `value` put into a record; `depth` is the record's nesting as the limit counts it (the record is 1). */
function place(value: unknown, where: Placement): { record: unknown; depth: number; valid: boolean } {
  const d = depthOf(value);
  switch (where) {
    case 'connect data':
      return { record: { ...CONNECT, data: value }, depth: 1 + d, valid: true };
    case 'connect base64 data':
      // The payload is counted where it sits once parsed, one level inside the event.
      return { record: { ...CONNECT, data: Buffer.from(jsonText(value)).toString('base64') }, depth: 1 + d, valid: true };
    case 'cadf requestData':
      return { record: { ...CADF, requestData: value }, depth: 1 + d, valid: true };
    case 'whole record':
      return { record: value, depth: d, valid: false };
  }
}

/** The rules of a result for a record `depth` deep under limit `max`. */
function check(r: DecodeResult, depth: number, max: number, validRecord: boolean, format: InputFormat, where: Placement): void {
  if (depth > max) {
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.error.code).toBe('FWD_DECODE_TOO_DEEP');
    expect(r.error.path).not.toBe('');
    expect(r.error.path.length).toBeLessThan(200);
    expect(r.error.reason).toContain(`maxNestingDepth (${max})`);
    expect(r.error.reason).toContain(`${depth} levels`);
    if (where === 'cadf requestData') expect(r.error.path).toMatch(/^requestData/);
    if (where.startsWith('connect')) expect(r.error.path).toMatch(/^data/);
    return;
  }
  if (!r.ok) expect(r.error.code).toBeUndefined();
  // A record of the right format for its fields decodes; the payload is kept whole.
  const fits = validRecord && (format === 'auto' || (format === 'cadf') === (where === 'cadf requestData'));
  if (fits) expect(r.ok).toBe(true);
}

const limit = fc.oneof(fc.constant(undefined), fc.integer({ min: 1, max: MAX_NESTING_DEPTH_LIMIT }));

describe('decoders at any nesting depth', () => {
  it('decodeRecord, decodeLine and decodeLineBytes never throw, in every format, and refuse too deep records with code and path', () => {
    fc.assert(
      fc.property(deepValueArbitrary({ maxDepth: DEEP }), fc.constantFrom(...PLACEMENTS), limit, (shape, where, maxDepth) => {
        const { record, depth, valid } = place(deepValue(shape), where);
        const max = maxDepth ?? DEFAULT_MAX_NESTING_DEPTH;
        const context = maxDepth === undefined ? undefined : { maxDepth };
        const text = jsonText(record);
        const bytes = Buffer.from(text);
        for (const format of FORMATS) {
          // Base64 data is only parsed by the Connect decoder: in CADF form it is a string.
          const effective = where === 'connect base64 data' && format === 'cadf' ? 1 : depth;
          check(decodeRecord(record, format, context), effective, max, valid, format, where);
          check(decodeLine(text, format, context), effective, max, valid, format, where);
          check(decodeLineBytes(bytes, format, context), effective, max, valid, format, where);
        }
      }),
      { numRuns: 20 },
    );
  });

  it('keeps the payload of a record within the limit whole', () => {
    fc.assert(
      fc.property(deepValueArbitrary({ maxDepth: MAX_NESTING_DEPTH_LIMIT - 2 }), (shape) => {
        // At most the limit: the payload's levels, a wide object around its leaf, and the record itself.
        const value = deepValue(shape);
        const context = { maxDepth: MAX_NESTING_DEPTH_LIMIT };
        const connect = decodeRecord({ ...CONNECT, data: value }, 'auto', context);
        expect(connect.ok && connect.event.data).toBe(value);
        const base64 = decodeRecord({ ...CONNECT, data: Buffer.from(jsonText(value)).toString('base64') }, 'connect', context);
        expect(base64.ok && deepEqual(base64.event.data, value)).toBe(true);
        const cadf = decodeLine(jsonText({ ...CADF, requestData: value }), 'cadf', context);
        expect(cadf.ok && deepEqual(cadf.event.data, value)).toBe(true);
      }),
      { numRuns: 30 },
    );
  });

  it('counts the limit exactly: the record is level 1, base64 data is counted in place', () => {
    const at = (levels: number) => nested(levels - 1, {});
    for (const max of [1, 2, 5, DEFAULT_MAX_NESTING_DEPTH]) {
      const fits = { ...CADF, requestData: at(max - 1) };
      const over = { ...CADF, requestData: at(max) };
      if (max > 1) expect(decodeRecord(fits, 'cadf', { maxDepth: max }).ok).toBe(true);
      expect(decodeRecord(over, 'cadf', { maxDepth: max })).toMatchObject({ ok: false, error: { code: 'FWD_DECODE_TOO_DEEP' } });
      expect(decodeLine(JSON.stringify(over), 'auto', { maxDepth: max })).toMatchObject({ ok: false, error: { code: 'FWD_DECODE_TOO_DEEP' } });
      const data = (v: unknown) => ({ ...CONNECT, data: Buffer.from(JSON.stringify(v)).toString('base64') });
      if (max > 1) expect(decodeRecord(data(at(max - 1)), 'connect', { maxDepth: max }).ok).toBe(true);
      expect(decodeLine(JSON.stringify(data(at(max))), 'connect', { maxDepth: max })).toMatchObject({ ok: false, error: { code: 'FWD_DECODE_TOO_DEEP', path: expect.stringMatching(/^data/) } });
    }
    expect(decodeRecord({ ...CADF, requestData: { a: [[1]] } }, 'cadf', { maxDepth: 3 })).toEqual({
      ok: false,
      error: { path: 'requestData.a[0]', reason: 'nested deeper than maxNestingDepth (3): 4 levels of objects and arrays', code: 'FWD_DECODE_TOO_DEEP' },
    });
  });

  it('the issue: a 6 KB CADF line 3,000 levels deep is a decode failure, not a RangeError', () => {
    const d = 3000;
    const line = `${JSON.stringify(CADF).slice(0, -1)},"requestData":${'['.repeat(d)}${']'.repeat(d)}}`;
    expect(decodeLine(line, 'cadf')).toEqual({
      ok: false,
      error: {
        path: `requestData${'[0]'.repeat(7)}… (${d + 1} levels)`,
        reason: `nested deeper than maxNestingDepth (${DEFAULT_MAX_NESTING_DEPTH}): ${d + 1} levels of objects and arrays`,
        code: 'FWD_DECODE_TOO_DEEP',
      },
    });
  });

  it('a field given nested and flat is compared at any depth (within the limit), and decodes once the same', () => {
    const value = nested(900, { a: 1 });
    const record = { ...CADF, initiator: { id: 'x', credential: { type: value } }, 'initiator.credential.type': nested(900, { a: 1 }) };
    expect(cadfField(record as never, 'initiator.credential.type')).toEqual({ ok: true, value });
    const other = { ...record, 'initiator.credential.type': nested(900, { a: 2 }) };
    expect(cadfField(other as never, 'initiator.credential.type')).toMatchObject({ ok: false, error: { path: 'initiator.credential.type' } });
    // Without an id, the id is derived from the whole content, at any depth.
    const { eventTime, action, outcome } = CADF;
    const noId = { eventTime, action, outcome, requestData: nested(900, {}) };
    const r = decodeRecord(noId, 'cadf', { maxDepth: MAX_NESTING_DEPTH_LIMIT });
    expect(r.ok && r.event.id).toMatch(/^cadf-[0-9a-f]{32}$/);
  });
});

describe('decodeLineBytes: one line as the daemon reads it', () => {
  const good = JSON.stringify(CADF);

  it('refuses bytes that are not UTF-8 at path ``', () => {
    for (const bad of [[0xff], [0xc3, 0x28], [0xed, 0xa0, 0x80], [0xe2, 0x82]]) {
      const body = Buffer.concat([Buffer.from(good.slice(0, 10)), Buffer.from(bad), Buffer.from(good.slice(10))]);
      expect(decodeLineBytes(body, 'auto')).toEqual({ ok: false, error: { path: '', reason: 'line is not valid UTF-8' } });
    }
  });

  it('allows a leading BOM and a trailing CR, and reads what decodeLine reads', () => {
    const plain = decodeLineBytes(Buffer.from(good), 'auto');
    expect(plain.ok).toBe(true);
    expect(decodeLineBytes(Buffer.from(`\uFEFF${good}\r`), 'auto')).toEqual(plain);
    expect(decodeLineBytes(Buffer.from(JSON.stringify({ ...CADF, message: 'a\u2028b\rc' })), 'cadf')).toMatchObject({ ok: true, event: { message: 'a\u2028b\rc' } });
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.jsonValue().map((v) => JSON.stringify(v))), fc.constantFrom(...FORMATS), (line, format) => {
        expect(decodeLineBytes(Buffer.from(line), format)).toEqual(decodeLine(line, format));
      }),
      { numRuns: 500 },
    );
  });

  it('never throws on arbitrary bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), fc.constantFrom(...FORMATS), (bytes, format) => {
        const r = decodeLineBytes(Buffer.from(bytes), format);
        expect(typeof r.ok).toBe('boolean');
      }),
      { numRuns: 500 },
    );
  });
});

describe('decoders never throw', () => {
  it('a decoder that throws is one record failing as FWD_DECODE_FAILED', () => {
    // A getter that throws stands for any bug inside a decoder: the record fails, the caller goes on.
    const hostile = { ...CADF };
    Object.defineProperty(hostile, 'action', { enumerable: true, get: () => { throw new Error('boom'); } });
    for (const format of FORMATS) {
      expect(decodeRecord(hostile, format)).toEqual({ ok: false, error: { path: '', reason: 'the decoder failed on this record: boom', code: 'FWD_DECODE_FAILED' } });
    }
  });
});
