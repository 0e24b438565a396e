// Tests for event-time parsing and the canonical UTC microsecond form.
import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { compareTimes, formatEpochMicros, isCanonicalTime, parseEventTime, parseTimeArgument, toEpochMicros } from '../../src/model/time.ts';

const CANONICAL = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/;

describe('parseEventTime accepts', () => {
  const cases: Array<[input: string, expected: string]> = [
    // RFC 3339 / ISO-8601
    ['2026-03-14T09:26:53Z', '2026-03-14T09:26:53.000000Z'],
    ['2026-03-14T09:26:53.123456Z', '2026-03-14T09:26:53.123456Z'],
    ['2026-03-14t09:26:53.1z', '2026-03-14T09:26:53.100000Z'],
    ['2026-03-14 09:26:53.5Z', '2026-03-14T09:26:53.500000Z'],
    ['2026-03-14T09:26:53,25Z', '2026-03-14T09:26:53.250000Z'],
    ['2026-03-14T09:26:53.000001Z', '2026-03-14T09:26:53.000001Z'],
    ['2026-03-14T09:26:53.12Z', '2026-03-14T09:26:53.120000Z'],
    ['2026-03-14T09:26:53.1234Z', '2026-03-14T09:26:53.123400Z'],
    ['2026-03-14T09:26:53.12345Z', '2026-03-14T09:26:53.123450Z'],
    // sub-microsecond digits are truncated, never rounded
    ['2026-03-14T09:26:53.1234569Z', '2026-03-14T09:26:53.123456Z'],
    ['2026-03-14T09:26:53.99999999Z', '2026-03-14T09:26:53.999999Z'],
    ['2026-03-14T09:26:53.999999999Z', '2026-03-14T09:26:53.999999Z'],
    ['2026-03-14T09:26:53.000000999Z', '2026-03-14T09:26:53.000000Z'],
    // offsets
    ['2026-03-14T09:26:53+00:00', '2026-03-14T09:26:53.000000Z'],
    ['2026-03-14T09:26:53-00:00', '2026-03-14T09:26:53.000000Z'],
    ['2026-03-14T09:26:53.5+01:00', '2026-03-14T08:26:53.500000Z'],
    ['2026-03-14T09:26:53.5+0530', '2026-03-14T03:56:53.500000Z'],
    ['2026-03-14T09:26:53-0930', '2026-03-14T18:56:53.000000Z'],
    ['2026-03-14T09:26:53+05', '2026-03-14T04:26:53.000000Z'],
    ['2026-03-14T09:26:53 +01:00', '2026-03-14T08:26:53.000000Z'],
    ['2026-03-14T09:26:53+23:59', '2026-03-13T09:27:53.000000Z'],
    ['2026-03-14T09:26:53-23:59', '2026-03-15T09:25:53.000000Z'],
    // offsets crossing midnight, month, year and a leap day
    ['2026-01-01T00:30:00.000001+01:00', '2025-12-31T23:30:00.000001Z'],
    ['2025-12-31T23:30:00.999999-01:00', '2026-01-01T00:30:00.999999Z'],
    ['2024-03-01T01:00:00+02:00', '2024-02-29T23:00:00.000000Z'],
    ['2023-03-01T01:00:00+02:00', '2023-02-28T23:00:00.000000Z'],
    ['2026-04-30T22:00:00-03:00', '2026-05-01T01:00:00.000000Z'],
    // leap years
    ['2024-02-29T12:00:00Z', '2024-02-29T12:00:00.000000Z'],
    ['2000-02-29T12:00:00Z', '2000-02-29T12:00:00.000000Z'],
    // Go's default time format
    ['2018-04-20 20:15:00.32 +0000 UTC', '2018-04-20T20:15:00.320000Z'],
    ['2018-04-20 20:15:00 +0000 UTC', '2018-04-20T20:15:00.000000Z'],
    ['2018-04-20 20:15:00.123456789 +0000 UTC', '2018-04-20T20:15:00.123456Z'],
    ['2018-04-20 20:15:00.32 +0100 CET', '2018-04-20T19:15:00.320000Z'],
    ['2018-04-20 20:15:00.32 -0700 PDT', '2018-04-21T03:15:00.320000Z'],
    ['2018-04-20 20:15:00.32 +0300 +03', '2018-04-20T17:15:00.320000Z'],
    ['2018-04-20 20:15:00.32 +0530 +0530', '2018-04-20T14:45:00.320000Z'],
    ['2018-04-20 20:15:00.32 +0000 UTC m=+0.000123001', '2018-04-20T20:15:00.320000Z'],
    ['2018-04-20 20:15:00.32 +0000 UTC m=-12.5', '2018-04-20T20:15:00.320000Z'],
    ['2018-04-20 20:15:00.32 +0000 m=+3.000000001', '2018-04-20T20:15:00.320000Z'],
    ['2018-04-20 20:15:00.32 +0000', '2018-04-20T20:15:00.320000Z'],
    ['2018-12-31 23:59:59.9999999 -0100 -01', '2019-01-01T00:59:59.999999Z'],
    // surrounding whitespace, range ends
    ['  2026-03-14T09:26:53Z\n', '2026-03-14T09:26:53.000000Z'],
    ['0001-01-01T00:00:00Z', '0001-01-01T00:00:00.000000Z'],
    ['9999-12-31T23:59:59.999999999Z', '9999-12-31T23:59:59.999999Z'],
    ['1969-12-31T23:59:59.999999Z', '1969-12-31T23:59:59.999999Z'],
    ['1970-01-01T00:00:00Z', '1970-01-01T00:00:00.000000Z'],
  ];
  it.each(cases)('%j → %s', (input, expected) => {
    expect(parseEventTime(input)).toEqual({ ok: true, time: expected });
  });
});

describe('parseEventTime rejects', () => {
  const cases: Array<[input: unknown, reasonPattern: RegExp]> = [
    // not strings
    [undefined, /got undefined/],
    [null, /got null/],
    [1713644100, /got a number/],
    [true, /got a boolean/],
    [{ seconds: 1, nanos: 0 }, /got an object/],
    [['2026-03-14T09:26:53Z'], /got an array/],
    ['', /empty/],
    ['   ', /empty/],
    // no zone: never assumed
    ['2026-03-14T09:26:53', /no time zone or offset/],
    ['2026-03-14T09:26:53.123456', /no time zone or offset/],
    ['2018-04-20 20:15:00.32', /no time zone or offset/],
    ['2018-04-20 20:15:00.32 m=+0.000123', /no time zone or offset/],
    ['2018-04-20 20:15:00.32 UTC', /zone name but no numeric offset/],
    ['2018-04-20 20:15:00.32 CET', /zone name but no numeric offset/],
    // impossible dates and times
    ['2026-02-30T00:00:00Z', /day 30 does not exist in 2026-02/],
    ['2026-02-29T00:00:00Z', /day 29 does not exist in 2026-02/],
    ['1900-02-29T00:00:00Z', /day 29 does not exist in 1900-02/],
    ['2026-04-31T00:00:00Z', /day 31 does not exist/],
    ['2026-01-00T00:00:00Z', /day 00 does not exist/],
    ['2026-13-01T00:00:00Z', /month 13 does not exist/],
    ['2026-00-01T00:00:00Z', /month 00 does not exist/],
    ['2026-03-14T24:00:00Z', /hour 24 does not exist/],
    ['2026-03-14T23:60:00Z', /minute 60 does not exist/],
    ['2026-03-14T23:59:60Z', /second 60 does not exist.*leap seconds/],
    ['2026-03-14T23:59:61Z', /second 61 does not exist/],
    ['2026-03-14T23:59:99Z', /second 99 does not exist/],
    // offsets beyond ±23:59
    ['2026-03-14T09:26:53+24:00', /offset \+24:00 is beyond ±23:59/],
    ['2026-03-14T09:26:53-2400', /offset -24:00 is beyond/],
    ['2026-03-14T09:26:53+05:60', /offset \+05:60 is beyond/],
    ['2018-04-20 20:15:00.32 +9900 UTC', /offset \+99:00 is beyond/],
    // years outside 0001–9999 (also after conversion to UTC)
    ['0000-01-01T00:00:00Z', /year 0000 is outside 0001–9999/],
    ['10000-01-01T00:00:00Z', /not a recognised date-time/],
    ['-0001-01-01T00:00:00Z', /not a recognised date-time/],
    ['0001-01-01T00:30:00+01:00', /outside 0001-01-01 – 9999-12-31 in UTC/],
    ['9999-12-31T23:30:00-01:00', /outside 0001-01-01 – 9999-12-31 in UTC/],
    // malformed
    ['2026-03-14', /not a recognised date-time/],
    ['2026-03-14T09:26Z', /not a recognised date-time/],
    ['2026-3-14T09:26:53Z', /not a recognised date-time/],
    ['2026-03-14T9:26:53Z', /not a recognised date-time/],
    ['2026-03-14X09:26:53Z', /not a recognised date-time/],
    ['2026-03-14T09:26:53.Z', /not a recognised date-time|unrecognised zone/],
    ['2026-03-14T09:26:53.1234567890Z', /10 digits \(at most 9/],
    ['2026-03-14T09:26:53+1', /unrecognised zone/],
    ['2026-03-14T09:26:53+001', /unrecognised zone/],
    ['2026-03-14T09:26:53Z garbage here!', /unrecognised zone or trailing text/],
    ['2026-03-14T09:26:53ZZ', /unrecognised zone/],
    ['1713644100', /not a recognised date-time/],
    ['Fri, 20 Apr 2018 20:15:00 GMT', /not a recognised date-time/],
    ['２０２６-03-14T09:26:53Z', /not a recognised date-time/],
  ];
  it.each(cases)('%j', (input, reasonPattern) => {
    const r = parseEventTime(input);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.reason).toMatch(reasonPattern);
  });
});

describe('microsecond exactness', () => {
  it('keeps every microsecond digit exactly, far from the epoch', () => {
    expect(parseEventTime('9999-12-31T23:59:59.999999Z')).toEqual({ ok: true, time: '9999-12-31T23:59:59.999999Z' });
    expect(toEpochMicros('9999-12-31T23:59:59.999999Z')).toBe(253402300799999999n);
    expect(toEpochMicros('0001-01-01T00:00:00.000001Z')).toBe(-62135596799999999n);
    expect(toEpochMicros('2026-03-14T09:26:53.100003Z') - toEpochMicros('2026-03-14T09:26:53.100002Z')).toBe(1n);
  });

  it('formats microseconds since the epoch, before and after it', () => {
    expect(formatEpochMicros(0n)).toBe('1970-01-01T00:00:00.000000Z');
    expect(formatEpochMicros(-1n)).toBe('1969-12-31T23:59:59.999999Z');
    expect(formatEpochMicros(1n)).toBe('1970-01-01T00:00:00.000001Z');
    expect(formatEpochMicros(1524255300320000n)).toBe('2018-04-20T20:15:00.320000Z');
    expect(formatEpochMicros(253402300799999999n)).toBe('9999-12-31T23:59:59.999999Z');
    expect(formatEpochMicros(-62135596800000000n)).toBe('0001-01-01T00:00:00.000000Z');
  });

  it('toEpochMicros also takes any accepted time, and throws a TypeError for a non-time (a caller bug)', () => {
    expect(toEpochMicros('2018-04-20 20:15:00.32 +0000 UTC')).toBe(1524255300320000n);
    expect(() => toEpochMicros('yesterday')).toThrow(TypeError);
  });

  const micros = fc.bigInt({ min: -62135596800000000n, max: 253402300799999999n });

  it('formatEpochMicros and toEpochMicros are inverse over 0001–9999', () => {
    fc.assert(
      fc.property(micros, (us) => {
        const s = formatEpochMicros(us);
        expect(s).toMatch(CANONICAL);
        expect(toEpochMicros(s)).toBe(us);
        expect(parseEventTime(s)).toEqual({ ok: true, time: s });
      }),
    );
  });

  it('string order is time order', () => {
    fc.assert(
      fc.property(micros, micros, (a, b) => {
        const c = compareTimes(formatEpochMicros(a), formatEpochMicros(b));
        expect(Math.sign(c)).toBe(a < b ? -1 : a > b ? 1 : 0);
      }),
    );
  });

  it('an offset shifts the instant by exactly that many minutes', () => {
    fc.assert(
      fc.property(
        fc.bigInt({ min: 0n, max: 200000000000000000n }),
        fc.integer({ min: -(23 * 60 + 59), max: 23 * 60 + 59 }),
        (us, offset) => {
          const utc = formatEpochMicros(us);
          const local = formatEpochMicros(us + BigInt(offset) * 60_000_000n);
          const sign = offset < 0 ? '-' : '+';
          const abs = Math.abs(offset);
          const zone = `${sign}${String(Math.floor(abs / 60)).padStart(2, '0')}:${String(abs % 60).padStart(2, '0')}`;
          expect(parseEventTime(local.replace('Z', zone))).toEqual({ ok: true, time: utc });
        },
      ),
    );
  });

  it('never throws, whatever the input', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.jsonValue(), fc.stringMatching(/^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(\.\d{1,12})?( ?([Zz]|[+-]\d{2}:?\d{2}))?( [A-Z]{3})?$/)), (input) => {
        const r = parseEventTime(input);
        if (r.ok) expect(r.time).toMatch(CANONICAL);
        else expect(r.reason.length).toBeGreaterThan(0);
      }),
    );
  });
});

describe('compareTimes', () => {
  it('orders canonical times', () => {
    expect(compareTimes('2026-01-01T00:00:00.000000Z', '2026-01-01T00:00:00.000001Z')).toBeLessThan(0);
    expect(compareTimes('2026-01-01T00:00:00.000001Z', '2026-01-01T00:00:00.000000Z')).toBeGreaterThan(0);
    expect(compareTimes('2026-01-01T00:00:00.000000Z', '2026-01-01T00:00:00.000000Z')).toBe(0);
    expect(compareTimes('0999-12-31T23:59:59.999999Z', '1000-01-01T00:00:00.000000Z')).toBeLessThan(0);
  });
});

describe('parseTimeArgument', () => {
  const accepted: Array<[string, string]> = [
    ['2026-03-14', '2026-03-14T00:00:00.000000Z'],
    ['2024-02-29', '2024-02-29T00:00:00.000000Z'],
    [' 2026-03-14 ', '2026-03-14T00:00:00.000000Z'],
    ['2026-03-14T09:26:53.5+01:00', '2026-03-14T08:26:53.500000Z'],
    ['2018-04-20 20:15:00.32 +0000 UTC', '2018-04-20T20:15:00.320000Z'],
  ];
  it.each(accepted)('%j → %s', (input, expected) => {
    expect(parseTimeArgument(input)).toEqual({ ok: true, time: expected });
  });

  const rejected: Array<[string, RegExp]> = [
    ['2026-02-29', /day 29 does not exist/],
    ['2026-13-01', /month 13/],
    ['0000-01-01', /year 0000/],
    ['2026-03-14T09:26:53', /no time zone or offset/],
    ['yesterday', /not a recognised date-time/],
    ['', /empty/],
  ];
  it.each(rejected)('rejects %j', (input, reasonPattern) => {
    const r = parseTimeArgument(input);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.reason).toMatch(reasonPattern);
  });
});

describe('parseEventTime against Date (property)', () => {
  it('any valid date, time, fraction and offset gives the UTC instant Date computes, in the canonical form', () => {
    const two = (n: number) => String(n).padStart(2, '0');
    fc.assert(
      fc.property(
        fc.date({ min: new Date('0002-01-01T00:00:00Z'), max: new Date('9998-12-31T23:59:59Z'), noInvalidDate: true }),
        fc.integer({ min: 0, max: 999_999 }),
        fc.integer({ min: -(23 * 60 + 59), max: 23 * 60 + 59 }),
        fc.constantFrom('T', ' ', 't'),
        (date, micros, offset, separator) => {
          // The wall time at that offset, written out, must parse back to the same instant.
          const wall = new Date(date.getTime() - (date.getTime() % 1000) + offset * 60_000);
          const sign = offset < 0 ? '-' : '+';
          const zone = offset === 0 ? 'Z' : `${sign}${two(Math.floor(Math.abs(offset) / 60))}:${two(Math.abs(offset) % 60)}`;
          const iso = wall.toISOString();
          const text = `${iso.slice(0, 10)}${separator}${iso.slice(11, 19)}.${String(micros).padStart(6, '0')}${zone}`;
          const expected = `${new Date(date.getTime() - (date.getTime() % 1000)).toISOString().slice(0, 19)}.${String(micros).padStart(6, '0')}Z`;
          expect(parseEventTime(text)).toEqual({ ok: true, time: expected });
        },
      ),
      { numRuns: 2000 },
    );
  });
});

describe('isCanonicalTime', () => {
  it('agrees with parseEventTime: a string is canonical exactly when parsing gives it back', () => {
    const digits = (n: number) => fc.integer({ min: 0, max: 10 ** n - 1 }).map((v) => String(v).padStart(n, '0'));
    const shaped = fc.tuple(digits(4), digits(2), digits(2), digits(2), digits(2), digits(2), digits(6)).map(([y, mo, d, h, mi, s, f]) => `${y}-${mo}-${d}T${h}:${mi}:${s}.${f}Z`);
    fc.assert(
      fc.property(fc.oneof(shaped, fc.string({ maxLength: 30 }), fc.constantFrom('2026-02-29T00:00:00.000000Z', '2024-02-29T23:59:59.999999Z', '0000-01-01T00:00:00.000000Z', '2026-01-01 00:00:00.000000Z', '2026-01-01T00:00:00.000000z')), (t) => {
        const parsed = parseEventTime(t);
        expect(isCanonicalTime(t)).toBe(parsed.ok && parsed.time === t);
      }),
      { numRuns: 5000 },
    );
    expect(isCanonicalTime(undefined)).toBe(false);
    expect(isCanonicalTime(20260101)).toBe(false);
  });
});
