// The OTLP severity table: the shared taxonomy's severity band → LogRecord severityNumber and severityText.
import type { Classification } from '../common/taxonomy.ts';

export interface OtlpSeverity {
  /** `SeverityNumber` enum value: the first number of the range the OpenTelemetry log data model gives the level. */
  readonly number: number;
  /** The short name the OpenTelemetry log data model gives that number. */
  readonly text: string;
}

/** One row per band of `classify().severity` (0–10); documented in mappings/otlp/README.md, which a test keeps equal. */
export const OTLP_SEVERITY: Readonly<Record<Classification['severityBand'], OtlpSeverity>> = Object.freeze({
  low: Object.freeze({ number: 9, text: 'INFO' }),
  medium: Object.freeze({ number: 13, text: 'WARN' }),
  high: Object.freeze({ number: 17, text: 'ERROR' }),
  critical: Object.freeze({ number: 21, text: 'FATAL' }),
});
