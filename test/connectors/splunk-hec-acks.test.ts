// The ack tracker of the Splunk HEC sink: read-once trues, timeouts, channel resets and the attribution race.
import { describe, expect, it } from 'vitest';
import { createAckTracker, type AckTrackerOptions } from '../../connectors/splunk-hec/acks.ts';
import type { HecResponse } from '../../connectors/splunk-hec/transport.ts';
import { silentLogger } from '../../src/logging.ts';

const never = new AbortController().signal;

/** A channel as HEC keeps it: ids that are true until read once; `hold` makes the next query wait. */
function fakeChannel() {
  const indexed = new Set<number>();
  const queries: number[][] = [];
  let gate: Promise<void> | undefined;
  let answer: HecResponse | undefined;
  const query = async (body: string): Promise<HecResponse> => {
    const ids = (JSON.parse(body) as { acks: number[] }).acks;
    queries.push(ids);
    // The statuses are read when HEC gets the query, before the answer travels back.
    const acks: Record<string, boolean> = {};
    for (const id of ids) {
      acks[String(id)] = indexed.delete(id);
    }
    if (gate !== undefined) await gate;
    return answer ?? { status: 200, body: JSON.stringify({ acks }), retryAfter: undefined };
  };
  return {
    indexed,
    queries,
    query,
    hold() {
      let open!: () => void;
      gate = new Promise((r) => (open = r));
      return () => {
        gate = undefined;
        open();
      };
    },
    answerWith(res: HecResponse) {
      answer = res;
    },
  };
}

const tracker = (query: AckTrackerOptions['query'], over: Partial<AckTrackerOptions> = {}) =>
  createAckTracker({ pollIntervalMs: 5, timeoutMs: 60_000, maxPending: 100, idsPerPoll: 1000, query, logger: silentLogger(), sink: 'hec', ...over });

describe('splunk-hec ack tracker', () => {
  it('a request is acknowledged once its id turns true, and only then', async () => {
    const ch = fakeChannel();
    const t = tracker(ch.query);
    const wait = t.begin().accepted(0, never);
    let settled = false;
    void wait.then(() => (settled = true));
    await new Promise((r) => setTimeout(r, 40));
    expect(settled).toBe(false);
    expect(ch.queries.length).toBeGreaterThan(0);
    ch.indexed.add(0);
    expect(await wait).toEqual({ kind: 'acked' });
    expect(t.counters.acked).toBe(1);
    t.close();
  });

  it('asks for pending ids in groups of idsPerPoll', async () => {
    const ch = fakeChannel();
    const t = tracker(ch.query, { idsPerPoll: 2 });
    const waits = [0, 1, 2, 3, 4].map((id) => t.begin().accepted(id, never));
    for (let id = 0; id < 5; id++) ch.indexed.add(id);
    expect(await Promise.all(waits)).toEqual(waits.map(() => ({ kind: 'acked' })));
    expect(ch.queries.slice(0, 3)).toEqual([[0, 1], [2, 3], [4]]);
    t.close();
  });

  it('an ack that never comes ends as a timeout (the batch is sent again)', async () => {
    const ch = fakeChannel();
    const t = tracker(ch.query, { timeoutMs: 30 });
    const result = await t.begin().accepted(7, never);
    expect(result).toMatchObject({ kind: 'timeout', reason: expect.stringContaining('ack id 7') });
    expect(t.counters.timedOut).toBe(1);
    t.close();
  });

  it('an id handed out again means the channel was reset: the older request is lost, the newer one waits', async () => {
    const ch = fakeChannel();
    const t = tracker(ch.query);
    const older = t.begin().accepted(0, never);
    const newer = t.begin().accepted(0, never);
    expect(await older).toMatchObject({ kind: 'lost' });
    ch.indexed.add(0);
    expect(await newer).toEqual({ kind: 'acked' });
    expect(t.counters.channelResets).toBe(1);
    t.close();
  });

  it('a true read while a request is in flight goes to that request when it turns out to hold the same id (reset race)', async () => {
    const ch = fakeChannel();
    const t = tracker(ch.query);
    // A was accepted with id 0 before Splunk restarted; its data is gone.
    const a = t.begin().accepted(0, never);
    // B is sent after the restart; HEC numbers it 0 and indexes it, but its answer is still on the way
    // when the poll asks for id 0 and gets B's true.
    const b = t.begin();
    const release = ch.hold();
    ch.indexed.add(0);
    await new Promise((r) => setTimeout(r, 30)); // the poll is out and has read the true
    release();
    await new Promise((r) => setTimeout(r, 10));
    const bWait = b.accepted(0, never);
    expect(await a).toMatchObject({ kind: 'lost' });
    expect(await bWait).toEqual({ kind: 'acked' });
    t.close();
  });

  it('a true read while a request went unanswered is not trusted: the request waiting on that id times out instead', async () => {
    const ch = fakeChannel();
    const t = tracker(ch.query, { timeoutMs: 200 });
    const a = t.begin().accepted(0, never);
    const b = t.begin();
    const release = ch.hold();
    ch.indexed.add(0);
    await new Promise((r) => setTimeout(r, 30));
    release();
    b.unanswered();
    expect(await a).toMatchObject({ kind: 'timeout' });
    expect(t.counters.unattributable).toBe(1);
    t.close();
  });

  it('HEC code 14 on the ack query ends every wait as disabled', async () => {
    const ch = fakeChannel();
    ch.answerWith({ status: 400, body: '{"text":"ACK is disabled","code":14}', retryAfter: undefined });
    const t = tracker(ch.query);
    const results = await Promise.all([t.begin().accepted(0, never), t.begin().accepted(1, never)]);
    for (const r of results) expect(r).toMatchObject({ kind: 'disabled', reason: expect.stringContaining('code 14') });
    t.close();
  });

  it('a refused or unreadable ack answer is asked again later, not taken as an answer', async () => {
    const ch = fakeChannel();
    ch.answerWith({ status: 503, body: '{"text":"Server is busy","code":9}', retryAfter: undefined });
    const t = tracker(ch.query);
    const wait = t.begin().accepted(3, never);
    await new Promise((r) => setTimeout(r, 30));
    ch.answerWith({ status: 200, body: '<html>', retryAfter: undefined });
    await new Promise((r) => setTimeout(r, 30));
    ch.answerWith(undefined as unknown as HecResponse);
    ch.indexed.add(3);
    expect(await wait).toEqual({ kind: 'acked' });
    expect(ch.queries.length).toBeGreaterThanOrEqual(3);
    t.close();
  });

  it('at most maxPending requests wait for acks; the next acquire waits for a slot (backpressure)', async () => {
    const ch = fakeChannel();
    const t = tracker(ch.query, { maxPending: 2 });
    const r1 = await t.acquire(never);
    const r2 = await t.acquire(never);
    let third = false;
    const p3 = t.acquire(never).then((r) => {
      third = true;
      return r;
    });
    await new Promise((r) => setTimeout(r, 20));
    expect(third).toBe(false);
    r1();
    r1(); // giving a slot back twice frees one slot only
    const r3 = await p3;
    let fourth = false;
    const p4 = t.acquire(never).then(() => (fourth = true));
    await new Promise((r) => setTimeout(r, 20));
    expect(fourth).toBe(false);
    r2();
    await p4;
    r3();
    const stop = new AbortController();
    await t.acquire(never);
    const p5 = t.acquire(stop.signal);
    stop.abort(new Error('stop'));
    await expect(p5).rejects.toThrow('stop');
    t.close();
  });

  it('an aborted wait ends as aborted, and close() ends the pending ones', async () => {
    const ch = fakeChannel();
    const t = tracker(ch.query);
    const stop = new AbortController();
    const a = t.begin().accepted(0, stop.signal);
    const b = t.begin().accepted(1, never);
    stop.abort();
    expect(await a).toEqual({ kind: 'aborted' });
    t.close();
    expect(await b).toEqual({ kind: 'aborted' });
  });
});
