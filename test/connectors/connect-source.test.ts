// The Connect source over an in-memory fake of the server and a fake clock: live cursor, late events, restarts, server quirks, failures, window splits, replay.
import { describe, expect, it } from 'vitest';
import { connectPostgresSchema, connectSourceSchema, type ConnectSourceConfig } from '../../connectors/connect/config.ts';
import { type ConnectLivePosition, type ConnectReplayPosition, fromMicros, toMicros } from '../../connectors/connect/cursor.ts';
import { createConnectSource, type ConnectSource, type ConnectSourceOptions } from '../../connectors/connect/source.ts';
import { isForwarderError } from '../../src/contracts/errors.ts';
import type { Position, SourceRecord, TimeRange } from '../../src/contracts/source.ts';
import { silentLogger } from '../../src/logging.ts';
import type { JsonValue } from '../../src/model/json.ts';
import { nowCanonical } from '../../src/model/now.ts';
import { connectEventJson } from '../support/generate.ts';
import { MemoryConnectReader, permanentError, retryableError, type MemoryReaderKnobs } from '../support/memory-connect-reader.ts';

/** `connectEventJson(i)` occurs at BASE_MS + i · 1.000003 s. */
const BASE_MS = Date.UTC(2026, 2, 1);
const SETTLE = 10_000;
const LOOKBACK = 300_000;
const MINUTE = 60_000;

type Event = { id: string; occurredAt: string; [key: string]: JsonValue };

const event = (i: number, overrides: Record<string, JsonValue> = {}): Event => ({ ...connectEventJson(i), ...overrides }) as unknown as Event;
const events = (from: number, count: number): Event[] => Array.from({ length: count }, (_, k) => event(from + k));
/** An event at the given time, in milliseconds after BASE_MS (with a fixed microsecond part). */
const eventAt = (offsetMs: number, id: string): Event => event(0, { id, occurredAt: nowCanonical(BASE_MS + offsetMs).replace(/000Z$/, '250Z') });

function inOrder(list: readonly Event[]): string[] {
  return [...list].sort((a, b) => (a.occurredAt < b.occurredAt ? -1 : a.occurredAt > b.occurredAt ? 1 : a.id < b.id ? -1 : a.id > b.id ? 1 : 0)).map((e) => e.id);
}

function config(overrides: Partial<ConnectSourceConfig> = {}): ConnectSourceConfig {
  const parsed = connectSourceSchema.parse({ type: 'connect', api: { url: 'https://connect.example.org:8443' } });
  return { ...parsed, pollInterval: 50, settleDelay: SETTLE, lookback: LOOKBACK, ...overrides };
}

class Clock {
  ms: number;
  constructor(ms: number) {
    this.ms = ms;
  }
  readonly now = (): number => this.ms;
}

function connectSource(reader: MemoryConnectReader, clock: Clock, overrides: Partial<ConnectSourceConfig> = {}, options: ConnectSourceOptions = {}): ConnectSource {
  return createConnectSource('connect-test', config(overrides), { logger: silentLogger(), baseDir: '.' }, reader, {
    now: clock.now,
    retry: { initialDelayMs: 1, maxDelayMs: 4 },
    ...options,
  });
}

const idOf = (r: SourceRecord): string => (r.decoded.ok ? r.decoded.event.id : (JSON.parse(r.rawText!) as { id: string }).id);
const ids = (records: readonly { record: SourceRecord }[]): string[] => records.map((r) => idOf(r.record));

interface Received {
  readonly record: SourceRecord;
  /** The fake clock when the record was received. */
  readonly clock: number;
}

/**
 * Reads live, the test driving the polls: between two polls (the source's `waitForChange`), `between` runs
 * (it may move the clock, insert events), unless `done` says to stop, which aborts the read.
 */
async function readLive(
  source: ConnectSource,
  reader: MemoryConnectReader,
  clock: Clock,
  from: Position | undefined,
  options: { stepMs?: number; done?: (received: Received[], polls: number) => boolean; between?: (polls: number) => void; polls?: number },
): Promise<Received[]> {
  const controller = new AbortController();
  const received: Received[] = [];
  let polls = 0;
  reader.onWait = () => {
    polls++;
    if (polls >= (options.polls ?? Infinity) || options.done?.(received, polls) === true) return controller.abort();
    clock.ms += options.stepMs ?? 0;
    options.between?.(polls);
  };
  try {
    for await (const chunk of source.read(from, { signal: controller.signal })) {
      for (const record of chunk) received.push({ record, clock: clock.ms });
    }
  } finally {
    reader.onWait = undefined;
  }
  return received;
}

async function readAll(source: ConnectSource, from: Position | undefined, range?: TimeRange): Promise<SourceRecord[]> {
  const out: SourceRecord[] = [];
  for await (const chunk of source.read(from, { signal: new AbortController().signal, ...(range !== undefined ? { range } : {}) })) out.push(...chunk);
  return out;
}

const lastEventMs = (list: readonly Event[]): number => Math.max(...list.map((e) => Date.parse(e.occurredAt)));

describe('live reading', () => {
  it('delivers 10 000 events across many pages once each, in order, never reading past now − settleDelay', async () => {
    const all = [...events(0, 10_000), ...Array.from({ length: 7 }, (_, k) => event(5_000, { id: `ae-same-${k}` }))];
    const reader = new MemoryConnectReader({ pageSize: 97 });
    reader.insertEvents(all);
    const clock = new Clock(BASE_MS);
    const tooFar: string[] = [];
    reader.onReadWindow = (q) => {
      if (q.to > nowCanonical(clock.ms - SETTLE)) tooFar.push(q.to);
    };
    const end = lastEventMs(all) + SETTLE + 2 * MINUTE;
    const source = connectSource(reader, clock);
    const received = await readLive(source, reader, clock, undefined, { stepMs: MINUTE, done: () => clock.ms > end });

    expect(ids(received)).toEqual(inOrder(all));
    expect(tooFar).toEqual([]);
    const early = received.filter((r) => {
      const cut = nowCanonical(r.clock - SETTLE);
      return !(r.record.decoded.ok && r.record.decoded.event.time < cut && (r.record.position as ConnectLivePosition).at <= cut);
    });
    expect(early).toEqual([]);
    expect(reader.calls.length).toBeGreaterThan(150);
    expect(source.stats()).toMatchObject({ late_events_total: 0, read_retries_total: 0, invalid_events_total: 0, unknown_types_total: 0 });
    expect(JSON.stringify(received.at(-1)!.record.position).length).toBeLessThan(3_000);
  });

  it('gives the same result whatever order, bounds and page overlaps the server has', async () => {
    const all = [...events(0, 1_500), ...Array.from({ length: 5 }, (_, k) => event(700, { id: `ae-same-${k}` }))];
    const variants: Array<Partial<MemoryReaderKnobs>> = [
      {},
      { descending: true },
      { exclusiveBounds: true },
      { shuffled: true },
      { duplicateAcrossPages: true },
      { descending: true, exclusiveBounds: true, duplicateAcrossPages: true, pageSize: 7 },
    ];
    for (const knobs of variants) {
      const reader = new MemoryConnectReader({ pageSize: 31, ...knobs });
      reader.insertEvents(all);
      const clock = new Clock(BASE_MS);
      const end = lastEventMs(all) + SETTLE + MINUTE;
      const received = await readLive(connectSource(reader, clock), reader, clock, undefined, { stepMs: 45_000, done: () => clock.ms > end });
      expect(ids(received), JSON.stringify(knobs)).toEqual(inOrder(all));
    }
  });

  it('delivers events sharing a microsecond across page boundaries, and resumes between them', async () => {
    const same = Array.from({ length: 9 }, (_, k) => event(20, { id: `ae-same-${k}` }));
    const all = [...events(0, 40), ...same];
    const reader = new MemoryConnectReader({ pageSize: 4, descending: true });
    reader.insertEvents(all);
    const clock = new Clock(BASE_MS + 10 * MINUTE);
    const first = await readLive(connectSource(reader, clock), reader, clock, undefined, { polls: 1 });
    expect(ids(first)).toEqual(inOrder(all));
    const k = ids(first).indexOf('ae-same-3');
    const position = first[k]!.record.position as ConnectLivePosition;
    expect(position.ids).toEqual(['ae-same-0', 'ae-same-1', 'ae-same-2', 'ae-same-3']);
    const resumed = await readLive(connectSource(reader, clock), reader, clock, position, { polls: 1 });
    expect(ids(resumed)).toEqual(inOrder(all).slice(k + 1));
  });

  it('delivers an event that appears behind the cursor within the look-back, and counts it late', async () => {
    const all = events(0, 600);
    const reader = new MemoryConnectReader({ pageSize: 50 });
    reader.insertEvents(all);
    const clock = new Clock(BASE_MS);
    const late = eventAt(250_500, 'ae-late-within');
    const tooLate = eventAt(10_000, 'ae-late-beyond');
    const source = connectSource(reader, clock);
    let inserted = false;
    const received = await readLive(source, reader, clock, undefined, {
      stepMs: MINUTE,
      between: () => {
        if (!inserted && clock.ms >= BASE_MS + 7 * MINUTE) {
          inserted = true;
          reader.insertEvents([late, tooLate]);
        }
      },
      done: () => clock.ms > BASE_MS + 12 * MINUTE,
    });
    const got = ids(received);
    expect(got.filter((id) => id === 'ae-late-within')).toHaveLength(1);
    expect(got).not.toContain('ae-late-beyond');
    expect(got.filter((id) => id !== 'ae-late-within')).toEqual(inOrder(all));
    expect(source.stats().late_events_total).toBe(1);
    // It came after events newer than it: it was behind the cursor.
    expect(got.indexOf('ae-late-within')).toBeGreaterThan(got.indexOf(event(300).id));
  });

  it('resumed from every 100th committed position, loses nothing and repeats nothing that was committed', async () => {
    const all = events(0, 2_000);
    const reader = new MemoryConnectReader({ pageSize: 50, descending: true });
    reader.insertEvents(all);
    const clock = new Clock(BASE_MS);
    // Late events, inserted as the clock passes: one alone, two in the same digest bucket (lookback / DIGEST_BUCKETS).
    const lateOnes = [
      { when: 5 * MINUTE, events: [eventAt(100_500, 'ae-late-1')] },
      { when: 10 * MINUTE, events: [eventAt(400_500, 'ae-late-2'), eventAt(401_500, 'ae-late-3')] },
      { when: 20 * MINUTE, events: [eventAt(1_000_100, 'ae-late-4')] },
    ];
    const end = lastEventMs(all) + SETTLE + 2 * MINUTE;
    const source = connectSource(reader, clock);
    const first = await readLive(source, reader, clock, undefined, {
      stepMs: 45_000,
      between: () => {
        while (lateOnes.length > 0 && clock.ms >= BASE_MS + lateOnes[0]!.when) reader.insertEvents(lateOnes.shift()!.events);
      },
      done: () => clock.ms > end,
    });
    const firstIds = ids(first);
    const everything = new Set([...all.map((e) => e.id), 'ae-late-1', 'ae-late-2', 'ae-late-3', 'ae-late-4']);
    expect(new Set(firstIds)).toEqual(everything);
    expect(firstIds).toHaveLength(everything.size);
    expect(source.stats().late_events_total).toBe(4);

    const finalClock = clock.ms;
    for (let k = 0; k < first.length; k += 100) {
      const committed = new Set(firstIds.slice(0, k + 1));
      const restartClock = new Clock(finalClock);
      const restarted = connectSource(reader, restartClock);
      const resumed = ids(await readLive(restarted, reader, restartClock, first[k]!.record.position, { polls: 1 }));
      expect(resumed.filter((id) => committed.has(id)), `resumed from #${k}`).toEqual([]);
      expect(new Set(resumed).size, `resumed from #${k}`).toBe(resumed.length);
      expect(new Set([...committed, ...resumed]), `resumed from #${k}`).toEqual(everything);
      expect(restarted.stats().redelivered_after_restart_total).toBe(0);
    }

    // A restart mid-window that goes on polling with the clock where it was: the same stream from there.
    const k = first.findIndex((r) => idOf(r.record) === 'ae-late-2') + 3;
    const restartClock = new Clock(first[k]!.clock);
    const resumed = await readLive(connectSource(reader, restartClock), reader, restartClock, first[k]!.record.position, {
      stepMs: 45_000,
      done: () => restartClock.ms > end,
    });
    expect(new Set([...firstIds.slice(0, k + 1), ...ids(resumed)])).toEqual(everything);
    expect(ids(resumed).length).toBe(everything.size - (k + 1));
  });

  it('delivers again, and counts, the events of a look-back bucket it cannot account for after a restart', async () => {
    const all = events(0, 300);
    const reader = new MemoryConnectReader();
    reader.insertEvents(all);
    const clock = new Clock(BASE_MS + 6 * MINUTE);
    const first = await readLive(connectSource(reader, clock), reader, clock, undefined, { polls: 1 });
    const position = first.at(-1)!.record.position;
    // Three late events land in one bucket while the forwarder is down.
    reader.insertEvents([eventAt(200_100, 'ae-late-x'), eventAt(200_200, 'ae-late-y'), eventAt(200_300, 'ae-late-z')]);
    const restarted = connectSource(reader, clock);
    const resumed = ids(await readLive(restarted, reader, clock, position, { polls: 1 }));
    expect(resumed).toEqual(expect.arrayContaining(['ae-late-x', 'ae-late-y', 'ae-late-z']));
    const again = resumed.filter((id) => id.startsWith('ae0'));
    expect(again.length).toBeGreaterThan(0);
    expect(again.length).toBeLessThan(15);
    expect(restarted.stats().redelivered_after_restart_total).toBe(resumed.length);
  });

  it('never hands out an event before now − settleDelay has passed it', async () => {
    const all = events(0, 400);
    const reader = new MemoryConnectReader({ pageSize: 25 });
    reader.insertEvents(all);
    const clock = new Clock(BASE_MS + 120_000);
    const still = await readLive(connectSource(reader, clock), reader, clock, undefined, { polls: 3 });
    const cut = nowCanonical(clock.ms - SETTLE);
    expect(ids(still)).toEqual(inOrder(all.filter((e) => e.occurredAt < cut)));
    expect(reader.calls.every((c) => c.query.to <= cut)).toBe(true);
  });

  it('retries a page that fails with a retryable error, resuming the window at that page (not its first)', async () => {
    const all = events(0, 500);
    // Newest first: the window is read through its page tokens (oldest first, each page is a query of its own).
    const reader = new MemoryConnectReader({ pageSize: 20, descending: true });
    reader.insertEvents(all);
    reader.failNext(3, retryableError('UNAVAILABLE: connection reset'), 2);
    const clock = new Clock(BASE_MS + 60 * MINUTE);
    const source = connectSource(reader, clock);
    const received = await readLive(source, reader, clock, undefined, { polls: 1 });
    expect(ids(received)).toEqual(inOrder(all));
    expect(source.stats().read_retries_total).toBe(3);
    // Pages 0 and 1, then page 2 failing three times and succeeding, then the rest: no page read twice.
    const calls = reader.calls.map((c) => `${c.page}:${c.result}`);
    expect(calls.slice(0, 6)).toEqual(['0:ok', '1:ok', '2:failed', '2:failed', '2:failed', '2:ok']);
    expect(reader.rowsRead).toBe(all.length);
  });

  it('stops with the reader message on a permanent error', async () => {
    const reader = new MemoryConnectReader();
    reader.insertEvents(events(0, 10));
    reader.failAlways(permanentError('PERMISSION_DENIED: the workload may not list audit events'));
    const clock = new Clock(BASE_MS + 60 * MINUTE);
    const error = await readAll(connectSource(reader, clock), undefined).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isForwarderError(error) && error.disposition === 'permanent').toBe(true);
    expect((error as Error).message).toContain('PERMISSION_DENIED');
    expect(reader.calls).toHaveLength(1);
  });

  it('ends promptly when aborted during a retry backoff', async () => {
    const reader = new MemoryConnectReader();
    reader.insertEvents(events(0, 10));
    reader.failNext(1);
    const clock = new Clock(BASE_MS + 60 * MINUTE);
    const source = connectSource(reader, clock, {}, { retry: { initialDelayMs: 600_000, maxDelayMs: 600_000 }, random: () => 0.99 });
    const controller = new AbortController();
    const reading = (async () => {
      const out: SourceRecord[] = [];
      for await (const chunk of source.read(undefined, { signal: controller.signal })) out.push(...chunk);
      return out;
    })();
    // The source is waiting out its backoff once it has counted the retry.
    while (source.stats().read_retries_total === 0) await new Promise((r) => setImmediate(r));
    controller.abort();
    expect(await reading).toEqual([]);
    expect(reader.calls).toHaveLength(1);
  });

  it('holds at most maxWindowBytes: a window of events in time order is cut at the times read (each read once); a crowded microsecond is read whole', async () => {
    const sameInstant = Array.from({ length: 80 }, (_, k) => event(1_000, { id: `ae-same-${String(k).padStart(3, '0')}` }));
    const all = [...events(0, 2_000), ...sameInstant];
    const budget = 20_000;
    const size = JSON.stringify(all[0]).length;
    for (const knobs of [{}, { descending: true }, { shuffled: true }] as Array<Partial<MemoryReaderKnobs>>) {
      const reader = new MemoryConnectReader({ pageSize: 10, ...knobs });
      reader.insertEvents(all);
      const clock = new Clock(BASE_MS + 24 * 60 * MINUTE);
      const source = connectSource(reader, clock, { maxWindowBytes: budget });
      const received = await readLive(source, reader, clock, undefined, { polls: 1 });
      const what = JSON.stringify(knobs);
      expect(ids(received), what).toEqual(inOrder(all));
      // Per window query: the events of the window its pages returned (what was held at once), at most the
      // budget and a page, but for the crowded microsecond, read whole in a window of one microsecond. (A query
      // starts one microsecond early, for servers whose bounds are exclusive, and may return events at its end:
      // those are not held.)
      const perWindow: Array<{ query: { from: string; to: string }; events: number }> = [];
      for (const c of reader.calls) {
        if (c.page === 0) perWindow.push({ query: c.query, events: 0 });
        perWindow.at(-1)!.events += c.returned.filter((e) => (e as Event).occurredAt > c.query.from && (e as Event).occurredAt < c.query.to).length;
      }
      const crowded = toMicros(event(1_000).occurredAt);
      const over = perWindow.filter((w) => w.events * size > budget + 10 * size);
      expect(over.map((w) => [w.query.from, w.query.to]), what).toEqual([[fromMicros(crowded - 1n), fromMicros(crowded + 1n)]]);
      if (Object.keys(knobs).length === 0) {
        // In time order nothing is dropped: every event read once, but those of the instant a window was cut at
        // (one here; the crowded one at most twice).
        const cuts = source.stats().window_cuts_total!;
        expect(cuts, what).toBeGreaterThan(10);
        expect(reader.rowsRead, what).toBeLessThanOrEqual(all.length + cuts + 2 * sameInstant.length);
      } else {
        expect(source.stats().window_splits_total, what).toBeGreaterThan(0);
      }
    }
  });
});

describe('what the events hold', () => {
  it('forwards unknown types and unparsable data, counted, and hands out undecodable events as invalid with their JSON', async () => {
    const odd = [
      event(0, { type: 99 }),
      event(1, { data: Buffer.from('not json {').toString('base64') }),
      event(2, { type: 'EVENT_TYPE_UNSPECIFIED' }),
      event(3, { type: 'EVENT_TYPE_QUANTUM_ENTANGLEMENT' }),
      event(4),
    ];
    const reader = new MemoryConnectReader();
    reader.insertEvents(odd);
    const clock = new Clock(BASE_MS + 60 * MINUTE);
    const source = connectSource(reader, clock);
    const received = (await readLive(source, reader, clock, undefined, { polls: 1 })).map((r) => r.record);
    expect(received.map(idOf)).toEqual(odd.map((e) => e.id));
    const [unknown, unparsed, invalid, unknownName, plain] = received;
    expect(unknown!.decoded.ok && unknown!.decoded.event.type).toBe('unknown_99');
    expect(unparsed!.decoded.ok && unparsed!.decoded.event.dataUnparsed?.error).toMatch(/not valid JSON/);
    expect(invalid!.decoded.ok).toBe(false);
    expect(JSON.parse(invalid!.rawText!)).toEqual(odd[2]);
    expect(source.decodeRaw(invalid!.rawText!)).toEqual(invalid!.decoded);
    expect(unknownName!.decoded.ok && unknownName!.decoded.event.type).toBe('quantum_entanglement');
    expect(plain!.decoded.ok).toBe(true);
    expect(source.stats()).toMatchObject({ unknown_types_total: 2, unparsed_data_total: 1, invalid_events_total: 1 });
  });

  it('pushes the selection down as type numbers; the read options win over the factory options', async () => {
    const reader = new MemoryConnectReader();
    reader.insertEvents(events(0, 200));
    const clock = new Clock(BASE_MS + 60 * MINUTE);
    const source = connectSource(reader, clock, {}, { includeTypes: ['trust_zone_creation', 'unknown_99'], excludeTypes: ['node_attestation', 'no_such_type'] });
    const received = await readLive(source, reader, clock, undefined, { polls: 1 });
    expect(reader.calls[0]!.query).toMatchObject({ includeTypes: [26, 99], excludeTypes: [20] });
    expect(new Set(received.map((r) => r.record.decoded.ok && r.record.decoded.event.type))).toEqual(new Set(['trust_zone_creation']));

    const other = new MemoryConnectReader();
    other.insertEvents(events(0, 10));
    const withSelect = connectSource(other, clock, {}, { includeTypes: ['trust_zone_creation'] });
    const controller = new AbortController();
    other.onWait = () => controller.abort();
    for await (const chunk of withSelect.read(undefined, { signal: controller.signal, select: { includeTypes: ['bogus', 'cluster_creation'], excludeTypes: ['workload_creation'] } })) void chunk;
    expect(other.calls[0]!.query.includeTypes).toBeUndefined();
    expect(other.calls[0]!.query.excludeTypes).toEqual([33]);
  });
});

describe('replay', () => {
  const all = events(0, 10_000);
  const range: TimeRange = { from: nowCanonical(BASE_MS), to: nowCanonical(BASE_MS + 3 * 60 * MINUTE) };
  const chunk = 10 * MINUTE;

  it('reads the range chunk by chunk, ends, and reports per chunk', async () => {
    const reader = new MemoryConnectReader({ pageSize: 200, descending: true });
    reader.insertEvents(all);
    const clock = new Clock(BASE_MS + 24 * 60 * MINUTE);
    const source = connectSource(reader, clock, { replayChunk: chunk });
    const records = await readAll(source, undefined, range);
    expect(records.map(idOf)).toEqual(inOrder(all));
    expect(source.progress!()).toEqual({ done: 3 * 60 * MINUTE, total: 3 * 60 * MINUTE, unit: 'events' });
    const report = source.replayReport(records.at(-1)!.position);
    expect(report).toHaveLength(18);
    expect(report[0]).toEqual({ from: range.from, to: nowCanonical(BASE_MS + chunk), read: 600, committed: 600 });
    expect(report.reduce((n, r) => n + r.read, 0)).toBe(10_000);
    expect(report.every((r) => r.committed === r.read)).toBe(true);
    // Committed only part way: chunks before complete, its chunk up to its count, nothing after.
    const mid = source.replayReport(records[4_321]!.position);
    expect(mid.map((r) => r.committed)).toEqual(report.map((r, i) => (i < 7 ? r.read : i === 7 ? 4_322 - 7 * 600 : 0)));
    expect(source.replayReport(undefined).every((r) => r.committed === 0)).toBe(true);
  });

  it('resumes in the middle of a chunk, from where the last run stopped', async () => {
    const reader = new MemoryConnectReader({ pageSize: 200, exclusiveBounds: true });
    reader.insertEvents(all);
    const clock = new Clock(BASE_MS + 24 * 60 * MINUTE);
    const firstRun = connectSource(reader, clock, { replayChunk: chunk });
    const got: SourceRecord[] = [];
    for await (const c of firstRun.read(undefined, { signal: new AbortController().signal, range })) {
      got.push(...c);
      if (got.length >= 4_500) break;
    }
    const stop = got[4_321]!;
    expect((stop.position as ConnectReplayPosition).chunk).toMatchObject({ index: 7, events: 4_322 - 7 * 600, before: 7 * 600 });

    const secondRun = connectSource(reader, clock, { replayChunk: chunk });
    const rest = await readAll(secondRun, stop.position, range);
    expect(rest.map(idOf)).toEqual(inOrder(all).slice(4_322));
    const report = secondRun.replayReport(rest.at(-1)!.position);
    expect(report[0]).toEqual({ from: range.from, to: nowCanonical(BASE_MS + 7 * chunk), read: 0, committed: 7 * 600 });
    expect(report[1]).toMatchObject({ read: 8 * 600 - 4_322, committed: 600 });
    expect(report).toHaveLength(1 + 18 - 7);
    expect(report.reduce((n, r) => n + r.committed, 0)).toBe(10_000);
    // Nothing committed by this run yet: the report starts from the position it resumed from.
    expect(secondRun.replayReport(undefined)[1]).toMatchObject({ committed: 4_322 - 7 * 600 });
  });

  it('stops at now − settleDelay when the range reaches into it', async () => {
    const reader = new MemoryConnectReader({ pageSize: 500 });
    reader.insertEvents(all);
    const clock = new Clock(BASE_MS + 5_000_000);
    const source = connectSource(reader, clock, { replayChunk: chunk });
    const records = await readAll(source, undefined, range);
    const cut = nowCanonical(clock.ms - SETTLE);
    expect(records.map(idOf)).toEqual(inOrder(all.filter((e) => e.occurredAt < cut)));
    expect(reader.calls.every((c) => c.query.to <= cut)).toBe(true);
    const p = source.progress!();
    expect(p!.done).toBe(p!.total);
  });

  it('refuses positions that are not of this replay', async () => {
    const reader = new MemoryConnectReader();
    reader.insertEvents(events(0, 50));
    const clock = new Clock(BASE_MS + 24 * 60 * MINUTE);
    const live = await readLive(connectSource(reader, clock), reader, clock, undefined, { polls: 1 });
    const replayed = await readAll(connectSource(reader, clock, { replayChunk: chunk }), undefined, range);
    const cases: Array<[Position, TimeRange | undefined]> = [
      [live[0]!.record.position, range],
      [replayed[0]!.position, undefined],
      [replayed[0]!.position, { from: nowCanonical(BASE_MS + 60 * MINUTE), to: nowCanonical(BASE_MS + 120 * MINUTE) }],
      [{ file: 'x.jsonl', offset: 3 }, undefined],
    ];
    for (const [position, r] of cases) {
      const error = await readAll(connectSource(reader, clock, { replayChunk: chunk }), position, r).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(isForwarderError(error, 'FWD_SOURCE_POSITION_INVALID'), JSON.stringify(position)).toBe(true);
    }
  });
});

describe('the source itself', () => {
  it('names what it reads, decodes raw text again, and closes its reader once', async () => {
    const reader = new MemoryConnectReader({}, { endpoint: 'https://connect.example.org:8443' });
    const source = connectSource(reader, new Clock(BASE_MS));
    expect(source.type).toBe('connect');
    // The store, not the road to it; the identity of earlier releases is still accepted.
    expect(source.identity()).toEqual({ type: 'connect', store: 'connect' });
    expect(source.previousIdentities()).toEqual([{ type: 'connect', transport: 'api', reader: { endpoint: 'https://connect.example.org:8443' } }]);
    // The PostgreSQL transport on the default table reads the same store; another table is other data.
    const onPostgres = (table?: string) =>
      createConnectSource('c', { ...config(), transport: 'postgres', postgres: connectPostgresSchema.parse({ connectionString: 'postgres://u:p@db:5432/connect', ...(table !== undefined ? { table } : {}) }) }, { logger: silentLogger(), baseDir: '.' }, reader).identity();
    expect(onPostgres()).toEqual(source.identity());
    expect(onPostgres('audit.other_events')).toEqual({ type: 'connect', store: 'connect', table: 'audit.other_events' });
    const decoded = source.decodeRaw(JSON.stringify(event(3)));
    expect(decoded.ok && decoded.event.id).toBe(event(3).id);
    expect(source.decodeRaw('{oops').ok).toBe(false);
    expect(source.progress!()).toBeUndefined();
    expect(source.replayReport(undefined)).toEqual([]);
    await source.close();
    await source.close();
    expect(reader.closed).toBe(true);
  });
});
