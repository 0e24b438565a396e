// The syslog encoder: RFC 5424 / 3164 headers, CEF cut to the size limit without forging or splitting anything, framing.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { buildMessage, fitCef, frame, framedBytes, headerOf, msgIdOf, syslogSeverity, type MessageSettings } from '../../connectors/syslog/encoder.ts';
import { syslogSinkSchema } from '../../connectors/syslog/config.ts';
import { escapeExtension, escapeHeader } from '../../mappings/cef/escape.ts';
import { cefMapping } from '../../mappings/cef/index.ts';
import { severityOf } from '../../mappings/common/taxonomy.ts';
import type { SinkRecord } from '../../src/contracts/sink.ts';
import type { AuditEvent } from '../../src/model/audit-event.ts';
import { arbitraryCadfEvent, arbitraryConnectEvent } from '../support/arbitrary-events.ts';
import { parseCef } from '../support/cef-parser.ts';
import { connectEvent } from '../support/events.ts';
import { sinkRecord } from '../support/sink-records.ts';

const RUNS = Number(process.env.SYSLOG_PROPERTY_RUNS ?? 400);

function cefRecord(event: AuditEvent): SinkRecord | undefined {
  const m = cefMapping.map(event, {});
  if (m.kind !== 'mapped') return undefined;
  return { eventId: event.id, eventTime: event.time, eventType: event.type, severity: severityOf(event), value: m.value, payload: m.value, bytes: Buffer.byteLength(m.value) };
}

const settings = (over: Partial<MessageSettings> = {}): MessageSettings => ({
  format: 'rfc5424',
  facility: 10,
  hostname: 'fwd-1.example.com',
  appName: 'audit-forwarder',
  procId: '4242',
  maxMessageBytes: 8192,
  cef: true,
  ...over,
});

/** The original value before escaping, and a cut one: the cut keeps a prefix and ends with the marker. */
function expectCutOf(cut: string, original: string): void {
  if (cut === original) return;
  const m = /^(.*?)…(\[truncated, (\d+) chars\])?$/s.exec(cut);
  expect(m, `cut value ${JSON.stringify(cut.slice(-40))} has no marker`).not.toBeNull();
  const prefix = m![1]!;
  const before = original.replace(/…\[truncated, \d+ chars\]$/, '');
  expect(before.startsWith(prefix), 'a cut keeps the start of the value').toBe(true);
}

const events = fc.oneof(arbitraryConnectEvent, arbitraryCadfEvent);

const KEPT = /^(rt|cn\d|src|c6a\d|externalId|.*Label)$/;

/** Bytes of the shortest cut: the header and the kept pairs whole, every other value down to `…`. */
function smallestCut(p: ReturnType<typeof parseCef>): number {
  const header = `CEF:${p.version}|${[p.vendor, p.product, p.deviceVersion, p.signatureId, p.name].map(escapeHeader).join('|')}|${p.severity}|`;
  const pairs = [...p.extension].map(([k, v]) => `${k}=${KEPT.test(k) ? escapeExtension(v) : '…'}`);
  return Buffer.byteLength(header + pairs.join(' '));
}

describe('fitCef', () => {
  it('any mapped event, any budget: within the budget, strict CEF, the same keys in the same order, kept keys whole, cut values marked', () => {
    fc.assert(
      fc.property(events, fc.integer({ min: 300, max: 9000 }), (event, budget) => {
        const record = cefRecord(event);
        if (record === undefined) return;
        const fitted = fitCef(record.payload, budget);
        const before = parseCef(record.payload);
        if (fitted === undefined) {
          expect(budget, 'refused only for a budget below the fixed fields').toBeLessThan(smallestCut(before));
          return;
        }
        expect(Buffer.byteLength(fitted)).toBeLessThanOrEqual(budget);
        const after = parseCef(fitted);
        expect([after.vendor, after.product, after.deviceVersion, after.signatureId, after.name, after.severity]).toEqual([
          before.vendor, before.product, before.deviceVersion, before.signatureId, before.name, before.severity,
        ]);
        expect([...after.extension.keys()]).toEqual([...before.extension.keys()]);
        for (const [key, value] of after.extension) {
          const original = before.extension.get(key)!;
          if (KEPT.test(key)) expect(value, key).toBe(original);
          else expectCutOf(value, original);
        }
      }),
      { numRuns: RUNS },
    );
  });

  it('cuts the largest text values first and leaves the event id (cs1) alone while others can give', () => {
    const event = connectEvent({ message: 'm'.repeat(900), data: { blob: 'x'.repeat(3000) } });
    const record = cefRecord(event)!;
    const fitted = fitCef(record.payload, 2500)!;
    const p = parseCef(fitted);
    expect(Buffer.byteLength(fitted)).toBeLessThanOrEqual(2500);
    expect(p.extension.get('cs1')).toBe(event.id);
    expect(p.extension.get('cs5')).toMatch(/…\[truncated, \d+ chars\]$/);
    expect(p.extension.get('msg')).toBe('m'.repeat(900));
  });

  it('never cuts inside an escape or a UTF-8 sequence: every cut of a value full of them still parses', () => {
    const nasty = '\\=é🚀\n'.repeat(800);
    const record = cefRecord(connectEvent({ message: nasty, data: { s: nasty } }))!;
    for (let budget = 900; budget < 2000; budget += 7) {
      const fitted = fitCef(record.payload, budget);
      expect(fitted, `budget ${budget}`).toBeDefined();
      expect(Buffer.from(fitted!).toString('utf8')).toBe(fitted); // valid UTF-8 all along
      expect(() => parseCef(fitted!)).not.toThrow();
      expect(Buffer.byteLength(fitted!)).toBeLessThanOrEqual(budget);
    }
  });
});

describe('syslog messages', () => {
  it('any event, any limit: the message is within maxMessageBytes and its byte count is exact', () => {
    fc.assert(
      fc.property(events, fc.integer({ min: 480, max: 9000 }), fc.constantFrom('rfc5424', 'rfc3164') as fc.Arbitrary<'rfc5424' | 'rfc3164'>, (event, max, format) => {
        const record = cefRecord(event);
        if (record === undefined) return;
        const built = buildMessage(record, settings({ maxMessageBytes: max, format }));
        if (!built.ok) return;
        expect(built.bytes).toBe(Buffer.byteLength(built.text));
        expect(built.bytes).toBeLessThanOrEqual(max);
      }),
      { numRuns: RUNS },
    );
  });

  it('RFC 5424: PRI from the facility and the event severity, the event time, MSGID the event type, no structured data', () => {
    const record = cefRecord(connectEvent({ time: '2026-05-12T07:59:16.123456Z' }))!;
    const header = headerOf(record, settings());
    expect(header).toBe(`<${10 * 8 + syslogSeverity(record.severity)}>1 2026-05-12T07:59:16.123456Z fwd-1.example.com audit-forwarder 4242 trust_zone_creation - `);
  });

  it('RFC 3164: `<PRI>Mmm dd hh:mm:ss host CEF:0|…` with no tag before CEF; a JSON body gets the tag', () => {
    const record = cefRecord(connectEvent({ time: '2026-05-02T07:09:16.000000Z' }))!;
    const built = buildMessage(record, settings({ format: 'rfc3164' }));
    expect(built.ok && built.text).toMatch(/^<\d+>May  2 07:09:16 fwd-1\.example\.com CEF:0\|Cofide\|/);
    const json = sinkRecord('e1', '{"a":1}');
    const jbuilt = buildMessage(json, settings({ format: 'rfc3164', cef: false }));
    expect(jbuilt.ok && jbuilt.text).toBe('<86>May 12 07:59:16 fwd-1.example.com audit-forwarder[4242]: {"a":1}');
  });

  it('severity bands: low → informational, medium → notice, high → warning, very high → critical', () => {
    expect([0, 3, 4, 6, 7, 8, 9, 10].map(syslogSeverity)).toEqual([6, 6, 5, 5, 4, 4, 2, 2]);
  });

  it('MSGID: printable US-ASCII, at most 32 characters, `-` when empty', () => {
    expect(msgIdOf('iam-identity.apikey.create')).toBe('iam-identity.apikey.create');
    expect(msgIdOf('a b\u00e9\n')).toBe('a_b__');
    expect(msgIdOf('x'.repeat(40))).toHaveLength(32);
    expect(msgIdOf('')).toBe('-');
  });

  it('a message never exceeds maxMessageBytes: CEF is cut, JSON too long is refused with the reason', () => {
    const record = cefRecord(connectEvent({ data: { blob: 'y'.repeat(5000) } }))!;
    const built = buildMessage(record, settings({ maxMessageBytes: 1472 }));
    expect(built.ok).toBe(true);
    if (built.ok) {
      expect(built.bytes).toBe(Buffer.byteLength(built.text));
      expect(built.bytes).toBeLessThanOrEqual(1472);
      expect(built.cut).toBe(true);
      const body = built.text.replace(/^<\d+>1 \S+ \S+ \S+ \S+ \S+ - /, '');
      expect(() => parseCef(body)).not.toThrow();
    }
    const json = sinkRecord('e2', JSON.stringify({ blob: 'z'.repeat(3000) }));
    const refused = buildMessage(json, settings({ cef: false, maxMessageBytes: 1472 }));
    expect(refused).toMatchObject({ ok: false, reason: expect.stringMatching(/over maxMessageBytes 1472.*cannot be cut/) });
  });

  it('framing: octet counting counts bytes (an LF inside stays inside), LF framing appends one', () => {
    const msg = '<86>1 - h a - - - é\nx';
    expect(frame(msg, Buffer.byteLength(msg), 'octet-counting')).toBe(`${Buffer.byteLength(msg)} <86>1 - h a - - - é\nx`);
    expect(Buffer.byteLength(msg)).toBe(msg.length + 1); // é is two bytes: the count is bytes, not characters
    expect(frame('m', 1, 'lf')).toBe('m\n');
  });
});

describe('syslog configuration', () => {
  const parse = (c: Record<string, unknown>) => syslogSinkSchema.safeParse({ type: 'syslog', host: 'siem', ...c });

  it('defaults per transport: ports, sizes; authpriv; rfc5424; octet counting', () => {
    const tls = parse({ transport: 'tls' });
    expect(tls.success && tls.data).toMatchObject({ port: 6514, maxMessageBytes: 8096, facility: 10, format: 'rfc5424', framing: 'octet-counting', mapping: 'cef' });
    const udp = parse({ transport: 'udp', bestEffort: true });
    expect(udp.success && udp.data).toMatchObject({ port: 514, maxMessageBytes: 1472 });
    const udp3164 = parse({ transport: 'udp', bestEffort: true, format: 'rfc3164', facility: 'local4' });
    expect(udp3164.success && udp3164.data).toMatchObject({ maxMessageBytes: 1024, facility: 20 });
  });

  it('refuses UDP without bestEffort, RELP without a port, tls options where no TLS runs, a bad facility', () => {
    const messages = (c: Record<string, unknown>) => {
      const r = parse(c);
      return r.success ? [] : r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
    };
    expect(messages({ transport: 'udp' }).join()).toMatch(/bestEffort.*UDP confirms nothing/);
    expect(messages({ transport: 'relp' }).join()).toMatch(/port.*RELP has no standard port/);
    expect(messages({ transport: 'tcp', tls: { caFile: '/ca.pem' } }).join()).toMatch(/tls is for transport tls or relp/);
    expect(messages({ transport: 'relp', port: 2514, tls: { caFile: '/ca.pem' } }).join()).toMatch(/relp\.tls: true/);
    expect(messages({ transport: 'tcp', facility: 'security' }).join()).toMatch(/facility.*0–23 or one of/);
    expect(messages({ transport: 'tcp', hostname: 'has space' }).join()).toMatch(/hostname.*printable US-ASCII/);
  });
});

describe('framedBytes', () => {
  it('is the UTF-8 size of the frame, for both framings (the stream body is sized from it)', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 2000 }), fc.constantFrom('octet-counting' as const, 'lf' as const), (text, framing) => {
        const bytes = Buffer.byteLength(text);
        expect(framedBytes(bytes, framing)).toBe(Buffer.byteLength(frame(text, bytes, framing)));
      }),
      { numRuns: 500 },
    );
  });
});
