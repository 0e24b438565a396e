// What an Elasticsearch answer means: the `_bulk` whole-request and per-item response → outcome tables, and the reconciliation search table.
import { ForwarderError } from '../../src/contracts/errors.ts';
import type { ItemFailure, SendOutcome } from '../../src/contracts/outcome.ts';
import { CredentialValueError } from '../../src/net/auth.ts';
import { explainNetworkError, findNetworkError } from '../../src/net/errors.ts';
import { statusOutcome } from '../../src/net/status.ts';

/**
 * What happens to one bulk item (siem-formats.md §2.2; the policy of Elastic's own Beats,
 * libbeat/outputs/elasticsearch/client.go `bulkCollectPublishFails`):
 * - `delivered`: stored; a 409 `version_conflict_engine_exception` on `create` means the document with this `_id`
 *   is there already (a resend after a crash or a timeout): delivered, not a duplicate;
 * - `retry`: this item alone is sent again (the others of the batch commit when it does);
 * - `dead-letter`: Elasticsearch refuses this document and will keep refusing it: dead-lettered with its error
 *   type and reason;
 * - `route`: the route cannot work as configured (credentials, a missing index with auto-creation off): it stops.
 */
export type ItemAction = 'delivered' | 'retry' | 'dead-letter' | 'route';

/** An item of `items` in a bulk answer, as far as it could be read. */
export interface BulkItem {
  readonly status: number;
  readonly errorType?: string;
  readonly reason?: string;
  readonly index?: string;
}

/** Rows of the item table, first match wins: status (range) and, where it matters, the error type. */
export const ITEM_TABLE: ReadonlyArray<{ readonly when: string; readonly test: (i: BulkItem) => boolean; readonly action: ItemAction; readonly hint?: string }> = [
  { when: '2xx', test: (i) => i.status >= 200 && i.status < 300, action: 'delivered' },
  { when: '409 version_conflict_engine_exception', test: (i) => i.status === 409 && i.errorType === 'version_conflict_engine_exception', action: 'delivered' },
  { when: '429 (es_rejected_execution_exception, circuit breaker)', test: (i) => i.status === 429, action: 'retry' },
  { when: '5xx (unavailable shards …)', test: (i) => i.status >= 500, action: 'retry' },
  {
    when: '401 / 403 security_exception',
    test: (i) => i.status === 401 || i.status === 403,
    action: 'route',
    hint: 'the credentials may not write to this target: grant create_doc (and auto_configure to create data streams) on it',
  },
  {
    when: '404 index_not_found_exception',
    test: (i) => i.status === 404 && i.errorType === 'index_not_found_exception',
    action: 'route',
    hint: 'the target does not exist and the cluster does not create it: run `audit-forwarder setup elasticsearch` (index template) or create it',
  },
  // 400 mapper_parsing_exception, document_parsing_exception, illegal_argument_exception, strict_dynamic_mapping_exception, …
  { when: 'other 4xx', test: (i) => i.status >= 400 && i.status < 500, action: 'dead-letter' },
  { when: 'anything else', test: () => true, action: 'retry' },
];

export function itemAction(item: BulkItem): { action: ItemAction; hint?: string } {
  const row = ITEM_TABLE.find((r) => r.test(item))!;
  return row.hint === undefined ? { action: row.action } : { action: row.action, hint: row.hint };
}

const describeItem = (i: BulkItem): string => `${i.status}${i.errorType !== undefined ? ` ${i.errorType}` : ''}${i.reason !== undefined ? `: ${i.reason}` : ''}`;

/** The bulk answer's `items` (one per action, in request order), or why the body is not a bulk answer. */
export function parseBulkReply(body: string): { items: BulkItem[]; errors: boolean } | string {
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    return 'the answer is not JSON';
  }
  if (typeof json !== 'object' || json === null || !Array.isArray((json as { items?: unknown }).items)) return 'the answer has no items';
  const items: BulkItem[] = [];
  for (const entry of (json as { items: unknown[] }).items) {
    const op = typeof entry === 'object' && entry !== null ? Object.values(entry)[0] : undefined;
    if (typeof op !== 'object' || op === null) return 'an item is not an object';
    const o = op as { status?: unknown; error?: unknown; _index?: unknown };
    if (typeof o.status !== 'number') return 'an item has no status';
    const error = typeof o.error === 'object' && o.error !== null ? (o.error as { type?: unknown; reason?: unknown }) : undefined;
    items.push({
      status: o.status,
      ...(typeof error?.type === 'string' ? { errorType: error.type } : {}),
      ...(typeof error?.reason === 'string' ? { reason: error.reason } : typeof o.error === 'string' ? { reason: o.error } : {}),
      ...(typeof o._index === 'string' ? { index: o._index } : {}),
    });
  }
  return { items, errors: (json as { errors?: unknown }).errors === true };
}

/**
 * A 200 bulk answer as an outcome: `delivered` when every item is, else `partial` listing the items to send again
 * (429, 5xx) and those refused for good (dead-lettered with Elasticsearch's type and reason), or `rejected` for the
 * sink when an item says the route cannot work. `count` is how many records were sent; an answer with another
 * number of items is not trusted (the batch is sent again).
 */
export function bulkOutcome(body: string, count: number, retryAfterMs: number | undefined): SendOutcome {
  const reply = parseBulkReply(body);
  if (typeof reply === 'string') return { status: 'retryable', reason: `Elasticsearch answered 200 but ${reply}: is url an Elasticsearch endpoint?` };
  if (reply.items.length !== count) return { status: 'retryable', reason: `the bulk answer has ${reply.items.length} items for ${count} documents` };
  const failures: ItemFailure[] = [];
  for (const [index, item] of reply.items.entries()) {
    const { action, hint } = itemAction(item);
    if (action === 'delivered') continue;
    if (action === 'route') return { status: 'rejected', scope: 'sink', reason: `${describeItem(item)}${item.index !== undefined ? ` (target ${item.index})` : ''}: ${hint}` };
    const reason = `Elasticsearch ${describeItem(item)}`;
    failures.push(action === 'retry' ? { index, status: 'retryable', reason, ...(retryAfterMs !== undefined ? { retryAfterMs } : {}) } : { index, status: 'rejected', reason });
  }
  return failures.length === 0 ? { status: 'delivered' } : { status: 'partial', failures };
}

/**
 * A whole request's answer that is not 200, by the shared status table (src/net/status.ts), with Elasticsearch's
 * error type and reason: 413 → the batch is split (a single document over `http.max_content_length` is refused
 * alone); 401/403 → the route stops (credentials); 408/429/5xx → sent again, `Retry-After` honoured; 404 and other
 * 4xx → the route stops (no `_bulk` here, or a request it refuses whatever the documents).
 */
export function requestOutcome(status: number, body: string, retryAfter: string | undefined, now: number): SendOutcome {
  const detail = errorOf(body);
  return statusOutcome({ status, retryAfter }, now, { what: 'Elasticsearch', ...(detail !== undefined ? { detail } : {}) });
}

/** `type: reason` of an Elasticsearch error body (`{"error":{"type":…,"reason":…},"status":…}`), if it is one. */
export function errorOf(body: string): string | undefined {
  try {
    const json = JSON.parse(body) as { error?: { type?: unknown; reason?: unknown } | string };
    if (typeof json.error === 'string') return json.error;
    if (typeof json.error?.type === 'string') return `${json.error.type}${typeof json.error.reason === 'string' ? `: ${json.error.reason}` : ''}`;
  } catch {
    // not JSON (a proxy's page)
  }
  return undefined;
}

// ---- reconciliation queries (`_search` with aggregations, query.ts) ----

/**
 * What a search answer other than 200 means for a reconciliation query:
 * - `empty`: the target does not exist, so it holds nothing (no event was ever written to it);
 * - `io`: `FWD_SINK_IO`, retryable: the same query may work later;
 * - `permanent`: `FWD_SINK_PERMANENT`: not before something is changed (credentials, privileges, mappings, URL).
 */
export type QueryAction = 'empty' | 'io' | 'permanent';

/** The configuration keys a query failure names: `sinks.<name>.…`. */
export interface QueryKeys {
  readonly url: string;
  readonly auth: string;
  readonly caFile: string;
  readonly certFile: string;
  readonly keyFile: string;
  readonly serverName: string;
}

export const queryKeys = (sink: string): QueryKeys => {
  const at = `sinks.${sink}`;
  return { url: `${at}.url`, auth: `${at}.auth`, caFile: `${at}.tls.caFile`, certFile: `${at}.tls.certFile`, keyFile: `${at}.tls.keyFile`, serverName: `${at}.tls.serverName` };
};

export interface QueryRow {
  readonly when: string;
  readonly test: (status: number, errorType: string | undefined) => boolean;
  readonly action: QueryAction;
  readonly hint?: (keys: QueryKeys, target: string) => string;
}

/**
 * Rows of the query table, first match wins. The search is sent to one concrete data stream or index at a time and
 * without `ignore_unavailable`: with it, Elasticsearch's security would drop a target the credentials may not read
 * from the request and answer an empty result, where a 403 is the truth (x-pack `IndicesAndAliasesResolver`).
 */
export const QUERY_TABLE: readonly QueryRow[] = [
  { when: '404 index_not_found_exception', test: (s, t) => s === 404 && t === 'index_not_found_exception', action: 'empty' },
  { when: '401', test: (s) => s === 401, action: 'permanent', hint: (k) => `the credentials are refused: check ${k.auth}` },
  {
    when: '403 security_exception',
    test: (s) => s === 403,
    action: 'permanent',
    hint: (k, target) => `the credentials of ${k.auth} may not search: grant them the \`read\` index privilege on ${target} (a writer's key has create_doc only)`,
  },
  {
    when: '400 (search_phase_execution_exception, illegal_argument_exception …)',
    test: (s) => s === 400,
    action: 'permanent',
    hint: (_k, target) => `the query needs \`@timestamp\` mapped as a date and \`event.id\` as a keyword in ${target} (the index template of \`audit-forwarder setup elasticsearch\` maps them so)`,
  },
  { when: '408, 429, 5xx', test: (s) => s === 408 || s === 429 || s >= 500, action: 'io' },
  { when: '404 without index_not_found_exception', test: (s) => s === 404, action: 'permanent', hint: (k) => `no search API at this URL: check ${k.url}` },
  { when: 'anything else', test: () => true, action: 'permanent' },
];

/** The `error.type` of an Elasticsearch error body, if it is one. */
export function errorTypeOf(body: string): string | undefined {
  try {
    const json = JSON.parse(body) as { error?: { type?: unknown } };
    return typeof json.error?.type === 'string' ? json.error.type : undefined;
  } catch {
    return undefined;
  }
}

export function queryRow(status: number, body: string): QueryRow {
  const type = errorTypeOf(body);
  return QUERY_TABLE.find((r) => r.test(status, type))!;
}

/** The error of a query answered `status` (not 200 and not `empty`), naming the URL, Elasticsearch's words and what to check. */
export function queryStatusError(status: number, body: string, url: string, keys: QueryKeys, target: string): ForwarderError {
  const row = queryRow(status, body);
  const said = errorOf(body);
  const hint = row.hint?.(keys, target);
  const detail = said === undefined ? '' : `: ${said.length > 300 ? `${said.slice(0, 300)}…` : said}`;
  const io = row.action === 'io';
  return new ForwarderError(io ? 'FWD_SINK_IO' : 'FWD_SINK_PERMANENT', `Elasticsearch search at ${url}: HTTP ${status}${detail}${hint === undefined ? '' : `: ${hint}`}`, {
    stage: 'sink',
    disposition: io ? 'retryable' : 'permanent',
  });
}

/**
 * The error of a query that got no answer: the network table's words and fix (src/net/errors.ts), retryable as that
 * table says; credentials that cannot be sent stop. An aborted query rejects with the signal's reason instead.
 */
export function queryUnanswered(error: unknown, signal: AbortSignal, url: string, keys: QueryKeys): unknown {
  if (signal.aborted) return signal.reason;
  if (error instanceof CredentialValueError) {
    return new ForwarderError('FWD_SINK_PERMANENT', `Elasticsearch search at ${url}: ${error.message}`, { stage: 'sink', disposition: 'permanent', cause: error });
  }
  const rule = findNetworkError(error)?.rule;
  const detail = explainNetworkError(error, { url: keys.url, caFile: keys.caFile, certFile: keys.certFile, keyFile: keys.keyFile, serverName: keys.serverName });
  return new ForwarderError('FWD_SINK_IO', `Elasticsearch search at ${url}: no answer (${detail})`, {
    stage: 'sink',
    disposition: rule === undefined || rule.retryable ? 'retryable' : 'permanent',
    cause: error,
  });
}
