// Commit writer: merges the positions a route's lanes commit into one checkpoint and saves it, one save at a time.
import { CHECKPOINT_FORMAT_VERSION } from '../contracts/checkpoint-store.ts';
import type { Checkpoint, CheckpointStore, SinkPosition } from '../contracts/checkpoint-store.ts';
import type { Position } from '../contracts/source.ts';

/** The checkpoint the writer maintains: its key and the fingerprint of the route's source. */
export interface CommitWriterBase {
  readonly key: string;
  readonly fingerprint: string;
}

export interface CommitWriterOptions {
  /** Clock for `savedAt`. */
  readonly now?: () => Date;
  /** Told once, as soon as a save fails (the route should stop; later commits throw the same error). */
  readonly onError?: (error: unknown) => void;
}

export interface CommitWriter {
  /**
   * Records that `sinkName` has ended every record up to `position`, `records` of them since its previous
   * commit (added to the sink's running total), with the lane's ledger state at that position when it keeps one. Cheap and synchronous: the checkpoint is saved in the
   * background, coalescing all commits that arrive while a save is in flight (the latest position wins).
   * `position` is kept by reference: do not mutate it afterwards.
   * Throws the error of a failed save (a route must stop rather than go on without checkpoints), and
   * `TypeError` for a negative or non-integer `records`.
   */
  commit(sinkName: string, position: Position, records: number, ledger?: object): void;
  /** Replaces the checkpoint's free-form `meta` (replay state); saved like a commit. Throws like `commit`. */
  setMeta(meta: Readonly<Record<string, unknown>> | undefined): void;
  /**
   * Resolves once everything committed before the call is saved; rejects with the save error if a save
   * failed (now or earlier).
   */
  flush(): Promise<void>;
  /**
   * The checkpoint as it stands in memory. A sink committed since the last save still shows the `savedAt`
   * of its previous save (empty if none): the next save stamps it.
   */
  snapshot(): Checkpoint;
  /** The error of the failed save, if one failed. */
  readonly error: unknown;
}

interface Waiter {
  readonly generation: number;
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
}

/**
 * `loaded` is the checkpoint the route resumed from: sinks that commit nothing keep their position.
 * `beforeSave` runs before every save, after the positions to save are taken: the engine makes the
 * dead-letter file durable there, so that no saved position passes an entry that is not on disk.
 */
export function createCommitWriter(
  store: CheckpointStore,
  base: CommitWriterBase,
  loaded?: Checkpoint,
  beforeSave?: () => Promise<void>,
  options: CommitWriterOptions = {},
): CommitWriter {
  if (loaded !== undefined && loaded.key !== base.key) {
    throw new TypeError(`loaded checkpoint ${loaded.key} does not belong to ${base.key}`);
  }
  const now = options.now ?? (() => new Date());
  const sinks = new Map<string, SinkPosition>(Object.entries(loaded?.sinks ?? {}));
  let meta = loaded?.meta;
  /** Sinks committed since the last snapshot: their `savedAt` is that of the next save. */
  const touched = new Set<string>();
  // Generations: each commit bumps `committed`; a save that snapshotted generation g sets `saved` to g.
  let committed = 0;
  let saved = 0;
  let saving = false;
  let failure: { readonly error: unknown } | undefined;
  const waiters: Waiter[] = [];

  const build = (): Checkpoint => ({
    version: CHECKPOINT_FORMAT_VERSION,
    key: base.key,
    fingerprint: base.fingerprint,
    sinks: Object.fromEntries(sinks),
    ...(meta !== undefined ? { meta } : {}),
  });

  const settle = (): void => {
    for (let i = waiters.length - 1; i >= 0; i--) {
      const w = waiters[i]!;
      if (failure !== undefined) w.reject(failure.error);
      else if (w.generation <= saved) w.resolve();
      else continue;
      waiters.splice(i, 1);
    }
  };

  const run = async (): Promise<void> => {
    try {
      // Commits of the current burst (same tick) join the first save.
      await Promise.resolve();
      while (saved < committed && failure === undefined) {
        const generation = committed;
        const savedAt = now().toISOString();
        for (const name of touched) sinks.set(name, { ...sinks.get(name)!, savedAt });
        touched.clear();
        const checkpoint = build();
        if (beforeSave !== undefined) await beforeSave();
        await store.save(checkpoint);
        saved = generation;
        settle();
      }
    } catch (error) {
      failure = { error };
      settle();
      try {
        options.onError?.(error);
      } catch {
        // The listener's own failure must not hide the save error, which commit/flush still report.
      }
    } finally {
      saving = false;
    }
  };

  const changed = (): void => {
    committed++;
    if (!saving) {
      saving = true;
      void run();
    }
  };

  return {
    commit(sinkName, position, records, ledger) {
      if (failure !== undefined) throw failure.error;
      if (!Number.isSafeInteger(records) || records < 0) {
        throw new TypeError(`commit of sink ${sinkName}: records must be a non-negative integer, got ${records}`);
      }
      const previous = sinks.get(sinkName);
      const state = ledger ?? previous?.ledger;
      sinks.set(sinkName, { position, records: (previous?.records ?? 0) + records, savedAt: previous?.savedAt ?? '', ...(state !== undefined ? { ledger: state as Record<string, unknown> } : {}) });
      touched.add(sinkName);
      changed();
    },
    setMeta(value) {
      if (failure !== undefined) throw failure.error;
      meta = value;
      changed();
    },
    flush() {
      if (failure !== undefined) return Promise.reject(failure.error);
      if (saved >= committed) return Promise.resolve();
      return new Promise<void>((resolve, reject) => {
        waiters.push({ generation: committed, resolve, reject });
      });
    },
    snapshot: build,
    get error() {
      return failure?.error;
    },
  };
}
