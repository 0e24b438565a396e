// OTLP/JSON value shapes (AnyValue, KeyValue, LogRecord) and the constructors the OTLP mapping builds them with.

/** `opentelemetry.proto.common.v1.AnyValue` in OTLP/JSON: exactly one variant; 64-bit integers as decimal strings. */
export type AnyValue =
  | { readonly stringValue: string }
  | { readonly boolValue: boolean }
  | { readonly intValue: string }
  | { readonly doubleValue: number }
  | { readonly arrayValue: { readonly values: readonly AnyValue[] } }
  | { readonly kvlistValue: { readonly values: readonly KeyValue[] } };

export interface KeyValue {
  readonly key: string;
  readonly value: AnyValue;
}

/** `opentelemetry.proto.logs.v1.LogRecord` in OTLP/JSON: lowerCamelCase keys, fixed64 times as decimal strings, the enum as an integer. */
export interface OtlpLogRecord {
  readonly timeUnixNano: string;
  /** Absent (0, "unknown") only when the caller supplied no `observedTime`. */
  readonly observedTimeUnixNano?: string;
  readonly severityNumber: number;
  readonly severityText: string;
  readonly body: AnyValue;
  readonly eventName: string;
  readonly attributes: readonly KeyValue[];
}

/**
 * One mapped event: the log record with the resource and scope it belongs to, so that a sink can group records
 * into `ExportLogsServiceRequest.resourceLogs[].scopeLogs[].logRecords[]` by resource.
 */
export interface OtlpLogEntry {
  readonly resource: { readonly attributes: readonly KeyValue[] };
  readonly scope: { readonly name: string; readonly version: string };
  readonly logRecord: OtlpLogRecord;
}

export const stringValue = (s: string): AnyValue => ({ stringValue: s });

export const str = (key: string, value: string): KeyValue => ({ key, value: stringValue(value) });

/** An int64 attribute; `n` must be an integer (it is written as a decimal string, as OTLP/JSON requires). */
export const int = (key: string, n: number): KeyValue => ({ key, value: { intValue: String(n) } });

export const strArray = (key: string, values: readonly string[]): KeyValue => ({
  key,
  value: { arrayValue: { values: values.map(stringValue) } },
});
