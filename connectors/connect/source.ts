// The `connect` source: Cofide Connect audit events read by time window through a ConnectEventReader, live or as a chunked replay.
import type { ConnectorContext } from '../../src/contracts/connector.ts';
import { ForwarderError, isForwarderError } from '../../src/contracts/errors.ts';
import {
  sourceCheckResult,
  type Position,
  type ReplayChunkReport,
  type Source,
  type SourceCheckResult,
  type SourceProgress,
  type SourceReadOptions,
  type SourceRecord,
  type TimeRange,
} from '../../src/contracts/source.ts';
import type { BackoffPolicy } from '../../src/delivery/backoff.ts';
import { classifySourceError, retryCall } from '../../src/delivery/retry.ts';
import type { DecodeResult } from '../../src/model/audit-event.ts';
import { decodeRecord, type DecodeContext } from '../../src/model/decode.ts';
import { eventTypeByName } from '../../src/model/event-types.ts';
import { jsonText, type JsonValue } from '../../src/model/json.ts';
import type { ConnectSourceConfig } from './config.ts';
import {
  type ConnectLivePosition,
  type ConnectReplayPosition,
  type EventKey,
  type HeldEvent,
  LiveCursor,
  ReplayCursor,
  ReplayPlan,
  eventKeyOf,
  fromMicros,
  orderWindow,
  parseConnectPosition,
  replayChunkReport,
  replayPositionProblem,
  toMicros,
} from './cursor.ts';
import { PageTokenRefused, type ConnectEventReader, type EventPage, type WindowQuery } from './window.ts';
import { sleepUnlessAborted } from '../../src/util/sleep.ts';

/** Counters of the source, shown in the run summary (`Source.stats`). */
export type ConnectSourceStats = {
  /** Events delivered behind the cursor: they became visible after a window had passed their time. */
  late_events_total: number;
  /** Events of an event type this build does not know (`unknown_<n>`, or a name not in the catalog). */
  unknown_types_total: number;
  /** Events whose `data` is not JSON (kept, base64, in `dataUnparsed`). */
  unparsed_data_total: number;
  /** Events that do not decode at all (handed out as invalid records: the engine dead-letters them). */
  invalid_events_total: number;
  /** Page reads that failed with a retryable error and were retried (from that page, not the window's first). */
  read_retries_total: number;
  /** Windows narrowed because they held more than `maxWindowBytes` in an order that gave no usable prefix. */
  window_splits_total: number;
  /** Windows cut at the times already read (events arriving in time order): the rest read by a new query. */
  window_cuts_total: number;
  /** Windows (or parts of one) read to the end. */
  windows_read_total: number;
  /** Events the reader returned, duplicates and re-reads included: the load this source puts on Connect. */
  rows_read_total: number;
  /** Page tokens the server refused (expired): the window went on from the times read, or started over. */
  page_token_refusals_total: number;
  /** After a restart, events of a look-back bucket that did not match its digest: delivered again. */
  redelivered_after_restart_total: number;
};

export interface ConnectSourceOptions {
  /** The clock, milliseconds since the epoch (tests). Default `Date.now`. */
  readonly now?: () => number;
  /**
   * The route's selection, pushed down to the reader as type numbers when `read` is not given
   * `options.select` (which wins). Names that have no number (not in the catalog, not `unknown_<n>`) make
   * the inclusion list unusable: then nothing is pushed for it. The engine checks every record anyway.
   */
  readonly includeTypes?: readonly string[];
  readonly excludeTypes?: readonly string[];
  /** Backoff between retries of a failed page read (full jitter). Default: DEFAULT_RETRY. */
  readonly retry?: BackoffPolicy;
  /** Randomness of the jitter (tests). */
  readonly random?: () => number;
}

export type ConnectSource = Source & {
  check(): Promise<SourceCheckResult>;
  stats(): ConnectSourceStats;
  positionAt(time: string): Position;
  startPosition(): Position | undefined;
  previousIdentities(): JsonValue[];
  replayReport(committed: Position | undefined): ReplayChunkReport[];
};

const DEFAULT_RETRY: BackoffPolicy = { initialDelayMs: 1_000, maxDelayMs: 60_000 };
/** The table of the default PostgreSQL layout: the events the API serves. */
const DEFAULT_TABLE = 'audit_events';
/** Records handed out per chunk of the iteration. */
const RECORDS_PER_CHUNK = 1_000;
/** Events without an id or time are remembered (by content) so that a re-read window does not hand them out again. */
const KEYLESS_MEMORY = 10_000;
const UNKNOWN_TYPE = /^unknown_(\d+)$/;

const msToMicros = (ms: number): bigint => BigInt(Math.floor(ms)) * 1000n;

function typeNumber(name: string): number | undefined {
  const known = eventTypeByName(name);
  if (known !== undefined) return known.number;
  const m = UNKNOWN_TYPE.exec(name);
  return m === null ? undefined : Number(m[1]);
}

/** The selection as `WindowQuery` fields: type numbers, nothing for what cannot be expressed. */
function pushdown(select: { readonly includeTypes: readonly string[] | undefined; readonly excludeTypes: readonly string[] } | undefined): Pick<WindowQuery, 'includeTypes' | 'excludeTypes'> {
  if (select === undefined) return {};
  const out: { includeTypes?: number[]; excludeTypes?: number[] } = {};
  if (select.includeTypes !== undefined && select.includeTypes.length > 0) {
    const numbers = select.includeTypes.map(typeNumber);
    if (numbers.every((n): n is number => n !== undefined)) out.includeTypes = [...new Set(numbers)].sort((a, b) => a - b);
  }
  const excluded = select.excludeTypes.map(typeNumber).filter((n): n is number => n !== undefined);
  if (excluded.length > 0) out.excludeTypes = [...new Set(excluded)].sort((a, b) => a - b);
  return out;
}


/** The records `recordOf` makes of `events` (those it returns), in chunks of RECORDS_PER_CHUNK. */
function* chunked(events: readonly HeldEvent[], recordOf: (held: HeldEvent) => SourceRecord | undefined): Generator<SourceRecord[]> {
  let out: SourceRecord[] = [];
  for (const held of events) {
    const record = recordOf(held);
    if (record === undefined) continue;
    out.push(record);
    if (out.length >= RECORDS_PER_CHUNK) {
      yield out;
      out = [];
    }
  }
  if (out.length > 0) yield out;
}

/** A rough size of an event as JSON, for the memory budget, without writing it (a jsonb `data` object is written). */
function approxSize(raw: JsonValue): number {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return jsonText(raw).length;
  let n = 2;
  for (const [k, v] of Object.entries(raw)) {
    n += k.length + 4;
    if (typeof v === 'string') n += v.length;
    else if (Array.isArray(v)) n += v.length * 64;
    else if (typeof v === 'object' && v !== null) n += jsonText(v).length;
    else n += 8;
  }
  return n;
}

/**
 * The Connect source over a window reader (the API or PostgreSQL transport).
 *
 * Reading a time range [from, to) (`readRange`): queries `ListEvents` (or the SQL page query) over the whole
 * rest of the range and reads its pages, in whatever order the server gives them, holding at most
 * `maxWindowBytes` of events:
 * - all of it read within the budget: sorted by (occurred_at, id) and handed out;
 * - a page that is not the last came oldest first (a server that pages that way): the window is cut at the
 *   times already read — the events before the last time read are complete, handed out, and a new query goes
 *   on from that time (each page a fresh query through the time filter, so no later page's order is trusted),
 *   nothing read twice but the events of that last instant. A transport that promises that order
 *   (PostgreSQL's keyset pagination) hands out every page of one query;
 * - otherwise (newest first, or no order): what was read is dropped and a narrower window is read, as narrow as
 *   what was read suggests; one microsecond is read whole.
 * An empty stretch costs nothing: the query of the rest of the range starts with its first event. A failed page
 * is read again (with the route's retry, no limit), resuming the window there; a refused page token cuts the
 * window at the times read, or starts it over.
 *
 * Live (`read` without `range`): every poll interval, or earlier when `reader.waitForChange` resolves, reads the
 * look-back's sweep and [T − pollInterval, now − settleDelay) (see cursor.ts) and hands out, in (occurred_at,
 * id) order, what was not delivered yet; the cursor never passes now − settleDelay. Without a position it starts
 * at `startAt`. Positions are handed out with every event, so the engine commits as pages are delivered.
 *
 * Replay (`read` with `range`): the range is read as above, its events counted per chunk of `replayChunk`
 * (the report), and the iteration ends at its end. A range reaching into the last `settleDelay` is read only up
 * to now − settleDelay (at the start of the read): running the replay again later reads the rest.
 *
 * A reader error that is not retryable ends the iteration by throwing it.
 */
export function createConnectSource(
  name: string,
  config: ConnectSourceConfig,
  context: ConnectorContext,
  reader: ConnectEventReader,
  options: ConnectSourceOptions = {},
): ConnectSource {
  const now = options.now ?? Date.now;
  const retryPolicy = options.retry ?? DEFAULT_RETRY;
  const random = options.random ?? Math.random;
  const settle = msToMicros(config.settleDelay);
  const budget = config.maxWindowBytes;
  const factorySelect =
    options.includeTypes === undefined && options.excludeTypes === undefined
      ? undefined
      : { includeTypes: options.includeTypes, excludeTypes: options.excludeTypes ?? [] };

  const stats: ConnectSourceStats = {
    late_events_total: 0,
    unknown_types_total: 0,
    unparsed_data_total: 0,
    invalid_events_total: 0,
    read_retries_total: 0,
    window_splits_total: 0,
    window_cuts_total: 0,
    windows_read_total: 0,
    rows_read_total: 0,
    page_token_refusals_total: 0,
    redelivered_after_restart_total: 0,
  };
  /** Longest span (µs) a window may have, learnt when a window in no usable order passed the budget. */
  let spanHint: bigint | undefined;
  const keyless = new Set<string>();
  let replay: { plan: ReplayPlan; cursor: ReplayCursor; read: Map<number, number>; from: Position | undefined } | undefined;
  let progress: { done: number; total: number } | undefined;
  let closed = false;

  const decodeContext: DecodeContext = { maxDepth: config.maxNestingDepth };

  const invalidPosition = (reason: string) =>
    new ForwarderError('FWD_SOURCE_POSITION_INVALID', `source ${name}: cannot resume from the checkpoint position: ${reason}`, {
      stage: 'source',
      disposition: 'permanent',
    });

  function decodeRaw(text: string): DecodeResult {
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (e) {
      return { ok: false, error: { path: '', reason: `not JSON: ${(e as Error).message}` } };
    }
    return decodeRecord(json, 'connect', decodeContext);
  }

  function toRecord(held: HeldEvent, position: Position): SourceRecord {
    const decoded = decodeRecord(held.raw, 'connect', decodeContext);
    const locator = held.key === undefined ? `${name}: event without id or time` : `${name}: ${held.key.id} at ${held.key.at}`;
    if (decoded.ok) {
      if (eventTypeByName(decoded.event.type) === undefined) stats.unknown_types_total++;
      if (decoded.event.dataUnparsed !== undefined) stats.unparsed_data_total++;
      return { position, decoded, bytes: held.size, locator };
    }
    stats.invalid_events_total++;
    return { position, decoded, rawText: jsonText(held.raw), bytes: held.size, locator };
  }

  /** True the first time an event without a key is seen (by content), so re-reads do not hand it out again. */
  function firstSighting(held: HeldEvent): boolean {
    const text = jsonText(held.raw);
    if (keyless.has(text)) return false;
    if (keyless.size >= KEYLESS_MEMORY) keyless.delete(keyless.values().next().value!);
    keyless.add(text);
    return true;
  }

  /** One page, read again after a retryable failure (the same page: the window resumes there). */
  function readPage(query: WindowQuery, token: string | undefined, signal: AbortSignal): Promise<EventPage> {
    return retryCall(() => reader.readPage(query, token, signal), signal, {
      policy: retryPolicy,
      random,
      // A refused token is not retried as is: the caller decides where to go on from.
      classify: (e) => (e instanceof PageTokenRefused ? { retryable: false, reason: e.message } : classifySourceError(e)),
      onRetry: (e) => {
        stats.read_retries_total++;
        context.logger.warn(
          { source: name, from: query.from, to: query.to, attempt: e.attempt, delayMs: e.delayMs, code: e.code, reason: e.reason },
          'reading Connect audit events failed; reading that page again',
        );
      },
    });
  }

  /** The events of a window read so far, before they are handed out. */
  class Held {
    readonly byId = new Map<string, HeldEvent>();
    readonly keyless: HeldEvent[] = [];
    bytes = 0;
    /** Every event so far arrived at or after the time of the one before it. */
    ascending = true;
    /** Time of the latest event in arrival order (meaningful while `ascending`). */
    last: string;
    /** Time of the first event that arrived. */
    first: string | undefined;
    /** Earliest time held. */
    earliest: string | undefined;
    constructor(from: string) {
      this.last = from;
    }

    /**
     * The events came oldest first, and there is evidence of it (two times at least): then every event before the
     * last time read has been read. Events of a single instant prove nothing (the newest page of a server that
     * pages newest first looks the same).
     */
    get inTimeOrder(): boolean {
      return this.ascending && this.first !== undefined && this.last > this.first;
    }

    add(raw: JsonValue, from: string, to: string, after: string): void {
      const key = eventKeyOf(raw);
      // Outside the window (the reader may overlap its bounds), already held (a page overlap), or already handed out.
      if (key !== undefined && (key.at < from || key.at >= to || key.at < after || this.byId.has(key.id))) return;
      const held: HeldEvent = { key, raw, size: approxSize(raw) };
      this.bytes += held.size;
      if (key === undefined) {
        this.keyless.push(held);
        return;
      }
      this.byId.set(key.id, held);
      this.first ??= key.at;
      if (key.at < this.last) this.ascending = false;
      else this.last = key.at;
      if (this.earliest === undefined || key.at < this.earliest) this.earliest = key.at;
    }

    /** Removes and returns, sorted, what is before `time` (everything when undefined), the events without a key first. */
    take(time?: string): HeldEvent[] {
      const out: HeldEvent[] = this.keyless.splice(0);
      for (const [id, h] of this.byId) {
        if (time !== undefined && h.key!.at >= time) continue;
        out.push(h);
        this.byId.delete(id);
        this.bytes -= h.size;
      }
      for (const h of out) if (h.key === undefined) this.bytes -= h.size;
      return orderWindow(out);
    }
  }

  /**
   * Reads [from, to) in (occurred_at, id) order (see the comment of createConnectSource), yielding sorted
   * batches: when a batch is yielded, every event of the range before its last event's time has been yielded.
   */
  async function* readRange(from: bigint, to: bigint, query: Pick<WindowQuery, 'includeTypes' | 'excludeTypes'>, signal: AbortSignal): AsyncGenerator<HeldEvent[]> {
    let a = from;
    /** The instant `a` alone holds more than the budget: read it whole, then go on as before. */
    let crowded = false;
    while (a < to && !signal.aborted) {
      const b = crowded ? a + 1n : spanHint !== undefined && a + spanHint < to ? a + spanHint : to;
      crowded = false;
      const fromText = fromMicros(a);
      const toText = fromMicros(b);
      // One microsecond before `from`, so that a server treating `occurred_after` as exclusive still returns
      // events at exactly `from`; whatever comes back outside [from, to) is dropped.
      const windowQuery: WindowQuery = { from: fromMicros(a - 1n), to: toText, ...query };
      const held = new Held(fromText);
      /** Everything before this was handed out (by an ordered reader, page by page). */
      let handedOut = fromText;
      let token: string | undefined;
      let restarts = 0;
      let end: 'complete' | 'cut' | 'crowded' | 'narrow' = 'complete';
      let pages = 0;
      let rows = 0;
      for (;;) {
        let page: EventPage;
        try {
          page = await readPage(windowQuery, token, signal);
        } catch (error) {
          if (signal.aborted) return;
          if (!(error instanceof PageTokenRefused)) throw error;
          stats.page_token_refusals_total++;
          context.logger.warn({ source: name, from: fromText, to: toText, reason: error.message }, 'the server refused the page token; going on from the times already read');
          if (held.inTimeOrder && held.last > handedOut) {
            end = 'cut';
            break;
          }
          // Nothing usable: the window again from its first page (what is held stays, duplicates are dropped).
          if (++restarts > 3) {
            throw new ForwarderError('FWD_SOURCE_IO', `source ${name}: the server refused the page token ${restarts} times in one window (${error.message})`, {
              stage: 'source',
              disposition: 'retryable',
              cause: error,
            });
          }
          token = undefined;
          continue;
        }
        stats.rows_read_total += page.events.length;
        pages++;
        rows += page.events.length;
        for (const raw of page.events) held.add(raw, fromText, toText, handedOut);
        if (page.next === undefined) break;
        if (page.next === token) {
          throw new ForwarderError('FWD_SOURCE_IO', `source ${name}: the reader returned the page token it was given: pagination does not advance`, {
            stage: 'source',
            disposition: 'retryable',
          });
        }
        token = page.next;
        if (reader.ordered === true) {
          if (held.last > handedOut) {
            // The reader's order: every event before the last time read is in. Handed out now; the last instant may go on.
            const batch = held.take(held.last);
            handedOut = held.last;
            if (batch.length > 0) yield batch;
            if (signal.aborted) return;
          }
        } else if (held.inTimeOrder && held.last > handedOut) {
          // A full page, oldest first: what is before its last time is complete. Handed out now, and a new query
          // goes on from that time (a keyset read through the filter), rather than trusting later pages' order.
          end = 'cut';
          break;
        }
        if (held.bytes > budget && b - a > 1n) {
          if (held.inTimeOrder && held.last > handedOut) end = 'cut';
          else if (held.ascending && held.first === fromText && held.last === fromText) end = 'crowded';
          else end = 'narrow';
          break;
        }
      }
      // What each window query did: `complete` read to its end, `cut` handed out up to the last time read,
      // `crowded`/`narrow` read again in smaller windows.
      context.logger.debug({ source: name, from: fromText, to: toText, pages, rows, end }, 'window read');
      if (end === 'complete') {
        stats.windows_read_total++;
        const bytes = held.bytes;
        const batch = held.take();
        if (batch.length > 0) yield batch;
        a = b;
        // A window well within the budget: let the next ones be longer again.
        if (spanHint !== undefined && bytes < budget / 4) spanHint *= 2n;
      } else if (end === 'cut') {
        stats.window_cuts_total++;
        // Complete before the last time read; that instant is read again by the next query (from there).
        const batch = held.take(held.last);
        if (batch.length > 0) yield batch;
        a = toMicros(held.last);
      } else if (end === 'crowded') {
        // Every event so far is at `a`, more than the budget: that microsecond is read whole.
        stats.window_splits_total++;
        crowded = true;
      } else {
        stats.window_splits_total++;
        // As narrow as the events read suggest: newest first, they filled (earliest, b).
        const half = (b - a) / 2n;
        const filled = held.earliest === undefined ? half : (b - toMicros(held.earliest)) / 2n;
        const span = filled < half ? filled : half;
        spanHint = span > 0n ? span : 1n;
      }
    }
  }

  async function pause(signal: AbortSignal): Promise<void> {
    if (reader.waitForChange === undefined) return sleepUnlessAborted(config.pollInterval, signal);
    try {
      await reader.waitForChange(config.pollInterval, signal);
    } catch (error) {
      if (signal.aborted) return;
      if (!isForwarderError(error) || error.disposition !== 'retryable') throw error;
      await sleepUnlessAborted(config.pollInterval, signal);
    }
  }

  /** Where a live read without a position starts. */
  function startOf(): bigint | undefined {
    const at = config.startAt;
    if (at === 'beginning') return undefined;
    if (at === 'now') return msToMicros(now()) - settle;
    return toMicros(at);
  }

  async function* readLive(position: ConnectLivePosition | undefined, query: Pick<WindowQuery, 'includeTypes' | 'excludeTypes'>, signal: AbortSignal): AsyncGenerator<SourceRecord[]> {
    const start = position === undefined ? startOf() : undefined;
    const cursor = new LiveCursor(position, msToMicros(config.lookback), { recentMicros: msToMicros(config.pollInterval), ...(start !== undefined ? { start } : {}) });
    if (position === undefined) context.logger.info({ source: name, from: cursor.at, startAt: config.startAt }, 'no checkpoint: reading from startAt');
    else context.logger.info({ source: name, from: position.at }, 'resuming from the checkpoint');
    const verify = cursor.verification();
    if (verify !== undefined) {
      const keys: EventKey[] = [];
      for await (const events of readRange(verify.from, verify.to, query, signal)) {
        for (const e of events) if (e.key !== undefined) keys.push(e.key);
      }
      if (signal.aborted) return;
      const verdict = cursor.applyVerification(keys);
      context.logger.info(
        { source: name, since: fromMicros(verify.from), late: verdict.missing, resent: verdict.ambiguous },
        'look-back checked after the restart: late events are delivered, and events that cannot be told delivered or not are delivered again',
      );
    }

    /** An event of a read as a record, or undefined when it was delivered already. */
    const recordOf = (held: HeldEvent): SourceRecord | undefined => {
      if (held.key === undefined) return firstSighting(held) ? toRecord(held, cursor.position()) : undefined;
      const taken = cursor.take(held.key);
      if (taken === undefined) return undefined;
      if (taken.kind === 'late') stats.late_events_total++;
      else if (taken.kind === 'redelivered') stats.redelivered_after_restart_total++;
      return toRecord(held, taken.position);
    };

    while (!signal.aborted) {
      const upto = msToMicros(now()) - settle;
      const sweep = cursor.sweep(upto);
      if (sweep !== undefined) {
        for await (const events of readRange(sweep.from, sweep.to, query, signal)) yield* chunked(events, recordOf);
        if (signal.aborted) return;
        cursor.swept(sweep.to);
      }
      const window = cursor.window(upto);
      if (window !== undefined) {
        for await (const events of readRange(window.from, window.to, query, signal)) yield* chunked(events, recordOf);
        if (signal.aborted) return;
        cursor.advance(window.to);
      }
      await pause(signal);
    }
  }

  async function* readReplay(
    position: ConnectReplayPosition | undefined,
    range: TimeRange,
    query: Pick<WindowQuery, 'includeTypes' | 'excludeTypes'>,
    signal: AbortSignal,
    from: Position | undefined,
  ): AsyncGenerator<SourceRecord[]> {
    const plan = new ReplayPlan(range, msToMicros(config.replayChunk));
    if (position !== undefined) {
      const problem = replayPositionProblem(plan, position);
      if (problem !== undefined) throw invalidPosition(problem);
    }
    const cursor = new ReplayCursor(plan, position);
    const read = new Map<number, number>();
    replay = { plan, cursor, read, from };
    const cap = msToMicros(now()) - settle;
    const end = plan.to < cap ? plan.to : cap;
    if (end < plan.to) {
      context.logger.info(
        { source: name, to: range.to, readUpTo: fromMicros(end) },
        'the replay range reaches into the settle delay: reading up to now − settleDelay; run the replay again later for the rest',
      );
    }
    const ms = (us: bigint) => Number((us - plan.from) / 1000n);
    const covered = { done: Math.max(0, ms(cursor.readFrom())), total: Math.max(0, ms(end)) };
    progress = covered;
    if (cursor.done() || cursor.readFrom() >= end) return;
    const recordOf = (held: HeldEvent): SourceRecord | undefined => {
      let record: SourceRecord | undefined;
      if (held.key === undefined) record = firstSighting(held) ? toRecord(held, cursor.position()) : undefined;
      else {
        const p = cursor.take(held.key);
        if (p === undefined) return undefined;
        covered.done = Math.max(covered.done, ms(toMicros(held.key.at)));
        record = toRecord(held, p);
      }
      if (record !== undefined) read.set(cursor.index, (read.get(cursor.index) ?? 0) + 1);
      return record;
    };
    // The whole rest of the range in one read: chunks without events cost nothing.
    for await (const events of readRange(cursor.readFrom(), end, query, signal)) yield* chunked(events, recordOf);
    if (signal.aborted) return;
    covered.done = ms(end);
    // Chunks after the last event, up to the end read, had none.
    while (!cursor.done() && plan.bounds(cursor.index).to <= end) cursor.nextChunk();
  }

  return {
    type: 'connect',
    // The store, not the road to it: another URL, or the other transport, reads the same events. A table other
    // than the default layout's (what the API serves) is other data, unless `checkpoint set` says where to go on.
    identity: (): JsonValue =>
      config.transport === 'postgres' && config.postgres !== undefined && config.postgres.table !== DEFAULT_TABLE
        ? { type: 'connect', store: config.store, table: config.postgres.table }
        : { type: 'connect', store: config.store },
    previousIdentities: (): JsonValue[] => [{ type: 'connect', transport: config.transport, reader: reader.legacyIdentity() }],
    decodeRaw,

    async *read(from: Position | undefined, readOptions: SourceReadOptions): AsyncGenerator<readonly SourceRecord[]> {
      const parsed = from === undefined ? undefined : parseConnectPosition(from);
      if (typeof parsed === 'string') throw invalidPosition(parsed);
      const query = pushdown(readOptions.select ?? factorySelect);
      const { signal } = readOptions;
      if (readOptions.range !== undefined) {
        if (parsed?.kind === 'live') throw invalidPosition('it is a live position, and this is a replay (of a time range)');
        yield* readReplay(parsed?.position, readOptions.range, query, signal, from);
      } else {
        if (parsed?.kind === 'replay') throw invalidPosition('it is a replay position, and this is a live read');
        progress = undefined;
        yield* readLive(parsed?.position, query, signal);
      }
    },

    positionAt(time: string): Position {
      // A cursor that starts at `time`: everything from then on is read, nothing before.
      return new LiveCursor(undefined, msToMicros(config.lookback), { start: toMicros(time) }).position();
    },

    startPosition(): Position | undefined {
      const start = startOf();
      return start === undefined ? undefined : new LiveCursor(undefined, msToMicros(config.lookback), { start }).position();
    },

    progress: (): SourceProgress | undefined =>
      // Milliseconds of the range covered, out of its length (the contract's units have no "time"; only the ratio is used).
      progress === undefined ? undefined : { done: Math.min(progress.done, progress.total), total: progress.total, unit: 'events' },

    stats: (): ConnectSourceStats => ({ ...stats }),

    async check(): Promise<SourceCheckResult> {
      if (reader.check === undefined) return sourceCheckResult([{ level: 'ok', detail: 'nothing to check for this reader' }]);
      // The newest events a live read would deliver: up to now − settleDelay.
      return sourceCheckResult(await reader.check(now() - config.settleDelay, new AbortController().signal));
    },

    replayReport(committed: Position | undefined): ReplayChunkReport[] {
      if (replay === undefined) return [];
      // Nothing committed by this run: the committed position is still the one it started from.
      const c = committed ?? replay.from;
      const parsed = c === undefined ? undefined : parseConnectPosition(c);
      const position = parsed !== undefined && typeof parsed !== 'string' && parsed.kind === 'replay' ? parsed.position : undefined;
      const usable = position !== undefined && replayPositionProblem(replay.plan, position) === undefined ? position : undefined;
      return replayChunkReport(replay.plan, replay.read, replay.cursor.start, usable);
    },

    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      await reader.close();
    },
  };
}
