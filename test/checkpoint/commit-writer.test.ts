// Tests of the commit writer: coalescing, one save at a time, flush, error propagation, untouched sinks kept.
import { describe, expect, it } from 'vitest';
import { createCommitWriter } from '../../src/checkpoint/commit-writer.ts';
import type { Checkpoint, CheckpointStore } from '../../src/contracts/checkpoint-store.ts';
import { ForwarderError } from '../../src/contracts/errors.ts';

const BASE = { key: 'routes/r1', fingerprint: 'sha256:abc' };

interface Deferred {
  readonly promise: Promise<void>;
  readonly resolve: () => void;
  readonly reject: (e: unknown) => void;
}

function deferred(): Deferred {
  let resolve!: () => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** An in-memory store whose saves end when the test says so (or at once), recording overlap. */
function recordingStore(options: { manual?: boolean } = {}) {
  const saves: Checkpoint[] = [];
  const gates: Deferred[] = [];
  const state = { inFlight: 0, maxInFlight: 0 };
  const store: CheckpointStore = {
    async save(checkpoint) {
      state.inFlight++;
      state.maxInFlight = Math.max(state.maxInFlight, state.inFlight);
      saves.push(structuredClone(checkpoint));
      try {
        if (options.manual) {
          const gate = deferred();
          gates.push(gate);
          await gate.promise;
        } else {
          await new Promise((r) => setImmediate(r));
        }
      } finally {
        state.inFlight--;
      }
    },
    load: () => Promise.reject(new Error('not used')),
    inspect: () => Promise.reject(new Error('not used')),
    reset: () => Promise.reject(new Error('not used')),
    list: () => Promise.reject(new Error('not used')),
    lock: () => Promise.reject(new Error('not used')),
  };
  return { store, saves, gates, state };
}

/** Lets pending promise callbacks run. */
async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
}

const saveError = () => new ForwarderError('FWD_CHECKPOINT_IO', 'disk full', { stage: 'checkpoint', disposition: 'permanent' });

describe('coalescing', () => {
  it('many commits from several lanes become few saves; the last save holds the latest positions', async () => {
    const { store, saves, state } = recordingStore();
    const writer = createCommitWriter(store, BASE);
    const lanes = ['splunk', 'elastic', 'syslog'];
    const perLane = 3000;
    await Promise.all(
      lanes.map(async (sink, lane) => {
        for (let i = 1; i <= perLane; i++) {
          writer.commit(sink, { offset: i * (lane + 1) }, 2);
          if (i % 50 === 0) await Promise.resolve();
          if (i % 500 === 0) await new Promise((r) => setImmediate(r));
        }
      }),
    );
    await writer.flush();
    expect(saves.length).toBeGreaterThan(0);
    expect(saves.length).toBeLessThan(100);
    expect(state.maxInFlight).toBe(1);
    const last = saves.at(-1)!;
    expect(last.key).toBe('routes/r1');
    expect(last.fingerprint).toBe('sha256:abc');
    lanes.forEach((sink, lane) => {
      expect(last.sinks[sink]!.position).toEqual({ offset: perLane * (lane + 1) });
      expect(last.sinks[sink]!.records).toBe(perLane * 2);
    });
    // positions only move forward from save to save
    for (let i = 1; i < saves.length; i++) {
      for (const sink of lanes) {
        expect(saves[i]!.sinks[sink]?.records ?? 0).toBeGreaterThanOrEqual(saves[i - 1]!.sinks[sink]?.records ?? 0);
      }
    }
  });

  it('commits arriving during a save are written together by the next one', async () => {
    const { store, saves, gates, state } = recordingStore({ manual: true });
    const writer = createCommitWriter(store, BASE);
    writer.commit('s', 1, 1);
    await settle();
    expect(saves).toHaveLength(1);
    for (let i = 2; i <= 100; i++) writer.commit('s', i, 1);
    await settle();
    expect(saves).toHaveLength(1); // still one in flight, nothing more started
    gates[0]!.resolve();
    await settle();
    expect(saves).toHaveLength(2);
    expect(saves[1]!.sinks['s']).toMatchObject({ position: 100, records: 100 });
    gates[1]!.resolve();
    await writer.flush();
    expect(saves).toHaveLength(2);
    expect(state.maxInFlight).toBe(1);
  });
});

describe('flush', () => {
  it('resolves at once when nothing was committed, without saving', async () => {
    const { store, saves } = recordingStore();
    const writer = createCommitWriter(store, BASE);
    await writer.flush();
    expect(saves).toHaveLength(0);
  });

  it('resolves only when the save holding every earlier commit has ended', async () => {
    const { store, saves, gates } = recordingStore({ manual: true });
    const writer = createCommitWriter(store, BASE);
    writer.commit('s', 1, 1);
    await settle();
    writer.commit('s', 2, 1); // arrives during save 1
    let flushed = false;
    const f = writer.flush().then(() => (flushed = true));
    gates[0]!.resolve();
    await settle();
    expect(flushed).toBe(false); // save 1 did not hold commit 2
    expect(saves).toHaveLength(2);
    gates[1]!.resolve();
    await f;
    expect(saves.at(-1)!.sinks['s']!.position).toBe(2);

    // an earlier flush does not wait for commits made after it
    writer.commit('s', 3, 1);
    await settle();
    const early = writer.flush();
    writer.commit('s', 4, 1);
    gates[2]!.resolve();
    await early;
    expect(saves).toHaveLength(4);
    gates[3]!.resolve();
    await writer.flush();
  });
});

describe('errors', () => {
  it('a failed save is re-thrown by the next commit and flush, and reported once', async () => {
    const { store, gates } = recordingStore({ manual: true });
    const reported: unknown[] = [];
    const writer = createCommitWriter(store, BASE, undefined, undefined, { onError: (e) => reported.push(e) });
    writer.commit('s', 1, 1);
    const f = writer.flush();
    await settle();
    const error = saveError();
    gates[0]!.reject(error);
    await expect(f).rejects.toBe(error);
    expect(() => writer.commit('s', 2, 1)).toThrow(error);
    expect(() => writer.setMeta({})).toThrow(error);
    await expect(writer.flush()).rejects.toBe(error);
    expect(writer.error).toBe(error);
    expect(reported).toEqual([error]);
    expect(gates).toHaveLength(1); // no save after the failure
  });

  it('a failing beforeSave hook stops saving like a failed save', async () => {
    const { store, saves } = recordingStore();
    const error = new ForwarderError('FWD_DEADLETTER_IO', 'cannot fsync', { stage: 'deadletter', disposition: 'permanent' });
    const writer = createCommitWriter(store, BASE, undefined, () => Promise.reject(error));
    writer.commit('s', 1, 1);
    await expect(writer.flush()).rejects.toBe(error);
    expect(saves).toHaveLength(0);
    expect(() => writer.commit('s', 2, 1)).toThrow(error);
  });

  it('rejects a record count that is not a non-negative integer (a bug)', () => {
    const writer = createCommitWriter(recordingStore().store, BASE);
    expect(() => writer.commit('s', 1, -1)).toThrow(TypeError);
    expect(() => writer.commit('s', 1, 1.5)).toThrow(TypeError);
  });
});

describe('state', () => {
  const loaded: Checkpoint = {
    version: 1,
    key: 'routes/r1',
    fingerprint: 'sha256:abc',
    sinks: {
      splunk: { position: { offset: 10 }, records: 10, savedAt: '2026-01-01T00:00:00.000Z' },
      elastic: { position: { offset: 7 }, records: 7, savedAt: '2026-01-01T00:00:01.000Z' },
    },
    meta: { note: 'kept' },
  };

  it('keeps the positions of sinks that commit nothing, and adds to the loaded counts', async () => {
    const { store, saves } = recordingStore();
    const clock = new Date('2026-03-04T05:06:07.000Z');
    const writer = createCommitWriter(store, BASE, loaded, undefined, { now: () => clock });
    writer.commit('splunk', { offset: 15 }, 5);
    writer.commit('syslog', { offset: 1 }, 1);
    await writer.flush();
    expect(saves.at(-1)).toEqual({
      version: 1,
      key: 'routes/r1',
      fingerprint: 'sha256:abc',
      sinks: {
        splunk: { position: { offset: 15 }, records: 15, savedAt: '2026-03-04T05:06:07.000Z' },
        elastic: loaded.sinks['elastic'],
        syslog: { position: { offset: 1 }, records: 1, savedAt: '2026-03-04T05:06:07.000Z' },
      },
      meta: { note: 'kept' },
    });
    writer.setMeta({ chunks: 3 });
    await writer.flush();
    expect(saves.at(-1)!.meta).toEqual({ chunks: 3 });
    expect(writer.snapshot().sinks['elastic']).toEqual(loaded.sinks['elastic']);
  });

  it('takes the positions before beforeSave runs: a commit made during the hook waits for the next save', async () => {
    const { store, saves } = recordingStore();
    const order: string[] = [];
    let writer: ReturnType<typeof createCommitWriter> | undefined;
    let first = true;
    writer = createCommitWriter(store, BASE, undefined, async () => {
      order.push(`hook:${saves.length}`);
      if (first) {
        first = false;
        writer!.commit('s', 2, 1);
      }
    });
    writer.commit('s', 1, 1);
    await writer.flush(); // waits for commit 1 only
    await writer.flush(); // and now for the commit made during the hook
    expect(order).toEqual(['hook:0', 'hook:1']);
    expect(saves.map((s) => s.sinks['s']!.position)).toEqual([1, 2]);
  });

  it('refuses a loaded checkpoint of another key (a bug)', () => {
    expect(() => createCommitWriter(recordingStore().store, { key: 'routes/other', fingerprint: 'x' }, loaded)).toThrow(TypeError);
  });
});
