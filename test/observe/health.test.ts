// Readiness rules (observe/health.ts): starting and stopping, routes not running, failed lanes, stuck lanes.
import { describe, expect, it } from 'vitest';
import { readiness } from '../../src/observe/health.ts';
import type { LaneHandle, LaneView } from '../../src/pipeline/runner.ts';
import { createCounters, type LaneCounters } from '../../src/pipeline/stats.ts';

const NOW = 1_000_000;

function lane(route: string, sink: string, o: { state?: LaneView['state']; pending?: number; committedAgo?: number; failingFor?: number; error?: string } = {}): LaneView {
  const counters: LaneCounters = createCounters();
  counters.read = 100;
  counters.delivered = 100 - (o.pending ?? 0);
  const state = o.state ?? 'running';
  const running =
    state === 'running'
      ? ({ route, sink, lane: { committedAt: NOW - (o.committedAgo ?? 0), sourceFailingSince: o.failingFor === undefined ? undefined : NOW - o.failingFor } } as unknown as LaneHandle)
      : undefined;
  return { route, sink, state, counters, ...(running !== undefined ? { running } : {}), ...(o.error !== undefined ? { error: o.error } : {}) };
}

const input = (lanes: LaneView[], routes = [...new Set(lanes.map((l) => l.route))]) => ({ routes, lanes, stuckAfterMs: 60_000, phase: 'running' as const, now: NOW });

describe('readiness', () => {
  it('every route running, nothing pending or pending but recently committed: ready', () => {
    const r = readiness(input([lane('a', 's1'), lane('a', 's2', { pending: 40, committedAgo: 59_000 }), lane('b', 's1', { committedAgo: 3_600_000 })]));
    expect(r.ready).toBe(true);
    expect(r.lanes.every((l) => l.ready)).toBe(true);
    expect(r).not.toHaveProperty('reason');
  });

  it('records pending and no commit for stuckAfter: that lane is stuck, the forwarder not ready', () => {
    const r = readiness(input([lane('a', 's1'), lane('a', 's2', { pending: 40, committedAgo: 61_000 })]));
    expect(r.ready).toBe(false);
    expect(r.lanes.find((l) => l.sink === 's2')).toMatchObject({ ready: false, pending: 40, reason: 'stuck: 40 records pending and nothing committed for 61 s' });
    expect(r.lanes.find((l) => l.sink === 's1')?.ready).toBe(true);
  });

  it('an idle lane (nothing pending) is never stuck, however old its checkpoint', () => {
    expect(readiness(input([lane('a', 's1', { committedAgo: 86_400_000 })])).ready).toBe(true);
  });

  it('a source failing for stuckAfter is stuck; failing for less is not', () => {
    expect(readiness(input([lane('a', 's1', { failingFor: 59_000 })])).ready).toBe(true);
    const r = readiness(input([lane('a', 's1', { failingFor: 60_000 })]));
    expect(r.ready).toBe(false);
    expect(r.lanes[0]!.reason).toBe('stuck: the source has been failing for 60 s');
  });

  it('a failed lane is not ready and says why (first line of its error)', () => {
    const r = readiness(input([lane('a', 's1'), lane('b', 's1', { state: 'failed', error: 'sink s1 refuses all data: HTTP 401\nmore' })]));
    expect(r.ready).toBe(false);
    expect(r.lanes.find((l) => l.route === 'b')).toMatchObject({ ready: false, state: 'failed', reason: 'failed: sink s1 refuses all data: HTTP 401' });
    expect(r.reason).toBe('not running: route b');
  });

  it('a configured route without lanes is not ready; a lane of a route no longer configured does not count', () => {
    const r = readiness(input([lane('a', 's1'), lane('gone', 's1', { state: 'failed', error: 'x' })], ['a', 'new']));
    expect(r).toMatchObject({ ready: false, reason: 'not running: route new' });
    expect(r.lanes.map((l) => l.route)).toEqual(['a']);
    expect(readiness(input([lane('a', 's1'), lane('gone', 's1', { state: 'failed', error: 'x' })], ['a'])).ready).toBe(true);
  });

  it('starting and stopping are not ready', () => {
    expect(readiness({ ...input([lane('a', 's1')]), phase: 'starting' })).toMatchObject({ ready: false, reason: 'starting' });
    expect(readiness({ ...input([lane('a', 's1')]), phase: 'stopping' })).toMatchObject({ ready: false, reason: 'stopping' });
  });
});
