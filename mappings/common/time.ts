// Conversions of the canonical event time (RFC 3339 UTC, six fraction digits) to the epochs formats use, exactly.

import { canonicalEpochSeconds, canonicalMicros, toEpochMicros } from '../../src/model/time.ts';

/** Microseconds since 1970-01-01T00:00:00Z; negative before it (the model's `toEpochMicros`). */
export const epochMicros: (time: string) => bigint = toEpochMicros;

/** Nanoseconds since the epoch as a decimal string (OTLP `timeUnixNano`); exact, without BigInt for times after 1970. */
export function epochNanosString(time: string): string {
  const seconds = canonicalEpochSeconds(time);
  if (seconds <= 0) return (toEpochMicros(time) * 1000n).toString();
  return `${seconds}${String(canonicalMicros(time)).padStart(6, '0')}000`;
}

/** Milliseconds since the epoch (CEF `rt`): microseconds are truncated. */
export function epochMillis(time: string): number {
  return canonicalEpochSeconds(time) * 1000 + Math.floor(canonicalMicros(time) / 1000);
}

/**
 * Seconds since the epoch with six decimals (HEC `time`). A double holds it to well under a microsecond
 * for any date before year 2200, so JSON.stringify prints a value that parses back to the same microsecond.
 */
export function epochSeconds(time: string): number {
  return canonicalEpochSeconds(time) + canonicalMicros(time) / 1e6;
}

/** True when the time is before 1970 (formats with unsigned epochs cannot carry it). */
export function beforeEpoch(time: string): boolean {
  return time < '1970-01-01T00:00:00.000000Z';
}
