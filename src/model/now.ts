// The current time in the canonical form (RFC 3339 UTC, six fraction digits), for `observedTime`.

/** Now, to the millisecond (the clock's precision in Node.js), written with six fraction digits. */
export function nowCanonical(now: number = Date.now()): string {
  return new Date(now).toISOString().replace(/Z$/, '000Z');
}
