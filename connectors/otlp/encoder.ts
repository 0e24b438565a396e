// The otlp sink's encoding: mapped records (OtlpLogEntry) as OpenTelemetry SDK log records, serialized by OpenTelemetry's own serializers.
/*
 * The wire bytes are OpenTelemetry's: `ProtobufLogsSerializer` / `JsonLogsSerializer` of
 * @opentelemetry/otlp-transformer (what the OpenTelemetry JS exporters are built on) turn SDK `ReadableLogRecord`s
 * into an `ExportLogsServiceRequest`. This file only turns the mapping's records into those objects. The
 * serializer groups records by the identity of their resource and scope objects, so equal resources are one
 * object here (cached by their attributes) and records of one resource travel as one `ResourceLogs`.
 * The serializers are marked experimental: the package version is pinned (package.json).
 */
import type { AnyValue as OtelAnyValue, Attributes, HrTime } from '@opentelemetry/api';
import { JsonLogsSerializer, ProtobufLogsSerializer, type IExportLogsServiceResponse } from '@opentelemetry/otlp-transformer';
import { resourceFromAttributes, type Resource } from '@opentelemetry/resources';
import type { ReadableLogRecord } from '@opentelemetry/sdk-logs';
import type { AnyValue, KeyValue, OtlpLogEntry } from '../../mappings/otlp/index.ts';
import type { SinkRecord } from '../../src/contracts/sink.ts';

export type WireFormat = 'protobuf' | 'json';

/** An OTLP/JSON AnyValue (the mapping's shape) as the JavaScript value the SDK takes. */
export function jsValue(v: AnyValue): OtelAnyValue {
  if ('stringValue' in v) return v.stringValue;
  if ('boolValue' in v) return v.boolValue;
  if ('intValue' in v) {
    // The SDK writes a safe integer as intValue; a larger one would lose digits as a number: kept as its text.
    const n = Number(v.intValue);
    return Number.isSafeInteger(n) ? n : v.intValue;
  }
  if ('doubleValue' in v) return v.doubleValue;
  if ('arrayValue' in v) return v.arrayValue.values.map(jsValue);
  return Object.fromEntries(v.kvlistValue.values.map((kv) => [kv.key, jsValue(kv.value)]));
}

function attributesOf(list: readonly KeyValue[]): Attributes {
  const out: Record<string, OtelAnyValue> = {};
  for (const kv of list) out[kv.key] = jsValue(kv.value);
  return out as Attributes;
}

/** Nanoseconds since the epoch (a decimal string, up to 2^64 − 1) as the SDK's [seconds, nanoseconds]. */
export function hrTimeOf(nanos: string | undefined): HrTime {
  if (nanos === undefined) return [0, 0];
  const n = BigInt(nanos);
  return [Number(n / 1_000_000_000n), Number(n % 1_000_000_000n)];
}

/** Kubernetes resource attributes from the pod's environment (the downward API variables the chart sets), when present. */
export function kubernetesAttributes(env: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const pick = (...names: string[]) => names.map((n) => env[n]).find((v) => v !== undefined && v !== '');
  const attributes: Record<string, string> = {};
  const pod = pick('K8S_POD_NAME', 'POD_NAME');
  const namespace = pick('K8S_NAMESPACE_NAME', 'POD_NAMESPACE');
  const node = pick('K8S_NODE_NAME', 'NODE_NAME');
  if (pod !== undefined) attributes['k8s.pod.name'] = pod;
  if (namespace !== undefined) attributes['k8s.namespace.name'] = namespace;
  if (node !== undefined) attributes['k8s.node.name'] = node;
  return attributes;
}

export interface OtlpEncoder {
  /** The request for these records, as bytes in the wire format. */
  encode(records: readonly SinkRecord[]): Uint8Array;
  /** The request with no records (`check`). */
  empty(): Uint8Array;
  /** The answer to a request; throws when it is not an `ExportLogsServiceResponse`. */
  decodeResponse(body: Uint8Array): IExportLogsServiceResponse;
}

/**
 * An encoder whose records get `extraResource` over the mapping's resource attributes. Resources and scopes are
 * cached by their content so that equal ones are one object (one `ResourceLogs` / `ScopeLogs` on the wire).
 */
export function createOtlpEncoder(format: WireFormat, extraResource: Readonly<Record<string, string>>): OtlpEncoder {
  const serializer = format === 'protobuf' ? ProtobufLogsSerializer : JsonLogsSerializer;
  const resources = new Map<string, Resource>();
  const scopes = new Map<string, ReadableLogRecord['instrumentationScope']>();
  const MAX_CACHED = 1024;

  const resourceFor = (list: readonly KeyValue[]): Resource => {
    const key = JSON.stringify(list);
    let r = resources.get(key);
    if (r === undefined) {
      if (resources.size >= MAX_CACHED) resources.clear();
      r = resourceFromAttributes({ ...attributesOf(list), ...extraResource });
      resources.set(key, r);
    }
    return r;
  };
  const scopeFor = (name: string, version: string) => {
    const key = `${name}\u0000${version}`;
    let s = scopes.get(key);
    if (s === undefined) {
      s = { name, version };
      scopes.set(key, s);
    }
    return s;
  };

  const toReadable = (record: SinkRecord): ReadableLogRecord => {
    const entry = record.value as OtlpLogEntry;
    const lr = entry.logRecord;
    const hrTime = hrTimeOf(lr.timeUnixNano);
    return {
      hrTime,
      // OTLP: observed time MUST be set once a collector saw the record; the mapping sets it from the engine.
      hrTimeObserved: lr.observedTimeUnixNano === undefined ? hrTime : hrTimeOf(lr.observedTimeUnixNano),
      severityNumber: lr.severityNumber,
      severityText: lr.severityText,
      body: jsValue(lr.body),
      eventName: lr.eventName,
      resource: resourceFor(entry.resource.attributes),
      instrumentationScope: scopeFor(entry.scope.name, entry.scope.version),
      attributes: attributesOf(lr.attributes),
      droppedAttributesCount: 0,
    };
  };

  const serialize = (records: ReadableLogRecord[]): Uint8Array => {
    const bytes = serializer.serializeRequest(records);
    if (bytes === undefined) throw new Error('the OpenTelemetry serializer produced no request');
    return bytes;
  };

  return {
    encode: (records) => serialize(records.map(toReadable)),
    empty: () => serialize([]),
    decodeResponse(body) {
      // OpenTelemetry's JSON deserializer returns {} for a body that is not JSON (a proxy's page would count as a
      // success): JSON answers are read here, strictly. Protobuf ones throw on what does not decode.
      const response = format === 'json' ? JSON.parse(Buffer.from(body).toString('utf8')) as unknown : serializer.deserializeResponse(body);
      if (response === null || typeof response !== 'object' || Array.isArray(response)) throw new Error('not an ExportLogsServiceResponse');
      return response as IExportLogsServiceResponse;
    },
  };
}
