// What a HEC response means for delivery (the Splunk HEC response → outcome table), and a search answer for a reconciliation query (failures below HTTP: src/net/errors.ts).
import type { SendOutcome } from '../../src/contracts/outcome.ts';
import { ForwarderError } from '../../src/contracts/errors.ts';
import { parseRetryAfter } from '../../src/delivery/backoff.ts';
import { CredentialValueError } from '../../src/net/auth.ts';
import { explainNetworkError, findNetworkError } from '../../src/net/errors.ts';
import { statusRule } from '../../src/net/status.ts';

/**
 * What the sink does with an answer:
 * - `accepted`: HEC took the request (with indexer acknowledgement, delivery waits for the ack);
 * - `retry`: transient (busy, unhealthy, internal error): the same request may work later;
 * - `route`: configuration or credentials: the route stops with its position kept;
 * - `records`: something in the batch is refused: the bad record is found (by `invalid-event-number`, else by
 *   splitting the batch), dead-lettered, and the rest sent again.
 */
export type HecAction = 'accepted' | 'retry' | 'route' | 'records';

export interface HecCodeEntry {
  readonly http: number;
  readonly text: string;
  readonly action: HecAction;
  /** What a person should do, in the route's stop message. */
  readonly hint?: string;
  /** The token is missing, wrong or disabled (what `check` calls a bad token). */
  readonly token?: true;
}

/**
 * HEC status codes. Source: Splunk, "Troubleshoot HTTP Event Collector — Possible error codes"
 * (https://docs.splunk.com/Documentation/Splunk/latest/Data/TroubleshootHTTPEventCollector#Possible_error_codes),
 * as collected in ../shared/spec/siem-formats.md §1.6. Codes 21–27 come from HEC-compatible servers, not
 * from Splunk's page (unconfirmed); their actions follow their HTTP status.
 */
export const HEC_CODES: Readonly<Record<number, HecCodeEntry>> = Object.freeze({
  0: { http: 200, text: 'Success', action: 'accepted' },
  1: { http: 403, text: 'Token disabled', action: 'route', hint: 'enable the HEC token in Splunk', token: true },
  2: { http: 401, text: 'Token is required', action: 'route', hint: 'set token or tokenFile', token: true },
  3: { http: 401, text: 'Invalid authorization', action: 'route', hint: 'the token is sent as "Splunk <token>"; check that nothing between rewrites the header', token: true },
  4: { http: 403, text: 'Invalid token', action: 'route', hint: 'check token / tokenFile', token: true },
  5: { http: 400, text: 'No data', action: 'records' },
  6: { http: 400, text: 'Invalid data format', action: 'records' },
  7: { http: 400, text: 'Incorrect index', action: 'route', hint: "add the index to the token's allowed indexes, or fix the route's mappingOptions.index" },
  8: { http: 500, text: 'Internal server error', action: 'retry' },
  9: { http: 503, text: 'Server is busy', action: 'retry' },
  10: { http: 400, text: 'Data channel is missing', action: 'route', hint: 'a proxy removed the X-Splunk-Request-Channel header' },
  11: { http: 400, text: 'Invalid data channel', action: 'route', hint: 'a proxy rewrote the X-Splunk-Request-Channel header' },
  12: { http: 400, text: 'Event field is required', action: 'records' },
  13: { http: 400, text: 'Event field cannot be blank', action: 'records' },
  14: { http: 400, text: 'ACK is disabled', action: 'route', hint: 'enable indexer acknowledgement on the token, or set ack.mode to auto or off' },
  15: { http: 400, text: 'Error in handling indexed fields', action: 'records' },
  16: { http: 400, text: 'Query string authorization is not enabled', action: 'route', hint: 'send the token in the Authorization header' },
  17: { http: 200, text: 'HEC is healthy', action: 'accepted' },
  18: { http: 503, text: 'HEC is unhealthy, queues are full', action: 'retry' },
  19: { http: 503, text: 'HEC is unhealthy, ack service unavailable', action: 'retry' },
  20: { http: 503, text: 'HEC is unhealthy, queues are full, ack service unavailable', action: 'retry' },
  21: { http: 400, text: 'Invalid token', action: 'route', hint: 'check token / tokenFile', token: true },
  22: { http: 400, text: 'Token disabled', action: 'route', hint: 'enable the HEC token in Splunk', token: true },
  23: { http: 503, text: 'Server is shutting down', action: 'retry' },
  24: { http: 200, text: 'HEC queue is approaching its capacity limit', action: 'accepted' },
  25: { http: 200, text: 'HEC ACK is approaching its capacity limit', action: 'accepted' },
  26: { http: 429, text: 'HEC queue is at capacity', action: 'retry' },
  27: { http: 429, text: 'HEC ACK channel is at capacity', action: 'retry' },
});

/** A HEC JSON answer, as far as it could be read. */
export interface HecReply {
  readonly status: number;
  readonly code?: number;
  readonly text?: string;
  readonly ackId?: number;
  /** 0-based index of the first refused envelope of the request. */
  readonly invalidEventNumber?: number;
  readonly retryAfter?: string | undefined;
}

/** Reads HEC's JSON answer; anything else (a proxy's HTML page) gives a reply with only the status. */
export function parseHecReply(status: number, body: string, retryAfter?: string): HecReply {
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    return { status, retryAfter };
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) return { status, retryAfter };
  const o = json as Record<string, unknown>;
  const int = (v: unknown): number | undefined => (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 ? v : undefined);
  return {
    status,
    code: int(o['code']),
    text: typeof o['text'] === 'string' ? o['text'] : undefined,
    ackId: int(o['ackId']),
    invalidEventNumber: int(o['invalid-event-number']),
    retryAfter,
  };
}

/** A refusal of the token itself: by HEC code, or a 401/403 without one (a proxy in front of HEC). */
export function isTokenRefusal(reply: HecReply): boolean {
  if (reply.code !== undefined && HEC_CODES[reply.code] !== undefined) return HEC_CODES[reply.code]!.token === true;
  return reply.status === 401 || reply.status === 403;
}

/** `HEC 503 code 9 "Server is busy"`: what the logs and dead letters say about a reply. */
export function describeReply(reply: HecReply): string {
  const code = reply.code === undefined ? '' : ` code ${reply.code}`;
  const text = reply.text ?? (reply.code !== undefined ? HEC_CODES[reply.code]?.text : undefined);
  return `HEC ${reply.status}${code}${text === undefined ? '' : ` "${text}"`}`;
}

/**
 * The action for a reply: by HEC code when it is known, else by HTTP status as the shared table says
 * (src/net/status.ts: 408, 429 and 5xx but 501 retried; 413 split; any other status stops the route).
 */
export function actionOf(reply: HecReply): HecAction {
  const entry = reply.code === undefined ? undefined : HEC_CODES[reply.code];
  const ok = reply.status >= 200 && reply.status < 300;
  // The code says what happened; a success code on an error status is not a success.
  if (entry !== undefined) return !ok && entry.action === 'accepted' ? 'retry' : entry.action;
  // A 2xx that is not HEC's JSON answer (a web server or a proxy page at this URL) never counts as delivered:
  // taking it for one would drop every batch without a trace.
  if (ok) return 'route';
  switch (statusRule(reply.status).action) {
    case 'retry':
      return 'retry';
    // A body over the request limit: split the batch (never send it again as it is).
    case 'split':
      return 'records';
    // 401/403 from a proxy or a load balancer, 404 (HEC disabled, wrong path), 415 (encoding) and any other
    // 4xx: sending again will not help, and splitting would only dead-letter good events one by one.
    default:
      return 'route';
  }
}

/**
 * The outcome of a refused request. `batchSize` is the number of envelopes sent.
 * - `records` with `invalid-event-number` inside the batch: that record is rejected and every other one is
 *   sent again — HEC indexes nothing of a refused request, or (unconfirmed, §1.3) perhaps the records before
 *   it, so resending them may duplicate but never loses them.
 * - `records` without it (or a 413): the engine splits the batch to find the record.
 */
export function refusedOutcome(reply: HecReply, batchSize: number, nowMs: number): SendOutcome {
  const reason = describeReply(reply);
  switch (actionOf(reply)) {
    case 'retry': {
      const retryAfterMs = parseRetryAfter(reply.retryAfter, nowMs);
      const kind = reply.status === 429 ? 'throttled' : 'status';
      return retryAfterMs === undefined ? { status: 'retryable', reason, kind } : { status: 'retryable', reason, retryAfterMs, kind };
    }
    case 'route': {
      const hint = (reply.code === undefined ? undefined : HEC_CODES[reply.code]?.hint) ?? hintForStatus(reply.status);
      return { status: 'rejected', scope: 'sink', reason: hint === undefined ? reason : `${reason}: ${hint}` };
    }
    case 'records': {
      const n = reply.invalidEventNumber;
      if (reply.status !== 413 && n !== undefined && n < batchSize && batchSize > 1) {
        const failures = Array.from({ length: batchSize }, (_, index) =>
          index === n
            ? { index, status: 'rejected' as const, reason }
            : { index, status: 'retryable' as const, reason: `sent again: the request was refused because of record ${n} (${reason})` },
        );
        return { status: 'partial', failures };
      }
      return { status: 'rejected', scope: 'batch', reason: reply.status === 413 ? `${reason}: the request is larger than HEC's max_content_length` : reason };
    }
    case 'accepted':
      throw new TypeError('refusedOutcome called with an accepted reply');
  }
}

function hintForStatus(status: number): string | undefined {
  if (status >= 200 && status < 300) return 'a success without HEC\'s answer ({"text":"Success","code":0}): is url a Splunk HEC endpoint?';
  if (status === 404) return 'no HEC endpoint at this URL and path (is HEC enabled? is path right?)';
  if (status === 401 || status === 403) return 'refused by the server or a proxy in front of it: check the token';
  if (status === 415) return 'the server does not accept this Content-Encoding (set gzip: false)';
  return statusRule(status).hint?.({ url: 'url', auth: 'token / tokenFile' });
}

// ---- reconciliation queries (the search API of the management port, not HEC) ----

/** The configuration keys a search failure names: `sinks.<name>.search.…`. */
export interface SearchKeys {
  readonly url: string;
  readonly token: string;
  readonly caFile: string;
  readonly certFile: string;
  readonly keyFile: string;
  readonly serverName: string;
}

export const searchKeys = (sink: string): SearchKeys => {
  const at = `sinks.${sink}.search`;
  return { url: `${at}.url`, token: `${at}.token / ${at}.tokenFile`, caFile: `${at}.tls.caFile`, certFile: `${at}.tls.certFile`, keyFile: `${at}.tls.keyFile`, serverName: `${at}.tls.serverName` };
};

export interface SearchStatusRow {
  readonly status: number | readonly [number, number];
  /** `FWD_SINK_IO`: the same query may work later; `FWD_SINK_PERMANENT`: not before something is changed. */
  readonly code: 'FWD_SINK_IO' | 'FWD_SINK_PERMANENT';
  readonly meaning: string;
  readonly hint?: (keys: SearchKeys, index: string) => string;
}

/**
 * A search's HTTP answer other than 200, first match wins. Statuses of the REST API as Splunk's REST API reference
 * lists them for `search/jobs` (400 bad request, 401 not authenticated, 403 insufficient permissions, 404 no such
 * endpoint, 5xx server errors); the rest after the shared table (src/net/status.ts): 408 and 429 may clear, other
 * 3xx and 4xx will not.
 */
export const SEARCH_STATUS_TABLE: readonly SearchStatusRow[] = [
  {
    status: 401,
    code: 'FWD_SINK_PERMANENT',
    meaning: 'the search token is missing or refused',
    hint: (k) => `check ${k.token}: a Splunk authentication token (sent as Bearer; token authentication must be on), not the HEC token`,
  },
  {
    status: 403,
    code: 'FWD_SINK_PERMANENT',
    meaning: 'the search user may not run this search',
    hint: (k, index) => `give the token's user a role with the \`search\` capability whose searchable indexes include ${index}`,
  },
  { status: 400, code: 'FWD_SINK_PERMANENT', meaning: 'Splunk refused the search' },
  { status: 404, code: 'FWD_SINK_PERMANENT', meaning: 'no search API at this URL', hint: (k) => `set ${k.url} to Splunk's management port (usually 8089; HEC's 8088 cannot search)` },
  { status: 408, code: 'FWD_SINK_IO', meaning: 'the server timed out waiting for the request' },
  { status: 429, code: 'FWD_SINK_IO', meaning: 'too many searches at once (the user’s or the role’s search quota)' },
  { status: [500, 599], code: 'FWD_SINK_IO', meaning: 'Splunk failed to run the search' },
  { status: [300, 399], code: 'FWD_SINK_PERMANENT', meaning: 'redirected elsewhere', hint: (k) => `set ${k.url} to the management port itself` },
  { status: [100, 599], code: 'FWD_SINK_PERMANENT', meaning: 'not an answer of the search API' },
];

export function searchStatusRow(status: number): SearchStatusRow {
  return (
    SEARCH_STATUS_TABLE.find((r) => (typeof r.status === 'number' ? r.status === status : status >= r.status[0] && status <= r.status[1])) ??
    SEARCH_STATUS_TABLE.at(-1)!
  );
}

/** Splunk's own words in a REST answer (`{"messages":[{"type":"FATAL","text":"…"}]}`), one line, short. */
export function searchMessages(body: string): string | undefined {
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    return undefined;
  }
  const messages = typeof json === 'object' && json !== null ? (json as { messages?: unknown }).messages : undefined;
  if (!Array.isArray(messages)) return undefined;
  const texts = messages.flatMap((m) => {
    const o = typeof m === 'object' && m !== null ? (m as { type?: unknown; text?: unknown }) : {};
    return typeof o.text === 'string' ? [`${typeof o.type === 'string' ? `${o.type}: ` : ''}${o.text}`] : [];
  });
  if (texts.length === 0) return undefined;
  const line = texts.join('; ').replace(/\s+/g, ' ');
  return line.length > 300 ? `${line.slice(0, 300)}…` : line;
}

/** The error of a search answered `status` (not 200), naming the URL, what Splunk said, and what to check. */
export function searchStatusError(status: number, body: string, url: string, keys: SearchKeys, index: string): ForwarderError {
  const row = searchStatusRow(status);
  const said = searchMessages(body);
  const hint = row.hint?.(keys, index);
  const message = `Splunk search at ${url}: HTTP ${status} (${row.meaning})${said === undefined ? '' : `: ${said}`}${hint === undefined ? '' : `: ${hint}`}`;
  return new ForwarderError(row.code, message, { stage: 'sink', disposition: row.code === 'FWD_SINK_IO' ? 'retryable' : 'permanent' });
}

/**
 * The error of a search that got no answer: the network table's words and fix (src/net/errors.ts), retryable as
 * that table says (a refused connection may clear, an unknown CA will not); a token that cannot be sent stops.
 * An aborted search rejects with the signal's reason instead (the caller's).
 */
export function searchUnanswered(error: unknown, signal: AbortSignal, url: string, keys: SearchKeys): unknown {
  if (signal.aborted) return signal.reason;
  if (error instanceof CredentialValueError) {
    return new ForwarderError('FWD_SINK_PERMANENT', `Splunk search at ${url}: ${error.message}`, { stage: 'sink', disposition: 'permanent', cause: error });
  }
  const rule = findNetworkError(error)?.rule;
  const detail = explainNetworkError(error, { url: keys.url, caFile: keys.caFile, certFile: keys.certFile, keyFile: keys.keyFile, serverName: keys.serverName });
  return new ForwarderError('FWD_SINK_IO', `Splunk search at ${url}: no answer (${detail})`, {
    stage: 'sink',
    disposition: rule === undefined || rule.retryable ? 'retryable' : 'permanent',
    cause: error,
  });
}
