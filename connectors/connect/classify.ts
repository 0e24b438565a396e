// What a failed ListEvents call means for the reader: the gRPC status table, as data (failures below it: src/net/errors.ts).
import { Code, ConnectError } from '@connectrpc/connect';
import { errorMessage, findNetworkError, type NetworkKeys } from '../../src/net/errors.ts';

/** The configuration keys the shared network error table names, for the Connect API. */
export const CONNECT_NETWORK_KEYS: NetworkKeys = Object.freeze({
  url: 'api.url',
  caFile: 'api.tls.caFile',
  certFile: 'api.tls.certFile',
  keyFile: 'api.tls.keyFile',
  serverName: 'api.authority',
  serverSpiffeId: 'api.tls.serverSpiffeId',
});

/**
 * What the reader does with a failure:
 * - `retryable`: throw a retryable ForwarderError; the source retries the window with backoff.
 * - `permanent`: throw a permanent ForwarderError; the route stops with the message.
 * - `restart-window`: the page token was refused; read the window again from its start (once per window).
 */
export type ApiFailureAction = 'retryable' | 'permanent' | 'restart-window';

export interface StatusRule {
  readonly code: Code;
  /** The status name as gRPC writes it. */
  readonly name: string;
  readonly action: 'retryable' | 'permanent';
  /**
   * When the request carried a page token, this status is taken as "the page token was refused" and the
   * window is read again from its start. See `PAGE_TOKEN_REJECTION`.
   */
  readonly pageTokenRejection?: true;
  /** What it means here, for the error message. */
  readonly meaning: string;
}

/**
 * How a refused page token is recognised. The spec only says tokens may expire. Google AIP-158
 * (https://google.aip.dev/158) answers an invalid token with INVALID_ARGUMENT; some servers use
 * FAILED_PRECONDITION for an expired one. Since a token is only ever sent with a request that is otherwise
 * identical to the first one of the window (the spec requires it), which the server accepted, either status
 * on a request that carries a token is taken as the token's rejection, whatever the message says. The test
 * server answers INVALID_ARGUMENT with a message naming `page_token`.
 */
export const PAGE_TOKEN_REJECTION = 'INVALID_ARGUMENT or FAILED_PRECONDITION on a request carrying a page_token';

/**
 * gRPC status codes (https://grpc.io/docs/guides/status-codes, and
 * https://grpc.github.io/grpc/core/md_doc_statuscodes.html for the retry "litmus test": UNAVAILABLE = retry
 * the call, ABORTED = retry at a higher level, FAILED_PRECONDITION = do not retry until the state is fixed).
 * The Connect protocol uses the same codes (https://connectrpc.com/docs/protocol#error-codes). The reader
 * never retries by itself: `retryable` goes to the source's backoff. ListEvents is a read, so retrying it is
 * always safe.
 */
export const STATUS_TABLE: readonly StatusRule[] = [
  { code: Code.Canceled, name: 'CANCELLED', action: 'retryable', meaning: 'the call was cancelled by the server or the connection (not by this reader)' },
  { code: Code.Unknown, name: 'UNKNOWN', action: 'retryable', meaning: 'the server failed without saying why' },
  { code: Code.InvalidArgument, name: 'INVALID_ARGUMENT', action: 'permanent', pageTokenRejection: true, meaning: 'the server refused the request' },
  { code: Code.DeadlineExceeded, name: 'DEADLINE_EXCEEDED', action: 'retryable', meaning: 'the call did not finish within its deadline' },
  { code: Code.NotFound, name: 'NOT_FOUND', action: 'permanent', meaning: 'the server does not know the method: check the URL (it must reach the Connect API)' },
  { code: Code.AlreadyExists, name: 'ALREADY_EXISTS', action: 'permanent', meaning: 'unexpected answer to a read' },
  { code: Code.PermissionDenied, name: 'PERMISSION_DENIED', action: 'permanent', meaning: 'the caller is not allowed to list audit events: grant its identity the permission in Connect' },
  { code: Code.ResourceExhausted, name: 'RESOURCE_EXHAUSTED', action: 'retryable', meaning: 'the server is rate-limiting or out of capacity' },
  { code: Code.FailedPrecondition, name: 'FAILED_PRECONDITION', action: 'permanent', pageTokenRejection: true, meaning: 'the server is not in a state to answer' },
  { code: Code.Aborted, name: 'ABORTED', action: 'retryable', meaning: 'the call was aborted (a concurrency conflict or a reset stream)' },
  { code: Code.OutOfRange, name: 'OUT_OF_RANGE', action: 'permanent', meaning: 'the server refused the time range' },
  { code: Code.Unimplemented, name: 'UNIMPLEMENTED', action: 'permanent', meaning: 'the server does not implement AuditService.ListEvents over this protocol: check `protocol` and the URL' },
  { code: Code.Internal, name: 'INTERNAL', action: 'retryable', meaning: 'the server or the connection failed (a reset HTTP/2 stream is reported this way)' },
  { code: Code.Unavailable, name: 'UNAVAILABLE', action: 'retryable', meaning: 'the server is unavailable or the connection failed' },
  { code: Code.DataLoss, name: 'DATA_LOSS', action: 'permanent', meaning: 'the server reports unrecoverable data loss' },
  { code: Code.Unauthenticated, name: 'UNAUTHENTICATED', action: 'permanent', meaning: 'the server refused the credentials: check the client SVID files (tls.certFile, tls.keyFile) and the bearer token (token, tokenFile)' },
];

const STATUS_BY_CODE: ReadonlyMap<Code, StatusRule> = new Map(STATUS_TABLE.map((r) => [r.code, r]));

export interface ApiFailure {
  readonly action: ApiFailureAction;
  /** The gRPC status name (`UNAVAILABLE`), or the Node error code when that decided (`ERR_SPIFFE_ID_MISMATCH`). */
  readonly reason: string;
  /** One line for the error message: what it means and what to check. Never contains credentials. */
  readonly meaning: string;
  /** The server's or the library's own message. */
  readonly detail: string;
}

/**
 * Classifies the failure of a ListEvents call (anything the Connect client threw: always a ConnectError, or
 * converted to one). `withPageToken`: the request carried a page token. Pure.
 * A socket, TLS or HTTP/2 error anywhere in the cause chain (connect-node reports most of them as INTERNAL,
 * UNAVAILABLE or ABORTED) decides before the status, by the shared table src/net/errors.ts: `retryable` there
 * is retryable here, anything else permanent (TLS verification is never relaxed, so a refused certificate is
 * a configuration problem). Limit: with TLS 1.3 the server judges the client certificate after the client has
 * finished its handshake; a missing certificate comes back as the `certificate required` alert (permanent),
 * but a certificate the server does not trust is seen by Node's HTTP/2 client only as a cancelled stream:
 * CANCELLED, retryable.
 */
export function classifyApiError(e: unknown, withPageToken: boolean): ApiFailure {
  const ce = ConnectError.from(e);
  const network = findNetworkError(e);
  if (network !== undefined) {
    const { rule, error } = network;
    const hint = rule.hint?.(CONNECT_NETWORK_KEYS);
    return {
      action: rule.retryable ? 'retryable' : 'permanent',
      reason: rule.code,
      meaning: hint === undefined ? rule.meaning : `${rule.meaning}: ${hint}`,
      detail: errorMessage(error),
    };
  }
  const detail = ce.rawMessage;
  const rule = STATUS_BY_CODE.get(ce.code);
  if (rule === undefined) return { action: 'retryable', reason: `code ${ce.code}`, meaning: 'an unknown status', detail };
  if (withPageToken && rule.pageTokenRejection === true) {
    return { action: 'restart-window', reason: rule.name, meaning: 'the page token was refused (expired or invalid)', detail };
  }
  return { action: rule.action, reason: rule.name, meaning: rule.meaning, detail };
}

