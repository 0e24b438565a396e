// The load the Connect source puts on Connect: rows read per new event at the defaults, late transactions, sparse replays, a first start on a large store.
import { describe, expect, it } from 'vitest';
import { connectSourceSchema, type ConnectSourceConfig } from '../../connectors/connect/config.ts';
import { createConnectSource, type ConnectSource } from '../../connectors/connect/source.ts';
import type { Position, SourceRecord } from '../../src/contracts/source.ts';
import { silentLogger } from '../../src/logging.ts';
import type { JsonValue } from '../../src/model/json.ts';
import { nowCanonical } from '../../src/model/now.ts';
import { connectEventJson } from '../support/generate.ts';
import { MemoryConnectReader, type MemoryReaderKnobs } from '../support/memory-connect-reader.ts';

const SECOND = 1_000;
const MINUTE = 60 * SECOND;
const DAY = 24 * 60 * MINUTE;
const T0 = Date.UTC(2026, 4, 12, 8);

/** The source at its documented defaults (poll 5 s, settle 10 s, look-back 5 min), over the fake reader and clock. */
function defaultSource(reader: MemoryConnectReader, now: () => number, overrides: Partial<ConnectSourceConfig> = {}): ConnectSource {
  const config = { ...connectSourceSchema.parse({ type: 'connect', api: { url: 'https://connect.example.org:8443' } }), ...overrides };
  return createConnectSource('load', config, { logger: silentLogger(), baseDir: '.' }, reader, { now, retry: { initialDelayMs: 1, maxDelayMs: 2 } });
}

/** An event of the synthetic sequence, placed at `ms`. */
const eventAt = (i: number, ms: number): JsonValue => ({ ...connectEventJson(i), id: `ae-load-${String(i).padStart(7, '0')}`, occurredAt: nowCanonical(ms) }) as JsonValue;

const idOf = (r: SourceRecord): string => (r.decoded.ok ? r.decoded.event.id : '?');

describe('steady state at the defaults', () => {
  it('reads about 3 rows per new event (not the whole look-back every poll), and loses none of the events of transactions committing up to 45 s late', async () => {
    const RATE = 100; // events per second
    const reader = new MemoryConnectReader({ pageSize: 1000 });
    let clock = T0;
    const source = defaultSource(reader, () => clock);
    const written: string[] = [];
    /** Events written but not visible yet (their transaction commits late), with when they become visible. */
    const pendingLate: Array<{ visibleAt: number; event: JsonValue }> = [];
    let i = 0;
    let lastWritten = T0 - 10 * SECOND;
    const write = () => {
      const now: JsonValue[] = [];
      for (; lastWritten + SECOND / RATE <= clock; i++) {
        lastWritten += SECOND / RATE;
        const e = eventAt(i, lastWritten);
        written.push((e as { id: string }).id);
        // One in 50 commits 10–45 s after its occurred_at.
        if (i % 50 === 7) pendingLate.push({ visibleAt: lastWritten + 10 * SECOND + ((i * 7919) % 35) * SECOND, event: e });
        else now.push(e);
      }
      for (let k = pendingLate.length - 1; k >= 0; k--) {
        if (pendingLate[k]!.visibleAt <= clock) now.push(pendingLate.splice(k, 1)[0]!.event);
      }
      reader.insertEvents(now);
    };

    const DURATION = 12 * MINUTE;
    const received: string[] = [];
    const rowsAt: Array<{ clock: number; rows: number; events: number }> = [];
    const controller = new AbortController();
    reader.onWait = () => {
      rowsAt.push({ clock, rows: reader.rowsRead, events: i });
      // Writing stops after DURATION; the forwarder goes on until the last look-back has aged out.
      if (clock >= T0 + DURATION + 6 * MINUTE) return controller.abort();
      clock += 5 * SECOND;
      if (clock <= T0 + DURATION) write();
      else for (const p of pendingLate.splice(0)) reader.insertEvents([p.event]);
    };
    write();
    for await (const chunk of source.read(undefined, { signal: controller.signal })) for (const r of chunk) received.push(idOf(r));

    // Nothing lost, nothing twice: late ones included.
    expect(received.length).toBe(written.length);
    expect(new Set(received)).toEqual(new Set(written));
    expect(source.stats().late_events_total).toBeGreaterThan(0);

    // Rows read per new event while writing, once the first look-back has passed.
    const from = rowsAt.find((r) => r.clock >= T0 + 6 * MINUTE)!;
    const to = rowsAt.findLast((r) => r.clock <= T0 + DURATION)!;
    const perEvent = (to.rows - from.rows) / (to.events - from.events);
    expect(perEvent).toBeLessThanOrEqual(3.1);
    // The look-back alone read every poll would be lookback ÷ poll = 60 rows per new event.
    expect(perEvent).toBeGreaterThanOrEqual(2);
  });
});

describe('replays of sparse ranges', () => {
  // Calls at most: oldest first, a query per budget's worth of events (10 pages); newest first, narrowing from the
  // newest events read, then windows that double across the empty stretch and adapt to the events.
  it.each<[string, Partial<MemoryReaderKnobs>, number]>([
    ['oldest first', {}, 20],
    ['newest first', { descending: true }, 100],
  ])('a replay from a year (and ten years) back over 10,000 events costs calls per event, not per empty hour (%s)', async (_, knobs, maxCalls) => {
    const reader = new MemoryConnectReader({ pageSize: 1000, ...knobs });
    // 10,000 events in the last two days before T0.
    reader.insertEvents(Array.from({ length: 10_000 }, (_, k) => eventAt(k, T0 - 2 * DAY + k * 15 * SECOND)));
    for (const years of [1, 10]) {
      const before = reader.calls.length;
      // A budget of a fifth of the events: the read is cut (oldest first) or narrowed (newest first).
      const source = defaultSource(reader, () => T0 + DAY, { maxWindowBytes: 1024 * 1024 });
      const range = { from: nowCanonical(T0 - years * 365 * DAY), to: nowCanonical(T0) };
      const got: string[] = [];
      for await (const chunk of source.read(undefined, { signal: new AbortController().signal, range })) for (const r of chunk) got.push(idOf(r));
      expect(got).toHaveLength(10_000);
      // Hourly chunks: 8,760 (87,600) of them, all but 48 empty: one call each before. The calls now follow the
      // events, not the calendar.
      expect(reader.calls.length - before, `${years} year(s)`).toBeLessThanOrEqual(maxCalls);
      const report = source.replayReport(undefined);
      expect(report.reduce((a, r) => a + r.read, 0)).toBe(10_000);
    }
  });
});

describe('first start on a large store', () => {
  it('commits from the first page on, reads each row about once, and a restart at any moment goes on from there', async () => {
    const N = 100_000;
    const reader = new MemoryConnectReader({ pageSize: 1000 });
    reader.insertEvents(Array.from({ length: N }, (_, k) => eventAt(k, T0 - 30 * DAY + k * 20 * SECOND)));
    const clock = T0;
    let position: Position | undefined;
    const delivered = new Set<string>();
    // Restarts every ~17 pages, from the position of the last record handed out (what the engine would commit).
    for (let run = 0; delivered.size < N && run < 200; run++) {
      const source = defaultSource(reader, () => clock);
      const controller = new AbortController();
      reader.onWait = () => controller.abort();
      let handed = 0;
      for await (const chunk of source.read(position, { signal: controller.signal })) {
        for (const r of chunk) {
          delivered.add(idOf(r));
          position = r.position;
        }
        handed += chunk.length;
        if (handed >= 17_000) break;
      }
    }
    expect(delivered.size).toBe(N);
    // A restart re-reads what was read ahead but not handed out (at most the window budget) and its look-back:
    // with six restarts, rows stay within 15 % of the store's size (the old reader discarded whole windows).
    expect(reader.rowsRead).toBeLessThanOrEqual(1.15 * N);
  });
});
