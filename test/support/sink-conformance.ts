// The sink conformance suite: the cases every sink must pass; each connector's test calls it with a fixture.
import { afterEach, describe, expect, it } from 'vitest';
import type { Mapping } from '../../src/contracts/mapping.ts';
import type { SendOutcome } from '../../src/contracts/outcome.ts';
import type { DeliveryLevel, SinkRecord, Sink, SinkBatch } from '../../src/contracts/sink.ts';
import { sinkRecord } from './sink-records.ts';
import type { Position } from '../../src/contracts/source.ts';
import { deliverWithRetry, type RetryEvent } from '../../src/delivery/retry.ts';
import { silentLogger } from '../../src/logging.ts';
import type { DecodeResult } from '../../src/model/audit-event.ts';
import { Lane, type LaneResult } from '../../src/pipeline/lane.ts';
import { createSelection } from '../../src/pipeline/selection.ts';
import { canonicalMapping } from '../../mappings/canonical/index.ts';
import { connectEvent, memorySource, ok } from './memory-source.ts';

/**
 * A failure the fixture can make its destination produce:
 * - `retryable`: the next send meets a transient failure (5xx, connection reset, disk full); then the
 *   destination works again.
 * - `retry-after`: the same, with the destination's own hint (429/503 with `Retry-After`) of `retryAfterMs`.
 * - `record`: from now on the destination refuses the record with this event id (a 4xx for that document)
 *   whenever it is sent, and accepts the others.
 * - `unidentified`: the next send is taken but `refused` of its records are refused without saying which
 *   (OTLP's partial success).
 */
export type ProvokedFailure =
  | { readonly kind: 'retryable' }
  | { readonly kind: 'retry-after'; readonly retryAfterMs: number }
  | { readonly kind: 'record'; readonly eventId: string }
  | { readonly kind: 'unidentified'; readonly refused: number };

/** One sink under test, on its own fresh destination. */
export interface SinkSubject {
  readonly sink: Sink;
  /**
   * What the destination holds now, in the order it holds it: its raw bytes for `holds: 'lines'`, the
   * records' payloads (as received: an HTTP fixture unwraps its envelope) for `holds: 'records'`.
   * Absent for `holds: 'nothing'`.
   */
  readonly held?: () => Promise<Buffer | readonly string[]>;
  /** Makes the destination fail as described; needed when the fixture declares any `failures`. */
  readonly provoke?: (failure: ProvokedFailure) => void | Promise<void>;
  /** Releases what the fixture set up (servers, processes, temporary files). The suite closes the sink. */
  readonly dispose?: () => Promise<void>;
}

/** What a sink's destination can do; every case a sink cannot take part in is reported as skipped. */
export interface SinkFixture {
  /** `lines`: one record per line, bytes compared exactly; `records`: payloads compared; `nothing`: keeps nothing. */
  readonly holds: 'lines' | 'records' | 'nothing';
  /** The failures `provoke` can cause. */
  readonly failures: ReadonlyArray<ProvokedFailure['kind']>;
  /** What the sink, as the fixture configures it, declares `delivered` to mean. */
  readonly strength: DeliveryLevel;
  /**
   * `item`: the destination answers per record, so a refused record comes back as a `partial` outcome naming it
   * (a bulk API); `batch`: it refuses the batch and the engine splits it; `never`: it never refuses a record
   * (a file, a byte stream), whatever it holds.
   */
  readonly refuses: 'item' | 'batch' | 'never';
  /** `check()` reaches the destination, so it can tell an unusable one before anything is sent. */
  readonly checkProbes: boolean;
  /** A fresh sink on a working, empty destination. */
  create(): Promise<SinkSubject>;
  /**
   * The destination's record format, when the suite's JSON test records are not valid records there (a
   * Splunk HEC envelope): wraps `body` (a JSON text) into one payload. Default: the body itself.
   */
  readonly record?: (body: string) => string;
  /**
   * The mapping the sink is configured with, for the cases that run a Lane; default `canonical`. Held
   * records are then compared by event id, read from each payload with `eventIdOf`.
   */
  readonly mapping?: Mapping;
  readonly eventIdOf?: (payload: string) => string;
  /**
   * A fresh sink whose destination can never be used as configured (a path that cannot be a file, a pipe
   * nobody reads, a revoked token). Absent when the sink has no such destination.
   */
  createUnusable?(): Promise<SinkSubject>;
}

const never = new AbortController().signal;
const fastRetry = { initialDelayMs: 1, maxDelayMs: 2 };

/** Payloads with multi-byte UTF-8, escapes and U+2028 (not a line break for a JSON-lines reader). */
export function testRecord(batch: number, i: number, padding = 0, wrap: (body: string) => string = (b) => b): SinkRecord {
  const eventId = `ev-${batch}-${i}`;
  const payload = wrap(JSON.stringify({ id: eventId, batch, i, text: 'é 😀 "quoted" \\ \u2028 tab\t', pad: 'x'.repeat(padding) }));
  return sinkRecord(eventId, payload);
}

export function testBatch(batch: number, count: number, padding = 0, wrap?: (body: string) => string): SinkBatch {
  const records = Array.from({ length: count }, (_, i) => testRecord(batch, i, padding * ((i % 3) + 1), wrap));
  return { records, bytes: records.reduce((n, r) => n + r.bytes, 0) };
}

function linesOf(bytes: Buffer): string[] {
  const text = bytes.toString('utf8');
  if (text === '') return [];
  expect(text.endsWith('\n'), 'a line-based destination ends with a whole line').toBe(true);
  return text.slice(0, -1).split('\n');
}

/** The records a destination holds, as payload texts in held order. */
async function heldRecords(fixture: SinkFixture, subject: SinkSubject): Promise<string[]> {
  if (subject.held === undefined) throw new TypeError(`fixture holds ${fixture.holds} but its subject has no held()`);
  const held = await subject.held();
  if (fixture.holds === 'lines') {
    if (!Buffer.isBuffer(held)) throw new TypeError('a fixture that holds lines returns its bytes from held()');
    return linesOf(held);
  }
  if (Buffer.isBuffer(held)) throw new TypeError('a fixture that holds records returns payload strings from held()');
  return [...held];
}

/** True when `sub` appears in `all` in the same relative order. */
function inOrder(all: readonly string[], sub: readonly string[]): boolean {
  let j = 0;
  for (const x of all) if (x === sub[j]) j++;
  return j === sub.length;
}

export function describeSinkConformance(name: string, fixture: SinkFixture): void {
  const lacks = (kind: ProvokedFailure['kind']) => !fixture.failures.includes(kind);
  const keepsNothing = fixture.holds === 'nothing';
  const noUnusable = fixture.createUnusable === undefined;
  // Test records in the destination's record format.
  const makeBatch = (batch: number, count: number, padding = 0): SinkBatch => testBatch(batch, count, padding, fixture.record);

  // A sink that never answers fails its case quickly instead of holding the run for the global timeout.
  describe(`sink conformance: ${name}`, { timeout: 10_000 }, () => {
    const subjects: SinkSubject[] = [];
    afterEach(async () => {
      for (const s of subjects.splice(0)) {
        await s.sink.close().catch(() => undefined);
        await s.dispose?.();
      }
    });
    const fresh = async (): Promise<SinkSubject> => {
      const s = await fixture.create();
      subjects.push(s);
      return s;
    };
    const unusable = async (): Promise<SinkSubject> => {
      const s = await fixture.createUnusable!();
      subjects.push(s);
      return s;
    };
    const provoke = async (s: SinkSubject, failure: ProvokedFailure) => {
      if (s.provoke === undefined) throw new TypeError(`fixture declares ${failure.kind} failures but its subject has no provoke()`);
      await s.provoke(failure);
    };

    it.skipIf(keepsNothing)('holds every delivered batch exactly: record order and bytes, one record per line for line sinks', async () => {
      const s = await fresh();
      expect(await heldRecords(fixture, s)).toEqual([]);
      const batches = [makeBatch(1, 3), makeBatch(2, 1), makeBatch(3, 5, 100)];
      for (const b of batches) expect(await s.sink.send(b, never)).toEqual({ status: 'delivered' });
      const payloads = batches.flatMap((b) => b.records.map((r) => r.payload));
      expect(await heldRecords(fixture, s)).toEqual(payloads);
      if (fixture.holds === 'lines') {
        const bytes = (await s.held!()) as Buffer;
        expect(bytes.equals(Buffer.from(payloads.map((p) => `${p}\n`).join(''), 'utf8'))).toBe(true);
      }
    });

    it('resolves every one of several concurrent sends, and no record is interleaved with another', async () => {
      const s = await fresh();
      // Large enough that a sink writing in pieces would interleave them.
      const batches = Array.from({ length: 8 }, (_, b) => makeBatch(b, 4, b % 2 === 0 ? 70_000 : 10));
      const outcomes = await Promise.all(batches.map((b) => s.sink.send(b, never)));
      expect(outcomes).toEqual(batches.map(() => ({ status: 'delivered' })));
      if (keepsNothing) return;
      const held = await heldRecords(fixture, s);
      const payloads = batches.flatMap((b) => b.records.map((r) => r.payload));
      expect([...held].sort()).toEqual([...payloads].sort());
      for (const b of batches) expect(inOrder(held, b.records.map((r) => r.payload)), 'a batch keeps its record order').toBe(true);
    });

    it('close() waits for the sends handed over before it, and is idempotent', async () => {
      const s = await fresh();
      const batches = Array.from({ length: 6 }, (_, b) => makeBatch(b, 3, 5_000));
      const settled: boolean[] = batches.map(() => false);
      const sends = batches.map((b, i) => s.sink.send(b, never).finally(() => (settled[i] = true)));
      await Promise.all([s.sink.close(), s.sink.close()]);
      expect(settled, 'every send handed over before close() has ended when close() resolves').toEqual(batches.map(() => true));
      expect(await Promise.all(sends)).toEqual(batches.map(() => ({ status: 'delivered' })));
      await s.sink.close();
      if (keepsNothing) return;
      expect([...(await heldRecords(fixture, s))].sort()).toEqual(batches.flatMap((b) => b.records.map((r) => r.payload)).sort());
    });

    it('declares its delivery strength', async () => {
      const s = await fresh();
      expect(s.sink.strength.level).toBe(fixture.strength);
      expect(s.sink.strength.detail).toMatch(/\S/);
    });

    it.skipIf(fixture.refuses !== 'never')('never refuses a record, whatever it holds: empty, control characters, 1 MiB', async () => {
      const s = await fresh();
      const odd = [sinkRecord('odd-empty', '{}'), sinkRecord('odd-controls', JSON.stringify({ t: '\u0000\u0001\u001b[31m\r\t' })), testRecord(9, 0, 1 << 20, fixture.record)];
      const batch: SinkBatch = { records: odd, bytes: odd.reduce((n, r) => n + r.bytes, 0) };
      expect(await s.sink.send(batch, never)).toEqual({ status: 'delivered' });
    });

    it.skipIf(fixture.refuses !== 'item' || lacks('record'))('per-item answers: a refused record comes back as a partial outcome naming it, the others delivered in the same send', async () => {
      const s = await fresh();
      const a = makeBatch(1, 5);
      await provoke(s, { kind: 'record', eventId: a.records[2]!.eventId });
      const outcome = await s.sink.send(a, never);
      expect(outcome).toEqual({ status: 'partial', failures: [expect.objectContaining({ index: 2, status: 'rejected', reason: expect.stringMatching(/\S/) })] });
      if (keepsNothing) return;
      expect([...(await heldRecords(fixture, s))].sort()).toEqual(a.records.filter((_, i) => i !== 2).map((r) => r.payload).sort());
    });

    it.skipIf(lacks('unidentified'))('refused without saying which: never sent again, every record of the batch dead-lettered with the count', async () => {
      const s = await fresh();
      await provoke(s, { kind: 'unidentified', refused: 2 });
      const batch = makeBatch(1, 5);
      const result = await deliverWithRetry(s.sink, batch, never, { policy: fastRetry });
      expect(result.delivered).toBe(0);
      expect(result.rejected.map((r) => r.record.eventId)).toEqual(batch.records.map((r) => r.eventId));
      for (const r of result.rejected) expect(r.reason).toMatch(/refused 2 of 5/);
    });

    it('check() on a working destination says ok, with a detail, and never throws', async () => {
      const s = await fresh();
      const result = await s.sink.check();
      expect(result.ok).toBe(true);
      expect(result.detail).toMatch(/\S/);
    });

    it.skipIf(lacks('retryable'))('a transient failure resolves retryable (never rejects); through deliverWithRetry every record arrives once', async () => {
      const s = await fresh();
      await provoke(s, { kind: 'retryable' });
      const first = makeBatch(1, 3);
      const outcome = await s.sink.send(first, never);
      expect(outcome.status).toBe('retryable');
      const second = makeBatch(2, 4);
      await provoke(s, { kind: 'retryable' });
      const retries: RetryEvent[] = [];
      const result = await deliverWithRetry(s.sink, second, never, { policy: fastRetry, onRetry: (e) => retries.push(e) });
      expect(result).toEqual({ delivered: 4, rejected: [] });
      expect(retries.length).toBeGreaterThanOrEqual(1);
      if (keepsNothing) return;
      expect(await heldRecords(fixture, s)).toEqual(second.records.map((r) => r.payload));
    });

    it.skipIf(lacks('retry-after'))('a Retry-After hint is surfaced as retryAfterMs and is the delay the retry waits', async () => {
      const s = await fresh();
      await provoke(s, { kind: 'retry-after', retryAfterMs: 3000 });
      const outcome = await s.sink.send(makeBatch(1, 2), never);
      expect(outcome).toMatchObject({ status: 'retryable', retryAfterMs: 3000 });
      await provoke(s, { kind: 'retry-after', retryAfterMs: 7000 });
      // The retry's wait is observed, then abandoned rather than slept through.
      const stop = new AbortController();
      const delays: number[] = [];
      const batch = makeBatch(2, 2);
      const result = await deliverWithRetry(s.sink, batch, stop.signal, {
        policy: fastRetry,
        onRetry: (e) => {
          delays.push(e.delayMs);
          stop.abort();
        },
      });
      expect(delays).toEqual([7000]);
      expect(result).toMatchObject({ delivered: 0, aborted: true });
      expect(await s.sink.send(batch, never)).toEqual({ status: 'delivered' });
    });

    it.skipIf(lacks('record'))('a record the destination refuses is told apart from the others; through deliverWithRetry only it is rejected', async () => {
      const s = await fresh();
      const a = makeBatch(1, 4);
      await provoke(s, { kind: 'record', eventId: a.records[1]!.eventId });
      const outcome = await s.sink.send(a, never);
      if (outcome.status === 'partial') {
        // Only the refused record is rejected; a sink may also list others to send again (not delivered).
        expect(outcome.failures.filter((f) => f.status === 'rejected')).toEqual([expect.objectContaining({ index: 1, status: 'rejected' })]);
        for (const f of outcome.failures) expect(f.status === 'rejected' || f.status === 'retryable').toBe(true);
      } else {
        expect(outcome).toMatchObject({ status: 'rejected', scope: 'batch' });
      }
      const b = makeBatch(2, 5);
      await provoke(s, { kind: 'record', eventId: b.records[3]!.eventId });
      const result = await deliverWithRetry(s.sink, b, never, { policy: fastRetry });
      expect(result.delivered).toBe(4);
      expect(result.rejected.map((r) => r.record.eventId)).toEqual([b.records[3]!.eventId]);
      expect(result.fatal).toBeUndefined();
      if (keepsNothing) return;
      const fromA = outcome.status === 'partial' ? a.records.filter((_, i) => !outcome.failures.some((f) => f.index === i)) : [];
      const fromB = b.records.filter((_, i) => i !== 3);
      expect([...(await heldRecords(fixture, s))].sort()).toEqual([...fromA, ...fromB].map((r) => r.payload).sort());
    });

    it.skipIf(noUnusable)('an unusable destination: every send resolves rejected with scope sink, check() says not ok, nothing throws', async () => {
      const s = await unusable();
      const outcomes: SendOutcome[] = [];
      for (let i = 0; i < 2; i++) outcomes.push(await s.sink.send(makeBatch(i, 2), never));
      for (const o of outcomes) expect(o).toMatchObject({ status: 'rejected', scope: 'sink', reason: expect.stringMatching(/\S/) });
      const result = await s.sink.check();
      expect(result.ok).toBe(false);
      expect(result.detail).toMatch(/\S/);
      await s.sink.close();
    });

    it.skipIf(noUnusable || !fixture.checkProbes)('check() tells an unusable destination before anything is sent', async () => {
      const s = await unusable();
      const result = await s.sink.check();
      expect(result.ok).toBe(false);
      expect(result.detail).toMatch(/\S/);
    });

    describe('through a Lane', () => {
      const bad: DecodeResult = { ok: false, error: { path: 'occurredAt', reason: 'missing' } };
      const records: DecodeResult[] = [];
      for (let i = 1; i <= 30; i++) {
        if (i === 4 || i === 17) records.push(bad);
        else if (i === 9) records.push(ok(connectEvent(i, { type: 'node_attestation' })));
        else records.push(ok(connectEvent(i)));
      }
      const refused = connectEvent(12).id;

      async function runLane(sink: Sink): Promise<{ result: LaneResult; commits: Position[]; dead: number }> {
        const commits: Position[] = [];
        let dead = 0;
        const lane = new Lane({
          route: 'conformance',
          sinkName: name,
          source: memorySource(records, { chunk: 4 }),
          sink,
          mapping: fixture.mapping ?? (canonicalMapping as Mapping),
          selection: createSelection('all', ['node_attestation']),
          batch: { maxEvents: 5, maxBytes: 1e6, maxAgeMs: 10_000 },
          maxInFlight: 3,
          retry: fastRetry,
          deadLetters: { append: () => dead++ },
          commit: (position) => commits.push(position),
          from: undefined,
          logger: silentLogger(),
        });
        return { result: await lane.run(), commits, dead };
      }

      async function laneSubject(): Promise<SinkSubject> {
        const s = await fresh();
        if (!lacks('record')) await provoke(s, { kind: 'record', eventId: refused });
        if (!lacks('retryable')) await provoke(s, { kind: 'retryable' });
        return s;
      }

      it('counters balance: read = delivered + skipped + rejected + dead_lettered, and every position is committed', async () => {
        const s = await laneSubject();
        const { result, commits, dead } = await runLane(s.sink);
        const c = result.counters;
        expect(result.state).toBe('finished');
        expect(c.read).toBe(records.length);
        expect(c.read).toBe(c.delivered + c.skipped + c.rejected + c.dead_lettered);
        expect(c.skipped).toBe(1);
        expect(c.dead_lettered).toBe(2);
        expect(c.rejected).toBe(lacks('record') ? 0 : 1);
        expect(dead).toBe(c.dead_lettered + c.rejected);
        expect(commits.at(-1)).toBe(records.length);
      });

      it.skipIf(keepsNothing)('the destination holds exactly the records the lane counted delivered, each once', async () => {
        const s = await laneSubject();
        const { result } = await runLane(s.sink);
        const expected = records.flatMap((d) =>
          d.ok && d.event.type !== 'node_attestation' && (lacks('record') || d.event.id !== refused) ? [d.event] : [],
        );
        const held = await heldRecords(fixture, s);
        expect(held).toHaveLength(result.counters.delivered);
        if (fixture.mapping === undefined) expect([...held].sort()).toEqual(expected.map((e) => JSON.stringify(e)).sort());
        else {
          const idOf = fixture.eventIdOf ?? ((p: string) => (JSON.parse(p) as { id: string }).id);
          expect(held.map(idOf).sort()).toEqual(expected.map((e) => e.id).sort());
        }
      });

      it.skipIf(noUnusable)('into an unusable destination the lane fails and commits nothing', async () => {
        const s = await unusable();
        const { result, commits } = await runLane(s.sink);
        expect(result.state).toBe('failed');
        expect(result.counters.delivered).toBe(0);
        expect(commits).toEqual([]);
      });
    });
  });
}
