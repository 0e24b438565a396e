// The Connect source's cursor, without I/O: event keys, the look-back digest, the live cursor through polls and restarts, replay chunks and report.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type ConnectLivePosition,
  DIGEST_BUCKETS,
  type EventKey,
  type HeldEvent,
  LiveCursor,
  type LookbackDigest,
  ReplayCursor,
  ReplayPlan,
  compareKeys,
  eventKeyOf,
  fromMicros,
  idHash,
  orderWindow,
  parseConnectPosition,
  replayChunkReport,
  toMicros,
  verifyDigest,
} from '../../connectors/connect/cursor.ts';

const T0 = toMicros('2026-03-01T00:00:00.000000Z');
const at = (us: number | bigint): string => fromMicros(T0 + BigInt(us));
const key = (us: number, id: string): EventKey => ({ at: at(us), id });
const SECOND = 1_000_000;

/** A JSON round trip, as a checkpoint file would do. */
const persisted = <T>(p: T): T => JSON.parse(JSON.stringify(p)) as T;

function livePosition(p: unknown): ConnectLivePosition {
  const parsed = parseConnectPosition(p);
  if (typeof parsed === 'string' || parsed.kind !== 'live') throw new Error(`not a live position: ${String(parsed)}`);
  return parsed.position;
}

describe('event keys and window order', () => {
  it('reads the id and either spelling of the time, in canonical form', () => {
    expect(eventKeyOf({ id: 'ae1', occurredAt: '2026-03-01T01:02:03.5+01:00' })).toEqual({ id: 'ae1', at: '2026-03-01T00:02:03.500000Z' });
    expect(eventKeyOf({ id: 'ae1', occurred_at: '2026-03-01T00:00:00Z' })).toEqual({ id: 'ae1', at: '2026-03-01T00:00:00.000000Z' });
    expect(eventKeyOf({ id: '', occurredAt: '2026-03-01T00:00:00Z' })).toBeUndefined();
    expect(eventKeyOf({ id: 'ae1' })).toBeUndefined();
    expect(eventKeyOf({ id: 'ae1', occurredAt: 'yesterday' })).toBeUndefined();
    expect(eventKeyOf(['ae1'])).toBeUndefined();
  });

  it('orders by time then id, events without a key first', () => {
    const held = (k: EventKey | undefined, n: number): HeldEvent => ({ key: k, raw: n, size: 1 });
    const events = [held(key(2, 'b'), 1), held(key(1, 'z'), 2), held(undefined, 3), held(key(2, 'a'), 4), held(key(1, 'a'), 5)];
    expect(orderWindow(events).map((e) => e.raw)).toEqual([3, 5, 2, 4, 1]);
    expect(compareKeys(key(1, 'a'), key(1, 'a'))).toBe(0);
  });
});

describe('the look-back digest', () => {
  /** A digest of `keys` as the live cursor writes it. */
  function digestOf(keys: EventKey[], cursorUs: number, lookbackUs: number): LookbackDigest {
    const c = new LiveCursor(undefined, BigInt(lookbackUs));
    const sorted = [...keys].sort(compareKeys);
    for (const k of sorted) c.take(k);
    c.advance(T0 + BigInt(cursorUs));
    return c.position().seen;
  }

  const delivered = [key(10, 'a'), key(11, 'b'), key(500_000, 'c'), key(500_000, 'd'), key(900_000, 'e')];
  const digest = digestOf(delivered, SECOND, SECOND);

  it('says all delivered when the bucket counts and hashes match', () => {
    const v = verifyDigest(digest, at(SECOND), delivered);
    expect(v.delivered.map((k) => k.id).sort()).toEqual(['a', 'b', 'c', 'd', 'e']);
    expect(v.missing).toEqual([]);
    expect(v.ambiguous).toEqual([]);
  });

  it('finds one or two late events in a bucket', () => {
    const one = verifyDigest(digest, at(SECOND), [...delivered, key(12, 'late1')]);
    expect(one.missing.map((k) => k.id)).toEqual(['late1']);
    expect(one.delivered).toHaveLength(5);
    const two = verifyDigest(digest, at(SECOND), [key(13, 'late2'), ...delivered, key(12, 'late1')]);
    expect(two.missing.map((k) => k.id).sort()).toEqual(['late1', 'late2']);
    expect(two.ambiguous).toEqual([]);
  });

  it('gives up on a bucket it cannot explain (three late events, or one gone), and only on that bucket', () => {
    const three = verifyDigest(digest, at(SECOND), [...delivered, key(12, 'x'), key(13, 'y'), key(14, 'z')]);
    expect(three.ambiguous.map((k) => k.id).sort()).toEqual(['a', 'b', 'x', 'y', 'z']);
    expect(three.delivered.map((k) => k.id).sort()).toEqual(['c', 'd', 'e']);
    const gone = verifyDigest(digest, at(SECOND), delivered.filter((k) => k.id !== 'c').concat(key(500_001, 'f')));
    expect(gone.ambiguous.map((k) => k.id).sort()).toEqual(['d', 'f']);
  });

  it('treats every event of a bucket with no digest as late, and ignores what is outside [from, cursor)', () => {
    const v = verifyDigest(digest, at(SECOND), [...delivered, key(300_000, 'p'), key(300_001, 'q'), key(300_002, 'r'), key(SECOND, 'at-cursor'), key(-SECOND, 'old')]);
    expect(v.missing.map((k) => k.id).sort()).toEqual(['p', 'q', 'r']);
    expect(v.ambiguous).toEqual([]);
  });

  it('hashes ids to 64 bits', () => {
    const hashes = new Set(Array.from({ length: 10_000 }, (_, i) => idHash(`ae${i}`).join(':')));
    expect(hashes.size).toBe(10_000);
  });
});

describe('the live cursor', () => {
  it('delivers new events, each id once per instant, and never reads past upto', () => {
    const c = new LiveCursor(undefined, 60n * BigInt(SECOND));
    expect(c.window(T0)).toEqual({ from: toMicros('1969-12-31T23:59:00.000000Z'), to: T0 });
    expect(c.take(key(5, 'a'))?.kind).toBe('new');
    expect(c.take(key(5, 'b'))?.position.ids).toEqual(['a', 'b']);
    expect(c.take(key(5, 'a'))).toBeUndefined();
    c.advance(T0 + 10n);
    expect(c.at).toBe(at(10));
    expect(c.window(T0 + 10n)).toBeUndefined();
    expect(c.window(T0 + 5n)).toBeUndefined();
    const w = c.window(T0 + 20n)!;
    expect(w.to).toBe(T0 + 20n);
    // The re-read look-back: already delivered, dropped.
    expect(c.take(key(5, 'a'))).toBeUndefined();
    expect(c.take(key(5, 'b'))).toBeUndefined();
  });

  it('delivers an event that appears behind the cursor as late, once', () => {
    const c = new LiveCursor(undefined, 60n * BigInt(SECOND));
    c.take(key(5, 'a'));
    c.advance(T0 + 10n);
    c.window(T0 + 20n);
    const late = c.take(key(3, 'late'));
    expect(late?.kind).toBe('late');
    expect(late?.position.at).toBe(at(10));
    expect(c.take(key(3, 'late'))).toBeUndefined();
  });

  it('drops what is older than the look-back', () => {
    const c = new LiveCursor(undefined, BigInt(SECOND));
    c.advance(T0 + 10n * BigInt(SECOND));
    const w = c.window(T0 + 11n * BigInt(SECOND))!;
    expect(w.from).toBeLessThanOrEqual(T0 + 9n * BigInt(SECOND));
    expect(c.take(key(5 * SECOND, 'too-late'))).toBeUndefined();
    expect(c.take(key(9 * SECOND + 500_000, 'late'))?.kind).toBe('late');
  });

  it('keeps its position small and JSON whatever the event rate', () => {
    const c = new LiveCursor(undefined, 300n * BigInt(SECOND));
    let last: ConnectLivePosition | undefined;
    // 20 000 events over 400 s: more than the look-back, every bucket full.
    for (let i = 0; i < 20_000; i++) last = c.take(key(i * 20_000, `ae${i}`))!.position;
    expect(last!.seen.b.length).toBeGreaterThanOrEqual(DIGEST_BUCKETS);
    expect(last!.seen.b.length).toBeLessThanOrEqual(DIGEST_BUCKETS + 2);
    expect(JSON.stringify(last).length).toBeLessThan(2_000);
    expect(livePosition(persisted(last))).toEqual(last);
  });

  it('starts from a position, recovering what was delivered in the look-back', () => {
    const first = new LiveCursor(undefined, 10n * BigInt(SECOND));
    first.take(key(1, 'a'));
    first.take(key(2, 'b'));
    const p = first.take(key(3, 'c'))!.position;
    const again = new LiveCursor(livePosition(persisted(p)), 10n * BigInt(SECOND));
    expect(again.verification()).toEqual({ from: toMicros(p.seen.from), to: T0 + 3n });
    expect(() => again.window(T0 + 100n)).toThrow(TypeError);
    // Visible now: a, b, c and a late one at 2.
    expect(again.applyVerification([key(1, 'a'), key(2, 'b'), key(2, 'late'), key(3, 'c')])).toEqual({ missing: 1, ambiguous: 0 });
    again.window(T0 + 100n);
    const taken = [key(1, 'a'), key(2, 'b'), key(2, 'late'), key(3, 'c'), key(4, 'd')].map((k) => again.take(k)?.kind);
    expect(taken).toEqual([undefined, undefined, 'late', undefined, 'new']);
  });

  it('refuses positions it did not write', () => {
    const good = persisted(new LiveCursor(undefined, 1000n).take(key(1, 'a'))!.position);
    expect(typeof parseConnectPosition(good)).toBe('object');
    const bad: unknown[] = [
      null,
      42,
      { ...good, v: 2 },
      { ...good, at: '2026-03-01T00:00:00Z' },
      { ...good, ids: 'a' },
      { ...good, ids: ['a', 'a'] },
      { ...good, seen: { ...good.seen, w: 0 } },
      { ...good, seen: { ...good.seen, b: [[0, 1, 'zz']] } },
      { ...good, seen: { ...good.seen, b: [[1, 1, '0000000000000001'], [1, 1, '0000000000000001']] } },
      { ...good, seen: { ...good.seen, from: '2027-01-01T00:00:00.000000Z' } },
      { ...good, chunk: { index: 0, from: good.at, events: 0, before: 0 } },
      { v: 1, at: good.at, ids: [] },
    ];
    for (const p of bad) expect(typeof parseConnectPosition(p), JSON.stringify(p)).toBe('string');
  });

  /*
   * The whole story as a property: events become visible at some poll (some late, behind the cursor, but
   * within the look-back), the reader polls, and crashes now and then, resuming from the JSON of the last
   * committed position (commits lag behind what was handed out). Every event must end up committed, and no
   * event committed twice unless it was deliberately delivered again for an ambiguous bucket.
   */
  // Without `recentMicros` every window re-reads the whole look-back; with it, a window re-reads one step and the
  // rest of the look-back is swept once as it ages out: the same events must come out.
  it.each([
    ['the whole look-back every poll', undefined],
    ['one step every poll, the look-back swept as it ages out', 1_000n],
  ])('delivers every event once across polls, late events and restarts (property): %s', (_, recent) => {
    const STEP = 1_000; // µs of event time per poll
    const LOOKBACK = 8 * STEP;
    const options = recent === undefined ? {} : { recentMicros: recent };
    const scenario = fc.record({
      events: fc.array(
        fc.record({ at: fc.integer({ min: 0, max: 40 * STEP }), lateBy: fc.integer({ min: 0, max: 4 }) }),
        { maxLength: 120 },
      ),
      crashes: fc.array(fc.record({ poll: fc.integer({ min: 0, max: 50 }), afterTaking: fc.nat(6), commitLag: fc.nat(8) }), { maxLength: 10 }),
    });
    fc.assert(
      fc.property(scenario, ({ events, crashes }) => {
        const store = events.map((e, i) => ({
          key: key(e.at, `ae${String(i).padStart(4, '0')}`),
          // Visible from the poll whose window first reaches its time, or `lateBy` polls after that.
          visibleAt: Math.floor(e.at / STEP) + 1 + e.lateBy,
        }));
        const visible = (poll: number) => store.filter((e) => e.visibleAt <= poll).map((e) => e.key);
        let committed: Array<{ id: string; position: ConnectLivePosition }> = [];
        let handedOut: Array<{ id: string; position: ConnectLivePosition }> = [];
        const redelivered = new Set<string>();
        let cursor = new LiveCursor(undefined, BigInt(LOOKBACK), options);
        const pending = [...crashes].sort((a, b) => a.poll - b.poll);
        for (let poll = 0; poll <= 50; poll++) {
          const upto = T0 + BigInt(poll * STEP);
          const v = cursor.verification();
          if (v !== undefined) cursor.applyVerification(visible(poll));
          const sw = cursor.sweep(upto);
          const w = cursor.window(upto);
          if (w === undefined && sw === undefined) continue;
          const inRange = (r: { from: bigint; to: bigint } | undefined) =>
            r === undefined ? [] : visible(poll).filter((k) => toMicros(k.at) >= r.from && toMicros(k.at) < r.to).sort(compareKeys);
          // The sweep first, then the window, as the source reads them.
          const window = [...inRange(sw), ...inRange(w)];
          const crash = pending[0]?.poll === poll ? pending.shift() : undefined;
          let taken = 0;
          let crashed = false;
          for (const k of window) {
            const t = cursor.take(k);
            if (t === undefined) continue;
            if (t.kind === 'redelivered') redelivered.add(k.id);
            handedOut.push({ id: k.id, position: t.position });
            if (crash !== undefined && ++taken > crash.afterTaking) {
              crashed = true;
              break;
            }
          }
          if (crashed) {
            // Everything but the last `commitLag` records was committed; the rest is read again.
            const keep = Math.max(0, handedOut.length - crash!.commitLag);
            committed = committed.concat(handedOut.slice(0, keep));
            handedOut = [];
            const last = committed.at(-1)?.position;
            cursor = new LiveCursor(last === undefined ? undefined : livePosition(persisted(last)), BigInt(LOOKBACK), options);
            poll--; // the same poll again, after the restart
            continue;
          }
          if (sw !== undefined) cursor.swept(sw.to);
          if (w !== undefined) cursor.advance(w.to);
          committed = committed.concat(handedOut);
          handedOut = [];
        }
        const ids = committed.map((c) => c.id);
        expect(new Set(ids)).toEqual(new Set(store.map((e) => e.key.id)));
        const seen = new Set<string>();
        for (const id of ids) {
          if (seen.has(id)) expect(redelivered.has(id), `${id} committed twice`).toBe(true);
          seen.add(id);
        }
        for (const c of committed) expect(c.position.at <= at(50 * STEP)).toBe(true);
      }),
      { numRuns: 300 },
    );
  });
});

describe('replay chunks', () => {
  const range = { from: at(0), to: at(10 * SECOND + 500_000) };
  const plan = new ReplayPlan(range, 3n * BigInt(SECOND));

  it('cuts the range into chunks, the last one short', () => {
    expect(plan.count).toBe(4);
    expect(plan.bounds(3)).toEqual({ from: T0 + 9n * BigInt(SECOND), to: T0 + 10_500_000n });
    expect(plan.indexOf(T0 + 3n * BigInt(SECOND))).toBe(1);
    expect(new ReplayPlan({ from: at(5), to: at(5) }, 10n).count).toBe(0);
  });

  it('resumes inside a chunk, at the same instant, and reports per chunk', () => {
    const c = new ReplayCursor(plan, undefined);
    expect(c.position()).toEqual({ v: 1, at: at(0), ids: [], chunk: { index: 0, from: at(0), events: 0, before: 0 } });
    c.take(key(1, 'a'));
    c.take(key(2, 'b'));
    c.nextChunk();
    const p1 = c.take(key(3 * SECOND, 'c'))!;
    const p2 = c.take(key(3 * SECOND, 'd'))!;
    expect(p2).toEqual({ v: 1, at: at(3 * SECOND), ids: ['c', 'd'], chunk: { index: 1, from: at(3 * SECOND), events: 2, before: 2 } });

    const resumed = new ReplayCursor(plan, persisted(p1));
    expect(resumed.index).toBe(1);
    expect(resumed.readFrom()).toBe(T0 + 3n * BigInt(SECOND));
    expect(resumed.take(key(3 * SECOND, 'c'))).toBeUndefined();
    const p3 = resumed.take(key(3 * SECOND, 'd'))!;
    expect(p3.chunk).toEqual(p2.chunk);
    resumed.take(key(4 * SECOND, 'e'));
    resumed.nextChunk();
    const p4 = resumed.take(key(7 * SECOND, 'f'))!;
    expect(p4.chunk).toEqual({ index: 2, from: at(6 * SECOND), events: 1, before: 5 });

    const read = new Map([[1, 2], [2, 1]]);
    expect(replayChunkReport(plan, read, resumed.start, p4)).toEqual([
      { from: at(0), to: at(3 * SECOND), read: 0, committed: 2 },
      { from: at(3 * SECOND), to: at(6 * SECOND), read: 2, committed: 3 },
      { from: at(6 * SECOND), to: at(9 * SECOND), read: 1, committed: 1 },
      { from: at(9 * SECOND), to: at(10_500_000), read: 0, committed: 0 },
    ]);
    // Committed only up to the start: nothing more than before.
    expect(replayChunkReport(plan, read, resumed.start, p1).map((r) => r.committed)).toEqual([2, 1, 0, 0]);
    // No read in this run: from the committed position alone.
    expect(replayChunkReport(plan, new Map(), undefined, p4).map((r) => [r.read, r.committed])).toEqual([[0, 5], [0, 1], [0, 0]]);
  });

  it('moves the counts of an old chunk length to the chunks before', () => {
    const p = { v: 1 as const, at: at(4 * SECOND), ids: ['x'], chunk: { index: 2, from: at(4 * SECOND), events: 5, before: 7 } };
    const c = new ReplayCursor(plan, p);
    expect(c.index).toBe(1);
    expect(c.start).toEqual({ index: 1, events: 0, before: 12 });
  });
});
