// The checkpoint contract: where each route keeps, per sink, the position up to which delivery is done.
import type { Position } from './source.ts';

export const CHECKPOINT_FORMAT_VERSION = 1;

export interface SinkPosition {
  readonly position: Position;
  /** Records that ended (any status) up to this position since the checkpoint was created. */
  readonly records: number;
  /** RFC 3339 time of the save. */
  readonly savedAt: string;
  /**
   * The completeness ledger's open windows at this position (src/ledger/accountant.ts), saved in the same write
   * so that a restart resumes counting exactly where the position resumes reading. Absent without a ledger.
   */
  readonly ledger?: Readonly<Record<string, unknown>>;
}

/** One checkpoint: a live route, or one replay of a route. */
export interface Checkpoint {
  readonly version: typeof CHECKPOINT_FORMAT_VERSION;
  /** `routes/<route>` or `replays/<route>/<from>--<to>`. */
  readonly key: string;
  /** Hash of the source identity the positions belong to. */
  readonly fingerprint: string;
  /** Position per sink name. */
  readonly sinks: Readonly<Record<string, SinkPosition>>;
  /** Free-form extra state of replays (chunk reports …). */
  readonly meta?: Readonly<Record<string, unknown>>;
}

/** Who takes a checkpoint's lock: written into the lock file, so that whoever is refused can name the holder. */
export interface CheckpointLockHolder {
  /** What the holder runs, e.g. `audit-forwarder run`. */
  readonly command: string;
}

/** The exclusive use of one checkpoint key by one holder, from `CheckpointStore.lock` until `release`. */
export interface CheckpointLock {
  readonly key: string;
  /** Ends the exclusive use. Idempotent; never throws. The end of the process, a crash included, ends it too. */
  release(): Promise<void>;
}

export interface CheckpointStore {
  /**
   * The checkpoint under `key`, or undefined if none was ever written.
   * Throws `ForwarderError`: `FWD_CHECKPOINT_CORRUPT` (checksum, truncation, bad JSON — never silently
   * treated as absent), `FWD_CHECKPOINT_SOURCE_CHANGED` when the stored fingerprint is neither `fingerprint` nor
   * one of `accepted` (the source's identity in earlier releases, see `Source.previousIdentities`),
   * `FWD_CHECKPOINT_UNSUPPORTED_VERSION`.
   */
  load(key: string, fingerprint: string, accepted?: readonly string[]): Promise<Checkpoint | undefined>;
  /**
   * Replaces the checkpoint atomically: after a crash at any instant, `load` returns either the previous
   * or the new checkpoint, never a mix, never an error.
   */
  save(checkpoint: Checkpoint): Promise<void>;
  /**
   * Removes the checkpoint (the route starts over). Keeps a `.reset-<time>` copy. Resolves true when there was
   * a checkpoint to remove. Holds the key's lock (see `lock`) while it works: throws `FWD_STATE_LOCKED`, and
   * touches nothing, while another process or another holder in this process has it — a reset under a running
   * daemon would be overwritten by its next save.
   */
  reset(key: string): Promise<boolean>;
  /**
   * Takes the exclusive use of the checkpoint `key`, for as long as the caller runs on it: a process that
   * loads and saves a checkpoint takes its lock first and keeps it until it has saved for the last time.
   * - Exclusive per key, between processes and also between two holders in one process; different keys
   *   (`routes/<route>` and a `replays/<route>/<from>--<to>`) are independent, so a replay runs beside the
   *   live route.
   * - The lock lives in `<checkpoint file>.lock`, beside the checkpoint file (created 0600, its directories
   *   created as `save` creates them). Once granted, the holder writes its pid, `holder.command` and the time
   *   into it; the file itself is never removed, and its content means nothing while nobody holds the lock.
   * - Released by `CheckpointLock.release()` and by the end of the holder's process, however it ends
   *   (SIGKILL included): no stale lock is ever left to clean up.
   * - Throws `ForwarderError` `FWD_STATE_LOCKED` (stage `checkpoint`, disposition `fatal`) at once, without
   *   waiting, when the key is held: the message names the holder (pid, command, since when; "unknown" when
   *   its lock file cannot be read) and what to do (stop it; a replay of another range may run beside it).
   *   `FWD_CHECKPOINT_IO` when the lock file cannot be created or locked; `FWD_CONFIG_INVALID` for a bad key.
   * - `load`, `save` and `inspect` do not check the lock: callers that write take it first.
   */
  lock(key: string, holder: CheckpointLockHolder): Promise<CheckpointLock>;
  /** Keys of all checkpoints present. */
  list(): Promise<string[]>;
  /** The checkpoint without fingerprint check, for `checkpoint show`. Throws on corruption like `load`. */
  inspect(key: string): Promise<Checkpoint | undefined>;
}
