// The source contract: a durable reader that yields records with their positions and resumes from one.
import type { DecodeResult } from '../model/audit-event.ts';
import type { DecodeContext } from '../model/decode.ts';
import type { JsonValue } from '../model/json.ts';

/** An opaque, JSON-serialisable place in a source, from which reading can resume (after that record). */
export type Position = JsonValue;

/** An inclusive-exclusive range of event times, RFC 3339 UTC microsecond strings (see model/time.ts). */
export interface TimeRange {
  readonly from: string;
  readonly to: string;
}

export interface SourceRecord {
  /** Position just after this record: resuming from it reads the next one. */
  readonly position: Position;
  /** The decoded event, or why it could not be decoded. */
  readonly decoded: DecodeResult;
  /**
   * The record as read (a line of text): for the dead-letter file when decoding fails; and, given for every
   * record by a line-based source, what the engine keeps while the record's batch is in flight instead of the
   * decoded event (a refused record's event is decoded again from it with `decodeRaw`).
   */
  readonly rawText?: string;
  /**
   * What `decodeRaw` needs besides the text to decode it as `read` did (audit-files: the service its file name
   * gives). One object shared by many records (the file's), never one per record.
   */
  readonly rawContext?: DecodeContext;
  /**
   * Where the record came from, for error messages and dead letters (`file.jsonl:12`). May be computed when read
   * (a getter): the engine reads it only for a record that becomes a dead letter; spreading a record loses it.
   */
  readonly locator?: string;
  /** Size of the record as read, in bytes, for throughput figures. */
  readonly bytes: number;
}

export interface SourceReadOptions {
  /** Aborting ends the iteration promptly (the iterator returns; it does not throw). */
  readonly signal: AbortSignal;
  /** Only events in this range are wanted (a hint: a source may push it down; the engine filters again). */
  readonly range?: TimeRange;
  /**
   * The route's event selection, for a source that can filter where it reads (Connect's
   * `filter.event_types`): Connect type names to include (undefined = all) and to exclude. A hint: the
   * engine still checks every record.
   */
  readonly select?: { readonly includeTypes: readonly string[] | undefined; readonly excludeTypes: readonly string[] };
}

/** One chunk of a replay's range: events read by this run, and committed (all ended) so far. */
export interface ReplayChunkReport {
  readonly from: string;
  readonly to: string;
  readonly read: number;
  readonly committed: number;
}

export interface SourceProgress {
  readonly done: number;
  readonly total: number;
  readonly unit: 'bytes' | 'events';
}

/**
 * How one finding of `Source.check` weighs:
 * - `ok`: something was tried and works (`connected; one page read`), or is worth knowing;
 * - `warning`: the source can run, but not as well as it should, or has nothing to read yet (a pattern that
 *   matches no file yet, a missing index): said, and `check` still exits 0;
 * - `failure`: the source cannot read as configured (unreachable, credentials or permission refused, a
 *   missing table or directory): `check` exits 1.
 */
export type SourceCheckLevel = 'ok' | 'warning' | 'failure';

export interface SourceCheckFinding {
  readonly level: SourceCheckLevel;
  /**
   * One line a person can act on, naming what was tried (the endpoint, the table, the pattern) and, for a
   * warning or a failure, what to change (the configuration key, the statement to run). Never a secret.
   */
  readonly detail: string;
}

export interface SourceCheckResult {
  /** False when (and only when) a finding is a `failure`. */
  readonly ok: boolean;
  /** What was tried, in the order it was; never empty. */
  readonly findings: readonly SourceCheckFinding[];
}

/** The result of a list of findings: `ok` unless one is a failure. */
export function sourceCheckResult(findings: readonly SourceCheckFinding[]): SourceCheckResult {
  return { ok: findings.every((f) => f.level !== 'failure'), findings };
}

export interface Source {
  /** Connector type (`jsonl`). */
  readonly type: string;
  /**
   * What identifies the data this source reads (paths, endpoint, table): a checkpoint written for another
   * identity is refused. Plain data; hashed into the checkpoint's fingerprint.
   */
  identity(): JsonValue;
  /**
   * Optional: identities this source had in earlier releases, for the same data. A checkpoint written under one
   * of them is accepted (and saved under `identity()` from then on), so an upgrade that renames what identifies a
   * source does not refuse its checkpoints.
   */
  previousIdentities?(): JsonValue[];
  /**
   * Optional, for sources that read by time: the position from which a live read delivers every event at or
   * after `time` (canonical RFC 3339) and none before (`checkpoint set --at`).
   */
  positionAt?(time: string): Position;
  /**
   * Optional: where a live read with no checkpoint starts, when that is not the beginning (a source configured to
   * start "now" or at a time): the engine saves it as the route's first checkpoint before reading, so that a
   * restart goes on from there. Undefined (or absent): from the beginning.
   */
  startPosition?(): Position | undefined;
  /**
   * Reads from just after `from` (from the beginning when undefined), in position order.
   * Rules:
   * - Records are yielded in the order their positions must be committed; the engine commits a position
   *   only after every record up to it has ended (delivered, skipped or dead-lettered).
   * - The iterator is pulled: a source reads ahead by at most one chunk, so a slow sink stops reading.
   * - A live source waits for new records; a bounded one (or a replay) returns when it reaches its end.
   * - Throws `ForwarderError` (`FWD_SOURCE_*`) for a position it cannot resume from or an I/O failure.
   */
  read(from: Position | undefined, options: SourceReadOptions): AsyncIterable<readonly SourceRecord[]>;
  /**
   * Decodes a record's raw text (`SourceRecord.rawText`, with its `rawContext` when it has one) again, as `read`
   * would: for the dead letter of a record a sink refused, and to redrive dead letters that could not be decoded,
   * after an upgrade. Pure; never throws.
   */
  decodeRaw(rawText: string, context?: DecodeContext): DecodeResult;
  /** Optional progress of the current read, for replay progress bars. */
  progress?(): SourceProgress | undefined;
  /** Optional counters of the source (`late_events_total` …), shown in the run summary. */
  stats?(): Readonly<Record<string, number>>;
  /**
   * Optional, for a source that tails files: the bytes of each file it follows that it has not read yet (by
   * one `fstat` of each), for the `audit_forwarder_file_unread_bytes` metric. Synchronous and cheap: called on
   * each scrape.
   */
  unread?(): ReadonlyArray<{ readonly file: string; readonly bytes: number }>;
  /**
   * Optional, for replays: what each part of the range did, given the last committed position of the
   * lane (`undefined` when nothing was committed).
   */
  replayReport?(committed: Position | undefined): readonly ReplayChunkReport[];
  /**
   * Optional: tries what the source reads from, for `audit-forwarder check`, without reading any position or
   * delivering anything: the connection and credentials (one small page of the most recent events), the table,
   * columns and index a query needs, the files a pattern matches now. Rules:
   * - Never throws and never retries: a problem is a finding (`failure` when the source cannot read as
   *   configured, `warning` when it can but something needs attention).
   * - Bounded in time by the source's own deadlines (connect and call timeouts).
   * - May be called on a fresh instance only, before any `read`; `close` is called after it.
   */
  check?(): Promise<SourceCheckResult>;
  /** Releases files, connections and timers. Idempotent. */
  close(): Promise<void>;
}
