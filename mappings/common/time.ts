// Conversions of the canonical event time (RFC 3339 UTC, six fraction digits) to the epochs formats use, exactly.

/** Microseconds since 1970-01-01T00:00:00Z; negative before it. */
export function epochMicros(time: string): bigint {
  const whole = Date.parse(`${time.slice(0, 19)}Z`);
  return BigInt(whole) * 1000n + BigInt(time.slice(20, 26));
}

/** Nanoseconds since the epoch as a decimal string (OTLP `timeUnixNano`). */
export function epochNanosString(time: string): string {
  return (epochMicros(time) * 1000n).toString();
}

/** Milliseconds since the epoch (CEF `rt`): microseconds are truncated. */
export function epochMillis(time: string): number {
  return Number(epochMicros(time) / 1000n);
}

/**
 * Seconds since the epoch with six decimals (HEC `time`). A double holds it to well under a microsecond
 * for any date before year 2200, so JSON.stringify prints a value that parses back to the same microsecond.
 */
export function epochSeconds(time: string): number {
  const us = epochMicros(time);
  return Number(us / 1_000_000n) + Number(us % 1_000_000n) / 1e6;
}

/** True when the time is before 1970 (formats with unsigned epochs cannot carry it). */
export function beforeEpoch(time: string): boolean {
  return time < '1970-01-01T00:00:00.000000Z';
}
