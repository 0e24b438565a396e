// The otlp sink against the fake OTLP receiver on real sockets (http/protobuf, http/json, gRPC): conformance, every row of the answer table, partial success, TLS, check.
import { afterAll, describe, expect, it } from 'vitest';
import { otlpSinkSchema, type OtlpSinkConfig } from '../../connectors/otlp/config.ts';
import { createOtlpSink } from '../../connectors/otlp/sink.ts';
import { otlpJsonMapping, type OtlpLogEntry } from '../../mappings/otlp/index.ts';
import type { ConnectorContext } from '../../src/contracts/connector.ts';
import type { Mapping } from '../../src/contracts/mapping.ts';
import type { SinkBatch } from '../../src/contracts/sink.ts';
import { deliverWithRetry } from '../../src/delivery/retry.ts';
import { silentLogger } from '../../src/logging.ts';
import { tlsFixture } from '../support/connect-server.ts';
import { startFakeOtlp, type FakeOtlp, type FakeOtlpOptions, type ReceivedLogRecord } from '../support/fake-otlp.ts';
import { describeSinkConformance, testBatch, type SinkSubject } from '../support/sink-conformance.ts';

const context: ConnectorContext = { logger: silentLogger(), baseDir: '/' };
const never = new AbortController().signal;
const fakes: FakeOtlp[] = [];
afterAll(async () => {
  for (const f of fakes) await f.close();
});

async function fake(options: FakeOtlpOptions = {}): Promise<FakeOtlp> {
  const f = await startFakeOtlp(options);
  fakes.push(f);
  return f;
}

type Protocol = OtlpSinkConfig['protocol'];

function configFor(f: FakeOtlp, protocol: Protocol, extra: Record<string, unknown> = {}): OtlpSinkConfig {
  return otlpSinkSchema.parse({ type: 'otlp', protocol, url: protocol === 'grpc' ? f.grpcUrl : f.httpUrl, http: { timeout: '5s' }, ...extra });
}

/** A conformance test body as one mapped OTLP entry: its event id as log.record.uid, the body text as the record's body. */
function entryOf(body: string): OtlpLogEntry {
  const { id } = JSON.parse(body) as { id: string };
  return {
    resource: { attributes: [{ key: 'service.name', value: { stringValue: 'conformance' } }] },
    scope: { name: 'audit-forwarder', version: '1' },
    logRecord: {
      timeUnixNano: '1778572800123456000',
      observedTimeUnixNano: '1778572801000000000',
      severityNumber: 9,
      severityText: 'INFO',
      body: { stringValue: body },
      eventName: 'conformance.test',
      attributes: [{ key: 'log.record.uid', value: { stringValue: id } }],
    },
  };
}

/** What the receiver holds, written back as the entry the test record was (equal text when nothing was altered). */
function heldText(r: ReceivedLogRecord): string {
  return JSON.stringify({
    resource: { attributes: Object.entries(r.resource).map(([key, v]) => ({ key, value: { stringValue: String(v) } })) },
    scope: { name: r.scope.name, version: r.scope.version },
    logRecord: {
      timeUnixNano: r.timeUnixNano,
      observedTimeUnixNano: r.observedTimeUnixNano,
      severityNumber: r.severityNumber,
      severityText: r.severityText,
      body: { stringValue: String(r.body) },
      eventName: r.eventName,
      attributes: Object.entries(r.attributes).map(([key, v]) => ({ key, value: { stringValue: String(v) } })),
    },
  } satisfies OtlpLogEntry);
}

const uidOf = (payload: string) => {
  const entry = JSON.parse(payload) as OtlpLogEntry;
  const uid = entry.logRecord.attributes.find((a) => a.key === 'log.record.uid')!.value;
  return 'stringValue' in uid ? uid.stringValue : '';
};

for (const protocol of ['http/protobuf', 'http/json', 'grpc'] as const) {
  describeSinkConformance(`otlp (${protocol})`, {
    holds: 'records',
    failures: ['retryable', 'retry-after', 'record', 'unidentified'],
    checkProbes: true,
    strength: 'acknowledged',
    refuses: 'batch',
    record: (body) => JSON.stringify(entryOf(body)),
    mapping: otlpJsonMapping as Mapping,
    eventIdOf: uidOf,
    async create(): Promise<SinkSubject> {
      const f = await startFakeOtlp();
      return {
        sink: createOtlpSink('otlp', configFor(f, protocol), context),
        held: () => Promise.resolve(f.records().map(heldText)),
        provoke: (p) => {
          if (p.kind === 'retryable') f.failNext(1, { status: 503 });
          else if (p.kind === 'retry-after') f.failNext(1, { status: 429, retryAfterSec: p.retryAfterMs / 1000 });
          else if (p.kind === 'record') f.refuseRecords((r) => r.uid === p.eventId);
          else if (p.kind === 'unidentified') f.partialNext(1, p.refused, 'records too old');
        },
        dispose: () => f.close(),
      };
    },
    async createUnusable(): Promise<SinkSubject> {
      const f = await startFakeOtlp({ headers: { authorization: 'Bearer right' } });
      return { sink: createOtlpSink('otlp', configFor(f, protocol, { auth: { bearer: 'wrong' } }), context), dispose: () => f.close() };
    },
  });
}

const batchOf = (n: number, tag = 1): SinkBatch => testBatch(tag, n, 0, (b) => JSON.stringify(entryOf(b)));

describe('otlp sink: the answer table on the wire', () => {
  for (const protocol of ['http/protobuf', 'grpc'] as const) {
    it(`${protocol}: 429/502/503/504 retried with the receiver's delay; 400 split to the bad record; 413 split; 401/403 stop; 500 stops`, async () => {
      const f = await fake();
      const sink = createOtlpSink('otlp', configFor(f, protocol), context);
      try {
        f.failNext(1, { status: 429, retryAfterSec: 2 });
        expect(await sink.send(batchOf(2, 1), never)).toMatchObject({ status: 'retryable', retryAfterMs: 2000 });
        for (const status of [502, 503, 504] as const) {
          f.failNext(1, { status });
          expect((await sink.send(batchOf(1, status), never)).status, String(status)).toBe('retryable');
        }
        f.failNext(1, { status: 400, message: 'bad attribute' });
        expect(await sink.send(batchOf(2, 2), never)).toMatchObject({ status: 'rejected', scope: 'batch', reason: expect.stringMatching(/bad attribute/) });
        f.failNext(1, { status: 413 });
        expect(await sink.send(batchOf(2, 3), never)).toMatchObject({ status: 'rejected', scope: 'batch' });
        for (const status of [401, 403, 500] as const) {
          f.failNext(1, { status });
          expect(await sink.send(batchOf(1, status), never), String(status)).toMatchObject({ status: 'rejected', scope: 'sink' });
        }
        expect(f.records()).toEqual([]);
      } finally {
        await sink.close();
      }
    });

    it(`${protocol}: a partial success dead-letters the whole batch with the receiver's message, and is never sent again`, async () => {
      const f = await fake();
      const sink = createOtlpSink('otlp', configFor(f, protocol), context);
      f.partialNext(1, 3, 'timestamps too old');
      const batch = batchOf(10, 4);
      const result = await deliverWithRetry(sink, batch, never, { policy: { initialDelayMs: 1, maxDelayMs: 2 } });
      await sink.close();
      expect(result.delivered).toBe(0);
      expect(result.rejected).toHaveLength(10);
      expect(result.rejected[0]!.reason).toMatch(/refused 3 of 10 records without saying which.*timestamps too old/);
      expect(f.requests().filter((r) => r.records > 0)).toHaveLength(1);
      expect(f.records()).toHaveLength(7);
    });

    it(`${protocol}: a bad record among good ones is dead-lettered alone through the engine's split`, async () => {
      const f = await fake();
      const sink = createOtlpSink('otlp', configFor(f, protocol), context);
      const batch = batchOf(8, 5);
      f.refuseRecords((r) => r.uid === batch.records[5]!.eventId);
      const result = await deliverWithRetry(sink, batch, never, { policy: { initialDelayMs: 1, maxDelayMs: 2 } });
      await sink.close();
      expect(result.delivered).toBe(7);
      expect(result.rejected.map((r) => r.record.eventId)).toEqual([batch.records[5]!.eventId]);
      expect(f.records().map((r) => r.uid).sort()).toEqual(batch.records.filter((_, i) => i !== 5).map((r) => r.eventId).sort());
    });
  }

  it('gzip, headers and bearer credentials are on the wire; a refused credential stops the route', async () => {
    const f = await fake({ headers: { authorization: 'Bearer t0k', 'dd-api-key': 'k3y' } });
    const sink = createOtlpSink('otlp', configFor(f, 'http/protobuf', { auth: { bearer: 't0k' }, http: { gzip: true, headers: { 'DD-API-KEY': 'k3y' } } }), context);
    expect(await sink.send(batchOf(3, 6), never)).toEqual({ status: 'delivered' });
    expect(f.requests().at(-1)).toMatchObject({ gzip: true, status: 200, records: 3 });
    await sink.close();
    const grpc = createOtlpSink('otlp', configFor(f, 'grpc', { auth: { bearer: 't0k' }, http: { gzip: true, headers: { 'DD-API-KEY': 'k3y' } } }), context);
    expect(await grpc.send(batchOf(6, 7), never)).toEqual({ status: 'delivered' });
    expect(f.requests().at(-1)).toMatchObject({ protocol: 'grpc', gzip: true, status: 'OK', records: 6 });
    await grpc.close();
    const wrong = createOtlpSink('otlp', configFor(f, 'grpc', { auth: { bearer: 'nope' } }), context);
    expect(await wrong.send(batchOf(1, 8), never)).toMatchObject({ status: 'rejected', scope: 'sink', reason: expect.stringMatching(/UNAUTHENTICATED.*auth/) });
    await wrong.close();
  });

  it('a receiver restart: no answer is retryable, and the batch goes once it is back', async () => {
    const f = await fake();
    const sink = createOtlpSink('otlp', configFor(f, 'grpc'), context);
    expect(await sink.send(batchOf(1, 9), never)).toEqual({ status: 'delivered' });
    const restarting = f.restart(300);
    const result = await deliverWithRetry(sink, batchOf(4, 10), never, { policy: { initialDelayMs: 20, maxDelayMs: 100 } });
    await restarting;
    await sink.close();
    expect(result).toMatchObject({ delivered: 4, rejected: [] });
    expect(f.records()).toHaveLength(5);
  });
});

describe('otlp sink: TLS and check', () => {
  it('mutual TLS over HTTP and gRPC; a CA that did not sign the server is refused and check names tls.caFile', async () => {
    const f = await fake({ tls: { clientCa: tlsFixture('ca.pem') } });
    const tls = { caFile: tlsFixture('ca.pem'), certFile: tlsFixture('client-1.pem'), keyFile: tlsFixture('client-1.key') };
    for (const protocol of ['http/protobuf', 'grpc'] as const) {
      const sink = createOtlpSink('otlp', configFor(f, protocol, { tls }), context);
      expect(await sink.send(batchOf(1, 11), never), protocol).toEqual({ status: 'delivered' });
      expect((await sink.check()).ok).toBe(true);
      await sink.close();
      const bad = createOtlpSink('otlp', configFor(f, protocol, { tls: { ...tls, caFile: tlsFixture('other-ca.pem') } }), context);
      expect((await bad.send(batchOf(1, 12), never)).status).toBe('retryable');
      const check = await bad.check();
      await bad.close();
      expect(check.ok).toBe(false);
      expect(check.detail).toMatch(/tls\.caFile/);
    }
  });

  it('check: an empty export request; the protocol mismatch is told apart both ways', async () => {
    const f = await fake();
    const ok = createOtlpSink('otlp', configFor(f, 'http/json'), context);
    expect(await ok.check()).toMatchObject({ ok: true, detail: expect.stringMatching(/empty export request was accepted.*acknowledged/) });
    await ok.close();
    const httpToGrpcPort = createOtlpSink('otlp', otlpSinkSchema.parse({ type: 'otlp', protocol: 'http/protobuf', url: f.grpcUrl, http: { timeout: '3s' } }), context);
    const a = await httpToGrpcPort.check();
    await httpToGrpcPort.close();
    expect(a.ok).toBe(false);
    expect(a.detail).toMatch(/set protocol: grpc/);
    const grpcToHttpPort = createOtlpSink('otlp', otlpSinkSchema.parse({ type: 'otlp', protocol: 'grpc', url: f.httpUrl, http: { timeout: '3s' } }), context);
    const b = await grpcToHttpPort.check();
    await grpcToHttpPort.close();
    expect(b.ok).toBe(false);
    expect(b.detail).toMatch(/set protocol: http\/protobuf/);
  });

  it('a 2xx that is not OTLP (a proxy page) stops the route instead of counting as delivered', async () => {
    const { startHttpServer } = await import('../support/net-servers.ts');
    const server = await startHttpServer((_req, res) => res.writeHead(200, { 'content-type': 'text/html' }).end('<html>login</html>'));
    try {
      const sink = createOtlpSink('otlp', otlpSinkSchema.parse({ type: 'otlp', protocol: 'http/json', url: server.url.replace('localhost', '127.0.0.1') }), context);
      expect(await sink.send(batchOf(1, 13), never)).toMatchObject({ status: 'rejected', scope: 'sink', reason: expect.stringMatching(/not an ExportLogsServiceResponse/) });
      await sink.close();
    } finally {
      await server.close();
    }
  });
});
