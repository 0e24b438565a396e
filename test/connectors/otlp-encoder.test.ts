// The otlp sink's pure parts: OpenTelemetry's serializers fed from the mapping (read back with the OTLP protos), the answer tables, RetryInfo and Status decoding.
import { create, fromBinary, fromJson, toBinary, type JsonValue } from '@bufbuild/protobuf';
import { BinaryWriter } from '@bufbuild/protobuf/wire';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { grpcFailure, httpFailure, OTLP_GRPC_TABLE, successOutcome } from '../../connectors/otlp/classify.ts';
import { createOtlpEncoder, hrTimeOf, kubernetesAttributes } from '../../connectors/otlp/encoder.ts';
import { ExportLogsServiceRequestSchema, type ExportLogsServiceRequest } from '../../connectors/otlp/gen/opentelemetry/proto/collector/logs/v1/logs_service_pb.js';
import { retryDelayMs } from '../../connectors/otlp/transport-grpc.ts';
import { statusMessageOf } from '../../connectors/otlp/transport-http.ts';
import { severityOf } from '../../mappings/common/taxonomy.ts';
import { otlpJsonMapping, type AnyValue, type OtlpLogEntry } from '../../mappings/otlp/index.ts';
import type { SinkRecord } from '../../src/contracts/sink.ts';
import type { AuditEvent } from '../../src/model/audit-event.ts';
import { arbitraryCadfEvent, arbitraryConnectEvent } from '../support/arbitrary-events.ts';
import { cadfEvent, connectEvent } from '../support/events.ts';

const OBSERVED = '2026-05-12T08:00:00.000000Z';

function recordOf(event: AuditEvent): SinkRecord | undefined {
  const m = otlpJsonMapping.map(event, { observedTime: OBSERVED });
  if (m.kind !== 'mapped') return undefined;
  return { eventId: event.id, eventTime: event.time, eventType: event.type, severity: severityOf(event), value: m.value, payload: JSON.stringify(m.value), bytes: 0 };
}

/** The mapping's OTLP/JSON AnyValue as the protobuf-es JSON of the same value (what fromBinary → toJson gives). */
function flatten(request: ExportLogsServiceRequest): Array<{ resource: unknown; scope: unknown; record: ExportLogsServiceRequest['resourceLogs'][number]['scopeLogs'][number]['logRecords'][number] }> {
  return request.resourceLogs.flatMap((r) => r.scopeLogs.flatMap((s) => s.logRecords.map((record) => ({ resource: r.resource, scope: s.scope, record }))));
}

function valueOf(v: { value: { case?: string; value?: unknown } } | undefined): unknown {
  const x = v?.value;
  if (x === undefined || x.case === undefined) return undefined;
  if (x.case === 'intValue') return String(x.value);
  if (x.case === 'arrayValue') return (x.value as { values: Array<{ value: { case?: string; value?: unknown } }> }).values.map(valueOf);
  return x.value;
}

/** Lone surrogates as U+FFFD (String.prototype.toWellFormed, ES2024, typed here for the project's lib). */
const wellFormed = (s: string): string => (s as unknown as { toWellFormed(): string }).toWellFormed();

/** The mapping's value as a protobuf reader sees it: strings are UTF-8 on the wire, so a lone surrogate is U+FFFD. */
function mappedValueOf(v: AnyValue): unknown {
  if ('stringValue' in v) return wellFormed(v.stringValue);
  if ('intValue' in v) return v.intValue;
  if ('boolValue' in v) return v.boolValue;
  if ('doubleValue' in v) return v.doubleValue;
  if ('arrayValue' in v) return v.arrayValue.values.map(mappedValueOf);
  return v;
}

describe('otlp encoder (OpenTelemetry serializers)', () => {
  it('any event: the protobuf request, read back with the OTLP protos, holds the mapping record field for field', () => {
    const encoder = createOtlpEncoder('protobuf', {});
    fc.assert(
      fc.property(fc.array(fc.oneof(arbitraryConnectEvent, arbitraryCadfEvent), { minLength: 1, maxLength: 5 }), (events) => {
        // Unique ids, so that each record is found again by its log.record.uid.
        const records = events.flatMap((e, i) => recordOf({ ...e, id: `${e.id}#${i}` }) ?? []);
        if (records.length === 0) return;
        const decoded = flatten(fromBinary(ExportLogsServiceRequestSchema, encoder.encode(records)));
        expect(decoded).toHaveLength(records.length);
        // Grouping by resource may reorder across resources; match by uid.
        for (const r of records) {
          const entry = r.value as OtlpLogEntry;
          const uid = entry.logRecord.attributes.find((a) => a.key === 'log.record.uid')!.value;
          const got = decoded.find((d) => d.record.attributes.some((a) => a.key === 'log.record.uid' && valueOf(a.value) === mappedValueOf(uid)));
          expect(got, 'the record is in the request').toBeDefined();
          const lr = got!.record;
          expect(String(lr.timeUnixNano)).toBe(entry.logRecord.timeUnixNano);
          expect(String(lr.observedTimeUnixNano)).toBe(entry.logRecord.observedTimeUnixNano);
          expect(lr.severityNumber).toBe(entry.logRecord.severityNumber);
          expect(lr.severityText).toBe(entry.logRecord.severityText);
          expect(lr.eventName).toBe(entry.logRecord.eventName);
          expect(valueOf(lr.body)).toBe(mappedValueOf(entry.logRecord.body));
          expect(Object.fromEntries(lr.attributes.map((a) => [a.key, valueOf(a.value)]))).toEqual(Object.fromEntries(entry.logRecord.attributes.map((a) => [wellFormed(a.key), mappedValueOf(a.value)])));
          expect(Object.fromEntries((got!.resource as { attributes: Array<{ key: string }> }).attributes.map((a) => [a.key, valueOf((a as unknown as { value: never }).value)]))).toEqual(
            Object.fromEntries(entry.resource.attributes.map((a) => [wellFormed(a.key), mappedValueOf(a.value)])),
          );
        }
      }),
      { numRuns: Number(process.env.OTLP_PROPERTY_RUNS ?? 200) },
    );
  });

  it('the JSON request is OTLP/JSON a strict reader takes (camelCase, int64 as strings, enums as integers) and equals the protobuf one', () => {
    const records = [recordOf(connectEvent())!, recordOf(cadfEvent())!];
    const json = JSON.parse(Buffer.from(createOtlpEncoder('json', {}).encode(records)).toString('utf8')) as JsonValue;
    const text = JSON.stringify(json);
    expect(text).not.toMatch(/"time_unix_nano"|"severity_number"|"SEVERITY_NUMBER_/);
    expect(text).toMatch(/"timeUnixNano":"\d+"/);
    expect(text).toMatch(/"severityNumber":\d+/);
    const fromJsonRequest = fromJson(ExportLogsServiceRequestSchema, json);
    const fromProto = fromBinary(ExportLogsServiceRequestSchema, createOtlpEncoder('protobuf', {}).encode(records));
    expect(toBinary(ExportLogsServiceRequestSchema, fromJsonRequest)).toEqual(toBinary(ExportLogsServiceRequestSchema, fromProto));
  });

  it('records of one resource travel as one ResourceLogs; configured and Kubernetes attributes join every resource', () => {
    const encoder = createOtlpEncoder('protobuf', { 'deployment.environment.name': 'prod', ...kubernetesAttributes({ POD_NAME: 'fwd-0', POD_NAMESPACE: 'audit' }) });
    const records = [recordOf(connectEvent({ id: 'a1' }))!, recordOf(connectEvent({ id: 'a2' }))!, recordOf(cadfEvent({ id: 'c1' }))!];
    const request = fromBinary(ExportLogsServiceRequestSchema, encoder.encode(records));
    expect(request.resourceLogs).toHaveLength(2);
    expect(request.resourceLogs[0]!.scopeLogs[0]!.logRecords).toHaveLength(2);
    for (const r of request.resourceLogs) {
      const attrs = Object.fromEntries(r.resource!.attributes.map((a) => [a.key, valueOf(a.value)]));
      expect(attrs).toMatchObject({ 'deployment.environment.name': 'prod', 'k8s.pod.name': 'fwd-0', 'k8s.namespace.name': 'audit' });
    }
    expect(fromBinary(ExportLogsServiceRequestSchema, encoder.empty()).resourceLogs).toEqual([]);
  });

  it('times: nanoseconds up to 2^64 − 1 survive the SDK hrTime split', () => {
    for (const n of ['1', '999999999', '1000000000', '1778572800123456000', '18446744073709551615']) {
      const [s, ns] = hrTimeOf(n);
      expect(BigInt(s) * 1_000_000_000n + BigInt(ns)).toBe(BigInt(n));
    }
  });
});

describe('otlp answers', () => {
  it('HTTP: 429/502/503/504 retried (Retry-After), 400 and 413 split, 401/403 stop, 404/415/500 stop', () => {
    const now = Date.now();
    expect(httpFailure(429, '2', 'slow down', now)).toMatchObject({ status: 'retryable', retryAfterMs: 2000 });
    for (const s of [502, 503, 504]) expect(httpFailure(s, undefined, '', now).status).toBe('retryable');
    expect(httpFailure(400, undefined, 'bad record', now)).toMatchObject({ status: 'rejected', scope: 'batch', reason: expect.stringMatching(/bad record/) });
    expect(httpFailure(413, undefined, '', now)).toMatchObject({ status: 'rejected', scope: 'batch' });
    for (const s of [401, 403, 404, 408, 415, 500, 501, 505, 507, 599]) expect(httpFailure(s, undefined, '', now), String(s)).toMatchObject({ status: 'rejected', scope: 'sink' });
  });

  it('gRPC: the retryable codes, RESOURCE_EXHAUSTED only with RetryInfo, INVALID_ARGUMENT splits, credentials stop', () => {
    for (const code of [1, 4, 10, 11, 14, 15]) expect(grpcFailure(code, '', undefined).status, OTLP_GRPC_TABLE.get(code)!.name).toBe('retryable');
    expect(grpcFailure(8, 'quota', 1500)).toMatchObject({ status: 'retryable', retryAfterMs: 1500 });
    expect(grpcFailure(8, 'too big', undefined)).toMatchObject({ status: 'rejected', scope: 'batch' });
    expect(grpcFailure(3, 'bad', undefined)).toMatchObject({ status: 'rejected', scope: 'batch' });
    expect(grpcFailure(16, '', undefined)).toMatchObject({ status: 'rejected', scope: 'sink', reason: expect.stringMatching(/UNAUTHENTICATED.*auth/) });
    for (const code of [2, 5, 12, 13]) expect(grpcFailure(code, '', undefined)).toMatchObject({ status: 'rejected', scope: 'sink' });
  });

  it('partial success: n > 0 is unidentified with the message; 0 (a warning) and none are delivered', () => {
    expect(successOutcome({ rejectedLogRecords: '2', errorMessage: 'too old' })).toMatchObject({ status: 'unidentified', refused: 2, reason: expect.stringMatching(/too old/) });
    expect(successOutcome({ rejectedLogRecords: 3n })).toMatchObject({ status: 'unidentified', refused: 3 });
    expect(successOutcome({ rejectedLogRecords: 0, errorMessage: 'a warning' })).toEqual({ status: 'delivered' });
    expect(successOutcome(undefined)).toEqual({ status: 'delivered' });
  });

  it('RetryInfo and google.rpc.Status are read from their bytes', () => {
    const duration = new BinaryWriter().uint32(8).int64(3).uint32(16).int32(250_000_000).finish();
    const retryInfo = new BinaryWriter().uint32(10).bytes(duration).finish();
    expect(retryDelayMs(retryInfo)).toBe(3250);
    expect(retryDelayMs(new Uint8Array([0xff]))).toBeUndefined();
    const status = new BinaryWriter().uint32(8).int32(3).uint32(18).string('no such field').finish();
    expect(statusMessageOf(status)).toBe('no such field');
    expect(statusMessageOf(Buffer.from('<html>'))).toBe('');
  });

  it('the generated request schema round-trips what the serializer wrote', () => {
    const bytes = createOtlpEncoder('protobuf', {}).encode([recordOf(connectEvent())!]);
    const again = toBinary(ExportLogsServiceRequestSchema, create(ExportLogsServiceRequestSchema, fromBinary(ExportLogsServiceRequestSchema, bytes)));
    expect(fromBinary(ExportLogsServiceRequestSchema, again)).toEqual(fromBinary(ExportLogsServiceRequestSchema, bytes));
  });
});
