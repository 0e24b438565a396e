// Golden files and format rules of the splunk-hec mapping: HEC envelope, flat indexed fields, exact time, CIM values.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { epochMicros } from '../../mappings/common/time.ts';
import { classify } from '../../mappings/common/taxonomy.ts';
import { cimFields } from '../../mappings/splunk-hec/cim.ts';
import { DEFAULT_SOURCETYPE, HEC_ENVELOPE_KEYS, splunkHecMapping, type SplunkHecEnvelope } from '../../mappings/splunk-hec/index.ts';
import type { AuditEvent, EventOutcome } from '../../src/model/audit-event.ts';
import { EVENT_TYPES } from '../../src/model/event-types.ts';
import { toJsonLine } from '../../src/model/json.ts';
import { describeGolden, goldenCases, GOLDEN_OBSERVED_TIME, mappedGoldens } from '../support/golden-mappings.ts';

describeGolden(splunkHecMapping);

/** CIM prescribed `action` values (Change data model, incl. `updated` of Accounts_Updated; Authentication). */
const CHANGE_ACTIONS = new Set(['created', 'deleted', 'acl_modified', 'cleared', 'modified', 'read', 'stopped', 'started', 'restarted', 'updated', 'lockout']);
const AUTHENTICATION_ACTIONS = new Set(['success', 'failure', 'error']);

const cases = goldenCases();
const byName = new Map(cases.map((c) => [c.name, c]));
/** Every mapped golden output as a SIEM receives it: through the JSON line the engine writes. */
const outputs = mappedGoldens(splunkHecMapping).map((o) => {
  const text = toJsonLine(o.value);
  return { ...o, text, json: JSON.parse(text) as SplunkHecEnvelope };
});

function mapCase(name: string, options: Record<string, string> = {}): ReturnType<typeof splunkHecMapping.map> {
  const c = byName.get(name);
  if (c === undefined) throw new Error(`no golden input ${name}`);
  return splunkHecMapping.map(c.event, { ...c.options, ...options });
}

function mapped(name: string, options: Record<string, string> = {}): SplunkHecEnvelope {
  const r = mapCase(name, options);
  if (r.kind !== 'mapped') throw new Error(`${name} did not map: ${JSON.stringify(r)}`);
  return JSON.parse(toJsonLine(r.value)) as SplunkHecEnvelope;
}

/** Exact microseconds of the envelope `time` as written in the JSON text (no float arithmetic). */
function microsOfJsonTime(text: string): bigint {
  const m = /^\{"time":(-?\d+)(?:\.(\d+))?[,}]/.exec(text);
  if (m === null) throw new Error(`no leading time in ${text.slice(0, 80)}`);
  const frac = m[2] ?? '';
  expect(frac.length).toBeLessThanOrEqual(6);
  return BigInt(m[1]!) * 1_000_000n + BigInt(frac.padEnd(6, '0'));
}

describe('splunk-hec: every golden output', () => {
  it('maps most cases (the walker checks each one)', () => {
    expect(outputs.length).toBeGreaterThanOrEqual(50);
  });

  it.each(outputs.map((o) => [o.name, o] as const))('%s: HEC envelope, flat fields, exact time, CIM values', (_name, o) => {
    const { json, event } = o;
    // Only the envelope keys of /services/collector/event.
    for (const key of Object.keys(json)) expect(HEC_ENVELOPE_KEYS).toContain(key);
    expect(typeof json.event).toBe('object');
    expect(typeof json.source).toBe('string');
    expect(json.source).not.toBe('');
    if (o.name === 'connect-with-route-options') {
      // The one golden input with route options: they replace the defaults.
      expect(json).toMatchObject({ sourcetype: 'acme:audit', source: 'connect-eu', host: 'connect-eu-1', index: 'security' });
    } else {
      expect(json.sourcetype).toBe(DEFAULT_SOURCETYPE[event.origin.kind]);
      // Without route options there is no host or index: HEC then applies the token's defaults.
      expect('host' in json).toBe(false);
      expect('index' in json).toBe(false);
    }

    // Indexed fields: flat strings only, and no name that the JSON body also has (Splunk would show both values).
    for (const [k, v] of Object.entries(json.fields)) {
      expect(typeof v, `fields.${k}`).toBe('string');
      expect(Object.keys(json.event)).not.toContain(k);
    }

    // The event id travels in the body and in the indexed fields.
    expect(json.event.id).toBe(event.id);
    expect(json.fields.event_id).toBe(event.id);
    expect(json.fields.mapping_version).toBe(splunkHecMapping.version);
    expect(json.event.mapping).toEqual({ name: 'splunk-hec', version: splunkHecMapping.version });

    // `time` round-trips to the microsecond; the exact RFC 3339 time is in the body too.
    expect(microsOfJsonTime(o.text)).toBe(epochMicros(event.time));
    expect(json.event.time).toBe(event.time);

    // CIM: action from the prescribed list of its data model; status success|failure or absent.
    const c = classify(event);
    expect(json.event.action).toBe(c.cimAction);
    if (json.event.action !== undefined) {
      const allowed = json.event.change_type !== undefined ? CHANGE_ACTIONS : AUTHENTICATION_ACTIONS;
      expect(allowed.has(json.event.action), `action ${json.event.action}`).toBe(true);
    }
    expect(json.event.change_type === undefined).toBe(c.cimModel === 'Authentication');
    if (json.event.status !== undefined) expect(['success', 'failure']).toContain(json.event.status);
    expect(['low', 'medium', 'high', 'critical']).toContain(json.event.severity);
    expect(json.event.severity_id).toBe(c.severity);
    expect(json.event.vendor_product).not.toBe('');
  });
});

describe('splunk-hec: rules', () => {
  it('reads the route options: sourcetype, source, host and index override the defaults', () => {
    const options = { sourcetype: 'acme:audit', source: 'connect-eu', host: 'connect.eu.example.org', index: 'security' };
    for (const name of ['connect-trust-zone-creation', 'cadf-nested-create']) {
      const env = mapped(name, options);
      expect(env.sourcetype).toBe('acme:audit');
      expect(env.source).toBe('connect-eu');
      expect(env.host).toBe('connect.eu.example.org');
      expect(env.index).toBe('security');
      expect(Object.keys(env)).toEqual(['time', 'host', 'source', 'sourcetype', 'index', 'fields', 'event']);
    }
    expect(mapped('connect-trust-zone-creation', { sourcetype: 'acme:audit' }).event).toEqual(mapped('connect-trust-zone-creation').event);
    expect(splunkHecMapping.options).toEqual(['sourcetype', 'source', 'host', 'index']);
  });

  it('defaults: sourcetype by origin, source = the emitting service or product', () => {
    expect(mapped('connect-cluster-creation')).toMatchObject({ sourcetype: 'cofide:connect:audit', source: 'cofide-connect' });
    expect(mapped('cadf-authorization-pdp')).toMatchObject({ sourcetype: 'ibm:cadf:audit', source: 'auth-pdp' });
    expect(mapped('cadf-minimal')).toMatchObject({ sourcetype: 'ibm:cadf:audit', source: 'ibm-platform' });
  });

  it('never lets `data` replace a mapped field', () => {
    const env = mapped('connect-data-collides-with-mapped-fields');
    const event = byName.get('connect-data-collides-with-mapped-fields')!.event;
    expect(env.event).toMatchObject({ id: event.id, time: event.time, outcome: 'success', type: 'trust_zone_creation', message: 'Trust zone created', severity: 'low' });
    expect(env.fields.event_id).toBe(event.id);
    expect(microsOfJsonTime(JSON.stringify(env))).toBe(epochMicros(event.time));
    expect(env.event.data).toEqual(event.data);
  });

  it('carries an unparsed payload as {unparsed, error}', () => {
    expect(mapped('connect-data-not-json').event.data).toEqual({ unparsed: 'bm90IGpzb24gew==', error: expect.any(String) });
  });

  it('account changes: user is the account changed, src_user the actor (CIM user inversion)', () => {
    expect(mapped('cadf-unknown-outcome-delete').event).toMatchObject({ user: 'jdoe', src_user: 'IBMid-270002ABCD', action: 'deleted', change_type: 'AAA' });
    expect(mapped('cadf-dotted-apikey-create').event).toMatchObject({ user: 'ci-key', src_user: 'IBMid-270002ABCD', action: 'created', object_category: 'apikey' });
    // Other changes and authentications: user is the actor, no src_user.
    const tz = mapped('connect-trust-zone-creation').event;
    expect(tz.user).toBe('00u8k2m4q6s8u0w2y4a6');
    expect(tz.src_user).toBeUndefined();
    expect(mapped('cadf-flat-authenticate-failure').event).toMatchObject({ user: 'ldap:jdoe', action: 'failure', status: 'failure', authentication_method: 'password' });
  });

  it('denied: status failure, result denied, higher severity; no links means no object id', () => {
    const e = mapped('connect-denied-no-links').event;
    expect(e).toMatchObject({ action: 'deleted', status: 'failure', result: 'denied', object_category: 'role_binding', change_type: 'AAA' });
    expect(e.object_id).toBeUndefined();
    expect(e.severity_id).toBeGreaterThan(mapped('connect-role-binding-deletion').event.severity_id);
  });

  it('internal system events have no src', () => {
    const e = mapped('connect-system-no-source-ip').event;
    expect(e.user).toBe('system');
    expect('src' in e).toBe(false);
  });

  it('the three invalid-* inputs and the pre-1970 time come out invalid, with the path', () => {
    expect(mapCase('invalid-empty-id')).toMatchObject({ kind: 'invalid', path: 'id' });
    expect(mapCase('invalid-time-not-canonical')).toMatchObject({ kind: 'invalid', path: 'time' });
    expect(mapCase('invalid-unknown-outcome-value')).toMatchObject({ kind: 'invalid', path: 'outcome' });
    expect(mapCase('connect-pre-epoch-time')).toMatchObject({ kind: 'invalid', path: 'time' });
  });

  it('keeps U+2028 / U+2029 and lone surrogates as they are, everywhere (strings and keys, deep in data)', () => {
    const input = byName.get('connect-awkward-strings')!.event;
    const r = mapCase('connect-awkward-strings');
    if (r.kind !== 'mapped') throw new Error('connect-awkward-strings did not map');
    expect(r.value.event.message).toBe(input.message);
    expect(r.value.event.message).toContain('🚀 \u2028 and');
    expect(r.value.event.message).toContain('pipe | equals = backslash \\ newline\nCR\rtab\t end; unicode: Zürich ✓');
    const line = toJsonLine(r.value);
    expect(line).not.toMatch(/[\r\n\u2028\u2029]/);
    expect(line).toContain('🚀 \\u2028 and');
    expect(JSON.parse(line)).toEqual(r.value);

    const data = { 'k\u2029': ['a\u2028b', { deep: '\u2029', lone: '\ud800x\udfff' }], clean: { x: 'y' } };
    const withData = splunkHecMapping.map({ ...byName.get('connect-trust-zone-creation')!.event, data }, {});
    if (withData.kind !== 'mapped') throw new Error('did not map');
    expect(withData.value.event.data).toEqual(data);
    expect(Object.keys(withData.value.event.data as object)).toEqual(['k\u2029', 'clean']);
    const dataLine = toJsonLine(withData.value);
    expect(dataLine).not.toMatch(/[\r\n\u2028\u2029]/);
    expect((JSON.parse(dataLine) as SplunkHecEnvelope).event.data).toEqual(data);
  });

  it('whichever single string, data key or option holds U+2028, the value keeps it and the JSON line is one line that parses back', () => {
    const S = '\u2028';
    const connect = byName.get('connect-trust-zone-creation')!.event;
    const cadf = byName.get('cadf-nested-create')!.event;
    const unparsed = byName.get('connect-data-not-json')!.event;
    const variants: Array<[string, AuditEvent, Record<string, string>]> = [
      ['id', { ...connect, id: `a${S}` }, {}],
      ['type', { ...cadf, type: `create${S}` }, {}],
      ['action', { ...cadf, action: `create${S}` }, {}],
      ['message', { ...connect, message: `m${S}` }, {}],
      ['sourceIp', { ...connect, sourceIp: `ip${S}` }, {}],
      ['reasonCode', { ...cadf, reasonCode: `200${S}` }, {}],
      ['severity', { ...cadf, severity: `normal${S}` }, {}],
      ['origin.version', { ...connect, origin: { ...connect.origin, version: `1${S}` } }, {}],
      ['origin.service', { ...cadf, origin: { ...cadf.origin, service: `auth${S}` } }, {}],
      ['actor.id', { ...connect, actor: { id: `u${S}` } }, {}],
      ['actor.credentialType', { ...cadf, actor: { ...cadf.actor, credentialType: `t${S}` } }, {}],
      ['target.name', { ...cadf, target: { ...cadf.target, name: `n${S}` } }, {}],
      ['links[].id', { ...connect, links: [{ type: 'trust_zone', id: `tz${S}` }] }, {}],
      ['data value', { ...connect, data: { a: [{ b: `x${S}` }] } }, {}],
      ['data key', { ...connect, data: { a: { [`k${S}`]: 1 } } }, {}],
      ['dataUnparsed', { ...unparsed, dataUnparsed: { original: `o${S}`, error: 'e' } }, {}],
      ['option sourcetype', connect, { sourcetype: `st${S}` }],
      ['option source', connect, { source: `s${S}` }],
      ['option host', connect, { host: `h${S}` }],
      ['option index', connect, { index: `i${S}` }],
    ];
    for (const [where, event, options] of variants) {
      const r = splunkHecMapping.map(event, options);
      expect(r.kind, where).toBe('mapped');
      const value = r.kind === 'mapped' ? r.value : null;
      // The value carries the character itself, never the text `\u2028`.
      const plain = JSON.stringify(value);
      expect(plain, where).toContain(S);
      expect(plain, where).not.toContain('\\\\u2028');
      const line = toJsonLine(value);
      expect(line, where).not.toMatch(/[\r\n\u2028\u2029]/);
      expect(line, where).toContain('\\u2028');
      expect(JSON.parse(line), where).toEqual(value);
    }
  });

  it('a hand-edited event missing actor, links or action is invalid, not a crash', () => {
    const base = byName.get('connect-trust-zone-creation')!.event;
    const broken = (patch: Record<string, unknown>) => ({ ...base, ...patch }) as unknown as AuditEvent;
    expect(splunkHecMapping.map(broken({ actor: undefined }), {})).toMatchObject({ kind: 'invalid', path: 'actor' });
    expect(splunkHecMapping.map(broken({ links: null }), {})).toMatchObject({ kind: 'invalid', path: 'links' });
    expect(splunkHecMapping.map(broken({ action: undefined }), {})).toMatchObject({ kind: 'invalid', path: 'action' });
  });

  it('any strings (incl. U+2028 / U+2029 and lone surrogates): never throws, one line, fields stay flat strings, values come back unchanged', () => {
    const base = byName.get('connect-awkward-strings')!.event;
    // Any code point ('binary' leaves out half surrogates), plus the separators and lone surrogates often.
    const unit = fc.oneof(
      { arbitrary: fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }), weight: 4 },
      { arbitrary: fc.constantFrom('\u2028', '\u2029'), weight: 1 },
      { arbitrary: fc.integer({ min: 0xd800, max: 0xdfff }).map((c) => String.fromCharCode(c)), weight: 1 },
    );
    fc.assert(
      fc.property(fc.string({ unit }), fc.string({ unit }), fc.string({ unit, minLength: 1 }), (message, actor, id) => {
        const event: AuditEvent = { ...base, id, message, actor: { id: actor, type: 'user' }, links: [{ type: 'trust_zone', id: actor }] };
        const r = splunkHecMapping.map(event, { observedTime: GOLDEN_OBSERVED_TIME });
        expect(r.kind).toBe('mapped');
        const value = r.kind === 'mapped' ? r.value : null;
        expect(value?.event.message).toBe(message);
        expect(value?.event.id).toBe(id);
        const text = toJsonLine(value);
        expect(text).not.toMatch(/[\r\n\u2028\u2029]/);
        const env = JSON.parse(text) as SplunkHecEnvelope;
        expect(env).toEqual(value);
        expect(env.event.message).toBe(message);
        expect(env.event.id).toBe(id);
        expect(env.fields.event_id).toBe(id);
        expect(env.event.user).toBe(actor === '' ? undefined : actor);
        for (const v of Object.values(env.fields)) expect(typeof v).toBe('string');
      }),
    );
  });
});

/** The README row of one Connect event type: CIM data model, action (success / denied), change_type, object_category, severity. */
function readmeRow(name: string, change: string): string {
  const ev = (outcome: EventOutcome): AuditEvent => ({
    id: 'ae1',
    time: '2026-05-12T08:00:00.000000Z',
    origin: { kind: 'cofide-connect', product: 'cofide-connect' },
    type: name,
    action: change,
    actor: { id: 'u', type: 'user' },
    outcome,
    links: [],
    raw: {},
  });
  const ok = classify(ev('success'));
  const denied = classify(ev('denied'));
  const changeType = ok.cimModel === 'Change' ? ok.cimChangeType : '—';
  return `| \`${name}\` | ${ok.cimModel} | ${ok.cimAction ?? '—'} | ${denied.cimAction ?? '—'} | ${changeType} | ${ok.object} | ${ok.severity} ${ok.severityBand} | ${denied.severity} ${denied.severityBand} |`;
}

describe('splunk-hec README', () => {
  const readme = readFileSync(resolve(import.meta.dirname, '../../mappings/splunk-hec/README.md'), 'utf8');
  it.each(EVENT_TYPES.map((t) => [t.name, t.change] as const))('documents %s as the code maps it', (name, change) => {
    expect(readme).toContain(readmeRow(name, change));
  });
});

describe('splunk-hec: the event body carries every CIM field', () => {
  // The body is one object literal naming each CIM field (no spread, for speed): a field added to cimFields must
  // be added there too, or it would silently be missing from every event.
  it.each(outputs.map((o) => [o.name, o] as const))('%s: each CIM field, with its value', (_name, o) => {
    const cim = cimFields(o.event, classify(o.event));
    const body = (o.value as SplunkHecEnvelope).event as unknown as Record<string, unknown>;
    for (const [key, value] of Object.entries(cim)) {
      expect(Object.hasOwn(body, key), key).toBe(true);
      expect(body[key], key).toEqual(value);
    }
  });
});
