// The checkpoint contract: where each route keeps, per sink, the position up to which delivery is done.
import type { Position } from './source.ts';

export const CHECKPOINT_FORMAT_VERSION = 1;

export interface SinkPosition {
  readonly position: Position;
  /** Records that ended (any status) up to this position since the checkpoint was created. */
  readonly records: number;
  /** RFC 3339 time of the save. */
  readonly savedAt: string;
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

export interface CheckpointStore {
  /**
   * The checkpoint under `key`, or undefined if none was ever written.
   * Throws `ForwarderError`: `FWD_CHECKPOINT_CORRUPT` (checksum, truncation, bad JSON — never silently
   * treated as absent), `FWD_CHECKPOINT_SOURCE_CHANGED` when `fingerprint` differs from the stored one,
   * `FWD_CHECKPOINT_UNSUPPORTED_VERSION`.
   */
  load(key: string, fingerprint: string): Promise<Checkpoint | undefined>;
  /**
   * Replaces the checkpoint atomically: after a crash at any instant, `load` returns either the previous
   * or the new checkpoint, never a mix, never an error.
   */
  save(checkpoint: Checkpoint): Promise<void>;
  /** Removes the checkpoint (the route starts over). Keeps a `.reset-<time>` copy. */
  reset(key: string): Promise<boolean>;
  /** Keys of all checkpoints present. */
  list(): Promise<string[]>;
  /** The checkpoint without fingerprint check, for `checkpoint show`. Throws on corruption like `load`. */
  inspect(key: string): Promise<Checkpoint | undefined>;
}
