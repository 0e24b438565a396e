// The lane: ordered commits with several batches in flight, backpressure, dead-lettering, fatal sink errors.
import { describe, expect, it } from 'vitest';
import type { DecodeResult } from '../../src/model/audit-event.ts';
import { createSelection } from '../../src/pipeline/selection.ts';
import { canonicalMapping } from '../../mappings/canonical/index.ts';
import { laneSetup as setup } from '../support/lane-setup.ts';
import { connectEvent, memorySource, ok } from '../support/memory-source.ts';
import { deferred, scriptedSink } from '../support/scripted-sink.ts';
import type { SendOutcome } from '../../src/contracts/outcome.ts';
import type { Mapping } from '../../src/contracts/mapping.ts';

/** Waits until `cond` holds (a deadline, not a fixed sleep). */
async function until(cond: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 2));
  }
}

const events = (n: number) => Array.from({ length: n }, (_, i) => ok(connectEvent(i + 1)));

describe('Lane', () => {
  it('delivers everything, commits the last position, and the counts add up', async () => {
    const { lane, commits, sink } = setup(events(9));
    const r = await lane.run();
    expect(r.state).toBe('finished');
    expect(commits.at(-1)!.position).toBe(9);
    expect(commits.reduce((a, c) => a + c.records, 0)).toBe(9);
    expect(new Set((sink as ReturnType<typeof scriptedSink>).delivered).size).toBe(9);
    const c = r.counters;
    expect(c.read).toBe(c.delivered + c.skipped + c.rejected + c.dead_lettered);
  });

  it('never commits past a batch still in flight, whatever order batches finish in', async () => {
    const gates = [deferred<SendOutcome>(), deferred<SendOutcome>(), deferred<SendOutcome>()];
    const sink = scriptedSink((_, call) => gates[call]?.promise ?? { status: 'delivered' });
    const { lane, commits } = setup(events(6), { sink });
    const done = lane.run();
    await until(() => sink.calls.length === 3);
    expect(sink.calls).toHaveLength(3); // three batches of two in flight at once
    gates[2]!.resolve({ status: 'delivered' });
    gates[1]!.resolve({ status: 'delivered' });
    await new Promise((r) => setTimeout(r, 10));
    expect(commits).toEqual([]);
    gates[0]!.resolve({ status: 'delivered' });
    await done;
    expect(commits).toEqual([{ position: 6, records: 6 }]);
  });

  it('stops reading while maxInFlight batches are being sent (bounded memory)', async () => {
    const gate = deferred<SendOutcome>();
    const sink = scriptedSink(() => gate.promise);
    const { lane } = setup(events(100), { sink, maxInFlight: 2 });
    const done = lane.run();
    await until(() => sink.calls.length === 2);
    await new Promise((r) => setTimeout(r, 20)); // give a wrongly unbounded reader time to go on
    expect(sink.calls).toHaveLength(2);
    // Read: two batches in flight, one open batch, one source chunk at most.
    expect(lane.counters.read).toBeLessThanOrEqual(2 * 2 + 2 + 3);
    gate.resolve({ status: 'delivered' });
    const r = await done;
    expect(r.counters.delivered).toBe(100);
  });

  it('dead-letters undecodable and unmappable records and goes on', async () => {
    const bad: DecodeResult = { ok: false, error: { path: 'occurredAt', reason: 'missing' } };
    const invalidMapping: Mapping = {
      ...(canonicalMapping as Mapping),
      map: (e) => (e.id === 'ae00000002' ? { kind: 'invalid', reason: 'no actor', path: 'actor' } : { kind: 'mapped', value: e }),
    };
    const { lane, dead, commits } = setup([ok(connectEvent(1)), bad, ok(connectEvent(2)), ok(connectEvent(3))], { mapping: invalidMapping });
    const r = await lane.run();
    expect(r.counters).toMatchObject({ read: 4, delivered: 2, dead_lettered: 2 });
    expect(dead).toEqual([
      expect.objectContaining({ stage: 'decode', path: 'occurredAt', reason: 'missing', raw: 'raw 1', locator: 'mem:2', position: 2 }),
      expect.objectContaining({ stage: 'map', path: 'actor', eventId: 'ae00000002' }),
    ]);
    expect(commits.at(-1)!.position).toBe(4);
  });

  it('dead-letters the record a sink refuses one by one, with its event', async () => {
    const sink = scriptedSink((b) =>
      b.records.some((r) => r.eventId === 'ae00000004') ? { status: 'rejected', scope: 'batch', reason: 'too large' } : { status: 'delivered' },
    );
    const { lane, dead } = setup(events(6), { sink });
    const r = await lane.run();
    expect(r.counters).toMatchObject({ read: 6, delivered: 5, rejected: 1 });
    expect(dead).toEqual([expect.objectContaining({ stage: 'sink', eventId: 'ae00000004', reason: 'too large', event: expect.objectContaining({ id: 'ae00000004' }) })]);
  });

  it('a sink that refuses everything stops the lane; the position stays at the last delivered batch', async () => {
    const sink = scriptedSink((_, call) => (call < 2 ? { status: 'delivered' } : { status: 'rejected', scope: 'sink', reason: 'invalid token' }));
    const { lane, commits } = setup(events(20), { sink, maxInFlight: 1 });
    const r = await lane.run();
    expect(r.state).toBe('failed');
    expect(r.error).toContain('invalid token');
    expect(commits.at(-1)!.position).toBe(4);
  });

  it('skips events the route does not select and commits past them', async () => {
    const evs = [ok(connectEvent(1)), ok(connectEvent(2, { type: 'node_attestation' })), ok(connectEvent(3))];
    const { lane, commits } = setup(evs, { selection: createSelection('all', ['node_attestation']) });
    const r = await lane.run();
    expect(r.counters).toMatchObject({ read: 3, delivered: 2, skipped: 1 });
    expect(commits.at(-1)!.position).toBe(3);
  });

  it('stop() ends reading but finishes the batches already read', async () => {
    const sink = scriptedSink(() => new Promise((r) => setTimeout(() => r({ status: 'delivered' }), 2)));
    const { lane, commits } = setup(events(1000), { sink, maxInFlight: 1 });
    const done = lane.run();
    await new Promise((r) => setTimeout(r, 20));
    lane.stop();
    const r = await done;
    expect(r.state).toBe('stopped');
    expect(r.counters.inFlight).toBe(0);
    expect(commits.at(-1)!.position).toBe(r.counters.read);
  });

  it('abort() abandons sends in flight: their records are not committed', async () => {
    const sink = scriptedSink(() => ({ status: 'retryable', reason: 'down' }));
    const { lane, commits } = setup(events(4), { sink });
    const done = lane.run();
    await new Promise((r) => setTimeout(r, 20));
    lane.abort();
    const r = await done;
    expect(commits).toEqual([]);
    expect(r.counters.delivered).toBe(0);
    expect(r.counters.inFlight).toBe(4);
  });

  it('resumes from the position it is given', async () => {
    const source = memorySource(events(5));
    const { lane } = setup(events(5), { source, from: 3 });
    const r = await lane.run();
    expect(source.reads).toEqual([3]);
    expect(r.counters.read).toBe(2);
  });
});
