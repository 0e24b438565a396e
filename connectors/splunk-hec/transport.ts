// HTTP to the HEC listener on the shared client (src/net/http.ts): the channel, the token, the paths. The only file of the sink doing I/O.
import { randomUUID } from 'node:crypto';
import { createAuthorization } from '../../src/net/auth.ts';
import { createHttpClient } from '../../src/net/http.ts';
import type { TlsEvents, TlsState } from '../../src/net/tls.ts';
import type { SplunkHecSinkConfig } from './config.ts';

export interface HecResponse {
  readonly status: number;
  readonly body: string;
  readonly retryAfter: string | undefined;
}

export interface HecRequest {
  readonly method: 'GET' | 'POST';
  /** Path and query. */
  readonly path: string;
  readonly body?: Buffer | string;
  /** Compress the body (gzip, on the thread pool) and say so in `Content-Encoding`. */
  readonly gzip?: boolean;
  /** Sends the channel header (every data and ack request does: ids are per channel). */
  readonly channel?: boolean;
}

export interface HecTransport {
  /** The channel (`X-Splunk-Request-Channel`) of this sink instance: a random GUID. */
  readonly channel: string;
  /**
   * Sends one request. Rejects as src/net/http.ts `HttpClient.request` does: with the network or TLS error
   * when no HTTP answer came, a `TlsFileError` when the TLS files cannot be used, a `CredentialValueError`
   * for a token that cannot be sent, or the signal's reason when aborted. An HTTP error status is an answer.
   */
  request(request: HecRequest, signal?: AbortSignal): Promise<HecResponse>;
  /** The TLS state in use, for `check`'s closer look at a failure. */
  tlsState(): Promise<TlsState | undefined>;
  close(): Promise<void>;
}

/**
 * TLS material and the token file are read again when they change (a client certificate renewed by
 * cert-manager or a SPIFFE sidecar, a new CA bundle, a rotated token): see src/net/tls.ts and auth.ts.
 */
export function createHecTransport(config: SplunkHecSinkConfig, tlsEvents: TlsEvents = {}): HecTransport {
  const channel = randomUUID();
  const client = createHttpClient({
    url: config.url,
    tls: config.tls,
    tlsEvents,
    connections: config.concurrency,
    timeoutMs: config.timeout,
    authorization: createAuthorization({ type: 'scheme', scheme: 'Splunk', secret: config.token, what: 'the HEC token', keys: 'token / tokenFile' }),
  });

  return {
    channel,
    async request(req, signal) {
      const reply = await client.request(
        {
          method: req.method,
          path: req.path,
          ...(req.body === undefined ? {} : { body: req.body, gzip: req.gzip === true }),
          ...(req.channel === true ? { headers: { 'x-splunk-request-channel': channel } } : {}),
        },
        signal,
      );
      return { status: reply.status, body: reply.text(), retryAfter: reply.retryAfter };
    },
    tlsState: () => client.tlsState(),
    close: () => client.close(),
  };
}
