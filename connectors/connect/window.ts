// The contract between the Connect source's cursor logic and its two transports (the Connect API, PostgreSQL).
import type { JsonValue } from '../../src/model/json.ts';

/** Which events of a time window to read. Times are canonical (RFC 3339 UTC, six fraction digits). */
export interface WindowQuery {
  /** Earliest `occurred_at` wanted (the reader may also return events at exactly this instant or a bit before). */
  readonly from: string;
  /** Latest `occurred_at` wanted (events at exactly this instant may or may not be returned). */
  readonly to: string;
  /** Event-type numbers to include (pushed down as `filter.event_types`); undefined = all. */
  readonly includeTypes?: readonly number[];
  /** Event-type numbers to exclude (pushed down as `filter.exclude.event_types`). */
  readonly excludeTypes?: readonly number[];
}

/**
 * Reads Connect audit events by time window. Implemented by the API transport (`ListEvents`, following
 * `next_page_token`) and the PostgreSQL transport (keyset pagination).
 * Rules:
 * - Yields pages of events in the proto3 JSON form of `proto.audit.v1alpha1.Event` (`occurredAt`, enum
 *   names or numbers, `data` base64) — the form `decodeConnectEvent` reads — in ANY order, possibly with
 *   duplicates across pages; the caller sorts, de-duplicates and filters.
 * - Returns when the window is exhausted. Honours `signal` (returns promptly, or throws its reason).
 * - Throws `ForwarderError` (stage `source`): disposition `retryable` for conditions that may clear
 *   (unavailable, deadline exceeded, connection reset, an expired page token after the reader restarted
 *   the window itself once), `permanent` for credentials or permissions refused.
 */
export interface ConnectEventReader {
  readWindow(query: WindowQuery, signal: AbortSignal): AsyncIterable<readonly JsonValue[]>;
  /**
   * Optional: resolves early when new events may be available (PostgreSQL `LISTEN`), else after `ms`, or
   * when `signal` aborts. A reader without it makes the source simply wait its poll interval.
   */
  waitForChange?(ms: number, signal: AbortSignal): Promise<void>;
  /** What identifies the data read (endpoint or database and table), for the checkpoint fingerprint. */
  identity(): JsonValue;
  close(): Promise<void>;
}
