// How `check` words a failure below HTTP: a headline by kind, the error, and the fix; looks closer where the error code cannot tell.
import { isIP } from 'node:net';
import { connect as tlsConnect, type ConnectionOptions } from 'node:tls';
import { DEFAULT_NETWORK_KEYS, describeNetworkError, errorCode, findNetworkError, networkKind, type NetworkKeys, type NetworkKind } from './errors.ts';

/** The start of a `check` line for each kind (`TLS failure: …`). */
export const PROBE_HEADLINES: Readonly<Record<NetworkKind, string>> = Object.freeze({
  unreachable: 'unreachable',
  timeout: 'timed out',
  connection: 'connection failed',
  tls: 'TLS failure',
  protocol: 'wrong protocol',
});

export interface ProbeTarget {
  /** The URL that was tried. */
  readonly url: string | URL;
  /** The configuration keys to name in hints, when they are not the defaults (`url`, `tls.caFile` …). */
  readonly keys?: Partial<NetworkKeys>;
  /** The probe's own deadline: a `TimeoutError` is worded `no answer within … ms`. */
  readonly timeoutMs?: number;
  /** The TLS options the client used (tls.ts `TlsState.options`): a second look at the handshake uses them. */
  readonly tls?: ConnectionOptions;
}

/** What one TLS handshake (followed by a HEAD request) to a server showed. */
export type HandshakeResult =
  | { readonly outcome: 'answered' }
  /** The server closed the connection after the handshake without a word. */
  | { readonly outcome: 'closed' }
  | { readonly outcome: 'failed'; readonly error: Error };

/**
 * One TLS handshake to `host:port` with `options` (verification on), then a `HEAD /` without credentials,
 * to see what a failed request could not: a server that answers TLS at all, a client certificate refused
 * after a TLS 1.3 handshake (an alert, or a connection closed). Never rejects.
 */
export function tryHandshake(url: URL, options: ConnectionOptions, timeoutMs: number): Promise<HandshakeResult> {
  return new Promise((resolve) => {
    const port = Number(url.port === '' ? (url.protocol === 'http:' ? 80 : 443) : url.port);
    const host = url.hostname.replace(/^\[|\]$/g, '');
    const socket = tlsConnect({ ...(isIP(host) === 0 ? { servername: host } : {}), ...options, rejectUnauthorized: true, host, port });
    let done = false;
    const finish = (result: HandshakeResult) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(result);
    };
    const timer = setTimeout(() => finish({ outcome: 'failed', error: Object.assign(new Error('no TLS answer in time'), { code: 'ETIMEDOUT' }) }), timeoutMs);
    socket.once('secureConnect', () => socket.write(`HEAD / HTTP/1.1\r\nHost: ${url.host}\r\nConnection: close\r\n\r\n`));
    socket.once('data', () => finish({ outcome: 'answered' }));
    socket.once('error', (error) => finish({ outcome: 'failed', error }));
    socket.once('close', () => finish({ outcome: 'closed' }));
  });
}

const CLOSED = new Set(['UND_ERR_SOCKET', 'ECONNRESET', 'EPIPE', 'HTTPParserError']);
const closedConnection = (error: unknown): boolean => {
  const found = findNetworkError(error);
  return found !== undefined && CLOSED.has(found.rule.code);
};

/**
 * The `check` line for a request that got no HTTP answer: `<headline>: <error>: <fix>`, e.g.
 * `TLS failure: UNABLE_TO_VERIFY_LEAF_SIGNATURE unable to verify the first certificate: set `tls.caFile` to
 * the CA that signed the server certificate`. Where the error cannot tell, one more connection shows it:
 * an http:// URL whose server closed the connection or answered with something that is not HTTP is tried
 * with TLS (the server expects TLS: use https://); an https:// one whose server closed the connection is
 * tried again to catch the alert of a refused client certificate. Never rejects.
 */
export async function describeProbeFailure(error: unknown, target: ProbeTarget): Promise<string> {
  const keys = { ...DEFAULT_NETWORK_KEYS, ...target.keys };
  const url = new URL(target.url);
  if ((error as Error | undefined)?.name === 'TimeoutError' && target.timeoutMs !== undefined) return `no answer within ${target.timeoutMs} ms`;
  const detail = describeNetworkError(error);
  const timeoutMs = Math.min(target.timeoutMs ?? 5_000, 5_000);
  if (closedConnection(error)) {
    if (url.protocol === 'http:') {
      const tls = await tryHandshake(url, {}, timeoutMs);
      // A certificate error or an alert is an answer in TLS as much as a handshake that completes.
      const code = tls.outcome === 'failed' ? (errorCode(tls.error) ?? '') : '';
      const speaksTls = tls.outcome !== 'failed' || networkKind(tls.error) === 'tls' || (code.startsWith('ERR_SSL_') && code !== 'ERR_SSL_WRONG_VERSION_NUMBER');
      if (speaksTls) return `${PROBE_HEADLINES.protocol}: ${detail}: the server expects TLS: use https:// in \`${keys.url}\``;
    } else {
      const tls = await tryHandshake(url, target.tls ?? {}, timeoutMs);
      if (tls.outcome === 'failed' && findNetworkError(tls.error)?.rule.kind === 'tls') return line(tls.error, keys);
      if (tls.outcome === 'closed') {
        return `${PROBE_HEADLINES.tls}: ${detail}: the server closes the connection right after the TLS handshake: it may refuse the client certificate (check \`${keys.certFile}\` and \`${keys.keyFile}\`, and the CAs the server trusts)`;
      }
    }
  }
  return line(error, keys);
}

function line(error: unknown, keys: NetworkKeys): string {
  const found = findNetworkError(error);
  const detail = describeNetworkError(error);
  const headline = PROBE_HEADLINES[networkKind(error)];
  const hint = found?.rule.hint?.(keys);
  return hint === undefined ? `${headline}: ${detail}` : `${headline}: ${detail}: ${hint}`;
}
