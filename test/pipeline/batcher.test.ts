// Batching limits: count, bytes, age; every record belongs to exactly one batch.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Batcher, type PendingBatch } from '../../src/pipeline/batcher.ts';
import { sinkRecord } from '../support/sink-records.ts';

const rec = (id: string, bytes = 10) => sinkRecord(id, 'x'.repeat(bytes), bytes);

describe('Batcher', () => {
  let closed: PendingBatch[];
  beforeEach(() => {
    closed = [];
    vi.useFakeTimers();
  });
  afterEach(() => vi.useRealTimers());

  it('closes a batch at maxEvents', () => {
    const b = new Batcher({ maxEvents: 3, maxBytes: 1e6, maxAgeMs: 1000 }, (x) => closed.push(x));
    for (let i = 1; i <= 7; i++) b.add(i, rec(`e${i}`));
    expect(closed.map((c) => c.records.map((r) => r.eventId))).toEqual([
      ['e1', 'e2', 'e3'],
      ['e4', 'e5', 'e6'],
    ]);
    expect(closed.map((c) => c.position)).toEqual([3, 6]);
    b.flush();
    expect(closed[2]!.records.map((r) => r.eventId)).toEqual(['e7']);
  });

  it('closes before a record would pass maxBytes, and sends an oversized record alone', () => {
    const b = new Batcher({ maxEvents: 100, maxBytes: 25, maxAgeMs: 1000 }, (x) => closed.push(x));
    b.add(1, rec('a', 10));
    b.add(2, rec('b', 10));
    b.add(3, rec('c', 10));
    b.add(4, rec('big', 100));
    b.add(5, rec('d', 10));
    b.flush();
    expect(closed.map((c) => c.records.map((r) => r.eventId))).toEqual([['a', 'b'], ['c'], ['big'], ['d']]);
    expect(closed.every((c) => c.bytes <= 25 || c.records.length === 1)).toBe(true);
  });

  it('closes a batch when its first record is maxAge old', () => {
    const b = new Batcher({ maxEvents: 100, maxBytes: 1e6, maxAgeMs: 500 }, (x) => closed.push(x));
    b.add(1, rec('a'));
    vi.advanceTimersByTime(300);
    b.add(2, rec('b'));
    expect(closed).toHaveLength(0);
    vi.advanceTimersByTime(200);
    expect(closed).toHaveLength(1);
    expect(closed[0]!.records).toHaveLength(2);
  });

  it('carries records that ended without a payload (skipped, dead-lettered) in the batch position and count', () => {
    const b = new Batcher({ maxEvents: 2, maxBytes: 1e6, maxAgeMs: 500 }, (x) => closed.push(x));
    b.add(1);
    b.add(2, rec('a'));
    b.add(3);
    b.add(4, rec('b'));
    expect(closed).toHaveLength(1);
    expect(closed[0]).toMatchObject({ recordCount: 4, position: 4 });
    b.add(5);
    b.flush();
    expect(closed[1]).toMatchObject({ recordCount: 1, position: 5, records: [] });
  });

  it('discard() drops the open batch without closing it', () => {
    const b = new Batcher({ maxEvents: 10, maxBytes: 1e6, maxAgeMs: 500 }, (x) => closed.push(x));
    b.add(1, rec('a'));
    b.discard();
    vi.advanceTimersByTime(1000);
    b.flush();
    expect(closed).toHaveLength(0);
  });
});
