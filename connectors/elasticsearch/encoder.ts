// Bodies of Elasticsearch requests: a batch as `_bulk` NDJSON with `create` actions, the document ids and targets. No I/O.
import { createHash } from 'node:crypto';
import type { SinkRecord } from '../../src/contracts/sink.ts';
import { Utf8Body } from '../../src/delivery/encode.ts';

/** The longest `_id` Elasticsearch accepts is 512 bytes; a longer event id is hashed (see `documentId`). */
const MAX_ID_BYTES = 512;

/**
 * The document `_id` of an event: the event id itself (Connect's `ae…`, a CADF record's `id`, or the id the
 * decoder derived from the record's content), so that a document is found by the id every format carries; an id
 * longer than Elasticsearch allows (512 bytes) becomes `sha256-` and the hex SHA-256 of its UTF-8 bytes. Stable
 * across releases: a resent event always has the same `_id`, and `create` makes the resend a 409, not a copy.
 */
export function documentId(eventId: string): string {
  if (Buffer.byteLength(eventId) <= MAX_ID_BYTES) return eventId;
  return `sha256-${createHash('sha256').update(eventId, 'utf8').digest('hex')}`;
}

/** Where documents go: data streams named from their dataset, or an index name (a date pattern allowed). */
export type Target =
  | { readonly kind: 'data-stream'; readonly type: string; readonly namespace: string }
  | { readonly kind: 'index'; readonly pattern: string };

const DATE_PART = /\{(yyyy|MM|dd|HH)\}/g;

/**
 * The index or data stream of one record:
 * - a data stream `<type>-<dataset>-<namespace>`, with the document's `event.dataset` (the ECS mapping's: by
 *   default `cofide.audit` or `ibm.cadf_audit`, or the route's `ecsDataset`), so `event.dataset` equals
 *   `data_stream.dataset` as ECS asks;
 * - an index name, where `{yyyy}`, `{MM}`, `{dd}` and `{HH}` are the event's time in UTC (`audit-{yyyy}.{MM}`).
 */
export function targetOf(record: SinkRecord, target: Target): string {
  if (target.kind === 'index') {
    const t = record.eventTime;
    const parts: Record<string, string> = { yyyy: t.slice(0, 4), MM: t.slice(5, 7), dd: t.slice(8, 10), HH: t.slice(11, 13) };
    return target.pattern.replace(DATE_PART, (_, p: string) => parts[p]!);
  }
  const value = record.value as { event?: { dataset?: unknown } } | undefined;
  const dataset = typeof value?.event?.dataset === 'string' ? value.event.dataset : 'generic';
  return `${target.type}-${dataset}-${target.namespace}`;
}

/**
 * The `_bulk` body of a batch: for each record a `create` action line naming its target and `_id`, then the
 * document (the record's payload, one JSON line), every line ending with `\n` (siem-formats.md §2.1). `create`
 * is the only action a data stream accepts, and it never overwrites.
 */
export function bulkBody(records: readonly SinkRecord[], target: Target): Buffer {
  // The action lines first, to size the body exactly (the payloads know their byte counts): no copy of the body.
  const actions = new Array<string>(records.length);
  let size = 0;
  for (let i = 0; i < records.length; i++) {
    const r = records[i]!;
    const action = `{"create":{"_index":${JSON.stringify(targetOf(r, target))},"_id":${JSON.stringify(documentId(r.eventId))}}}\n`;
    actions[i] = action;
    size += Buffer.byteLength(action, 'utf8') + r.bytes + 1;
  }
  const body = new Utf8Body(size);
  for (let i = 0; i < records.length; i++) body.add(actions[i]!).add(records[i]!.payload).add('\n');
  return body.bytes();
}
