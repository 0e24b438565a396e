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
  | { readonly status: 'retryable'; readonly reason: string; readonly retryAfterMs?: number; readonly kind?: RetryKind }
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

/**
 * Why a send is tried again, in a few words that can label a metric (`audit_forwarder_retries_total{reason}`):
 * - `unanswered`: no answer (connection refused or reset, timeout, TLS files not usable);
 * - `status`: the destination answered that it failed or is unavailable (5xx, 408);
 * - `throttled`: the destination asked to slow down (429);
 * - `acknowledgement`: sent, but the destination's acknowledgement did not come (HEC indexer ack, RELP);
 * - `item`: the destination refused some records of the batch for now (Elasticsearch 429 items …);
 * - `other`: anything a sink did not classify.
 */
export type RetryKind = 'unanswered' | 'status' | 'throttled' | 'acknowledgement' | 'item' | 'other';
export const RETRY_KINDS: readonly RetryKind[] = ['unanswered', 'status', 'throttled', 'acknowledgement', 'item', 'other'];

/** How a record ended: the words of metrics, logs and reports. Counts add up to what was read. */
export type RecordStatus = 'delivered' | 'skipped' | 'rejected' | 'dead_lettered';
