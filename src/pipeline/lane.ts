// One lane: a route's source read for one sink — read → select → map → batch → send → commit, in order.
import type { SinkRecord, Sink } from '../contracts/sink.ts';
import type { Mapping, MappingOptions, MapResult } from '../contracts/mapping.ts';
import type { Position, Source, SourceRecord, TimeRange } from '../contracts/source.ts';
import type { AuditEvent } from '../model/audit-event.ts';
import { nowCanonical } from '../model/now.ts';
import type { Logger } from '../logging.ts';
import type { DeadLetterCode } from '../contracts/errors.ts';
import type { DeadLetterEntry } from '../delivery/dead-letter.ts';
import { createDeadLetterLog, type DeadLetterLog } from '../delivery/dead-letter-log.ts';
import type { BackoffPolicy } from '../delivery/backoff.ts';
import { deliverWithRetry, readWithRetry, SourceReadError, type DeliveryResult } from '../delivery/retry.ts';
import { encodeValue } from '../delivery/encode.ts';
import { severityOf } from '../../mappings/common/taxonomy.ts';
import { Batcher, type BatchLimits, type LedgerNote, type PendingBatch } from './batcher.ts';
import type { BatchTally, LaneAccountant, LaneLedgerState } from '../ledger/accountant.ts';
import type { LedgerEntryInput } from '../ledger/entry.ts';
import type { HeartbeatSummary } from '../contracts/mapping.ts';
import { OrderedAcker } from './ordered-acker.ts';
import type { EventSelection } from './selection.ts';
import { createCounters, type LaneCounters } from './stats.ts';
import { sleepUnlessAborted } from '../util/sleep.ts';

/** Where the lane puts what it cannot deliver (see delivery/dead-letter.ts). */
export interface DeadLetterSink {
  append(entry: Omit<DeadLetterEntry, 'time'> & { readonly code: DeadLetterCode }): void;
}

export interface LaneOptions {
  readonly route: string;
  readonly sinkName: string;
  readonly source: Source;
  readonly sink: Sink;
  readonly mapping: Mapping;
  readonly mappingOptions?: MappingOptions;
  readonly selection: EventSelection;
  readonly batch: BatchLimits;
  readonly maxInFlight: number;
  readonly retry: BackoffPolicy;
  readonly deadLetters: DeadLetterSink;
  /**
   * Called, in order, with each position up to which every record has ended (and, with a ledger, the lane's
   * ledger state at that position, to be saved with it).
   */
  readonly commit: (position: Position, records: number, ledger?: LaneLedgerState) => void;
  /** The completeness ledger of this lane (live runs): its accountant, and where the entries of closed windows go. */
  readonly ledger?: LaneLedger;
  readonly from: Position | undefined;
  readonly range?: TimeRange;
  /** Count what would be sent, without sending, dead-lettering or committing. */
  readonly dryRun?: boolean;
  /** Upper bound on records read per second. */
  readonly maxEventsPerSecond?: number;
  /** Log each dead letter (rate-limited); default true. Off for a redrive, which reports what stays itself. */
  readonly logDeadLetters?: boolean;
  readonly logger: Logger;
  readonly now?: () => number;
}

export interface LaneLedger {
  readonly accountant: LaneAccountant;
  /**
   * Takes the entries of windows closed at a commit, before that commit is handed on: they must be written before
   * the checkpoint that no longer holds them is saved (the runner writes them in the checkpoint's `beforeSave`).
   */
  readonly closed: (entries: LedgerEntryInput[]) => void;
}

export type LaneState = 'running' | 'finished' | 'stopped' | 'failed';

export interface LaneResult {
  readonly state: Exclude<LaneState, 'running'>;
  readonly error?: string;
  readonly counters: LaneCounters;
}

/**
 * Rules:
 * - `stop()` ends reading; batches already read are still sent. `abort()` abandons in-flight sends too
 *   (their records stay uncommitted and are read again next time).
 * - At most `maxInFlight` batches are being sent; while that many are, the source is not read.
 * - One record never ends the lane: what cannot be decoded or mapped, and anything a mapping or the encoding
 *   throws for it, is that record's dead letter (logged at warn, rate-limited) and the lane goes on.
 * - A retryable source failure is retried from the last record read, with the route's backoff and no limit;
 *   a sink that rejects with scope `sink`, or a source failure that is not retryable, fails the lane: reading
 *   stops, in-flight sends are abandoned, and the committed position stays at the last contiguous delivered batch.
 */
export class Lane {
  readonly counters: LaneCounters = createCounters();
  private readonly opts: LaneOptions;
  private readonly stopReading = new AbortController();
  private readonly abortSends = new AbortController();
  private readonly inFlight = new Set<Promise<void>>();
  /** Batches closed while `maxInFlight` sends were running; sent, in order, as sends finish. */
  private readonly ready: Array<{ seq: number; batch: PendingBatch; acker: OrderedAcker<BatchTally> }> = [];
  private failure: string | undefined;
  /** The last position handed to `commit` (undefined before the first). */
  committed: Position | undefined;
  /** When the lane started or last committed (ms): with records pending, how long it has made no progress. */
  committedAt: number;
  /** Since when (ms) the source keeps failing and is retried; undefined while it reads. */
  sourceFailingSince: number | undefined;
  private state: LaneState = 'running';
  private slotFreed: (() => void) | undefined;
  private readonly deadLetterLog: DeadLetterLog;
  private batcher: Batcher | undefined;
  private acker: OrderedAcker<BatchTally> | undefined;
  private heartbeatUnsupported = false;

  constructor(options: LaneOptions) {
    this.opts = options;
    this.committedAt = (options.now ?? Date.now)();
    this.deadLetterLog = options.logDeadLetters === false ? { report: () => undefined, close: () => undefined } : createDeadLetterLog(options.logger);
  }

  stop(): void {
    this.stopReading.abort(new Error('stopping'));
  }

  abort(): void {
    this.stop();
    this.abortSends.abort(new Error('shutdown deadline passed'));
  }

  get failed(): string | undefined {
    return this.failure;
  }

  /** `running` until `run()` resolves, then how it ended. */
  get currentState(): LaneState {
    return this.failure !== undefined ? 'failed' : this.state;
  }

  /** Batches being sent now (not counting those waiting for a free slot). */
  get batchesInFlight(): number {
    return this.inFlight.size;
  }

  async run(): Promise<LaneResult> {
    const o = this.opts;
    const acker = new OrderedAcker<BatchTally>((position, records, tallies) => {
      if (o.dryRun) return;
      this.committed = position;
      this.committedAt = (o.now ?? Date.now)();
      if (o.logger.isLevelEnabled('debug')) o.logger.debug({ records, position }, 'committed');
      try {
        const ledger = o.ledger;
        if (ledger === undefined) o.commit(position, records);
        else {
          for (const t of tallies) ledger.accountant.apply(t);
          const closed = ledger.accountant.close(nowCanonical((o.now ?? Date.now)()));
          if (closed.length > 0) ledger.closed(closed);
          o.commit(position, records, ledger.accountant.state());
        }
      } catch (error) {
        this.fail(`checkpoint not saved, stopping rather than forwarding without one: ${(error as Error).message}`);
      }
    });
    const batcher = new Batcher(o.batch, (batch) => this.dispatch(batch, acker), { ledger: o.ledger !== undefined && !o.dryRun });
    this.batcher = batcher;
    this.acker = acker;
    const started = (o.now ?? Date.now)();
    let stoppedEarly = false;
    try {
      const select = { includeTypes: o.selection.includeTypes, excludeTypes: o.selection.excludeTypes };
      const reading = readWithRetry(o.source, o.from, { signal: this.stopReading.signal, range: o.range, select }, {
        policy: o.retry,
        onRetry: (e) => {
          this.counters.sourceRetries++;
          bump(this.counters.sourceRetriesByCode, e.code ?? 'other');
          this.sourceFailingSince ??= (o.now ?? Date.now)();
          o.logger.warn({ attempt: e.attempt, delayMs: e.delayMs, code: e.code, reason: e.reason }, 'reading the source failed; reading again from the last record read');
        },
      });
      for await (const chunk of reading) {
        this.sourceFailingSince = undefined;
        // When the forwarder observed these records: given to the mappings, which never read the clock.
        const options: MappingOptions = { ...o.mappingOptions, observedTime: nowCanonical((o.now ?? Date.now)()) };
        const accountant = o.dryRun ? undefined : o.ledger?.accountant;
        for (const rec of chunk) {
          this.counters.read++;
          this.counters.bytesRead += rec.bytes;
          const event = this.prepare(rec, options);
          let note: LedgerNote | undefined;
          if (accountant !== undefined) {
            const time = rec.decoded.ok ? rec.decoded.event.time : undefined;
            const window = accountant.windowOf(time) ?? accountant.fallbackWindow((o.now ?? Date.now)());
            note = 'ended' in event ? { window, ended: event.ended, selected: event.selected, ...(time !== undefined ? { time } : {}) } : { window, ...(time !== undefined ? { time } : {}) };
          }
          if ('ended' in event) batcher.add(rec.position, undefined, undefined, undefined, note);
          // The line it was read from, when the source gave it, rather than the decoded event: less to hold.
          else batcher.add(rec.position, event.record, rec.rawText ?? event.event, rec.rawContext, note);
        }
        if (this.failure !== undefined) break;
        if (o.maxEventsPerSecond !== undefined) await this.throttle(started);
        while (this.inFlight.size + this.ready.length >= o.maxInFlight && this.failure === undefined) await this.slot();
        if (this.stopReading.signal.aborted) {
          stoppedEarly = true;
          break;
        }
      }
      if (this.stopReading.signal.aborted) stoppedEarly = true;
    } catch (error) {
      if (!this.stopReading.signal.aborted) {
        const reason = error instanceof SourceReadError ? error.failure.reason : ((error as Error).stack ?? String(error));
        this.fail(`source ${o.source.type} failed: ${reason}`);
      }
    }
    if (this.failure === undefined && !this.abortSends.signal.aborted) batcher.flush();
    else batcher.discard();
    while (this.inFlight.size > 0 || this.ready.length > 0) {
      if (this.failure !== undefined || this.abortSends.signal.aborted) this.ready.length = 0;
      if (this.inFlight.size > 0) await Promise.race(this.inFlight);
    }
    this.deadLetterLog.close();
    if (this.failure !== undefined) return { state: (this.state = 'failed'), error: this.failure, counters: this.counters };
    return { state: (this.state = stoppedEarly ? 'stopped' : 'finished'), counters: this.counters };
  }

  /** Selects, maps and encodes one record; returns the record to send, or how it already ended. */
  private prepare(rec: SourceRecord, options: MappingOptions): { record: SinkRecord; event: AuditEvent } | { ended: 'skipped' | 'dead_lettered'; selected: boolean } {
    const o = this.opts;
    const { decoded, position } = rec;
    if (!decoded.ok) {
      const { path, reason, code } = decoded.error;
      // `locator` is read only here, on the way to a dead letter: a source may build it on demand (audit-files).
      this.deadLetter({ stage: 'decode', code: code ?? 'FWD_DECODE_INVALID', reason, path, raw: rec.rawText, locator: rec.locator, position });
      return NOT_SELECTED_DEAD;
    }
    const event = decoded.event;
    this.counters.lastEventTime = event.time;
    if (o.range !== undefined && (event.time < o.range.from || event.time >= o.range.to)) {
      this.counters.skipped++;
      return NOT_SELECTED;
    }
    if (!o.selection.selects(event)) {
      this.counters.skipped++;
      return NOT_SELECTED;
    }
    let mapped: MapResult;
    let payload: string;
    try {
      mapped = o.mapping.map(event, options);
      payload = mapped.kind !== 'mapped' ? '' : encodeValue(o.mapping, mapped.value);
    } catch (error) {
      // A mapping is total by contract: a throw is a bug, but it is this record's, not the route's.
      const reason = `mapping ${o.mapping.name} failed on this record (a bug; the route goes on): ${error instanceof Error ? error.message : String(error)}`;
      this.deadLetter({ stage: 'map', code: 'FWD_MAP_FAILED', reason, event, locator: rec.locator, position });
      return SELECTED_DEAD;
    }
    if (mapped.kind === 'skipped') {
      this.counters.skipped++;
      return SELECTED_SKIPPED;
    }
    if (mapped.kind === 'invalid') {
      this.deadLetter({ stage: 'map', code: 'FWD_MAP_INVALID', reason: mapped.reason, path: mapped.path, event, locator: rec.locator, position });
      return SELECTED_DEAD;
    }
    this.counters.byType.set(event.type, (this.counters.byType.get(event.type) ?? 0) + 1);
    const record: SinkRecord = {
      eventId: event.id,
      eventTime: event.time,
      eventType: event.type,
      severity: severityOf(event),
      value: o.sink.needsValue === true ? mapped.value : undefined,
      payload,
      bytes: Buffer.byteLength(payload),
    };
    return { record, event };
  }

  private deadLetter(entry: {
    stage: 'decode' | 'map';
    code: DeadLetterCode;
    reason: string;
    path?: string;
    raw?: string | undefined;
    event?: AuditEvent;
    locator?: string | undefined;
    position: Position;
  }): void {
    this.counters.dead_lettered++;
    if (this.opts.dryRun) return;
    this.letter({
      stage: entry.stage,
      code: entry.code,
      reason: entry.reason,
      ...(entry.path !== undefined ? { path: entry.path } : {}),
      ...(entry.locator !== undefined ? { locator: entry.locator } : {}),
      ...(entry.event !== undefined ? { eventId: entry.event.id, event: entry.event as never } : {}),
      ...(entry.raw !== undefined ? { raw: entry.raw } : {}),
      position: entry.position,
    });
  }

  /** Appends one dead letter of this lane and reports it in the log. */
  private letter(entry: Omit<DeadLetterEntry, 'time' | 'route' | 'sink'> & { readonly code: DeadLetterCode }): void {
    this.opts.deadLetters.append({ route: this.opts.route, sink: this.opts.sinkName, ...entry });
    this.deadLetterLog.report({
      stage: entry.stage,
      code: entry.code,
      reason: entry.reason,
      ...(entry.path !== undefined ? { path: entry.path } : {}),
      ...(entry.locator !== undefined ? { locator: entry.locator } : {}),
      ...(entry.eventId !== undefined ? { eventId: entry.eventId } : {}),
    });
  }

  private dispatch(batch: PendingBatch, acker: OrderedAcker<BatchTally>): void {
    const seq = acker.register();
    if (batch.records.length === 0 || this.opts.dryRun) {
      if (this.opts.dryRun) this.counters.skipped += batch.records.length;
      acker.complete(seq, batch.position, batch.recordCount, batch.tally);
      return;
    }
    this.ready.push({ seq, batch, acker });
    this.pump();
  }

  /** Starts sends for ready batches, in order, while fewer than `maxInFlight` are running. */
  private pump(): void {
    while (this.ready.length > 0 && this.inFlight.size < this.opts.maxInFlight && this.failure === undefined) {
      const { seq, batch, acker } = this.ready.shift()!;
      const p = this.send(batch)
        .then((ended) => {
          if (ended) acker.complete(seq, batch.position, batch.recordCount, batch.tally);
        })
        .catch((error: unknown) => this.fail(`sink ${this.opts.sinkName} threw (a bug): ${(error as Error).stack ?? String(error)}`))
        .finally(() => {
          this.inFlight.delete(p);
          this.pump();
          this.slotFreed?.();
        });
      this.inFlight.add(p);
    }
  }

  /** Sends one batch to its end; true when every record of it ended (delivered or rejected). */
  private async send(batch: PendingBatch): Promise<boolean> {
    const o = this.opts;
    const sentAt = (o.now ?? Date.now)();
    const result = await deliverWithRetry(o.sink, batch, this.abortSends.signal, {
      policy: o.retry,
      onRetry: (e) => {
        this.counters.retries++;
        bump(this.counters.retriesByKind, e.kind ?? 'other');
        o.logger.warn(
          { attempt: e.attempt, delayMs: e.delayMs, records: e.records, reason: e.reason },
          'sink did not accept the batch; retrying',
        );
      },
    });
    if (result.fatal !== undefined) {
      this.fail(`sink ${o.sinkName} refuses all data: ${result.fatal}`);
      return false;
    }
    if (result.aborted) return false;
    this.counters.delivered += result.delivered;
    this.noteDelivered(batch, result.rejected);
    batch.tally?.settle(batch.records, batch.origins, new Set(result.rejected.map((r) => batch.records.indexOf(r.record))));
    if (o.logger.isLevelEnabled('debug')) o.logger.debug({ records: batch.records.length, bytes: batch.bytes, delivered: result.delivered, rejected: result.rejected.length, ms: (o.now ?? Date.now)() - sentAt }, 'batch sent');
    for (const r of result.rejected) {
      this.counters.rejected++;
      this.letter({
        stage: 'sink',
        code: 'FWD_SINK_REJECTED',
        reason: r.reason,
        eventId: r.record.eventId,
        event: this.eventOf(batch, batch.records.indexOf(r.record)) as never,
        payload: r.record.payload,
      });
    }
    return true;
  }

  /** The event a refused record was mapped from: decoded again from its line, when that is what the batch kept. */
  private eventOf(batch: PendingBatch, index: number): AuditEvent | undefined {
    const origin = batch.origins[index]!;
    if (typeof origin !== 'string') return origin;
    const decoded = this.opts.source.decodeRaw(origin, batch.originContexts[index]);
    return decoded.ok ? decoded.event : undefined;
  }

  /** Bytes and newest event time of what a batch delivered (every record but the rejected ones). */
  private noteDelivered(batch: PendingBatch, rejected: DeliveryResult['rejected']): void {
    const refused = rejected.length === 0 ? undefined : new Set(rejected.map((r) => r.record));
    let newest = this.counters.newestDelivered;
    let bytes = 0;
    for (const r of batch.records) {
      if (refused?.has(r)) continue;
      bytes += r.bytes;
      if (newest === undefined || r.eventTime > newest) newest = r.eventTime;
    }
    this.counters.bytesDelivered += bytes;
    this.counters.newestDelivered = newest;
  }

  /** Nothing read and not ended: no open batch, none waiting or in flight, every batch committed. */
  get idle(): boolean {
    return this.inFlight.size === 0 && this.ready.length === 0 && (this.batcher?.empty ?? true) && (this.acker?.pending ?? 0) === 0;
  }

  /**
   * With nothing pending, closes the ledger windows the clock has passed (a quiet source must not keep its last
   * window open) and commits the state without them at the committed position. Returns the entries closed.
   */
  closeIdleWindows(): number {
    const o = this.opts;
    const ledger = o.ledger;
    if (ledger === undefined || o.dryRun || this.committed === undefined || !this.idle || this.failure !== undefined) return 0;
    const now = (o.now ?? Date.now)();
    const closed = ledger.accountant.close(nowCanonical(now), now);
    if (closed.length === 0) return 0;
    ledger.closed(closed);
    try {
      o.commit(this.committed, 0, ledger.accountant.state());
    } catch (error) {
      this.fail(`checkpoint not saved, stopping rather than forwarding without one: ${(error as Error).message}`);
    }
    return closed.length;
  }

  /**
   * Sends the heartbeat of one closed window through the lane's sink (its mapping's `heartbeat`), with the
   * route's retries; tracked like a batch, so the lane waits for it before it ends. Never counted as an event.
   */
  sendHeartbeat(summary: HeartbeatSummary): void {
    const o = this.opts;
    if (o.mapping.heartbeat === undefined) {
      if (!this.heartbeatUnsupported) o.logger.warn(`mapping ${o.mapping.name} has no heartbeat record: no heartbeats are sent to sink ${o.sinkName}`);
      this.heartbeatUnsupported = true;
      return;
    }
    if (this.abortSends.signal.aborted || this.failure !== undefined) return;
    let record: SinkRecord;
    try {
      const mapped = o.mapping.heartbeat(summary, { ...o.mappingOptions, observedTime: summary.closedAt });
      if (mapped.kind !== 'mapped') {
        o.logger.warn({ window: summary.window.from, reason: mapped.reason }, 'heartbeat not sent: its mapping refused it');
        return;
      }
      const payload = encodeValue(o.mapping, mapped.value);
      record = {
        eventId: `hb-${summary.hash.slice(0, 32)}`,
        eventTime: summary.closedAt,
        eventType: 'audit_forwarder_heartbeat',
        severity: 0,
        value: o.sink.needsValue === true ? mapped.value : undefined,
        payload,
        bytes: Buffer.byteLength(payload),
      };
    } catch (error) {
      o.logger.warn({ err: (error as Error).message }, 'heartbeat not sent: its mapping failed (a bug)');
      return;
    }
    const p = deliverWithRetry(o.sink, { records: [record], bytes: record.bytes }, this.abortSends.signal, { policy: o.retry })
      .then((result) => {
        if (result.delivered !== 1 && !result.aborted) o.logger.warn({ window: summary.window.from, reason: result.fatal ?? result.rejected[0]?.reason }, 'heartbeat not delivered');
      })
      .catch((error: unknown) => o.logger.warn({ err: (error as Error).message }, 'heartbeat not delivered'))
      .finally(() => {
        this.inFlight.delete(p);
        // Batches that waited for this slot start now.
        this.pump();
        this.slotFreed?.();
      });
    this.inFlight.add(p);
  }

  private fail(message: string): void {
    if (this.failure !== undefined) return;
    this.failure = message;
    this.opts.logger.error(`route stopped: ${message}`);
    this.abort();
  }

  private slot(): Promise<void> {
    return new Promise((resolve) => {
      this.slotFreed = () => {
        this.slotFreed = undefined;
        resolve();
      };
    });
  }

  private async throttle(started: number): Promise<void> {
    const now = (this.opts.now ?? Date.now)();
    const due = started + (this.counters.read / this.opts.maxEventsPerSecond!) * 1000;
    if (due > now) await sleepUnlessAborted(due - now, this.stopReading.signal);
  }
}

const NOT_SELECTED = Object.freeze({ ended: 'skipped' as const, selected: false });
const NOT_SELECTED_DEAD = Object.freeze({ ended: 'dead_lettered' as const, selected: false });
const SELECTED_SKIPPED = Object.freeze({ ended: 'skipped' as const, selected: true });
const SELECTED_DEAD = Object.freeze({ ended: 'dead_lettered' as const, selected: true });

function bump(m: Map<string, number>, key: string): void {
  m.set(key, (m.get(key) ?? 0) + 1);
}
