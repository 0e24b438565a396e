// The ledger as the lane keeps it: counts at ordered commits, digests invariant under batching, retries, order and
// duplicates, windows closed by the watermark or the clock, state saved with the checkpoint and resumed.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import type { SendOutcome } from '../../src/contracts/outcome.ts';
import { contentOf, LaneAccountant, type LaneLedgerState } from '../../src/ledger/accountant.ts';
import { eventHash, WindowDigest } from '../../src/ledger/digest.ts';
import type { LedgerEntryInput } from '../../src/ledger/entry.ts';
import type { AuditEvent, DecodeResult } from '../../src/model/audit-event.ts';
import { createSelection } from '../../src/pipeline/selection.ts';
import { laneSetup } from '../support/lane-setup.ts';
import { connectEvent, ok } from '../support/memory-source.ts';
import { scriptedSink } from '../support/scripted-sink.ts';

/** Event i at 10:00 + i*7 seconds: spread over several one-minute windows. */
function ev(i: number, overrides: Partial<AuditEvent> = {}): AuditEvent {
  const t = new Date(Date.UTC(2026, 2, 1, 10, 0, 0) + i * 7_000).toISOString().replace('.000Z', '.000000Z');
  return connectEvent(i, { time: t, ...overrides });
}

const CLOCK = Date.UTC(2026, 2, 2); // a day later: every window is past once the lane is idle

async function runWithLedger(records: DecodeResult[], opts: { batch?: number; inFlight?: number; script?: (ids: string[], call: number) => SendOutcome | Promise<SendOutcome>; restored?: LaneLedgerState; selection?: ReturnType<typeof createSelection> } = {}) {
  const accountant = new LaneAccountant({ route: 'r', sink: 's', windowSeconds: 60, latenessSeconds: 60, restored: opts.restored });
  const entries: LedgerEntryInput[] = [];
  const states: LaneLedgerState[] = [];
  const sink = scriptedSink((batch, call) => (opts.script ? opts.script(batch.records.map((r) => r.eventId), call) : { status: 'delivered' }));
  const { lane, dead } = laneSetup(records, {
    sink,
    batch: { maxEvents: opts.batch ?? 2, maxBytes: 1e6, maxAgeMs: 10_000 },
    maxInFlight: opts.inFlight ?? 3,
    ledger: { accountant, closed: (e) => entries.push(...e) },
    commit: (_p, _n, state) => states.push(state!),
    now: () => CLOCK,
    ...(opts.selection !== undefined ? { selection: opts.selection } : {}),
  });
  const result = await lane.run();
  const beforeIdle = { entries: [...entries], state: states.at(-1) };
  lane.closeIdleWindows();
  return { result, entries, states, accountant, sink, dead, beforeIdle };
}

/** Entries keyed by window (parts summed), for comparisons that do not care how they were split. */
function byWindow(entries: readonly LedgerEntryInput[]) {
  const out = new Map<string, { delivered: number; read: number; skipped: number; rejected: number; dead_lettered: number; selected: number; digest: WindowDigest }>();
  for (const e of entries) {
    let w = out.get(e.window.from);
    if (w === undefined) out.set(e.window.from, (w = { delivered: 0, read: 0, skipped: 0, rejected: 0, dead_lettered: 0, selected: 0, digest: new WindowDigest() }));
    w.delivered += e.counts.delivered;
    w.read += e.counts.read;
    w.skipped += e.counts.skipped;
    w.rejected += e.counts.rejected;
    w.dead_lettered += e.counts.dead_lettered;
    w.selected += e.counts.selected;
    w.digest.addDigest(WindowDigest.fromHex(e.digest));
  }
  return new Map([...out].map(([k, v]) => [k, { ...v, digest: v.digest.toHex() }]));
}

/** The digest of a window computed directly from its events (what an auditor does). */
function expectedDigest(events: readonly AuditEvent[]): string {
  const d = new WindowDigest();
  for (const e of events) d.add(eventHash(e.id, contentOf(e)));
  return d.toHex();
}

describe('the lane ledger', () => {
  it('counts every record of a window once, in the status vocabulary, and digests what was delivered', async () => {
    const events = Array.from({ length: 30 }, (_, i) => ev(i));
    const records: DecodeResult[] = events.map(ok);
    records.splice(5, 0, { ok: false, error: { path: 'occurredAt', reason: 'no time' } });
    const refusedId = events[12]!.id;
    const { entries, dead } = await runWithLedger(records, {
      script: (ids) => (ids.includes(refusedId) ? { status: 'partial', failures: [{ index: ids.indexOf(refusedId), status: 'rejected', reason: 'bad' }] } : { status: 'delivered' }),
    });
    expect(dead.map((d) => d['stage'])).toEqual(['decode', 'sink']);
    const windows = byWindow(entries);
    // 30 events × 7 s = 3.5 minutes: 4 windows.
    expect([...windows.keys()]).toEqual(['2026-03-01T10:00:00.000000Z', '2026-03-01T10:01:00.000000Z', '2026-03-01T10:02:00.000000Z', '2026-03-01T10:03:00.000000Z']);
    let read = 0;
    for (const [from, w] of windows) {
      expect(w.delivered + w.skipped + w.rejected + w.dead_lettered).toBe(w.read);
      read += w.read;
      const inWindow = events.filter((e) => e.time.slice(0, 16) === from.slice(0, 16) && e.id !== refusedId);
      expect(w.digest).toBe(expectedDigest(inWindow));
      expect(w.delivered).toBe(inWindow.length);
    }
    expect(read).toBe(31);
    const all = [...windows.values()];
    expect(all.reduce((a, w) => a + w.rejected, 0)).toBe(1);
    expect(all.reduce((a, w) => a + w.dead_lettered, 0)).toBe(1);
    expect(entries.every((e) => !e.late && e.part === 0)).toBe(true);
  });

  it('gives the same windows and digests however the events are batched, retried, acknowledged out of order or re-sent', async () => {
    const events = Array.from({ length: 40 }, (_, i) => ev(i));
    const reference = byWindow((await runWithLedger(events.map(ok), { batch: 40, inFlight: 1 })).entries);
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 9 }), fc.integer({ min: 1, max: 5 }), fc.array(fc.integer({ min: 0, max: 20 }), { maxLength: 4 }), fc.array(fc.nat(3), { minLength: 1, maxLength: 8 }), async (batch, inFlight, retryCalls, delays) => {
        const retry = new Set(retryCalls);
        const { entries } = await runWithLedger(events.map(ok), {
          batch,
          inFlight,
          // Some sends fail first (the batch is sent again), and acknowledgements come back in another order.
          script: async (_ids, call) => {
            for (let i = 0; i < delays[call % delays.length]!; i++) await new Promise((r) => setImmediate(r));
            return retry.has(call) ? { status: 'retryable', reason: 'try again' } : { status: 'delivered' };
          },
        });
        expect(byWindow(entries)).toEqual(reference);
      }),
      { numRuns: 25 },
    );
  });

  it('counts an event read twice (a duplicate at the source) as delivered once', async () => {
    const events = Array.from({ length: 10 }, (_, i) => ev(i));
    const withDuplicate = [...events, events[3]!].map(ok);
    const once = byWindow((await runWithLedger(events.map(ok))).entries);
    const twice = byWindow((await runWithLedger(withDuplicate)).entries);
    const w = '2026-03-01T10:00:00.000000Z';
    expect(twice.get(w)!.delivered).toBe(once.get(w)!.delivered);
    expect(twice.get(w)!.digest).toBe(once.get(w)!.digest);
    expect(twice.get(w)!.read).toBe(once.get(w)!.read + 1);
    expect(twice.get(w)!.skipped).toBe(once.get(w)!.skipped + 1);
  });

  it('counts records the selection leaves out as read and skipped, not selected', async () => {
    const events = Array.from({ length: 6 }, (_, i) => ev(i, { type: i % 2 === 0 ? 'trust_zone_creation' : 'token_exchange' }));
    const { entries } = await runWithLedger(events.map(ok), { selection: createSelection('all', ['token_exchange']) });
    const w = byWindow(entries).get('2026-03-01T10:00:00.000000Z')!;
    expect(w).toMatchObject({ read: 6, selected: 3, delivered: 3, skipped: 3 });
  });

  it('closes a window once the committed event time passed it by the lateness, and a late event opens a late part', () => {
    const a = new LaneAccountant({ route: 'r', sink: 's', windowSeconds: 60, latenessSeconds: 30 });
    const tally = (times: string[]) => {
      const t = new (class {
        windows = new Map();
        sentWindows: number[] = [];
        delivered: Array<{ window: number; hash: Uint8Array }> = [];
        rejected: number[] = [];
        newest: string | undefined;
      })();
      for (const time of times) {
        const w = a.windowOf(time)!;
        t.delivered.push({ window: w, hash: eventHash(time, time) });
        if (t.newest === undefined || time > t.newest) t.newest = time;
      }
      return t as never;
    };
    a.apply(tally(['2026-03-01T10:00:10.000000Z', '2026-03-01T10:00:50.000000Z']));
    expect(a.close('2026-03-02T00:00:00.000000Z')).toEqual([]);
    a.apply(tally(['2026-03-01T10:01:29.000000Z']));
    expect(a.close('2026-03-02T00:00:00.000000Z')).toEqual([]);
    a.apply(tally(['2026-03-01T10:01:31.000000Z']));
    const first = a.close('2026-03-02T00:00:00.000000Z');
    expect(first.map((e) => [e.window.from, e.part, e.counts.delivered])).toEqual([['2026-03-01T10:00:00.000000Z', 0, 2]]);
    // An event of the closed window arrives: a late part, closed once the watermark moved a window on (or idle).
    a.apply(tally(['2026-03-01T10:00:20.000000Z']));
    expect(a.close('2026-03-02T00:00:00.000000Z')).toEqual([]);
    const late = a.close('2026-03-02T00:00:00.000000Z', Date.UTC(2026, 2, 2));
    expect(late.map((e) => [e.window.from, e.part, e.late, e.counts.delivered])).toEqual([
      ['2026-03-01T10:00:00.000000Z', 1, true, 1],
      ['2026-03-01T10:01:00.000000Z', 0, false, 2],
    ]);
    // Another late event of that window: part 2.
    a.apply(tally(['2026-03-01T10:00:21.000000Z']));
    expect(a.close('x', Date.UTC(2026, 2, 2)).map((e) => e.part)).toEqual([2]);
  });

  it('resumes from the state saved with a checkpoint to the same entries as one uninterrupted run', async () => {
    const events = Array.from({ length: 30 }, (_, i) => ev(i));
    const whole = byWindow((await runWithLedger(events.map(ok))).entries);
    // Run the first 25 events, keep the state of the last commit (what the checkpoint saved), then the rest.
    const first = await runWithLedger(events.slice(0, 25).map(ok), { batch: 4 });
    // A crash before the clock closed anything more: the last commit's state and the entries closed before it.
    const saved = first.beforeIdle.state!;
    const written = first.beforeIdle.entries;
    expect(saved.open.length).toBeGreaterThan(0);
    expect(written.length).toBeGreaterThan(0);
    const restored = JSON.parse(JSON.stringify(saved)) as LaneLedgerState;
    const second = await runWithLedger(events.slice(25).map(ok), { restored });
    expect(byWindow([...written, ...second.entries])).toEqual(whole);
  });
});
