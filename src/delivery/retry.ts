// The retry decorator, one for both ends: a sink's batch ends delivered, rejected record by record, or stops the
// route; a source's read goes on from its last record after a retryable failure, or stops the route.
import pRetry from 'p-retry';
import { isForwarderError } from '../contracts/errors.ts';
import type { ItemFailure, RetryKind, SendOutcome } from '../contracts/outcome.ts';
import type { SinkRecord, Sink, SinkBatch } from '../contracts/sink.ts';
import type { Position, Source, SourceReadOptions, SourceRecord } from '../contracts/source.ts';
import { fsErrorMeaning } from '../util/fs-errors.ts';
import { type BackoffPolicy, backoffDelay } from './backoff.ts';

/** How one batch ended after every retry. */
export interface DeliveryResult {
  /** Records the destination holds. */
  readonly delivered: number;
  /** Records the destination refused one by one (to dead-letter), with its reason. */
  readonly rejected: ReadonlyArray<{ readonly record: SinkRecord; readonly reason: string }>;
  /** Set when the sink itself is unusable: the route must stop; nothing of this batch may be committed. */
  readonly fatal?: string;
  /** Set when the send was abandoned through the signal: nothing of this batch may be committed. */
  readonly aborted?: boolean;
}

export interface RetryEvent {
  readonly attempt: number;
  readonly delayMs: number;
  readonly reason: string;
  /** Records being sent again (sinks); 0 for a source's read. */
  readonly records: number;
  /** The error code, when the failure carried one (`FWD_SOURCE_IO`, `EIO` …). */
  readonly code?: string;
  /** For a sink: why the send is tried again (`other` when the sink did not say). */
  readonly kind?: RetryKind;
}

export interface RetryOptions {
  readonly policy: BackoffPolicy;
  /** Called before each wait, so the route reports that it keeps trying. */
  readonly onRetry?: (event: RetryEvent) => void;
  readonly random?: () => number;
}

/** A failure worth another attempt, as the retry core sees it. */
class Retryable extends Error {
  readonly retryAfterMs: number | undefined;
  readonly code: string | undefined;
  readonly kind: RetryKind | undefined;
  constructor(reason: string, retryAfterMs: number | undefined, code?: string, kind?: RetryKind) {
    super(reason);
    this.retryAfterMs = retryAfterMs;
    this.code = code;
    this.kind = kind;
  }
}

/**
 * The retry core: runs `attempt` until it returns, waiting before each new attempt as the policy says (full
 * jitter, capped, the destination's Retry-After honoured), without limit, while it throws `Retryable`. Any other
 * error, or the signal aborting (its reason), ends it. `records` says how many records the next attempt carries.
 */
async function retrying<T>(attempt: () => Promise<T>, signal: AbortSignal, options: RetryOptions, records: () => number): Promise<T> {
  return pRetry(attempt, {
    retries: Number.POSITIVE_INFINITY,
    // The waits are ours (full jitter, Retry-After): p-retry's own are zero.
    minTimeout: 0,
    maxTimeout: 0,
    randomize: false,
    signal,
    shouldRetry: ({ error }) => error instanceof Retryable,
    onFailedAttempt: async ({ error, attemptNumber }) => {
      if (!(error instanceof Retryable)) return;
      const delayMs = backoffDelay(options.policy, attemptNumber, error.retryAfterMs, options.random);
      options.onRetry?.({
        attempt: attemptNumber,
        delayMs,
        reason: error.message,
        records: records(),
        ...(error.code !== undefined ? { code: error.code } : {}),
        ...(error.kind !== undefined ? { kind: error.kind } : {}),
      });
      await sleep(delayMs, signal);
    },
  });
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(t);
      reject(signal.reason);
    };
    const t = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/** Settles with `promise`, or rejects as soon as `signal` aborts: a sink that ignores the signal cannot hold a shutdown. */
function untilAborted<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(e);
      },
    );
  });
}

function batchOf(records: readonly SinkRecord[]): SinkBatch {
  let bytes = 0;
  for (const r of records) bytes += r.bytes;
  return { records, bytes };
}

/**
 * Sends `batch` until it has ended. Rules:
 * - `retryable` outcomes (and retryable items of a `partial`) are retried without limit, with backoff; only
 *   the records still pending are sent again.
 * - `rejected` with scope `batch` splits the batch in halves until the refused record is alone, which is
 *   then rejected; the others are delivered.
 * - `rejected` with scope `sink` ends the delivery with `fatal`.
 * - `unidentified` (some refused, not said which): every record of that send is rejected with the reason.
 * - An aborted signal ends it with `aborted`. A sink that throws is a bug: the error propagates.
 */
export async function deliverWithRetry(sink: Sink, batch: SinkBatch, signal: AbortSignal, options: RetryOptions): Promise<DeliveryResult> {
  const rejected: Array<{ record: SinkRecord; reason: string }> = [];
  let delivered = 0;
  // Sub-batches still to send, in order; the first is the one being sent.
  const queue: (readonly SinkRecord[])[] = [batch.records];

  const attemptFirst = async (): Promise<SendOutcome> => {
    const outcome = await untilAborted(sink.send(batchOf(queue[0]!), signal), signal);
    if (outcome.status === 'retryable') throw new Retryable(outcome.reason, outcome.retryAfterMs, undefined, outcome.kind ?? 'other');
    if (outcome.status === 'partial') {
      const current = queue[0]!;
      const retry: SinkRecord[] = [];
      let retryAfterMs: number | undefined;
      let retryReason = '';
      const failed = new Map<number, ItemFailure>();
      for (const f of outcome.failures) if (f.index >= 0 && f.index < current.length) failed.set(f.index, f);
      current.forEach((record, i) => {
        const f = failed.get(i);
        if (f === undefined) delivered++;
        else if (f.status === 'rejected') rejected.push({ record, reason: f.reason });
        else {
          retry.push(record);
          retryReason = f.reason;
          if (f.retryAfterMs !== undefined) retryAfterMs = Math.max(retryAfterMs ?? 0, f.retryAfterMs);
        }
      });
      if (retry.length > 0) {
        queue[0] = retry;
        throw new Retryable(`${retry.length} record(s) to resend: ${retryReason}`, retryAfterMs, undefined, 'item');
      }
    }
    return outcome;
  };

  while (queue.length > 0) {
    let outcome: SendOutcome;
    try {
      outcome = await retrying(attemptFirst, signal, options, () => queue[0]!.length);
    } catch (error) {
      if (signal.aborted) return { delivered, rejected, aborted: true };
      throw error;
    }
    const current = queue.shift()!;
    if (outcome.status === 'delivered') delivered += current.length;
    else if (outcome.status === 'unidentified') {
      // Not sent again (the records it kept would be duplicated), never dropped: all of them are dead-lettered.
      const reason = `the destination refused ${outcome.refused} of ${current.length} records without saying which: ${outcome.reason}`;
      for (const record of current) rejected.push({ record, reason });
    }
    else if (outcome.status === 'rejected') {
      if (outcome.scope === 'sink') return { delivered, rejected, fatal: outcome.reason };
      if (current.length === 1) rejected.push({ record: current[0]!, reason: outcome.reason });
      else {
        const mid = Math.ceil(current.length / 2);
        queue.unshift(current.slice(0, mid), current.slice(mid));
      }
    }
  }
  return { delivered, rejected };
}

/** Why a source's read failed, and whether reading again later may work. */
export interface SourceFailure {
  readonly retryable: boolean;
  /** What happened and, when it will not clear by itself, what to fix. */
  readonly reason: string;
  readonly code?: string;
}

/**
 * A source's error as data: a `ForwarderError` says itself (its disposition); a file-system error is looked up in
 * the shared errno table (src/util/fs-errors.ts); anything else (a TypeError …) is a bug, never retried.
 */
export function classifySourceError(error: unknown): SourceFailure {
  const message = error instanceof Error ? error.message : String(error);
  if (isForwarderError(error)) {
    const cause = fsErrorMeaning(error.cause);
    const hint = cause !== undefined && !cause.retryable ? ` (${cause.code}: ${cause.meaning})` : '';
    return { retryable: error.disposition === 'retryable', reason: `${message}${hint}`, code: error.code };
  }
  const fs = fsErrorMeaning(error);
  if (fs !== undefined) return { retryable: fs.retryable, reason: fs.retryable ? message : `${message} (${fs.meaning})`, code: fs.code };
  return { retryable: false, reason: `${error instanceof Error ? (error.stack ?? message) : message} (a bug: please report it)` };
}

/** How a source's read ended for good: a failure that will not clear by retrying. */
export class SourceReadError extends Error {
  readonly failure: SourceFailure;
  constructor(failure: SourceFailure, cause: unknown) {
    super(failure.reason, { cause });
    this.name = 'SourceReadError';
    this.failure = failure;
  }
}

/**
 * Reads `source` from `from` like `source.read`, but a retryable failure (see `classifySourceError`) does not end
 * the reading: after the policy's wait it reads again from the position of the last record handed out, as a
 * restart would, so nothing is skipped and nothing is handed out twice. Retries have no limit and are reported
 * through `onRetry`; the wait grows only while no record comes through. A failure that is not retryable ends the
 * iteration with a `SourceReadError`; the signal aborting ends it quietly, as `source.read` does.
 */
export async function* readWithRetry(
  source: Source,
  from: Position | undefined,
  readOptions: SourceReadOptions,
  options: RetryOptions,
): AsyncGenerator<readonly SourceRecord[]> {
  const { signal } = readOptions;
  let position = from;
  let iterator: AsyncIterator<readonly SourceRecord[]> | undefined;
  try {
    for (;;) {
      let next: IteratorResult<readonly SourceRecord[]>;
      try {
        next = await retryCall(
          async () => {
            iterator ??= source.read(position, readOptions)[Symbol.asyncIterator]();
            try {
              return await iterator.next();
            } catch (error) {
              // A generator that threw is finished: the next attempt opens a new read from `position`.
              iterator = undefined;
              throw error;
            }
          },
          signal,
          options,
        );
      } catch (error) {
        if (signal.aborted) return;
        throw error instanceof SourceReadError ? error : new SourceReadError(classifySourceError(error), error);
      }
      if (next.done === true) return;
      const chunk = next.value;
      if (chunk.length > 0) position = chunk[chunk.length - 1]!.position;
      yield chunk;
    }
  } finally {
    await iterator?.return?.();
  }
}

/**
 * Calls `operation` until it returns: a failure that `classify` (default `classifySourceError`) says is
 * retryable is tried again after the policy's wait, without limit, reported through `onRetry`; any other failure
 * is thrown as it was; the signal aborting throws its reason. The one retry for what a source reads: a whole
 * read (`readWithRetry`), or one call of a connector's transport (a page of a window), so that a connector
 * resumes where it failed without a retry loop of its own.
 */
export function retryCall<T>(
  operation: () => Promise<T>,
  signal: AbortSignal,
  options: RetryOptions & { readonly classify?: (error: unknown) => SourceFailure },
): Promise<T> {
  const classify = options.classify ?? classifySourceError;
  return retrying(
    async () => {
      try {
        return await operation();
      } catch (error) {
        if (signal.aborted) throw error;
        const failure = classify(error);
        throw failure.retryable ? new Retryable(failure.reason, undefined, failure.code) : error;
      }
    },
    signal,
    options,
    () => 0,
  );
}
