// The checkpoint lock: one holder per key, in this process and across processes, released by release() or a crash.
import { mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { checkpointFilePath, createFileCheckpointStore, fingerprintOf } from '../../src/checkpoint/file-store.ts';
import type { Checkpoint, CheckpointStore } from '../../src/contracts/checkpoint-store.ts';
import { ForwarderError } from '../../src/contracts/errors.ts';
import { holdCheckpointLock } from '../support/lock-holder.ts';
import type { LockHolderProcess } from '../support/lock-holder.ts';

const FP = fingerprintOf({ test: 'lock' });
const LIVE = 'routes/a';
const REPLAY = 'replays/a/20260101T000000Z--20260201T000000Z';
const RUN = { command: 'audit-forwarder run' };

let dir: string;
let store: CheckpointStore;
const holders: LockHolderProcess[] = [];

beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'fwd-lock-'));
  store = createFileCheckpointStore(dir);
});
afterEach(async () => {
  await Promise.all(holders.splice(0).map((h) => h.crash()));
  await rm(dir, { recursive: true, force: true });
});

async function holdInChild(key: string, command = 'audit-forwarder run'): Promise<LockHolderProcess> {
  const holder = await holdCheckpointLock(dir, key, command);
  holders.push(holder);
  return holder;
}

async function refusal(promise: Promise<unknown>): Promise<ForwarderError> {
  const e = await promise.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(ForwarderError);
  const fe = e as ForwarderError;
  expect(fe.code).toBe('FWD_STATE_LOCKED');
  expect(fe.stage).toBe('checkpoint');
  expect(fe.disposition).toBe('fatal');
  return fe;
}

function checkpoint(records: number, key = LIVE): Checkpoint {
  return {
    version: 1,
    key,
    fingerprint: FP,
    sinks: { main: { position: { line: records }, records, savedAt: '2026-03-01T00:00:00.000Z' } },
  };
}

describe('in one process', () => {
  it('a second lock on a key is refused, naming the holder, until the first is released', async () => {
    const first = await store.lock(LIVE, RUN);
    expect(first.key).toBe(LIVE);
    const e = await refusal(store.lock(LIVE, { command: 'audit-forwarder replay' }));
    expect(e.message).toContain(`pid ${process.pid}`);
    expect(e.message).toContain('"audit-forwarder run"');
    expect(e.message).toContain('route "a"');
    expect(e.message).toContain(`${checkpointFilePath(dir, LIVE)}.lock`);
    // Another store on the same directory is no way around it.
    await refusal(createFileCheckpointStore(dir).lock(LIVE, RUN));

    await first.release();
    await first.release(); // idempotent
    const second = await store.lock(LIVE, RUN);
    await second.release();
  });

  it('different keys are independent: the live route, its replays and other routes', async () => {
    const locks = await Promise.all([store.lock(LIVE, RUN), store.lock(REPLAY, RUN), store.lock('replays/a/x--y', RUN), store.lock('routes/b', RUN)]);
    await refusal(store.lock(REPLAY, RUN));
    await Promise.all(locks.map((l) => l.release()));
  });

  it('the lock file sits beside the checkpoint file (0600, directories created), names the holder, and is not a checkpoint', async () => {
    const lock = await store.lock(REPLAY, RUN);
    const file = `${checkpointFilePath(dir, REPLAY)}.lock`;
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    const holder = JSON.parse(await readFile(file, 'utf8')) as Record<string, unknown>;
    expect(holder).toMatchObject({ pid: process.pid, command: 'audit-forwarder run' });
    expect(Number.isNaN(Date.parse(holder['since'] as string))).toBe(false);
    expect(await store.list()).toEqual([]);
    expect(await store.load(REPLAY, FP)).toBeUndefined();
    await lock.release();
    // Never removed (that would let two holders lock two different files), only emptied.
    expect(await readFile(file, 'utf8')).toBe('');
  });

  it('reset is refused while the key is held, touching nothing, and works once it is released', async () => {
    await store.save(checkpoint(1));
    await store.save(checkpoint(2));
    const lock = await store.lock(LIVE, RUN);
    const before = await readdir(path.join(dir, 'routes'));
    const e = await refusal(store.reset(LIVE));
    expect(e.message).toContain(`pid ${process.pid}`);
    expect(await readdir(path.join(dir, 'routes'))).toEqual(before);
    expect(await store.load(LIVE, FP)).toEqual(checkpoint(2));
    // The replay of the route can be reset meanwhile.
    expect(await store.reset(REPLAY)).toBe(false);

    await lock.release();
    expect(await store.reset(LIVE)).toBe(true);
    expect(await store.load(LIVE, FP)).toBeUndefined();
    // Reset released its own lock.
    await (await store.lock(LIVE, RUN)).release();
  });

  it('an invalid key is FWD_CONFIG_INVALID, touching no file', async () => {
    await expect(store.lock('routes/../x', RUN)).rejects.toMatchObject({ code: 'FWD_CONFIG_INVALID' });
    expect(await readdir(dir)).toEqual([]);
  });
});

describe('across processes', () => {
  it('a key held by another process is refused naming its pid; a SIGKILL of that process releases it', async () => {
    const child = await holdInChild(LIVE, 'audit-forwarder run -c /etc/af.yaml');
    expect(child.pid).not.toBe(process.pid);
    const e = await refusal(store.lock(LIVE, RUN));
    expect(e.message).toContain(`pid ${child.pid}`);
    expect(e.message).toContain('"audit-forwarder run -c /etc/af.yaml"');
    expect(e.message).toContain('another process');
    // Its replays are free.
    await (await store.lock(REPLAY, RUN)).release();

    await child.crash();
    const lock = await store.lock(LIVE, RUN);
    // Now the child is the one refused.
    await expect(holdCheckpointLock(dir, LIVE)).rejects.toThrow(new RegExp(`FWD_STATE_LOCKED.*pid ${process.pid}`));
    await lock.release();
  });

  it('reset is refused while another process holds the key, and works after it died', async () => {
    await store.save(checkpoint(3));
    const child = await holdInChild(LIVE);
    const e = await refusal(store.reset(LIVE));
    expect(e.message).toContain(`pid ${child.pid}`);
    expect(await store.load(LIVE, FP)).toEqual(checkpoint(3));
    await child.crash();
    expect(await store.reset(LIVE)).toBe(true);
  });

  it('a holder whose lock file cannot be read is "unknown", and still refused', async () => {
    await holdInChild(LIVE);
    await writeFile(`${checkpointFilePath(dir, LIVE)}.lock`, 'not json');
    const e = await refusal(store.lock(LIVE, RUN));
    expect(e.message).toContain('pid unknown');
  });
});
