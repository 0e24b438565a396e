// Groups records into batches bounded by count, bytes and age; every record read belongs to exactly one batch.
import type { Position } from '../contracts/source.ts';
import type { SinkRecord } from '../contracts/sink.ts';
import type { AuditEvent } from '../model/audit-event.ts';
import type { DecodeContext } from '../model/decode.ts';
import { BatchTally, type EarlyStatus } from '../ledger/accountant.ts';

/**
 * What a refused record's dead letter is made from: the line it was read as (decoded again then: a flat string
 * holds far less than the decoded event with its parsed raw record), or the event itself for a source without one.
 */
export type RecordOrigin = AuditEvent | string;

export interface BatchLimits {
  readonly maxEvents: number;
  readonly maxBytes: number;
  readonly maxAgeMs: number;
}

/** A closed batch: the records to send, and the source position reached once all of them have ended. */
export interface PendingBatch {
  readonly records: SinkRecord[];
  /** Where each record came from, index for index (for the dead-letter file when a sink refuses one). */
  readonly origins: RecordOrigin[];
  /** The decode context of each line origin (`SourceRecord.rawContext`), index for index; undefined entries for none. */
  readonly originContexts: (DecodeContext | undefined)[];
  readonly bytes: number;
  /** Records read into this batch, including those already skipped or dead-lettered (not sent). */
  readonly recordCount: number;
  /** Position after the last record of the batch. */
  readonly position: Position;
  /** What the batch adds to the ledger's windows (when the lane keeps a ledger). */
  readonly tally?: BatchTally;
}

/** Where a record counts in the ledger: its window, and for one not sent, how it ended. */
export interface LedgerNote {
  readonly window: number;
  readonly ended?: EarlyStatus;
  /** For one not sent: whether the route's selection chose it (a mapping refused it then). */
  readonly selected?: boolean;
  /** Its event time, when it has one (the newest closes windows). */
  readonly time?: string;
}

/**
 * Rules: `add` a record with its payload (to send) or without (already ended: skipped, dead-lettered), in
 * read order. A batch closes when adding a payload would pass `maxEvents` or `maxBytes` (a single record
 * larger than `maxBytes` travels alone), or when its first record is `maxAgeMs` old. `onClose` is called
 * synchronously with each closed batch.
 */
export class Batcher {
  private records: SinkRecord[] = [];
  private origins: RecordOrigin[] = [];
  private originContexts: (DecodeContext | undefined)[] = [];
  private bytes = 0;
  private count = 0;
  private position: Position | undefined;
  private timer: NodeJS.Timeout | undefined;
  private readonly limits: BatchLimits;
  private readonly onClose: (batch: PendingBatch) => void;
  private readonly ledger: boolean;
  private tally: BatchTally | undefined;

  /** With `ledger`, every batch carries a `tally` of the records `add` was given a `LedgerNote` for. */
  constructor(limits: BatchLimits, onClose: (batch: PendingBatch) => void, options: { readonly ledger?: boolean } = {}) {
    this.limits = limits;
    this.onClose = onClose;
    this.ledger = options.ledger === true;
  }

  /** Nothing read since the last batch closed. */
  get empty(): boolean {
    return this.count === 0;
  }

  add(position: Position, record?: SinkRecord, origin?: RecordOrigin, originContext?: DecodeContext, note?: LedgerNote): void {
    if (record !== undefined) {
      const full =
        this.records.length >= this.limits.maxEvents ||
        (this.records.length > 0 && this.bytes + record.bytes > this.limits.maxBytes);
      if (full) this.flush();
      this.records.push(record);
      this.origins.push(origin!);
      this.originContexts.push(originContext);
      this.bytes += record.bytes;
    }
    if (note !== undefined && this.ledger) {
      const t = (this.tally ??= new BatchTally());
      if (record !== undefined) t.sent(note.window);
      else t.early(note.window, note.ended ?? 'skipped', note.selected === true);
      if (note.time !== undefined && (t.newest === undefined || note.time > t.newest)) t.newest = note.time;
    }
    this.count++;
    this.position = position;
    if (this.timer === undefined) {
      this.timer = setTimeout(() => this.flush(), this.limits.maxAgeMs);
      this.timer.unref?.();
    }
    if (this.records.length >= this.limits.maxEvents || this.bytes >= this.limits.maxBytes) this.flush();
  }

  /** Closes the current batch now, if it holds any record. */
  flush(): void {
    if (this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    if (this.count === 0 || this.position === undefined) return;
    const batch: PendingBatch = {
      records: this.records,
      origins: this.origins,
      originContexts: this.originContexts,
      bytes: this.bytes,
      recordCount: this.count,
      position: this.position,
      ...(this.tally !== undefined ? { tally: this.tally } : {}),
    };
    this.tally = undefined;
    this.records = [];
    this.origins = [];
    this.originContexts = [];
    this.bytes = 0;
    this.count = 0;
    this.position = undefined;
    this.onClose(batch);
  }

  /** Drops the open batch without closing it (shutdown after the deadline); its records stay uncommitted. */
  discard(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    this.records = [];
    this.origins = [];
    this.originContexts = [];
    this.tally = undefined;
    this.bytes = 0;
    this.count = 0;
    this.position = undefined;
  }
}
