// Failures below HTTP (socket, DNS, TLS, protocol) as data: what each error code means, whether it may clear, and what to fix.

/**
 * - `unreachable`: no connection (refused, no route, the name does not resolve);
 * - `timeout`: no connection or no answer in time;
 * - `connection`: connected, then the connection failed (reset, closed);
 * - `tls`: the TLS handshake failed on a certificate (the server's or ours) or on our TLS files;
 * - `protocol`: the two ends do not speak the same protocol (https:// to a plain HTTP port and the reverse).
 */
export type NetworkKind = 'unreachable' | 'timeout' | 'connection' | 'tls' | 'protocol';

/** The configuration keys a hint names; a connector whose keys differ passes its own (Connect: `api.authority`). */
export interface NetworkKeys {
  readonly url: string;
  readonly caFile: string;
  readonly certFile: string;
  readonly keyFile: string;
  readonly serverName: string;
  readonly serverSpiffeId: string;
  /**
   * What to do when the server speaks no TLS on that port, for a protocol other than HTTP (syslog: `use
   * transport tcp`); HTTP's advice (use http:// in `url`) when absent.
   */
  readonly withoutTls?: string;
}

export const DEFAULT_NETWORK_KEYS: NetworkKeys = Object.freeze({
  url: 'url',
  caFile: 'tls.caFile',
  certFile: 'tls.certFile',
  keyFile: 'tls.keyFile',
  serverName: 'tls.serverName',
  serverSpiffeId: 'tls.serverSpiffeId',
});

export interface NetworkErrorRule {
  /** `code` of the error or of one of its causes; for an error without a code (undici's HTTPParserError), its `name`. */
  readonly code: string;
  readonly kind: NetworkKind;
  /**
   * Whether the same call may work later with nothing changed here (a server restarting, a network blip).
   * `false`: a configuration (ours or the server's) must change first. A sink may retry anyway when a request
   * without an answer must be sent again (see its README); a reader stops.
   */
  readonly retryable: boolean;
  /** What happened, in words. */
  readonly meaning: string;
  /** What to do about it, naming the configuration keys. */
  readonly hint?: (keys: NetworkKeys) => string;
}

const unknownCa = (k: NetworkKeys) => `set \`${k.caFile}\` to the CA that signed the server certificate`;
const serverCert = (code: string, meaning: string, hint: (k: NetworkKeys) => string = unknownCa): NetworkErrorRule => ({ code, kind: 'tls', retryable: false, meaning, hint });
const clientCertHint = (k: NetworkKeys) => `check \`${k.certFile}\` and \`${k.keyFile}\` (a certificate signed by a CA the server trusts)`;
const clientCert = (code: string, what: string): NetworkErrorRule => ({
  code,
  kind: 'tls',
  retryable: false,
  meaning: `the server refused the client certificate (${what})`,
  hint: clientCertHint,
});
const socket = (code: string, kind: NetworkKind, meaning: string, hint?: (k: NetworkKeys) => string): NetworkErrorRule => ({ code, kind, retryable: true, meaning, ...(hint === undefined ? {} : { hint }) });
const checkHost = (k: NetworkKeys) => `check the host in \`${k.url}\``;
const plainHttpHere = (k: NetworkKeys) =>
  k.withoutTls === undefined ? `the server speaks plain HTTP here: use http:// in \`${k.url}\`, or the port where it speaks TLS` : `the server speaks no TLS here: ${k.withoutTls}`;

/**
 * Sources, as observed against real local servers (test/net/errors.test.ts) with Node.js 24 and undici 8:
 * certificate verification errors are OpenSSL's verify codes as Node names them
 * (https://nodejs.org/api/tls.html#x509-certificate-error-codes); alerts from the server are `ERR_SSL_*`
 * (https://docs.openssl.org/3.0/man3/SSL_alert_type_string/); socket errors are libuv's
 * (https://nodejs.org/api/errors.html#common-system-errors); undici's are in its `lib/core/errors.js`;
 * HTTP/2 ones are Node's (https://nodejs.org/api/errors.html#node-error-codes).
 * What the table cannot see: http:// to a TLS port is a closed connection (`UND_ERR_SOCKET`) or a reply that is
 * not HTTP; a client certificate the server does not trust is, with TLS 1.3, a connection closed after the
 * handshake. `check` looks closer (probe.ts).
 */
export const NETWORK_ERRORS: readonly NetworkErrorRule[] = [
  // The server certificate (ours to fix: the CA bundle, the name, the expected identity).
  serverCert('UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'the server certificate does not chain to the CA bundle (an unknown CA)'),
  serverCert('UNABLE_TO_GET_ISSUER_CERT', 'the server certificate does not chain to the CA bundle (an unknown CA)'),
  serverCert('UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'the server certificate does not chain to the CA bundle (an unknown CA)'),
  serverCert('SELF_SIGNED_CERT_IN_CHAIN', 'the server certificate does not chain to the CA bundle (its chain ends in a CA not in it)'),
  serverCert('CERT_UNTRUSTED', 'the server certificate does not chain to the CA bundle (not trusted)'),
  serverCert('DEPTH_ZERO_SELF_SIGNED_CERT', 'the server certificate is self-signed, and not in the CA bundle', (k) => `set \`${k.caFile}\` to that certificate, or give the server one signed by a CA in the bundle`),
  serverCert('ERR_TLS_CERT_ALTNAME_INVALID', 'the server certificate is for other names', (k) => `set \`${k.serverName}\` to a name the certificate carries, or use that name in \`${k.url}\``),
  serverCert('ERR_SPIFFE_ID_MISMATCH', 'the server is not the one expected (another SPIFFE ID)', (k) => `check \`${k.serverSpiffeId}\` and \`${k.url}\``),
  serverCert('CERT_HAS_EXPIRED', 'the server certificate has expired', () => 'renew it on the server (or check the clock of this host)'),
  serverCert('CERT_NOT_YET_VALID', 'the server certificate is not valid yet', () => 'check the clock of this host and of the server'),
  serverCert('INVALID_PURPOSE', 'the server certificate is not for a TLS server (a CA or client certificate?)', () => 'give the server a certificate with extended key usage serverAuth'),
  serverCert('CERT_REJECTED', 'the server certificate is rejected by the CA bundle'),
  serverCert('CERT_SIGNATURE_FAILURE', 'the server certificate has a bad signature'),
  serverCert('ERR_TLS_CERT_SIGNATURE_ALGORITHM_UNSUPPORTED', 'the server certificate is signed with an unsupported algorithm', () => 'give the server a certificate signed with RSA-SHA256 or ECDSA'),
  // Our own TLS files (see tls.ts: the message names the key and the file).
  { code: 'ERR_TLS_FILE', kind: 'tls', retryable: true, meaning: 'the TLS files cannot be used', hint: () => 'fix the file named (it is read again before the next call)' },
  // The server refused the client certificate (alerts).
  clientCert('ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED', 'none was configured'),
  clientCert('ERR_SSL_TLSV1_ALERT_UNKNOWN_CA', 'it does not chain to the server’s trust bundle'),
  clientCert('ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE', 'bad certificate'),
  clientCert('ERR_SSL_SSLV3_ALERT_CERTIFICATE_EXPIRED', 'expired'),
  clientCert('ERR_SSL_SSLV3_ALERT_CERTIFICATE_UNKNOWN', 'not accepted'),
  clientCert('ERR_SSL_SSLV3_ALERT_UNSUPPORTED_CERTIFICATE', 'unsupported'),
  clientCert('ERR_SSL_SSLV3_ALERT_CERTIFICATE_REVOKED', 'revoked'),
  clientCert('ERR_SSL_TLSV1_ALERT_ACCESS_DENIED', 'access denied'),
  { code: 'ERR_SSL_SSLV3_ALERT_HANDSHAKE_FAILURE', kind: 'tls', retryable: false, meaning: 'the server refused the TLS handshake (no version or cipher in common, or a client certificate it requires)' },
  { code: 'ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION', kind: 'tls', retryable: false, meaning: 'no TLS version in common with the server' },
  // Not the same protocol at both ends.
  { code: 'ERR_SSL_WRONG_VERSION_NUMBER', kind: 'protocol', retryable: false, meaning: 'the server did not answer the TLS handshake with TLS', hint: plainHttpHere },
  { code: 'EPROTO', kind: 'protocol', retryable: false, meaning: 'the TLS handshake failed on a protocol error', hint: (k) => `when the message says "wrong version number", ${plainHttpHere(k)}` },
  { code: 'HTTPParserError', kind: 'protocol', retryable: false, meaning: 'the server answered with something that is not HTTP', hint: (k) => `if the server expects TLS, use https:// in \`${k.url}\`` },
  { code: 'ERR_SSL_TLSV1_ALERT_NO_APPLICATION_PROTOCOL', kind: 'protocol', retryable: false, meaning: 'the server does not speak the HTTP version asked for (ALPN; HTTP/2?)', hint: (k) => `check \`${k.url}\`: it must reach a server speaking HTTP/2` },
  // Nothing to connect to.
  socket('ECONNREFUSED', 'unreachable', 'the connection was refused (nothing listens on that port, or the server is down or restarting)'),
  socket('ENOTFOUND', 'unreachable', 'the host name does not resolve', checkHost),
  socket('EAI_AGAIN', 'unreachable', 'the host name could not be resolved for now'),
  socket('EHOSTUNREACH', 'unreachable', 'the host is unreachable'),
  socket('ENETUNREACH', 'unreachable', 'the network is unreachable'),
  socket('EADDRNOTAVAIL', 'unreachable', 'the address cannot be reached from this host'),
  // Too slow.
  socket('ETIMEDOUT', 'timeout', 'the connection timed out'),
  socket('UND_ERR_CONNECT_TIMEOUT', 'timeout', 'no connection within the connect timeout (a firewall dropping packets, or a server that does not answer)'),
  socket('UND_ERR_HEADERS_TIMEOUT', 'timeout', 'connected, but no answer within the timeout'),
  socket('UND_ERR_BODY_TIMEOUT', 'timeout', 'the answer stopped coming before its end'),
  // Connected, then lost.
  socket('ECONNRESET', 'connection', 'the connection was reset'),
  socket('ECONNABORTED', 'connection', 'the connection was aborted'),
  socket('EPIPE', 'connection', 'the connection was closed while writing'),
  socket('UND_ERR_SOCKET', 'connection', 'the server closed the connection'),
  socket('UND_ERR_CLOSED', 'connection', 'the connection was closed'),
  socket('UND_ERR_RES_CONTENT_LENGTH_MISMATCH', 'connection', 'the answer was cut short'),
  socket('ERR_HTTP2_GOAWAY_SESSION', 'connection', 'the server closed the HTTP/2 connection'),
  socket('ERR_HTTP2_SESSION_ERROR', 'connection', 'the HTTP/2 connection failed'),
  socket('ERR_HTTP2_STREAM_ERROR', 'connection', 'the HTTP/2 stream failed'),
  socket('ERR_HTTP2_STREAM_CANCEL', 'connection', 'the HTTP/2 stream was cancelled'),
  socket('ERR_HTTP2_INVALID_SESSION', 'connection', 'the HTTP/2 connection was already closed'),
];

/** Codes whose message says more than the code: `EPROTO … wrong version number` is https:// to a plain port. */
const BY_MESSAGE: readonly { readonly code: string; readonly message: RegExp; readonly as: string }[] = [{ code: 'EPROTO', message: /wrong version number/i, as: 'ERR_SSL_WRONG_VERSION_NUMBER' }];

const BY_CODE: ReadonlyMap<string, NetworkErrorRule> = new Map(NETWORK_ERRORS.map((r) => [r.code, r]));

/** The error and its causes, outermost first (bounded: a cycle of causes ends the walk). */
export function causeChain(error: unknown): unknown[] {
  const chain: unknown[] = [];
  for (let cur: unknown = error; cur !== undefined && cur !== null && chain.length < 16 && !chain.includes(cur); ) {
    chain.push(cur);
    cur = typeof cur === 'object' ? (cur as { cause?: unknown }).cause : undefined;
  }
  return chain;
}

const codeOf = (e: unknown): string | undefined => {
  if (typeof e !== 'object' || e === null) return undefined;
  const code = (e as { code?: unknown }).code;
  return typeof code === 'string' ? code : undefined;
};

/** The first string `code` of the error or of its causes (undici and connect wrap socket errors). */
export function errorCode(error: unknown): string | undefined {
  for (const e of causeChain(error)) {
    const code = codeOf(e);
    if (code !== undefined) return code;
  }
  return undefined;
}

export interface NetworkErrorMatch {
  readonly rule: NetworkErrorRule;
  /** The error of the chain the rule matched (its message is the detail to show). */
  readonly error: unknown;
}

/**
 * The rule for a failure: the innermost error of the chain that the table knows (the root cause: an HTTP/2
 * stream cancelled because the connection was refused is a refused connection). Undefined when none is known.
 */
export function findNetworkError(error: unknown): NetworkErrorMatch | undefined {
  let found: NetworkErrorMatch | undefined;
  for (const e of causeChain(error)) {
    let key = codeOf(e) ?? (e instanceof Error ? e.name : undefined);
    if (key === undefined) continue;
    const message = e instanceof Error ? e.message : '';
    key = BY_MESSAGE.find((m) => m.code === key && m.message.test(message))?.as ?? key;
    const rule = BY_CODE.get(key);
    if (rule !== undefined) found = { rule, error: e };
  }
  return found;
}

/** The kind of a failure; a code the table does not know is `tls` when it names TLS or a certificate, else `connection`. */
export function networkKind(error: unknown): NetworkKind {
  const found = findNetworkError(error);
  if (found !== undefined) return found.rule.kind;
  const code = errorCode(error) ?? '';
  return code.startsWith('ERR_SSL_') || code.startsWith('ERR_TLS_') || code.includes('CERT') ? 'tls' : 'connection';
}

/**
 * The message of an error on one line. OpenSSL's (`40FD…:error:0A00010B:SSL routines:…:wrong version
 * number:../deps/openssl/…:77:`) is replaced by its `reason` (`wrong version number`), which Node sets.
 */
export function errorMessage(e: unknown): string {
  if (!(e instanceof Error)) return String(e);
  const reason = (e as { reason?: unknown }).reason;
  const message = /^[0-9A-F]+:error:[0-9A-F]+:/.test(e.message) && typeof reason === 'string' ? reason : e.message;
  return message.replace(/\s*\n\s*/g, ' ').trim();
}

/** `ECONNREFUSED connect ECONNREFUSED 10.0.0.5:8088`: the code (when the message lacks it) and the messages of the chain. */
export function describeNetworkError(error: unknown): string {
  const code = errorCode(error);
  const message = errorMessage(error);
  const cause = typeof error === 'object' && error !== null ? (error as { cause?: unknown }).cause : undefined;
  const causeMessage = cause instanceof Error ? errorMessage(cause) : undefined;
  const detail = causeMessage !== undefined && !message.includes(causeMessage) ? `${message}: ${causeMessage}` : message;
  return code === undefined || detail.includes(code) ? detail : `${code} ${detail}`;
}

/**
 * One line for a log or an outcome: the error, what it means, and what to fix:
 * `UNABLE_TO_VERIFY_LEAF_SIGNATURE unable to verify the first certificate: the server certificate does not
 * chain to the CA bundle (an unknown CA): set `tls.caFile` to the CA that signed the server certificate`.
 */
export function explainNetworkError(error: unknown, keys: Partial<NetworkKeys> = {}): string {
  const found = findNetworkError(error);
  const detail = describeNetworkError(error);
  if (found === undefined) return detail;
  const hint = found.rule.hint?.({ ...DEFAULT_NETWORK_KEYS, ...keys });
  return `${detail}: ${found.rule.meaning}${hint === undefined ? '' : `: ${hint}`}`;
}
