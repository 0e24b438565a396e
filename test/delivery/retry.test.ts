// The retry decorator: classification of outcomes, backoff with fake timers, bisection, abort.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { SendOutcome } from '../../src/contracts/outcome.ts';
import { backoffDelay, parseRetryAfter } from '../../src/delivery/backoff.ts';
import { deliverWithRetry, type RetryEvent } from '../../src/delivery/retry.ts';
import { scriptedSink } from '../support/scripted-sink.ts';
import { sinkRecord } from '../support/sink-records.ts';

const batch = (n: number) => {
  const records = Array.from({ length: n }, (_, i) => sinkRecord(`e${i}`, `{"i":${i}}`, 7));
  return { records, bytes: 7 * n };
};
const policy = { initialDelayMs: 100, maxDelayMs: 1000 };

describe('backoff', () => {
  it('is full jitter: uniform in [0, min(max, initial·2^(n−1))]', () => {
    expect(backoffDelay(policy, 1, undefined, () => 0.999)).toBe(99);
    expect(backoffDelay(policy, 3, undefined, () => 0.5)).toBe(200);
    expect(backoffDelay(policy, 30, undefined, () => 0.999)).toBe(999);
    expect(backoffDelay(policy, 5, undefined, () => 0)).toBe(0);
  });
  it('honours Retry-After exactly, in seconds or as an HTTP date', () => {
    expect(backoffDelay(policy, 1, 5000, () => 0)).toBe(5000);
    expect(parseRetryAfter('7', 0)).toBe(7000);
    expect(parseRetryAfter('Wed, 21 Oct 2015 07:28:00 GMT', Date.parse('Wed, 21 Oct 2015 07:27:00 GMT'))).toBe(60_000);
    expect(parseRetryAfter('soon', 0)).toBeUndefined();
    expect(parseRetryAfter(undefined, 0)).toBeUndefined();
  });
});

describe('deliverWithRetry', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('retries a retryable outcome without limit, with backoff, then delivers', async () => {
    const sink = scriptedSink((_, call) => (call < 25 ? { status: 'retryable', reason: 'busy' } : { status: 'delivered' }));
    const retries: RetryEvent[] = [];
    const p = deliverWithRetry(sink, batch(3), new AbortController().signal, { policy, random: () => 1, onRetry: (e) => retries.push(e) });
    await vi.runAllTimersAsync();
    await expect(p).resolves.toEqual({ delivered: 3, rejected: [] });
    expect(sink.calls).toHaveLength(26);
    expect(retries.map((r) => r.delayMs).slice(0, 5)).toEqual([100, 200, 400, 800, 1000]);
    expect(retries.at(-1)!.delayMs).toBe(1000);
  });

  it('waits exactly the Retry-After the sink reports', async () => {
    const sink = scriptedSink((_, call) => (call === 0 ? { status: 'retryable', reason: '503', retryAfterMs: 30_000 } : { status: 'delivered' }));
    const p = deliverWithRetry(sink, batch(1), new AbortController().signal, { policy });
    await vi.advanceTimersByTimeAsync(29_999);
    expect(sink.calls).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    await expect(p).resolves.toMatchObject({ delivered: 1 });
  });

  it('stops with fatal on a sink-scope rejection, without retrying', async () => {
    const sink = scriptedSink(() => ({ status: 'rejected', scope: 'sink', reason: 'invalid token' }));
    const r = await deliverWithRetry(sink, batch(4), new AbortController().signal, { policy });
    expect(r).toEqual({ delivered: 0, rejected: [], fatal: 'invalid token' });
    expect(sink.calls).toHaveLength(1);
  });

  it('bisects a batch-scope rejection down to the bad record and delivers the rest', async () => {
    const sink = scriptedSink((b): SendOutcome =>
      b.records.some((r) => r.eventId === 'e5') ? { status: 'rejected', scope: 'batch', reason: 'invalid data' } : { status: 'delivered' },
    );
    const r = await deliverWithRetry(sink, batch(8), new AbortController().signal, { policy });
    expect(r.delivered).toBe(7);
    expect(r.rejected.map((x) => [x.record.eventId, x.reason])).toEqual([['e5', 'invalid data']]);
    expect(sink.delivered.sort()).toEqual(['e0', 'e1', 'e2', 'e3', 'e4', 'e6', 'e7']);
    expect(sink.calls.length).toBeLessThanOrEqual(1 + 2 * Math.ceil(Math.log2(8)));
  });

  it('on partial: dead-letters rejected items and resends only retryable ones', async () => {
    const sink = scriptedSink((b, call): SendOutcome => {
      if (call === 0)
        return {
          status: 'partial',
          failures: [
            { index: 1, status: 'rejected', reason: 'mapper_parsing_exception' },
            { index: 3, status: 'retryable', reason: '429', retryAfterMs: 50 },
          ],
        };
      expect(b.records.map((r) => r.eventId)).toEqual(['e3']);
      return { status: 'delivered' };
    });
    const p = deliverWithRetry(sink, batch(4), new AbortController().signal, { policy });
    await vi.advanceTimersByTimeAsync(50);
    const r = await p;
    expect(r.delivered).toBe(3);
    expect(r.rejected.map((x) => x.record.eventId)).toEqual(['e1']);
    expect(sink.calls).toEqual([['e0', 'e1', 'e2', 'e3'], ['e3']]);
  });

  it('is cancelled by the signal while waiting, and reports aborted', async () => {
    const sink = scriptedSink(() => ({ status: 'retryable', reason: 'down' }));
    const ac = new AbortController();
    const p = deliverWithRetry(sink, batch(2), ac.signal, { policy: { initialDelayMs: 60_000, maxDelayMs: 60_000 }, random: () => 1 });
    await vi.advanceTimersByTimeAsync(10);
    ac.abort(new Error('shutdown'));
    await expect(p).resolves.toEqual({ delivered: 0, rejected: [], aborted: true });
  });

  it('never retries a sink that throws (a bug): the error propagates', async () => {
    const sink = scriptedSink(() => {
      throw new TypeError('boom');
    });
    await expect(deliverWithRetry(sink, batch(1), new AbortController().signal, { policy })).rejects.toThrow('boom');
    expect(sink.calls).toHaveLength(1);
  });
});
