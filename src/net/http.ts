// An HTTP client for sinks on an undici pool: keep-alive, TLS always verified from files re-read on change, credentials that rotate, replies read up to a cap.
import { Pool } from 'undici';
import type { SendOutcome } from '../contracts/outcome.ts';
import { createAuthorization, CredentialValueError, createSecretHeaders, type AuthorizationHeader, type SecretHeaders } from './auth.ts';
import { explainNetworkError } from './errors.ts';
import type { HttpAuth, HttpOptions } from './config.ts';
import { gzip } from './gzip.ts';
import { createTlsMaterial, TlsFileError, type TlsEvents, type TlsMaterial, type TlsSettings, type TlsState } from './tls.ts';

/** Default cap of a reply's body: an API's short JSON answer; a proxy's error page beyond it is not kept. */
export const DEFAULT_MAX_REPLY_BYTES = 64 * 1024;

export interface HttpClientOptions {
  /**
   * Base URL (`https://es.example.com:9200`, `https://gw.example.com/splunk`): its origin is where the pool
   * connects, its path a prefix of every request path.
   */
  readonly url: string;
  /** TLS settings (config.ts `tlsOptions`); ignored for an http:// URL. Verification is always on. */
  readonly tls?: TlsSettings;
  /** What happens to the TLS files (log it: a rotation taken, a rotation not usable yet). */
  readonly tlsEvents?: TlsEvents;
  /** Connections to the server, i.e. requests at once (more wait in the pool's queue). */
  readonly connections: number;
  /** Time allowed for a response's headers, and between two parts of its body. */
  readonly timeoutMs: number;
  /** Time allowed to connect (TCP and TLS); default the smaller of `timeoutMs` and 10 s. */
  readonly connectTimeoutMs?: number;
  /** The `Authorization` header (auth.ts `createAuthorization`). */
  readonly authorization?: AuthorizationHeader;
  /** Further headers on every request, with secret values (auth.ts `createSecretHeaders`). */
  readonly headers?: SecretHeaders;
  /** A reply's body is kept up to this many bytes (the rest is read and dropped); default 64 KiB. */
  readonly maxReplyBytes?: number;
  /** `User-Agent`; default `audit-forwarder`. */
  readonly userAgent?: string;
}

export interface HttpRequest {
  readonly method: 'GET' | 'HEAD' | 'POST' | 'PUT' | 'DELETE';
  /** Path and query after the base URL's path (`/_bulk`, `/services/collector/event?channel=…`). */
  readonly path: string;
  readonly body?: Buffer | string;
  /** `Content-Type` of the body; default `application/json`. Not sent without a body. */
  readonly contentType?: string;
  /** Compress the body with gzip (on the thread pool) and send `Content-Encoding: gzip`. */
  readonly gzip?: boolean;
  /** Further headers of this request (not credentials: those come from the client's options). */
  readonly headers?: Readonly<Record<string, string>>;
  /** This request's cap on the reply (a bulk answer listing every item is longer than an error). */
  readonly maxReplyBytes?: number;
}

export interface HttpReply {
  readonly status: number;
  /** Header names in lower case. */
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  /** The body, up to the cap. */
  readonly body: Buffer;
  /** The body was longer than the cap: `body` is its beginning. */
  readonly truncated: boolean;
  /** `Retry-After`, as sent (status.ts / backoff.ts `parseRetryAfter` read it). */
  readonly retryAfter: string | undefined;
  /** The body as UTF-8 text. */
  text(): string;
}

export interface HttpClient {
  /** The base URL. */
  readonly url: URL;
  /**
   * Sends one request. Resolves with any HTTP answer, whatever its status. Rejects, without an answer:
   * - with the network or TLS error (undici / Node codes, see errors.ts) when none came — the request may
   *   or may not have been processed;
   * - with a `TlsFileError` (tls.ts) when the TLS files cannot be used: nothing was sent;
   * - with a `CredentialValueError` (auth.ts) when a credential cannot be sent: nothing was sent, and the
   *   route cannot work until it is fixed;
   * - with the signal's reason when `signal` aborts;
   * - after `close()`.
   * When the TLS files changed, the request goes through a new pool; requests already on the old one
   * finish there, then it closes.
   */
  request(request: HttpRequest, signal?: AbortSignal): Promise<HttpReply>;
  /** The TLS state requests use now (for probe.ts `describeProbeFailure`); undefined for http://. Rejects like `request`. */
  tlsState(): Promise<TlsState | undefined>;
  /** Lets requests in flight finish, then closes every connection. Idempotent. */
  close(): Promise<void>;
}

export function createHttpClient(options: HttpClientOptions): HttpClient {
  const url = new URL(options.url);
  const origin = url.origin;
  // A base URL with a path (`https://host:8088/splunk`) keeps it as a prefix of every request.
  const prefix = url.pathname.replace(/\/+$/, '');
  const tls: TlsMaterial | undefined = url.protocol === 'https:' ? createTlsMaterial(options.tls ?? {}, options.tlsEvents) : undefined;
  const maxReply = options.maxReplyBytes ?? DEFAULT_MAX_REPLY_BYTES;
  const connectTimeout = options.connectTimeoutMs ?? Math.min(options.timeoutMs, 10_000);
  let current: { pool: Pool; generation: number } | undefined;
  const retiring = new Set<Promise<void>>();
  let closed: Promise<void> | undefined;

  function createPool(state: TlsState | undefined): Pool {
    return new Pool(origin, {
      connections: options.connections,
      pipelining: 1,
      keepAliveTimeout: 30_000,
      headersTimeout: options.timeoutMs,
      bodyTimeout: options.timeoutMs,
      connect: { timeout: connectTimeout, ...(state === undefined ? {} : state.options) },
    });
  }

  async function pool(): Promise<Pool> {
    const state = await tls?.current();
    const generation = state?.generation ?? 0;
    if (closed !== undefined) throw new Error(`the HTTP client of ${origin} is closed`);
    // An older generation can come back late from a slow `current()`: the newer pool stays.
    if (current === undefined || generation > current.generation) {
      const previous = current;
      current = { pool: createPool(state), generation };
      if (previous !== undefined) {
        const closing = previous.pool.close().catch(() => undefined);
        retiring.add(closing);
        void closing.finally(() => retiring.delete(closing));
      }
    }
    return current.pool;
  }

  return {
    url,
    tlsState: async () => tls?.current(),
    async request(req, signal) {
      if (closed !== undefined) throw new Error(`the HTTP client of ${origin} is closed`);
      const p = await pool();
      const headers: Record<string, string> = { ...(await options.headers?.current()), ...req.headers };
      if (options.authorization !== undefined) headers['authorization'] = await options.authorization.current();
      headers['user-agent'] = options.userAgent ?? 'audit-forwarder';
      let body = req.body;
      if (body !== undefined) {
        headers['content-type'] = req.contentType ?? 'application/json';
        if (req.gzip === true) {
          body = await gzip(body);
          headers['content-encoding'] = 'gzip';
        }
      }
      const res = await p.request({
        origin,
        method: req.method,
        path: `${prefix}${req.path}`,
        headers,
        ...(body === undefined ? {} : { body }),
        ...(signal === undefined ? {} : { signal }),
      });
      const cap = req.maxReplyBytes ?? maxReply;
      let size = 0;
      const chunks: Buffer[] = [];
      // Read to the end, so the connection can be used again; keep only the beginning.
      for await (const chunk of res.body as AsyncIterable<Buffer>) {
        if (size < cap) chunks.push(chunk);
        size += chunk.length;
      }
      const kept = Buffer.concat(chunks).subarray(0, cap);
      const retryAfter = res.headers['retry-after'];
      return {
        status: res.statusCode,
        headers: res.headers,
        body: kept,
        truncated: size > cap,
        retryAfter: Array.isArray(retryAfter) ? retryAfter[0] : retryAfter,
        text: () => kept.toString('utf8'),
      };
    },
    close() {
      closed ??= (async () => {
        const last = current;
        current = undefined;
        await Promise.all([last?.pool.close().catch(() => undefined), ...retiring]);
      })();
      return closed;
    },
  };
}

/** What a sink configured with the shared keys (config.ts: `url`, `tls`, `auth`, `http`) holds. */
export interface HttpSinkSettings {
  readonly url: string;
  readonly tls: TlsSettings;
  readonly auth?: HttpAuth | undefined;
  readonly http: HttpOptions;
}

/** The HTTP client of such a sink: its pool size, timeout, credentials and extra headers from those keys. */
export function httpClientOf(settings: HttpSinkSettings, tlsEvents?: TlsEvents): HttpClient {
  return createHttpClient({
    url: settings.url,
    tls: settings.tls,
    ...(tlsEvents !== undefined ? { tlsEvents } : {}),
    connections: settings.http.concurrency,
    timeoutMs: settings.http.timeout,
    ...(settings.auth !== undefined ? { authorization: createAuthorization(settings.auth) } : {}),
    headers: createSecretHeaders(settings.http.headers, 'http.headers'),
  });
}

/**
 * The outcome of a send that got no answer (the request threw), for every sink on this layer: aborted → retryable;
 * a credential that cannot be sent (a control character in it) → the route stops; TLS files that cannot be used →
 * retryable, nothing was sent (they are read again before the next attempt); any other failure → retryable with the
 * network table's words and fix. The destination may have taken a request whose answer was lost: the resend can
 * duplicate, which each sink's docs say how it handles.
 */
export function unansweredOutcome(error: unknown, signal: AbortSignal, destination: string): SendOutcome {
  if (signal.aborted) return { status: 'retryable', reason: 'aborted', kind: 'unanswered' };
  if (error instanceof CredentialValueError) return { status: 'rejected', scope: 'sink', reason: error.message };
  if (error instanceof TlsFileError) return { status: 'retryable', reason: `not sent: ${error.message}`, kind: 'unanswered' };
  return { status: 'retryable', reason: `no answer from ${destination} (${explainNetworkError(error)}); the batch is sent again`, kind: 'unanswered' };
}
