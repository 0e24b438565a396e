// Tests of the fake OTLP receiver itself, over real loopback sockets: requests encoded by OpenTelemetry JS's own serializers
// (@opentelemetry/otlp-transformer), sent with undici's fetch (OTLP/HTTP) and a connect-node gRPC client (OTLP/gRPC).
import { readFileSync } from 'node:fs';
import { gzipSync, deflateSync } from 'node:zlib';
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import { Code, ConnectError, createClient, type Client } from '@connectrpc/connect';
import { compressionGzip, createGrpcTransport, Http2SessionManager } from '@connectrpc/connect-node';
import { SeverityNumber } from '@opentelemetry/api';
import { JsonLogsSerializer, ProtobufLogsSerializer } from '@opentelemetry/otlp-transformer';
import { resourceFromAttributes } from '@opentelemetry/resources';
import type { ReadableLogRecord } from '@opentelemetry/sdk-logs';
import { Agent, fetch } from 'undici';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import {
  ExportLogsServiceRequestSchema,
  LogsService,
  type ExportLogsServiceRequest,
} from '../../connectors/otlp/gen/opentelemetry/proto/collector/logs/v1/logs_service_pb.js';
import { tlsFixture } from '../support/connect-server.ts';
import { RetryInfoSchema, startFakeOtlp, StatusSchema, type FakeOtlp, type FakeOtlpOptions } from '../support/fake-otlp.ts';

const PROTOBUF = 'application/x-protobuf';
const JSON_TYPE = 'application/json';

const agent = new Agent({ keepAliveTimeout: 1000 });
const fakes: FakeOtlp[] = [];
const sessions: Http2SessionManager[] = [];
const agents: Agent[] = [];

afterEach(async () => {
  for (const s of sessions.splice(0)) s.abort();
  await Promise.all(agents.splice(0).map((a) => a.close()));
  await Promise.all(fakes.splice(0).map((f) => f.close()));
});
afterAll(async () => {
  await agent.close();
});

async function fake(options?: FakeOtlpOptions): Promise<FakeOtlp> {
  const f = await startFakeOtlp(options);
  fakes.push(f);
  return f;
}

// ---- log records as the OpenTelemetry SDK hands them to an exporter ----

const resource = resourceFromAttributes({ 'service.name': 'audit-forwarder', 'service.version': '0.1.0', 'deployment.environment.name': 'test' });
const scope = { name: 'audit-forwarder.otlp', version: '0.1.0' };

function auditRecord(uid: string, over: Partial<ReadableLogRecord> = {}): ReadableLogRecord {
  return {
    hrTime: [1_700_000_000, 123_456_789],
    hrTimeObserved: [1_700_000_001, 987_654_321],
    severityNumber: SeverityNumber.INFO,
    severityText: 'INFO',
    eventName: 'cofide.audit.trust_zone.created',
    body: { message: `trust zone created (${uid})`, outcome: 'success', details: { count: 3, ratio: 0.5, tags: ['a', 'b'], ok: true } },
    resource,
    instrumentationScope: scope,
    attributes: { 'log.record.uid': uid, 'user.id': 'alice', 'client.address': '192.0.2.10', 'client.port': 443 },
    droppedAttributesCount: 0,
    ...over,
  };
}

const batch = (...uids: string[]): ReadableLogRecord[] => uids.map((u) => auditRecord(u));
const protobufBody = (records: ReadableLogRecord[]): Uint8Array => ProtobufLogsSerializer.serializeRequest(records)!;
const jsonBody = (records: ReadableLogRecord[]): string => Buffer.from(JsonLogsSerializer.serializeRequest(records)!).toString('utf8');
const grpcRequest = (records: ReadableLogRecord[]): ExportLogsServiceRequest => fromBinary(ExportLogsServiceRequestSchema, protobufBody(records));

// ---- clients ----

interface Reply {
  status: number;
  headers: Headers;
  body: Buffer;
}

async function post(
  otlp: FakeOtlp,
  body: Uint8Array | string,
  options: { type?: string | null; gzip?: boolean; headers?: Record<string, string>; dispatcher?: Agent; path?: string; method?: string } = {},
): Promise<Reply> {
  const headers: Record<string, string> = { ...options.headers };
  const type = options.type === undefined ? (typeof body === 'string' ? JSON_TYPE : PROTOBUF) : options.type;
  if (type !== null) headers['content-type'] = type;
  let payload: Uint8Array | string = body;
  if (options.gzip === true) {
    payload = gzipSync(body);
    headers['content-encoding'] = 'gzip';
  }
  const method = options.method ?? 'POST';
  const res = await fetch(`${otlp.httpUrl}${options.path ?? '/v1/logs'}`, {
    method,
    headers,
    ...(method === 'GET' ? {} : { body: payload }),
    dispatcher: options.dispatcher ?? agent,
  });
  return { status: res.status, headers: res.headers, body: Buffer.from(await res.arrayBuffer()) };
}

/** The google.rpc.Status of a failure, decoded per its content type. */
function statusOf(reply: Reply): { code: number; message: string } {
  if (reply.headers.get('content-type') === JSON_TYPE) return JSON.parse(reply.body.toString('utf8')) as { code: number; message: string };
  const s = fromBinary(StatusSchema, reply.body) as unknown as { code: number; message: string };
  return { code: s.code, message: s.message };
}

function grpc(url: string, options: { nodeOptions?: Record<string, unknown>; gzip?: boolean } = {}): Client<typeof LogsService> {
  const session = new Http2SessionManager(url, {}, options.nodeOptions ?? {});
  sessions.push(session);
  const transport = createGrpcTransport({
    baseUrl: url,
    sessionManager: session,
    ...(options.gzip === true ? { sendCompression: compressionGzip, compressMinBytes: 0 } : {}),
  });
  return createClient(LogsService, transport);
}

async function grpcError(call: Promise<unknown>): Promise<ConnectError> {
  try {
    await call;
  } catch (e) {
    return ConnectError.from(e);
  }
  throw new Error('the call succeeded');
}

const EXPECTED = {
  resource: { 'service.name': 'audit-forwarder', 'service.version': '0.1.0', 'deployment.environment.name': 'test' },
  scope: { name: 'audit-forwarder.otlp', version: '0.1.0', attributes: {} },
  timeUnixNano: '1700000000123456789',
  observedTimeUnixNano: '1700000001987654321',
  severityNumber: 9,
  severityText: 'INFO',
  eventName: 'cofide.audit.trust_zone.created',
  traceId: '',
  spanId: '',
  flags: 0,
};

const expected = (uid: string) => ({
  ...EXPECTED,
  body: { message: `trust zone created (${uid})`, outcome: 'success', details: { count: 3, ratio: 0.5, tags: ['a', 'b'], ok: true } },
  attributes: { 'log.record.uid': uid, 'user.id': 'alice', 'client.address': '192.0.2.10', 'client.port': 443 },
  uid,
});

describe('fake OTLP receiver', () => {
  it('decodes OTLP/HTTP protobuf and JSON and OTLP/gRPC to the records that were sent', async () => {
    const otlp = await fake();
    const spanContext = { traceId: '5b8efff798038103d269b633813fc60c', spanId: 'eee19b7ec3c1b174', traceFlags: 1 };

    const proto = await post(otlp, protobufBody([auditRecord('p1'), auditRecord('p2', { spanContext })]));
    expect(proto.status).toBe(200);
    expect(proto.headers.get('content-type')).toBe(PROTOBUF);
    expect(proto.body.length).toBe(0); // empty ExportLogsServiceResponse
    expect(ProtobufLogsSerializer.deserializeResponse(proto.body)).toEqual({});

    const json = await post(otlp, jsonBody([auditRecord('j1'), auditRecord('j2', { spanContext })]));
    expect(json.status).toBe(200);
    expect(json.headers.get('content-type')).toBe(JSON_TYPE);
    expect(json.body.toString()).toBe('{}');

    const response = await grpc(otlp.grpcUrl).export(grpcRequest([auditRecord('g1'), auditRecord('g2', { spanContext })]));
    expect(response.partialSuccess).toBeUndefined();

    const got = otlp.records();
    expect(got.map((r) => r.uid)).toEqual(['p1', 'p2', 'j1', 'j2', 'g1', 'g2']);
    expect(got.map((r) => r.protocol)).toEqual(['http/protobuf', 'http/protobuf', 'http/json', 'http/json', 'grpc', 'grpc']);
    for (const r of got) {
      const traced = r.uid!.endsWith('2');
      expect(r).toMatchObject({
        ...expected(r.uid!),
        ...(traced ? { traceId: spanContext.traceId, spanId: spanContext.spanId, flags: 1 } : {}),
      });
    }
    // intValue and doubleValue stay apart in the raw message.
    const port = got[0]!.raw.attributes.find((a) => a.key === 'client.port')!;
    expect(port.value?.value.case).toBe('intValue');
    expect(otlp.requests().map((q) => [q.protocol, q.status, q.records, q.accepted])).toEqual([
      ['http/protobuf', 200, 2, 2],
      ['http/json', 200, 2, 2],
      ['grpc', 'OK', 2, 2],
    ]);
  });

  it('takes gzip bodies on HTTP and gzip messages on gRPC, and answers an empty request with success', async () => {
    const otlp = await fake();
    expect((await post(otlp, protobufBody(batch('a')), { gzip: true })).status).toBe(200);
    expect((await post(otlp, jsonBody(batch('b')), { gzip: true })).status).toBe(200);
    await grpc(otlp.grpcUrl, { gzip: true }).export(grpcRequest(batch('c')));
    expect((await post(otlp, ProtobufLogsSerializer.serializeRequest([])!)).status).toBe(200);
    expect(otlp.records().map((r) => r.uid)).toEqual(['a', 'b', 'c']);
    expect(otlp.requests().map((q) => q.gzip)).toEqual([true, true, true, false]);
    expect(otlp.records()[1]).toMatchObject(expected('b'));
  });

  it('answers partial success with the count and message, keeping the first (total − rejected) records', async () => {
    const otlp = await fake();
    otlp.partialNext(1, 2, 'two refused');
    const proto = await post(otlp, protobufBody(batch('a1', 'a2', 'a3', 'a4', 'a5')));
    expect(proto.status).toBe(200);
    expect(ProtobufLogsSerializer.deserializeResponse(proto.body)).toEqual({ partialSuccess: { rejectedLogRecords: 2, errorMessage: 'two refused' } });

    otlp.partialNext(1, (n) => n - 1);
    const json = await post(otlp, jsonBody(batch('b1', 'b2', 'b3')));
    // int64 is a string in JSON: OpenTelemetry's JSON deserializer hands it over as such.
    expect(JsonLogsSerializer.deserializeResponse(json.body)).toEqual({ partialSuccess: { rejectedLogRecords: '2', errorMessage: 'fake OTLP: some log records were rejected' } });

    otlp.partialNext(1, 0, 'a warning only');
    const res = await grpc(otlp.grpcUrl).export(grpcRequest(batch('c1', 'c2')));
    expect(res.partialSuccess?.rejectedLogRecords).toBe(0n);
    expect(res.partialSuccess?.errorMessage).toBe('a warning only');

    expect((await post(otlp, protobufBody(batch('d1')))).body.length).toBe(0); // the script is used up
    expect(otlp.records().map((r) => r.uid)).toEqual(['a1', 'a2', 'a3', 'b1', 'c1', 'c2', 'd1']);
    expect(otlp.requests().map((q) => [q.records, q.accepted, q.message])).toEqual([
      [5, 3, 'two refused'],
      [3, 1, 'fake OTLP: some log records were rejected'],
      [2, 2, 'a warning only'],
      [1, 1, ''],
    ]);
  });

  it('plays scripted failures FIFO over both ports, with Retry-After and RetryInfo, keeping nothing of them', async () => {
    const otlp = await fake();
    otlp.failNext(1, { status: 503, retryAfterSec: 7 });
    otlp.failNext(1, { status: 429 });
    otlp.failNext(1, { status: 400 });
    otlp.failNext(1, { status: 503, retryAfterSec: 2 });

    const busy = await post(otlp, protobufBody(batch('x1')));
    expect(busy.status).toBe(503);
    expect(busy.headers.get('retry-after')).toBe('7');
    expect(busy.headers.get('content-type')).toBe(PROTOBUF);
    expect(statusOf(busy)).toEqual({ code: Code.Unavailable, message: 'fake OTLP: scripted unavailable' });

    const throttled = await grpcError(grpc(otlp.grpcUrl).export(grpcRequest(batch('x2'))));
    expect(throttled.code).toBe(Code.ResourceExhausted);
    const [info] = throttled.findDetails(RetryInfoSchema) as { retryDelay?: unknown }[];
    expect(info).toBeDefined(); // RetryInfo present: retryable
    expect(info!.retryDelay).toBeUndefined();

    const bad = await post(otlp, jsonBody(batch('x3')));
    expect(bad.status).toBe(400);
    expect(bad.headers.get('content-type')).toBe(JSON_TYPE);
    expect(bad.headers.get('retry-after')).toBeNull();
    expect(statusOf(bad)).toEqual({ code: Code.InvalidArgument, message: 'fake OTLP: scripted bad request' });

    const unavailable = await grpcError(grpc(otlp.grpcUrl).export(grpcRequest(batch('x4'))));
    expect(unavailable.code).toBe(Code.Unavailable);
    const [delay] = unavailable.findDetails(RetryInfoSchema) as { retryDelay?: { seconds: bigint; nanos: number } }[];
    expect(delay?.retryDelay?.seconds).toBe(2n);

    expect((await post(otlp, protobufBody(batch('ok')))).status).toBe(200);
    expect(otlp.records().map((r) => r.uid)).toEqual(['ok']);
    expect(otlp.requests().map((q) => q.status)).toEqual([503, 'RESOURCE_EXHAUSTED', 400, 'UNAVAILABLE', 200]);
  });

  it('maps every scripted HTTP status to its gRPC code', async () => {
    const otlp = await fake();
    const client = grpc(otlp.grpcUrl);
    const table = [
      [400, Code.InvalidArgument, false],
      [401, Code.Unauthenticated, false],
      [403, Code.PermissionDenied, false],
      [413, Code.ResourceExhausted, false],
      [429, Code.ResourceExhausted, true],
      [500, Code.Internal, false],
      [502, Code.Unavailable, false],
      [503, Code.Unavailable, false],
      [504, Code.Unavailable, false],
    ] as const;
    for (const [status, code, retryInfo] of table) {
      otlp.failNext(1, { status });
      const e = await grpcError(client.export(grpcRequest(batch('x'))));
      expect([status, e.code, e.findDetails(RetryInfoSchema).length > 0]).toEqual([status, code, retryInfo]);
      otlp.failNext(1, { status });
      const reply = await post(otlp, protobufBody(batch('y')));
      expect([status, reply.status, statusOf(reply).code]).toEqual([status, status, code]);
    }
    expect(otlp.records()).toEqual([]);
  });

  it('refuses what a strict OTLP/JSON reader refuses: snake_case keys, enum names, non-hex ids — and ignores unknown fields', async () => {
    const otlp = await fake();
    const spanContext = { traceId: '5B8EFFF798038103D269B633813FC60C', spanId: 'EEE19B7EC3C1B174', traceFlags: 1 };
    const base = (): { resourceLogs: { scopeLogs: { logRecords: Record<string, unknown>[] }[] }[] } =>
      JSON.parse(jsonBody([auditRecord('j', { spanContext })])) as never;
    const first = (doc: ReturnType<typeof base>): Record<string, unknown> => doc.resourceLogs[0]!.scopeLogs[0]!.logRecords[0]!;

    const snake = base();
    first(snake).time_unix_nano = first(snake).timeUnixNano;
    delete first(snake).timeUnixNano;
    const snakeReply = await post(otlp, JSON.stringify(snake));
    expect(snakeReply.status).toBe(400);
    expect(statusOf(snakeReply).message).toContain('lowerCamelCase ("timeUnixNano")');

    const topSnake = JSON.stringify({ resource_logs: base().resourceLogs });
    expect((await post(otlp, topSnake)).status).toBe(400);

    const named = base();
    first(named).severityNumber = 'SEVERITY_NUMBER_INFO';
    const namedReply = await post(otlp, JSON.stringify(named));
    expect(namedReply.status).toBe(400);
    expect(statusOf(namedReply).message).toContain('enums are integers');

    const base64Id = base();
    first(base64Id).traceId = Buffer.from(spanContext.traceId, 'hex').toString('base64');
    expect((await post(otlp, JSON.stringify(base64Id))).status).toBe(400);

    const lenient = base();
    first(lenient).someFutureField = { nested: true };
    first(lenient).timeUnixNano = 1_700_000_000_123; // int64 as a JSON number: accepted
    expect((await post(otlp, JSON.stringify(lenient))).status).toBe(200);

    expect(otlp.records()).toHaveLength(1);
    expect(otlp.records()[0]).toMatchObject({ uid: 'j', timeUnixNano: '1700000000123', traceId: spanContext.traceId.toLowerCase(), spanId: spanContext.spanId.toLowerCase() });
    expect(otlp.requests().map((q) => q.status)).toEqual([400, 400, 400, 400, 200]);
  });

  it('answers 400 to bodies that do not decode and to repeated attribute keys, 415 to other content types and encodings', async () => {
    const otlp = await fake();
    expect((await post(otlp, Buffer.from([0x0a, 0x05, 0x01]))).status).toBe(400); // truncated length-delimited field
    expect((await post(otlp, '{"resourceLogs": [')).status).toBe(400);
    expect((await post(otlp, Buffer.from('not gzip at all'), { type: PROTOBUF, headers: { 'content-encoding': 'gzip' } })).status).toBe(400);

    const dup = grpcRequest(batch('dup'));
    const rec = dup.resourceLogs[0]!.scopeLogs[0]!.logRecords[0]!;
    rec.attributes.push(rec.attributes[0]!);
    const dupReply = await post(otlp, toBinary(ExportLogsServiceRequestSchema, dup));
    expect(dupReply.status).toBe(400);
    expect(statusOf(dupReply).message).toContain('appears twice');

    const text = await post(otlp, jsonBody(batch('t')), { type: 'text/plain' });
    expect(text.status).toBe(415);
    expect(text.headers.get('content-type')).toBe(PROTOBUF);
    expect((await post(otlp, protobufBody(batch('n')), { type: null })).status).toBe(415);
    expect((await post(otlp, deflateSync(protobufBody(batch('d'))), { headers: { 'content-encoding': 'deflate' } })).status).toBe(415);
    expect((await post(otlp, jsonBody(batch('charset')), { type: 'application/json; charset=utf-8' })).status).toBe(200);

    expect((await post(otlp, protobufBody(batch('traces')), { path: '/v1/traces' })).status).toBe(404);
    expect((await post(otlp, '', { method: 'GET' })).status).toBe(405);
    expect(otlp.records().map((r) => r.uid)).toEqual(['charset']);
  });

  it('answers 413 / RESOURCE_EXHAUSTED over maxRequestBytes, counting gunzipped bytes', async () => {
    const otlp = await fake();
    const records = batch('1', '2', '3', '4', '5');
    const body = protobufBody(records);
    otlp.maxRequestBytes(body.length - 1);
    expect(gzipSync(body).length).toBeLessThan(body.length - 1);
    const tooBig = await post(otlp, body, { gzip: true });
    expect(tooBig.status).toBe(413);
    expect(statusOf(tooBig).code).toBe(Code.ResourceExhausted);
    otlp.maxRequestBytes(body.length);
    expect((await post(otlp, body, { gzip: true })).status).toBe(200);

    // gRPC counts the message as protobuf-es re-encodes it: OpenTelemetry JS also writes some zero fields, a few bytes more.
    const message = grpcRequest(records);
    const size = toBinary(ExportLogsServiceRequestSchema, message).length;
    expect(size).toBeLessThanOrEqual(body.length);
    otlp.maxRequestBytes(size - 1);
    const e = await grpcError(grpc(otlp.grpcUrl, { gzip: true }).export(message));
    expect(e.code).toBe(Code.ResourceExhausted);
    expect(e.findDetails(RetryInfoSchema)).toEqual([]); // not retryable
    otlp.maxRequestBytes(size);
    await grpc(otlp.grpcUrl).export(message);
    expect(otlp.records()).toHaveLength(10);
    expect(otlp.requests().map((q) => q.status)).toEqual([413, 200, 'RESOURCE_EXHAUSTED', 'OK']);
  });

  it('refuses a whole request holding a refused record', async () => {
    const otlp = await fake();
    otlp.refuseRecords((r) => r.uid === 'bad');
    expect((await post(otlp, protobufBody(batch('ok1', 'bad', 'ok2')))).status).toBe(400);
    expect((await grpcError(grpc(otlp.grpcUrl).export(grpcRequest(batch('bad'))))).code).toBe(Code.InvalidArgument);
    expect((await post(otlp, jsonBody(batch('ok3'))))).toMatchObject({ status: 200 });
    otlp.refuseRecords(null);
    expect((await post(otlp, jsonBody(batch('bad'))))).toMatchObject({ status: 200 });
    expect(otlp.records().map((r) => r.uid)).toEqual(['ok3', 'bad']);
    expect(otlp.requests().map((q) => [q.records, q.accepted])).toEqual([[3, 0], [1, 0], [1, 1], [1, 1]]);
  });

  it('requires the configured headers (401 / UNAUTHENTICATED) before playing its scripts', async () => {
    const otlp = await fake({ headers: { authorization: 'Bearer t' } });
    otlp.failNext(1, { status: 503 });
    const anonymous = await post(otlp, protobufBody(batch('a')));
    expect(anonymous.status).toBe(401);
    expect(statusOf(anonymous).code).toBe(Code.Unauthenticated);
    expect((await post(otlp, protobufBody(batch('b')), { headers: { authorization: 'Bearer wrong' } })).status).toBe(401);
    expect((await post(otlp, protobufBody(batch('c')), { headers: { authorization: 'Bearer t' } })).status).toBe(503);
    expect((await post(otlp, protobufBody(batch('d')), { headers: { Authorization: 'Bearer t' } })).status).toBe(200);

    const client = grpc(otlp.grpcUrl);
    expect((await grpcError(client.export(grpcRequest(batch('e'))))).code).toBe(Code.Unauthenticated);
    await client.export(grpcRequest(batch('f')), { headers: { authorization: 'Bearer t' } });

    expect(otlp.records().map((r) => r.uid)).toEqual(['d', 'f']);
    expect(otlp.requests().map((q) => q.headers.authorization)).toEqual([undefined, 'Bearer wrong', 'Bearer t', 'Bearer t', undefined, 'Bearer t']);
  });

  it('serves https and h2 with the fixture certificate, and requires a client certificate with clientCa', async () => {
    const ca = readFileSync(tlsFixture('ca.pem'));
    const cert = readFileSync(tlsFixture('client-1.pem'));
    const key = readFileSync(tlsFixture('client-1.key'));
    const trusting = new Agent({ connect: { ca } });
    const withCert = new Agent({ connect: { ca, cert, key } });
    agents.push(trusting, withCert);

    const tls = await fake({ tls: {} });
    expect(tls.httpUrl).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    expect(tls.grpcUrl).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    expect((await post(tls, protobufBody(batch('tls-http')), { dispatcher: trusting })).status).toBe(200);
    await grpc(tls.grpcUrl, { nodeOptions: { ca } }).export(grpcRequest(batch('tls-grpc')));
    expect(tls.records().map((r) => r.uid)).toEqual(['tls-http', 'tls-grpc']);

    const mutual = await fake({ tls: { clientCa: tlsFixture('ca.pem') } });
    await expect(post(mutual, protobufBody(batch('no-cert')), { dispatcher: trusting })).rejects.toThrow();
    expect((await post(mutual, protobufBody(batch('m-http')), { dispatcher: withCert })).status).toBe(200);
    await expect(grpc(mutual.grpcUrl, { nodeOptions: { ca } }).export(grpcRequest(batch('no-cert')))).rejects.toThrow();
    await grpc(mutual.grpcUrl, { nodeOptions: { ca, cert, key } }).export(grpcRequest(batch('m-grpc')));
    expect(mutual.records().map((r) => r.uid)).toEqual(['m-http', 'm-grpc']);
  });

  it('restarts on the same ports, refusing connections while down and keeping what it had accepted', async () => {
    const otlp = await fake();
    const client = grpc(otlp.grpcUrl);
    expect((await post(otlp, protobufBody(batch('before')))).status).toBe(200);
    await client.export(grpcRequest(batch('before-grpc')));

    const restarted = otlp.restart(300);
    await new Promise((resolve) => setTimeout(resolve, 50));
    await expect(post(otlp, protobufBody(batch('down')))).rejects.toThrow();
    await restarted;

    expect((await post(otlp, protobufBody(batch('after')))).status).toBe(200);
    await grpc(otlp.grpcUrl).export(grpcRequest(batch('after-grpc')));
    expect(otlp.records().map((r) => r.uid)).toEqual(['before', 'before-grpc', 'after', 'after-grpc']);
  });

  it('decodes what protobuf-es encodes too (status bodies and requests built by hand)', async () => {
    const otlp = await fake();
    const req = create(ExportLogsServiceRequestSchema, {
      resourceLogs: [
        {
          resource: { attributes: [{ key: 'service.name', value: { value: { case: 'stringValue', value: 'svc' } } }] },
          scopeLogs: [
            {
              scope: { name: 's' },
              logRecords: [
                {
                  timeUnixNano: 1n,
                  eventName: 'e',
                  body: { value: { case: 'intValue', value: 2n ** 60n } },
                  attributes: [{ key: 'empty', value: {} }, { key: 'bytes', value: { value: { case: 'bytesValue', value: new Uint8Array([1, 2]) } } }],
                },
              ],
            },
          ],
        },
      ],
    });
    expect((await post(otlp, toBinary(ExportLogsServiceRequestSchema, req))).status).toBe(200);
    const [r] = otlp.records();
    expect(r).toMatchObject({ resource: { 'service.name': 'svc' }, timeUnixNano: '1', observedTimeUnixNano: '0', eventName: 'e', body: 2n ** 60n, uid: undefined });
    expect(r!.attributes).toEqual({ empty: null, bytes: new Uint8Array([1, 2]) });
  });
});
