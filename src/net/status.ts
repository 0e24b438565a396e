// The default meaning of an HTTP status for a sink, as data: accepted, retried (Retry-After), batch split, or the route stops.
import { STATUS_CODES } from 'node:http';
import type { RetryKind, SendOutcome } from '../contracts/outcome.ts';
import { parseRetryAfter } from '../delivery/backoff.ts';

/**
 * - `accepted`: the request was taken (a sink whose API reports per item reads the body before saying delivered);
 * - `retry`: the same request may work later (Retry-After honoured);
 * - `split`: the request is too large: the engine splits the batch (a single record still too large is dead-lettered);
 * - `credentials`: the credentials are refused: the route stops, its position kept;
 * - `route`: the request will not work as configured (wrong URL, refused format): the route stops.
 */
export type StatusAction = 'accepted' | 'retry' | 'split' | 'credentials' | 'route';

/** Configuration keys a hint names; a sink whose keys differ passes its own. */
export interface StatusKeys {
  readonly url: string;
  readonly auth: string;
}

export interface StatusRule {
  /** One status, or an inclusive range; the first row that matches decides (single statuses come first). */
  readonly status: number | readonly [number, number];
  readonly action: StatusAction;
  readonly meaning: string;
  readonly hint?: (keys: StatusKeys) => string;
}

/**
 * After RFC 9110 §15 and Vector's default HTTP retry logic (`src/sinks/util/http.rs`, `HttpRetryLogic`):
 * 408, 429 and 5xx are transient, except 501 (the server does not implement the method: it will not start
 * to); 413 is the size of the request, which a smaller batch fixes; 401 and 403 are the credentials; other
 * 4xx, and 3xx (undici does not follow redirects; a redirect means the URL is not the endpoint), will not
 * change by sending again, and splitting would only dead-letter good records one by one.
 */
export const HTTP_STATUS_TABLE: readonly StatusRule[] = [
  { status: 408, action: 'retry', meaning: 'the server timed out waiting for the request' },
  { status: 429, action: 'retry', meaning: 'rate-limited' },
  { status: 500, action: 'retry', meaning: 'the server failed' },
  { status: 502, action: 'retry', meaning: 'a proxy got no good answer from the server behind it' },
  { status: 503, action: 'retry', meaning: 'the server is unavailable or overloaded' },
  { status: 504, action: 'retry', meaning: 'a proxy got no answer in time from the server behind it' },
  { status: 413, action: 'split', meaning: 'the request is larger than the server accepts' },
  { status: 401, action: 'credentials', meaning: 'the credentials are missing or refused', hint: (k) => `check \`${k.auth}\`` },
  { status: 403, action: 'credentials', meaning: 'the credentials may not do this', hint: (k) => `check \`${k.auth}\` and what its user or key may do` },
  { status: 404, action: 'route', meaning: 'nothing at this URL and path', hint: (k) => `check \`${k.url}\`` },
  { status: 501, action: 'route', meaning: 'the server does not implement this request', hint: (k) => `check \`${k.url}\`` },
  { status: [200, 299], action: 'accepted', meaning: 'accepted' },
  { status: [300, 399], action: 'route', meaning: 'the server redirects elsewhere', hint: (k) => `set \`${k.url}\` to where it points (Location)` },
  { status: [400, 499], action: 'route', meaning: 'the server refuses the request' },
  { status: [500, 599], action: 'retry', meaning: 'the server failed' },
  { status: [100, 199], action: 'route', meaning: 'an interim answer instead of a final one' },
];

const matches = (rule: StatusRule, status: number): boolean =>
  typeof rule.status === 'number' ? rule.status === status : status >= rule.status[0] && status <= rule.status[1];

/**
 * The row for a status: the first of `rules` (a protocol's own table, OTLP's) that matches, else of the default
 * table; a status outside every range (not HTTP) is a `route` one.
 */
export function statusRule(status: number, rules: readonly StatusRule[] = []): StatusRule {
  return rules.find((r) => matches(r, status)) ?? HTTP_STATUS_TABLE.find((r) => matches(r, status)) ?? { status, action: 'route', meaning: 'not an HTTP status' };
}

/** What an action (other than `accepted`) makes of a send: see `statusOutcome`. */
export function actionOutcome(action: Exclude<StatusAction, 'accepted'>, reason: string, retryAfterMs?: number, kind: RetryKind = 'status'): SendOutcome {
  switch (action) {
    case 'retry':
      return retryAfterMs === undefined ? { status: 'retryable', reason, kind } : { status: 'retryable', reason, retryAfterMs, kind };
    case 'split':
      return { status: 'rejected', scope: 'batch', reason };
    case 'credentials':
    case 'route':
      return { status: 'rejected', scope: 'sink', reason };
  }
}

/** An HTTP answer, as far as the default table reads it. */
export interface StatusReply {
  readonly status: number;
  /** The `Retry-After` header. */
  readonly retryAfter?: string | undefined;
  /** The `Location` header of a redirect. */
  readonly location?: string | undefined;
}

export interface StatusOutcomeOptions {
  /** How the destination is named in the reason (`Elasticsearch`); default `HTTP`. */
  readonly what?: string;
  /** What the answer said (an error type, a short body), appended to the reason. Never a credential. */
  readonly detail?: string;
  readonly keys?: Partial<StatusKeys>;
  /** A protocol's own rows, before the default table (OTLP retries only 429, 502, 503, 504). */
  readonly rules?: readonly StatusRule[];
}

/**
 * The outcome of a request by its status alone, for a sink whose own table has nothing more to say: 2xx
 * delivered; `retry` retryable with Retry-After (delay-seconds or an HTTP date) as `retryAfterMs`; `split`
 * rejected with scope `batch`; `credentials` and `route` rejected with scope `sink`. The reason reads
 * `HTTP 503 Service Unavailable (the server is unavailable or overloaded)[: detail][: hint]`.
 */
export function statusOutcome(reply: StatusReply, nowMs: number, options: StatusOutcomeOptions = {}): SendOutcome {
  const rule = statusRule(reply.status, options.rules);
  if (rule.action === 'accepted') return { status: 'delivered' };
  const keys: StatusKeys = { url: 'url', auth: 'auth', ...options.keys };
  const phrase = STATUS_CODES[reply.status];
  const location = rule.action === 'route' && reply.location !== undefined && reply.status >= 300 && reply.status < 400 ? ` to ${reply.location}` : '';
  const hint = rule.hint?.(keys);
  const reason =
    `${options.what ?? 'HTTP'} ${reply.status}${phrase === undefined ? '' : ` ${phrase}`} (${rule.meaning}${location})` +
    `${options.detail === undefined || options.detail === '' ? '' : `: ${options.detail}`}${hint === undefined ? '' : `: ${hint}`}`;
  return actionOutcome(rule.action, reason, rule.action === 'retry' ? parseRetryAfter(reply.retryAfter, nowMs) : undefined, reply.status === 429 ? 'throttled' : 'status');
}
