// Event times: parsing RFC 3339 / ISO-8601 / Go default-format times into the canonical UTC microsecond string, and back.

/**
 * The canonical form of an event time: RFC 3339 in UTC with exactly six fraction digits,
 * `YYYY-MM-DDTHH:MM:SS.ffffffZ`, year 0001–9999. Fixed width, so string order is time order.
 */
export type CanonicalTime = string;

export type TimeParseResult = { readonly ok: true; readonly time: CanonicalTime } | { readonly ok: false; readonly reason: string };

const MICROS_PER_SECOND = 1_000_000n;
const MICROS_PER_DAY = 86_400n * MICROS_PER_SECOND;

/** Date and time of day, then an optional fraction, then whatever follows (the zone, checked separately). */
const DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:[.,](\d+))?(.*)$/s;

/**
 * What may follow the time: an optional space, then `Z` or a numeric offset (`±HH:MM`, `±HHMM`, `±HH`), then
 * optionally Go's zone abbreviation (`UTC`, `CET`, or `+03` when the zone has no name), then optionally Go's
 * monotonic clock reading (` m=+0.000123`), which says nothing about the wall time and is ignored.
 */
const ZONE = /^ ?(?:([Zz])|([+-])(\d{2})(?::?(\d{2}))?)(?: (?:[A-Za-z][A-Za-z0-9_]{0,9}|[+-]\d{2}(?:\d{2})?))?(?: m=[+-]\d+(?:\.\d+)?)?$/;
const ABBREVIATION_ONLY = /^ [A-Za-z][A-Za-z0-9_]{0,9}(?: m=[+-]\d+(?:\.\d+)?)?$/;
const MONOTONIC_ONLY = /^ ?m=[+-]\d+(?:\.\d+)?$/;
const BARE_DATE = /^(\d{4})-(\d{2})-(\d{2})$/;

const fail = (reason: string): TimeParseResult => ({ ok: false, reason });

/** Days since 1970-01-01 of a proleptic Gregorian date (integer arithmetic; valid for any year). */
function daysFromCivil(year: number, month: number, day: number): number {
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yoe = y - era * 400;
  const mp = (month + 9) % 12;
  const doy = Math.floor((153 * mp + 2) / 5) + day - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146097 + doe - 719468;
}

/** The proleptic Gregorian date of a day number since 1970-01-01. */
function civilFromDays(days: number): [year: number, month: number, day: number] {
  const z = days + 719468;
  const era = Math.floor(z / 146097);
  const doe = z - era * 146097;
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36524) - Math.floor(doe / 146096)) / 365);
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const day = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const month = mp < 10 ? mp + 3 : mp - 9;
  return [yoe + era * 400 + (month <= 2 ? 1 : 0), month, day];
}

function isLeapYear(y: number): boolean {
  return (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;
}

function daysInMonth(y: number, m: number): number {
  if (m === 2) return isLeapYear(y) ? 29 : 28;
  return m === 4 || m === 6 || m === 9 || m === 11 ? 30 : 31;
}

const pad = (n: number, width: number): string => String(n).padStart(width, '0');

const MIN_SECONDS = daysFromCivil(1, 1, 1) * 86400;
const MAX_SECONDS = (daysFromCivil(9999, 12, 31) + 1) * 86400 - 1;

/** Checks the calendar fields; returns a reason when one is out of range. */
function checkCivil(year: number, month: number, day: number): string | undefined {
  if (year < 1) return `year ${pad(year, 4)} is outside 0001–9999`;
  if (month < 1 || month > 12) return `month ${pad(month, 2)} does not exist (01–12)`;
  if (day < 1 || day > daysInMonth(year, month)) return `day ${pad(day, 2)} does not exist in ${pad(year, 4)}-${pad(month, 2)}`;
  return undefined;
}

function describeValue(input: unknown): string {
  if (input === null || input === undefined) return String(input);
  if (Array.isArray(input)) return 'an array';
  if (typeof input === 'object') return 'an object';
  return `a ${typeof input}`;
}

function quote(s: string): string {
  return JSON.stringify(s.length > 64 ? `${s.slice(0, 64)}…` : s);
}

/**
 * Parses an event time into the canonical form. Accepts RFC 3339 / ISO-8601 (`T`, `t` or space between date
 * and time; 0–9 fraction digits after `.` or `,`; zone `Z`, `±HH:MM`, `±HHMM` or `±HH`) and Go's default
 * format (`2018-04-20 20:15:00.32 +0000 UTC m=+0.000123`). Digits beyond microseconds are truncated.
 * Rejects, with a reason: non-strings, a time without a zone or offset (none is ever assumed), impossible
 * dates and times (Feb 30, month 13, hour 24, minute 60, second 60 — leap seconds included), offsets
 * beyond ±23:59, and times whose UTC year is outside 0001–9999. Never throws.
 */
export function parseEventTime(input: unknown): TimeParseResult {
  if (typeof input === 'string') {
    const fast = scanEventTime(input);
    if (fast !== undefined) return { ok: true, time: fast };
  }
  return parseEventTimeByPattern(input);
}

/** The value of the `n` decimal digits of `s` at `at`, or -1 when one of them is not a digit. */
function digitsAt(s: string, at: number, n: number): number {
  let v = 0;
  for (let i = at; i < at + n; i++) {
    const d = s.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return -1;
    v = v * 10 + d;
  }
  return v;
}

const isLetter = (c: number): boolean => (c >= 65 && c <= 90) || (c >= 97 && c <= 122);
const isAbbreviationChar = (c: number): boolean => isLetter(c) || (c >= 48 && c <= 57) || c === 95;

/**
 * The canonical form of the times nearly every record carries, read character by character with nothing
 * allocated but the result: `2026-03-01T08:00:00.123Z`, `…+02:00` (RFC 3339) and Go's
 * `2026-03-01 08:00:00.123456 +0000 UTC`. Undefined for anything else, valid or not (padding, `±HHMM`
 * without Go's space, `±HH`, a monotonic reading, an error): `parseEventTimeByPattern` decides those and
 * says why. Where both accept a string they give the same time (test/model/time-fast-path.test.ts).
 */
function scanEventTime(s: string): CanonicalTime | undefined {
  const len = s.length;
  if (len < 20) return undefined;
  const year = digitsAt(s, 0, 4);
  const month = digitsAt(s, 5, 2);
  const day = digitsAt(s, 8, 2);
  const hour = digitsAt(s, 11, 2);
  const minute = digitsAt(s, 14, 2);
  const second = digitsAt(s, 17, 2);
  const t = s.charCodeAt(10);
  if (year < 1 || month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month) || hour < 0 || hour > 23 || minute < 0 || minute > 59 || second < 0 || second > 59) return undefined;
  if (s.charCodeAt(4) !== 45 || s.charCodeAt(7) !== 45 || s.charCodeAt(13) !== 58 || s.charCodeAt(16) !== 58 || !(t === 84 || t === 116 || t === 32)) return undefined;
  // The fraction: `.` or `,` then 1–9 digits.
  let i = 19;
  let fractionDigits = 0;
  const dot = s.charCodeAt(19);
  if (dot === 46 || dot === 44) {
    i = 20;
    while (i < len && s.charCodeAt(i) >= 48 && s.charCodeAt(i) <= 57) i++;
    fractionDigits = i - 20;
    if (fractionDigits === 0 || fractionDigits > 9) return undefined;
  }
  // The zone: `Z`, `±HH:MM`, or Go's ` ±HHMM` with an optional ` ABBR`.
  let offsetMinutes: number;
  const z = s.charCodeAt(i);
  if ((z === 90 || z === 122) && i + 1 === len) offsetMinutes = 0;
  else if ((z === 43 || z === 45) && i + 6 === len && s.charCodeAt(i + 3) === 58) {
    const oh = digitsAt(s, i + 1, 2);
    const om = digitsAt(s, i + 4, 2);
    if (oh < 0 || oh > 23 || om < 0 || om > 59) return undefined;
    offsetMinutes = (z === 45 ? -1 : 1) * (oh * 60 + om);
  } else if (z === 32 && i + 6 <= len) {
    const sign = s.charCodeAt(i + 1);
    const oh = digitsAt(s, i + 2, 2);
    const om = digitsAt(s, i + 4, 2);
    if (!(sign === 43 || sign === 45) || oh < 0 || oh > 23 || om < 0 || om > 59) return undefined;
    const after = i + 6;
    if (after !== len) {
      // ` ABBR`: a letter, then at most nine letters, digits or `_`, to the end.
      if (s.charCodeAt(after) !== 32 || len - after - 1 > 10 || !isLetter(s.charCodeAt(after + 1))) return undefined;
      for (let k = after + 2; k < len; k++) if (!isAbbreviationChar(s.charCodeAt(k))) return undefined;
    }
    offsetMinutes = (sign === 45 ? -1 : 1) * (oh * 60 + om);
  } else {
    return undefined;
  }
  const fraction = fractionDigits >= 6 ? s.slice(20, 26) : fractionDigits === 0 ? '000000' : `${s.slice(20, 20 + fractionDigits)}${'000000'.slice(fractionDigits)}`;
  if (offsetMinutes === 0) return `${s.slice(0, 10)}T${s.slice(11, 19)}.${fraction}Z`;
  const seconds = daysFromCivil(year, month, day) * 86400 + hour * 3600 + minute * 60 + second - offsetMinutes * 60;
  if (seconds < MIN_SECONDS || seconds > MAX_SECONDS) return undefined;
  return formatEpochSeconds(seconds, fraction);
}

/**
 * `parseEventTime` by regular expressions: every form it accepts, and the reason for every one it refuses. The
 * reference the character scanner of the common forms is tested against.
 */
export function parseEventTimeByPattern(input: unknown): TimeParseResult {
  if (typeof input !== 'string') return fail(`expected a date-time string, got ${describeValue(input)}`);
  const s = input.trim();
  if (s === '') return fail('empty date-time string');
  const m = DATE_TIME.exec(s);
  if (m === null) {
    return fail(`${quote(s)} is not a recognised date-time (expected RFC 3339, e.g. 2026-01-02T03:04:05.123456Z, or Go's 2006-01-02 15:04:05.999999999 -0700 MST)`);
  }
  const [, ys, mos, ds, hs, mis, ss, frac = '', rest = ''] = m;
  const year = Number(ys);
  const month = Number(mos);
  const day = Number(ds);
  const hour = Number(hs);
  const minute = Number(mis);
  const second = Number(ss);

  const civil = checkCivil(year, month, day);
  if (civil !== undefined) return fail(civil);
  if (hour > 23) return fail(`hour ${hs} does not exist (00–23)`);
  if (minute > 59) return fail(`minute ${mis} does not exist (00–59)`);
  if (second > 59) return fail(`second ${ss} does not exist (00–59; leap seconds are not accepted)`);
  if (frac.length > 9) return fail(`fraction of a second has ${frac.length} digits (at most 9 are accepted)`);

  const z = ZONE.exec(rest);
  if (z === null) {
    if (rest === '' || MONOTONIC_ONLY.test(rest)) return fail(`${quote(s)} has no time zone or offset (none is assumed)`);
    if (ABBREVIATION_ONLY.test(rest)) {
      return fail(`${quote(s)} has a zone name but no numeric offset (zone names are ambiguous; none is assumed)`);
    }
    return fail(`${quote(s)} has an unrecognised zone or trailing text ${quote(rest)}`);
  }
  const [, zulu, sign, ohs, oms = '00'] = z;
  let offsetMinutes = 0;
  if (zulu === undefined) {
    const oh = Number(ohs);
    const om = Number(oms);
    if (oh > 23 || om > 59) return fail(`offset ${sign}${ohs}:${oms} is beyond ±23:59`);
    offsetMinutes = (sign === '-' ? -1 : 1) * (oh * 60 + om);
  }

  const fraction = frac.length === 6 ? frac : frac.length > 6 ? frac.slice(0, 6) : frac.padEnd(6, '0');
  // The common case, a UTC time: its fields, already checked, are the canonical form's (the year is 0001–9999).
  if (offsetMinutes === 0) return { ok: true, time: `${ys}-${mos}-${ds}T${hs}:${mis}:${ss}.${fraction}Z` };
  const seconds = daysFromCivil(year, month, day) * 86400 + hour * 3600 + minute * 60 + second - offsetMinutes * 60;
  if (seconds < MIN_SECONDS || seconds > MAX_SECONDS) return fail(`${quote(s)} is outside 0001-01-01 – 9999-12-31 in UTC`);
  return { ok: true, time: formatEpochSeconds(seconds, fraction) };
}

/** The canonical form of whole seconds since the epoch (within years 0001–9999) and six fraction digits. */
function formatEpochSeconds(seconds: number, fraction: string): CanonicalTime {
  const days = Math.floor(seconds / 86400);
  const secondsOfDay = seconds - days * 86400;
  const [y, mo, d] = civilFromDays(days);
  const hh = Math.floor(secondsOfDay / 3600);
  const mm = Math.floor((secondsOfDay % 3600) / 60);
  const yy = y >= 1000 ? String(y) : pad(y, 4);
  return `${yy}-${TWO_DIGITS[mo]}-${TWO_DIGITS[d]}T${TWO_DIGITS[hh]}:${TWO_DIGITS[mm]}:${TWO_DIGITS[secondsOfDay % 60]}.${fraction}Z`;
}

/** `00` … `99`. */
const TWO_DIGITS: readonly string[] = Array.from({ length: 100 }, (_, i) => String(i).padStart(2, '0'));

/**
 * Formats microseconds since 1970-01-01T00:00:00Z in the canonical form. Defined for years 0001–9999 (what
 * `parseEventTime` produces); outside them the year is printed with the digits it needs (and `-` before it).
 */
export function formatEpochMicros(us: bigint): CanonicalTime {
  let days = us / MICROS_PER_DAY;
  let rem = us % MICROS_PER_DAY;
  if (rem < 0n) {
    rem += MICROS_PER_DAY;
    days -= 1n;
  }
  const [y, mo, d] = civilFromDays(Number(days));
  const secondsOfDay = Number(rem / MICROS_PER_SECOND);
  const micros = Number(rem % MICROS_PER_SECOND);
  const year = y < 0 ? `-${pad(-y, 4)}` : pad(y, 4);
  const hh = Math.floor(secondsOfDay / 3600);
  const mm = Math.floor((secondsOfDay % 3600) / 60);
  const ss = secondsOfDay % 60;
  return `${year}-${pad(mo, 2)}-${pad(d, 2)}T${pad(hh, 2)}:${pad(mm, 2)}:${pad(ss, 2)}.${pad(micros, 6)}Z`;
}

/**
 * Microseconds since 1970-01-01T00:00:00Z of a canonical time (any time `parseEventTime` accepts is also
 * taken). Precondition: the string is such a time — callers pass `AuditEvent.time` or a parsed argument;
 * anything else is a bug in the caller and throws a `TypeError`.
 */
export function toEpochMicros(time: string): bigint {
  if (isCanonicalTime(time)) return BigInt(canonicalEpochSeconds(time)) * MICROS_PER_SECOND + BigInt(canonicalMicros(time));
  const parsed = parseEventTime(time);
  if (!parsed.ok) throw new TypeError(`toEpochMicros: ${parsed.reason}`);
  return toEpochMicros(parsed.time);
}

/**
 * True when `time` is in the canonical form and a real calendar time (no month 13, no Feb 30, no hour 24): what
 * `parseEventTime` returns, checked without parsing it again.
 */
export function isCanonicalTime(time: unknown): boolean {
  if (typeof time !== 'string' || time.length !== 27) return false;
  // Character by character (this runs for every event a mapping is given): YYYY-MM-DDTHH:MM:SS.ffffffZ.
  for (let i = 0; i < 26; i++) {
    const c = time.charCodeAt(i);
    const separator = SEPARATORS[i];
    if (separator === undefined ? c < 48 || c > 57 : c !== separator) return false;
  }
  if (time.charCodeAt(26) !== 90) return false;
  // Every character is a digit where digits belong (checked above).
  const year = digitsAt(time, 0, 4);
  const month = digitsAt(time, 5, 2);
  const day = digitsAt(time, 8, 2);
  return year >= 1 && month >= 1 && month <= 12 && day >= 1 && day <= daysInMonth(year, month) && digitsAt(time, 11, 2) < 24 && digitsAt(time, 14, 2) < 60 && digitsAt(time, 17, 2) < 60;
}

/** The separators of the canonical form by index (`-`, `-`, `T`, `:`, `:`, `.`); digits elsewhere. */
const SEPARATORS: ReadonlyArray<number | undefined> = Array.from({ length: 26 }, (_, i) => ({ 4: 45, 7: 45, 10: 84, 13: 58, 16: 58, 19: 46 })[i]);

/**
 * Whole seconds since 1970-01-01T00:00:00Z (negative before) and the microseconds within that second, of a
 * canonical time, read from its fixed positions without parsing (the mappings' epochs). Precondition: `time` is
 * canonical (`isCanonicalTime`); anything else gives a meaningless number (NaN for a non-digit).
 */
export function canonicalEpochSeconds(time: CanonicalTime): number {
  return (
    daysFromCivil(digitsAt(time, 0, 4), digitsAt(time, 5, 2), digitsAt(time, 8, 2)) * 86400 +
    digitsAt(time, 11, 2) * 3600 +
    digitsAt(time, 14, 2) * 60 +
    digitsAt(time, 17, 2)
  );
}

/** The microseconds within the second of a canonical time (its six fraction digits). */
export function canonicalMicros(time: CanonicalTime): number {
  return digitsAt(time, 20, 6);
}

/** Orders two canonical times: negative when `a` is earlier, 0 when equal, positive when later. */
export function compareTimes(a: CanonicalTime, b: CanonicalTime): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Parses a `--from` / `--to` argument: anything `parseEventTime` accepts, or a bare date `YYYY-MM-DD`
 * meaning midnight UTC at the start of that day. Never throws.
 */
export function parseTimeArgument(s: string): TimeParseResult {
  if (typeof s !== 'string') return parseEventTime(s);
  const m = BARE_DATE.exec(s.trim());
  if (m === null) return parseEventTime(s);
  const [, y, mo, d] = m;
  const civil = checkCivil(Number(y), Number(mo), Number(d));
  if (civil !== undefined) return fail(civil);
  return { ok: true, time: `${y}-${mo}-${d}T00:00:00.000000Z` };
}
