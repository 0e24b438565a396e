// The sink contract: sends batches of encoded records and says what happened, without throwing for remote failures.
import type { SendOutcome } from './outcome.ts';

/** One mapped record, encoded once by the engine. */
export interface EncodedRecord {
  /** Event id (for de-duplication downstream and for the dead-letter file). */
  readonly eventId: string;
  /** One record: a JSON text or a text line, never containing a raw line break. */
  readonly payload: string;
  /** UTF-8 size of `payload` in bytes. */
  readonly bytes: number;
}

export interface SinkBatch {
  readonly records: readonly EncodedRecord[];
  /** Sum of the records' bytes. */
  readonly bytes: number;
}

export interface CheckResult {
  readonly ok: boolean;
  /** One line a person can act on (`reachable; token valid`, `TLS: unable to verify certificate`). */
  readonly detail: string;
}

/** What `check` may use beyond the sink's own configuration. */
export interface CheckContext {
  /** The `mappingOptions` of every route that sends to this sink (e.g. the Splunk indexes to probe). */
  readonly routeOptions: ReadonlyArray<Readonly<Record<string, string>>>;
}

export interface Sink {
  /** Connector type (`file`). */
  readonly type: string;
  /** Name of the sink in the configuration. */
  readonly name: string;
  /**
   * Sends one batch. Rules:
   * - Resolves with an outcome for every remote or I/O failure; never rejects for them. A rejection means
   *   a bug and is not retried.
   * - `delivered` only once the destination holds the records durably (see outcome.ts).
   * - May be called again with a smaller or the same batch after `retryable`, `partial` or `rejected`
   *   (`scope: 'batch'`); must not loop or retry on its own.
   * - Several sends may be in flight at once; each must be independent.
   * - `signal` aborts a send in progress; the outcome is then `retryable`.
   */
  send(batch: SinkBatch, signal: AbortSignal): Promise<SendOutcome>;
  /** Tries the destination without sending audit data (connection, credentials). Never throws. */
  check(context?: CheckContext): Promise<CheckResult>;
  /** Finishes what was handed over and releases resources. Idempotent. */
  close(): Promise<void>;
}
