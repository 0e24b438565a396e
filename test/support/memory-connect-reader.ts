// An in-memory fake of the Connect AuditService read path behind the ConnectEventReader contract, with the test server's knobs.
import { ForwarderError } from '../../src/contracts/errors.ts';
import { eventTypeByName } from '../../src/model/event-types.ts';
import { isJsonObject } from '../../src/model/json.ts';
import type { JsonValue } from '../../src/model/json.ts';
import { parseEventTime } from '../../src/model/time.ts';
import { PageTokenRefused, type ConnectEventReader, type EventPage, type WindowQuery } from '../../connectors/connect/window.ts';

/**
 * Behaviour switches, read by every call; change them at any time. They mirror the knobs of the gRPC test
 * server (test/support/connect-server.ts), so that a case written against this fake can be run there.
 */
export interface MemoryReaderKnobs {
  /** Events per page (the server's page size). */
  pageSize: number;
  /** Pages newest first, as the server's `descending` knob. */
  descending: boolean;
  /** Treat `from` / `to` as exclusive, as the server's `exclusiveBounds` knob; default both inclusive. */
  exclusiveBounds: boolean;
  /**
   * Each page after the first starts again with the last event of the page before, as when a reader
   * restarts after an expired page token or a server pages on a non-unique key.
   */
  duplicateAcrossPages: boolean;
  /** Instead of (occurred_at, id) order, a fixed shuffle (any order the server may pick). */
  shuffled: boolean;
}

/** One `readPage` call: its query, which page of it, what it returned, and how it ended. */
export interface MemoryReaderCall {
  readonly query: WindowQuery;
  /** 0 for the first page of a window. */
  readonly page: number;
  events: number;
  /** The events returned. */
  returned: readonly JsonValue[];
  result: 'ok' | 'failed' | 'stopped' | undefined;
}

type Failure = { readonly error: Error; readonly afterPages: number };

const EVENT_TYPE_PREFIX = 'EVENT_TYPE_';

function timeOf(event: JsonValue): string | undefined {
  if (!isJsonObject(event)) return undefined;
  const t = parseEventTime(event['occurredAt'] ?? event['occurred_at']);
  return t.ok ? t.time : undefined;
}

function idOf(event: JsonValue): string {
  return isJsonObject(event) && typeof event['id'] === 'string' ? event['id'] : '';
}

/** The event's type number, as a server stores it (names mapped through the catalog). */
function typeNumberOf(event: JsonValue): number | undefined {
  if (!isJsonObject(event)) return undefined;
  const t = event['type'];
  if (typeof t === 'number') return t;
  if (typeof t !== 'string') return undefined;
  if (/^\d+$/.test(t)) return Number(t);
  const name = t.startsWith(EVENT_TYPE_PREFIX) ? t.slice(EVENT_TYPE_PREFIX.length).toLowerCase() : t;
  return eventTypeByName(name)?.number;
}

type Stored = { readonly event: JsonValue; readonly at: string; readonly id: string; readonly type: number | undefined };

const byKey = (a: Stored, b: Stored): number => (a.at < b.at ? -1 : a.at > b.at ? 1 : a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

/** Events with a time, as stored, in (occurred_at, id) order. */
function stored(events: readonly JsonValue[]): Stored[] {
  return events
    .map((event) => ({ event, at: timeOf(event) ?? '', id: idOf(event), type: typeNumberOf(event) }))
    .filter((e) => e.at !== '')
    .sort(byKey);
}

/** Two sorted lists as one. */
function merge(a: readonly Stored[], b: readonly Stored[]): Stored[] {
  const out: Stored[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) out.push(byKey(a[i]!, b[j]!) <= 0 ? a[i++]! : b[j++]!);
  while (i < a.length) out.push(a[i++]!);
  while (j < b.length) out.push(b[j++]!);
  return out;
}

/** Index of the first stored event at or after `time` (`after`: strictly after it). */
function lowerBound(sorted: readonly Stored[], time: string, after: boolean): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const at = sorted[mid]!.at;
    if (at < time || (after && at === time)) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** A deterministic shuffle (xorshift), so that a failing case can be replayed. */
function shuffle<T>(items: T[], seed: number): T[] {
  let s = seed >>> 0 || 1;
  for (let i = items.length - 1; i > 0; i--) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    const j = (s >>> 0) % (i + 1);
    [items[i], items[j]] = [items[j]!, items[i]!];
  }
  return items;
}

export const retryableError = (message = 'injected UNAVAILABLE'): ForwarderError =>
  new ForwarderError('FWD_SOURCE_IO', message, { stage: 'source', disposition: 'retryable' });

export const permanentError = (message = 'injected PERMISSION_DENIED'): ForwarderError =>
  new ForwarderError('FWD_SOURCE_IO', message, { stage: 'source', disposition: 'permanent' });

/**
 * The store is a list of events in proto3 JSON (as `connectEventJson(i)` makes them). A window returns the
 * events whose `occurredAt` is within the query's bounds and whose type passes the include / exclude lists,
 * as they are when its first page is read (later inserts are seen by later windows), cut into pages; a page
 * token names the window's snapshot and the page.
 */
export class MemoryConnectReader implements ConnectEventReader {
  readonly knobs: MemoryReaderKnobs;
  readonly calls: MemoryReaderCall[] = [];
  /** Called at the first page of every window, with its query (to check it, or move a fake clock). */
  onReadWindow: ((query: WindowQuery) => void) | undefined;
  /** Events returned by every page so far, duplicates and re-reads included (the load on the server). */
  rowsRead = 0;
  /**
   * When set, `waitForChange` calls it and resolves at once instead of waiting: a test drives the polls
   * (typically moving its fake clock forward, or aborting once it has what it wants).
   */
  onWait: (() => void) | undefined;
  closed = false;
  readonly #events: JsonValue[] = [];
  #sorted: Stored[] | undefined;
  readonly #failures: Failure[] = [];
  #permanent: Error | undefined;
  readonly #waiters = new Set<() => void>();
  readonly #identity: JsonValue;
  #seed = 1;
  /** Window snapshots by token prefix; tokens of an older generation are refused (`expireTokens`). */
  readonly #snapshots = new Map<string, JsonValue[]>();
  #generation = 0;
  #nextSnapshot = 0;

  constructor(knobs: Partial<MemoryReaderKnobs> = {}, identity: JsonValue = { reader: 'memory' }) {
    this.knobs = { pageSize: 100, descending: false, exclusiveBounds: false, duplicateAcrossPages: false, shuffled: false, ...knobs };
    this.#identity = identity;
  }

  /** Adds events, visible to the windows read from now on (an old `occurredAt` makes a late event). */
  insertEvents(events: readonly JsonValue[]): void {
    for (const e of events) this.#events.push(e);
    // Kept sorted by merging the new ones in: a long simulation inserts a little at every poll.
    if (this.#sorted !== undefined) this.#sorted = merge(this.#sorted, stored(events));
    for (const wake of this.#waiters) wake();
  }

  deleteEvents(): void {
    this.#events.length = 0;
    this.#sorted = undefined;
  }

  get size(): number {
    return this.#events.length;
  }

  /** The next `count` page reads of a page index ≥ `afterPages` fail with `error` (default: retryable). */
  failNext(count: number, error: Error = retryableError(), afterPages = 0): void {
    for (let i = 0; i < count; i++) this.#failures.push({ error, afterPages });
  }

  /** Every page token handed out so far is refused from now on (as a server whose tokens expired, or restarted). */
  expireTokens(): void {
    this.#generation++;
    this.#snapshots.clear();
  }

  /** Every call from now on fails with `error` (default: permanent); `undefined` lifts it. */
  failAlways(error: Error | undefined = permanentError()): void {
    this.#permanent = error;
  }

  /** The store in (occurred_at, id) order, as the server's index has it; events without a time are never returned. */
  #sortedEvents(): Stored[] {
    this.#sorted ??= stored(this.#events);
    return this.#sorted;
  }

  legacyIdentity(): JsonValue {
    return this.#identity;
  }

  /** The window's events as the server would page them: in its order, by the knobs. */
  #windowEvents(query: WindowQuery): JsonValue[] {
    const k = this.knobs;
    const include = query.includeTypes === undefined ? undefined : new Set(query.includeTypes);
    const exclude = new Set(query.excludeTypes ?? []);
    const sorted = this.#sortedEvents();
    const first = lowerBound(sorted, query.from, k.exclusiveBounds);
    const end = lowerBound(sorted, query.to, !k.exclusiveBounds);
    const matching = sorted.slice(first, end).filter(({ type }) => {
      if (include !== undefined && (type === undefined || !include.has(type))) return false;
      return type === undefined || !exclude.has(type);
    });
    if (k.descending) matching.reverse();
    if (k.shuffled) shuffle(matching, this.#seed++);
    return matching.map((m) => m.event);
  }

  async readPage(query: WindowQuery, token: string | undefined, signal: AbortSignal): Promise<EventPage> {
    let snapshot: string;
    let page: number;
    if (token === undefined) {
      this.onReadWindow?.(query);
      snapshot = `${this.#generation}.${this.#nextSnapshot++}`;
      this.#snapshots.set(snapshot, this.#windowEvents(query));
      page = 0;
    } else {
      const [s, p] = token.split(':');
      if (s === undefined || p === undefined || !this.#snapshots.has(s)) throw new PageTokenRefused(`page token ${token} expired`);
      snapshot = s;
      page = Number(p);
    }
    const call: MemoryReaderCall = { query, page, events: 0, returned: [], result: undefined };
    this.calls.push(call);
    // A real transport yields between network round trips; so does this one.
    await Promise.resolve();
    if (signal.aborted) {
      call.result = 'stopped';
      throw signal.reason;
    }
    const failureAt = this.#permanent !== undefined ? -1 : this.#failures.findIndex((f) => page >= f.afterPages);
    if (this.#permanent !== undefined || failureAt !== -1) {
      call.result = 'failed';
      throw this.#permanent ?? this.#failures.splice(failureAt, 1)[0]!.error;
    }
    const events = this.#snapshots.get(snapshot)!;
    const size = Math.max(1, this.knobs.pageSize);
    const start = page * size;
    let items = events.slice(start, start + size);
    if (this.knobs.duplicateAcrossPages && start > 0) items = [events[start - 1]!, ...items];
    call.events = items.length;
    call.returned = items;
    call.result = 'ok';
    this.rowsRead += items.length;
    if (start + size >= events.length) {
      this.#snapshots.delete(snapshot);
      return { events: items };
    }
    return { events: items, next: `${snapshot}:${page + 1}` };
  }

  waitForChange(ms: number, signal: AbortSignal): Promise<void> {
    if (this.onWait !== undefined) {
      this.onWait();
      return new Promise((resolve) => setImmediate(resolve));
    }
    return new Promise((resolve) => {
      if (signal.aborted) return resolve();
      const done = () => {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        this.#waiters.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      signal.addEventListener('abort', done, { once: true });
      this.#waiters.add(done);
    });
  }

  async close(): Promise<void> {
    this.closed = true;
  }
}
