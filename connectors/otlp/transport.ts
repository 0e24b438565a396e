// What the otlp sink's transports (HTTP, gRPC) answer for one export request.
import type { SendOutcome } from '../../src/contracts/outcome.ts';

export interface PartialSuccess {
  readonly rejectedLogRecords?: number | string | bigint;
  readonly errorMessage?: string;
}

export type ExportAnswer =
  /** The receiver took the request (HTTP 2xx, gRPC OK); `response` may hold a partial success. */
  | { readonly kind: 'success'; readonly response: { readonly partialSuccess?: PartialSuccess } }
  /** The receiver answered with a failure: its meaning (classify.ts). `status` is the HTTP status or gRPC code. */
  | { readonly kind: 'failure'; readonly outcome: SendOutcome; readonly status: number }
  /** No answer (connection refused or reset, TLS, timeout, credentials that cannot be sent): `unansweredOutcome`. */
  | { readonly kind: 'no-answer'; readonly error: unknown }
  /** An answer that is not OTLP (a proxy page, another service). */
  | { readonly kind: 'not-otlp'; readonly reason: string };

export interface OtlpTransport {
  /** Where requests go, for messages. */
  readonly where: string;
  /** Sends one encoded `ExportLogsServiceRequest`. Never rejects. */
  export(body: Uint8Array, signal: AbortSignal): Promise<ExportAnswer>;
  close(): Promise<void>;
}
