// The one error class of the forwarder: a stable code, the stage it came from, and what may be done about it.

/** Closed set of error codes, `FWD_<STAGE>_<REASON>`. */
export type ForwarderErrorCode =
  | 'FWD_CONFIG_INVALID'
  | 'FWD_CONFIG_UNREADABLE'
  | 'FWD_CONFIG_SECRET_UNAVAILABLE'
  | 'FWD_CHECKPOINT_CORRUPT'
  | 'FWD_CHECKPOINT_SOURCE_CHANGED'
  | 'FWD_CHECKPOINT_UNSUPPORTED_VERSION'
  | 'FWD_CHECKPOINT_IO'
  | 'FWD_STATE_LOCKED'
  | 'FWD_SOURCE_IO'
  | 'FWD_SOURCE_POSITION_INVALID'
  | 'FWD_SOURCE_FAILED'
  | 'FWD_DECODE_INVALID'
  | 'FWD_DECODE_TOO_DEEP'
  | 'FWD_DECODE_FAILED'
  | 'FWD_MAP_INVALID'
  | 'FWD_MAP_FAILED'
  | 'FWD_SINK_REJECTED'
  | 'FWD_SINK_PERMANENT'
  | 'FWD_SINK_IO'
  | 'FWD_DEADLETTER_IO'
  | 'FWD_LEDGER_CORRUPT'
  | 'FWD_LEDGER_IO'
  | 'FWD_CLI_USAGE';

/**
 * The codes a dead letter can carry (see delivery/dead-letter.ts): why one record ended in the dead-letter
 * file. `…_INVALID`: the record (or the mapping's view of it) breaks a rule, with the offending path;
 * `FWD_DECODE_TOO_DEEP`: nested deeper than the source's `maxNestingDepth`; `…_FAILED`: the decoder, the
 * mapping or the encoder threw on it (a bug, isolated to that record); `FWD_SINK_REJECTED`: the destination
 * refused it.
 */
export type DeadLetterCode = Extract<
  ForwarderErrorCode,
  'FWD_DECODE_INVALID' | 'FWD_DECODE_TOO_DEEP' | 'FWD_DECODE_FAILED' | 'FWD_MAP_INVALID' | 'FWD_MAP_FAILED' | 'FWD_SINK_REJECTED'
>;

export type ErrorStage = 'config' | 'checkpoint' | 'source' | 'decode' | 'map' | 'sink' | 'deadletter' | 'ledger' | 'cli';

/**
 * `retryable`: the same operation may succeed later. `permanent`: it will not, but the process may go on
 * (a route stops). `fatal`: the process cannot go on (start-up refuses).
 */
export type ErrorDisposition = 'retryable' | 'permanent' | 'fatal';

export class ForwarderError extends Error {
  readonly code: ForwarderErrorCode;
  readonly stage: ErrorStage;
  readonly disposition: ErrorDisposition;

  constructor(
    code: ForwarderErrorCode,
    message: string,
    options: { stage: ErrorStage; disposition: ErrorDisposition; cause?: unknown },
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'ForwarderError';
    this.code = code;
    this.stage = options.stage;
    this.disposition = options.disposition;
  }
}

export function isForwarderError(e: unknown, code?: ForwarderErrorCode): e is ForwarderError {
  return e instanceof ForwarderError && (code === undefined || e.code === code);
}
