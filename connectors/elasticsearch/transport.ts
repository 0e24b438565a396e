// HTTP to the cluster on the shared client (src/net/http.ts): credentials, paths, the bulk and search requests. The only file of the connector doing I/O.
import { httpClientOf, type HttpClient, type HttpReply } from '../../src/net/http.ts';
import type { TlsEvents } from '../../src/net/tls.ts';
import type { ElasticsearchSinkConfig } from './config.ts';

/** A bulk answer lists every item: room for a thousand items with their error reasons. */
const MAX_BULK_REPLY_BYTES = 16 * 1024 * 1024;

/** A search answer for reconciliation holds at most one page of aggregation buckets (query.ts bounds them). */
const MAX_SEARCH_REPLY_BYTES = 16 * 1024 * 1024;

/** What of each item the sink reads: the rest of a bulk answer (versions, shards, sequence numbers) is not sent. */
const BULK_FILTER = 'errors,items.*.status,items.*.error.type,items.*.error.reason,items.*._index';

export interface ElasticsearchTransport {
  readonly client: HttpClient;
  /**
   * One `_bulk` request. Rejects as `HttpClient.request` does (no answer, TLS files, credentials, abort);
   * any HTTP status is an answer.
   */
  bulk(body: Buffer, signal: AbortSignal): Promise<HttpReply>;
  /** A small JSON request (`check`, `setup`). */
  json(method: 'GET' | 'PUT' | 'POST', path: string, body: unknown, signal: AbortSignal): Promise<HttpReply>;
  /** `POST /<target>/_search` with a JSON body (reconciliation queries, query.ts); rejects as `bulk`. */
  search(target: string, body: unknown, signal: AbortSignal): Promise<HttpReply>;
  close(): Promise<void>;
}

export function createElasticsearchTransport(config: ElasticsearchSinkConfig, tlsEvents?: TlsEvents): ElasticsearchTransport {
  const client = httpClientOf(config, tlsEvents);
  const query = new URLSearchParams({ filter_path: BULK_FILTER });
  if (config.pipeline !== undefined) query.set('pipeline', config.pipeline);
  const bulkPath = `/_bulk?${query.toString()}`;
  return {
    client,
    bulk: (body, signal) =>
      client.request({ method: 'POST', path: bulkPath, body, contentType: 'application/x-ndjson', gzip: config.http.gzip, maxReplyBytes: MAX_BULK_REPLY_BYTES }, signal),
    json: (method, path, body, signal) =>
      client.request({ method, path, ...(body === undefined ? {} : { body: JSON.stringify(body) }) }, signal),
    search: (target, body, signal) =>
      client.request({ method: 'POST', path: `/${encodeURIComponent(target)}/_search`, body: JSON.stringify(body), maxReplyBytes: MAX_SEARCH_REPLY_BYTES }, signal),
    close: () => client.close(),
  };
}
