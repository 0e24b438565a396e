// The `elasticsearch` reconciliation queries: bodies, targets and answers (pure), then against the fake Elasticsearch on a real socket.
import { afterEach, describe, expect, it } from 'vitest';
import { connectors } from '../../connectors/index.ts';
import { QUERY_TABLE, queryKeys, queryRow, queryStatusError } from '../../connectors/elasticsearch/classify.ts';
import { elasticsearchSinkSchema, type ElasticsearchSinkConfig } from '../../connectors/elasticsearch/config.ts';
import {
  countsBody,
  IDS_PAGE_SIZE,
  idsBody,
  parseCounts,
  parseIdsPage,
  queryTargets,
  SearchAnswerError,
  splitRange,
  windowCountsOf,
} from '../../connectors/elasticsearch/query.ts';
import { createElasticsearchSink } from '../../connectors/elasticsearch/sink.ts';
import { severityOf } from '../../mappings/common/taxonomy.ts';
import { ecsMapping } from '../../mappings/ecs/index.ts';
import type { SinkConnector } from '../../src/contracts/connector.ts';
import type { SinkRecord } from '../../src/contracts/sink.ts';
import type { SinkQuery, SinkQueryScope } from '../../src/contracts/sink-query.ts';
import { encodeValue } from '../../src/delivery/encode.ts';
import { silentLogger } from '../../src/logging.ts';
import type { AuditEvent } from '../../src/model/audit-event.ts';
import { cadfEvent, connectEvent } from '../support/events.ts';
import { startFakeElasticsearch, type FakeElasticsearch, type FakeElasticsearchOptions } from '../support/fake-elasticsearch.ts';

const context = { logger: silentLogger(), baseDir: '/' };
const signal = new AbortController().signal;
const MINUTE = 60_000;
const T = (hhmmss: string): string => `2026-01-02T${hhmmss}Z`;
const range = { from: T('03:04:00.000000'), to: T('03:08:00.000000') };
const win = (from: string, to: string, count: number) => ({ from: T(`${from}:00.000000`), to: T(`${to}:00.000000`), count });
const SUPER_KEY = Buffer.from('superkey:superkey-secret').toString('base64');

function config(url: string, extra: Record<string, unknown> = {}): ElasticsearchSinkConfig {
  return elasticsearchSinkSchema.parse({ type: 'elasticsearch', url, auth: { apiKey: SUPER_KEY }, ...extra });
}

// ---- pure ----

describe('request bodies and targets', () => {
  it('counts: a range on @timestamp and a fixed-interval date histogram of non-empty windows', () => {
    expect(countsBody(range, MINUTE)).toEqual({
      size: 0,
      query: { range: { '@timestamp': { gte: range.from, lt: range.to } } },
      aggs: { w: { date_histogram: { field: '@timestamp', fixed_interval: '60000ms', min_doc_count: 1 } } },
    });
    expect(() => countsBody(range, 0)).toThrow(TypeError);
  });

  it('ids: a composite terms aggregation on event.id, a page at a time, after the last key', () => {
    const composite = { size: IDS_PAGE_SIZE, sources: [{ id: { terms: { field: 'event.id' } } }] };
    expect(idsBody(range)).toEqual({ size: 0, query: { range: { '@timestamp': { gte: range.from, lt: range.to } } }, aggs: { ids: { composite } } });
    expect((idsBody(range, 'ae9') as { aggs: { ids: { composite: { after: unknown } } } }).aggs.ids.composite.after).toEqual({ id: 'ae9' });
  });

  it('targets are concrete names: the data stream of each origin (or the route dataset), or each dated index of the range', () => {
    const c = config('https://es:9200');
    expect(queryTargets(c, { mappingOptions: {}, origin: 'cofide-connect' }, range)).toEqual([{ name: 'logs-cofide.audit-default', range }]);
    expect(queryTargets(c, { mappingOptions: { esNamespace: 'prod' }, origin: 'mixed' }, range).map((t) => t.name)).toEqual(['logs-cofide.audit-prod', 'logs-ibm.cadf_audit-prod']);
    expect(queryTargets(c, { mappingOptions: { ecsDataset: 'acme.audit' }, origin: 'mixed' }, range).map((t) => t.name)).toEqual(['logs-acme.audit-default']);
    expect(queryTargets(config('https://es:9200', { index: 'audit' }), { mappingOptions: {}, origin: 'mixed' }, range)).toEqual([{ name: 'audit', range }]);
    const daily = queryTargets(c, { mappingOptions: { esIndex: 'audit-{yyyy}.{MM}.{dd}' }, origin: 'ibm-cadf' }, { from: '2025-12-31T22:00:00.000000Z', to: '2026-01-02T01:30:00.000000Z' });
    expect(daily).toEqual([
      { name: 'audit-2025.12.31', range: { from: '2025-12-31T22:00:00.000000Z', to: '2026-01-01T00:00:00.000000Z' } },
      { name: 'audit-2026.01.01', range: { from: '2026-01-01T00:00:00.000000Z', to: '2026-01-02T00:00:00.000000Z' } },
      { name: 'audit-2026.01.02', range: { from: '2026-01-02T00:00:00.000000Z', to: '2026-01-02T01:30:00.000000Z' } },
    ]);
    const monthly = queryTargets(config('https://es:9200', { index: 'a-{yyyy}-{MM}' }), { mappingOptions: {}, origin: 'cofide-connect' }, { from: '2026-01-31T00:00:00.000000Z', to: '2026-03-01T00:00:00.000000Z' });
    expect(monthly.map((t) => t.name)).toEqual(['a-2026-01', 'a-2026-02']);
  });

  it('a long range is asked in pieces of at most so many windows', () => {
    expect(splitRange(range, MINUTE, 3)).toEqual([
      { from: T('03:04:00.000000'), to: T('03:07:00.000000') },
      { from: T('03:07:00.000000'), to: T('03:08:00.000000') },
    ]);
    expect(splitRange(range, MINUTE, 10)).toEqual([range]);
  });
});

describe('search answers', () => {
  const answer = (aggs: unknown, extra: Record<string, unknown> = {}) => JSON.stringify({ timed_out: false, _shards: { total: 1, successful: 1, skipped: 0, failed: 0 }, aggregations: aggs, ...extra });

  it('reads histogram buckets and composite pages; the last page is the short one', () => {
    expect(parseCounts(answer({ w: { buckets: [{ key_as_string: 'x', key: 1767323040000, doc_count: 3 }] } }))).toEqual([{ key: 1767323040000, count: 3 }]);
    const full = Array.from({ length: IDS_PAGE_SIZE }, (_, i) => ({ key: { id: `e${i}` }, doc_count: 1 }));
    expect(parseIdsPage(answer({ ids: { after_key: { id: 'e999' }, buckets: full } })).after).toBe('e999');
    expect(parseIdsPage(answer({ ids: { after_key: { id: 'b' }, buckets: [{ key: { id: 'a' }, doc_count: 1 }, { key: { id: 'b' }, doc_count: 2 }] } }))).toEqual({ ids: ['a', 'b'], after: undefined });
    expect(parseIdsPage(answer({ ids: { buckets: [] } }))).toEqual({ ids: [], after: undefined });
  });

  it('partial results (failed shards, a timeout) are incomplete; anything not the aggregation asked for is bad', () => {
    expect(() => parseCounts(answer({ w: { buckets: [] } }, { timed_out: true }))).toThrow(expect.objectContaining({ kind: 'incomplete' }));
    expect(() => parseCounts(answer({ w: { buckets: [] } }, { _shards: { total: 2, failed: 1, failures: [{ reason: { type: 'node_disconnected_exception', reason: 'gone' } }] } }))).toThrow(
      expect.objectContaining({ kind: 'incomplete', message: expect.stringContaining('node_disconnected_exception: gone') }),
    );
    for (const bad of ['<html>', answer({}), answer({ w: { buckets: [{ key: 'x', doc_count: 1 }] } })]) expect(() => parseCounts(bad)).toThrow(SearchAnswerError);
    expect(() => parseIdsPage(answer({ ids: { buckets: [{ key: { other: 'a' } }] } }))).toThrow(expect.objectContaining({ kind: 'bad' }));
  });

  it('windows are summed bucket counts inside the range, in time order', () => {
    const counts = new Map([
      [1767323160000, 2],
      [1767323040000, 3],
      [1767323280000, 9],
    ]);
    expect(windowCountsOf(counts, MINUTE, range)).toEqual([win('03:04', '03:05', 3), win('03:06', '03:07', 2)]);
  });

  it('the query table: a missing target is empty, 401/403/400 permanent with what to check, 5xx/429 retryable', () => {
    const keys = queryKeys('es');
    const error = (type: string) => JSON.stringify({ error: { type, reason: 'r' }, status: 0 });
    expect(queryRow(404, error('index_not_found_exception')).action).toBe('empty');
    expect(queryRow(404, '').action).toBe('permanent');
    const cases: Array<[number, string, string]> = [
      [401, 'FWD_SINK_PERMANENT', 'check sinks.es.auth'],
      [403, 'FWD_SINK_PERMANENT', '`read` index privilege on logs-x'],
      [400, 'FWD_SINK_PERMANENT', '`event.id` as a keyword'],
      [429, 'FWD_SINK_IO', 'HTTP 429'],
      [503, 'FWD_SINK_IO', 'HTTP 503'],
      [409, 'FWD_SINK_PERMANENT', 'HTTP 409'],
    ];
    for (const [status, code, words] of cases) {
      const e = queryStatusError(status, error('some_exception'), 'https://es:9200', keys, 'logs-x');
      expect(e, String(status)).toMatchObject({ code, disposition: code === 'FWD_SINK_IO' ? 'retryable' : 'permanent' });
      expect(e.message, String(status)).toContain(words);
      expect(e.message).toContain('https://es:9200');
    }
    expect(QUERY_TABLE.at(-1)!.action).toBe('permanent');
  });
});

// ---- against the fake ----

function recordOf(event: AuditEvent, options: Record<string, string> = {}): SinkRecord {
  const m = ecsMapping.map(event, { observedTime: '2026-05-12T08:00:00.000000Z', ...options });
  if (m.kind !== 'mapped') throw new Error(`not mapped: ${JSON.stringify(m)}`);
  const payload = encodeValue(ecsMapping, m.value);
  return { eventId: event.id, eventTime: event.time, eventType: event.type, severity: severityOf(event), value: m.value, payload, bytes: Buffer.byteLength(payload) };
}

const ev = (id: string, time: string, kind: 'connect' | 'cadf' = 'connect'): AuditEvent => (kind === 'connect' ? connectEvent({ id, time }) : cadfEvent({ id, time }));

const EVENTS = {
  before: ev('e0', T('03:03:59.999999')),
  w0: [ev('e1', T('03:04:00.000000')), ev('e2', T('03:04:30.500000')), ev('e3', T('03:04:59.999999'))],
  w2: [ev('e4', T('03:06:10.250000')), ev('e5', T('03:06:20.000000'))],
  w3: [ev('e6', T('03:07:00.000001'))],
  atTo: ev('e7', T('03:08:00.000000')),
};

describe('elasticsearch query against the fake Elasticsearch', () => {
  const fakes: FakeElasticsearch[] = [];
  const closing: Array<{ close(): Promise<void> }> = [];
  afterEach(async () => {
    for (const c of closing.splice(0)) await c.close();
    for (const f of fakes.splice(0)) await f.close();
  });
  const fake = async (options: FakeElasticsearchOptions = {}) => {
    const f = await startFakeElasticsearch(options);
    fakes.push(f);
    return f;
  };

  async function queryOf(c: ElasticsearchSinkConfig, name = 'es'): Promise<SinkQuery> {
    const connector = connectors.sinks.get('elasticsearch') as unknown as SinkConnector<ElasticsearchSinkConfig>;
    await connector.load!();
    const q = connector.query!(name, c, context);
    closing.push(q);
    return q;
  }

  async function send(c: ElasticsearchSinkConfig, routeOptions: Record<string, string>, ...batches: AuditEvent[][]): Promise<void> {
    const sink = createElasticsearchSink('es', c, { ...context, route: { name: 'r', mappingOptions: routeOptions } });
    try {
      for (const events of batches) {
        const records = events.map((e) => recordOf(e, routeOptions));
        expect(await sink.send({ records, bytes: records.reduce((n, r) => n + r.bytes, 0) }, signal)).toEqual({ status: 'delivered' });
      }
    } finally {
      await sink.close();
    }
  }

  const scope: SinkQueryScope = { mappingOptions: {}, origin: 'cofide-connect' };

  it('counts documents per window (a resend is a 409, not a copy; the event at `to` out), lists a window’s ids, and sees deletions', async () => {
    const f = await fake();
    const c = config(f.url);
    const all = [EVENTS.before, ...EVENTS.w0, ...EVENTS.w2, ...EVENTS.w3, EVENTS.atTo];
    await send(c, {}, all, [EVENTS.w0[1]!, EVENTS.w2[0]!]);
    // Another route's events, in another namespace.
    await send(c, { esNamespace: 'other' }, [ev('x1', T('03:04:10.000000'))]);
    expect(f.documentIds('logs-cofide.audit-default')).toHaveLength(all.length);

    const q = await queryOf(c);
    expect(await q.countByWindow(range, MINUTE, scope, signal)).toEqual([win('03:04', '03:05', 3), win('03:06', '03:07', 2), win('03:07', '03:08', 1)]);
    expect((await q.eventIds({ from: T('03:04:00.000000'), to: T('03:05:00.000000') }, scope, signal)).sort()).toEqual(['e1', 'e2', 'e3']);
    expect(await q.eventIds({ from: T('03:05:00.000000'), to: T('03:06:00.000000') }, scope, signal)).toEqual([]);

    expect(f.deleteDocuments(['e2', 'e4', 'nope'])).toBe(2);
    expect(await q.countByWindow(range, MINUTE, scope, signal)).toEqual([win('03:04', '03:05', 2), win('03:06', '03:07', 1), win('03:07', '03:08', 1)]);
    expect((await q.eventIds(range, scope, signal)).sort()).toEqual(['e1', 'e3', 'e5', 'e6']);

    const searches = f.requests().filter((r) => r.path.endsWith('/_search'));
    expect(searches.every((r) => r.method === 'POST' && r.path === '/logs-cofide.audit-default/_search' && r.status === 200 && r.authScheme === 'apiKey')).toBe(true);
    expect(searches.every((r) => Object.keys(r.query).length === 0)).toBe(true);
    await q.close();
    await q.close();
  });

  it('a mixed route sums both data streams; a target never written to holds nothing (404 is empty)', async () => {
    const f = await fake();
    const c = config(f.url);
    await send(c, {}, [ev('c1', T('03:04:01.000000')), ev('k1', T('03:04:02.000000'), 'cadf'), ev('k2', T('03:06:02.000000'), 'cadf')]);
    const q = await queryOf(c);
    expect(await q.countByWindow(range, MINUTE, { mappingOptions: {}, origin: 'mixed' }, signal)).toEqual([win('03:04', '03:05', 2), win('03:06', '03:07', 1)]);
    expect((await q.eventIds(range, { mappingOptions: {}, origin: 'mixed' }, signal)).sort()).toEqual(['c1', 'k1', 'k2']);
    expect(await q.countByWindow(range, MINUTE, { mappingOptions: { esNamespace: 'never' }, origin: 'mixed' }, signal)).toEqual([]);
    expect(await q.eventIds(range, { mappingOptions: { esNamespace: 'never' }, origin: 'mixed' }, signal)).toEqual([]);
  });

  it('dated indices: each index is asked for its own period, and a window across two of them adds both up', async () => {
    const f = await fake();
    const c = config(f.url, { index: 'audit-{yyyy}.{MM}.{dd}' });
    await send(c, {}, [ev('d1', '2026-01-01T23:59:30.000000Z'), ev('d2', '2026-01-02T00:00:00.000000Z'), ev('d3', '2026-01-02T00:01:59.000000Z'), ev('d4', '2026-01-02T00:02:00.000000Z')]);
    expect(f.indices()).toEqual(['audit-2026.01.01', 'audit-2026.01.02']);
    const q = await queryOf(c);
    // 7-minute windows on the epoch: 23:55 to 00:02 holds midnight, so both days' indices.
    const span = { from: '2026-01-01T23:55:00.000000Z', to: '2026-01-02T00:02:00.000000Z' };
    expect(await q.countByWindow(span, 7 * MINUTE, scope, signal)).toEqual([{ ...span, count: 3 }]);
    expect((await q.eventIds(span, scope, signal)).sort()).toEqual(['d1', 'd2', 'd3']);
    const asked = f.requests().filter((r) => r.path.endsWith('/_search')).map((r) => r.path);
    expect(asked).toEqual(['/audit-2026.01.01/_search', '/audit-2026.01.02/_search', '/audit-2026.01.01/_search', '/audit-2026.01.02/_search']);
  });

  it('more ids than a page: the composite aggregation is followed page by page', async () => {
    const f = await fake();
    const c = config(f.url);
    const many = Array.from({ length: IDS_PAGE_SIZE + 150 }, (_, i) => ev(`p${String(i).padStart(5, '0')}`, `2026-01-02T03:04:${String(i % 60).padStart(2, '0')}.${String(i).padStart(6, '0')}Z`));
    await send(c, {}, many);
    const q = await queryOf(c);
    const ids = await q.eventIds(range, scope, signal);
    expect(ids).toHaveLength(many.length);
    expect(new Set(ids)).toEqual(new Set(many.map((e) => e.id)));
    expect(f.requests().filter((r) => r.path.endsWith('/_search'))).toHaveLength(2);
    expect(await q.countByWindow(range, MINUTE, scope, signal)).toEqual([win('03:04', '03:05', many.length)]);
  });

  it('credentials refused (401) or without read privilege (403) reject FWD_SINK_PERMANENT naming the URL and the fix, never the secret', async () => {
    const f = await fake({
      users: [
        { username: 'elastic', password: 'changeme', apiKey: { id: 'superkey', key: 'superkey-secret' }, roles: ['superuser'], cluster: ['all'], indices: [{ names: ['*'], privileges: ['all'] }] },
        { username: 'writer', password: 'writer-secret-pw', roles: ['writer'], indices: [{ names: ['logs-*'], privileges: ['create_doc', 'auto_configure'] }] },
      ],
    });
    await send(config(f.url), {}, EVENTS.w0);
    const wrong = await queryOf(config(f.url, { auth: { username: 'elastic', password: 'not-the-password' } }));
    const refused = await wrong.countByWindow(range, MINUTE, scope, signal).then(() => undefined, (e: unknown) => e);
    expect(refused).toMatchObject({ code: 'FWD_SINK_PERMANENT', disposition: 'permanent', stage: 'sink', message: expect.stringContaining('HTTP 401') });
    expect((refused as Error).message).toContain(f.url);
    expect((refused as Error).message).toContain('sinks.es.auth');
    expect((refused as Error).message).not.toContain('not-the-password');

    const writer = await queryOf(config(f.url, { auth: { username: 'writer', password: 'writer-secret-pw' } }));
    const forbidden = await writer.eventIds(range, scope, signal).then(() => undefined, (e: unknown) => e);
    expect(forbidden).toMatchObject({ code: 'FWD_SINK_PERMANENT', message: expect.stringMatching(/HTTP 403: security_exception: .*`read` index privilege on logs-cofide\.audit-default/) });
    expect((forbidden as Error).message).not.toContain('writer-secret-pw');
  });

  it('unreachable rejects FWD_SINK_IO (retryable); an aborted query rejects with the signal’s reason', async () => {
    const f = await fake();
    const q = await queryOf(config(f.url));
    await f.stop();
    await expect(q.countByWindow(range, MINUTE, scope, signal)).rejects.toMatchObject({ code: 'FWD_SINK_IO', disposition: 'retryable', message: expect.stringContaining('ECONNREFUSED') });
    const aborted = new AbortController();
    const reason = new Error('stop now');
    aborted.abort(reason);
    await expect(q.eventIds(range, scope, aborted.signal)).rejects.toBe(reason);
  });

  it('the fake answers these two aggregations only, and a range to the nanosecond', async () => {
    const f = await fake();
    await send(config(f.url), {}, EVENTS.w0);
    const search = async (body: unknown) => {
      const res = await fetch(`${f.url}/logs-cofide.audit-default/_search`, {
        method: 'POST',
        headers: { authorization: `ApiKey ${SUPER_KEY}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      return { status: res.status, json: (await res.json()) as { error?: { type: string }; aggregations?: Record<string, { buckets: unknown[] }> } };
    };
    const justBefore = await search(countsBody({ from: T('03:04:00.000000'), to: T('03:04:59.999999') }, MINUTE));
    expect(justBefore.json.aggregations!.w!.buckets).toEqual([{ key_as_string: '2026-01-02T03:04:00.000Z', key: 1767323040000, doc_count: 2 }]);
    for (const aggs of [{ n: { cardinality: { field: 'event.id' } } }, { w: { date_histogram: { field: '@timestamp', calendar_interval: '1m' } } }, { ids: { composite: { sources: [{ a: { terms: { field: 'x' } } }, { b: { terms: { field: 'y' } } }] } } }]) {
      const refused = await search({ size: 0, aggs });
      expect(refused.status, JSON.stringify(aggs)).toBe(400);
      expect(refused.json.error!.type).toBe('parsing_exception');
    }
  });

  it('a cluster that answers 503 rejects FWD_SINK_IO', async () => {
    const f = await fake();
    await send(config(f.url), {}, EVENTS.w0);
    const q = await queryOf(config(f.url));
    f.failNext(1, 503, undefined, { scope: 'any' });
    await expect(q.countByWindow(range, MINUTE, scope, signal)).rejects.toMatchObject({ code: 'FWD_SINK_IO', disposition: 'retryable', message: expect.stringContaining('cluster_block_exception') });
    expect(await q.countByWindow(range, MINUTE, scope, signal)).toEqual([win('03:04', '03:05', 3)]);
  });
});
