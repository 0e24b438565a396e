// Exponential backoff with full jitter (AWS architecture blog's "full jitter"), capped, honouring Retry-After.

export interface BackoffPolicy {
  readonly initialDelayMs: number;
  readonly maxDelayMs: number;
}

/** The longest wait a destination's Retry-After may impose; beyond it the hint is treated as this. */
export const RETRY_AFTER_CEILING_MS = 15 * 60_000;

/**
 * Delay before retry number `attempt` (1 = first retry): uniform in [0, min(max, initial·2^(attempt−1))],
 * or exactly the destination's Retry-After when it gave one (bounded by RETRY_AFTER_CEILING_MS).
 */
export function backoffDelay(policy: BackoffPolicy, attempt: number, retryAfterMs?: number, random: () => number = Math.random): number {
  if (retryAfterMs !== undefined && Number.isFinite(retryAfterMs) && retryAfterMs >= 0) {
    return Math.min(retryAfterMs, RETRY_AFTER_CEILING_MS);
  }
  const exp = Math.min(policy.maxDelayMs, policy.initialDelayMs * 2 ** Math.min(attempt - 1, 52));
  return Math.floor(random() * exp);
}

/** Parses an HTTP Retry-After value (delay-seconds or HTTP-date) into milliseconds from `nowMs`. */
export function parseRetryAfter(value: string | null | undefined, nowMs: number): number | undefined {
  if (value === null || value === undefined) return undefined;
  const v = value.trim();
  if (/^\d+$/.test(v)) return Number(v) * 1000;
  const date = Date.parse(v);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, date - nowMs);
}
