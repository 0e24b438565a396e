// Tests of the otlp-json mapping: golden files, OTLP/JSON encoding rules over every output, an ExportLogsServiceRequest round trip, edge cases.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CADF_EVENT_NAME_PREFIX, CONNECT_EVENT_NAME_PREFIX, OTLP_SEVERITY, otlpJsonMapping } from '../../mappings/otlp/index.ts';
import type { KeyValue, OtlpLogEntry } from '../../mappings/otlp/index.ts';
import { classify, OUTCOME_SEVERITY_BONUS, VERB_RULES } from '../../mappings/common/taxonomy.ts';
import { epochMicros } from '../../mappings/common/time.ts';
import type { MapResult, Mapping } from '../../src/contracts/mapping.ts';
import type { AuditEvent, EventOutcome } from '../../src/model/audit-event.ts';
import { EVENT_TYPES } from '../../src/model/event-types.ts';
import { toJsonLine, type JsonValue } from '../../src/model/json.ts';
import { describeGolden, goldenCases, GOLDEN_OBSERVED_TIME, mappedGoldens } from '../support/golden-mappings.ts';
import { cadfEvent, connectEvent } from '../support/events.ts';

describeGolden(otlpJsonMapping as Mapping);

// ---------------------------------------------------------------------------------------------------------------
// A strict reader of OTLP/JSON (opentelemetry-proto logs/v1, common/v1, resource/v1; OTLP spec "JSON Protobuf
// Encoding"): every key lowerCamelCase and known for its message, enums as integers, 64-bit integers as decimal
// strings, AnyValue with exactly one variant, attribute keys unique per list. Returns the problems found.

const UINT64_MAX = 2n ** 64n - 1n;
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const LOWER_CAMEL = /^[a-z][a-zA-Z0-9]*$/;
const DECIMAL = /^-?(0|[1-9]\d*)$/;

type Problems = string[];
type Json = unknown;

function isObject(v: Json): v is Record<string, Json> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function checkKeys(v: Json, at: string, allowed: readonly string[], problems: Problems): v is Record<string, Json> {
  if (!isObject(v)) {
    problems.push(`${at}: expected an object`);
    return false;
  }
  for (const k of Object.keys(v)) {
    if (!LOWER_CAMEL.test(k)) problems.push(`${at}.${k}: key is not lowerCamelCase`);
    if (!allowed.includes(k)) problems.push(`${at}.${k}: not a field of this message`);
  }
  return true;
}

function checkUint64(v: Json, at: string, problems: Problems): void {
  if (typeof v !== 'string' || !DECIMAL.test(v) || v.startsWith('-') || BigInt(v) > UINT64_MAX) problems.push(`${at}: expected a fixed64 as a decimal string, got ${JSON.stringify(v)}`);
}

function checkString(v: Json, at: string, problems: Problems): void {
  if (typeof v !== 'string') problems.push(`${at}: expected a string`);
}

function checkAnyValue(v: Json, at: string, problems: Problems): void {
  const variants = ['stringValue', 'boolValue', 'intValue', 'doubleValue', 'arrayValue', 'kvlistValue', 'bytesValue'];
  if (!checkKeys(v, at, variants, problems)) return;
  const present = Object.keys(v);
  if (present.length !== 1) {
    problems.push(`${at}: an AnyValue needs exactly one variant, has ${present.length}`);
    return;
  }
  const [variant] = present as [string];
  const x = v[variant];
  switch (variant) {
    case 'stringValue':
      checkString(x, `${at}.stringValue`, problems);
      break;
    case 'boolValue':
      if (typeof x !== 'boolean') problems.push(`${at}.boolValue: expected a boolean`);
      break;
    case 'intValue':
      if (typeof x !== 'string' || !DECIMAL.test(x) || BigInt(x) < INT64_MIN || BigInt(x) > INT64_MAX) problems.push(`${at}.intValue: expected an int64 as a decimal string, got ${JSON.stringify(x)}`);
      break;
    case 'doubleValue':
      if (typeof x !== 'number') problems.push(`${at}.doubleValue: expected a number`);
      break;
    case 'bytesValue':
      if (typeof x !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(x)) problems.push(`${at}.bytesValue: expected base64`);
      break;
    case 'arrayValue':
      if (checkKeys(x, `${at}.arrayValue`, ['values'], problems)) {
        const values = x.values;
        if (!Array.isArray(values)) problems.push(`${at}.arrayValue.values: expected an array`);
        else values.forEach((e, i) => checkAnyValue(e, `${at}.arrayValue.values[${i}]`, problems));
      }
      break;
    case 'kvlistValue':
      if (checkKeys(x, `${at}.kvlistValue`, ['values'], problems)) checkKeyValues(x.values, `${at}.kvlistValue.values`, problems);
      break;
  }
}

function checkKeyValues(v: Json, at: string, problems: Problems): void {
  if (!Array.isArray(v)) {
    problems.push(`${at}: expected an array`);
    return;
  }
  const seen = new Set<string>();
  v.forEach((kv, i) => {
    if (!checkKeys(kv, `${at}[${i}]`, ['key', 'value'], problems)) return;
    if (typeof kv.key !== 'string' || kv.key === '') problems.push(`${at}[${i}].key: expected a non-empty string`);
    else if (seen.has(kv.key)) problems.push(`${at}[${i}].key: duplicate key ${kv.key}`);
    else seen.add(kv.key);
    checkAnyValue(kv.value, `${at}[${i}].value`, problems);
  });
}

function checkLogRecord(v: Json, at: string, problems: Problems): void {
  const fields = ['timeUnixNano', 'observedTimeUnixNano', 'severityNumber', 'severityText', 'body', 'attributes', 'droppedAttributesCount', 'flags', 'traceId', 'spanId', 'eventName'];
  if (!checkKeys(v, at, fields, problems)) return;
  if ('timeUnixNano' in v) checkUint64(v.timeUnixNano, `${at}.timeUnixNano`, problems);
  if ('observedTimeUnixNano' in v) checkUint64(v.observedTimeUnixNano, `${at}.observedTimeUnixNano`, problems);
  if ('severityNumber' in v && !(Number.isInteger(v.severityNumber) && (v.severityNumber as number) >= 0 && (v.severityNumber as number) <= 24)) {
    problems.push(`${at}.severityNumber: expected the SeverityNumber enum as an integer 0–24`);
  }
  if ('severityText' in v) checkString(v.severityText, `${at}.severityText`, problems);
  if ('eventName' in v) checkString(v.eventName, `${at}.eventName`, problems);
  if ('body' in v) checkAnyValue(v.body, `${at}.body`, problems);
  if ('attributes' in v) checkKeyValues(v.attributes, `${at}.attributes`, problems);
  for (const id of ['traceId', 'spanId'] as const) if (id in v) problems.push(`${at}.${id}: not expected from an audit mapping`);
}

function checkScope(v: Json, at: string, problems: Problems): void {
  if (!checkKeys(v, at, ['name', 'version', 'attributes', 'droppedAttributesCount'], problems)) return;
  checkString(v.name, `${at}.name`, problems);
  checkString(v.version, `${at}.version`, problems);
}

function checkResource(v: Json, at: string, problems: Problems): void {
  if (!checkKeys(v, at, ['attributes', 'droppedAttributesCount'], problems)) return;
  checkKeyValues(v.attributes, `${at}.attributes`, problems);
}

/** Problems of an `ExportLogsServiceRequest` in OTLP/JSON; empty when it is well-formed. */
function exportRequestProblems(request: Json): Problems {
  const problems: Problems = [];
  if (!checkKeys(request, 'request', ['resourceLogs'], problems)) return problems;
  const resourceLogs = request.resourceLogs;
  if (!Array.isArray(resourceLogs)) return [...problems, 'request.resourceLogs: expected an array'];
  resourceLogs.forEach((rl, i) => {
    const at = `resourceLogs[${i}]`;
    if (!checkKeys(rl, at, ['resource', 'scopeLogs', 'schemaUrl'], problems)) return;
    checkResource(rl.resource, `${at}.resource`, problems);
    if (!Array.isArray(rl.scopeLogs)) return problems.push(`${at}.scopeLogs: expected an array`);
    rl.scopeLogs.forEach((sl, j) => {
      const sat = `${at}.scopeLogs[${j}]`;
      if (!checkKeys(sl, sat, ['scope', 'logRecords', 'schemaUrl'], problems)) return;
      checkScope(sl.scope, `${sat}.scope`, problems);
      if (!Array.isArray(sl.logRecords)) return problems.push(`${sat}.logRecords: expected an array`);
      sl.logRecords.forEach((r, k) => checkLogRecord(r, `${sat}.logRecords[${k}]`, problems));
    });
  });
  return problems;
}

/** Mapped entries grouped the way a sink batches them: one ResourceLogs per distinct resource, one ScopeLogs per scope. */
function exportRequest(entries: readonly OtlpLogEntry[]): unknown {
  const byResource = new Map<string, { resource: OtlpLogEntry['resource']; scopes: Map<string, { scope: OtlpLogEntry['scope']; logRecords: unknown[] }> }>();
  for (const e of entries) {
    const rk = JSON.stringify(e.resource);
    let r = byResource.get(rk);
    if (r === undefined) byResource.set(rk, (r = { resource: e.resource, scopes: new Map() }));
    const sk = JSON.stringify(e.scope);
    let s = r.scopes.get(sk);
    if (s === undefined) r.scopes.set(sk, (s = { scope: e.scope, logRecords: [] }));
    s.logRecords.push(e.logRecord);
  }
  return {
    resourceLogs: [...byResource.values()].map((r) => ({
      resource: r.resource,
      scopeLogs: [...r.scopes.values()].map((s) => ({ scope: s.scope, logRecords: s.logRecords })),
    })),
  };
}

/** The one JSON line the engine writes for an entry: no raw line break of any kind, and it parses back to the entry exactly. */
function expectOneLosslessLine(entry: OtlpLogEntry): void {
  const line = toJsonLine(entry);
  expect(line).not.toMatch(/[\r\n\u2028\u2029]/);
  expect(JSON.parse(line)).toEqual(entry);
}

/** Problems of one mapped entry, checked as a one-record request. */
function entryProblems(entry: OtlpLogEntry): Problems {
  return exportRequestProblems(JSON.parse(JSON.stringify(exportRequest([entry]))));
}

const attr = (list: readonly KeyValue[], key: string) => list.filter((a) => a.key === key).map((a) => a.value);
const attrString = (list: readonly KeyValue[], key: string): string | undefined => {
  const [v] = attr(list, key);
  return v !== undefined && 'stringValue' in v ? v.stringValue : undefined;
};

describe('the OTLP/JSON checker of these tests', () => {
  const record = (logRecord: Record<string, unknown>) => ({ resourceLogs: [{ resource: { attributes: [] }, scopeLogs: [{ scope: { name: 's', version: '1' }, logRecords: [logRecord] }] }] });

  it.each([
    ['a snake_case key', { time_unix_nano: '1' }, 'not lowerCamelCase'],
    ['a 64-bit time as a number', { timeUnixNano: 1 }, 'fixed64 as a decimal string'],
    ['a negative time', { timeUnixNano: '-1' }, 'fixed64 as a decimal string'],
    ['a time beyond fixed64', { timeUnixNano: '18446744073709551616' }, 'fixed64 as a decimal string'],
    ['an enum name', { severityNumber: 'SEVERITY_NUMBER_INFO' }, 'enum as an integer'],
    ['an intValue as a number', { body: { intValue: 3 } }, 'int64 as a decimal string'],
    ['an AnyValue with two variants', { body: { stringValue: 'a', boolValue: true } }, 'exactly one variant'],
    ['an empty AnyValue', { body: {} }, 'exactly one variant'],
    ['duplicate attribute keys', { attributes: [{ key: 'k', value: { stringValue: 'a' } }, { key: 'k', value: { stringValue: 'b' } }] }, 'duplicate key k'],
    ['an unknown field', { severity: 9 }, 'not a field of this message'],
  ])('catches %s', (_what, logRecord, problem) => {
    expect(exportRequestProblems(record(logRecord)).join('\n')).toContain(problem);
  });

  it('accepts a request modelled on opentelemetry-proto examples/logs.json (64-bit integers as strings, as we write them; no trace context)', () => {
    const example = {
      resourceLogs: [
        {
          resource: { attributes: [{ key: 'service.name', value: { stringValue: 'my.service' } }] },
          scopeLogs: [
            {
              scope: { name: 'my.library', version: '1.0.0', attributes: [{ key: 'my.scope.attribute', value: { stringValue: 'some scope attribute' } }] },
              logRecords: [
                {
                  timeUnixNano: '1544712660300000000',
                  observedTimeUnixNano: '1544712660300000000',
                  severityNumber: 10,
                  severityText: 'Information',
                  body: { stringValue: 'Example log record' },
                  attributes: [
                    { key: 'string.attribute', value: { stringValue: 'some string' } },
                    { key: 'boolean.attribute', value: { boolValue: true } },
                    { key: 'int.attribute', value: { intValue: '10' } },
                    { key: 'double.attribute', value: { doubleValue: 637.704 } },
                    { key: 'array.attribute', value: { arrayValue: { values: [{ stringValue: 'many' }, { stringValue: 'values' }] } } },
                    { key: 'map.attribute', value: { kvlistValue: { values: [{ key: 'some.map.key', value: { stringValue: 'some value' } }] } } },
                  ],
                },
              ],
            },
          ],
        },
      ],
    };
    expect(exportRequestProblems(example)).toEqual([]);
  });
});

// ---------------------------------------------------------------------------------------------------------------

describe('otlp-json over every golden output', () => {
  const outputs = mappedGoldens(otlpJsonMapping);

  it('maps every golden case except the invalid ones', () => {
    const invalid = goldenCases()
      .filter((c) => otlpJsonMapping.map(c.event, c.options).kind === 'invalid')
      .map((c) => c.name);
    expect(invalid).toEqual(['connect-pre-epoch-time', 'invalid-empty-id', 'invalid-time-not-canonical', 'invalid-unknown-outcome-value']);
    expect(outputs.length).toBe(goldenCases().length - invalid.length);
  });

  it.each(outputs.map((o) => [o.name, o] as const))('%s follows the OTLP/JSON encoding rules', (_name, { event, value }) => {
    expect(entryProblems(value)).toEqual([]);
    const r = value.logRecord;
    // Microsecond precision: the nanoseconds are the event's microseconds × 1000.
    expect(BigInt(r.timeUnixNano)).toBe(epochMicros(event.time) * 1000n);
    expect(BigInt(r.observedTimeUnixNano!)).toBe(epochMicros(GOLDEN_OBSERVED_TIME) * 1000n);
    expect(Number.isInteger(r.severityNumber) && r.severityNumber >= 1 && r.severityNumber <= 24).toBe(true);
    expect({ number: r.severityNumber, text: r.severityText }).toEqual(OTLP_SEVERITY[classify(event).severityBand]);
    expect(attrString(r.attributes, 'log.record.uid')).toBe(event.id);
    expect(attr(r.attributes, 'log.record.uid')).toHaveLength(1);
    expect(attrString(r.attributes, 'mapping.version')).toBe(otlpJsonMapping.version);
    expect(value.scope).toEqual({ name: 'audit-forwarder', version: otlpJsonMapping.version });
    expect(r.eventName.startsWith(event.origin.kind === 'cofide-connect' ? CONNECT_EVENT_NAME_PREFIX : CADF_EVENT_NAME_PREFIX)).toBe(true);
    expect(r.eventName.length).toBeLessThanOrEqual(256);
    expect(attrString(value.resource.attributes, 'service.name')).toBeTruthy();
    expect('stringValue' in r.body && r.body.stringValue !== '').toBe(true);
    expectOneLosslessLine(value);
  });

  it('round-trips all outputs through one ExportLogsServiceRequest, with no snake_case key anywhere', () => {
    const text = JSON.stringify(exportRequest(outputs.map((o) => o.value)));
    const parsed = JSON.parse(text) as { resourceLogs: Array<{ scopeLogs: Array<{ logRecords: unknown[] }> }> };
    expect(exportRequestProblems(parsed)).toEqual([]);
    const keys: string[] = [];
    const walk = (v: unknown): void => {
      if (Array.isArray(v)) v.forEach(walk);
      else if (isObject(v)) for (const [k, x] of Object.entries(v)) keys.push(k), walk(x);
    };
    walk(parsed);
    expect(keys.filter((k) => !LOWER_CAMEL.test(k))).toEqual([]);
    expect(keys).not.toContain('time_unix_nano');
    const records = parsed.resourceLogs.flatMap((rl) => rl.scopeLogs.flatMap((sl) => sl.logRecords));
    expect(records).toHaveLength(outputs.length);
    // Grouping by resource: Connect 1.4.2 records share one resource.
    expect(parsed.resourceLogs.length).toBeLessThan(outputs.length);
  });

  it('never lets the data payload replace a mapped field', () => {
    const { value } = outputs.find((o) => o.name === 'connect-data-collides-with-mapped-fields')!;
    const r = value.logRecord;
    expect(r.body).toEqual({ stringValue: 'Trust zone created' });
    expect(attrString(r.attributes, 'log.record.uid')).toBe('ae01krgcollide000000000000');
    expect(attrString(r.attributes, 'audit.outcome')).toBe('success');
    expect(attrString(r.attributes, 'user.id')).toBe('auth0|abc');
    expect(r.timeUnixNano).toBe('1778572800123456000');
    expect(r.eventName).toBe('cofide.connect.audit.trust_zone_creation');
    // The payload travels whole, as JSON text, under its one key.
    const data = attrString(r.attributes, 'cofide.data')!;
    expect(JSON.parse(data)).toMatchObject({ outcome: 'success', '@timestamp': '1999-01-01T00:00:00Z', 'event.id': 'forged' });
    expect(r.attributes.filter((a) => a.key.startsWith('cofide.data'))).toHaveLength(1);
  });

  it('carries awkward strings unchanged, U+2028 included, on one line that parses back to them', () => {
    const { event, value } = outputs.find((o) => o.name === 'connect-awkward-strings')!;
    const body = (value.logRecord.body as { stringValue: string }).stringValue;
    expect(body).toBe('pipe | equals = backslash \\ newline\nCR\rtab\t end; unicode: Zürich ✓ 🚀 \u2028 and a forged cs1=evil suser=admin');
    expect(body).toBe(event.message);
    expectOneLosslessLine(value);
    expect(attrString(value.logRecord.attributes, 'user.id')).toBe('user|with=odd\\chars\nand lines');
    expect(attr(value.logRecord.attributes, 'cofide.links.trust_zone')).toEqual([{ arrayValue: { values: [{ stringValue: 'tz=1|x\\y\nz' } ] } }]);
    expect(JSON.parse(attrString(value.logRecord.attributes, 'cofide.data')!)).toEqual({ note: 'a=b|c\\d\ne', 'key with space': 'v', nested: { deep: ['x', 1, true, null] } });
  });

  it('keeps very long values whole', () => {
    const { event, value } = outputs.find((o) => o.name === 'connect-very-long-values')!;
    expect(value.logRecord.body).toEqual({ stringValue: event.message });
    expect(attrString(value.logRecord.attributes, 'user.id')).toBe(event.actor.id);
    expect(attr(value.logRecord.attributes, 'cofide.links.workload')).toEqual([{ arrayValue: { values: event.links.map((l) => ({ stringValue: l.id })) } }]);
  });

  it('puts only IP addresses in client.address', () => {
    const byName = new Map(outputs.map((o) => [o.name, o.value.logRecord.attributes]));
    expect(attrString(byName.get('connect-ipv6-source')!, 'client.address')).toBe('2001:db8::7');
    expect(attrString(byName.get('connect-source-ip-not-an-ip')!, 'client.address')).toBeUndefined();
    expect(attrString(byName.get('connect-source-ip-not-an-ip')!, 'cofide.source_ip')).toBe('unknown');
    expect(attr(byName.get('connect-system-no-source-ip')!, 'client.address')).toEqual([]);
    expect(attrString(byName.get('cadf-nested-create')!, 'client.address')).toBe('198.51.100.20');
  });
});

// ---------------------------------------------------------------------------------------------------------------

const OBSERVED = { observedTime: GOLDEN_OBSERVED_TIME };

function mapped(result: MapResult<OtlpLogEntry>): OtlpLogEntry {
  if (result.kind !== 'mapped') throw new Error(`expected mapped, got ${JSON.stringify(result)}`);
  return result.value;
}

describe('otlp-json times', () => {
  it('leaves observedTimeUnixNano out (0, "unknown") when the caller gives no observedTime, rather than inventing one', () => {
    const r = mapped(otlpJsonMapping.map(connectEvent(), {})).logRecord;
    expect(r.timeUnixNano).toBe('1778572800123456000');
    expect('observedTimeUnixNano' in r).toBe(false);
  });

  it.each([
    ['2026-05-12 12:00:00', 'RFC 3339'],
    ['1969-12-31T23:59:59.999999Z', 'before 1970'],
    ['2026-13-12T12:00:00.000000Z', 'calendar time'],
  ])('rejects the observedTime option %s', (observedTime, reason) => {
    const r = otlpJsonMapping.map(connectEvent(), { observedTime });
    expect(r).toMatchObject({ kind: 'invalid', path: 'observedTime' });
    expect(r.kind === 'invalid' && r.reason).toContain(reason);
  });

  it.each([
    ['1969-12-31T23:59:59.999999Z', 'before 1970'],
    ['1970-01-01T00:00:00.000000Z', 'epoch itself'],
    ['2554-07-21T23:34:33.709552Z', 'after 2554-07-21T23:34:33.709551Z'],
    ['9999-12-31T23:59:59.999999Z', 'after'],
    ['2026-13-45T25:61:61.000000Z', 'calendar time'],
    ['2026-05-12T24:00:00.000000Z', 'calendar time'],
  ])('rejects the event time %s without throwing', (time, reason) => {
    const r = otlpJsonMapping.map(connectEvent({ time }), OBSERVED);
    expect(r).toMatchObject({ kind: 'invalid', path: 'time' });
    expect(r.kind === 'invalid' && r.reason).toContain(reason);
  });

  it('maps the first and the last microsecond fixed64 nanoseconds can hold', () => {
    expect(mapped(otlpJsonMapping.map(connectEvent({ time: '1970-01-01T00:00:00.000001Z' }), OBSERVED)).logRecord.timeUnixNano).toBe('1000');
    expect(mapped(otlpJsonMapping.map(connectEvent({ time: '2554-07-21T23:34:33.709551Z' }), OBSERVED)).logRecord.timeUnixNano).toBe('18446744073709551000');
  });
});

describe('otlp-json resource, options and names', () => {
  it('builds the resource from the origin and the route options', () => {
    const options = { ...OBSERVED, deploymentEnvironment: 'production', serviceInstanceId: 'connect-eu-1' };
    expect(mapped(otlpJsonMapping.map(connectEvent(), options)).resource.attributes).toEqual([
      { key: 'service.name', value: { stringValue: 'cofide-connect' } },
      { key: 'service.version', value: { stringValue: '1.4.2' } },
      { key: 'service.instance.id', value: { stringValue: 'connect-eu-1' } },
      { key: 'deployment.environment.name', value: { stringValue: 'production' } },
    ]);
    expect(mapped(otlpJsonMapping.map(cadfEvent(), { ...OBSERVED, deploymentEnvironment: '' })).resource.attributes).toEqual([
      { key: 'service.name', value: { stringValue: 'auth-idp' } },
      { key: 'service.namespace', value: { stringValue: 'ibm-platform' } },
    ]);
    expect(otlpJsonMapping.options).toEqual(['deploymentEnvironment', 'serviceInstanceId']);
  });

  it('ends the event name in `other` when a CADF action is not a plain name, and still carries the action', () => {
    const action = 'evil action\nwith spaces';
    const e = mapped(otlpJsonMapping.map(cadfEvent({ type: action, action }), OBSERVED));
    expect(e.logRecord.eventName).toBe('ibm.cadf.audit.other');
    expect(attrString(e.logRecord.attributes, 'ibm.cadf.action')).toBe(action);
    expect(mapped(otlpJsonMapping.map(cadfEvent({ type: 'iam-identity.apikey.create', action: 'iam-identity.apikey.create' }), OBSERVED)).logRecord.eventName).toBe(
      'ibm.cadf.audit.iam-identity.apikey.create',
    );
  });

  it('writes a summary body for a record without a message', () => {
    const target = { id: 'crn:x', name: 'metering-service', type: 'service' };
    expect(mapped(otlpJsonMapping.map(cadfEvent({ target }), OBSERVED)).logRecord.body).toEqual({ stringValue: 'create on metering-service: success' });
    expect(mapped(otlpJsonMapping.map(cadfEvent(), OBSERVED)).logRecord.body).toEqual({ stringValue: 'create: success' });
    expect(mapped(otlpJsonMapping.map(connectEvent({ message: '' }), OBSERVED)).logRecord.body).toEqual({ stringValue: 'trust_zone_creation on tz-1: success' });
  });

  it('keeps unpaired surrogates and U+2028 as they are, in values and keys, on one line that parses back to them', () => {
    const data = { note: 'p\u2029q\uDBFF' };
    const e = mapped(otlpJsonMapping.map(connectEvent({ message: 'a\uD800b\uDC00c 🚀', links: [{ type: 'x\u2028y', id: 'i\uDC00' }], data }), OBSERVED));
    expect(e.logRecord.body).toEqual({ stringValue: 'a\uD800b\uDC00c 🚀' });
    expect(attr(e.logRecord.attributes, 'cofide.links.x\u2028y')).toEqual([{ arrayValue: { values: [{ stringValue: 'i\uDC00' }] } }]);
    // The payload's JSON text is the engine's one-line JSON: JSON escapes, and it parses back to the payload.
    const text = attrString(e.logRecord.attributes, 'cofide.data')!;
    expect(text).toBe('{"note":"p\\u2029q\\udbff"}');
    expect(JSON.parse(text)).toEqual(data);
    expectOneLosslessLine(e);
  });

  it('gives link types that differ only in U+2028 versus its escape text keys of their own', () => {
    const links = [
      { type: 'a\u2028', id: '1' },
      { type: 'a\\u2028', id: '2' },
    ];
    const e = mapped(otlpJsonMapping.map(connectEvent({ links }), OBSERVED));
    expect(entryProblems(e)).toEqual([]);
    expect(attr(e.logRecord.attributes, 'cofide.links.a\u2028')).toEqual([{ arrayValue: { values: [{ stringValue: '1' }] } }]);
    expect(attr(e.logRecord.attributes, 'cofide.links.a\\u2028')).toEqual([{ arrayValue: { values: [{ stringValue: '2' }] } }]);
  });
});

describe('otlp-json on arbitrary strings (property)', () => {
  const text = fc.oneof(fc.string({ unit: 'grapheme' }), fc.string({ unit: 'binary' }), fc.constantFrom('', '\n', '\r\n', '\u2028', '\u2029', '\uD800', '|', '=', '\\', '"'));
  const outcome = fc.constantFrom<EventOutcome>('success', 'denied', 'failure', 'pending', 'unknown');

  it('always maps to one well-formed OTLP/JSON line that parses back to the value, with every string kept as it was', () => {
    fc.assert(
      fc.property(
        fc.record({
          id: text.filter((s) => s !== ''),
          message: text,
          actor: text,
          sourceIp: text,
          links: fc.array(fc.record({ type: text, id: text }), { maxLength: 4 }),
          data: fc.jsonValue({ maxDepth: 3 }),
          cadf: fc.boolean(),
          action: text,
          target: fc.record({ id: text, name: text, type: text }),
          outcome,
        }),
        (g) => {
          const event = g.cadf
            ? cadfEvent({
                ...{ id: g.id, type: g.action || 'x', action: g.action || 'x', message: g.message, sourceIp: g.sourceIp, target: g.target },
                ...{ actor: { id: g.actor, type: g.actor, credentialType: g.actor }, reasonCode: g.actor, severity: g.actor, outcome: g.outcome, data: g.data as JsonValue },
              })
            : connectEvent({
                ...{ id: g.id, message: g.message, actor: { id: g.actor, type: g.actor }, sourceIp: g.sourceIp, links: g.links },
                ...{ outcome: g.outcome, data: g.data as JsonValue },
              });
          const r = otlpJsonMapping.map(event, OBSERVED);
          expect(r.kind).toBe('mapped');
          const e = mapped(r);
          expectOneLosslessLine(e);
          expect(entryProblems(e)).toEqual([]);
          expect(attrString(e.logRecord.attributes, 'log.record.uid')).toBe(g.id);
          expect(attrString(e.logRecord.attributes, 'user.id')).toBe(g.actor);
          if (g.message !== '') expect(e.logRecord.body).toEqual({ stringValue: g.message });
          // The payload travels as JSON text that parses back to the payload.
          const data = attrString(e.logRecord.attributes, g.cadf ? 'ibm.cadf.request_data' : 'cofide.data');
          expect(JSON.parse(data!)).toEqual(JSON.parse(JSON.stringify(g.data)));
        },
      ),
      { numRuns: 500 },
    );
  });
});

// ---------------------------------------------------------------------------------------------------------------
// The README's tables are the code's: these rebuild them and look for them in mappings/otlp/README.md.

const readme = (): string => readFileSync(resolve(import.meta.dirname, '../../mappings/otlp/README.md'), 'utf8');

/** The taxonomy's bands (`classify().severityBand`), for the per-action table, which has scores but no events. */
const bandOf = (score: number): keyof typeof OTLP_SEVERITY => (score <= 3 ? 'low' : score <= 6 ? 'medium' : score <= 8 ? 'high' : 'critical');

function severityCell(score: number, band = bandOf(score)): string {
  const s = OTLP_SEVERITY[band];
  return `${score} → ${s.number} ${s.text}`;
}

function connectTypeTable(): string {
  const rows = EVENT_TYPES.map((t) => {
    const success = classify(connectEvent({ type: t.name, action: t.change, links: [] }));
    const denied = classify(connectEvent({ type: t.name, action: t.change, links: [], outcome: 'denied' }));
    const cells = [`\`${t.name}\``, `\`${CONNECT_EVENT_NAME_PREFIX}${t.name}\``, success.verb, success.family, success.object];
    cells.push(severityCell(success.severity, success.severityBand), severityCell(denied.severity, denied.severityBand));
    return `| ${cells.join(' | ')} |`;
  });
  return [
    '| event type | `eventName` | `audit.action` | `audit.category` | `audit.object.type` | success: `audit.severity` → `severityNumber` `severityText` | denied |',
    '|---|---|---|---|---|---|---|',
    ...rows,
  ].join('\n');
}

function verbTable(): string {
  const outcomes = Object.keys(OUTCOME_SEVERITY_BONUS) as Array<keyof typeof OUTCOME_SEVERITY_BONUS>;
  const rows = Object.entries(VERB_RULES).map(([verb, rules]) => {
    const cells = outcomes.map((o) => severityCell(Math.min(10, rules.baseSeverity + OUTCOME_SEVERITY_BONUS[o])));
    return `| ${verb} | ${cells.join(' | ')} |`;
  });
  return [`| \`audit.action\` | ${outcomes.join(' | ')} |`, `|---|${outcomes.map(() => '---|').join('')}`, ...rows].join('\n');
}

describe('otlp-json README', () => {
  it('has the severity table of the code', () => {
    const README = readme();
    for (const [band, s] of Object.entries(OTLP_SEVERITY)) {
      expect(README).toMatch(new RegExp(`\\n\\| ${band} \\| [^\\n]* \\| ${s.number} \\| \`${s.text}\` \\|\\n`));
    }
    // The per-action table's bands are the taxonomy's.
    for (const c of goldenCases().filter((g) => otlpJsonMapping.map(g.event, g.options).kind === 'mapped')) {
      const { severity, severityBand } = classify(c.event);
      expect(bandOf(severity)).toBe(severityBand);
    }
  });

  it('has the per-event-type table of the code', () => {
    expect(readme()).toContain(connectTypeTable());
  });

  it('has the per-action severity table of the code', () => {
    expect(readme()).toContain(verbTable());
  });
});
