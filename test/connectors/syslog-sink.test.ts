// The syslog sink against a real rsyslog (imudp, imtcp plain and TLS, imrelp plain and TLS): conformance, hostile CEF, framing, TLS refusals, check.
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { syslogSinkSchema, type SyslogSinkConfig } from '../../connectors/syslog/config.ts';
import { createSyslogSink } from '../../connectors/syslog/sink.ts';
import { cefMapping } from '../../mappings/cef/index.ts';
import { severityOf } from '../../mappings/common/taxonomy.ts';
import type { ConnectorContext } from '../../src/contracts/connector.ts';
import type { SendOutcome } from '../../src/contracts/outcome.ts';
import type { Sink, SinkBatch, SinkRecord } from '../../src/contracts/sink.ts';
import { silentLogger } from '../../src/logging.ts';
import type { AuditEvent } from '../../src/model/audit-event.ts';
import { arbitraryCadfEvent, arbitraryConnectEvent } from '../support/arbitrary-events.ts';
import { parseCef } from '../support/cef-parser.ts';
import { tlsFixture } from '../support/connect-server.ts';
import { rsyslogAvailable, startRsyslog, type InputName, type ReceivedMessage, type Rsyslog } from '../support/rsyslog.ts';
import { describeSinkConformance, type SinkSubject } from '../support/sink-conformance.ts';
import { sinkRecord } from '../support/sink-records.ts';

const context: ConnectorContext = { logger: silentLogger(), baseDir: '/' };
const never = new AbortController().signal;
/** rsyslog takes messages up to this size here (its default is 8k), so the suite's 70 KB records fit. */
const MAX = 256 * 1024;

let rsyslog: Rsyslog;
beforeAll(async () => {
  const available = rsyslogAvailable();
  if (!available.ok) throw new Error(available.why);
  rsyslog = await startRsyslog({ udp: true, tcp: true, tls: { authMode: 'x509/certvalid' }, relp: true, relpTls: { authMode: 'certvalid' }, maxMessageSize: MAX });
}, 60_000);
afterAll(async () => rsyslog?.stop());

type Kind = 'tcp' | 'tls' | 'relp' | 'relp-tls' | 'udp';
let apps = 0;

/** A sink config for a transport, on the shared rsyslog, with its own APP-NAME so each test finds its messages. */
function configFor(kind: Kind, extra: Record<string, unknown> = {}): SyslogSinkConfig {
  const mtls = { caFile: tlsFixture('ca.pem'), certFile: tlsFixture('client-1.pem'), keyFile: tlsFixture('client-1.key'), serverName: 'localhost' };
  const base: Record<string, unknown> = {
    tcp: { transport: 'tcp', port: rsyslog.ports.tcp },
    tls: { transport: 'tls', port: rsyslog.ports.tls, tls: mtls },
    relp: { transport: 'relp', port: rsyslog.ports.relp },
    'relp-tls': { transport: 'relp', port: rsyslog.ports.relpTls, relp: { tls: true }, tls: mtls },
    udp: { transport: 'udp', port: rsyslog.ports.udp, bestEffort: true },
  }[kind] as Record<string, unknown>;
  return syslogSinkSchema.parse({ type: 'syslog', host: '127.0.0.1', appName: `t${++apps}`, timeout: '5s', ...base, ...extra });
}

const inputOf: Record<Kind, InputName> = { tcp: 'tcp', tls: 'tls', relp: 'relp', 'relp-tls': 'relp-tls', udp: 'udp' };
const mine = (config: SyslogSinkConfig) => (m: ReceivedMessage) => m.appName === config.appName || m.tag.startsWith(`${config.appName}[`);

/** Counts what a sink said it delivered, so the fixture can wait until rsyslog has written that many. */
function counting(sink: Sink): { sink: Sink; delivered: () => number } {
  let n = 0;
  const counted = (batch: SinkBatch, o: SendOutcome) => {
    if (o.status === 'delivered') n += batch.records.length;
    else if (o.status === 'partial') n += batch.records.length - o.failures.length;
    return o;
  };
  return { sink: { ...sink, strength: sink.strength, send: (b, s) => sink.send(b, s).then((o) => counted(b, o)), check: sink.check, close: sink.close }, delivered: () => n };
}

/** The bodies rsyslog wrote for a sink, once it has written as many as the sink delivered. */
async function bodies(config: SyslogSinkConfig, atLeast: number): Promise<string[]> {
  const all = await rsyslog.waitFor((ms) => ms.filter(mine(config)).length >= atLeast, 20_000, `${atLeast} messages of ${config.appName}`);
  return all.filter(mine(config)).map((m) => m.msg);
}

for (const kind of ['tcp', 'tls', 'relp', 'relp-tls'] as const) {
  describeSinkConformance(`syslog over ${kind} (rsyslog)`, {
    holds: 'records',
    failures: [],
    checkProbes: true,
    strength: kind.startsWith('relp') ? 'acknowledged' : 'accepted',
    // Only a record over maxMessageBytes is refused, each alone (a partial outcome); no fixture provokes it.
    refuses: 'item',
    async create(): Promise<SinkSubject> {
      const config = configFor(kind, { mapping: 'canonical', maxMessageBytes: MAX - 1024 });
      const { sink, delivered } = counting(createSyslogSink('syslog', config, context));
      return { sink, held: () => bodies(config, delivered()) };
    },
  });
}

function cefRecord(event: AuditEvent): SinkRecord | undefined {
  const m = cefMapping.map(event, {});
  if (m.kind !== 'mapped') return undefined;
  return { eventId: event.id, eventTime: event.time, eventType: event.type, severity: severityOf(event), value: m.value, payload: m.value, bytes: Buffer.byteLength(m.value) };
}

/** A message cut to fit: strict CEF, the same keys, each value whole or a prefix ending with the marker. */
function expectMarkedCut(received: string, sent: string, limit: number): void {
  expect(Buffer.byteLength(sent), 'only a message over the limit is cut').toBeGreaterThan(limit - 400);
  const got = parseCef(received);
  const was = parseCef(sent);
  expect([...got.extension.keys()]).toEqual([...was.extension.keys()]);
  for (const [key, value] of got.extension) {
    const original = was.extension.get(key)!;
    if (value === original) continue;
    const m = /^(.*?)…(\[truncated, \d+ chars\])?$/s.exec(value);
    expect(m !== null && original.replace(/…\[truncated, \d+ chars\]$/, '').startsWith(m[1]!), `${key} is a marked prefix`).toBe(true);
  }
}

const batchOf = (records: SinkRecord[]): SinkBatch => ({ records, bytes: records.reduce((n, r) => n + r.bytes, 0) });

describe('syslog sink: CEF through rsyslog', () => {
  const hostile = fc.sample(fc.oneof(arbitraryConnectEvent, arbitraryCadfEvent), { numRuns: 150, seed: 42 }).flatMap((e) => cefRecord(e) ?? []);

  for (const kind of ['tcp', 'tls', 'relp', 'relp-tls', 'udp'] as const) {
    it(`${kind}: hostile events arrive one message each, strict CEF, byte for byte what the mapping wrote (or its marked cut)`, async () => {
      const config = configFor(kind, kind === 'udp' ? { maxMessageBytes: 8000 } : {});
      const sink = createSyslogSink('syslog', config, context);
      try {
        // UDP has no flow control: a receive buffer that overflows drops datagrams (best-effort). Small batches,
        // each waited for, keep what is in flight far below the buffer, so this test sees the encoding alone.
        const step = kind === 'udp' ? 5 : 25;
        for (let i = 0; i < hostile.length; i += step) {
          const outcome = await sink.send(batchOf(hostile.slice(i, i + step)), never);
          expect(outcome).toEqual({ status: 'delivered' });
          if (kind === 'udp') await bodies(config, Math.min(i + step, hostile.length));
        }
        const got = await rsyslog.waitFor((ms) => ms.filter(mine(config)).length >= hostile.length, 20_000, `${hostile.length} ${kind} messages`);
        const ours = got.filter(mine(config));
        expect(ours).toHaveLength(hostile.length);
        for (const [i, m] of ours.entries()) {
          const record = hostile[i]!;
          expect(m.input).toBe(inputOf[kind]);
          expect(Buffer.byteLength(m.raw)).toBeLessThanOrEqual(config.maxMessageBytes);
          if (m.msg !== record.payload) expectMarkedCut(m.msg, record.payload, config.maxMessageBytes);
          expect(m.pri).toBe(10 * 8 + m.severity);
          expect(m.msgId).toBe(record.eventType.replace(/[^\x21-\x7e]/g, '_').slice(0, 32) || '-');
        }
      } finally {
        await sink.close();
      }
    });
  }

  it('rfc3164: rsyslog reads the host and CEF:0|… right after it, no tag in between', async () => {
    const config = configFor('tcp', { format: 'rfc3164', hostname: 'fwd-3164' });
    const sink = createSyslogSink('syslog', config, context);
    const record = hostile[0]!;
    expect(await sink.send(batchOf([record]), never)).toEqual({ status: 'delivered' });
    await sink.close();
    const [m] = await rsyslog.waitFor((ms) => ms.some((x) => x.hostname === 'fwd-3164'), 10_000, 'the rfc3164 message').then((ms) => ms.filter((x) => x.hostname === 'fwd-3164'));
    expect(m!.raw).toMatch(/^<\d+>[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d fwd-3164 CEF:0\|/);
    expect(m!.raw.endsWith(record.payload)).toBe(true);
  });

  it('over maxMessageBytes: a CEF message is cut with the marker, still strict CEF, never split', async () => {
    const big = cefRecord({ ...(fc.sample(arbitraryConnectEvent, { numRuns: 1, seed: 7 })[0]!), message: 'm'.repeat(1000), data: { blob: 'é'.repeat(3000) } })!;
    for (const kind of ['udp', 'tcp'] as const) {
      const config = configFor(kind, { maxMessageBytes: 1200 });
      const sink = createSyslogSink('syslog', config, context);
      expect(await sink.send(batchOf([big]), never)).toEqual({ status: 'delivered' });
      await sink.close();
      const [m] = await bodies(config, 1);
      expect(Buffer.byteLength(m!)).toBeLessThan(1200);
      expect(parseCef(m!).extension.get('cs5')).toMatch(/…(\[truncated, \d+ chars\])?$/);
      expect(parseCef(m!).extension.get('cs1')).toBe(parseCef(big.payload).extension.get('cs1'));
    }
  });
});

describe('syslog sink: framing', () => {
  it('octet counting: a message holding a raw LF arrives as one message with the LF in it', async () => {
    const config = configFor('tcp', { mapping: 'canonical' });
    const sink = createSyslogSink('syslog', config, context);
    const withLf = sinkRecord('lf-1', 'line one\nline two');
    expect(await sink.send(batchOf([withLf, sinkRecord('lf-2', 'after')]), never)).toEqual({ status: 'delivered' });
    await sink.close();
    expect(await bodies(config, 2)).toEqual(['line one\nline two', 'after']);
  });

  it('LF framing: messages arrive one per line; a message holding an LF is refused alone, never split', async () => {
    const config = configFor('tcp', { mapping: 'canonical', framing: 'lf' });
    const sink = createSyslogSink('syslog', config, context);
    const outcome = await sink.send(batchOf([sinkRecord('a', '{"a":1}'), sinkRecord('b', 'x\ny'), sinkRecord('c', '{"c":3}')]), never);
    expect(outcome).toEqual({ status: 'partial', failures: [expect.objectContaining({ index: 1, status: 'rejected', reason: expect.stringMatching(/line break.*octet-counting/) })] });
    await sink.close();
    expect(await bodies(config, 2)).toEqual(['{"a":1}', '{"c":3}']);
  });

  it('a JSON message over maxMessageBytes is refused alone with the reason; the others arrive', async () => {
    const config = configFor('relp', { mapping: 'canonical', maxMessageBytes: 1000 });
    const sink = createSyslogSink('syslog', config, context);
    const outcome = await sink.send(batchOf([sinkRecord('s', '{"s":1}'), sinkRecord('big', JSON.stringify({ b: 'z'.repeat(2000) }))]), never);
    expect(outcome).toEqual({ status: 'partial', failures: [expect.objectContaining({ index: 1, status: 'rejected', reason: expect.stringMatching(/over maxMessageBytes 1000/) })] });
    await sink.close();
    expect(await bodies(config, 1)).toEqual(['{"s":1}']);
  });
});

describe('syslog sink: TLS', () => {
  it('a server certificate from a CA not in tls.caFile: nothing sent, retried, and check names tls.caFile', async () => {
    for (const kind of ['tls', 'relp-tls'] as const) {
      const config = configFor(kind, { mapping: 'canonical', tls: { caFile: tlsFixture('other-ca.pem'), certFile: tlsFixture('client-1.pem'), keyFile: tlsFixture('client-1.key') } });
      const sink = createSyslogSink('syslog', config, context);
      const outcome = await sink.send(batchOf([sinkRecord('x', '{}')]), never);
      expect(outcome).toMatchObject({ status: 'retryable', reason: expect.stringMatching(/tls\.caFile/) });
      const check = await sink.check();
      expect(check.ok).toBe(false);
      expect(check.detail).toMatch(/tls\.caFile/);
      await sink.close();
    }
  });

  it('mutual TLS: without a client certificate the receiver refuses, nothing counts as delivered; with one, it arrives', async () => {
    for (const kind of ['tls', 'relp-tls'] as const) {
      const without = configFor(kind, { mapping: 'canonical', tls: { caFile: tlsFixture('ca.pem') } });
      const sink = createSyslogSink('syslog', without, context);
      const outcome = await sink.send(batchOf([sinkRecord('no-cert', '{"n":1}')]), never);
      expect(outcome.status, `${kind} without a client certificate`).toBe('retryable');
      expect((await sink.check()).detail).toMatch(/certificate/);
      await sink.close();
      const withCert = configFor(kind, { mapping: 'canonical' });
      const good = createSyslogSink('syslog', withCert, context);
      expect(await good.send(batchOf([sinkRecord('cert', '{"c":1}')]), never)).toEqual({ status: 'delivered' });
      await good.close();
      expect(await bodies(withCert, 1)).toEqual(['{"c":1}']);
    }
  });

  it('TLS to a plain port says to use transport tcp', async () => {
    const config = syslogSinkSchema.parse({ type: 'syslog', transport: 'tls', host: '127.0.0.1', port: rsyslog.ports.tcp, timeout: '3s', tls: { caFile: tlsFixture('ca.pem') } });
    const sink = createSyslogSink('syslog', config, context);
    const check = await sink.check();
    await sink.close();
    expect(check).toMatchObject({ ok: false });
    expect(check.detail).toMatch(/may not speak TLS on this port \(use transport tcp/);
  });
});

describe('syslog sink: check and strength', () => {
  it('says what it reached and what delivered means, per transport', async () => {
    const expected: Record<Kind, RegExp> = {
      tcp: /TCP connection opened.*accepted/,
      tls: /TLS handshake done, server certificate verified.*accepted/,
      relp: /RELP session opened.*acknowledged/,
      'relp-tls': /RELP session opened.*over TLS.*acknowledged/,
      udp: /UDP cannot be checked.*best-effort/,
    };
    for (const kind of Object.keys(expected) as Kind[]) {
      const sink = createSyslogSink('syslog', configFor(kind), context);
      const check = await sink.check();
      await sink.close();
      expect(check.ok, `${kind}: ${check.detail}`).toBe(true);
      expect(check.detail).toMatch(expected[kind]);
    }
  });

  it('nothing listening: check is not ok and says refused; a send is retryable', async () => {
    const config = syslogSinkSchema.parse({ type: 'syslog', transport: 'relp', host: '127.0.0.1', port: 1, timeout: '2s' });
    const sink = createSyslogSink('syslog', config, context);
    expect(await sink.check()).toMatchObject({ ok: false, detail: expect.stringMatching(/ECONNREFUSED/) });
    expect(await sink.send(batchOf([sinkRecord('r', '{}')]), never)).toMatchObject({ status: 'retryable', reason: expect.stringMatching(/ECONNREFUSED/) });
    await sink.close();
  });
});
