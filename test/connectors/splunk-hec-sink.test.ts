// The `splunk-hec` sink against the fake HEC on a real loopback socket: conformance, codes, acks, gzip, TLS and check.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { HEC_CODES, type HecAction } from '../../connectors/splunk-hec/classify.ts';
import { splunkHecSinkSchema, type SplunkHecSinkConfig } from '../../connectors/splunk-hec/config.ts';
import { createSplunkHecSink } from '../../connectors/splunk-hec/sink.ts';
import { splunkHecMapping } from '../../mappings/splunk-hec/index.ts';
import type { Mapping } from '../../src/contracts/mapping.ts';
import type { Sink } from '../../src/contracts/sink.ts';
import { deliverWithRetry } from '../../src/delivery/retry.ts';
import { silentLogger } from '../../src/logging.ts';
import { tlsFixture } from '../support/connect-server.ts';
import { startFakeHec, type FakeHec, type FakeHecOptions } from '../support/fake-hec.ts';
import { describeSinkConformance, testBatch, type SinkSubject } from '../support/sink-conformance.ts';

const never = new AbortController().signal;
const fastRetry = { initialDelayMs: 1, maxDelayMs: 2 };
const context = { logger: silentLogger(), baseDir: '/' };

/** A sink config as the loader would give it (defaults applied), with quick ack polling for tests. */
function hecConfig(url: string, extra: Record<string, unknown> = {}): SplunkHecSinkConfig {
  const ack = (extra['ack'] as Record<string, unknown> | undefined) ?? {};
  return splunkHecSinkSchema.parse({ type: 'splunk-hec', url, token: 'test-token', ...extra, ack: { pollInterval: '20ms', ...ack } });
}

/** The suite's JSON test records as HEC envelopes. */
const envelope = (body: string) => `{"time":1700000000.123456,"sourcetype":"test","event":${body}}`;
const eventIdOfEnvelope = (payload: string) => (JSON.parse(payload) as { event: { id: string } }).event.id;

function conformanceFixture(fakeOptions: FakeHecOptions, sinkExtra: Record<string, unknown>) {
  return {
    holds: 'records' as const,
    failures: ['retryable', 'retry-after', 'record'] as const,
    checkProbes: true,
    strength: 'accepted' as const,
    refuses: 'batch' as const,
    record: envelope,
    mapping: splunkHecMapping as Mapping,
    eventIdOf: eventIdOfEnvelope,
    async create(): Promise<SinkSubject> {
      const fake = await startFakeHec(fakeOptions);
      return {
        sink: createSplunkHecSink('hec', hecConfig(fake.url, sinkExtra), context),
        held: () => Promise.resolve(fake.events().map((e) => e.text)),
        provoke: (f) => {
          if (f.kind === 'retryable') fake.failNext(1, 500, { text: 'Internal server error', code: 8 });
          else if (f.kind === 'retry-after') fake.busy(1, { retryAfterSec: f.retryAfterMs / 1000 });
          else if (f.kind === 'record') fake.refuseEvent(f.eventId);
        },
        dispose: () => fake.close(),
      };
    },
    async createUnusable(): Promise<SinkSubject> {
      const fake = await startFakeHec(fakeOptions);
      return { sink: createSplunkHecSink('hec', hecConfig(fake.url, { ...sinkExtra, token: 'revoked-token' }), context), dispose: () => fake.close() };
    },
  };
}

describeSinkConformance('splunk-hec (indexer acknowledgement)', conformanceFixture({}, {}));
describeSinkConformance('splunk-hec (no ack on the token, gzip)', conformanceFixture({ tokens: { 'test-token': {} } }, { gzip: true }));

describe('splunk-hec sink', () => {
  const fakes: FakeHec[] = [];
  const sinks: Sink[] = [];
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'fwd-hec-'));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));
  afterEach(async () => {
    for (const s of sinks.splice(0)) await s.close();
    for (const f of fakes.splice(0)) await f.close();
  });
  const fake = async (options: FakeHecOptions = {}) => {
    const f = await startFakeHec(options);
    fakes.push(f);
    return f;
  };
  const sink = (url: string, extra: Record<string, unknown> = {}) => {
    const s = createSplunkHecSink('hec', hecConfig(url, extra), context);
    sinks.push(s);
    return s;
  };
  const batch = (b: number, n: number, padding = 0) => testBatch(b, n, padding, envelope);

  it('sends envelopes concatenated, with the token, the channel and the JSON content type', async () => {
    const f = await fake();
    const s = sink(f.url);
    expect(await s.send(batch(1, 3), never)).toEqual({ status: 'delivered' });
    const data = f.requests().filter((r) => r.path === '/services/collector/event');
    expect(data).toHaveLength(1);
    expect(data[0]).toMatchObject({ authorization: 'Splunk test-token', status: 200, events: 3 });
    expect(data[0]!.channel).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    // Every ack query is on the same channel as the data.
    const acks = f.requests().filter((r) => r.path === '/services/collector/ack');
    expect(acks.length).toBeGreaterThan(0);
    for (const a of acks) expect(a.channel).toBe(data[0]!.channel);
  });

  it('with ack, a batch is delivered only once its ack is true; an ack that never comes is resent after ack.timeout', async () => {
    const f = await fake();
    const s = sink(f.url, { ack: { timeout: '1s' } });
    f.dropAcks(1);
    const b = batch(1, 4);
    const first = await s.send(b, never);
    expect(first).toMatchObject({ status: 'retryable', reason: expect.stringContaining('no indexer acknowledgement') });
    expect(f.indexedCount()).toBe(0);
    expect(await deliverWithRetry(s, b, never, { policy: fastRetry })).toEqual({ delivered: 4, rejected: [] });
    expect(f.eventIds()).toEqual(b.records.map((r) => r.eventId));
  });

  it('a send waits while the ack is late, and ends delivered when it turns true', async () => {
    const f = await fake({ ackDelayMs: 60_000 });
    const s = sink(f.url);
    let settled = false;
    const sent = s.send(batch(1, 2), never).finally(() => (settled = true));
    // Several polls answer false.
    await expect.poll(() => f.requests().filter((r) => r.path === '/services/collector/ack').length).toBeGreaterThanOrEqual(3);
    expect(settled).toBe(false);
    f.setAckDelay(0);
    expect(await sent).toEqual({ status: 'delivered' });
  });

  it('Splunk restarting loses unacknowledged data; the sink notices (reused ack id or timeout) and sends it again', async () => {
    const f = await fake({ ackDelayMs: 60_000 });
    const s = sink(f.url, { ack: { timeout: '2s' } });
    const a = batch(1, 3);
    const sending = deliverWithRetry(s, a, never, { policy: fastRetry });
    await expect.poll(() => f.requests().some((r) => r.path === '/services/collector/event' && r.status === 200)).toBe(true);
    await f.restart(50);
    f.setAckDelay(0);
    const b = batch(2, 2);
    const [ra, rb] = await Promise.all([sending, deliverWithRetry(s, b, never, { policy: fastRetry })]);
    expect(ra.delivered + rb.delivered).toBe(5);
    expect([...new Set(f.eventIds())].sort()).toEqual([...a.records, ...b.records].map((r) => r.eventId).sort());
  });

  it('ack.mode required with a token without ack stops the route; auto delivers on HTTP 200', async () => {
    const f = await fake({ tokens: { 'test-token': {} } });
    expect(await sink(f.url, { ack: { mode: 'required' } }).send(batch(1, 1), never)).toMatchObject({
      status: 'rejected',
      scope: 'sink',
      reason: expect.stringContaining('ack.mode is required'),
    });
    expect(await sink(f.url).send(batch(2, 1), never)).toEqual({ status: 'delivered' });
    expect(await sink(f.url, { ack: { mode: 'off' } }).send(batch(3, 1), never)).toEqual({ status: 'delivered' });
  });

  it('ack.mode off counts HTTP 200 as delivered even when the token hands out ack ids', async () => {
    const f = await fake({ ackDelayMs: 60_000 });
    expect(await sink(f.url, { ack: { mode: 'off' } }).send(batch(1, 2), never)).toEqual({ status: 'delivered' });
    expect(f.requests().some((r) => r.path === '/services/collector/ack')).toBe(false);
  });

  it('invalid-event-number: that record is rejected and the others are sent again, once each', async () => {
    const f = await fake();
    const s = sink(f.url);
    const b = batch(1, 6);
    f.refuseEvent(b.records[4]!.eventId);
    const outcome = await s.send(b, never);
    expect(outcome).toMatchObject({ status: 'partial' });
    const result = await deliverWithRetry(s, b, never, { policy: fastRetry });
    expect(result.delivered).toBe(5);
    expect(result.rejected.map((r) => r.record.eventId)).toEqual([b.records[4]!.eventId]);
    expect(result.rejected[0]!.reason).toContain('code 6');
    expect(f.eventIds()).toEqual(b.records.filter((_, i) => i !== 4).map((r) => r.eventId));
  });

  it('413: the batch is split until each request fits; a single record over the limit is rejected', async () => {
    const f = await fake({ maxContentLength: 20_000 });
    const s = sink(f.url);
    const b = batch(1, 8, 3_000);
    expect(await s.send(b, never)).toMatchObject({ status: 'rejected', scope: 'batch', reason: expect.stringContaining('413') });
    const result = await deliverWithRetry(s, b, never, { policy: fastRetry });
    expect(result).toEqual({ delivered: 8, rejected: [] });
    expect([...f.eventIds()].sort()).toEqual(b.records.map((r) => r.eventId).sort());
    const huge = batch(2, 1, 30_000);
    const one = await deliverWithRetry(s, huge, never, { policy: fastRetry });
    expect(one.rejected).toHaveLength(1);
  });

  it('gzip: bodies are sent compressed and the events arrive intact', async () => {
    const f = await fake();
    const s = sink(f.url, { gzip: true });
    const b = batch(1, 20, 500);
    expect(await s.send(b, never)).toEqual({ status: 'delivered' });
    const req = f.requests().find((r) => r.path === '/services/collector/event')!;
    expect(req.contentEncoding).toBe('gzip');
    expect(req.bytes).toBeLessThan(b.bytes / 2);
    expect(f.events().map((e) => e.text)).toEqual(b.records.map((r) => r.payload));
  });

  // Every code of the HEC table, as HEC answers it, to what the sink makes of it.
  const expectedStatus: Record<HecAction, string> = { accepted: 'delivered', retry: 'retryable', route: 'rejected', records: 'rejected' };
  const errorCodes = Object.entries(HEC_CODES).filter(([, e]) => e.http !== 200);
  it.each(errorCodes)('HEC code %s → %o', async (code, entry) => {
    const f = await fake({ tokens: { 'test-token': {} } });
    const s = sink(f.url);
    f.failNext(1, entry.http, { text: entry.text, code: Number(code) });
    const outcome = await s.send(batch(1, 2), never);
    expect(outcome.status).toBe(expectedStatus[entry.action]);
    if (entry.action === 'route') expect(outcome).toMatchObject({ scope: 'sink', reason: expect.stringContaining(`code ${code}`) });
    if (entry.action === 'records') expect(outcome).toMatchObject({ scope: 'batch' });
    // The next send works: nothing stuck.
    expect(await s.send(batch(2, 1), never)).toEqual({ status: 'delivered' });
  });

  it('a 503 burst with Retry-After is waited out, nothing is dropped', async () => {
    const f = await fake();
    const s = sink(f.url);
    f.busy(5, { retryAfterSec: 0 });
    const b = batch(1, 3);
    const retries: number[] = [];
    const result = await deliverWithRetry(s, b, never, { policy: fastRetry, onRetry: (e) => retries.push(e.attempt) });
    expect(result).toEqual({ delivered: 3, rejected: [] });
    expect(retries).toHaveLength(5);
    expect(f.eventIds()).toEqual(b.records.map((r) => r.eventId));
  });

  it('a 200 that is not HEC\'s answer (a web page) is never taken as delivered: the route stops', async () => {
    const f = await fake({ tokens: { 'test-token': {} } });
    const s = sink(f.url);
    f.failNext(1, 200, { welcome: 'to nginx' });
    expect(await s.send(batch(1, 1), never)).toMatchObject({ status: 'rejected', scope: 'sink', reason: expect.stringContaining('is url a Splunk HEC endpoint') });
  });

  it('a URL where HEC is not (404) stops the route with a hint', async () => {
    const f = await fake();
    const s = sink(f.url, { path: '/services/collector/nope' });
    expect(await s.send(batch(1, 1), never)).toMatchObject({ status: 'rejected', scope: 'sink', reason: expect.stringContaining('is HEC enabled') });
  });

  it('HEC down: a send is retryable (no answer), and delivery resumes when it is back', async () => {
    const f = await fake();
    const s = sink(f.url, { timeout: '2s' });
    await f.stop();
    const outcome = await s.send(batch(1, 1), never);
    expect(outcome).toMatchObject({ status: 'retryable', reason: expect.stringContaining('ECONNREFUSED') });
    await f.start();
    expect(await s.send(batch(2, 1), never)).toEqual({ status: 'delivered' });
  });

  it('the token file is read again when it changes (rotation); the token never appears in an outcome', async () => {
    const f = await fake({ tokens: { 'old-token': { ack: true }, 'new-token': { ack: true } } });
    const file = path.join(dir, 'hec-token');
    await writeFile(file, 'old-token\n');
    const config = splunkHecSinkSchema.parse({ type: 'splunk-hec', url: f.url, tokenFile: file, ack: { pollInterval: '20ms' } });
    const s = createSplunkHecSink('hec', config, context);
    sinks.push(s);
    expect(await s.send(batch(1, 1), never)).toEqual({ status: 'delivered' });
    await writeFile(file, 'new-token\n');
    await expect.poll(async () => (await s.send(batch(2, 1), never)).status).toBe('delivered');
    await expect.poll(() => f.requests().at(-1)?.authorization ?? '').toBe('Splunk new-token');
    await writeFile(file, 'new-token\r\nsecond line\n');
    await expect.poll(async () => s.send(batch(4, 1), never)).toMatchObject({ status: 'rejected', scope: 'sink', reason: expect.stringContaining('control character') });
    expect(await s.check()).toMatchObject({ ok: false, detail: expect.stringContaining('bad token') });
    const bad = createSplunkHecSink('hec', hecConfig(f.url, { token: 'secret-value-1234' }), context);
    sinks.push(bad);
    const refused = await bad.send(batch(3, 1), never);
    expect(JSON.stringify(refused)).not.toContain('secret-value-1234');
  });

  describe('TLS', () => {
    const tls = { certFile: tlsFixture('server.pem'), keyFile: tlsFixture('server.key') };

    it('verifies the HEC certificate against tls.caFile and delivers', async () => {
      const f = await fake({ tls });
      const s = sink(f.url, { tls: { caFile: tlsFixture('ca.pem') } });
      expect(await s.send(batch(1, 2), never)).toEqual({ status: 'delivered' });
      expect((await s.check()).ok).toBe(true);
    });

    it('a certificate from an untrusted CA is refused (nothing sent), and check says TLS failure', async () => {
      const f = await fake({ tls: { certFile: tlsFixture('server-other-ca.pem'), keyFile: tlsFixture('server-other-ca.key') } });
      const s = sink(f.url, { tls: { caFile: tlsFixture('ca.pem') } });
      expect(await s.send(batch(1, 1), never)).toMatchObject({ status: 'retryable' });
      expect(f.requests()).toHaveLength(0);
      const result = await s.check();
      expect(result).toMatchObject({ ok: false, detail: expect.stringMatching(/^TLS failure/) });
    });

    it('without a CA bundle the built-in CA list is used, which does not know the test CA', async () => {
      const f = await fake({ tls });
      expect(await sink(f.url).check()).toMatchObject({ ok: false, detail: expect.stringMatching(/^TLS failure/) });
    });

    it('TLS files are read again when they change: a corrected CA bundle works without a restart', async () => {
      const f = await fake({ tls });
      const ca = path.join(dir, 'rotating-ca.pem');
      await writeFile(ca, await readFile(tlsFixture('other-ca.pem')));
      const s = sink(f.url, { tls: { caFile: ca } });
      expect(await s.send(batch(1, 1), never)).toMatchObject({ status: 'retryable' });
      await writeFile(ca, await readFile(tlsFixture('ca.pem')));
      await expect.poll(async () => (await s.send(batch(2, 1), never)).status).toBe('delivered');
      await rm(ca);
      expect(await s.send(batch(3, 1), never)).toMatchObject({ status: 'retryable', reason: expect.stringContaining('cannot read tls.caFile') });
    });

    it('sends a client certificate when HEC requires one', async () => {
      const f = await fake({ tls: { ...tls, caFile: tlsFixture('ca.pem'), requestCert: true } });
      const withCert = sink(f.url, { tls: { caFile: tlsFixture('ca.pem'), certFile: tlsFixture('client-1.pem'), keyFile: tlsFixture('client-1.key') } });
      expect(await withCert.send(batch(1, 1), never)).toEqual({ status: 'delivered' });
      const without = sink(f.url, { tls: { caFile: tlsFixture('ca.pem') } });
      expect(await without.send(batch(2, 1), never)).toMatchObject({ status: 'retryable' });
    });
  });

  describe('check', () => {
    const opts = (index?: string) => ({ routeOptions: index === undefined ? [] : [{ index }] });

    it('a working HEC: reachable, healthy, token valid, ack on, index allowed', async () => {
      const f = await fake({ tokens: { 'test-token': { ack: true, indexes: ['audit'] } } });
      const result = await sink(f.url).check(opts('audit'));
      expect(result.ok).toBe(true);
      expect(result.detail).toContain('token valid');
      expect(result.detail).toContain('indexer acknowledgement on');
      expect(result.detail).toContain('index audit allowed');
      expect(f.indexedCount()).toBe(0);
    });

    it('unreachable', async () => {
      const f = await fake();
      await f.stop();
      expect(await sink(f.url).check()).toMatchObject({ ok: false, detail: expect.stringMatching(/^unreachable: .*ECONNREFUSED/) });
    });

    it('bad token', async () => {
      const f = await fake();
      expect(await sink(f.url, { token: 'wrong' }).check()).toMatchObject({ ok: false, detail: expect.stringContaining('bad token: HEC 403 code 4') });
    });

    it('index not allowed', async () => {
      const f = await fake({ tokens: { 'test-token': { ack: true, indexes: ['audit'] } } });
      const result = await sink(f.url).check(opts('main'));
      expect(result).toMatchObject({ ok: false, detail: expect.stringContaining('index not allowed: main') });
      expect(f.indexedCount()).toBe(0);
    });

    it('ack disabled: a failure when ack.mode is required, a note when auto', async () => {
      const f = await fake({ tokens: { 'test-token': {} } });
      expect(await sink(f.url, { ack: { mode: 'required' } }).check()).toMatchObject({ ok: false, detail: expect.stringContaining('ack disabled') });
      expect(await sink(f.url).check()).toMatchObject({ ok: true, detail: expect.stringContaining('ack disabled on this token') });
    });

    it('a server that answers 200 but not as HEC does is not taken for HEC', async () => {
      const f = await fake();
      f.failNext(1, 200, { welcome: 'to nginx' });
      expect(await sink(f.url).check()).toMatchObject({ ok: false, detail: expect.stringContaining("is not HEC's answer") });
    });

    it('HEC unhealthy (queues full) is reported as not ok', async () => {
      const f = await fake();
      f.busy(1);
      expect(await sink(f.url).check()).toMatchObject({ ok: false, detail: expect.stringContaining('not healthy') });
    });
  });
});
