// Tests of the fake Elasticsearch/OpenSearch itself, over real loopback sockets with undici: the vendor contract the bulk sink is tested against.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { deflateSync, gzipSync } from 'node:zlib';
import { Agent, request } from 'undici';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { startFakeElasticsearch, type FakeElasticsearch, type FakeElasticsearchOptions, type FakeEsUser } from '../support/fake-elasticsearch.ts';

const tlsFixture = (name: string): string => fileURLToPath(new URL(`../fixtures/tls/${name}`, import.meta.url));
const basic = (user: string, password: string): string => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
const apiKey = (id: string, key: string): string => `ApiKey ${Buffer.from(`${id}:${key}`).toString('base64')}`;
const ELASTIC = basic('elastic', 'changeme');
const NDJSON = 'application/x-ndjson';

const agent = new Agent({ keepAliveTimeout: 1000 });
const fakes: FakeElasticsearch[] = [];

afterEach(async () => {
  await Promise.all(fakes.splice(0).map((f) => f.close()));
});
afterAll(async () => {
  await agent.close();
});

async function fake(options?: FakeElasticsearchOptions): Promise<FakeElasticsearch> {
  const f = await startFakeElasticsearch(options);
  fakes.push(f);
  return f;
}

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  json: Record<string, any>;
}

interface CallOptions {
  method?: 'GET' | 'POST' | 'PUT' | 'HEAD' | 'DELETE';
  headers?: Record<string, string>;
  body?: string | Buffer;
  /** Default `Basic elastic:changeme`; null: no Authorization header. */
  auth?: string | null;
  dispatcher?: Agent;
}

async function call(es: FakeElasticsearch, path: string, options: CallOptions = {}): Promise<Reply> {
  const auth = options.auth === undefined ? ELASTIC : options.auth;
  const res = await request(`${es.url}${path}`, {
    method: options.method ?? (options.body === undefined ? 'GET' : 'POST'),
    headers: { ...(auth === null ? {} : { authorization: auth }), ...(options.body === undefined ? {} : { 'content-type': 'application/json' }), ...options.headers },
    ...(options.body === undefined ? {} : { body: options.body }),
    dispatcher: options.dispatcher ?? agent,
  });
  const text = await res.body.text();
  let json: Record<string, any> = {};
  if (String(res.headers['content-type'] ?? '').includes('json') && text !== '') json = JSON.parse(text) as Record<string, any>;
  return { status: res.statusCode, headers: res.headers, text, json };
}

const nd = (...lines: unknown[]): string => lines.map((l) => JSON.stringify(l)).join('\n') + '\n';
const bulk = (es: FakeElasticsearch, body: string | Buffer, options: CallOptions & { path?: string } = {}): Promise<Reply> =>
  call(es, options.path ?? '/_bulk', { ...options, method: 'POST', body, headers: { 'content-type': NDJSON, ...options.headers } });
const ts = '2025-03-01T12:00:00.000Z';
const event = (id: string, extra: Record<string, unknown> = {}): Record<string, unknown> => ({ '@timestamp': ts, event: { id }, message: `event ${id}`, ...extra });
/** `create` items with ids, one per event. */
const creates = (index: string, ...ids: string[]): string => nd(...ids.flatMap((id) => [{ create: { _index: index, _id: id } }, event(id)]));
const itemOf = (item: Record<string, any>): Record<string, any> => Object.values(item)[0] as Record<string, any>;
const statuses = (r: Reply): number[] => (r.json.items as Record<string, any>[]).map((i) => itemOf(i).status as number);

function todayBacking(ds: string, generation = 1): string {
  const d = new Date();
  const date = `${d.getUTCFullYear()}.${String(d.getUTCMonth() + 1).padStart(2, '0')}.${String(d.getUTCDate()).padStart(2, '0')}`;
  return `.ds-${ds}-${date}-${String(generation).padStart(6, '0')}`;
}

describe('GET / (cluster info) by flavour and version', () => {
  it('answers as Elasticsearch 8 and 9, with the product header and HEAD', async () => {
    const es8 = await fake();
    const r = await call(es8, '/');
    expect(r.status).toBe(200);
    expect(r.json).toMatchObject({ name: 'fake-es-node-1', cluster_name: 'fake-es', tagline: 'You Know, for Search', version: { number: '8.17.0', build_flavor: 'default' } });
    expect(r.json.version).not.toHaveProperty('distribution');
    expect(r.json.cluster_uuid).toMatch(/^[\w-]{22}$/);
    expect(r.headers['x-elastic-product']).toBe('Elasticsearch');
    expect(r.headers['content-type']).toBe('application/json');
    const head = await call(es8, '/', { method: 'HEAD' });
    expect([head.status, head.text]).toEqual([200, '']);
    // The JS client's compatibility Accept header is echoed as the response type.
    const compat = await call(es8, '/', { headers: { accept: 'application/vnd.elasticsearch+json; compatible-with=8' } });
    expect(compat.headers['content-type']).toBe('application/vnd.elasticsearch+json;compatible-with=8');

    const es9 = await fake({ version: '9.1.2', buildFlavor: 'serverless', clusterName: 'siem' });
    expect((await call(es9, '/')).json).toMatchObject({ cluster_name: 'siem', version: { number: '9.1.2', build_flavor: 'serverless', minimum_wire_compatibility_version: '8.18.0' } });
  });

  it('answers as OpenSearch 2 and 3: distribution, no build_flavor, no product header', async () => {
    for (const version of ['2.19.0', '3.1.0']) {
      const os = await fake({ flavour: 'opensearch', version });
      const r = await call(os, '/');
      expect(r.json).toMatchObject({ tagline: 'The OpenSearch Project: https://opensearch.org/', version: { distribution: 'opensearch', number: version } });
      expect(r.json.version).not.toHaveProperty('build_flavor');
      expect(r.headers['x-elastic-product']).toBeUndefined();
    }
    await expect(startFakeElasticsearch({ flavour: 'opensearch', version: '8.17.0' })).rejects.toThrow(/not modelled/);
  });
});

describe('authentication (§2.3)', () => {
  const users: FakeEsUser[] = [
    { username: 'elastic', password: 'changeme', cluster: ['all'], indices: [{ names: ['*'], privileges: ['all'] }] },
    { username: 'svc', apiKey: { id: 'k1', key: 'secret-1' }, bearerToken: 'tok-1', cluster: ['monitor'], indices: [{ names: ['*'], privileges: ['all'] }] },
  ];

  it('refuses missing, unknown-scheme and wrong credentials with 401 security_exception and three challenges', async () => {
    const es = await fake({ users });
    const missing = await call(es, '/_bulk?refresh=false', { auth: null, method: 'POST', body: creates('a', '1'), headers: { 'content-type': NDJSON } });
    expect(missing.status).toBe(401);
    expect(missing.json.error).toMatchObject({ type: 'security_exception', reason: 'missing authentication credentials for REST request [/_bulk?refresh=false]' });
    expect(missing.json.error.root_cause[0].header['WWW-Authenticate']).toEqual(['Basic realm="security" charset="UTF-8"', 'Bearer realm="security"', 'ApiKey']);
    expect(missing.headers['www-authenticate']).toEqual(['Basic realm="security" charset="UTF-8"', 'Bearer realm="security"', 'ApiKey']);
    expect((await call(es, '/', { auth: 'Splunk tok-1' })).json.error.reason).toMatch(/^missing authentication credentials/);
    expect((await call(es, '/', { auth: basic('elastic', 'wrong') })).json.error.reason).toBe('unable to authenticate user [elastic] for REST request [/]');
    const unknownKey = await call(es, '/', { auth: apiKey('nope', 'x') });
    expect(unknownKey.status).toBe(401);
    expect(unknownKey.json.error).toMatchObject({
      reason: 'unable to authenticate with provided credentials and anonymous access is not allowed for this request',
      additional_unsuccessful_credentials: 'API key: unable to find apikey with id nope',
    });
    expect((await call(es, '/', { auth: apiKey('k1', 'wrong') })).json.error.additional_unsuccessful_credentials).toBe('API key: invalid credentials for API key [k1]');
    expect((await call(es, '/', { auth: 'Bearer nope' })).status).toBe(401);
    expect(es.documents()).toEqual([]);

    for (const auth of [apiKey('k1', 'secret-1'), 'Bearer tok-1', ELASTIC]) expect((await call(es, '/', { auth })).status).toBe(200);
    expect(es.requests().slice(-3).map((q) => [q.authScheme, q.user])).toEqual([['apiKey', 'svc'], ['bearer', 'svc'], ['basic', 'elastic']]);
    expect((await call(es, '/_security/_authenticate', { auth: apiKey('k1', 'secret-1') })).json).toMatchObject({ username: 'svc', authentication_type: 'api_key', api_key: { id: 'k1' } });
  });

  it('OpenSearch answers a bare "Unauthorized" with its realm, and knows no API keys', async () => {
    const os = await fake({ flavour: 'opensearch', users: [{ username: 'admin', password: 'pw', cluster: ['all'], indices: [{ names: ['*'], privileges: ['all'] }] }] });
    for (const auth of [null, basic('admin', 'bad'), apiKey('admin', 'pw')]) {
      const r = await call(os, '/', { auth });
      expect([r.status, r.text, r.headers['www-authenticate']]).toEqual([401, 'Unauthorized', 'Basic realm="OpenSearch Security"']);
    }
    expect((await call(os, '/', { auth: basic('admin', 'pw') })).status).toBe(200);
  });
});

describe('authorisation: 403 security_exception', () => {
  const users: FakeEsUser[] = [
    { username: 'elastic', password: 'changeme', cluster: ['all'], indices: [{ names: ['*'], privileges: ['all'] }] },
    { username: 'reader', password: 'r', roles: ['viewer'], indices: [{ names: ['*'], privileges: ['read'] }] },
    { username: 'writer', password: 'w', roles: ['audit_writer'], cluster: ['monitor'], indices: [{ names: ['audit-*'], privileges: ['create_doc', 'auto_configure'] }] },
    { username: 'svc', apiKey: { id: 'k2', key: 's' }, indices: [{ names: ['audit-*'], privileges: ['create_doc'] }] },
  ];

  it('refuses a whole bulk without any write privilege, and items outside the grants', async () => {
    const es = await fake({ users });
    const reader = await bulk(es, creates('audit-1', 'a'), { auth: basic('reader', 'r') });
    expect(reader.status).toBe(403);
    expect(reader.json.error).toMatchObject({
      type: 'security_exception',
      reason:
        'action [indices:data/write/bulk] is unauthorized for user [reader] with effective roles [viewer], this action is granted by the index privileges [create_doc,create,delete,index,write,all]',
    });

    expect((await bulk(es, creates('other-2', 'x'))).status).toBe(200); // the admin creates other-2
    const body = nd(
      { create: { _index: 'audit-1', _id: 'a' } },
      event('a'),
      { index: { _index: 'audit-1', _id: 'b' } },
      event('b'),
      { create: { _index: 'other-1', _id: 'c' } },
      event('c'),
      { create: { _index: 'other-2', _id: 'd' } },
      event('d'),
    );
    const r = await bulk(es, body, { auth: basic('writer', 'w') });
    expect(r.status).toBe(200);
    expect(r.json.errors).toBe(true);
    expect(statuses(r)).toEqual([201, 403, 403, 403]);
    const errors = (r.json.items as Record<string, any>[]).map((i) => itemOf(i).error?.reason);
    expect(errors[1]).toBe(
      'action [indices:data/write/bulk[s]] is unauthorized for user [writer] with effective roles [audit_writer] on indices [audit-1], this action is granted by the index privileges [create,index,write,all]',
    );
    expect(errors[2]).toMatch(/^action \[indices:admin\/auto_create\] is unauthorized .* on indices \[other-1\], this action is granted by the index privileges \[auto_configure,create_index,manage,all\]$/);
    expect(errors[3]).toMatch(/^action \[indices:data\/write\/bulk\[s\]\] is unauthorized for user \[writer\] .* on indices \[other-2\]/);
    expect(es.indices()).toEqual(['other-2', 'audit-1']);

    // An API key is named by id and owner; it may not auto-create here.
    const key = await bulk(es, creates('audit-2', 'k'), { auth: apiKey('k2', 's') });
    expect(itemOf(key.json.items[0]).error.reason).toMatch(/^action \[indices:admin\/auto_create\] is unauthorized for API key id \[k2\] of user \[svc\] on indices \[audit-2\]/);
    expect((await bulk(es, creates('audit-1', 'k'), { auth: apiKey('k2', 's') })).json.errors).toBe(false);

    const noMonitor = await call(es, '/', { auth: basic('reader', 'r') });
    expect([noMonitor.status, noMonitor.json.error.reason]).toEqual([
      403,
      'action [cluster:monitor/main] is unauthorized for user [reader] with effective roles [viewer], this action is granted by the cluster privileges [monitor,manage,all]',
    ]);
    expect(es.documentIds('audit-1')).toEqual(['a', 'k']);
  });

  it('words refusals the OpenSearch way', async () => {
    const os = await fake({ flavour: 'opensearch', users: users.filter((u) => u.apiKey === undefined) });
    const r = await bulk(os, nd({ index: { _index: 'audit-1', _id: 'b' } }, event('b')), { auth: basic('writer', 'w') });
    expect(itemOf(r.json.items[0])).toMatchObject({
      status: 403,
      error: { type: 'security_exception', reason: 'no permissions for [indices:data/write/bulk[s]] and User [name=writer, backend_roles=[audit_writer], requestedTenant=null]' },
    });
  });
});

describe('POST /_bulk (§2.1, §2.2)', () => {
  it('creates and indexes into a plain index: results, generated ids, items in request order, updates', async () => {
    const es = await fake();
    const body = nd(
      { create: { _index: 'audit', _id: 'a' } },
      event('a'),
      { index: { _index: 'audit' } },
      event('gen'),
      { index: { _index: 'audit', _id: 'b', op_type: 'create' } },
      event('b'),
      { index: { _index: 'audit', _id: 'a' } },
      event('a', { message: 'replaced' }),
    );
    const r = await bulk(es, body);
    expect(r.status).toBe(200);
    expect(r.json.errors).toBe(false);
    expect(typeof r.json.took).toBe('number');
    const items = r.json.items as Record<string, any>[];
    expect(items.map((i) => Object.keys(i)[0])).toEqual(['create', 'index', 'create', 'index']);
    expect(items.map(itemOf).map((i) => [i._index, i.result, i.status, i._version])).toEqual([
      ['audit', 'created', 201, 1],
      ['audit', 'created', 201, 1],
      ['audit', 'created', 201, 1],
      ['audit', 'updated', 200, 2],
    ]);
    const generated = itemOf(items[1]!)._id as string;
    expect(generated).toMatch(/^[A-Za-z0-9_-]{20}$/);
    expect(itemOf(items[0]!)).toMatchObject({ _shards: { total: 2, successful: 1, failed: 0 }, _seq_no: 0, _primary_term: 1 });
    expect(es.documentIds('audit')).toEqual([generated, 'b', 'a']);
    expect(es.document('audit', 'a')).toMatchObject({ op: 'index', version: 2, source: { message: 'replaced' }, dataStream: undefined });
    expect(es.indices()).toEqual(['audit']);
    expect(es.requests().at(-1)).toMatchObject({ method: 'POST', path: '/_bulk', status: 200, items: 4, failedItems: 0 });
  });

  it('takes the index from the path, JSON and compatibility content types, and refuses others with 406', async () => {
    const es = await fake();
    const body = nd({ create: { _id: '1' } }, event('1'), { create: { _index: 'elsewhere', _id: '2' } }, event('2'));
    expect(statuses(await bulk(es, body, { path: '/audit/_bulk' }))).toEqual([201, 201]);
    expect(es.documentIds('audit')).toEqual(['1']);
    expect(es.documentIds('elsewhere')).toEqual(['2']);
    const noIndex = await bulk(es, nd({ create: { _id: '3' } }, event('3')));
    expect([noIndex.status, noIndex.json.error.reason]).toEqual([400, 'Validation Failed: 1: index is missing;']);
    for (const type of ['application/json', 'application/vnd.elasticsearch+x-ndjson; compatible-with=8']) {
      expect((await bulk(es, creates('audit', type), { headers: { 'content-type': type } })).json.errors).toBe(false);
    }
    const plain = await bulk(es, creates('audit', 'p'), { headers: { 'content-type': 'text/plain' } });
    expect([plain.status, plain.json]).toEqual([406, { error: 'Content-Type header [text/plain] is not supported', status: 406 }]);
  });

  it('accepts gzip and deflate bodies, logging wire and decoded sizes', async () => {
    const es = await fake();
    const raw = creates('audit', 'g1', 'g2');
    const gz = gzipSync(raw);
    expect((await bulk(es, gz, { headers: { 'content-encoding': 'gzip' } })).json.errors).toBe(false);
    expect(es.requests().at(-1)).toMatchObject({ contentEncoding: 'gzip', bytes: gz.length, decodedBytes: Buffer.byteLength(raw), items: 2 });
    expect((await bulk(es, deflateSync(creates('audit', 'd1')), { headers: { 'content-encoding': 'deflate' } })).json.errors).toBe(false);
    expect(es.documentIds('audit')).toEqual(['g1', 'g2', 'd1']);
  });

  it('answers 409 version_conflict_engine_exception to a create of an existing _id, and keeps the first document', async () => {
    const es = await fake();
    await bulk(es, creates('audit', 'x', 'y'));
    const again = await bulk(es, nd({ create: { _index: 'audit', _id: 'x' } }, event('x', { message: 'resent' }), { create: { _index: 'audit', _id: 'z' } }, event('z')));
    expect(again.json.errors).toBe(true);
    expect(itemOf(again.json.items[0])).toEqual({
      _index: 'audit',
      _id: 'x',
      status: 409,
      error: {
        type: 'version_conflict_engine_exception',
        reason: '[x]: version conflict, document already exists (current version [1])',
        index_uuid: expect.stringMatching(/^[\w-]{22}$/),
        shard: '0',
        index: 'audit',
      },
    });
    expect(itemOf(again.json.items[1]).status).toBe(201);
    expect(es.document('audit', 'x')!.source.message).toBe('event x');
    expect(es.requests().at(-1)).toMatchObject({ items: 2, failedItems: 1 });
  });

  it('updates and deletes; a missing delete is 404 without an error', async () => {
    const es = await fake();
    await bulk(es, creates('audit', 'u', 'd'));
    const r = await bulk(es, nd({ update: { _index: 'audit', _id: 'u' } }, { doc: { extra: 1 } }, { delete: { _index: 'audit', _id: 'd' } }, { delete: { _index: 'audit', _id: 'gone' } }));
    expect(r.json.errors).toBe(false);
    expect((r.json.items as Record<string, any>[]).map(itemOf).map((i) => [i.result, i.status])).toEqual([
      ['updated', 200],
      ['deleted', 200],
      ['not_found', 404],
    ]);
    expect(es.documents('audit').map((d) => [d.id, d.source.extra])).toEqual([['u', 1]]);
  });
});

describe('data streams (§2.4, pitfalls 10 and 11)', () => {
  it('auto-creates from the built-in logs template: backing index, create only, @timestamp required', async () => {
    const es = await fake();
    const ds = 'logs-cofide.audit-default';
    const body = nd(
      { create: { _index: ds, _id: 'a' } },
      event('a'),
      { index: { _index: ds, _id: 'b' } },
      event('b'),
      { create: { _index: ds, _id: 'c' } },
      { message: 'no time' },
      { create: { _index: ds, _id: 'd' } },
      { '@timestamp': 'yesterday' },
      { create: { _index: ds, _id: 'e' } },
      { '@timestamp': 1740830400000 },
      { create: { _index: ds } },
      { '@timestamp': '2025-03-01' },
    );
    const r = await bulk(es, body);
    const items = (r.json.items as Record<string, any>[]).map(itemOf);
    expect(items.map((i) => i.status)).toEqual([201, 400, 400, 400, 201, 201]);
    expect(items[0]!._index).toBe(todayBacking(ds));
    expect(items[1]).toMatchObject({ _index: ds, error: { type: 'illegal_argument_exception', reason: 'only write ops with an op_type of create are allowed in data streams' } });
    const noTime = JSON.stringify({ message: 'no time' });
    expect(items[2]!.error).toMatchObject({ type: 'document_parsing_exception', reason: `[1:${noTime.length}] failed to parse: data stream timestamp field [@timestamp] is missing` });
    expect(items[3]!.error).toMatchObject({
      type: 'document_parsing_exception',
      reason: expect.stringMatching(/failed to parse field \[@timestamp\] of type \[date\] in document with id 'd'\. Preview of field's value: 'yesterday'$/),
      caused_by: { type: 'illegal_argument_exception', reason: 'failed to parse date field [yesterday] with format [strict_date_optional_time||epoch_millis]' },
    });
    expect(es.dataStreams()).toEqual([{ name: ds, template: 'logs', timestampField: '@timestamp', backingIndices: [todayBacking(ds)] }]);
    expect(es.documentIds(ds)).toEqual(['a', 'e', items[5]!._id]);
    expect(es.document(ds, 'a')).toMatchObject({ index: todayBacking(ds), dataStream: ds });

    const got = await call(es, `/_data_stream/${ds}`);
    expect(got.json.data_streams[0]).toMatchObject({ name: ds, timestamp_field: { name: '@timestamp' }, generation: 1, template: 'logs', indices: [{ index_name: todayBacking(ds) }] });
    expect((await call(es, '/_data_stream/logs-none-default')).json.error).toMatchObject({ type: 'index_not_found_exception', reason: 'no such index [logs-none-default]' });
    // A write straight to the backing index must name the data stream.
    const direct = await bulk(es, nd({ create: { _index: todayBacking(ds), _id: 'z' } }, event('z')));
    expect(itemOf(direct.json.items[0]).error.reason).toBe(`index request with op_type=create targeting backing indices is disallowed, target corresponding data stream [${ds}] instead`);
  });

  it('deduplicates _id within a backing index only: after a rollover the same create succeeds again', async () => {
    const es = await fake();
    const ds = 'logs-app-default';
    expect(statuses(await bulk(es, creates(ds, 'same')))).toEqual([201]);
    expect(statuses(await bulk(es, creates(ds, 'same')))).toEqual([409]);
    const next = es.rollover(ds);
    expect(next).toBe(todayBacking(ds, 2));
    const after = await bulk(es, creates(ds, 'same'));
    expect(itemOf(after.json.items[0])).toMatchObject({ status: 201, _index: next });
    expect(es.documents(ds).map((d) => d.index)).toEqual([todayBacking(ds), next]);
    expect((await call(es, `/_data_stream/${ds}`)).json.data_streams[0].generation).toBe(2);
  });

  it('stores and returns index templates; a data-stream template makes matching targets data streams', async () => {
    const es = await fake();
    const put = await call(es, '/_index_template/audit-ds', { method: 'PUT', body: JSON.stringify({ index_patterns: 'audit-ds-*', priority: 200, data_stream: {} }) });
    expect(put.json).toEqual({ acknowledged: true });
    const got = await call(es, '/_index_template/audit-ds');
    expect(got.json).toEqual({
      index_templates: [
        { name: 'audit-ds', index_template: { index_patterns: ['audit-ds-*'], priority: 200, composed_of: [], data_stream: { hidden: false, allow_custom_routing: false } } },
      ],
    });
    expect((await call(es, '/_index_template/missing')).json).toMatchObject({ status: 404, error: { type: 'resource_not_found_exception', reason: 'index template matching [missing] not found' } });
    expect((await call(es, '/_index_template/audit-ds', { method: 'HEAD' })).status).toBe(200);
    expect((await call(es, '/_index_template/missing', { method: 'HEAD' })).status).toBe(404);
    expect((await call(es, '/_index_template')).json.index_templates.map((t: { name: string }) => t.name)).toEqual(['logs', 'audit-ds']);
    const clash = await call(es, '/_index_template/clash', { method: 'PUT', body: JSON.stringify({ index_patterns: ['logs-*-*'], priority: 100, data_stream: {} }) });
    expect([clash.status, clash.json.error.reason]).toEqual([400, expect.stringContaining('that have the same priority [100], multiple index templates may not match')]);
    expect((await call(es, '/_index_template/empty', { method: 'PUT', body: '{}' })).json.error.reason).toBe('Validation Failed: 1: index patterns are missing;');

    await bulk(es, creates('audit-ds-prod', '1'));
    expect(es.dataStreams().map((d) => [d.name, d.template])).toEqual([['audit-ds-prod', 'audit-ds']]);
  });

  it('uses mapper_parsing_exception before 8.8 and in OpenSearch, whose backing indices carry no date', async () => {
    const old = await fake({ version: '8.5.3' });
    const r = await bulk(old, nd({ create: { _index: 'logs-a-default' } }, { m: 1 }));
    expect(itemOf(r.json.items[0]).error).toEqual({
      type: 'mapper_parsing_exception',
      reason: 'failed to parse',
      caused_by: { type: 'illegal_argument_exception', reason: 'data stream timestamp field [@timestamp] is missing' },
      index_uuid: expect.any(String),
      shard: '0',
      index: todayBacking('logs-a-default'),
    });

    const os = await fake({ flavour: 'opensearch', indexTemplates: { audit: { index_patterns: ['audit-*'], data_stream: { timestamp_field: { name: 'ts' } } } } });
    const w = await bulk(os, nd({ create: { _index: 'audit-x', _id: '1' } }, { ts: ts }, { create: { _index: 'audit-x', _id: '2' } }, { '@timestamp': ts }));
    expect(statuses(w)).toEqual([201, 400]);
    expect(itemOf(w.json.items[1]).error).toMatchObject({ type: 'mapper_parsing_exception', caused_by: { reason: 'data stream timestamp field [ts] is missing' } });
    expect(os.dataStreams()).toEqual([{ name: 'audit-x', template: 'audit', timestampField: 'ts', backingIndices: ['.ds-audit-x-000001'] }]);
    // OpenSearch has no built-in logs template: a logs-*-* name is a plain index there.
    await bulk(os, creates('logs-a-default', 'p'));
    expect(os.indices()).toEqual(['.ds-audit-x-000001', 'logs-a-default']);
  });
});

describe('auto-creation, require_data_stream, pipelines and parameters', () => {
  it('autoCreateIndex: false refuses a missing plain index with 404, but data-stream templates still apply', async () => {
    const es = await fake({ autoCreateIndex: false });
    const r = await bulk(es, nd({ create: { _index: 'audit', _id: '1' } }, event('1'), { create: { _index: 'logs-a-default', _id: '2' } }, event('2')));
    expect(statuses(r)).toEqual([404, 201]);
    expect(itemOf(r.json.items[0]).error).toEqual({ type: 'index_not_found_exception', reason: 'no such index [audit]', 'resource.type': 'index_or_alias', 'resource.id': 'audit', index_uuid: '_na_', index: 'audit' });
    expect(es.indices()).toEqual([todayBacking('logs-a-default')]);
  });

  it('honours require_data_stream on the request and per action (8.13+); older versions and OpenSearch refuse the parameter', async () => {
    const es = await fake();
    await bulk(es, creates('plain', 'p'));
    const body = nd(
      { create: { _index: 'audit', _id: '1' } },
      event('1'),
      { create: { _index: 'plain', _id: '2' } },
      event('2'),
      { create: { _index: 'logs-a-default', _id: '3' } },
      event('3'),
      { create: { _index: 'other', _id: '4', require_data_stream: false } },
      event('4'),
    );
    const r = await bulk(es, body, { path: '/_bulk?require_data_stream=true' });
    expect(statuses(r)).toEqual([404, 400, 201, 201]);
    expect(itemOf(r.json.items[0]).error.reason).toBe(
      'no such index [audit] and the index creation request requires a data stream, but no matching index template with data stream template was found for it',
    );
    expect(itemOf(r.json.items[1]).error.reason).toBe('[require_data_stream] request flag is [true] and [plain] is not a data stream');

    for (const options of [{ version: '8.12.2' }, { flavour: 'opensearch' as const }]) {
      const older = await fake(options);
      const refused = await bulk(older, creates('audit', '1'), { path: '/_bulk?require_data_stream=true' });
      expect([refused.status, refused.json.error.reason]).toEqual([400, 'request [/_bulk] contains unrecognized parameter: [require_data_stream]']);
    }
    expect((await bulk(es, creates('audit', '1'), { path: '/_bulk?pipline=x' })).json.error.reason).toBe('request [/_bulk] contains unrecognized parameter: [pipline]');
  });

  it('records the pipeline a write names; an unknown pipeline is item 400', async () => {
    const es = await fake({ pipelines: ['enrich'] });
    const put = await call(es, '/_ingest/pipeline/ecs', { method: 'PUT', body: JSON.stringify({ processors: [{ set: { field: 'x', value: 1 } }] }) });
    expect(put.json).toEqual({ acknowledged: true });
    expect((await call(es, '/_ingest/pipeline/ecs')).json).toEqual({ ecs: { processors: [{ set: { field: 'x', value: 1 } }] } });
    expect((await call(es, '/_ingest/pipeline/none')).status).toBe(404);
    const body = nd(
      { create: { _index: 'audit', _id: '1' } },
      event('1'),
      { create: { _index: 'audit', _id: '2', pipeline: 'ecs' } },
      event('2'),
      { create: { _index: 'audit', _id: '3', pipeline: 'missing' } },
      event('3'),
      { create: { _index: 'audit', _id: '4', pipeline: '_none' } },
      event('4'),
    );
    const r = await bulk(es, body, { path: '/_bulk?pipeline=enrich' });
    expect(statuses(r)).toEqual([201, 201, 400, 201]);
    expect(itemOf(r.json.items[2]).error).toEqual({ type: 'illegal_argument_exception', reason: 'pipeline with id [missing] does not exist' });
    expect(es.documents('audit').map((d) => [d.id, d.pipeline])).toEqual([
      ['1', 'enrich'],
      ['2', 'ecs'],
      ['4', '_none'],
    ]);
    expect(es.requests().at(-1)).toMatchObject({ pipeline: 'enrich', query: { pipeline: 'enrich' } });
  });
});

describe('malformed bulk bodies', () => {
  it('refuses the whole request where the bulk parser does, and single items where a shard would', async () => {
    const es = await fake();
    const whole: [string, number, string][] = [
      [creates('audit', '1').slice(0, -1), 400, 'The bulk request must be terminated by a newline [\\n]'],
      [nd({ upsert: { _index: 'audit' } }, {}), 400, 'Malformed action/metadata line [1], expected field [create], [delete], [index] or [update] but found [upsert]'],
      [nd({ create: { _index: 'audit', _type: '_doc' } }, {}), 400, 'Action/metadata line [1] contains an unknown parameter [_type]'],
      [`${creates('audit', '1')}[1]\n{}\n`, 400, 'Malformed action/metadata line [3], expected START_OBJECT but found [START_ARRAY]'],
      ['', 400, 'request body is required'],
      ['\n\n', 400, 'Validation Failed: 1: no requests added;'],
    ];
    for (const [body, status, reason] of whole) {
      const r = await bulk(es, body);
      expect([r.status, r.json.error?.reason], JSON.stringify(body)).toEqual([status, reason]);
    }
    expect(es.indices()).toEqual([]);

    // Blank lines between actions are skipped; a last action without its source line is dropped.
    const r = await bulk(
      es,
      `\n${JSON.stringify({ create: { _index: 'audit', _id: 'a' } })}\n{not json}\n\n${JSON.stringify({ create: { _index: 'Audit', _id: 'b' } })}\n{}\n${JSON.stringify({ create: { _index: 'audit', _id: 'c' } })}\n"text"\n${JSON.stringify({ create: { _index: 'audit', _id: 'd' } })}\n`,
    );
    expect(r.status).toBe(200);
    const items = (r.json.items as Record<string, any>[]).map(itemOf);
    expect(items.map((i) => [i._id, i.status, i.error.type])).toEqual([
      ['a', 400, 'document_parsing_exception'],
      ['b', 400, 'invalid_index_name_exception'],
      ['c', 400, 'document_parsing_exception'],
    ]);
    expect(items[1]!.error.reason).toBe('Invalid index name [Audit], must be lowercase');
  });
});

describe('scripted failures', () => {
  it('rejectItems answers the next items in order, across requests; items refused earlier do not use them up', async () => {
    const es = await fake();
    es.rejectItems(2, 429);
    es.rejectItems(1, 400);
    const first = await bulk(es, creates('audit', 'a', 'b'));
    expect(first.json.errors).toBe(true);
    expect(statuses(first)).toEqual([429, 429]);
    expect(itemOf(first.json.items[0]).error).toMatchObject({ type: 'es_rejected_execution_exception', reason: expect.stringMatching(/^rejected execution of primary operation/) });
    // The data-stream `index` item fails before reaching a shard, so the 400 goes to the next one.
    const second = await bulk(es, nd({ index: { _index: 'logs-a-default', _id: 'x' } }, event('x'), ...[['c'], ['d'], ['e']].flatMap(([id]) => [{ create: { _index: 'audit', _id: id } }, event(id!)])));
    expect(statuses(second)).toEqual([400, 400, 201, 201]);
    expect(itemOf(second.json.items[1]).error).toMatchObject({ type: 'document_parsing_exception', reason: expect.stringMatching(/failed to parse$/) });

    es.rejectItems((item) => item.id === 'poison', 503);
    es.rejectItems(1, 500, 'circuit_breaking_exception', '[parent] Data too large');
    for (let k = 0; k < 2; k++) {
      const r = await bulk(es, creates('audit', 'poison', `ok-${k}`));
      expect(statuses(r)).toEqual(k === 0 ? [500, 201] : [503, 201]);
    }
    expect(itemOf((await bulk(es, creates('audit', 'poison'))).json.items[0]).error.type).toBe('unavailable_shards_exception');
    es.clearScripts();
    expect(statuses(await bulk(es, creates('audit', 'poison')))).toEqual([201]);
    expect(es.documentIds('audit')).toEqual(['d', 'e', 'ok-0', 'ok-1', 'poison']);
  });

  it('failNext answers whole requests: 429 with Retry-After, 503, a proxy 502 page; unauthenticated and non-bulk requests pass', async () => {
    const es = await fake();
    es.failNext(1, 429, undefined, { retryAfterSec: 3 });
    es.failNext(1, 503);
    es.failNext(1, 502);
    es.failNext(1, 500, { error: 'custom' });
    expect((await bulk(es, creates('audit', 'a'), { auth: null })).status).toBe(401);
    expect((await call(es, '/')).status).toBe(200);
    const tooMany = await bulk(es, creates('audit', 'a'));
    expect([tooMany.status, tooMany.headers['retry-after'], tooMany.json.error.type]).toEqual([429, '3', 'es_rejected_execution_exception']);
    expect((await bulk(es, creates('audit', 'a'))).json).toMatchObject({ status: 503, error: { type: 'cluster_block_exception' } });
    const proxy = await bulk(es, creates('audit', 'a'));
    expect([proxy.status, proxy.headers['content-type']]).toEqual([502, 'text/html']);
    expect(proxy.text).toContain('<title>502 Bad Gateway</title>');
    expect((await bulk(es, creates('audit', 'a'))).json).toEqual({ error: 'custom' });
    expect((await bulk(es, creates('audit', 'a'))).status).toBe(200);

    es.failNext(1, 503, undefined, { scope: 'any' });
    expect((await call(es, '/')).status).toBe(503);
    expect(es.documentIds('audit')).toEqual(['a']);
    expect(es.requests().map((q) => q.status)).toEqual([401, 200, 429, 503, 502, 500, 200, 503]);
  });

  it('refuseDocument refuses matching documents every time, like a mapping conflict', async () => {
    const es = await fake({ version: '8.18.1' });
    es.refuseDocument((item) => item.source?.code === 'abc', { field: 'code' });
    const body = nd({ create: { _index: 'audit', _id: 'bad' } }, event('bad', { code: 'abc' }), { create: { _index: 'audit', _id: 'good' } }, event('good', { code: 1 }));
    for (let k = 0; k < 2; k++) {
      const r = await bulk(es, body);
      expect(itemOf(r.json.items[0])).toMatchObject({
        status: 400,
        error: { type: 'document_parsing_exception', reason: expect.stringMatching(/failed to parse field \[code\] of type \[long\] in document with id 'bad'\. Preview of field's value: 'abc'$/) },
      });
    }
    const quiet = await bulk(es, body, { path: '/_bulk?include_source_on_error=false' });
    expect(itemOf(quiet.json.items[0]).error.reason).toMatch(/in document with id 'bad'\.$/);
    expect(es.documentIds('audit')).toEqual(['good']);
  });
});

describe('413 over maxContentLength', () => {
  it('measures the bytes on the wire by default, before authentication; decoded on request', async () => {
    const raw = creates('audit', ...Array.from({ length: 30 }, (_, k) => `e-${k}`));
    expect(raw.length).toBeGreaterThan(2000);
    const gz = gzipSync(raw);
    expect(gz.length).toBeLessThan(1000);

    const wire = await fake({ maxContentLength: 1000 });
    for (const auth of [undefined, null]) {
      const r = await bulk(wire, raw, { ...(auth === null ? { auth } : {}) });
      expect([r.status, r.text]).toEqual([413, '']);
    }
    expect(wire.requests().at(-1)).toMatchObject({ status: 413, bytes: Buffer.byteLength(raw) });
    expect((await bulk(wire, gz, { headers: { 'content-encoding': 'gzip' } })).json.errors).toBe(false);
    expect(wire.documentIds('audit')).toHaveLength(30);

    const decoded = await fake({ maxContentLength: 1000, maxContentLengthMeasure: 'decoded' });
    expect((await bulk(decoded, gz, { headers: { 'content-encoding': 'gzip' } })).status).toBe(413);
    expect(decoded.indices()).toEqual([]);
  });
});

describe('security and setup endpoints', () => {
  const users: FakeEsUser[] = [
    { username: 'elastic', password: 'changeme', cluster: ['all'], indices: [{ names: ['*'], privileges: ['all'] }] },
    { username: 'writer', password: 'w', cluster: ['monitor'], indices: [{ names: ['logs-cofide*'], privileges: ['create_doc', 'auto_configure'] }] },
  ];

  it('_has_privileges answers per requested index and privilege (Elasticsearch)', async () => {
    const es = await fake({ users });
    const ask = { cluster: ['monitor', 'manage_index_templates'], index: [{ names: ['logs-cofide.audit-default', 'logs-cofide*', 'other'], privileges: ['create_doc', 'auto_configure', 'index'] }] };
    for (const method of ['GET', 'POST'] as const) {
      const r = await call(es, '/_security/user/_has_privileges', { method, body: JSON.stringify(ask), auth: basic('writer', 'w') });
      expect(r.json).toEqual({
        username: 'writer',
        has_all_requested: false,
        cluster: { monitor: true, manage_index_templates: false },
        index: {
          'logs-cofide.audit-default': { create_doc: true, auto_configure: true, index: false },
          'logs-cofide*': { create_doc: true, auto_configure: true, index: false },
          other: { create_doc: false, auto_configure: false, index: false },
        },
        application: {},
      });
    }
    const admin = await call(es, '/_security/user/_has_privileges', { body: JSON.stringify(ask) });
    expect(admin.json.has_all_requested).toBe(true);

    const open = await fake({ security: false });
    expect((await call(open, '/_security/user/_has_privileges', { body: JSON.stringify(ask), auth: null })).json).toMatchObject({ status: 500, error: { type: 'exception' } });
  });

  it('OpenSearch has no _has_privileges; its account API exists only with the security plugin', async () => {
    const os = await fake({ flavour: 'opensearch', users });
    expect(await call(os, '/_security/user/_has_privileges', { body: '{}' })).toMatchObject({
      status: 400,
      json: { error: 'no handler found for uri [/_security/user/_has_privileges] and method [POST]', status: 400 },
    });
    expect((await call(os, '/_plugins/_security/api/account', { auth: basic('writer', 'w') })).json).toMatchObject({ user_name: 'writer', is_internal_user: true });

    const bare = await fake({ flavour: 'opensearch', security: false });
    expect(await call(bare, '/_plugins/_security/api/account', { auth: null })).toMatchObject({ status: 400, json: { error: 'no handler found for uri [/_plugins/_security/api/account] and method [GET]' } });
    expect((await bulk(bare, creates('audit', '1'), { auth: null })).json.errors).toBe(false);
    expect(bare.requests().at(-1)).toMatchObject({ user: undefined, authScheme: undefined });

    const es = await fake();
    expect((await call(es, '/_plugins/_security/api/account')).status).toBe(400);
  });

  it('stores ILM policies (Elasticsearch) and ISM policies (OpenSearch)', async () => {
    const policy = { policy: { phases: { hot: { actions: { rollover: { max_age: '1d' } } } } } };
    const es = await fake();
    expect((await call(es, '/_ilm/policy/audit', { method: 'PUT', body: JSON.stringify(policy) })).json).toEqual({ acknowledged: true });
    expect((await call(es, '/_ilm/policy/audit')).json.audit).toMatchObject({ version: 1, policy: policy.policy });
    expect((await call(es, '/_ilm/policy/none')).json.error).toMatchObject({ type: 'resource_not_found_exception', reason: 'Lifecycle policy not found: none' });
    expect((await call(es, '/_plugins/_ism/policies/audit', { method: 'PUT', body: '{}' })).status).toBe(400);

    const os = await fake({ flavour: 'opensearch' });
    const ism = { policy: { description: 'audit', default_state: 'hot', states: [{ name: 'hot', actions: [], transitions: [] }] } };
    const created = await call(os, '/_plugins/_ism/policies/audit', { method: 'PUT', body: JSON.stringify(ism) });
    expect(created).toMatchObject({ status: 201, json: { _id: 'audit', _version: 1, _primary_term: 1, _seq_no: 0, policy: { policy: { policy_id: 'audit', default_state: 'hot' } } } });
    expect((await call(os, '/_plugins/_ism/policies/audit', { method: 'PUT', body: JSON.stringify(ism) })).json.error.type).toBe('version_conflict_engine_exception');
    expect((await call(os, '/_plugins/_ism/policies/audit?if_seq_no=0&if_primary_term=1', { method: 'PUT', body: JSON.stringify(ism) })).json).toMatchObject({ _version: 2 });
    expect((await call(os, '/_plugins/_ism/policies/audit')).json).toMatchObject({ _id: 'audit', _version: 2 });
    expect((await call(os, '/_ilm/policy/audit', { method: 'PUT', body: JSON.stringify(policy) })).status).toBe(400);
  });

  it('answers 405 to a known path with the wrong method, 400 to an unknown one', async () => {
    const es = await fake();
    const wrong = await call(es, '/_bulk');
    expect([wrong.status, wrong.json.error, wrong.headers.allow]).toEqual([405, 'Incorrect HTTP method for uri [/_bulk] and method [GET], allowed: [POST, PUT]', 'POST,PUT']);
    expect((await call(es, '/_nope/x/y')).json).toEqual({ error: 'no handler found for uri [/_nope/x/y] and method [GET]', status: 400 });
  });
});

describe('_count and _search (kept minimal for reconciliation)', () => {
  it('counts and fetches by ids across indices and data streams', async () => {
    const es = await fake();
    await bulk(es, creates('logs-a-default', 'a1', 'a2', 'a3'));
    await bulk(es, creates('audit', 'b1'));
    expect((await call(es, '/logs-a-default/_count')).json).toEqual({ count: 3, _shards: { total: 1, successful: 1, skipped: 0, failed: 0 } });
    expect((await call(es, '/logs-*,audit/_count')).json.count).toBe(4);
    expect((await call(es, '/logs-a-default/_count', { body: JSON.stringify({ query: { ids: { values: ['a1', 'a3', 'zz'] } } }) })).json.count).toBe(2);
    expect((await call(es, '/nope/_count')).json).toMatchObject({ status: 404, error: { type: 'index_not_found_exception', reason: 'no such index [nope]' } });

    const found = await call(es, '/logs-a-default/_search', { body: JSON.stringify({ query: { ids: { values: ['a2', 'a3'] } }, size: 1 }) });
    expect(found.json.hits.total).toEqual({ value: 2, relation: 'eq' });
    expect(found.json.hits.hits).toEqual([{ _index: todayBacking('logs-a-default'), _id: 'a2', _score: 1, _source: event('a2') }]);
    expect((await call(es, '/audit/_search')).json.hits.hits.map((h: { _id: string }) => h._id)).toEqual(['b1']);
    expect((await call(es, '/audit/_search', { body: JSON.stringify({ query: { term: { x: 1 } } }) })).json.error.type).toBe('parsing_exception');
  });
});

describe('sockets: outages and TLS', () => {
  const isConnectionError = (e: unknown): boolean => ['ECONNREFUSED', 'ECONNRESET', 'UND_ERR_SOCKET'].includes((e as { code?: string }).code ?? '');

  it('stop refuses connections, start listens on the same port, restart is down for downMs; held data survives', async () => {
    const es = await fake();
    await bulk(es, creates('audit', 'before'));
    const port = es.port;
    await es.stop();
    await expect(bulk(es, creates('audit', 'down'))).rejects.toSatisfy(isConnectionError);
    await es.start();
    expect(es.port).toBe(port);
    const began = Date.now();
    const restarted = es.restart(100);
    await new Promise((resolve) => setTimeout(resolve, 20));
    await expect(bulk(es, creates('audit', 'during'))).rejects.toSatisfy(isConnectionError);
    await restarted;
    expect(Date.now() - began).toBeGreaterThanOrEqual(95);
    expect(statuses(await bulk(es, creates('audit', 'before', 'after')))).toEqual([409, 201]);
    expect(es.documentIds('audit')).toEqual(['before', 'after']);
  });

  it('serves https://localhost with the fixture certificate, and can require a client certificate', async () => {
    const ca = readFileSync(tlsFixture('ca.pem'));
    const tls = { certFile: tlsFixture('server.pem'), keyFile: tlsFixture('server.key') };
    const es = await fake({ tls });
    expect(es.url).toBe(`https://localhost:${es.port}`);
    const trusting = new Agent({ connect: { ca } });
    const mtls = await fake({ tls: { ...tls, caFile: tlsFixture('ca.pem'), requestCert: true } });
    const withCert = new Agent({ connect: { ca, cert: readFileSync(tlsFixture('client-1.pem')), key: readFileSync(tlsFixture('client-1.key')) } });
    try {
      expect((await bulk(es, creates('audit', 'tls'), { dispatcher: trusting })).json.errors).toBe(false);
      await expect(call(es, '/')).rejects.toMatchObject({ code: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' });
      expect((await call(mtls, '/', { dispatcher: withCert })).status).toBe(200);
      await expect(call(mtls, '/', { dispatcher: trusting })).rejects.toThrow();
    } finally {
      await Promise.all([trusting.close(), withCert.close()]);
    }
    expect(es.documentIds('audit')).toEqual(['tls']);
  });
});
