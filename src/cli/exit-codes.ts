// The exit codes of every command, documented in `--help` and docs/cli.md.
import { isForwarderError } from '../contracts/errors.ts';

export const EXIT = {
  /** Everything asked for was done. */
  ok: 0,
  /** A route stopped on an error, a check failed, or dead letters could not all be redriven. */
  failure: 1,
  /** Wrong usage, another process holds the route's checkpoint, or (map) some input lines were bad. */
  usage: 2,
  /** The configuration is invalid or unreadable. */
  config: 3,
  /** A checkpoint is corrupt or belongs to another source: start-up refused. */
  checkpoint: 4,
} as const;

export const EXIT_CODES_HELP = `
Exit codes:
  0  success
  1  a route stopped on an error, a check failed, some dead letters still fail, or reconcile found a difference
  2  usage error; another process holds the route's checkpoint; for \`map\`: at least one input line was bad
  3  the configuration is invalid or unreadable
  4  a checkpoint is corrupt or was written for another source (start-up refused)`;

/** The exit code for an error that ended a command. */
export function exitCodeFor(error: unknown): number {
  if (isForwarderError(error)) {
    // Before the stage test: the checkpoint is sound, it is the second invocation on it that is wrong.
    if (error.code === 'FWD_STATE_LOCKED') return EXIT.usage;
    if (error.stage === 'config') return EXIT.config;
    if (error.stage === 'checkpoint') return EXIT.checkpoint;
    if (error.stage === 'cli') return EXIT.usage;
  }
  return EXIT.failure;
}
