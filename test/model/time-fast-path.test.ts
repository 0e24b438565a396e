// parseEventTime reads the common forms character by character and leaves the rest to the regular-expression
// parser (parseEventTimeByPattern): on any string, the two must give the same answer — the same canonical time
// when the string is accepted, a refusal (with the pattern parser's reason) when it is not.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { canonicalEpochSeconds, canonicalMicros, parseEventTime, parseEventTimeByPattern } from '../../src/model/time.ts';

const two = (lo: number, hi: number) => fc.integer({ min: lo, max: hi }).map((n) => String(n).padStart(2, '0'));
/** Near-valid times: each part usually right, sometimes just out of range or mis-punctuated. */
const timeLike = fc
  .record({
    year: fc.oneof(fc.integer({ min: 1, max: 9999 }), fc.constantFrom(0, 1970, 2024, 2026, 9999)).map((n) => String(n).padStart(4, '0')),
    month: two(0, 13),
    day: two(0, 32),
    sep: fc.constantFrom('T', 't', ' ', '_'),
    hour: two(0, 24),
    minute: two(0, 60),
    second: two(0, 60),
    fraction: fc.oneof(fc.constant(''), fc.stringMatching(/^[.,]\d{0,11}$/)),
    zone: fc.constantFrom('Z', 'z', '', '+00:00', '-00:00', '+02:00', '-07:30', '+23:59', '+24:00', '-12:60', ' +0000 UTC', ' +0000', ' -0700 MST', ' +0530 IST', ' +0000 UTC m=+0.000123', '+0200', '+02', ' +02:00', ' +0000 ABCDEFGHIJK', ' +0000 A1_', ' +0000 1AB', 'Z ', ' Z', '+02:00 CET', ' +9999'),
    pad: fc.constantFrom('', ' ', '\t'),
  })
  .map((p) => `${p.pad}${p.year}-${p.month}-${p.day}${p.sep}${p.hour}:${p.minute}:${p.second}${p.fraction}${p.zone}`);

describe('parseEventTime: the character scanner agrees with the pattern parser', () => {
  it('on near-valid times of every form', () => {
    fc.assert(
      fc.property(timeLike, (s) => {
        expect(parseEventTime(s)).toEqual(parseEventTimeByPattern(s));
      }),
      { numRuns: 20_000 },
    );
  });

  it('on any string', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 40 }), (s) => {
        expect(parseEventTime(s)).toEqual(parseEventTimeByPattern(s));
      }),
      { numRuns: 5_000 },
    );
  });

  it('on the forms of the benchmark generator and the extremes of the range', () => {
    for (const s of [
      '2026-03-01 08:00:00.000074 +0000 UTC',
      '2026-03-01T10:00:00.037+02:00',
      '2026-03-01T08:00:00.111Z',
      '2026-03-01T08:00:00Z',
      '2026-03-01T08:00:00.123456789Z',
      '0001-01-01T00:00:00Z',
      '0001-01-01T00:30:00+01:00',
      '9999-12-31T23:59:59.999999Z',
      '9999-12-31T23:00:00-01:00',
      '2024-02-29T12:00:00Z',
      '2023-02-29T12:00:00Z',
    ]) {
      expect(parseEventTime(s), s).toEqual(parseEventTimeByPattern(s));
    }
    expect(parseEventTime('2026-03-01T10:00:00.037+02:00')).toEqual({ ok: true, time: '2026-03-01T08:00:00.037000Z' });
  });
});

describe('canonicalEpochSeconds and canonicalMicros', () => {
  it('agree with Date.parse on every canonical time of years 0001–9999', () => {
    const canonical = fc.date({ min: new Date('0001-01-01T00:00:00Z'), max: new Date('9999-12-31T23:59:59.999Z'), noInvalidDate: true }).chain((d) =>
      fc.integer({ min: 0, max: 999 }).map((extra) => `${d.toISOString().slice(0, 23)}${String(extra).padStart(3, '0')}Z`),
    );
    fc.assert(
      fc.property(canonical, (time) => {
        expect(canonicalEpochSeconds(time)).toBe(Date.parse(`${time.slice(0, 19)}Z`) / 1000);
        expect(canonicalMicros(time)).toBe(Number(time.slice(20, 26)));
      }),
      { numRuns: 20_000 },
    );
    expect(canonicalEpochSeconds('1969-12-31T23:59:59.999999Z')).toBe(-1);
    expect(canonicalEpochSeconds('0001-01-01T00:00:00.000000Z')).toBe(Date.parse('0001-01-01T00:00:00Z') / 1000);
  });
});
