// A sink whose outcomes are scripted per call, recording everything it was sent — for engine tests.
import type { SendOutcome } from '../../src/contracts/outcome.ts';
import type { Sink, SinkBatch } from '../../src/contracts/sink.ts';

export interface ScriptedSink extends Sink {
  /** Every batch as sent, by event id. */
  readonly calls: string[][];
  /** Event ids of batches that were answered `delivered` (or the delivered part of a partial). */
  readonly delivered: string[];
  closed: boolean;
}

/**
 * `script(batch, call)` decides each outcome; it may return a promise to hold a send open.
 * Default: everything delivered.
 */
export function scriptedSink(script: (batch: SinkBatch, call: number) => SendOutcome | Promise<SendOutcome> = () => ({ status: 'delivered' })): ScriptedSink {
  const calls: string[][] = [];
  const delivered: string[] = [];
  const sink: ScriptedSink = {
    type: 'scripted',
    name: 'scripted',
    strength: { level: 'acknowledged', detail: 'scripted' },
    calls,
    delivered,
    closed: false,
    async send(batch) {
      const ids = batch.records.map((r) => r.eventId);
      calls.push(ids);
      const outcome = await script(batch, calls.length - 1);
      if (outcome.status === 'delivered') delivered.push(...ids);
      if (outcome.status === 'partial') {
        const failed = new Set(outcome.failures.map((f) => f.index));
        ids.forEach((id, i) => failed.has(i) || delivered.push(id));
      }
      return outcome;
    },
    check: async () => ({ ok: true, detail: 'scripted' }),
    async close() {
      sink.closed = true;
    },
  };
  return sink;
}

export function deferred<T>(): { promise: Promise<T>; resolve: (v: T) => void } {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}
