// The source contract: a durable reader that yields records with their positions and resumes from one.
import type { DecodeResult } from '../model/audit-event.ts';
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
  /** The record as read (a line of text), kept for the dead-letter file when decoding fails. */
  readonly rawText?: string;
  /** Where the record came from, for error messages (`file.jsonl:12`). */
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
   * Decodes a record's raw text (`SourceRecord.rawText`) again, as `read` would: used to redrive dead
   * letters that could not be decoded, after an upgrade. Pure; never throws.
   */
  decodeRaw(rawText: string): DecodeResult;
  /** Optional progress of the current read, for replay progress bars. */
  progress?(): SourceProgress | undefined;
  /** Optional counters of the source (`late_events_total` …), shown in the run summary. */
  stats?(): Readonly<Record<string, number>>;
  /**
   * Optional, for replays: what each part of the range did, given the last committed position of the
   * lane (`undefined` when nothing was committed).
   */
  replayReport?(committed: Position | undefined): readonly ReplayChunkReport[];
  /** Releases files, connections and timers. Idempotent. */
  close(): Promise<void>;
}
