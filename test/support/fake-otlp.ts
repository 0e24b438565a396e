// A fake OpenTelemetry collector for tests: an OTLP logs receiver on real loopback sockets, OTLP/HTTP (binary protobuf
// and JSON, as msw handlers served through a node http(s) server) on one port and OTLP/gRPC (LogsService/Export through
// connect-node's adapter, gRPC protocol only, over HTTP/2) on another.
//
// Written once from the OTLP specification (/work/shared/spec/siem-formats.md §4, opentelemetry-proto
// docs/specification.md) and the vendored protos (connectors/otlp/proto), not from any client: requests are decoded with
// the protobuf-es code generated from those protos, never with OpenTelemetry's own serializers, so that a sink encoding
// with OpenTelemetry's serializers is checked by an independent reader. Where the spec leaves a choice, the fake takes
// the one that is harder on a client, and says so.
//
//   const otlp = await startFakeOtlp({ headers: { authorization: 'Bearer t' } });
//   POST `${otlp.httpUrl}/v1/logs`       Content-Type application/x-protobuf | application/json, optional Content-Encoding: gzip
//   LogsService/Export at otlp.grpcUrl   gRPC over h2c (h2 with `tls`), optional grpc-encoding gzip
//   otlp.records()    every accepted log record, flattened (see ReceivedLogRecord), in arrival order
//   otlp.requests()   every request answered on either port (see SeenRequest), oldest first
//
// Answers (HTTP status / gRPC code), checked in this order:
//   404 / —                unknown path (HTTP); 405 for a method other than POST on the logs path
//   401 / UNAUTHENTICATED  a header of `options.headers` missing or different (values compared exactly, names without case)
//   scripted failNext()    the next authenticated requests, any protocol, before the request is looked at (like an overloaded collector)
//   415 / —                Content-Type neither application/x-protobuf nor application/json (parameters such as charset
//                          allowed); Content-Encoding other than gzip or identity (harsher than needed: the spec defines gzip only)
//   413 / RESOURCE_EXHAUSTED  body larger than maxRequestBytes (default 64 MiB, §4.1), counted after gunzip (HTTP) or as
//                          protobuf-es re-encodes the request message (gRPC: connect-node has already decompressed it; a
//                          sender that writes zero-valued fields, as OpenTelemetry JS does, sends a few bytes more)
//   400 / INVALID_ARGUMENT a body that does not decode: bad gzip, bad protobuf, JSON that is not JSON or not OTLP/JSON — snake_case
//                          keys (`time_unix_nano`), enum names (`"severityNumber":"SEVERITY_NUMBER_INFO"`), traceId/spanId
//                          not hex, invalid UTF-8. Also (harsher than the spec, which only calls receivers "unpredictable")
//                          an attribute key twice in one list (resource, scope, record attributes or a kvlist), and a
//                          request holding a record refused by refuseRecords(). A 400 keeps nothing of its request.
//   200                    full success: an empty ExportLogsServiceResponse (0 bytes in protobuf, `{}` in JSON), the
//                          records kept; with partialNext(): partial_success set and only the first (total − rejected) kept.
//                          An empty request (no records) is a success too (spec: SHOULD).
// Unknown JSON fields are ignored (spec: MUST). int64 JSON values may be strings or numbers (proto3 JSON).
// HTTP answers use the request's content type (protobuf when it was neither); failures carry a google.rpc.Status
// (`code` = the equivalent gRPC code, `message`), with `Retry-After: <seconds>` when scripted with retryAfterSec.
//
// Scripted failures, HTTP status → gRPC status (spec "OTLP/gRPC Response" and the retryable table; 502/504 as grpc's own
// HTTP-to-gRPC status mapping does):
//   429 → RESOURCE_EXHAUSTED with RetryInfo, always (retry_delay = retryAfterSec when given, else unset): without RetryInfo
//         the spec makes RESOURCE_EXHAUSTED non-retryable, and 429 is retryable
//   503 → UNAVAILABLE (the spec's throttling signal), RetryInfo{retry_delay} only when retryAfterSec is given
//   502, 504 → UNAVAILABLE (retryable), RetryInfo as for 503
//   413 → RESOURCE_EXHAUSTED without RetryInfo: not retryable, as HTTP 413 ("message larger than max" is RESOURCE_EXHAUSTED in gRPC)
//   400 → INVALID_ARGUMENT, 401 → UNAUTHENTICATED, 403 → PERMISSION_DENIED, 500 → INTERNAL (all not retryable, as in HTTP)
// SeenRequest.status is the HTTP status, or the gRPC code name ('OK', 'UNAVAILABLE', …) for gRPC.
//
// restart(downMs) is a collector restart: both listening sockets close and every connection is destroyed (clients see
// ECONNREFUSED / ECONNRESET), for `downMs`, then they listen again on the same ports. Accepted records, the request log
// and the scripts stay; a request whose connection died with the restart keeps nothing.
import { readFileSync } from 'node:fs';
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import http2 from 'node:http2';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { create, createFileRegistry, fromBinary, fromJson, toBinary, toJson, type DescField, type DescMessage, type JsonValue } from '@bufbuild/protobuf';
import {
  FieldDescriptorProto_Label,
  FieldDescriptorProto_Type,
  FileDescriptorProtoSchema,
  file_google_protobuf_any,
  file_google_protobuf_duration,
} from '@bufbuild/protobuf/wkt';
import { Code, ConnectError, createContextKey, createContextValues } from '@connectrpc/connect';
import { connectNodeAdapter } from '@connectrpc/connect-node';
import { getResponse, http, HttpResponse, type HttpHandler } from 'msw';
import {
  ExportLogsPartialSuccessSchema,
  ExportLogsServiceRequestSchema,
  ExportLogsServiceResponseSchema,
  LogsService,
  type ExportLogsServiceRequest,
  type ExportLogsServiceResponse,
} from '../../connectors/otlp/gen/opentelemetry/proto/collector/logs/v1/logs_service_pb.js';
import type { AnyValue, KeyValue } from '../../connectors/otlp/gen/opentelemetry/proto/common/v1/common_pb.js';
import type { LogRecord } from '../../connectors/otlp/gen/opentelemetry/proto/logs/v1/logs_pb.js';
import { fakeFailed, fetchHeadersOf, listenOn, readBody, trackConnections, writeFetchResponse } from './listen.ts';

export interface FakeOtlpOptions {
  /**
   * Serve https (HTTP/1.1) and h2 with the fixture certificate test/fixtures/tls/server.pem (SANs localhost, 127.0.0.1;
   * trust test/fixtures/tls/ca.pem). `clientCa` (a PEM file path, or PEM text): mutual TLS, a client certificate chaining
   * to it is required on both ports (the handshake fails without one).
   */
  tls?: { clientCa?: string };
  /** Headers every request must carry, e.g. `{ authorization: 'Bearer t' }`: 401 / UNAUTHENTICATED otherwise. */
  headers?: Record<string, string>;
  /** Initial maxRequestBytes(); default 64 MiB. */
  maxRequestBytes?: number;
  /** The OTLP/HTTP path; default `/v1/logs`. */
  path?: string;
}

export type OtlpProtocol = 'http/protobuf' | 'http/json' | 'grpc';

/** One accepted log record, flattened. AnyValues become JS values (see jsValue). */
export interface ReceivedLogRecord {
  /** Resource attributes. */
  readonly resource: Record<string, unknown>;
  readonly scope: { readonly name: string; readonly version: string; readonly attributes: Record<string, unknown> };
  /** Decimal strings (fixed64): `'0'` when unset. */
  readonly timeUnixNano: string;
  readonly observedTimeUnixNano: string;
  /** The integer on the wire (0 when unset). */
  readonly severityNumber: number;
  readonly severityText: string;
  /** `''` when unset. */
  readonly eventName: string;
  /** undefined when unset or an empty AnyValue (OpenTelemetry's JSON serializer sends `"body":{}` for no body). */
  readonly body: unknown;
  readonly attributes: Record<string, unknown>;
  /** `attributes['log.record.uid']` when it is a string. */
  readonly uid: string | undefined;
  /** Lowercase hex, `''` when unset. */
  readonly traceId: string;
  readonly spanId: string;
  readonly flags: number;
  readonly droppedAttributesCount: number;
  readonly protocol: OtlpProtocol;
  /** SeenRequest.n of the request that carried it. */
  readonly request: number;
  /** The decoded message, for what the flat view loses (intValue vs doubleValue, attribute order, schema URLs are on the parents). */
  readonly raw: LogRecord;
}

export interface SeenRequest {
  /** 1, 2, … in arrival order over both ports. */
  readonly n: number;
  /** `http` when the Content-Type was neither protobuf nor JSON. */
  readonly protocol: OtlpProtocol | 'http';
  readonly method: string;
  /** URL path (HTTP), `/opentelemetry.proto.collector.logs.v1.LogsService/Export` (gRPC). */
  readonly path: string;
  /** HTTP status, or the gRPC code name ('OK', 'UNAVAILABLE', …). */
  status: number | string;
  /** Log records in the request (0 when it was not decoded). */
  records: number;
  /** Log records kept. */
  accepted: number;
  /** Content-Encoding: gzip (HTTP) / grpc-encoding: gzip (gRPC). */
  readonly gzip: boolean;
  /** Body bytes as received (HTTP; compressed when gzip); the re-encoded message size for gRPC. */
  bytes: number;
  /** Request headers (gRPC: metadata), names in lowercase. */
  readonly headers: Record<string, string>;
  /** The failure's Status.message / gRPC message, or the partial_success error_message; '' otherwise. */
  message: string;
}

export type FailStatus = 429 | 503 | 502 | 504 | 400 | 401 | 403 | 413 | 500;

/** A fake for the tests of a forwarder `otlp` sink; control methods act on the next requests, never on ones already answered. */
export interface FakeOtlp {
  /** `http(s)://127.0.0.1:PORT`: POST `${httpUrl}/v1/logs`. */
  readonly httpUrl: string;
  /** `http(s)://127.0.0.1:PORT2`: gRPC base URL (h2c without TLS). */
  readonly grpcUrl: string;
  /** The OTLP/HTTP behaviour, usable on its own with msw's `getResponse` or `setupServer`. */
  readonly handlers: readonly HttpHandler[];
  records(): ReceivedLogRecord[];
  requests(): SeenRequest[];
  /** The next `n` authenticated requests, any protocol, answer `answer.status` (see the mapping above), keeping nothing. FIFO. */
  failNext(n: number, answer: { status: FailStatus; retryAfterSec?: number; message?: string }): void;
  /**
   * The next `n` requests that would be fully accepted answer 200 with partial_success {rejected_log_records, error_message}
   * and keep only their first (total − rejected) records (clamped to 0…total). `rejected` 0 with a message is the spec's warning.
   */
  partialNext(n: number, rejectedPerRequest: number | ((records: number) => number), errorMessage?: string): void;
  /** From now on, a request holding a record for which `pred` is true answers 400 / INVALID_ARGUMENT and keeps nothing; `null` clears. */
  refuseRecords(pred: ((r: ReceivedLogRecord) => boolean) | null): void;
  /** Larger bodies (after gunzip) answer 413 / RESOURCE_EXHAUSTED. */
  maxRequestBytes(n: number): void;
  restart(downMs?: number): Promise<void>;
  close(): Promise<void>;
}

const MiB = 1024 * 1024;
const DEFAULT_MAX_REQUEST_BYTES = 64 * MiB;
const GRPC_PATH = `/${LogsService.typeName}/${LogsService.method.export.name}`;
const TLS_DIR = fileURLToPath(new URL('../fixtures/tls/', import.meta.url));

// ---- google.rpc.Status and google.rpc.RetryInfo (google/rpc/status.proto, error_details.proto), described at run time ----

const { MESSAGE, INT32, STRING } = FieldDescriptorProto_Type;
const { OPTIONAL, REPEATED } = FieldDescriptorProto_Label;
const GOOGLE_RPC = createFileRegistry(
  create(FileDescriptorProtoSchema, {
    name: 'google/rpc/fake_otlp_status.proto',
    package: 'google.rpc',
    syntax: 'proto3',
    dependency: ['google/protobuf/any.proto', 'google/protobuf/duration.proto'],
    messageType: [
      {
        name: 'Status',
        field: [
          { name: 'code', number: 1, type: INT32, label: OPTIONAL, jsonName: 'code' },
          { name: 'message', number: 2, type: STRING, label: OPTIONAL, jsonName: 'message' },
          { name: 'details', number: 3, type: MESSAGE, label: REPEATED, typeName: '.google.protobuf.Any', jsonName: 'details' },
        ],
      },
      {
        name: 'RetryInfo',
        field: [{ name: 'retry_delay', number: 1, type: MESSAGE, label: OPTIONAL, typeName: '.google.protobuf.Duration', jsonName: 'retryDelay' }],
      },
    ],
  }),
  (file) => (file === 'google/protobuf/any.proto' ? file_google_protobuf_any : file === 'google/protobuf/duration.proto' ? file_google_protobuf_duration : undefined),
);
/** `google.rpc.Status` {code = 1, message = 2, details = 3}: the body of every OTLP/HTTP failure. */
export const StatusSchema: DescMessage = GOOGLE_RPC.getMessage('google.rpc.Status')!;
/** `google.rpc.RetryInfo` {retry_delay = 1}: a detail of gRPC throttling answers (`ConnectError.findDetails(RetryInfoSchema)`). */
export const RetryInfoSchema: DescMessage = GOOGLE_RPC.getMessage('google.rpc.RetryInfo')!;

/** gRPC code names by number (connect's Code has the same numbers). */
const GRPC_NAMES = [
  'OK', 'CANCELLED', 'UNKNOWN', 'INVALID_ARGUMENT', 'DEADLINE_EXCEEDED', 'NOT_FOUND', 'ALREADY_EXISTS', 'PERMISSION_DENIED',
  'RESOURCE_EXHAUSTED', 'FAILED_PRECONDITION', 'ABORTED', 'OUT_OF_RANGE', 'UNIMPLEMENTED', 'INTERNAL', 'UNAVAILABLE', 'DATA_LOSS', 'UNAUTHENTICATED',
] as const;

// ---- failures ----

interface Failure {
  readonly http: number;
  readonly grpc: Code;
  readonly message: string;
  readonly retryAfterSec: number | undefined;
  /** Send a RetryInfo detail (gRPC). */
  readonly retryInfo: boolean;
}

function failure(http: number, message: string, retryAfterSec?: number): Failure {
  const hinted = retryAfterSec !== undefined;
  switch (http) {
    case 400:
      return { http, grpc: Code.InvalidArgument, message, retryAfterSec, retryInfo: false };
    case 401:
      return { http, grpc: Code.Unauthenticated, message, retryAfterSec, retryInfo: false };
    case 403:
      return { http, grpc: Code.PermissionDenied, message, retryAfterSec, retryInfo: false };
    case 413:
      return { http, grpc: Code.ResourceExhausted, message, retryAfterSec, retryInfo: false };
    case 429:
      return { http, grpc: Code.ResourceExhausted, message, retryAfterSec, retryInfo: true };
    case 502:
    case 503:
    case 504:
      return { http, grpc: Code.Unavailable, message, retryAfterSec, retryInfo: hinted };
    case 500:
      return { http, grpc: Code.Internal, message, retryAfterSec, retryInfo: false };
    default:
      // 404, 405, 415: HTTP only (a gRPC router answers those itself).
      return { http, grpc: Code.Unknown, message, retryAfterSec, retryInfo: false };
  }
}

const SCRIPTED_MESSAGES: Record<FailStatus, string> = {
  400: 'fake OTLP: scripted bad request',
  401: 'fake OTLP: scripted unauthenticated',
  403: 'fake OTLP: scripted permission denied',
  413: 'fake OTLP: scripted request too large',
  429: 'fake OTLP: scripted too many requests',
  500: 'fake OTLP: scripted internal error',
  502: 'fake OTLP: scripted bad gateway',
  503: 'fake OTLP: scripted unavailable',
  504: 'fake OTLP: scripted gateway timeout',
};

class BadData extends Error {}

// ---- OTLP/JSON: the spec's deviations from proto3 JSON, checked before protobuf-es's fromJson (which would accept them) ----

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

interface FieldIndex {
  readonly byJsonName: Map<string, DescField>;
  /** Proto names that differ from the JSON name (`time_unix_nano`): invalid as keys in OTLP/JSON. */
  readonly byProtoName: Map<string, DescField>;
}
const fieldIndexes = new WeakMap<DescMessage, FieldIndex>();
function fieldIndex(desc: DescMessage): FieldIndex {
  let index = fieldIndexes.get(desc);
  if (index === undefined) {
    index = { byJsonName: new Map(), byProtoName: new Map() };
    for (const f of desc.fields) {
      index.byJsonName.set(f.jsonName, f);
      if (f.name !== f.jsonName) index.byProtoName.set(f.name, f);
    }
    fieldIndexes.set(desc, index);
  }
  return index;
}

/** The OTLP/JSON object rewritten into proto3 JSON for fromJson: unknown keys dropped, traceId/spanId hex → base64. */
function strictMessage(desc: DescMessage, value: unknown, path: string): JsonValue {
  if (value === null) return null;
  if (!isObject(value)) throw new BadData(`${path}: expected a JSON object for ${desc.typeName}`);
  const { byJsonName, byProtoName } = fieldIndex(desc);
  const out: Record<string, JsonValue> = {};
  for (const key of Object.keys(value)) {
    const field = byJsonName.get(key);
    if (field === undefined) {
      const snake = byProtoName.get(key);
      if (snake !== undefined) throw new BadData(`${path}.${key}: OTLP/JSON keys are lowerCamelCase ("${snake.jsonName}"), not the proto field name`);
      continue; // unknown fields MUST be ignored
    }
    out[key] = strictField(field, value[key], `${path}.${key}`);
  }
  return out;
}

function strictEnum(value: unknown, path: string): JsonValue {
  if (value === null || (typeof value === 'number' && Number.isInteger(value))) return value;
  if (typeof value === 'string') throw new BadData(`${path}: OTLP/JSON enums are integers, not names (${JSON.stringify(value)})`);
  throw new BadData(`${path}: expected an integer enum value`);
}

function strictField(field: DescField, value: unknown, path: string): JsonValue {
  switch (field.fieldKind) {
    case 'message':
      return strictMessage(field.message, value, path);
    case 'enum':
      return strictEnum(value, path);
    case 'list': {
      if (value === null) return null;
      if (!Array.isArray(value)) throw new BadData(`${path}: expected a JSON array`);
      if (field.listKind === 'message') return value.map((v, i) => strictMessage(field.message, v, `${path}[${i}]`));
      if (field.listKind === 'enum') return value.map((v, i) => strictEnum(v, `${path}[${i}]`));
      return value as JsonValue;
    }
    case 'scalar':
      if (field.name === 'trace_id' || field.name === 'span_id') {
        // OTLP/JSON: case-insensitive hex, not base64 (an all-hex string is valid base64 too, so fromJson would misread it).
        if (value === null) return null;
        if (typeof value !== 'string' || value.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(value)) {
          throw new BadData(`${path}: OTLP/JSON trace and span ids are hex strings`);
        }
        return Buffer.from(value, 'hex').toString('base64');
      }
      return value as JsonValue;
    default:
      return value as JsonValue;
  }
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

function decodeJson(body: Buffer): ExportLogsServiceRequest {
  let parsed: unknown;
  try {
    parsed = JSON.parse(utf8.decode(body));
  } catch (e) {
    throw new BadData(`body is not JSON: ${e instanceof Error ? e.message : String(e)}`);
  }
  const json = strictMessage(ExportLogsServiceRequestSchema, parsed, '$');
  try {
    return fromJson(ExportLogsServiceRequestSchema, json ?? {}, { ignoreUnknownFields: true });
  } catch (e) {
    throw new BadData(`body is not an OTLP/JSON ExportLogsServiceRequest: ${e instanceof Error ? e.message : String(e)}`);
  }
}

function decodeProtobuf(body: Buffer): ExportLogsServiceRequest {
  try {
    return fromBinary(ExportLogsServiceRequestSchema, body);
  } catch (e) {
    throw new BadData(`body is not a protobuf ExportLogsServiceRequest: ${e instanceof Error ? e.message : String(e)}`);
  }
}

// ---- flattening ----

const MIN_SAFE = BigInt(Number.MIN_SAFE_INTEGER);
const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

/**
 * An AnyValue as a JS value: string, boolean, number (intValue when safe — else a bigint — and doubleValue), Uint8Array,
 * array, plain object (kvlist), null (an empty AnyValue, as OpenTelemetry JS encodes null).
 */
export function jsValue(v: AnyValue | undefined): unknown {
  const value = v?.value;
  switch (value?.case) {
    case 'stringValue':
    case 'boolValue':
    case 'doubleValue':
      return value.value;
    case 'bytesValue':
      return new Uint8Array(value.value); // a copy: the decoder's may be a view into a Buffer of the whole body
    case 'intValue':
      return value.value >= MIN_SAFE && value.value <= MAX_SAFE ? Number(value.value) : value.value;
    case 'arrayValue':
      return value.value.values.map(jsValue);
    case 'kvlistValue':
      return flat(value.value.values, 'kvlist');
    default:
      return null;
  }
}

/** Key → JS value; throws BadData on a key seen twice (OTLP: keys MUST be unique). */
function flat(list: readonly KeyValue[], where: string): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const kv of list) {
    if (Object.hasOwn(out, kv.key)) throw new BadData(`${where}: attribute key ${JSON.stringify(kv.key)} appears twice (keys MUST be unique)`);
    out[kv.key] = jsValue(kv.value);
  }
  return out;
}

const hex = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');

function flatten(req: ExportLogsServiceRequest, protocol: OtlpProtocol, n: number): ReceivedLogRecord[] {
  const out: ReceivedLogRecord[] = [];
  req.resourceLogs.forEach((rl, i) => {
    const resource = flat(rl.resource?.attributes ?? [], `resourceLogs[${i}].resource`);
    rl.scopeLogs.forEach((sl, j) => {
      const scope = {
        name: sl.scope?.name ?? '',
        version: sl.scope?.version ?? '',
        attributes: flat(sl.scope?.attributes ?? [], `resourceLogs[${i}].scopeLogs[${j}].scope`),
      };
      sl.logRecords.forEach((raw, k) => {
        const attributes = flat(raw.attributes, `resourceLogs[${i}].scopeLogs[${j}].logRecords[${k}]`);
        const uid = attributes['log.record.uid'];
        const body = raw.body === undefined || raw.body.value.case === undefined ? undefined : jsValue(raw.body);
        out.push({
          resource,
          scope,
          timeUnixNano: raw.timeUnixNano.toString(),
          observedTimeUnixNano: raw.observedTimeUnixNano.toString(),
          severityNumber: raw.severityNumber,
          severityText: raw.severityText,
          eventName: raw.eventName,
          body,
          attributes,
          uid: typeof uid === 'string' ? uid : undefined,
          traceId: hex(raw.traceId),
          spanId: hex(raw.spanId),
          flags: raw.flags,
          droppedAttributesCount: raw.droppedAttributesCount,
          protocol,
          request: n,
          raw,
        });
      });
    });
  });
  return out;
}

// ---- the server ----

interface PartialScript {
  readonly rejected: number | ((records: number) => number);
  readonly message: string;
}

type Verdict = { readonly ok: true; readonly response: ExportLogsServiceResponse } | { readonly ok: false; readonly failure: Failure };

const ARRIVAL = createContextKey<number>(-1, { description: 'restart generation at arrival' });

const lowerHeaders = (h: Headers): Record<string, string> => {
  const out: Record<string, string> = {};
  h.forEach((value, name) => (out[name.toLowerCase()] = value));
  return out;
};

/** The media type of a Content-Type header, lowercased, without parameters. */
const mediaType = (v: string | null): string => (v ?? '').split(';')[0]!.trim().toLowerCase();

/** Starts the fake on 127.0.0.1, two free ports. */
export async function startFakeOtlp(options: FakeOtlpOptions = {}): Promise<FakeOtlp> {
  const required = Object.entries(options.headers ?? {}).map(([k, v]) => [k.toLowerCase(), v] as const);
  let maxBytes = options.maxRequestBytes ?? DEFAULT_MAX_REQUEST_BYTES;
  const logsPath = options.path ?? '/v1/logs';

  const kept: ReceivedLogRecord[] = [];
  const log: SeenRequest[] = [];
  const failures: Failure[] = [];
  const partials: PartialScript[] = [];
  let refuse: ((r: ReceivedLogRecord) => boolean) | null = null;
  /** Bumped by every restart: a request that arrived before it lost its connection with it. */
  let generation = 0;
  const arrivedIn = new WeakMap<Request, number>();

  function begin(seen: Omit<SeenRequest, 'n' | 'status' | 'records' | 'accepted' | 'message'>): SeenRequest {
    const s: SeenRequest = { n: log.length + 1, status: 0, records: 0, accepted: 0, message: '', ...seen };
    log.push(s);
    return s;
  }

  /** Authentication, then the scripted failures: what comes before the request is looked at. */
  function gate(headers: Record<string, string>): Failure | undefined {
    for (const [name, value] of required) {
      if (headers[name] !== value) return failure(401, `fake OTLP: missing or wrong ${name} header`);
    }
    return failures.shift();
  }

  /** What a decoded request gets: checked whole, then kept (all or a prefix) or refused whole. */
  function judge(req: ExportLogsServiceRequest, protocol: OtlpProtocol, seen: SeenRequest, arrival: number): Verdict {
    let records: ReceivedLogRecord[];
    try {
      records = flatten(req, protocol, seen.n);
    } catch (e) {
      seen.records = req.resourceLogs.reduce((a, rl) => a + rl.scopeLogs.reduce((b, sl) => b + sl.logRecords.length, 0), 0);
      return { ok: false, failure: failure(400, e instanceof Error ? e.message : String(e)) };
    }
    seen.records = records.length;
    if (refuse !== null) {
      const bad = records.findIndex(refuse);
      if (bad >= 0) return { ok: false, failure: failure(400, `fake OTLP: log record ${bad} of the request is refused`) };
    }
    let keep = records.length;
    const response = create(ExportLogsServiceResponseSchema);
    const partial = partials.shift();
    if (partial !== undefined) {
      const asked = typeof partial.rejected === 'function' ? partial.rejected(records.length) : partial.rejected;
      const rejected = Math.min(records.length, Math.max(0, Math.trunc(asked)));
      keep = records.length - rejected;
      response.partialSuccess = create(ExportLogsPartialSuccessSchema, { rejectedLogRecords: BigInt(rejected), errorMessage: partial.message });
      seen.message = partial.message;
    }
    // A request whose connection went with a restart is lost with it: its sender never saw an answer.
    if (arrival !== generation) keep = 0;
    for (let i = 0; i < keep; i++) kept.push(records[i]!);
    seen.accepted = keep;
    return { ok: true, response };
  }

  // ---- OTLP/HTTP ----

  function statusBody(f: Failure, json: boolean): Uint8Array | string {
    const status = create(StatusSchema, { code: f.grpc, message: f.message });
    return json ? JSON.stringify(toJson(StatusSchema, status)) : toBinary(StatusSchema, status);
  }

  function httpAnswer(seen: SeenRequest, json: boolean, verdict: Verdict): Response {
    const contentType = json ? 'application/json' : 'application/x-protobuf';
    if (verdict.ok) {
      seen.status = 200;
      const body = json ? JSON.stringify(toJson(ExportLogsServiceResponseSchema, verdict.response)) : toBinary(ExportLogsServiceResponseSchema, verdict.response);
      return new HttpResponse(body, { status: 200, headers: { 'content-type': contentType } });
    }
    const f = verdict.failure;
    seen.status = f.http;
    seen.message = f.message;
    const headers: Record<string, string> = { 'content-type': contentType };
    if (f.retryAfterSec !== undefined) headers['retry-after'] = String(f.retryAfterSec);
    return new HttpResponse(statusBody(f, json), { status: f.http, headers });
  }

  const fail = (status: number, message: string): Verdict => ({ ok: false, failure: failure(status, message) });

  async function onLogs(request: Request): Promise<Response> {
    const arrival = arrivedIn.get(request) ?? generation;
    const url = new URL(request.url);
    const body = Buffer.from(await request.arrayBuffer());
    const headers = lowerHeaders(request.headers);
    const type = mediaType(request.headers.get('content-type'));
    const json = type === 'application/json';
    const encoding = (request.headers.get('content-encoding') ?? '').trim().toLowerCase();
    const seen = begin({
      protocol: json ? 'http/json' : type === 'application/x-protobuf' ? 'http/protobuf' : 'http',
      method: request.method,
      path: url.pathname,
      gzip: encoding === 'gzip',
      bytes: body.length,
      headers,
    });
    const answer = (v: Verdict): Response => httpAnswer(seen, json, v);

    if (request.method !== 'POST') return answer(fail(405, `fake OTLP: ${request.method} is not allowed, POST ${logsPath}`));
    const gated = gate(headers);
    if (gated !== undefined) return answer({ ok: false, failure: gated });
    if (!json && type !== 'application/x-protobuf') {
      return answer(fail(415, `fake OTLP: Content-Type ${JSON.stringify(type)} is neither application/x-protobuf nor application/json`));
    }
    if (encoding !== '' && encoding !== 'identity' && encoding !== 'gzip') {
      return answer(fail(415, `fake OTLP: Content-Encoding ${JSON.stringify(encoding)} is not supported (gzip only)`));
    }
    if (body.length > maxBytes) return answer(fail(413, `fake OTLP: request body over ${maxBytes} bytes`));
    let plain = body;
    if (encoding === 'gzip') {
      try {
        plain = gunzipSync(body, { maxOutputLength: maxBytes + 1 });
      } catch (e) {
        if (e instanceof RangeError || (e as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE') {
          return answer(fail(413, `fake OTLP: request body over ${maxBytes} bytes once decompressed`));
        }
        return answer(fail(400, `fake OTLP: body is not gzip: ${e instanceof Error ? e.message : String(e)}`));
      }
      if (plain.length > maxBytes) return answer(fail(413, `fake OTLP: request body over ${maxBytes} bytes once decompressed`));
    }
    let req: ExportLogsServiceRequest;
    try {
      req = json ? decodeJson(plain) : decodeProtobuf(plain);
    } catch (e) {
      return answer(fail(400, `fake OTLP: ${e instanceof Error ? e.message : String(e)}`));
    }
    return answer(judge(req, json ? 'http/json' : 'http/protobuf', seen, arrival));
  }

  const escaped = logsPath.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  // Anchored on the whole URL (msw matches RegExp paths against it without the query).
  const LOGS_URL = new RegExp(`^https?://[^/]+${escaped}$`);
  const handlers: readonly HttpHandler[] = [http.all(LOGS_URL, ({ request }) => onLogs(request))];

  function notFound(request: Request): Response {
    const url = new URL(request.url);
    const type = mediaType(request.headers.get('content-type'));
    const json = type === 'application/json';
    const seen = begin({
      protocol: json ? 'http/json' : type === 'application/x-protobuf' ? 'http/protobuf' : 'http',
      method: request.method,
      path: url.pathname,
      gzip: (request.headers.get('content-encoding') ?? '').trim().toLowerCase() === 'gzip',
      bytes: 0,
      headers: lowerHeaders(request.headers),
    });
    return httpAnswer(seen, json, fail(404, `fake OTLP: no such path ${url.pathname} (logs are POSTed to ${logsPath})`));
  }

  // ---- OTLP/gRPC ----

  const grpcHandler = connectNodeAdapter({
    grpc: true,
    grpcWeb: false,
    connect: false,
    contextValues: () => createContextValues().set(ARRIVAL, generation),
    routes(router) {
      router.service(LogsService, {
        export(req, ctx) {
          const headers = lowerHeaders(ctx.requestHeader);
          const bytes = toBinary(ExportLogsServiceRequestSchema, req).byteLength;
          const seen = begin({ protocol: 'grpc', method: 'POST', path: GRPC_PATH, gzip: headers['grpc-encoding'] === 'gzip', bytes, headers });
          const verdict: Verdict = (() => {
            const gated = gate(headers);
            if (gated !== undefined) return { ok: false, failure: gated };
            if (bytes > maxBytes) return fail(413, `fake OTLP: request message over ${maxBytes} bytes`);
            return judge(req, 'grpc', seen, ctx.values.get(ARRIVAL));
          })();
          if (verdict.ok) {
            seen.status = 'OK';
            return verdict.response;
          }
          const f = verdict.failure;
          seen.status = GRPC_NAMES[f.grpc] ?? String(f.grpc);
          seen.message = f.message;
          const details = f.retryInfo
            ? [{ desc: RetryInfoSchema, value: f.retryAfterSec === undefined ? {} : { retryDelay: { seconds: BigInt(f.retryAfterSec), nanos: 0 } } }]
            : undefined;
          throw new ConnectError(f.message, f.grpc, undefined, details);
        },
      });
    },
  });

  // ---- the sockets ----

  const tls = options.tls;
  const scheme = tls === undefined ? 'http' : 'https';
  const host = '127.0.0.1';
  const pem = (v: string): Buffer => (v.includes('-----BEGIN') ? Buffer.from(v) : readFileSync(v));
  const tlsServerOptions =
    tls === undefined
      ? undefined
      : {
          cert: readFileSync(`${TLS_DIR}server.pem`),
          key: readFileSync(`${TLS_DIR}server.key`),
          ...(tls.clientCa === undefined ? {} : { ca: pem(tls.clientCa) }),
          requestCert: tls.clientCa !== undefined,
          rejectUnauthorized: tls.clientCa !== undefined,
        };

  async function serveHttp(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const arrival = generation;
    let body: Buffer;
    try {
      body = await readBody(req);
    } catch {
      return; // the client (or a restart) closed the connection mid-body
    }
    try {
      const url = new URL(req.url ?? '/', `${scheme}://${host}:${httpPort}`);
      const headers = fetchHeadersOf(req);
      const method = req.method ?? 'GET';
      const request = new Request(url, { method, headers, ...(method === 'GET' || method === 'HEAD' ? {} : { body }) });
      arrivedIn.set(request, arrival);
      const response = (await getResponse(handlers as HttpHandler[], request)) ?? notFound(request);
      await writeFetchResponse(res, response, method);
    } catch (e) {
      fakeFailed(res, 'fake OTLP', e);
    }
  }

  const httpListener = (req: IncomingMessage, res: ServerResponse): void => void serveHttp(req, res);
  const httpServer: Server = tlsServerOptions === undefined ? createHttpServer(httpListener) : createHttpsServer(tlsServerOptions, httpListener);
  const grpcServer =
    tlsServerOptions === undefined ? http2.createServer(grpcHandler) : http2.createSecureServer({ ...tlsServerOptions, allowHTTP1: false }, grpcHandler);

  const connections = trackConnections([httpServer, grpcServer]);
  grpcServer.on('sessionError', () => undefined);

  let httpPort = 0;
  let grpcPort = 0;
  let closed = false;

  async function start(): Promise<void> {
    if (closed) throw new Error('fake OTLP: start after close()');
    if (!httpServer.listening) httpPort = await listenOn(httpServer, httpPort, host);
    if (!grpcServer.listening) grpcPort = await listenOn(grpcServer, grpcPort, host);
  }

  const stop = (): Promise<void> => connections.stop();

  await start();

  return {
    httpUrl: `${scheme}://${host}:${httpPort}`,
    grpcUrl: `${scheme}://${host}:${grpcPort}`,
    handlers,
    records: () => kept.slice(),
    requests: () => log.slice(),
    failNext(n, answer) {
      for (let k = 0; k < n; k++) failures.push(failure(answer.status, answer.message ?? SCRIPTED_MESSAGES[answer.status], answer.retryAfterSec));
    },
    partialNext(n, rejectedPerRequest, errorMessage) {
      const message = errorMessage ?? 'fake OTLP: some log records were rejected';
      for (let k = 0; k < n; k++) partials.push({ rejected: rejectedPerRequest, message });
    },
    refuseRecords(pred) {
      refuse = pred;
    },
    maxRequestBytes(n) {
      maxBytes = n;
    },
    async restart(downMs = 0) {
      generation++;
      await stop();
      if (downMs > 0) await new Promise((resolve) => setTimeout(resolve, downMs));
      await start();
    },
    async close() {
      closed = true;
      generation++;
      await stop();
    },
  };
}
