// The elasticsearch sink against the fake Elasticsearch/OpenSearch on a real socket: conformance, every row of the item table, idempotency, check and setup.
import { afterEach, describe, expect, it } from 'vitest';
import { elasticsearchSinkSchema, type ElasticsearchSinkConfig } from '../../connectors/elasticsearch/config.ts';
import { createElasticsearchSink, templateName } from '../../connectors/elasticsearch/sink.ts';
import { DEFAULT_PRIORITY } from '../../connectors/elasticsearch/template.ts';
import { ecsMapping } from '../../mappings/ecs/index.ts';
import type { Mapping } from '../../src/contracts/mapping.ts';
import type { SinkBatch } from '../../src/contracts/sink.ts';
import { deliverWithRetry } from '../../src/delivery/retry.ts';
import { silentLogger } from '../../src/logging.ts';
import { tlsFixture } from '../support/connect-server.ts';
import { startFakeElasticsearch, type FakeElasticsearch, type FakeElasticsearchOptions } from '../support/fake-elasticsearch.ts';
import { describeSinkConformance, testBatch, type SinkSubject } from '../support/sink-conformance.ts';

const context = { logger: silentLogger(), baseDir: '/' };
const never = new AbortController().signal;
const fastRetry = { initialDelayMs: 1, maxDelayMs: 2 };
const fakes: FakeElasticsearch[] = [];
afterEach(async () => {
  for (const f of fakes.splice(0)) await f.close();
});

async function fake(options: FakeElasticsearchOptions = {}): Promise<FakeElasticsearch> {
  const f = await startFakeElasticsearch(options);
  fakes.push(f);
  return f;
}

function esConfig(url: string, extra: Record<string, unknown> = {}): ElasticsearchSinkConfig {
  return elasticsearchSinkSchema.parse({ type: 'elasticsearch', url, auth: { apiKey: Buffer.from('superkey:superkey-secret').toString('base64') }, ...extra });
}

/** A conformance test record as an ECS-like document a data stream accepts (it needs @timestamp). */
const ecsLike = (body: string): string => JSON.stringify({ '@timestamp': '2026-05-12T07:59:16.000000Z', event: { dataset: 'cofide.audit', id: (JSON.parse(body) as { id: string }).id }, test: JSON.parse(body) });
const idOfDoc = (payload: string) => (JSON.parse(payload) as { event: { id: string } }).event.id;

describeSinkConformance('elasticsearch (data streams, API key, gzip)', {
  holds: 'records',
  failures: ['retryable', 'retry-after', 'record'],
  checkProbes: true,
  strength: 'acknowledged',
  refuses: 'item',
  record: ecsLike,
  mapping: ecsMapping as Mapping,
  eventIdOf: idOfDoc,
  async create(): Promise<SinkSubject> {
    const f = await startFakeElasticsearch();
    return {
      sink: createElasticsearchSink('es', esConfig(f.url), context),
      held: () => Promise.resolve(f.documents().map((d) => d.text)),
      provoke: (p) => {
        if (p.kind === 'retryable') f.failNext(1, 503);
        else if (p.kind === 'retry-after') f.failNext(1, 429, undefined, { retryAfterSec: p.retryAfterMs / 1000 });
        else if (p.kind === 'record') f.refuseDocument((item) => item.id === p.eventId);
      },
      dispose: () => f.close(),
    };
  },
  async createUnusable(): Promise<SinkSubject> {
    const f = await startFakeElasticsearch();
    return { sink: createElasticsearchSink('es', esConfig(f.url, { auth: { username: 'elastic', password: 'wrong' } }), context), dispose: () => f.close() };
  },
});

const batchOf = (n: number, tag = 1): SinkBatch => testBatch(tag, n, 0, ecsLike);

describe('elasticsearch sink', () => {
  it('every row of the item table in one answer: 201 and 409 delivered, 429 and 503 retried alone, 400 dead-lettered with its type and reason', async () => {
    const f = await fake();
    const sink = createElasticsearchSink('es', esConfig(f.url), context);
    const batch = batchOf(6);
    // Already there: a resend of document 0 (a crash after the cluster took it).
    expect(await sink.send({ records: [batch.records[0]!], bytes: batch.records[0]!.bytes }, never)).toEqual({ status: 'delivered' });
    const ids = batch.records.map((r) => r.eventId);
    f.rejectItems((item) => item.id === ids[2], 429, 'es_rejected_execution_exception', 'rejected execution of coordinating operation');
    f.rejectItems((item) => item.id === ids[3], 503, 'unavailable_shards_exception', 'primary shard is not active');
    f.refuseDocument((item) => item.id === ids[4], { field: 'source.ip', type: 'document_parsing_exception', reason: "failed to parse field [source.ip] of type [ip]" });
    const outcome = await sink.send(batch, never);
    expect(outcome).toEqual({
      status: 'partial',
      failures: [
        { index: 2, status: 'retryable', reason: expect.stringContaining('429 es_rejected_execution_exception') },
        { index: 3, status: 'retryable', reason: expect.stringContaining('503 unavailable_shards_exception') },
        { index: 4, status: 'rejected', reason: expect.stringContaining('document_parsing_exception') },
      ],
    });
    // Through the retry decorator the retried items go alone, and the batch ends.
    const result = await deliverWithRetry(sink, batchOf(6, 2), never, { policy: fastRetry });
    expect(result.delivered).toBe(6);
    await sink.close();
    const held = f.documentIds();
    for (const id of [ids[0], ids[1], ids[5]]) expect(held.filter((h) => h === id)).toHaveLength(1);
  });

  it('a resent batch never duplicates a document: _id is the event id and create answers 409, counted delivered', async () => {
    const f = await fake();
    const sink = createElasticsearchSink('es', esConfig(f.url), context);
    const batch = batchOf(20);
    for (let i = 0; i < 3; i++) expect(await sink.send(batch, never)).toEqual({ status: 'delivered' });
    await sink.close();
    expect([...f.documentIds()].sort()).toEqual(batch.records.map((r) => r.eventId).sort());
    expect(f.requests().filter((r) => r.path === '/_bulk').map((r) => r.failedItems)).toEqual([0, 20, 20]);
  });

  it('writes data streams named from the document (create only), gzip on the wire, the pipeline when configured', async () => {
    const f = await fake({ pipelines: ['audit-enrich'] });
    const sink = createElasticsearchSink('es', esConfig(f.url, { namespace: 'prod', pipeline: 'audit-enrich' }), context);
    const cadfLike = JSON.stringify({ '@timestamp': '2026-05-12T07:59:16.000000Z', event: { dataset: 'ibm.cadf_audit', id: 'cadf-1' } });
    const batch = batchOf(2);
    const records = [...batch.records, { ...batch.records[0]!, eventId: 'cadf-1', payload: cadfLike, value: JSON.parse(cadfLike) as unknown, bytes: cadfLike.length }];
    expect(await sink.send({ records, bytes: 0 }, never)).toEqual({ status: 'delivered' });
    await sink.close();
    expect(f.dataStreams().map((d) => d.name).sort()).toEqual(['logs-cofide.audit-prod', 'logs-ibm.cadf_audit-prod']);
    const bulk = f.requests().find((r) => r.path === '/_bulk')!;
    expect(bulk.contentEncoding).toBe('gzip');
    expect(bulk.pipeline).toBe('audit-enrich');
    expect(f.documents().every((d) => d.op === 'create' && d.pipeline === 'audit-enrich')).toBe(true);
  });

  it('an index with the event date instead of data streams, per route (esIndex) or per sink', async () => {
    const f = await fake();
    const perSink = createElasticsearchSink('es', esConfig(f.url, { index: 'audit-{yyyy}.{MM}' }), context);
    const perRoute = createElasticsearchSink('es', esConfig(f.url), { ...context, route: { name: 'r', mappingOptions: { esIndex: 'route-audit' } } });
    expect(await perSink.send(batchOf(2), never)).toEqual({ status: 'delivered' });
    expect(await perRoute.send(batchOf(1, 3), never)).toEqual({ status: 'delivered' });
    await perSink.close();
    await perRoute.close();
    expect(f.indices().filter((i) => !i.startsWith('.')).sort()).toEqual(['audit-2026.05', 'route-audit']);
  });

  it('413 splits the batch (a lone oversized document is dead-lettered); 401 and 403 stop the route; a missing index with auto-creation off says what to do', async () => {
    const f = await fake({ maxContentLength: 3_000 });
    const sink = createElasticsearchSink('es', esConfig(f.url, { http: { gzip: false } }), context);
    const big = testBatch(4, 1, 4_000, ecsLike);
    const small = batchOf(16);
    expect(await sink.send(small, never)).toMatchObject({ status: 'rejected', scope: 'batch' });
    const split = await deliverWithRetry(sink, { records: [...small.records, ...big.records], bytes: 0 }, never, { policy: fastRetry });
    expect(split.delivered).toBe(16);
    expect(split.rejected.map((r) => r.record.eventId)).toEqual([big.records[0]!.eventId]);
    await sink.close();

    const g = await fake({ users: [{ username: 'reader', password: 'pw', indices: [{ names: ['*'], privileges: ['read'] }] }] });
    const bad = createElasticsearchSink('es', esConfig(g.url, { auth: { username: 'elastic', password: 'nope' } }), context);
    expect(await bad.send(batchOf(1), never)).toMatchObject({ status: 'rejected', scope: 'sink', reason: expect.stringContaining('401') });
    const reader = createElasticsearchSink('es', esConfig(g.url, { auth: { username: 'reader', password: 'pw' } }), context);
    expect(await reader.send(batchOf(1), never)).toMatchObject({ status: 'rejected', scope: 'sink', reason: expect.stringMatching(/403/) });
    await bad.close();
    await reader.close();

    const h = await fake({ autoCreateIndex: false });
    const noIndex = createElasticsearchSink('es', esConfig(h.url, { index: 'audit' }), context);
    expect(await noIndex.send(batchOf(1), never)).toMatchObject({ status: 'rejected', scope: 'sink', reason: expect.stringContaining('setup elasticsearch') });
    await noIndex.close();
  });

  it('a cluster that is down is retryable, and it delivers once it is back', async () => {
    const f = await fake();
    const sink = createElasticsearchSink('es', esConfig(f.url), context);
    await f.stop();
    expect(await sink.send(batchOf(2), never)).toMatchObject({ status: 'retryable', reason: expect.stringContaining('no answer from Elasticsearch') });
    await f.start();
    expect(await sink.send(batchOf(2), never)).toEqual({ status: 'delivered' });
    await sink.close();
  });

  it('OpenSearch: the same bulk API; check names the flavour and does not ask Elasticsearch privileges', async () => {
    const f = await fake({ flavour: 'opensearch', security: false });
    const sink = createElasticsearchSink('os', esConfig(f.url, { auth: undefined }), context);
    expect(await sink.send(batchOf(3), never)).toEqual({ status: 'delivered' });
    const result = await sink.check();
    expect(result).toMatchObject({ ok: true, detail: expect.stringContaining('opensearch 2.19.0') });
    expect(result.detail).toContain('privileges not checked on OpenSearch');
    await sink.close();
    expect(f.documentIds()).toHaveLength(3);
  });

  it('over https with the CA, and a CA that did not sign the certificate is a TLS failure that names tls.caFile', async () => {
    const f = await fake({ tls: { certFile: tlsFixture('server.pem'), keyFile: tlsFixture('server.key') } });
    const good = createElasticsearchSink('es', esConfig(f.url, { tls: { caFile: tlsFixture('ca.pem') } }), context);
    expect(await good.send(batchOf(1), never)).toEqual({ status: 'delivered' });
    const wrong = createElasticsearchSink('es', esConfig(f.url, { tls: { caFile: tlsFixture('other-ca.pem') } }), context);
    const checked = await wrong.check();
    expect(checked.ok).toBe(false);
    expect(checked.detail).toMatch(/TLS/);
    expect(checked.detail).toContain('tls.caFile');
    await good.close();
    await wrong.close();
  });
});

describe('elasticsearch check and setup', () => {
  it('check: version, credentials, privileges; warns until setup installs the template; setup is idempotent', async () => {
    const f = await fake({ version: '9.1.0' });
    const config = esConfig(f.url);
    const sink = createElasticsearchSink('audit', config, context);
    const before = await sink.check({ routeOptions: [{}] });
    expect(before.ok).toBe(true);
    expect(before.detail).toContain('elasticsearch 9.1.0');
    expect(before.detail).toContain('may write to logs-cofide.audit-default, logs-ibm.cadf_audit-default');
    expect(before.detail).toContain(`warning: no index template ${templateName('audit')}`);
    for (let i = 0; i < 2; i++) {
      const done = await sink.setup([{}], { lifecycle: true });
      expect(done).toEqual([expect.stringContaining('elasticsearch 9.1.0'), expect.stringContaining('ILM policy'), expect.stringContaining('index template audit-forwarder-audit')]);
    }
    const after = await sink.check({ routeOptions: [{}] });
    expect(after.detail).toContain(`index template ${templateName('audit')} installed`);
    // Documents written after setup land in data streams the template made.
    expect(await sink.send(batchOf(2), never)).toEqual({ status: 'delivered' });
    expect(f.dataStreams().map((d) => d.template)).toEqual([templateName('audit')]);
    await sink.close();
  });

  it('check fails with what is missing: bad credentials, privileges, an unreachable cluster, a URL that is not a cluster', async () => {
    const f = await fake({ users: [{ username: 'reader', password: 'pw', indices: [{ names: ['*'], privileges: ['read'] }] }] });
    const bad = createElasticsearchSink('es', esConfig(f.url, { auth: { username: 'reader', password: 'nope' } }), context);
    expect(await bad.check()).toMatchObject({ ok: false, detail: expect.stringContaining('credentials refused') });
    // A user that may read but not write documents, nor read the cluster's root: valid credentials, missing privileges.
    const reader = createElasticsearchSink('es', esConfig(f.url, { auth: { username: 'reader', password: 'pw' } }), context);
    const readerCheck = await reader.check();
    expect(readerCheck).toMatchObject({ ok: false, detail: expect.stringContaining('missing privileges: create_doc') });
    expect(readerCheck.detail).toContain('credentials valid');
    const port = f.port;
    await f.close();
    fakes.splice(fakes.indexOf(f), 1);
    const gone = createElasticsearchSink('es', esConfig(`http://127.0.0.1:${port}`), context);
    expect(await gone.check()).toMatchObject({ ok: false, detail: expect.stringContaining('unreachable') });
    for (const s of [bad, reader, gone]) await s.close();
  });

  it('OpenSearch: setup installs the ISM policy before the template; the template priority is above the logs template', async () => {
    const f = await fake({ flavour: 'opensearch', version: '3.1.0', security: false });
    const sink = createElasticsearchSink('os', esConfig(f.url, { auth: undefined }), context);
    const done = await sink.setup([], { lifecycle: true });
    expect(done.map((d) => d.split(' ')[0])).toEqual(['http://127.0.0.1:' + f.port + ':', 'ISM', 'index']);
    const puts = f.requests().filter((r) => r.method === 'PUT').map((r) => r.path);
    expect(puts).toEqual(['/_plugins/_ism/policies/audit-forwarder-os', '/_index_template/audit-forwarder-os']);
    await sink.close();
    expect(DEFAULT_PRIORITY).toBeGreaterThan(100);
  });
});
