// What an OTLP receiver's answer means for a batch, as data: the OTLP/HTTP status table, the gRPC code table, and partial success.
/*
 * OTLP specification (opentelemetry-proto docs/specification.md, "OTLP/HTTP Response", "OTLP/gRPC Response",
 * "Partial Success"; facts in shared/spec/siem-formats.md §4.2):
 * - success is 200 (gRPC OK) with an `ExportLogsServiceResponse`; a `partial_success` with
 *   `rejected_log_records > 0` means that many records were refused — without saying which — and the request
 *   MUST NOT be sent again;
 * - HTTP 429, 502, 503, 504 SHOULD be retried (Retry-After honoured); every other 4xx/5xx MUST NOT be;
 * - gRPC CANCELLED, DEADLINE_EXCEEDED, ABORTED, OUT_OF_RANGE, UNAVAILABLE, DATA_LOSS are retryable, and
 *   RESOURCE_EXHAUSTED only when the server sends RetryInfo (it will accept later); the others are not.
 * What "not retried" becomes here: 400 / INVALID_ARGUMENT (bad data) splits the batch so that the bad record is
 * dead-lettered and the others go; 413 splits; 401/403 and UNAUTHENTICATED/PERMISSION_DENIED stop the route
 * (credentials); anything else stops the route with the receiver's words (nothing is dropped, nothing loops).
 */
import type { SendOutcome } from '../../src/contracts/outcome.ts';
import { actionOutcome, statusOutcome, type StatusAction, type StatusRule } from '../../src/net/status.ts';

type OtlpAction = Exclude<StatusAction, 'accepted'>;

/**
 * OTLP/HTTP's own rows, before the shared status table (src/net/status.ts), which already retries 429, 502, 503 and
 * 504, splits 413 and stops on 401/403 and other 4xx: bad data splits, and the statuses the shared table would
 * retry but OTLP says not to (408, 500, 505–599) stop the route.
 */
export const OTLP_HTTP_RULES: readonly StatusRule[] = [
  { status: 400, action: 'split', meaning: 'the receiver refuses the data (a bad record: the batch is split to find it)' },
  { status: 408, action: 'route', meaning: 'OTLP does not retry this status' },
  { status: 500, action: 'route', meaning: 'the receiver failed; OTLP does not retry this status' },
  { status: [505, 599], action: 'route', meaning: 'the receiver failed; OTLP does not retry this status' },
];

/** gRPC status codes (numbers as on the wire, names as in the gRPC spec) and what they mean for OTLP. */
export const OTLP_GRPC_TABLE: ReadonlyMap<number, { readonly name: string; readonly action: OtlpAction | 'retry-if-retryinfo' }> = new Map([
  [1, { name: 'CANCELLED', action: 'retry' }],
  [2, { name: 'UNKNOWN', action: 'route' }],
  [3, { name: 'INVALID_ARGUMENT', action: 'split' }],
  [4, { name: 'DEADLINE_EXCEEDED', action: 'retry' }],
  [5, { name: 'NOT_FOUND', action: 'route' }],
  [6, { name: 'ALREADY_EXISTS', action: 'route' }],
  [7, { name: 'PERMISSION_DENIED', action: 'credentials' }],
  [8, { name: 'RESOURCE_EXHAUSTED', action: 'retry-if-retryinfo' }],
  [9, { name: 'FAILED_PRECONDITION', action: 'route' }],
  [10, { name: 'ABORTED', action: 'retry' }],
  [11, { name: 'OUT_OF_RANGE', action: 'retry' }],
  [12, { name: 'UNIMPLEMENTED', action: 'route' }],
  [13, { name: 'INTERNAL', action: 'route' }],
  [14, { name: 'UNAVAILABLE', action: 'retry' }],
  [15, { name: 'DATA_LOSS', action: 'retry' }],
  [16, { name: 'UNAUTHENTICATED', action: 'credentials' }],
]);

const CREDENTIALS_HINT = 'check `auth` and `http.headers`';

/** A non-2xx OTLP/HTTP answer. `detail` is what its `google.rpc.Status` (or body) said. */
export function httpFailure(status: number, retryAfter: string | undefined, detail: string, nowMs: number): SendOutcome {
  return statusOutcome({ status, retryAfter }, nowMs, { what: 'OTLP receiver: HTTP', detail, rules: OTLP_HTTP_RULES, keys: { auth: 'auth` / `http.headers' } });
}

/** A gRPC failure: its code, message, and the RetryInfo delay when the server sent one. */
export function grpcFailure(code: number, message: string, retryInfoMs: number | undefined): SendOutcome {
  const row = OTLP_GRPC_TABLE.get(code) ?? { name: `code ${code}`, action: 'route' as const };
  const reason = `OTLP receiver: gRPC ${row.name}${message === '' ? '' : `: ${message}`}`;
  if (row.action === 'retry-if-retryinfo') {
    // Without RetryInfo the server says it cannot take this data at all (a request too large, a quota).
    return retryInfoMs === undefined ? actionOutcome('split', `${reason} (no RetryInfo: not retried, the batch is split)`) : actionOutcome('retry', reason, retryInfoMs);
  }
  if (row.action === 'credentials') return actionOutcome('credentials', `${reason}: ${CREDENTIALS_HINT}`);
  return actionOutcome(row.action, reason, row.action === 'retry' ? retryInfoMs : undefined);
}

/** A success answer: delivered, or every record dead-lettered when the receiver refused some without saying which. */
export function successOutcome(partial: { rejectedLogRecords?: number | string | bigint; errorMessage?: string } | undefined): SendOutcome {
  const rejected = Number(partial?.rejectedLogRecords ?? 0);
  if (!(rejected > 0)) return { status: 'delivered' };
  const message = partial?.errorMessage ?? '';
  return {
    status: 'unidentified',
    refused: rejected,
    // The engine says "refused n of m without saying which"; this adds the receiver's own words.
    reason: `OTLP partial success (not sent again: the spec forbids it)${message === '' ? '' : `: ${message}`}`,
  };
}
