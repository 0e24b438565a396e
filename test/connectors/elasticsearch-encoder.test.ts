// The Elasticsearch bulk encoder and response tables: ids, targets, NDJSON, and every row of the item table.
import { describe, expect, it } from 'vitest';
import { bulkOutcome, ITEM_TABLE, itemAction, parseBulkReply, requestOutcome } from '../../connectors/elasticsearch/classify.ts';
import { bulkBody, documentId, targetOf } from '../../connectors/elasticsearch/encoder.ts';
import { ecsMapping } from '../../mappings/ecs/index.ts';
import { severityOf } from '../../mappings/common/taxonomy.ts';
import { decodeLine } from '../../src/model/decode.ts';
import { encodeValue } from '../../src/delivery/encode.ts';
import type { SinkRecord } from '../../src/contracts/sink.ts';
import { connectEventJson } from '../support/generate.ts';
import { cadfLine } from '../support/cadf-lines.ts';

/** A record as the lane makes it, through the real ECS mapping. */
function recordOf(line: string): SinkRecord {
  const d = decodeLine(line, 'auto');
  if (!d.ok) throw new Error(d.error.reason);
  const m = ecsMapping.map(d.event, { observedTime: '2026-05-12T08:00:00.000000Z' });
  if (m.kind !== 'mapped') throw new Error('not mapped');
  const payload = encodeValue(ecsMapping, m.value);
  return { eventId: d.event.id, eventTime: d.event.time, eventType: d.event.type, severity: severityOf(d.event), value: m.value, payload, bytes: Buffer.byteLength(payload) };
}

describe('elasticsearch encoder', () => {
  it('the _id is the event id; an id longer than 512 bytes is hashed, the same way every time', () => {
    expect(documentId('ae0000000000000000000000rr')).toBe('ae0000000000000000000000rr');
    expect(documentId('é'.repeat(256))).toBe('é'.repeat(256));
    const long = 'x'.repeat(513);
    expect(documentId(long)).toMatch(/^sha256-[0-9a-f]{64}$/);
    expect(documentId(long)).toBe(documentId(long));
    expect(documentId(long)).not.toBe(documentId(`${long}y`));
  });

  it('targets: data streams logs-<dataset>-<namespace> from the document, or an index with the event time', () => {
    const connect = recordOf(JSON.stringify(connectEventJson(3)));
    const cadf = recordOf(cadfLine('t', 1));
    const ds = { kind: 'data-stream', type: 'logs', namespace: 'prod' } as const;
    expect(targetOf(connect, ds)).toBe('logs-cofide.audit-prod');
    expect(targetOf(cadf, ds)).toBe('logs-ibm.cadf_audit-prod');
    expect(targetOf({ ...connect, eventTime: '2026-05-12T07:59:16.123456Z' }, { kind: 'index', pattern: 'audit-{yyyy}.{MM}.{dd}-{HH}' })).toBe('audit-2026.05.12-07');
    expect(targetOf(connect, { kind: 'index', pattern: 'audit' })).toBe('audit');
  });

  it('the bulk body: a create action naming target and _id, then the document, every line ending with a newline', () => {
    const records = [recordOf(JSON.stringify(connectEventJson(1))), recordOf(cadfLine('t', 2))];
    const text = bulkBody(records, { kind: 'data-stream', type: 'logs', namespace: 'default' }).toString('utf8');
    const lines = text.split('\n');
    expect(lines.at(-1)).toBe('');
    expect(lines.slice(0, -1)).toHaveLength(4);
    expect(JSON.parse(lines[0]!)).toEqual({ create: { _index: 'logs-cofide.audit-default', _id: records[0]!.eventId } });
    expect(lines[1]).toBe(records[0]!.payload);
    expect(JSON.parse(lines[2]!)).toEqual({ create: { _index: 'logs-ibm.cadf_audit-default', _id: records[1]!.eventId } });
    expect(lines[3]).toBe(records[1]!.payload);
  });

  it('an event id holding quotes, backslashes or line breaks cannot break the action line', () => {
    const r = { ...recordOf(JSON.stringify(connectEventJson(1))), eventId: 'a"b\\c\nd' };
    const lines = bulkBody([r], { kind: 'index', pattern: 'audit' }).toString('utf8').split('\n');
    expect(lines).toHaveLength(3);
    expect(JSON.parse(lines[0]!)).toEqual({ create: { _index: 'audit', _id: 'a"b\\c\nd' } });
  });
});

describe('elasticsearch item table', () => {
  it.each([
    [{ status: 201 }, 'delivered'],
    [{ status: 200 }, 'delivered'],
    [{ status: 409, errorType: 'version_conflict_engine_exception' }, 'delivered'],
    [{ status: 429, errorType: 'es_rejected_execution_exception' }, 'retry'],
    [{ status: 429, errorType: 'circuit_breaking_exception' }, 'retry'],
    [{ status: 503, errorType: 'unavailable_shards_exception' }, 'retry'],
    [{ status: 500 }, 'retry'],
    [{ status: 400, errorType: 'mapper_parsing_exception' }, 'dead-letter'],
    [{ status: 400, errorType: 'document_parsing_exception' }, 'dead-letter'],
    [{ status: 400, errorType: 'illegal_argument_exception' }, 'dead-letter'],
    [{ status: 409, errorType: 'some_other_conflict' }, 'dead-letter'],
    [{ status: 401, errorType: 'security_exception' }, 'route'],
    [{ status: 403, errorType: 'security_exception' }, 'route'],
    [{ status: 404, errorType: 'index_not_found_exception' }, 'route'],
  ] as const)('%j → %s', (item, action) => {
    expect(itemAction(item).action).toBe(action);
  });

  it('every row of the table is reached by some item', () => {
    const probes = [201, 409, 429, 503, 401, 404, 400, 100].map((status) => ({ status, errorType: status === 409 ? 'version_conflict_engine_exception' : status === 404 ? 'index_not_found_exception' : undefined }));
    const rows = new Set(probes.map((p) => ITEM_TABLE.findIndex((r) => r.test(p as never))));
    expect(rows.size).toBe(ITEM_TABLE.length);
  });

  it('a mixed answer: delivered (201, 409), retried alone (429, 503), dead-lettered with type and reason (400)', () => {
    const body = JSON.stringify({
      took: 3,
      errors: true,
      items: [
        { create: { _index: 'i', _id: 'a', status: 201, result: 'created' } },
        { create: { _index: 'i', _id: 'b', status: 409, error: { type: 'version_conflict_engine_exception', reason: '[b]: version conflict, document already exists (current version [1])' } } },
        { create: { _index: 'i', _id: 'c', status: 429, error: { type: 'es_rejected_execution_exception', reason: 'rejected execution' } } },
        { create: { _index: 'i', _id: 'd', status: 400, error: { type: 'mapper_parsing_exception', reason: 'failed to parse field [source.ip] of type [ip]' } } },
        { create: { _index: 'i', _id: 'e', status: 503, error: { type: 'unavailable_shards_exception', reason: 'primary shard is not active' } } },
      ],
    });
    expect(bulkOutcome(body, 5, 2000)).toEqual({
      status: 'partial',
      failures: [
        { index: 2, status: 'retryable', reason: 'Elasticsearch 429 es_rejected_execution_exception: rejected execution', retryAfterMs: 2000 },
        { index: 3, status: 'rejected', reason: 'Elasticsearch 400 mapper_parsing_exception: failed to parse field [source.ip] of type [ip]' },
        { index: 4, status: 'retryable', reason: 'Elasticsearch 503 unavailable_shards_exception: primary shard is not active', retryAfterMs: 2000 },
      ],
    });
    expect(bulkOutcome(JSON.stringify({ errors: false, items: [{ create: { status: 201 } }] }), 1, undefined)).toEqual({ status: 'delivered' });
  });

  it('an item saying the route cannot work stops it; an answer that is not a bulk answer, or of another length, is not trusted', () => {
    const forbidden = JSON.stringify({ errors: true, items: [{ create: { _index: 'logs-x-default', status: 403, error: { type: 'security_exception', reason: 'action [indices:data/write/bulk[s]] is unauthorized' } } }] });
    expect(bulkOutcome(forbidden, 1, undefined)).toMatchObject({ status: 'rejected', scope: 'sink', reason: expect.stringContaining('create_doc') });
    expect(bulkOutcome('<html>ok</html>', 1, undefined)).toMatchObject({ status: 'retryable', reason: expect.stringContaining('not JSON') });
    expect(bulkOutcome(JSON.stringify({ items: [] }), 1, undefined)).toMatchObject({ status: 'retryable' });
    expect(parseBulkReply('{"items":[{"create":{}}]}')).toBe('an item has no status');
  });

  it('whole-request answers: 413 split, 401/403 stop (credentials), 429/5xx/408 retry with Retry-After, 404 and other 4xx stop', () => {
    const now = Date.now();
    expect(requestOutcome(413, '', undefined, now)).toMatchObject({ status: 'rejected', scope: 'batch' });
    expect(requestOutcome(401, JSON.stringify({ error: { type: 'security_exception', reason: 'unable to authenticate' }, status: 401 }), undefined, now)).toMatchObject({
      status: 'rejected',
      scope: 'sink',
      reason: expect.stringContaining('security_exception: unable to authenticate'),
    });
    expect(requestOutcome(403, '', undefined, now)).toMatchObject({ status: 'rejected', scope: 'sink' });
    expect(requestOutcome(429, '', '7', now)).toMatchObject({ status: 'retryable', retryAfterMs: 7000, reason: expect.stringContaining('Elasticsearch 429') });
    expect(requestOutcome(503, '<html>', undefined, now)).toMatchObject({ status: 'retryable' });
    expect(requestOutcome(408, '', undefined, now)).toMatchObject({ status: 'retryable' });
    expect(requestOutcome(404, '', undefined, now)).toMatchObject({ status: 'rejected', scope: 'sink' });
    expect(requestOutcome(400, JSON.stringify({ error: { type: 'illegal_argument_exception', reason: 'x' } }), undefined, now)).toMatchObject({ status: 'rejected', scope: 'sink' });
  });
});
