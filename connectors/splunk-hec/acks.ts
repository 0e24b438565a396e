// Indexer acknowledgement: ack ids of accepted requests, polled in batches until true, timed out, or lost with the channel.
import type { Logger } from '../../src/logging.ts';
import { errorCode } from '../../src/net/errors.ts';
import { ackQueryBody, parseAckReply } from './encoder.ts';
import type { HecResponse } from './transport.ts';

/** How waiting for one request's ack ended. */
export type AckResult =
  | { readonly kind: 'acked' }
  /** No true within `timeoutMs`: the request is sent again (duplicates possible). */
  | { readonly kind: 'timeout'; readonly reason: string }
  /** The id can never turn true (the channel was reset): sent again. */
  | { readonly kind: 'lost'; readonly reason: string }
  /** HEC says the token has no indexer acknowledgement (code 14). */
  | { readonly kind: 'disabled'; readonly reason: string }
  | { readonly kind: 'aborted' };

/** One data request on the channel, from before it is sent until HEC's answer (or its absence) is known. */
export interface PostTicket {
  /** HEC accepted the request with `ackId`: waits for its ack. Call at once when the answer arrives. */
  accepted(ackId: number, signal: AbortSignal): Promise<AckResult>;
  /** An HTTP answer without an ack id (refused, or a token without ack). */
  answered(): void;
  /** No answer (network error, timeout): HEC may have taken the request and given it an id we never saw. */
  unanswered(): void;
}

export interface AckCounters {
  /** Acks that turned true and delivered their batch. */
  acked: number;
  timedOut: number;
  /** Ids HEC handed out a second time on this channel: the channel was reset, and the older request is sent again. */
  channelResets: number;
  /** `true` answers that could not be told apart from a request whose answer was lost (see `poll`). */
  unattributable: number;
}

export interface AckTrackerOptions {
  readonly pollIntervalMs: number;
  readonly timeoutMs: number;
  readonly maxPending: number;
  readonly idsPerPoll: number;
  /** POST /services/collector/ack with this body on the sink's channel. */
  readonly query: (body: string, signal: AbortSignal) => Promise<HecResponse>;
  readonly logger: Logger;
  readonly sink: string;
  readonly now?: () => number;
}

export interface AckTracker {
  /**
   * A slot for one request awaiting its ack (at most `maxPending`): waits while all are taken
   * (backpressure). Resolves with the function that gives the slot back, or rejects with the signal's reason.
   */
  acquire(signal: AbortSignal): Promise<() => void>;
  /** Call just before a data request is sent. */
  begin(): PostTicket;
  readonly counters: Readonly<AckCounters>;
  /** Requests waiting for their acknowledgement now. */
  pending(): number;
  /** Pending waits end as `aborted`; polling stops. */
  close(): void;
}

interface Pending {
  readonly id: number;
  readonly deadline: number;
  readonly settle: (result: AckResult) => void;
}

interface Ticket {
  done: boolean;
  noAnswer: boolean;
  readonly settled: Promise<void>;
  readonly resolve: () => void;
}

/**
 * The rules, because HEC's ack ids are small integers per channel that start again at 0 when Splunk restarts
 * (or evicts an idle channel), and each `true` is given only once (siem-formats.md §1.5):
 * - A `true` is recorded (taken out of the pending table) before anything else happens to it.
 * - A request's id arriving while an older request still waits on the same id means the channel was reset:
 *   the older request's data may be gone, so it is sent again.
 * - A `true` for id k could belong to a request HEC numbered k after a reset but whose answer we have not
 *   read yet. So a poll's `true`s are applied only once every data request that was in flight while the poll
 *   was out has its answer (and the resets it reveals are applied); if one of them got no answer at all, its
 *   id is unknown and the poll's `true`s are not trusted: those batches time out and are sent again.
 */
export function createAckTracker(options: AckTrackerOptions): AckTracker {
  const now = options.now ?? Date.now;
  const pending = new Map<number, Pending>();
  const inflight = new Set<Ticket>();
  /** For each poll in progress, the data requests in flight at any time while it was out. */
  const polls = new Set<Set<Ticket>>();
  const counters: AckCounters = { acked: 0, timedOut: 0, channelResets: 0, unattributable: 0 };
  const stop = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  let polling = false;
  let slotsUsed = 0;
  const slotWaiters: Array<() => void> = [];

  function schedule(): void {
    if (timer !== undefined || polling || stop.signal.aborted || pending.size === 0) return;
    timer = setTimeout(() => {
      timer = undefined;
      polling = true;
      poll()
        .catch((error: unknown) => options.logger.warn({ sink: options.sink, err: error }, 'splunk-hec: polling acks failed'))
        .finally(() => {
          polling = false;
          schedule();
        });
    }, options.pollIntervalMs);
  }

  /** Ends the waits whose deadline had passed at `t` and that are still pending. */
  function expire(t: number): void {
    for (const p of pending.values()) {
      if (p.deadline > t) continue;
      pending.delete(p.id);
      counters.timedOut++;
      p.settle({
        kind: 'timeout',
        reason: `no indexer acknowledgement for ack id ${p.id} within ${options.timeoutMs} ms: the batch is sent again (duplicates possible)`,
      });
    }
  }

  async function poll(): Promise<void> {
    // Deadlines are checked after asking, so a sender held up (CPU, GC) does not resend what is acked by now.
    const asOf = now();
    try {
      await queryAll();
    } finally {
      expire(asOf);
    }
  }

  async function queryAll(): Promise<void> {
    const ids = [...pending.keys()];
    for (let i = 0; i < ids.length && !stop.signal.aborted; i += options.idsPerPoll) {
      const asked = ids.slice(i, i + options.idsPerPoll);
      const observed = new Set(inflight);
      polls.add(observed);
      let res: HecResponse;
      try {
        res = await options.query(ackQueryBody(asked), stop.signal);
      } catch (error) {
        if (!stop.signal.aborted) options.logger.warn({ sink: options.sink, code: errorCode(error), err: error }, 'splunk-hec: ack query got no answer; asking again later');
        return;
      } finally {
        polls.delete(observed);
      }
      if (res.status !== 200) {
        onRefusedQuery(res);
        return;
      }
      let statuses: Map<number, boolean>;
      try {
        statuses = parseAckReply(res.body, asked);
      } catch (error) {
        options.logger.warn({ sink: options.sink, err: error }, 'splunk-hec: unreadable ack answer; asking again later');
        return;
      }
      // HEC has now forgotten these trues: they live only here until applied.
      const trues = asked.filter((id) => statuses.get(id) === true);
      if (trues.length === 0) continue;
      await Promise.all([...observed].map((t) => t.settled));
      if ([...observed].some((t) => t.noAnswer)) {
        counters.unattributable += trues.length;
        options.logger.warn(
          { sink: options.sink, ids: trues },
          'splunk-hec: acks arrived while a request went unanswered; they cannot be attributed safely, so their batches will be sent again after ack.timeout',
        );
        continue;
      }
      for (const id of trues) {
        const p = pending.get(id);
        if (p === undefined) continue;
        pending.delete(id);
        counters.acked++;
        p.settle({ kind: 'acked' });
      }
    }
  }

  function onRefusedQuery(res: HecResponse): void {
    let code: unknown;
    try {
      code = (JSON.parse(res.body) as { code?: unknown }).code;
    } catch {
      code = undefined;
    }
    if (res.status === 400 && code === 14) {
      const reason = 'HEC 400 code 14 "ACK is disabled": the token has no indexer acknowledgement (enable it, or set ack.mode to off)';
      for (const p of pending.values()) p.settle({ kind: 'disabled', reason });
      pending.clear();
      return;
    }
    options.logger.warn({ sink: options.sink, status: res.status, body: res.body.slice(0, 200) }, 'splunk-hec: ack query refused; asking again later');
  }

  function release(): void {
    slotsUsed--;
    slotWaiters.shift()?.();
  }

  return {
    counters,
    pending: () => pending.size,
    acquire(signal) {
      if (signal.aborted) return Promise.reject(signal.reason);
      const take = (): (() => void) => {
        slotsUsed++;
        let given = false;
        return () => {
          if (given) return;
          given = true;
          release();
        };
      };
      if (slotsUsed < options.maxPending) return Promise.resolve(take());
      return new Promise((resolve, reject) => {
        const wake = () => {
          signal.removeEventListener('abort', onAbort);
          resolve(take());
        };
        const onAbort = () => {
          const i = slotWaiters.indexOf(wake);
          if (i >= 0) slotWaiters.splice(i, 1);
          reject(signal.reason);
        };
        slotWaiters.push(wake);
        signal.addEventListener('abort', onAbort, { once: true });
      });
    },
    begin() {
      let resolve!: () => void;
      const settled = new Promise<void>((r) => (resolve = r));
      const ticket: Ticket = { done: false, noAnswer: false, settled, resolve };
      inflight.add(ticket);
      for (const observed of polls) observed.add(ticket);
      const finish = (noAnswer: boolean) => {
        if (ticket.done) return;
        ticket.done = true;
        ticket.noAnswer = noAnswer;
        inflight.delete(ticket);
        ticket.resolve();
      };
      return {
        accepted(ackId, signal) {
          const result = new Promise<AckResult>((settle) => {
            const older = pending.get(ackId);
            if (older !== undefined) {
              counters.channelResets++;
              options.logger.warn({ sink: options.sink, ackId }, 'splunk-hec: HEC gave an ack id again (the channel was reset: Splunk restarted or dropped it); the older batch is sent again');
              older.settle({ kind: 'lost', reason: `HEC reused ack id ${ackId} on this channel (the channel was reset): the batch is sent again (duplicates possible)` });
            }
            const onAbort = () => {
              if (pending.get(ackId)?.settle === done) pending.delete(ackId);
              done({ kind: 'aborted' });
            };
            let ended = false;
            const done = (r: AckResult) => {
              if (ended) return;
              ended = true;
              signal.removeEventListener('abort', onAbort);
              settle(r);
            };
            pending.set(ackId, { id: ackId, deadline: now() + options.timeoutMs, settle: done });
            if (signal.aborted) onAbort();
            else signal.addEventListener('abort', onAbort, { once: true });
          });
          finish(false);
          schedule();
          return result;
        },
        answered: () => finish(false),
        unanswered: () => finish(true),
      };
    },
    close() {
      stop.abort(new Error('closed'));
      if (timer !== undefined) clearTimeout(timer);
      timer = undefined;
      for (const p of pending.values()) p.settle({ kind: 'aborted' });
      pending.clear();
    },
  };
}
