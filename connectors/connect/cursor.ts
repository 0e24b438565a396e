// The Connect source's cursor: positions, the digest of ids delivered in the look-back, window and replay-chunk arithmetic (pure, no I/O).
import type { ReplayChunkReport, TimeRange } from '../../src/contracts/source.ts';
import { isJsonObject } from '../../src/model/json.ts';
import type { JsonValue } from '../../src/model/json.ts';
import { formatEpochMicros, parseEventTime, toEpochMicros } from '../../src/model/time.ts';

/*
 * Live reading
 * ------------
 * The cursor is (T, ids): every event with `occurred_at` < T that was visible when a window passed over it
 * has been delivered, and at exactly T the listed ids have. A poll reads [T − recent, now − settleDelay)
 * (`recent` is the poll interval), delivers in (occurred_at, id) order what is new, then moves T to the end of
 * the window. An event behind T that was not delivered is late (it became visible after a window passed its
 * time): delivered and counted. Late events are looked for twice: in the recent part of each window, and once
 * more in a SWEEP of the part of the look-back about to leave it ([T − lookback] as T moves), read before each
 * window. So every instant is read about three times in all (first, recently, and as it ages out) instead of
 * once per poll for the whole look-back, and an event that becomes visible up to `lookback` late is delivered.
 *
 * Knowing which ids behind T were delivered: in memory, the exact set for the look-back (ids grouped in
 * time buckets). In the position, a DIGEST of that set, so that the position stays small whatever the event
 * rate: the look-back is cut into at most DIGEST_BUCKETS time buckets, and each non-empty bucket is stored as
 * (count, XOR of a 64-bit hash of each id). After a restart the look-back is read once more, and each
 * bucket's visible events are compared with its digest:
 * - same count and XOR: every visible event of the bucket was delivered (the usual case);
 * - one or two more events than the digest, whose hashes account exactly for the XOR difference: those are
 *   late events (committed after the position was written), delivered and counted as late;
 * - anything else (three or more late events in one bucket, or events deleted from the store): which were
 *   delivered cannot be told, so all of the bucket's events are delivered again (at-least-once), counted as
 *   `redelivered_after_restart_total`.
 * A bucket with no digest entry had nothing delivered: all its visible events are late.
 * Events older than the look-back (more exactly: than the position's coverage start `seen.from`) are never
 * delivered: the look-back bounds how late an event may become visible and still be forwarded.
 *
 * Replay
 * ------
 * A range is cut into chunks of `replayChunk`; each chunk is read as a bounded window, in (occurred_at, id)
 * order, so the whole replay is in that order and its cursor is simply (T, ids at T) plus, for the report,
 * the chunk's index and start and how many events of the chunk (and of the chunks before) were read.
 */

/** How many time buckets the look-back is cut into for the digest: a live position holds at most this many + 2. */
export const DIGEST_BUCKETS = 32;

/** What orders and de-duplicates events: `occurred_at` in canonical form and the event id. */
export type EventKey = { readonly at: string; readonly id: string };

/** One bucket of the look-back digest: offset from the bucket of `from`, number of ids, XOR of their hashes (16 hex). */
export type BucketDigest = [offset: number, count: number, xor: string];

/** The ids delivered in [from, at) of a live position, as per-bucket digests (see the comment at the top). */
export type LookbackDigest = {
  /** Coverage start: nothing older is ever delivered by a reader resuming from this position. */
  from: string;
  /** Bucket width in microseconds; bucket of a time t = floor(t / w). */
  w: number;
  /** Non-empty buckets, by increasing offset. */
  b: BucketDigest[];
};

/** Position of the live reader. Never mutated once handed out. */
export type ConnectLivePosition = {
  v: 1;
  /** The cursor time T (canonical). */
  at: string;
  /** Ids delivered at exactly T. */
  ids: string[];
  seen: LookbackDigest;
};

/** Where a replay stands in its chunks, for the report. */
export type ReplayChunkState = {
  index: number;
  /** Start of the chunk (canonical), to recognise a change of `replayChunk` between runs. */
  from: string;
  /** Events of this chunk read up to and including the record carrying the position. */
  events: number;
  /** Events of the chunks before it read by this replay, all runs together. */
  before: number;
};

/** Position of a replay: the cursor (last event read, ids at its time) and its chunk. Never mutated once handed out. */
export type ConnectReplayPosition = { v: 1; at: string; ids: string[]; chunk: ReplayChunkState };

export type ParsedConnectPosition = { readonly kind: 'live'; readonly position: ConnectLivePosition } | { readonly kind: 'replay'; readonly position: ConnectReplayPosition };

// ---- time ----

/**
 * Microseconds since the epoch of a time in canonical form (the hot path of the cursor: a fast path for
 * years 0100–9999 of strings already canonical, else `toEpochMicros`).
 */
export function toMicros(time: string): bigint {
  if (time.length === 27 && time.charCodeAt(10) === 84 /* T */ && time.charCodeAt(26) === 90 /* Z */) {
    const year = Number(time.slice(0, 4));
    // Date.UTC reads years 0–99 as 1900–1999.
    if (year >= 100) {
      const ms = Date.UTC(year, Number(time.slice(5, 7)) - 1, Number(time.slice(8, 10)), Number(time.slice(11, 13)), Number(time.slice(14, 16)), Number(time.slice(17, 19)));
      const micros = Number(time.slice(20, 26));
      if (Number.isFinite(ms) && Number.isInteger(micros)) return BigInt(ms) * 1000n + BigInt(micros);
    }
  }
  return toEpochMicros(time);
}

export const fromMicros = (us: bigint): string => formatEpochMicros(us);

/** Floor division of bigints (`/` truncates toward zero; times before 1970 are negative). */
export function floorDiv(a: bigint, b: bigint): bigint {
  const q = a / b;
  return a % b !== 0n && a < 0n !== b < 0n ? q - 1n : q;
}

const isCanonical = (s: unknown): s is string => {
  if (typeof s !== 'string') return false;
  const t = parseEventTime(s);
  return t.ok && t.time === s;
};

// ---- events ----

/**
 * The sort key of an event in proto3 JSON: its id and `occurredAt` (or `occurred_at`), or undefined when either
 * is missing or unreadable (such an event cannot be placed in time; the decoder will reject it too).
 */
export function eventKeyOf(raw: unknown): EventKey | undefined {
  if (!isJsonObject(raw)) return undefined;
  const id = raw['id'];
  if (typeof id !== 'string' || id === '') return undefined;
  const t = parseEventTime(raw['occurredAt'] ?? raw['occurred_at']);
  return t.ok ? { at: t.time, id } : undefined;
}

export function compareKeys(a: EventKey, b: EventKey): number {
  if (a.at !== b.at) return a.at < b.at ? -1 : 1;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

/** An event of a window, held until the window is complete and sorted. */
export type HeldEvent = { readonly key: EventKey | undefined; readonly raw: JsonValue; readonly size: number };

/** Sorts a window's events by (occurred_at, id); events without a key come first. Sorts in place; returns it. */
export function orderWindow(events: HeldEvent[]): HeldEvent[] {
  return events.sort((a, b) => {
    if (a.key === undefined || b.key === undefined) return a.key === undefined ? (b.key === undefined ? 0 : -1) : 1;
    return compareKeys(a.key, b.key);
  });
}

// ---- digest ----

/** A 64-bit non-cryptographic hash of an id (two 32-bit halves; cyrb53's mixing, kept at 64 bits). */
export function idHash(id: string): [number, number] {
  let h1 = 0xdeadbeef;
  let h2 = 0x41c6ce57;
  for (let i = 0; i < id.length; i++) {
    const c = id.charCodeAt(i);
    h1 = Math.imul(h1 ^ c, 2654435761);
    h2 = Math.imul(h2 ^ c, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507);
  h1 ^= Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507);
  h2 ^= Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  return [h1 >>> 0, h2 >>> 0];
}

const hex64 = (h1: number, h2: number): string => (h1 >>> 0).toString(16).padStart(8, '0') + (h2 >>> 0).toString(16).padStart(8, '0');
const ZERO_HASH = '0000000000000000';
const HASH_HEX = /^[0-9a-f]{16}$/;

function xorHex(a: string, b: string): string {
  return hex64(parseInt(a.slice(0, 8), 16) ^ parseInt(b.slice(0, 8), 16), parseInt(a.slice(8), 16) ^ parseInt(b.slice(8), 16));
}

const keyHash = (id: string): string => {
  const [h1, h2] = idHash(id);
  return hex64(h1, h2);
};

/** What the look-back re-read after a restart says about each visible event behind the cursor. */
export interface DigestVerdict {
  /** Delivered before the position was written. */
  readonly delivered: EventKey[];
  /** Not delivered: late events, to deliver now. */
  readonly missing: EventKey[];
  /** In a bucket that does not match its digest in a way that can be explained: to deliver again. */
  readonly ambiguous: EventKey[];
}

/**
 * Compares the events now visible in [digest.from, cursorAt) with the digest of what was delivered there.
 * `visible` may hold other events (outside that range, repeated ids): they are ignored.
 */
export function verifyDigest(digest: LookbackDigest, cursorAt: string, visible: readonly EventKey[]): DigestVerdict {
  const w = BigInt(digest.w);
  const base = floorDiv(toMicros(digest.from), w);
  const groups = new Map<number, EventKey[]>();
  const seen = new Set<string>();
  for (const k of visible) {
    if (k.at < digest.from || k.at >= cursorAt || seen.has(k.id)) continue;
    seen.add(k.id);
    const offset = Number(floorDiv(toMicros(k.at), w) - base);
    const g = groups.get(offset);
    if (g === undefined) groups.set(offset, [k]);
    else g.push(k);
  }
  const stored = new Map(digest.b.map(([offset, count, xor]) => [offset, { count, xor }]));
  const verdict: DigestVerdict = { delivered: [], missing: [], ambiguous: [] };
  for (const [offset, keys] of groups) {
    const s = stored.get(offset);
    if (s === undefined || s.count === 0) {
      verdict.missing.push(...keys);
      continue;
    }
    const hashes = keys.map((k) => keyHash(k.id));
    const diff = hashes.reduce((acc, h) => xorHex(acc, h), s.xor);
    const extra = keys.length - s.count;
    const found = extra === 0 && diff === ZERO_HASH ? [] : extra === 1 || extra === 2 ? explain(hashes, diff, extra) : undefined;
    if (found === undefined) {
      verdict.ambiguous.push(...keys);
      continue;
    }
    const missing = new Set(found);
    keys.forEach((k, i) => (missing.has(i) ? verdict.missing : verdict.delivered).push(k));
  }
  return verdict;
}

/** Indexes of `extra` (1 or 2) hashes whose XOR is `diff`, or undefined. */
function explain(hashes: readonly string[], diff: string, extra: number): number[] | undefined {
  const at = new Map<string, number>();
  hashes.forEach((h, i) => at.set(h, i));
  if (extra === 1) {
    const i = at.get(diff);
    return i === undefined ? undefined : [i];
  }
  for (let i = 0; i < hashes.length; i++) {
    const j = at.get(xorHex(diff, hashes[i]!));
    if (j !== undefined && j !== i) return [i, j];
  }
  return undefined;
}

// ---- live cursor ----

type Bucket = { readonly ids: Set<string>; h1: number; h2: number; tuple: BucketDigest | undefined; tupleBase: bigint };

/** What `LiveCursor.take` decided for an event to deliver, and the position just after it. */
export type LiveTake = { readonly kind: 'new' | 'late' | 'redelivered'; readonly position: ConnectLivePosition };

/** The beginning, for a live reader without a position: everything the store holds is read. */
export const LIVE_BEGINNING = '1970-01-01T00:00:00.000000Z';

/**
 * The live cursor. Use: `verification()` (after a restart: re-read that range and give its keys to
 * `applyVerification`), then per poll `window(upto)`, `take` each event of the window in (occurred_at, id)
 * order, and `advance(window.to)` once all of it was handed out.
 */
export class LiveCursor {
  readonly #lookback: bigint;
  readonly #w: bigint;
  #at: bigint;
  #atText: string;
  #ids: string[] = [];
  #idSet = new Set<string>();
  /** Nothing older is ever delivered: the coverage start of the position resumed from. */
  readonly #floor: bigint | undefined;
  readonly #buckets = new Map<bigint, Bucket>();
  /** Bucket indexes, ascending. */
  #order: bigint[] = [];
  #verify: LookbackDigest | undefined;
  readonly #redeliver = new Set<string>();
  #tuples: BucketDigest[] | undefined;
  #tuplesBase: bigint | undefined;
  #startText: [bigint, string] | undefined;
  readonly #recent: bigint;
  /** The sweep has re-read everything before this (see `sweep`). */
  #swept: bigint;
  /** After a verification: the next window reads the whole look-back, to deliver what it found late or ambiguous. */
  #wholeLookback = false;

  /**
   * `options.start`: where a reader without a position starts (`startAt`): nothing older is delivered; default
   * the beginning (everything the store holds). `options.recentMicros`: how far behind T each window starts,
   * the rest of the look-back being swept as it ages out (see `sweep`); default the whole look-back, every window
   * (no sweep).
   */
  constructor(position: ConnectLivePosition | undefined, lookbackMicros: bigint, options: { readonly start?: bigint; readonly recentMicros?: bigint } = {}) {
    this.#lookback = lookbackMicros > 0n ? lookbackMicros : 0n;
    this.#recent = options.recentMicros === undefined ? this.#lookback : options.recentMicros > 0n ? options.recentMicros : 0n;
    const buckets = BigInt(DIGEST_BUCKETS);
    this.#w = this.#lookback === 0n ? 1n : (this.#lookback + buckets - 1n) / buckets;
    this.#swept = 0n;
    if (position === undefined) {
      const start = options.start ?? toMicros(LIVE_BEGINNING);
      this.#atText = fromMicros(start);
      this.#at = start;
      this.#floor = options.start;
      // Nothing before the start was read, nor is to be: the sweep begins with what the first window reads.
      this.#swept = start;
      return;
    }
    this.#atText = position.at;
    this.#at = toMicros(position.at);
    this.#ids = [...position.ids];
    this.#idSet = new Set(position.ids);
    this.#floor = toMicros(position.seen.from);
    if (position.seen.b.length > 0) this.#verify = position.seen;
    // The verification re-reads the look-back once; the sweep still re-reads it as it ages out, for events that
    // become visible after the restart.
    this.#swept = this.coverageStart();
  }

  /** The cursor time T. */
  get at(): string {
    return this.#atText;
  }

  /** Bucket width of the digest, microseconds. */
  get bucketMicros(): bigint {
    return this.#w;
  }

  /** Start of the part of the look-back behind the cursor that is re-read and tracked. */
  coverageStart(): bigint {
    const aligned = floorDiv(this.#at - this.#lookback, this.#w) * this.#w;
    return this.#floor !== undefined && this.#floor > aligned ? this.#floor : aligned;
  }

  /** After a restart: the range [from, to) to re-read once, before any window, to recover what was delivered. */
  verification(): { readonly from: bigint; readonly to: bigint } | undefined {
    return this.#verify === undefined ? undefined : { from: toMicros(this.#verify.from), to: this.#at };
  }

  /** Takes the keys visible in the `verification()` range; returns how many events it found late or ambiguous. */
  applyVerification(visible: readonly EventKey[]): { readonly missing: number; readonly ambiguous: number } {
    if (this.#verify === undefined) return { missing: 0, ambiguous: 0 };
    const verdict = verifyDigest(this.#verify, this.#atText, visible);
    this.#verify = undefined;
    this.#wholeLookback = verdict.missing.length > 0 || verdict.ambiguous.length > 0;
    for (const k of verdict.delivered) this.#remember(k.id, floorDiv(toMicros(k.at), this.#w));
    for (const k of verdict.ambiguous) this.#redeliver.add(k.id);
    return { missing: verdict.missing.length, ambiguous: verdict.ambiguous.length };
  }

  /**
   * The window to read now, [from, to) in microseconds, given `upto` = now − settle delay; undefined while
   * `upto` is not after the cursor (the cursor never passes it).
   */
  window(upto: bigint): { readonly from: bigint; readonly to: bigint } | undefined {
    if (this.#verify !== undefined) throw new TypeError('LiveCursor.window: applyVerification() must come first');
    if (upto <= this.#at) return undefined;
    const coverage = this.coverageStart();
    const recent = this.#at - this.#recent;
    return { from: recent > coverage && !this.#wholeLookback ? recent : coverage, to: upto };
  }

  /**
   * Before the window up to `upto`: the part of the look-back that leaves it when the cursor moves to `upto`
   * (and was not swept yet), to re-read once more for late events — undefined when there is none. Its events go
   * through `take` like the window's (they are behind T: late, or already delivered). Then `swept` it.
   */
  sweep(upto: bigint): { readonly from: bigint; readonly to: bigint } | undefined {
    if (this.#verify !== undefined) throw new TypeError('LiveCursor.sweep: applyVerification() must come first');
    const coverage = this.coverageStart();
    const from = this.#swept > coverage ? this.#swept : coverage;
    // What leaves coverage once T = upto, but no further than where the window starts (it reads the rest).
    const leaving = floorDiv(upto - this.#lookback, this.#w) * this.#w;
    const windowFrom = this.#at - this.#recent;
    const to = leaving < windowFrom ? leaving : windowFrom;
    return to > from ? { from, to } : undefined;
  }

  /** The sweep up to `to` was read and taken. */
  swept(to: bigint): void {
    if (to > this.#swept) this.#swept = to;
  }

  /**
   * An event of the current window, in (occurred_at, id) order: undefined when it was already delivered (or is
   * older than the coverage), else what it is and the position just after it. Precondition: the event is
   * before the window's end.
   */
  take(key: EventKey): LiveTake | undefined {
    if (key.at > this.#atText) {
      this.#fold();
      this.#at = toMicros(key.at);
      this.#atText = key.at;
      this.#ids = [key.id];
      this.#idSet = new Set([key.id]);
      this.#prune();
      return { kind: 'new', position: this.position() };
    }
    if (key.at === this.#atText) {
      if (this.#idSet.has(key.id)) return undefined;
      this.#ids.push(key.id);
      this.#idSet.add(key.id);
      return { kind: 'new', position: this.position() };
    }
    const us = toMicros(key.at);
    if (us < this.coverageStart()) return undefined;
    const index = floorDiv(us, this.#w);
    if (this.#buckets.get(index)?.ids.has(key.id) === true) return undefined;
    this.#remember(key.id, index);
    const kind = this.#redeliver.delete(key.id) ? 'redelivered' : 'late';
    return { kind, position: this.position() };
  }

  /** The whole window up to `upto` was handed out: the cursor moves to it (nothing at `upto` itself delivered yet). */
  advance(upto: bigint): void {
    this.#wholeLookback = false;
    if (upto <= this.#at) return;
    this.#fold();
    this.#at = upto;
    this.#atText = fromMicros(upto);
    this.#ids = [];
    this.#idSet = new Set();
    this.#prune();
  }

  /** The position now (resuming from it reads what comes after everything handed out so far). */
  position(): ConnectLivePosition {
    const start = this.coverageStart();
    const base = floorDiv(start, this.#w);
    if (this.#tuples === undefined || this.#tuplesBase !== base) {
      const tuples: BucketDigest[] = [];
      for (const index of this.#order) {
        if (index < base) continue;
        const b = this.#buckets.get(index)!;
        if (b.tuple === undefined || b.tupleBase !== base) {
          b.tuple = [Number(index - base), b.ids.size, hex64(b.h1, b.h2)];
          b.tupleBase = base;
        }
        tuples.push(b.tuple);
      }
      this.#tuples = tuples;
      this.#tuplesBase = base;
    }
    if (this.#startText === undefined || this.#startText[0] !== start) this.#startText = [start, fromMicros(start)];
    return { v: 1, at: this.#atText, ids: [...this.#ids], seen: { from: this.#startText[1], w: Number(this.#w), b: this.#tuples } };
  }

  /** The ids at the cursor time go into the buckets (the cursor is about to move past them). */
  #fold(): void {
    if (this.#ids.length === 0) return;
    const index = floorDiv(this.#at, this.#w);
    for (const id of this.#ids) this.#remember(id, index);
  }

  #remember(id: string, index: bigint): void {
    let b = this.#buckets.get(index);
    if (b === undefined) {
      b = { ids: new Set(), h1: 0, h2: 0, tuple: undefined, tupleBase: 0n };
      this.#buckets.set(index, b);
      let i = this.#order.length;
      while (i > 0 && this.#order[i - 1]! > index) i--;
      this.#order.splice(i, 0, index);
    }
    if (b.ids.has(id)) return;
    b.ids.add(id);
    const [h1, h2] = idHash(id);
    b.h1 ^= h1;
    b.h2 ^= h2;
    b.tuple = undefined;
    this.#tuples = undefined;
  }

  #prune(): void {
    const base = floorDiv(this.coverageStart(), this.#w);
    let n = 0;
    while (n < this.#order.length && this.#order[n]! < base) this.#buckets.delete(this.#order[n++]!);
    if (n > 0) {
      this.#order = this.#order.slice(n);
      this.#tuples = undefined;
    }
  }
}

// ---- replay ----

/** A replay's range cut into chunks: chunk i is [from + i·chunk, min(from + (i+1)·chunk, to)). */
export class ReplayPlan {
  readonly from: bigint;
  readonly to: bigint;
  readonly chunk: bigint;
  readonly count: number;

  constructor(range: TimeRange, chunkMicros: bigint) {
    this.from = toMicros(range.from);
    this.to = toMicros(range.to);
    if (chunkMicros <= 0n) throw new TypeError('ReplayPlan: the chunk length must be positive');
    this.chunk = chunkMicros;
    this.count = this.to > this.from ? Number((this.to - this.from + chunkMicros - 1n) / chunkMicros) : 0;
  }

  bounds(index: number): { readonly from: bigint; readonly to: bigint } {
    const from = this.from + BigInt(index) * this.chunk;
    const to = from + this.chunk;
    return { from, to: to < this.to ? to : this.to };
  }

  /** The chunk holding time `us` (which must be within the range). */
  indexOf(us: bigint): number {
    return Number((us - this.from) / this.chunk);
  }
}

/** The replay cursor: which chunk, and within it the last event read and the ids at its time. */
export class ReplayCursor {
  readonly #plan: ReplayPlan;
  #index: number;
  #at: string | undefined;
  #ids: string[] = [];
  #idSet = new Set<string>();
  #events: number;
  #before: number;
  /** Where this run started: chunk index, its events and the events before it, as the position said. */
  readonly start: { readonly index: number; readonly events: number; readonly before: number };

  /** Throws a TypeError when the position is outside the plan's range (check with `replayPositionProblem` first). */
  constructor(plan: ReplayPlan, position: ConnectReplayPosition | undefined) {
    this.#plan = plan;
    if (position === undefined) {
      this.#index = 0;
      this.#events = 0;
      this.#before = 0;
    } else {
      const problem = replayPositionProblem(plan, position);
      if (problem !== undefined) throw new TypeError(`ReplayCursor: ${problem}`);
      this.#index = plan.indexOf(toMicros(position.at));
      this.#at = position.at;
      this.#ids = [...position.ids];
      this.#idSet = new Set(position.ids);
      const same = position.chunk.index === this.#index && position.chunk.from === fromMicros(plan.bounds(this.#index).from);
      // When `replayChunk` changed between runs, the counts of the old chunk go to the chunks before.
      this.#events = same ? position.chunk.events : 0;
      this.#before = same ? position.chunk.before : position.chunk.before + position.chunk.events;
    }
    this.start = { index: this.#index, events: this.#events, before: this.#before };
  }

  get index(): number {
    return this.#index;
  }

  done(): boolean {
    return this.#index >= this.#plan.count;
  }

  /** Where reading of the current chunk starts (inclusive): its start, or the cursor time when resumed inside it. */
  readFrom(): bigint {
    const start = this.#plan.bounds(this.#index).from;
    if (this.#at === undefined) return start;
    const at = toMicros(this.#at);
    return at > start ? at : start;
  }

  /**
   * An event of the range, in (occurred_at, id) order: the position after it, or undefined when already read.
   * An event of a later chunk moves the cursor to that chunk (the chunks between had no event).
   */
  take(key: EventKey): ConnectReplayPosition | undefined {
    if (this.#at !== undefined && key.at < this.#at) return undefined;
    const index = this.#plan.indexOf(toMicros(key.at));
    while (this.#index < index) this.nextChunk();
    if (key.at === this.#at) {
      if (this.#idSet.has(key.id)) return undefined;
      this.#ids.push(key.id);
      this.#idSet.add(key.id);
    } else {
      this.#at = key.at;
      this.#ids = [key.id];
      this.#idSet = new Set([key.id]);
    }
    this.#events++;
    return this.position();
  }

  /** The current chunk is finished: on to the next. */
  nextChunk(): void {
    this.#before += this.#events;
    this.#events = 0;
    this.#index++;
  }

  /** The position now: after the last event read, or at the start of the current chunk when none of it was read yet. */
  position(): ConnectReplayPosition {
    const start = fromMicros(this.#plan.bounds(this.#index).from);
    const chunk = { index: this.#index, from: start, events: this.#events, before: this.#before };
    if (this.#at === undefined || this.#at < start) return { v: 1, at: start, ids: [], chunk };
    return { v: 1, at: this.#at, ids: [...this.#ids], chunk };
  }
}

/** Why a replay position cannot be resumed within this plan, or undefined when it can. */
export function replayPositionProblem(plan: ReplayPlan, position: ConnectReplayPosition): string | undefined {
  const at = toMicros(position.at);
  if (at < plan.from || at >= plan.to) {
    return `its time ${position.at} is outside the replay range [${fromMicros(plan.from)}, ${fromMicros(plan.to)})`;
  }
  return undefined;
}

/**
 * The replay report: one row per chunk from where this run started, what this run read in it, and what is
 * committed according to `committed` (chunks before its chunk complete, its chunk up to its count). Chunks
 * finished by earlier runs are summed up in one first row (their per-chunk counts are not kept).
 */
export function replayChunkReport(
  plan: ReplayPlan,
  readThisRun: ReadonlyMap<number, number>,
  start: { readonly index: number; readonly events: number; readonly before: number } | undefined,
  committed: ConnectReplayPosition | undefined,
): ReplayChunkReport[] {
  const ci = committed === undefined ? -1 : plan.indexOf(toMicros(committed.at));
  const committedIn = (i: number) => (committed !== undefined && i === ci ? committed.chunk.events : 0);
  const first = start?.index ?? Math.max(0, ci);
  const rows: ReplayChunkReport[] = [];
  if (first > 0) {
    const before = start?.before ?? committed?.chunk.before ?? 0;
    rows.push({ from: fromMicros(plan.from), to: fromMicros(plan.bounds(first).from), read: 0, committed: before });
  }
  for (let i = first; i < plan.count; i++) {
    const b = plan.bounds(i);
    const read = readThisRun.get(i) ?? 0;
    const base = start !== undefined && i === start.index ? start.events : 0;
    rows.push({ from: fromMicros(b.from), to: fromMicros(b.to), read, committed: i < ci ? base + read : committedIn(i) });
  }
  return rows;
}

// ---- positions ----

const isCount = (n: unknown): n is number => typeof n === 'number' && Number.isSafeInteger(n) && n >= 0;

function idsProblem(ids: unknown): string | undefined {
  if (!Array.isArray(ids) || !ids.every((id) => typeof id === 'string' && id !== '')) return 'ids is not a list of event ids';
  return new Set(ids).size === ids.length ? undefined : 'ids repeats an id';
}

function digestProblem(seen: unknown): string | undefined {
  if (!isJsonObject(seen)) return 'seen is not an object';
  if (!isCanonical(seen['from'])) return 'seen.from is not a canonical time';
  const w = seen['w'];
  if (!isCount(w) || w === 0) return 'seen.w is not a positive integer';
  const b = seen['b'];
  if (!Array.isArray(b)) return 'seen.b is not a list';
  let last = -1;
  for (const t of b) {
    if (!Array.isArray(t) || t.length !== 3) return 'seen.b holds something other than [offset, count, xor]';
    const [offset, count, xor] = t;
    if (!isCount(offset) || offset <= last || !isCount(count) || count === 0 || typeof xor !== 'string' || !HASH_HEX.test(xor)) {
      return 'seen.b holds an invalid bucket (offsets increasing, counts positive, xor 16 hex digits)';
    }
    last = offset;
  }
  return undefined;
}

/** Reads a position written by this source; returns why not when it is not one. */
export function parseConnectPosition(p: unknown): ParsedConnectPosition | string {
  if (!isJsonObject(p)) return 'not a Connect source position (an object)';
  if (p['v'] !== 1) return `unsupported Connect position version ${JSON.stringify(p['v'] ?? null)}`;
  if (!isCanonical(p['at'])) return 'at is not a canonical time (YYYY-MM-DDTHH:MM:SS.ffffffZ)';
  const ids = idsProblem(p['ids']);
  if (ids !== undefined) return ids;
  if (p['seen'] !== undefined && p['chunk'] === undefined) {
    const problem = digestProblem(p['seen']);
    if (problem !== undefined) return problem;
    if ((p['seen'] as { from: string }).from > p['at']) return 'seen.from is after at';
    return { kind: 'live', position: p as unknown as ConnectLivePosition };
  }
  if (p['chunk'] !== undefined && p['seen'] === undefined) {
    const c = p['chunk'];
    if (!isJsonObject(c) || !isCount(c['index']) || !isCanonical(c['from']) || !isCount(c['events']) || !isCount(c['before'])) {
      return 'chunk is not {index, from, events, before}';
    }
    return { kind: 'replay', position: p as unknown as ConnectReplayPosition };
  }
  return 'neither a live position (seen) nor a replay position (chunk)';
}
