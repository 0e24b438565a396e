// Bodies of HEC requests: a batch of envelopes, ack queries and their answers (gzip: src/net/gzip.ts, by the client). No I/O.
import type { SinkBatch } from '../../src/contracts/sink.ts';
import { jsonLines } from '../../src/delivery/encode.ts';

/**
 * The envelopes of a batch, concatenated with a newline between them: HEC's batch form is envelopes one after
 * the other, no array and no commas (siem-formats.md §1.3). Each payload is one JSON object on one line.
 */
export function batchBody(batch: SinkBatch): Buffer {
  return jsonLines(batch.records);
}

/** `{"acks":[0,1,2]}` (POST /services/collector/ack, §1.5). */
export function ackQueryBody(ids: readonly number[]): string {
  return JSON.stringify({ acks: ids });
}

/**
 * The statuses in `{"acks":{"0":true,"1":false}}`, for the ids asked. Anything missing or not a boolean is
 * `false` (not yet). Throws a TypeError when the body is not that shape at all.
 */
export function parseAckReply(body: string, asked: readonly number[]): Map<number, boolean> {
  const json: unknown = JSON.parse(body);
  const acks = typeof json === 'object' && json !== null ? (json as Record<string, unknown>)['acks'] : undefined;
  if (typeof acks !== 'object' || acks === null || Array.isArray(acks)) throw new TypeError('expected {"acks":{"<id>":true|false}}');
  const table = acks as Record<string, unknown>;
  const out = new Map<number, boolean>();
  for (const id of asked) out.set(id, table[String(id)] === true);
  return out;
}
