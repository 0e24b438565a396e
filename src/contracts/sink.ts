// The sink contract: sends batches of encoded records and says what happened, without throwing for remote failures.
import type { SendOutcome } from './outcome.ts';

/**
 * One mapped record handed to a sink: the mapping's value with its metadata, and its encoding as one record
 * (`payload`, by the shared encoder: the JSON text on one line of a `json` mapping, the text of a `text` one).
 * A sink's `encoder.ts` builds its request bodies from these: lines of payloads (HEC, files), bulk action lines
 * before each payload (Elasticsearch), a syslog header before it, or from the values themselves (OTLP).
 */
export interface SinkRecord {
  /** Event id (for de-duplication downstream and for the dead-letter file). */
  readonly eventId: string;
  /** When the event occurred: canonical RFC 3339 UTC with six fraction digits (see model/time.ts). */
  readonly eventTime: string;
  /** The event's type (Connect type name, CADF action). */
  readonly eventType: string;
  /**
   * The event's severity, 0–10, from the classification every mapping shares (mappings/common/taxonomy.ts):
   * what a sink whose envelope has its own severity (a syslog PRI) derives it from.
   */
  readonly severity: number;
  /** What the mapping returned: given only to a sink that reads it (`Sink.needsValue`), undefined for the others. */
  readonly value: unknown;
  /** One record: a JSON text or a text line, never containing a raw line break. */
  readonly payload: string;
  /** UTF-8 size of `payload` in bytes: what batch limits count. */
  readonly bytes: number;
}

/** @deprecated the former name of `SinkRecord`. */
export type EncodedRecord = SinkRecord;

export interface SinkBatch {
  readonly records: readonly SinkRecord[];
  /** Sum of the records' bytes. */
  readonly bytes: number;
}

/**
 * What a sink's `delivered` means (shown at start-up, by `check` and in docs/architecture.md):
 * - `acknowledged`: the destination said it stored the records (HEC indexer acknowledgement, a bulk item's
 *   status, a RELP `200 OK`, an OTLP 2xx, a file's fsync);
 * - `accepted`: the destination took the bytes but does not say it stored them (HEC without acknowledgement,
 *   TCP/TLS syslog, a pipe): a crash on its side can lose what it took;
 * - `best-effort`: nothing confirms anything (UDP), or nothing is kept (discard).
 */
export type DeliveryLevel = 'acknowledged' | 'accepted' | 'best-effort';

export interface DeliveryStrength {
  readonly level: DeliveryLevel;
  /** Why, in a few words (`indexer acknowledgement`, `fsync`, `the token decides: …`). */
  readonly detail: string;
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
  /** What `delivered` means for this sink, as configured. */
  readonly strength: DeliveryStrength;
  /**
   * True when the sink's encoder reads `SinkRecord.value` (OTLP, Elasticsearch); otherwise the records it gets
   * carry only their `payload`, so that batches in flight hold as little as possible.
   */
  readonly needsValue?: boolean;
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
  /**
   * Optional: requests sent whose acknowledgement the destination has not given yet (HEC indexer acks, RELP
   * transactions), for the `audit_forwarder_pending_acknowledgements` metric. Cheap; never throws.
   */
  pendingAcknowledgements?(): number;
  /** Tries the destination without sending audit data (connection, credentials). Never throws. */
  check(context?: CheckContext): Promise<CheckResult>;
  /** Finishes what was handed over and releases resources. Idempotent. */
  close(): Promise<void>;
}
