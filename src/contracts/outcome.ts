// What a sink says about one batch: the only vocabulary between sinks and the delivery engine.

/**
 * - `delivered`: every record of the batch is durably accepted by the destination (for HEC with ack:
 *   acknowledged as indexed). Only now may positions advance past it.
 * - `retryable`: nothing (or an unknown part) was accepted, and sending the same batch later may work.
 *   `retryAfterMs` carries the destination's own hint (Retry-After).
 * - `rejected`: the destination refuses, and will keep refusing.
 *   `scope: 'sink'` — the sink itself is unusable (bad credentials, unknown index): the route stops,
 *   its position untouched. `scope: 'batch'` — something in this batch is refused but the sink cannot
 *   say which record: the engine splits the batch to find it.
 * - `partial`: the listed records failed as stated; every record not listed was delivered.
 * - `unidentified`: the destination took the batch but refused `refused` of its records without saying which
 *   (OTLP's partial success). Sending it again is not allowed (the others would be duplicated) and nothing may
 *   be dropped silently: every record of the batch goes to the dead-letter file with the reason, to be
 *   redriven (those the destination kept are then sent twice).
 */
export type SendOutcome =
  | { readonly status: 'delivered' }
  | { readonly status: 'retryable'; readonly reason: string; readonly retryAfterMs?: number }
  | { readonly status: 'rejected'; readonly scope: 'sink' | 'batch'; readonly reason: string }
  | { readonly status: 'partial'; readonly failures: readonly ItemFailure[] }
  | { readonly status: 'unidentified'; readonly refused: number; readonly reason: string };

export interface ItemFailure {
  /** Index of the record in the batch that was sent. */
  readonly index: number;
  /** `rejected`: this record will never be accepted (dead-letter it). `retryable`: send it again. */
  readonly status: 'rejected' | 'retryable';
  readonly reason: string;
  readonly retryAfterMs?: number;
}

/** How a record ended: the words of metrics, logs and reports. Counts add up to what was read. */
export type RecordStatus = 'delivered' | 'skipped' | 'rejected' | 'dead_lettered';
