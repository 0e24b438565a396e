// Properties of the JSON helpers: canonical text and JSON.stringify's text at any depth, and where a value nests too deep.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { canonicalJson, jsonText, nestingProblem, toJsonLine } from '../../src/model/json.ts';
import { deepEqual, deepValue, deepValueArbitrary, depthOf, DEEP, nested } from '../support/deep-json.ts';

/** canonicalJson as it was written before it became iterative: the definition the iterative one must keep. */
function recursiveCanonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map((v) => recursiveCanonicalJson(v)).join(',')}]`;
  const obj = value as Record<string, unknown>;
  const keys = Object.keys(obj).filter((k) => obj[k] !== undefined).sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${recursiveCanonicalJson(obj[k])}`).join(',')}}`;
}

/** JSON-like values with what JSON.stringify treats specially: undefined members, NaN, -0, dates, lone surrogates. */
const jsonish = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.jsonValue(),
    fc.constantFrom(undefined, Number.NaN, -0, Infinity, '\ud800', '\u2028', new Date(0)),
    fc.array(tie('value'), { maxLength: 4 }),
    fc.dictionary(fc.string(), tie('value'), { maxKeys: 4 }),
  ),
})).value;

describe('canonicalJson', () => {
  it('is byte-identical to the recursive definition on arbitrary values', () => {
    fc.assert(
      fc.property(fc.oneof(fc.jsonValue(), jsonish), (v) => {
        expect(canonicalJson(v)).toBe(recursiveCanonicalJson(v));
      }),
      { numRuns: 2000 },
    );
  });

  it('sorts keys at every level and drops undefined members', () => {
    expect(canonicalJson({ b: [1, undefined, { d: 1, c: 2 }], a: 'x', u: undefined })).toBe('{"a":"x","b":[1,null,{"c":2,"d":1}]}');
    expect(canonicalJson(undefined)).toBe('null');
    expect(canonicalJson([])).toBe('[]');
    expect(canonicalJson({})).toBe('{}');
  });

  it('writes values nested deeper than the call stack reaches, the same for any key order', () => {
    fc.assert(
      fc.property(deepValueArbitrary({ maxDepth: DEEP }), (shape) => {
        const v = deepValue(shape);
        const text = canonicalJson(v);
        expect(deepEqual(JSON.parse(text), v)).toBe(true);
        // Built again with every object's keys in reverse order: the same text.
        expect(canonicalJson(deepValue({ ...shape, reverseKeys: true }))).toBe(text);
      }),
      { numRuns: 20 },
    );
  });
});

describe('jsonText', () => {
  it('equals JSON.stringify on arbitrary values', () => {
    fc.assert(
      fc.property(fc.oneof(fc.jsonValue(), jsonish), (v) => {
        expect(jsonText(v)).toBe(JSON.stringify(v) ?? 'null');
      }),
      { numRuns: 2000 },
    );
  });

  it('writes values JSON.stringify cannot (too deep for its stack), and they parse back to an equal value', () => {
    fc.assert(
      fc.property(deepValueArbitrary({ minDepth: 20_000, maxDepth: DEEP }), (shape) => {
        const v = deepValue(shape);
        expect(() => JSON.stringify(v)).toThrow(RangeError);
        const text = jsonText(v);
        expect(deepEqual(JSON.parse(text), v)).toBe(true);
        expect(toJsonLine(v)).not.toMatch(/[\u2028\u2029]/);
      }),
      { numRuns: 20 },
    );
  });

  it('its fallback writes exactly what JSON.stringify writes, shown where the native one still works', () => {
    // Wrapped this deep, the native serialiser fails; the values inside are compared with JSON.stringify.
    const wrap = 20_000;
    fc.assert(
      fc.property(fc.array(fc.oneof(fc.jsonValue(), jsonish), { minLength: 1, maxLength: 100 }), (inners) => {
        expect(() => JSON.stringify(nested(wrap, null))).toThrow(RangeError);
        const text = jsonText(nested(wrap, inners));
        expect(text).toBe(`${'['.repeat(wrap)}${JSON.stringify(inners)}${']'.repeat(wrap)}`);
      }),
      { numRuns: 20 },
    );
  });

  it('a cycle is still a TypeError, at any depth', () => {
    const shallow: unknown[] = [];
    shallow.push(shallow);
    expect(() => jsonText(shallow)).toThrow(TypeError);
    const top: unknown[] = [];
    let at = top;
    for (let i = 0; i < 20_000; i++) {
      const next: unknown[] = [];
      at.push(next);
      at = next;
    }
    at.push(top);
    expect(() => jsonText(top)).toThrow(TypeError);
  });
});

describe('nestingProblem', () => {
  it('is undefined within the limit and names where the limit was passed beyond it', () => {
    expect(nestingProblem('x', 1)).toBeUndefined();
    expect(nestingProblem({ a: 1 }, 1)).toBeUndefined();
    expect(nestingProblem({ a: {} }, 1)).toEqual({ path: 'a', depth: 2 });
    expect(nestingProblem({ requestData: [[[[]]]] }, 3)).toEqual({ path: 'requestData[0][0]', depth: 5 });
    expect(nestingProblem({ ok: [1, 2], deep: [{ x: [{}] }] }, 3)).toEqual({ path: 'deep[0].x', depth: 5 });
    expect(nestingProblem({ 'a key.with dots': { b: {} } }, 2)).toEqual({ path: '["a key.with dots"].b', depth: 3 });
  });

  it('keeps the path short: a few segments, then … and the whole depth', () => {
    const p = nestingProblem({ requestData: nested(3000, {}) }, 128)!;
    expect(p.depth).toBe(3002);
    expect(p.path).toBe('requestData[0][0][0][0][0][0][0]… (3002 levels)');
    const longKey = 'k'.repeat(10_000);
    expect(nestingProblem({ [longKey]: { x: {} } }, 2)!.path.length).toBeLessThan(100);
  });

  it('agrees with an independent depth count on arbitrary and deep values, for any limit', () => {
    fc.assert(
      fc.property(fc.jsonValue(), fc.integer({ min: 1, max: 6 }), (v, max) => {
        const p = nestingProblem(v, max);
        const depth = depthOf(v);
        if (depth <= max) expect(p).toBeUndefined();
        else expect(p).toMatchObject({ depth, path: expect.stringMatching(/./) });
      }),
      { numRuns: 2000 },
    );
    fc.assert(
      fc.property(deepValueArbitrary({ maxDepth: DEEP }), fc.integer({ min: 1, max: 1000 }), (shape, max) => {
        const v = deepValue(shape);
        const depth = depthOf(v);
        const p = nestingProblem(v, max);
        if (depth <= max) expect(p).toBeUndefined();
        else expect(p).toMatchObject({ depth, path: expect.stringMatching(/./) });
      }),
      { numRuns: 30 },
    );
  });
});
