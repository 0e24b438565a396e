// What a failed ListEvents call means for the reader: the gRPC status table and the Node/TLS error table, as data.
import { Code, ConnectError } from '@connectrpc/connect';

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

export interface NodeErrorRule {
  /** `error.code` of a Node.js or OpenSSL error anywhere in the cause chain. */
  readonly errorCode: string;
  readonly action: 'retryable' | 'permanent';
  readonly meaning: string;
}

const serverCert = (errorCode: string, what: string): NodeErrorRule => ({
  errorCode,
  action: 'permanent',
  meaning: `the server certificate was refused (${what}): check the URL, authority, tls.caFile and tls.serverSpiffeId`,
});
const clientCert = (errorCode: string, what: string): NodeErrorRule => ({
  errorCode,
  action: 'permanent',
  meaning: `the server refused the client certificate (${what}): check tls.certFile and tls.keyFile (the SVID) and the server's trust bundle`,
});

/**
 * Errors below the gRPC status, found in the cause chain of a ConnectError (connect-node reports most of
 * them as INTERNAL, UNAVAILABLE or ABORTED; they take precedence over the status). TLS verification is never
 * relaxed, so a refused certificate is a configuration problem: permanent. Certificate errors are OpenSSL's
 * verify codes as Node names them (https://nodejs.org/api/tls.html#x509-certificate-error-codes); alerts are
 * `ERR_SSL_*` codes (https://docs.openssl.org/3.0/man3/SSL_alert_type_string/); socket errors are libuv's
 * (https://nodejs.org/api/errors.html#common-system-errors); HTTP/2 ones Node's
 * (https://nodejs.org/api/errors.html#node-error-codes).
 * Limit: with TLS 1.3 the server judges the client certificate after the client has finished its handshake;
 * a missing certificate comes back as the `certificate required` alert (permanent), but a certificate the
 * server does not trust is seen by Node's HTTP/2 client only as a cancelled stream: CANCELLED, retryable.
 */
export const NODE_ERROR_TABLE: readonly NodeErrorRule[] = [
  { errorCode: 'ERR_SPIFFE_ID_MISMATCH', action: 'permanent', meaning: 'the server is not the one expected (tls.serverSpiffeId)' },
  serverCert('ERR_TLS_CERT_ALTNAME_INVALID', 'its names do not include the host or authority'),
  serverCert('UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'it does not chain to the CA bundle'),
  serverCert('UNABLE_TO_GET_ISSUER_CERT', 'it does not chain to the CA bundle'),
  serverCert('UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'it does not chain to the CA bundle'),
  serverCert('SELF_SIGNED_CERT_IN_CHAIN', 'it does not chain to the CA bundle'),
  serverCert('DEPTH_ZERO_SELF_SIGNED_CERT', 'it is self-signed and not in the CA bundle'),
  serverCert('CERT_UNTRUSTED', 'it does not chain to the CA bundle'),
  serverCert('CERT_REJECTED', 'rejected'),
  serverCert('CERT_SIGNATURE_FAILURE', 'bad signature'),
  serverCert('CERT_HAS_EXPIRED', 'expired'),
  serverCert('CERT_NOT_YET_VALID', 'not yet valid'),
  serverCert('ERR_TLS_CERT_SIGNATURE_ALGORITHM_UNSUPPORTED', 'unsupported signature algorithm'),
  clientCert('ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED', 'none was configured'),
  clientCert('ERR_SSL_TLSV1_ALERT_UNKNOWN_CA', 'it does not chain to the server’s trust bundle'),
  clientCert('ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE', 'bad certificate'),
  clientCert('ERR_SSL_SSLV3_ALERT_CERTIFICATE_EXPIRED', 'expired'),
  clientCert('ERR_SSL_SSLV3_ALERT_CERTIFICATE_UNKNOWN', 'not accepted'),
  clientCert('ERR_SSL_SSLV3_ALERT_UNSUPPORTED_CERTIFICATE', 'unsupported'),
  clientCert('ERR_SSL_SSLV3_ALERT_CERTIFICATE_REVOKED', 'revoked'),
  clientCert('ERR_SSL_TLSV1_ALERT_ACCESS_DENIED', 'access denied'),
  { errorCode: 'ECONNRESET', action: 'retryable', meaning: 'the connection was reset' },
  { errorCode: 'ECONNREFUSED', action: 'retryable', meaning: 'the connection was refused (server down or restarting)' },
  { errorCode: 'ECONNABORTED', action: 'retryable', meaning: 'the connection was aborted' },
  { errorCode: 'EPIPE', action: 'retryable', meaning: 'the connection was closed while writing' },
  { errorCode: 'ETIMEDOUT', action: 'retryable', meaning: 'the connection timed out' },
  { errorCode: 'EHOSTUNREACH', action: 'retryable', meaning: 'the host is unreachable' },
  { errorCode: 'ENETUNREACH', action: 'retryable', meaning: 'the network is unreachable' },
  { errorCode: 'ENOTFOUND', action: 'retryable', meaning: 'the host name does not resolve' },
  { errorCode: 'EAI_AGAIN', action: 'retryable', meaning: 'the host name could not be resolved for now' },
  { errorCode: 'ERR_HTTP2_GOAWAY_SESSION', action: 'retryable', meaning: 'the server closed the HTTP/2 connection' },
  { errorCode: 'ERR_HTTP2_SESSION_ERROR', action: 'retryable', meaning: 'the HTTP/2 connection failed' },
  { errorCode: 'ERR_HTTP2_STREAM_ERROR', action: 'retryable', meaning: 'the HTTP/2 stream failed' },
  { errorCode: 'ERR_HTTP2_STREAM_CANCEL', action: 'retryable', meaning: 'the HTTP/2 stream was cancelled' },
  { errorCode: 'ERR_HTTP2_INVALID_SESSION', action: 'retryable', meaning: 'the HTTP/2 connection was already closed' },
];

const STATUS_BY_CODE: ReadonlyMap<Code, StatusRule> = new Map(STATUS_TABLE.map((r) => [r.code, r]));
const NODE_BY_CODE: ReadonlyMap<string, NodeErrorRule> = new Map(NODE_ERROR_TABLE.map((r) => [r.errorCode, r]));

export interface ApiFailure {
  readonly action: ApiFailureAction;
  /** The gRPC status name (`UNAVAILABLE`), or the Node error code when that decided (`ERR_SPIFFE_ID_MISMATCH`). */
  readonly reason: string;
  /** One line for the error message: what it means and what to check. Never contains credentials. */
  readonly meaning: string;
  /** The server's or the library's own message. */
  readonly detail: string;
}

/** The error and its causes, outermost first (bounded: a cycle of causes ends the walk). */
function causeChain(e: unknown): unknown[] {
  const chain: unknown[] = [];
  for (let cur: unknown = e; cur !== undefined && cur !== null && chain.length < 16 && !chain.includes(cur); ) {
    chain.push(cur);
    cur = cur instanceof Error ? cur.cause : undefined;
  }
  return chain;
}

/** The first error of the chain whose `code` is in NODE_ERROR_TABLE, with its rule. */
function nodeRule(e: unknown): { rule: NodeErrorRule; message: string } | undefined {
  for (const c of causeChain(e)) {
    const code = typeof c === 'object' && c !== null ? (c as { code?: unknown }).code : undefined;
    if (typeof code !== 'string') continue;
    const rule = NODE_BY_CODE.get(code);
    if (rule !== undefined) return { rule, message: c instanceof Error ? c.message : code };
  }
  return undefined;
}

/**
 * Classifies the failure of a ListEvents call (anything the Connect client threw: always a ConnectError, or
 * converted to one). `withPageToken`: the request carried a page token. Pure.
 */
export function classifyApiError(e: unknown, withPageToken: boolean): ApiFailure {
  const ce = ConnectError.from(e);
  const node = nodeRule(e);
  if (node !== undefined) return { action: node.rule.action, reason: node.rule.errorCode, meaning: node.rule.meaning, detail: node.message };
  const detail = ce.rawMessage;
  const rule = STATUS_BY_CODE.get(ce.code);
  if (rule === undefined) return { action: 'retryable', reason: `code ${ce.code}`, meaning: 'an unknown status', detail };
  if (withPageToken && rule.pageTokenRejection === true) {
    return { action: 'restart-window', reason: rule.name, meaning: 'the page token was refused (expired or invalid)', detail };
  }
  return { action: rule.action, reason: rule.name, meaning: rule.meaning, detail };
}

