// Tests of the heartbeat records of the four SIEM mappings: golden files, and that no heartbeat can pass for an audit event or forge a field.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fromBinary } from '@bufbuild/protobuf';
import { targetOf } from '../../connectors/elasticsearch/encoder.ts';
import { createOtlpEncoder } from '../../connectors/otlp/encoder.ts';
import { ExportLogsServiceRequestSchema } from '../../connectors/otlp/gen/opentelemetry/proto/collector/logs/v1/logs_service_pb.js';
import { truncate } from '../../mappings/cef/escape.ts';
import { cefMapping, HEARTBEAT_LABELS } from '../../mappings/cef/index.ts';
import { heartbeatProblem } from '../../mappings/common/heartbeat.ts';
import { epochMillis, epochNanosString, epochSeconds } from '../../mappings/common/time.ts';
import { ecsMapping, type EcsHeartbeatDocument } from '../../mappings/ecs/index.ts';
import { CADF_EVENT_NAME_PREFIX, CONNECT_EVENT_NAME_PREFIX, otlpJsonMapping, type KeyValue, type OtlpLogEntry } from '../../mappings/otlp/index.ts';
import { DEFAULT_SOURCETYPE, HEC_ENVELOPE_KEYS, splunkHecMapping } from '../../mappings/splunk-hec/index.ts';
import type { HeartbeatSummary, MapResult, Mapping, MappingOptions } from '../../src/contracts/mapping.ts';
import type { SinkRecord } from '../../src/contracts/sink.ts';
import { encodeValue } from '../../src/delivery/encode.ts';
import { parseCef } from '../support/cef-parser.ts';
import { describeHeartbeatGolden, heartbeatCases } from '../support/golden-mappings.ts';

const MAPPINGS: readonly Mapping[] = [splunkHecMapping as Mapping, ecsMapping as Mapping, cefMapping as Mapping, otlpJsonMapping as Mapping];
for (const m of MAPPINGS) describeHeartbeatGolden(m);

const HEX_A = 'a'.repeat(64);
const SUMMARY: HeartbeatSummary = {
  route: 'connect-prod',
  sink: 'siem',
  window: { from: '2026-05-12T11:58:00.000000Z', to: '2026-05-12T11:59:00.000000Z' },
  part: 0,
  late: false,
  counts: { read: 12, selected: 11, delivered: 9, skipped: 1, rejected: 1, dead_lettered: 1 },
  digest: HEX_A,
  seq: 7,
  hash: '0123456789abcdef'.repeat(4),
  closedAt: '2026-05-12T11:59:30.250117Z',
  forwarder: { version: '0.1.0', host: 'fwd-01' },
};
const OPTIONS: MappingOptions = { observedTime: '2026-05-12T12:00:00.000000Z' };

function mapped<T>(r: MapResult<T>): T {
  if (r.kind !== 'mapped') throw new Error(`expected mapped, got ${JSON.stringify(r)}`);
  return r.value;
}

/** Every golden heartbeat case that maps, through one mapping. */
function goldenValues<T>(heartbeat: (s: HeartbeatSummary, o: MappingOptions) => MapResult<T>): Array<{ name: string; summary: HeartbeatSummary; value: T }> {
  return heartbeatCases().flatMap((c) => {
    const r = heartbeat(c.summary, c.options);
    return r.kind === 'mapped' ? [{ name: c.name, summary: c.summary, value: r.value }] : [];
  });
}

/** Leaf paths of a JSON value, `a.b.c`, with their values. */
function leaves(v: unknown, path = '', out: Array<[string, unknown]> = []): Array<[string, unknown]> {
  if (typeof v === 'object' && v !== null && !Array.isArray(v)) for (const [k, child] of Object.entries(v)) leaves(child, path === '' ? k : `${path}.${k}`, out);
  else out.push([path, v]);
  return out;
}

describe('heartbeat summaries: every mapping is total and says which field is wrong', () => {
  const broken: Array<[path: string, change: (s: Record<string, unknown>) => void]> = [
    ['route', (s) => (s.route = '')],
    ['sink', (s) => (s.sink = 42)],
    ['window', (s) => (s.window = null)],
    ['window.from', (s) => (s.window = { from: '2026-05-12T11:58:00Z', to: SUMMARY.window.to })],
    ['window.to', (s) => (s.window = { from: SUMMARY.window.from, to: '2026-02-30T00:00:00.000000Z' })],
    ['window.to', (s) => (s.window = { from: SUMMARY.window.to, to: SUMMARY.window.from })],
    ['part', (s) => (s.part = 1.5)],
    ['late', (s) => (s.late = 'false')],
    ['counts', (s) => (s.counts = [1, 2, 3])],
    ['counts.read', (s) => (s.counts = { ...SUMMARY.counts, read: '12' })],
    ['counts.dead_lettered', (s) => (s.counts = { ...SUMMARY.counts, dead_lettered: -1 })],
    ['counts.delivered', (s) => (s.counts = { ...SUMMARY.counts, delivered: 2 ** 53 })],
    ['digest', (s) => (s.digest = 'A'.repeat(64))],
    ['seq', (s) => (s.seq = Number.NaN)],
    ['hash', (s) => (s.hash = 'abc')],
    ['closedAt', (s) => (s.closedAt = '2026-05-12 11:59:30.250117Z')],
    ['forwarder', (s) => (s.forwarder = undefined)],
    ['forwarder.host', (s) => (s.forwarder = { version: '0.1.0', host: '' })],
  ];
  it.each(broken.map(([path, change], i) => [`${i}: ${path}`, path, change] as const))('%s', (_name, path, change) => {
    const s = structuredClone(SUMMARY) as unknown as Record<string, unknown>;
    change(s);
    for (const m of MAPPINGS) expect(m.heartbeat!(s as unknown as HeartbeatSummary, OPTIONS), m.name).toMatchObject({ kind: 'invalid', path });
  });

  it('never throws, whatever it is given', () => {
    fc.assert(
      fc.property(fc.anything({ withBigInt: true, withNullPrototype: true }), (anything) => {
        for (const m of MAPPINGS) expect(['mapped', 'invalid']).toContain(m.heartbeat!(anything as HeartbeatSummary, OPTIONS).kind);
      }),
      { numRuns: 300 },
    );
    for (const m of MAPPINGS) expect(m.heartbeat!(null as unknown as HeartbeatSummary, OPTIONS)).toMatchObject({ kind: 'invalid', path: '' });
  });

  it('maps any well-formed summary after 1970, whatever its counts say (a mismatch is what the SIEM alerts on)', () => {
    const count = fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER });
    fc.assert(
      fc.property(fc.record({ read: count, selected: count, delivered: count, skipped: count, rejected: count, dead_lettered: count }), fc.nat(), fc.boolean(), (counts, part, late) => {
        const s = { ...SUMMARY, counts, part, late };
        expect(heartbeatProblem(s)).toBeUndefined();
        for (const m of MAPPINGS) expect(m.heartbeat!(s, OPTIONS).kind, m.name).toBe('mapped');
      }),
      { numRuns: 100 },
    );
  });
});

describe('splunk-hec heartbeat', () => {
  const outputs = goldenValues((s, o) => splunkHecMapping.heartbeat(s, o));

  it('has its own sourcetype and source, whatever the route options say, and the index and host of the route', () => {
    expect(outputs.length).toBeGreaterThanOrEqual(4);
    for (const { value } of outputs) {
      expect(value.sourcetype).toBe('audit_forwarder:heartbeat');
      expect(Object.values(DEFAULT_SOURCETYPE)).not.toContain(value.sourcetype);
      expect(value.source).toBe('audit-forwarder');
      for (const k of Object.keys(value)) expect(HEC_ENVELOPE_KEYS).toContain(k);
    }
    const withOptions = mapped(splunkHecMapping.heartbeat(SUMMARY, { ...OPTIONS, index: 'security', host: 'fwd', source: 'x', sourcetype: 'cofide:connect:audit' }));
    expect(withOptions).toMatchObject({ index: 'security', host: 'fwd', source: 'audit-forwarder', sourcetype: 'audit_forwarder:heartbeat' });
    const without = mapped(splunkHecMapping.heartbeat(SUMMARY, OPTIONS));
    expect('index' in JSON.parse(JSON.stringify(without))).toBe(false);
    expect('host' in JSON.parse(JSON.stringify(without))).toBe(false);
  });

  it('never has an event_id among its indexed fields (the reconciliation counts audit events by event_id=*)', () => {
    for (const { value } of outputs) {
      expect(Object.keys(value.fields)).toEqual(['route', 'sink', 'window_from', 'window_to', 'ledger_seq', 'late']);
      expect(value.fields).not.toHaveProperty('event_id');
      expect(JSON.stringify(value)).not.toContain('event_id');
      // Flat strings only (HEC code 15 otherwise); no name that the body's JSON extraction also yields.
      for (const v of Object.values(value.fields)) expect(typeof v).toBe('string');
      const bodyFields = new Set(leaves(value.event).map(([p]) => p));
      for (const k of Object.keys(value.fields)) expect(bodyFields.has(k), k).toBe(false);
    }
  });

  it('carries the whole summary in the body and closedAt as _time, to the microsecond', () => {
    for (const { summary, value } of outputs) {
      expect(Object.keys(value.event)).toEqual(['heartbeat', 'mapping']);
      const { closedAt, ...rest } = summary;
      expect(value.event.heartbeat).toEqual({ ...rest, closed_at: closedAt });
      expect(value.time).toBe(epochSeconds(closedAt));
      const text = encodeValue(splunkHecMapping, value);
      const printed = /"time":([0-9.]+)/.exec(text)?.[1] ?? '';
      expect(Math.round(Number(printed) * 1e6)).toBe(Math.round(epochSeconds(closedAt) * 1e6));
      expect(value.fields).toEqual({
        route: summary.route,
        sink: summary.sink,
        window_from: summary.window.from,
        window_to: summary.window.to,
        ledger_seq: String(summary.seq),
        late: String(summary.late),
      });
    }
  });
});

describe('ecs heartbeat', () => {
  const outputs = goldenValues((s, o) => ecsMapping.heartbeat(s, o));
  const recordOf = (value: EcsHeartbeatDocument): SinkRecord => {
    const payload = encodeValue(ecsMapping, value);
    return { eventId: value.event.id, eventTime: value['@timestamp'], eventType: 'heartbeat', severity: 0, value, payload, bytes: Buffer.byteLength(payload) };
  };

  it('lands in logs-audit_forwarder.heartbeat-<namespace> through the Elasticsearch sink, whatever the route\'s ecsDataset', () => {
    const doc = mapped(ecsMapping.heartbeat(SUMMARY, OPTIONS));
    expect(targetOf(recordOf(doc), { kind: 'data-stream', type: 'logs', namespace: 'default' })).toBe('logs-audit_forwarder.heartbeat-default');
    expect(targetOf(recordOf(doc), { kind: 'data-stream', type: 'logs', namespace: 'prod' })).toBe('logs-audit_forwarder.heartbeat-prod');
    const withDataset = mapped(ecsMapping.heartbeat(SUMMARY, { ...OPTIONS, ecsDataset: 'cofide.audit' }));
    expect(targetOf(recordOf(withDataset), { kind: 'data-stream', type: 'logs', namespace: 'default' })).toBe('logs-audit_forwarder.heartbeat-default');
    for (const { value } of outputs) expect(targetOf(recordOf(value), { kind: 'data-stream', type: 'logs', namespace: 'default' })).toBe('logs-audit_forwarder.heartbeat-default');
  });

  it('is an ECS metric event of the window, with an id no audit event has', () => {
    for (const { summary, value } of outputs) {
      expect(value.event).toEqual({
        kind: 'metric',
        id: `hb-${summary.hash.slice(0, 32)}`,
        dataset: 'audit_forwarder.heartbeat',
        module: 'audit_forwarder',
        start: summary.window.from,
        end: summary.window.to,
      });
      expect(value['@timestamp']).toBe(summary.closedAt);
      expect(value.observer).toEqual({ product: 'audit-forwarder', type: 'forwarder', version: summary.forwarder.version, hostname: summary.forwarder.host });
      expect(value.audit_forwarder.ledger).toEqual({ seq: summary.seq, hash: summary.hash, digest: summary.digest, part: summary.part, late: summary.late, counts: summary.counts });
    }
  });

  it('uses ECS fields with their ECS types only, and a custom namespace ECS does not define', () => {
    const spec = JSON.parse(readFileSync(resolve(import.meta.dirname, '../fixtures/ecs/ecs-9.4.0-fields.json'), 'utf8')) as {
      ecs_version: string;
      fields: Record<string, { type: string }>;
      allowed_values: Record<string, Record<string, unknown>>;
    };
    // No ECS field is, or is under, `audit_forwarder`.
    expect(Object.keys(spec.fields).filter((f) => f === 'audit_forwarder' || f.startsWith('audit_forwarder.'))).toEqual([]);
    const typeOk: Record<string, (v: unknown) => boolean> = {
      keyword: (v) => typeof v === 'string',
      match_only_text: (v) => typeof v === 'string',
      date: (v) => typeof v === 'string' && !Number.isNaN(Date.parse(v)),
    };
    for (const { value } of outputs) {
      expect(value.ecs.version).toBe(spec.ecs_version);
      for (const [path, v] of leaves(value)) {
        if (path.startsWith('audit_forwarder.')) continue;
        const def = spec.fields[path] ?? (path.startsWith('labels.') ? spec.fields['labels'] : undefined);
        expect(def, `${path} is not an ECS field`).toBeDefined();
        if (def!.type === 'object') expect(typeof v, path).toBe('string');
        else expect(typeOk[def!.type]?.(v), `${path}: ${def!.type}`).toBe(true);
        const allowed = spec.allowed_values[path];
        if (allowed !== undefined) expect(Object.keys(allowed), path).toContain(v);
      }
    }
  });
});

/** What a consumer reads back for a value: lone surrogates, controls other than CR/LF, U+2028/9 → U+FFFD, TAB → space (CEF escaping). */
function readable(s: string, header: boolean): string {
  return s
    .replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, '\ufffd')
    .replace(/\t/g, ' ')
    .replace(header ? /[\r\n]/g : /(?!)/g, ' ')
    .replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f\u2028\u2029]/g, '\ufffd');
}

describe('cef heartbeat', () => {
  const KEYS = [
    'rt', 'start', 'end', 'externalId', 'dvchost', 'msg',
    'cs1Label', 'cs1', 'cs2Label', 'cs2', 'cs3Label', 'cs3', 'cs4Label', 'cs4', 'cs5Label', 'cs5', 'cs6Label', 'cs6',
    'flexString1Label', 'flexString1', 'cn1Label', 'cn1', 'cn2Label', 'cn2', 'cn3Label', 'cn3',
    'cfp1Label', 'cfp1', 'cfp2Label', 'cfp2', 'cfp3Label', 'cfp3', 'cfp4Label', 'cfp4',
  ];

  /** The record an analyst must read for `s`: header and every extension value. */
  function check(s: HeartbeatSummary, line: string): void {
    const r = parseCef(line);
    expect(r).toMatchObject({ version: 0, vendor: 'audit-forwarder', product: 'audit-forwarder', signatureId: 'audit_forwarder:heartbeat', name: 'Audit forwarder heartbeat', severity: 0 });
    expect(r.deviceVersion).toBe(readable(truncate(s.forwarder.version, 31), true));
    expect([...r.extension.keys()]).toEqual(KEYS);
    const x = Object.fromEntries(r.extension);
    const c = s.counts;
    expect(x).toMatchObject({
      rt: String(epochMillis(s.closedAt)),
      start: String(epochMillis(s.window.from)),
      end: String(epochMillis(s.window.to)),
      externalId: `hb-${s.hash.slice(0, 32)}`,
      cs3: String(s.seq),
      cs4: s.hash,
      cs5: s.digest,
      cs6: String(s.late),
      flexString1: String(s.part),
      cn1: String(c.delivered),
      cn2: String(c.selected),
      cn3: '1',
      cfp1: String(c.read),
      cfp2: String(c.skipped),
      cfp3: String(c.rejected),
      cfp4: String(c.dead_lettered),
    });
    for (const [key, label] of Object.entries(HEARTBEAT_LABELS)) expect(x[`${key}Label`]).toBe(label);
    expect(x['cs1']).toBe(readable(truncate(s.route, 4000), false));
    expect(x['cs2']).toBe(readable(truncate(s.sink, 4000), false));
    expect(x['dvchost']).toBe(readable(truncate(s.forwarder.host, 100), false));
  }

  it('parses strictly, with exactly its keys, for every golden case', () => {
    const outputs = goldenValues((s) => cefMapping.heartbeat!(s, {}) as MapResult<string>);
    expect(outputs.length).toBeGreaterThanOrEqual(4);
    for (const { summary, value } of outputs) check(summary, value);
  });

  it('a route or sink name with |, =, \\ and line breaks cannot forge a field, a header field or a line', () => {
    const route = 'r|1=a\\b\ncs1=forged x=y';
    const sink = 's\\|2 = \r\nCEF:0|evil|x|1|y|z|10|msg=forged';
    const line = mapped(cefMapping.heartbeat!({ ...SUMMARY, route, sink, forwarder: { version: '1|2\\3\n', host: 'h=1\nsuser=admin' } }, {}) as MapResult<string>);
    expect(line).not.toMatch(/[\r\n\u2028\u2029]/);
    const r = parseCef(line);
    expect(r.deviceVersion).toBe('1|2\\3 ');
    expect(r.extension.get('cs1')).toBe(route);
    expect(r.extension.get('cs2')).toBe(sink);
    expect(r.extension.get('dvchost')).toBe('h=1\nsuser=admin');
    expect(r.extension.has('x')).toBe(false);
    expect(r.extension.has('suser')).toBe(false);
    expect([...r.extension.keys()]).toEqual(KEYS);
    expect(line).toContain('cs1=r|1\\=a\\\\b\\ncs1\\=forged x\\=y');
  });

  it('no route, sink, host or version whatsoever can add a key or a line (property)', () => {
    const nasty = fc.oneof(
      fc.string({ unit: 'binary', minLength: 1 }),
      fc.string({ unit: fc.constantFrom('|', '=', '\\', '\r', '\n', ' ', 'a', 'cs1', 'msg=', '\u2028', '\u0085', '\t', '\ud800'), minLength: 1 }),
    );
    fc.assert(
      fc.property(nasty, nasty, nasty, nasty, (route, sink, host, version) => {
        const s = { ...SUMMARY, route, sink, forwarder: { version, host } };
        const line = mapped(cefMapping.heartbeat!(s, {}) as MapResult<string>);
        expect(line).not.toMatch(/[\r\n\u2028\u2029\u0085]/);
        check(s, line);
      }),
      { numRuns: 300 },
    );
  });
});

describe('otlp-json heartbeat', () => {
  const outputs = goldenValues((s, o) => otlpJsonMapping.heartbeat!(s, o) as MapResult<OtlpLogEntry>);
  const attr = (attrs: readonly KeyValue[], key: string) => attrs.find((a) => a.key === key)?.value;

  it('is an INFO record named audit_forwarder.heartbeat at closedAt, with its own attributes and the forwarder as resource', () => {
    expect(outputs.length).toBeGreaterThanOrEqual(4);
    for (const { summary, value } of outputs) {
      const r = value.logRecord;
      expect(r.eventName).toBe('audit_forwarder.heartbeat');
      expect(r.eventName.startsWith(CONNECT_EVENT_NAME_PREFIX) || r.eventName.startsWith(CADF_EVENT_NAME_PREFIX)).toBe(false);
      expect([r.severityNumber, r.severityText]).toEqual([9, 'INFO']);
      expect(r.timeUnixNano).toBe(epochNanosString(summary.closedAt));
      const keys = r.attributes.map((a) => a.key);
      expect(new Set(keys).size).toBe(keys.length);
      expect(attr(r.attributes, 'audit_forwarder.route')).toEqual({ stringValue: summary.route });
      expect(attr(r.attributes, 'audit_forwarder.sink')).toEqual({ stringValue: summary.sink });
      expect(attr(r.attributes, 'audit_forwarder.window.from')).toEqual({ stringValue: summary.window.from });
      expect(attr(r.attributes, 'audit_forwarder.window.to')).toEqual({ stringValue: summary.window.to });
      expect(attr(r.attributes, 'audit_forwarder.ledger.seq')).toEqual({ intValue: String(summary.seq) });
      expect(attr(r.attributes, 'audit_forwarder.ledger.hash')).toEqual({ stringValue: summary.hash });
      expect(attr(r.attributes, 'audit_forwarder.ledger.digest')).toEqual({ stringValue: summary.digest });
      expect(attr(r.attributes, 'audit_forwarder.ledger.late')).toEqual({ boolValue: summary.late });
      for (const [k, n] of Object.entries(summary.counts)) expect(attr(r.attributes, `audit_forwarder.ledger.counts.${k}`)).toEqual({ intValue: String(n) });
      expect(attr(value.resource.attributes, 'service.name')).toEqual({ stringValue: 'audit-forwarder' });
      expect(attr(value.resource.attributes, 'service.version')).toEqual({ stringValue: summary.forwarder.version });
      expect(attr(value.resource.attributes, 'host.name')).toEqual({ stringValue: summary.forwarder.host });
      expect(value.scope).toEqual({ name: 'audit-forwarder', version: otlpJsonMapping.version });
    }
  });

  it('takes the resource options of the route like audit records, and closedAt as its observed time', () => {
    const v = mapped(otlpJsonMapping.heartbeat!(SUMMARY, { ...OPTIONS, serviceInstanceId: 'i-1', deploymentEnvironment: 'production' }) as MapResult<OtlpLogEntry>);
    expect(attr(v.resource.attributes, 'service.instance.id')).toEqual({ stringValue: 'i-1' });
    expect(attr(v.resource.attributes, 'deployment.environment.name')).toEqual({ stringValue: 'production' });
    expect(v.logRecord.observedTimeUnixNano).toBe(epochNanosString(SUMMARY.closedAt));
    // The engine's observedTime (when it read an audit record) plays no part.
    expect(otlpJsonMapping.heartbeat!(SUMMARY, {})).toEqual(otlpJsonMapping.heartbeat!(SUMMARY, { observedTime: 'not a time' }));
  });

  it('goes through the OTLP sink\'s encoder as one log record with its event name, times and typed attributes', () => {
    const entry = mapped(otlpJsonMapping.heartbeat!(SUMMARY, OPTIONS) as MapResult<OtlpLogEntry>);
    const payload = encodeValue(otlpJsonMapping, entry);
    const record: SinkRecord = { eventId: 'hb', eventTime: SUMMARY.closedAt, eventType: 'heartbeat', severity: 0, value: entry, payload, bytes: Buffer.byteLength(payload) };
    const request = fromBinary(ExportLogsServiceRequestSchema, createOtlpEncoder('protobuf', {}).encode([record]));
    const logs = request.resourceLogs.flatMap((r) => r.scopeLogs.flatMap((sl) => sl.logRecords));
    expect(logs).toHaveLength(1);
    const lr = logs[0]!;
    expect(lr.eventName).toBe('audit_forwarder.heartbeat');
    expect(String(lr.timeUnixNano)).toBe(epochNanosString(SUMMARY.closedAt));
    expect(String(lr.observedTimeUnixNano)).toBe(epochNanosString(SUMMARY.closedAt));
    const byKey = new Map(lr.attributes.map((a) => [a.key, a.value?.value]));
    expect(byKey.get('audit_forwarder.ledger.counts.delivered')).toEqual({ case: 'intValue', value: 9n });
    expect(byKey.get('audit_forwarder.ledger.late')).toEqual({ case: 'boolValue', value: false });
    expect(byKey.get('audit_forwarder.route')).toEqual({ case: 'stringValue', value: 'connect-prod' });
  });
});
