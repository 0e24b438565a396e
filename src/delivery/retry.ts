// The retry decorator: wraps a sink so a batch ends delivered, rejected record by record, or stops the route.
import pRetry from 'p-retry';
import type { ItemFailure, SendOutcome } from '../contracts/outcome.ts';
import type { EncodedRecord, Sink, SinkBatch } from '../contracts/sink.ts';
import { type BackoffPolicy, backoffDelay } from './backoff.ts';

/** How one batch ended after every retry. */
export interface DeliveryResult {
  /** Records the destination holds. */
  readonly delivered: number;
  /** Records the destination refused one by one (to dead-letter), with its reason. */
  readonly rejected: ReadonlyArray<{ readonly record: EncodedRecord; readonly reason: string }>;
  /** Set when the sink itself is unusable: the route must stop; nothing of this batch may be committed. */
  readonly fatal?: string;
  /** Set when the send was abandoned through the signal: nothing of this batch may be committed. */
  readonly aborted?: boolean;
}

export interface RetryEvent {
  readonly attempt: number;
  readonly delayMs: number;
  readonly reason: string;
  readonly records: number;
}

export interface RetryOptions {
  readonly policy: BackoffPolicy;
  /** Called before each wait, so the route reports that it keeps trying. */
  readonly onRetry?: (event: RetryEvent) => void;
  readonly random?: () => number;
}

class RetryableSend extends Error {
  readonly retryAfterMs: number | undefined;
  constructor(reason: string, retryAfterMs: number | undefined) {
    super(reason);
    this.retryAfterMs = retryAfterMs;
  }
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

function batchOf(records: readonly EncodedRecord[]): SinkBatch {
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
 * - An aborted signal ends it with `aborted`. A sink that throws is a bug: the error propagates.
 */
export async function deliverWithRetry(sink: Sink, batch: SinkBatch, signal: AbortSignal, options: RetryOptions): Promise<DeliveryResult> {
  const rejected: Array<{ record: EncodedRecord; reason: string }> = [];
  let delivered = 0;
  // Sub-batches still to send, in order; the first is the one being sent.
  const queue: (readonly EncodedRecord[])[] = [batch.records];

  const attemptFirst = async (): Promise<SendOutcome> => {
    const outcome = await untilAborted(sink.send(batchOf(queue[0]!), signal), signal);
    if (outcome.status === 'retryable') throw new RetryableSend(outcome.reason, outcome.retryAfterMs);
    if (outcome.status === 'partial') {
      const current = queue[0]!;
      const retry: EncodedRecord[] = [];
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
        throw new RetryableSend(`${retry.length} record(s) to resend: ${retryReason}`, retryAfterMs);
      }
    }
    return outcome;
  };

  while (queue.length > 0) {
    let outcome: SendOutcome;
    try {
      outcome = await pRetry(attemptFirst, {
        retries: Number.POSITIVE_INFINITY,
        minTimeout: 0,
        maxTimeout: 0,
        randomize: false,
        signal,
        shouldRetry: ({ error }) => error instanceof RetryableSend,
        onFailedAttempt: async ({ error, attemptNumber }) => {
          if (!(error instanceof RetryableSend)) return;
          const delayMs = backoffDelay(options.policy, attemptNumber, error.retryAfterMs, options.random);
          options.onRetry?.({ attempt: attemptNumber, delayMs, reason: error.message, records: queue[0]!.length });
          await sleep(delayMs, signal);
        },
      });
    } catch (error) {
      if (signal.aborted) return { delivered, rejected, aborted: true };
      throw error;
    }
    const current = queue.shift()!;
    if (outcome.status === 'delivered') delivered += current.length;
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
