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
  | 'FWD_SOURCE_IO'
  | 'FWD_SOURCE_POSITION_INVALID'
  | 'FWD_SINK_PERMANENT'
  | 'FWD_SINK_IO'
  | 'FWD_DEADLETTER_IO'
  | 'FWD_CLI_USAGE';

export type ErrorStage = 'config' | 'checkpoint' | 'source' | 'sink' | 'deadletter' | 'cli';

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
