// The `connect` source: Cofide Connect audit events read by time window through a ConnectEventReader, live or as a chunked replay.
import type { ConnectorContext } from '../../src/contracts/connector.ts';
import { ForwarderError, isForwarderError } from '../../src/contracts/errors.ts';
import type { Position, ReplayChunkReport, Source, SourceProgress, SourceReadOptions, SourceRecord, TimeRange } from '../../src/contracts/source.ts';
import { backoffDelay, type BackoffPolicy } from '../../src/delivery/backoff.ts';
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
import type { ConnectEventReader, WindowQuery } from './window.ts';
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
  /** Reads of a window that failed with a retryable error and were retried. */
  read_retries_total: number;
  /** Windows halved because they held more than `maxWindowBytes`. */
  window_splits_total: number;
  /** Windows (or parts of one) read to the end. */
  windows_read_total: number;
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
  /** Backoff between retries of a failed window read (full jitter). Default: DEFAULT_RETRY. */
  readonly retry?: BackoffPolicy;
  /** Randomness of the jitter (tests). */
  readonly random?: () => number;
}

export type ConnectSource = Source & {
  stats(): ConnectSourceStats;
  replayReport(committed: Position | undefined): ReplayChunkReport[];
};

const DEFAULT_RETRY: BackoffPolicy = { initialDelayMs: 1_000, maxDelayMs: 60_000 };
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


/**
 * The Connect source over a window reader (the API or PostgreSQL transport).
 *
 * Live (`read` without `range`): every poll interval, or earlier when `reader.waitForChange` resolves, reads
 * [cursor − lookback, now − settleDelay) and hands out, in (occurred_at, id) order, what was not delivered yet;
 * the cursor never passes now − settleDelay. Without a position it starts at the beginning (1970), i.e.
 * everything the store holds. See cursor.ts for the position and what a restart recovers.
 *
 * Replay (`read` with `range`): the range is read in chunks of `replayChunk`, each a bounded window, and the
 * iteration ends after the last chunk. A range reaching into the last `settleDelay` is read only up to
 * now − settleDelay (at the start of the read): the rest is not read by this run; running the replay again
 * later resumes and reads it.
 *
 * Windows holding more than `maxWindowBytes` of JSON are halved (down to one microsecond, read whole).
 * A `retryable` reader error retries the window after a backoff; any other error ends the iteration by
 * throwing it.
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
    windows_read_total: 0,
    redelivered_after_restart_total: 0,
  };
  /** Longest span (µs) a window part may have, learnt from splits, so that later windows do not overflow again. */
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

  type PieceResult = { readonly events: HeldEvent[]; readonly bytes: number } | 'too_big' | 'aborted';

  /** Reads [from, to) whole (retrying retryable failures), or says it holds more than the budget. */
  async function readPiece(from: bigint, to: bigint, query: Pick<WindowQuery, 'includeTypes' | 'excludeTypes'>, signal: AbortSignal): Promise<PieceResult> {
    const fromText = fromMicros(from);
    const toText = fromMicros(to);
    // One microsecond before `from`, so that a server treating `occurred_after` as exclusive still returns
    // events at exactly `from`; whatever comes back outside [from, to) is dropped here.
    const windowQuery: WindowQuery = { from: fromMicros(from - 1n), to: toText, ...query };
    for (let attempt = 1; ; attempt++) {
      if (signal.aborted) return 'aborted';
      try {
        const byId = new Map<string, HeldEvent>();
        const others: HeldEvent[] = [];
        let bytes = 0;
        for await (const page of reader.readWindow(windowQuery, signal)) {
          if (signal.aborted) return 'aborted';
          for (const raw of page) {
            const key = eventKeyOf(raw);
            if (key !== undefined && (key.at < fromText || key.at >= toText || byId.has(key.id))) continue;
            // A jsonb `data` column may nest deeper than JSON.stringify's stack reaches.
            const size = jsonText(raw).length;
            const held: HeldEvent = { key, raw, size };
            if (key === undefined) others.push(held);
            else byId.set(key.id, held);
            bytes += size;
            if (bytes > budget && to - from > 1n) return 'too_big';
          }
        }
        if (signal.aborted) return 'aborted';
        stats.windows_read_total++;
        const events = [...others, ...byId.values()];
        return { events: orderWindow(events), bytes };
      } catch (error) {
        if (signal.aborted) return 'aborted';
        if (!isForwarderError(error) || error.disposition !== 'retryable') throw error;
        stats.read_retries_total++;
        const delayMs = backoffDelay(retryPolicy, attempt, undefined, random);
        context.logger.warn(
          { source: name, from: fromText, to: toText, attempt, delayMs, code: error.code, reason: error.message },
          'reading Connect audit events failed; retrying the window',
        );
        await sleepUnlessAborted(delayMs, signal);
      }
    }
  }

  /** Reads [from, to) in order, in parts that fit the budget; yields each part's events sorted. */
  async function* readRange(from: bigint, to: bigint, query: Pick<WindowQuery, 'includeTypes' | 'excludeTypes'>, signal: AbortSignal): AsyncGenerator<HeldEvent[]> {
    let a = from;
    while (a < to) {
      const b = spanHint !== undefined && a + spanHint < to ? a + spanHint : to;
      const result = await readPiece(a, b, query, signal);
      if (result === 'aborted') return;
      if (result === 'too_big') {
        stats.window_splits_total++;
        const half = (b - a) / 2n;
        spanHint = half > 0n ? half : 1n;
        continue;
      }
      // A part well within the budget: let the next ones be longer again.
      if (spanHint !== undefined && result.bytes < budget / 4) spanHint *= 2n;
      yield result.events;
      a = b;
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

  async function* readLive(position: ConnectLivePosition | undefined, query: Pick<WindowQuery, 'includeTypes' | 'excludeTypes'>, signal: AbortSignal): AsyncGenerator<SourceRecord[]> {
    const cursor = new LiveCursor(position, msToMicros(config.lookback));
    const verify = cursor.verification();
    if (verify !== undefined) {
      const keys: EventKey[] = [];
      for await (const events of readRange(verify.from, verify.to, query, signal)) {
        for (const e of events) if (e.key !== undefined) keys.push(e.key);
      }
      if (signal.aborted) return;
      const verdict = cursor.applyVerification(keys);
      if (verdict.ambiguous > 0) {
        context.logger.warn(
          { source: name, events: verdict.ambiguous, since: fromMicros(verify.from) },
          'after the restart, some look-back events cannot be told delivered or not: delivering them again',
        );
      }
    }
    while (!signal.aborted) {
      const upto = msToMicros(now()) - settle;
      const window = cursor.window(upto);
      if (window !== undefined) {
        for await (const events of readRange(window.from, window.to, query, signal)) {
          let out: SourceRecord[] = [];
          for (const held of events) {
            let record: SourceRecord | undefined;
            if (held.key === undefined) {
              if (firstSighting(held)) record = toRecord(held, cursor.position());
            } else {
              const taken = cursor.take(held.key);
              if (taken !== undefined) {
                if (taken.kind === 'late') stats.late_events_total++;
                else if (taken.kind === 'redelivered') stats.redelivered_after_restart_total++;
                record = toRecord(held, taken.position);
              }
            }
            if (record === undefined) continue;
            out.push(record);
            if (out.length >= RECORDS_PER_CHUNK) {
              yield out;
              out = [];
            }
          }
          if (out.length > 0) yield out;
        }
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
    progress = { done: Math.max(0, ms(cursor.readFrom())), total: Math.max(0, ms(end)) };
    while (!cursor.done()) {
      const bounds = plan.bounds(cursor.index);
      if (bounds.from >= end) break;
      const to = bounds.to < end ? bounds.to : end;
      const index = cursor.index;
      for await (const events of readRange(cursor.readFrom(), to, query, signal)) {
        let out: SourceRecord[] = [];
        for (const held of events) {
          let record: SourceRecord | undefined;
          if (held.key === undefined) {
            if (firstSighting(held)) record = toRecord(held, cursor.position());
          } else {
            const p = cursor.take(held.key);
            if (p !== undefined) {
              record = toRecord(held, p);
              progress.done = Math.max(progress.done, ms(toMicros(held.key.at)));
            }
          }
          if (record === undefined) continue;
          read.set(index, (read.get(index) ?? 0) + 1);
          out.push(record);
          if (out.length >= RECORDS_PER_CHUNK) {
            yield out;
            out = [];
          }
        }
        if (out.length > 0) yield out;
      }
      if (signal.aborted) return;
      progress.done = ms(to);
      if (to < bounds.to) break;
      cursor.nextChunk();
    }
  }

  return {
    type: 'connect',
    identity: (): JsonValue => ({ type: 'connect', transport: config.transport, reader: reader.identity() }),
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

    progress: (): SourceProgress | undefined =>
      // Milliseconds of the range covered, out of its length (the contract's units have no "time"; only the ratio is used).
      progress === undefined ? undefined : { done: Math.min(progress.done, progress.total), total: progress.total, unit: 'events' },

    stats: (): ConnectSourceStats => ({ ...stats }),

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
