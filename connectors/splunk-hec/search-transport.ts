// HTTP to Splunk's REST management port on the shared client (src/net/http.ts): the search token, the export endpoint. The only file of the queries doing I/O.
import { createAuthorization } from '../../src/net/auth.ts';
import { createHttpClient } from '../../src/net/http.ts';
import type { TlsEvents, TlsState } from '../../src/net/tls.ts';
import type { SplunkHecSinkConfig } from './config.ts';

/** Where a search is sent: it streams its results, one JSON object a line (query.ts reads them). */
export const EXPORT_PATH = '/services/search/jobs/export';

/**
 * An export answer lists one line per result (a window, or an event id): room for several hundred thousand ids.
 * A longer one is refused (query.ts), never read in part.
 */
const MAX_EXPORT_REPLY_BYTES = 64 * 1024 * 1024;

export type SplunkSearchSettings = NonNullable<SplunkHecSinkConfig['search']>;

export interface SearchReply {
  readonly status: number;
  readonly body: string;
  /** The body was longer than the cap: `body` is its beginning only. */
  readonly truncated: boolean;
}

export interface SearchTransport {
  /** `https://splunk.example.com:8089/services/search/jobs/export`: what messages name (it never carries a credential). */
  readonly exportUrl: string;
  /**
   * One `POST /services/search/jobs/export` with `form` form-encoded. Rejects as src/net/http.ts
   * `HttpClient.request` does (no answer, TLS files, a token that cannot be sent, abort); any HTTP status is an answer.
   */
  exportSearch(form: Readonly<Record<string, string>>, signal: AbortSignal): Promise<SearchReply>;
  tlsState(): Promise<TlsState | undefined>;
  /** Idempotent. */
  close(): Promise<void>;
}

/** The token is a Splunk authentication token, sent as `Authorization: Bearer`; its file is re-read when it changes. */
export function createSearchTransport(settings: SplunkSearchSettings, tlsEvents: TlsEvents = {}): SearchTransport {
  const client = createHttpClient({
    url: settings.url,
    tls: settings.tls,
    tlsEvents,
    // Reconciliation asks one search at a time.
    connections: 1,
    timeoutMs: settings.timeout,
    authorization: createAuthorization({ type: 'scheme', scheme: 'Bearer', secret: settings.token, what: 'the search token', keys: 'search.token / search.tokenFile' }),
    maxReplyBytes: MAX_EXPORT_REPLY_BYTES,
  });
  const base = client.url.toString().replace(/\/+$/, '');
  return {
    exportUrl: `${base}${EXPORT_PATH}`,
    async exportSearch(form, signal) {
      const reply = await client.request(
        { method: 'POST', path: EXPORT_PATH, body: new URLSearchParams(form).toString(), contentType: 'application/x-www-form-urlencoded' },
        signal,
      );
      return { status: reply.status, body: reply.text(), truncated: reply.truncated };
    },
    tlsState: () => client.tlsState(),
    close: () => client.close(),
  };
}
