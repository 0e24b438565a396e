// A fake Splunk HTTP Event Collector for tests: the vendor contract as msw handlers, served on a real loopback socket.
// It also answers the two reconciliation searches on `/services/search/jobs/export` (Splunk's REST management API), from the
// events it holds: it is not a search engine, and refuses any other search.
//
// Written from /work/shared/spec/siem-formats.md §1 and §5 (pitfalls 1–7), not from any client. Where the spec says
// UNCONFIRMED, the fake picks what is harder on a client, and says so where it does.
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { gunzipSync } from 'node:zlib';
import { getResponse, http, HttpResponse, type HttpHandler } from 'msw';
import { fakeFailed, fetchHeadersOf, httpOrHttpsServer, listenOn, readBody, trackConnections, writeFetchResponse } from './listen.ts';

export interface FakeHecToken {
  /** Indexer acknowledgement (`useACK`): requests need a channel and are answered with an `ackId` (§1.5). */
  ack?: boolean;
  /** Answers 403 code 1 to everything (health: 400 code 1 when `healthChecksToken`). */
  disabled?: boolean;
  /** Indexes an envelope may name; undefined: any. */
  indexes?: readonly string[];
}

/** A user of Splunk's REST management API, for `/services/search/jobs/export`. */
export interface FakeSearchUser {
  /** Whether the user's role has the `search` capability; false: 403. Default true. */
  canSearch?: boolean;
  /**
   * Indexes the user's role may search (`srchIndexesAllowed`); undefined: all. Events in other indexes are not found, without
   * an error, as in Splunk. Events sent without an `index` (the HEC token's default index) are always found.
   */
  indexes?: readonly string[];
}

/** One search the export endpoint answered, as the fake read it. */
export interface FakeHecSearch {
  /** The `search` form field as received. */
  readonly search: string;
  readonly status: number;
  /** For a search the fake knows: which of the two, and its literal index (undefined: none named) and sourcetypes. */
  readonly kind: 'counts' | 'ids' | undefined;
  readonly index: string | undefined;
  readonly sourcetypes: readonly string[];
}

export interface FakeHecOptions {
  /** Default `{ 'test-token': { ack: true } }`. */
  tokens?: Record<string, FakeHecToken>;
  /** Authentication tokens of the management API (`Authorization: Bearer <token>`), for searches. Default `{ 'search-token': {} }`. */
  searchTokens?: Record<string, FakeSearchUser>;
  /** Serve https (URL `https://localhost:PORT`); `caFile` + `requestCert`: a client certificate chaining to `caFile` is required. */
  tls?: { certFile: string; keyFile: string; caFile?: string; requestCert?: boolean };
  /** Default 0: a free port. `stop()`/`start()`/`restart()` keep the port. */
  port?: number;
  /** Request body bytes as received on the wire (compressed when gzip); over → 413. Default 800 MiB (§1.4). */
  maxContentLength?: number;
  /** One envelope's decompressed JSON text bytes; over → 400 code 6 with its `invalid-event-number`. Default 5 MiB (§1.4). */
  maxEventSize?: number;
  /** Time from acceptance to "indexed" for requests of ack tokens; default 0 (indexed at once, a poll still needed to see true). */
  ackDelayMs?: number;
  /**
   * `ids`: keep only event ids and counts, and what a search reads of each event (time, index, sourcetype, `fields.event_id`);
   * `events()` then throws. For million-event benchmarks. Default `full`.
   */
  store?: 'full' | 'ids';
  /** Health checks the token (400 code 4 when invalid). Default false: Vector saw Splunk 8.2.4's health ignore it (§1.1). */
  healthChecksToken?: boolean;
}

export interface HeldEvent {
  /** The envelope's JSON text as received: a byte-exact slice of the decompressed body, without surrounding whitespace. */
  readonly text: string;
  readonly envelope: Record<string, unknown>;
  readonly token: string;
  readonly channel: string | undefined;
  /** The envelope's `index`, when it names one. */
  readonly index: string | undefined;
}

export interface FakeHecRequest {
  method: string;
  /** URL path, without the query. */
  path: string;
  status: number;
  /** The answer's HEC `code`, when it has one. */
  code: number | undefined;
  channel: string | undefined;
  contentEncoding: string | undefined;
  /** Body bytes as received (compressed when gzip). */
  bytes: number;
  /** Envelopes accepted by this request (0 unless a data POST answered 200). */
  events: number;
  authorization: string | undefined;
}

/** A fake for the tests of a forwarder `SplunkHecSink`; control methods act on the next requests, never on ones already answered. */
export interface FakeHec {
  /** `http://127.0.0.1:PORT`, or `https://localhost:PORT` with TLS so the fixture certificate's name matches. */
  readonly url: string;
  readonly port: number;
  /** The vendor behaviour, usable on its own with msw's `getResponse` or `setupServer`. */
  readonly handlers: readonly HttpHandler[];
  /** Indexed events in index order (an ack'd request counts once its ack would be true). Throws with `store: 'ids'`. */
  events(): readonly HeldEvent[];
  /** Ids of indexed events in index order: `envelope.event.id` when the event is an object with a string id, else the envelope text. */
  eventIds(): readonly string[];
  indexedCount(): number;
  /**
   * Removes indexed events whose indexed field `fields.event_id` is one of `ids` (data lost in the SIEM, or deleted by an
   * admin); returns how many were removed. Events not indexed yet (waiting for their ack delay) are not touched.
   */
  deleteEvents(ids: readonly string[]): number;
  /** Every request answered, oldest first (the last 10 000). */
  requests(): readonly FakeHecRequest[];
  /** Every search the export endpoint answered, oldest first (the last 10 000). */
  searches(): readonly FakeHecSearch[];
  /** The next `n` data POSTs (after authentication) answer 503 code 9, with `Retry-After` when asked; health answers 503 code 18 while any is left. */
  busy(n: number, options?: { retryAfterSec?: number }): void;
  /** The next `n` data POSTs (after authentication) answer `status` with `body`. Queued after earlier `busy`/`failNext` answers. */
  failNext(n: number, status: number, body: Record<string, unknown>): void;
  /** From now on a request holding an envelope whose `event.id` is `eventId` is refused whole: 400 code 6, `invalid-event-number` its index. */
  refuseEvent(eventId: string): void;
  /**
   * The next `n` accepted data requests (ack or not: §1.5, a 200 alone never meant indexed) are answered 200 as usual, then lost:
   * never indexed, their ack never true. A predicate instead applies to every following ack'd request; `dropAcks(0)` clears both.
   */
  dropAcks(n: number | ((ackId: number, channel: string) => boolean)): void;
  /** Applies to requests still waiting too (acceptance time + `ms`), so `setAckDelay(0)` indexes them all now. */
  setAckDelay(ms: number): void;
  /**
   * Splunk restarting: every channel, ack status and ack counter is forgotten (ids start at 0 again), accepted data not yet
   * indexed is lost, indexed events stay. With `downMs > 0` the listening socket is closed and connections destroyed for that
   * long, then it listens again on the same port. Resolves when listening again.
   */
  restart(downMs?: number): Promise<void>;
  /** Closes the listening socket and destroys open connections (clients see ECONNREFUSED / ECONNRESET); state is kept. */
  stop(): Promise<void>;
  /** Listens again on the same port. */
  start(): Promise<void>;
  /** Stops for good. */
  close(): Promise<void>;
}

const MiB = 1024 * 1024;
const DEFAULT_TOKENS: Record<string, FakeHecToken> = { 'test-token': { ack: true } };
const DEFAULT_SEARCH_TOKENS: Record<string, FakeSearchUser> = { 'search-token': {} };
/** §1.3: HEC's sourcetype when an envelope names none (UNCONFIRMED against current docs). */
const DEFAULT_SOURCETYPE = 'httpevent';
const REQUEST_LOG_SIZE = 10_000;
const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

// Anchored on the whole URL (msw matches RegExp paths against it without the query): a string path with `*` would also match
// `/anything/services/collector`, and a relative one matches nothing in Node.
const DATA_PATH = /^https?:\/\/[^/]+\/services\/collector(?:\/event(?:\/1\.0)?)?$/;
const ACK_PATH = /^https?:\/\/[^/]+\/services\/collector\/ack$/;
const HEALTH_PATH = /^https?:\/\/[^/]+\/services\/collector\/health(?:\/1\.0)?$/;
const EXPORT_PATH = /^https?:\/\/[^/]+\/services\/search\/jobs\/export$/;

type Body = Record<string, unknown>;

interface Answer {
  readonly status: number;
  readonly body: Body;
  readonly headers?: Record<string, string>;
}

const hec = (status: number, text: string, code: number, extra?: Body): Answer => ({ status, body: { text, code, ...extra } });

/** HEC status codes, §1.6 table. */
const CODES = {
  success: hec(200, 'Success', 0),
  tokenDisabled: hec(403, 'Token disabled', 1),
  tokenRequired: hec(401, 'Token is required', 2),
  invalidAuthorization: hec(401, 'Invalid authorization', 3),
  invalidToken: hec(403, 'Invalid token', 4),
  noData: hec(400, 'No data', 5),
  invalidDataFormat: hec(400, 'Invalid data format', 6),
  serverBusy: hec(503, 'Server is busy', 9),
  channelMissing: hec(400, 'Data channel is missing', 10),
  invalidChannel: hec(400, 'Invalid data channel', 11),
  ackDisabled: hec(400, 'ACK is disabled', 14),
  queryAuthDisabled: hec(400, 'Query string authorization is not enabled', 16),
  healthy: hec(200, 'HEC is healthy', 17),
  unhealthy: hec(503, 'HEC is unhealthy, queues are full', 18),
} as const;

/** A refusal that names the first bad envelope (§1.3: `invalid-event-number` is 0-based). */
const badEvent = (status: number, text: string, code: number, i: number): Answer => hec(status, text, code, { 'invalid-event-number': i });
const invalidFormat = (i: number): Answer => badEvent(400, 'Invalid data format', 6, i);

// UNCONFIRMED bodies: the spec gives only the HTTP statuses (§1.4). They carry no HEC `code`, so a client that classifies by
// `code` alone misreads them; it must go by the status (413: split the batch, never resend it as is).
const CONTENT_TOO_LARGE: Answer = { status: 413, body: { text: 'Content too large' } };
const UNSUPPORTED_ENCODING: Answer = { status: 415, body: { text: 'Unsupported content encoding' } };
const NOT_FOUND: Answer = { status: 404, body: { text: 'The requested URL was not found on this server.', code: 404 } };
// Only answered to a request that was in progress while the fake restarted; through the socket nobody sees it.
const SHUTTING_DOWN: Answer = hec(503, 'Server is shutting down', 23);

// ---- the body scanner ----

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const LBRACE = 0x7b;
const RBRACE = 0x7d;

function skipWhitespace(s: string, at: number): number {
  for (let c = s.charCodeAt(at); c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09; c = s.charCodeAt(++at));
  return at;
}

/** Index just after the quote closing a string whose content starts at `from`; -1 when unterminated. */
function stringEnd(s: string, from: number): number {
  for (let q = s.indexOf('"', from); q >= 0; q = s.indexOf('"', q + 1)) {
    // A quote is escaped when an odd run of backslashes precedes it; the run stops at the opening quote at the latest.
    let b = q - 1;
    while (s.charCodeAt(b) === BACKSLASH) b--;
    if ((q - 1 - b) % 2 === 0) return q + 1;
  }
  return -1;
}

/** Index just after the `}` matching the `{` at `start`, skipping strings; -1 when it never closes. Validity is JSON.parse's job. */
function objectEnd(s: string, start: number): number {
  let depth = 0;
  for (let j = start; j < s.length; ) {
    const c = s.charCodeAt(j);
    if (c === QUOTE) {
      j = stringEnd(s, j + 1);
      if (j < 0) return -1;
      continue;
    }
    if (c === LBRACE) depth++;
    else if (c === RBRACE && --depth === 0) return j + 1;
    j++;
  }
  return -1;
}

function utf8Bytes(text: string, limit: number): number {
  // Every UTF-16 unit is at least one and at most three UTF-8 bytes, so most envelopes need no count.
  if (text.length > limit || text.length * 3 <= limit) return text.length;
  return Buffer.byteLength(text, 'utf8');
}

const isPlainObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** §1.3 / §5.5: `fields` must be flat, strings or arrays of strings. */
function flatFields(v: unknown): boolean {
  if (!isPlainObject(v)) return false;
  for (const key in v) {
    const value = v[key];
    if (typeof value === 'string') continue;
    // Numbers too: the spec has them silently dropped (UNCONFIRMED, §1.3); refusing is what a client can test against.
    if (!Array.isArray(value) || !value.every((x) => typeof x === 'string')) return false;
  }
  return true;
}

function eventIdOf(envelope: Record<string, unknown>, text: string): string {
  const event = envelope.event;
  if (isPlainObject(event) && typeof event.id === 'string') return event.id;
  return text;
}

// ---- the searches (the REST management API) ----

/**
 * The fake is not a search engine: it knows the two searches of the forwarder's reconciliation and nothing else, read with
 * strict regular expressions; any other search is refused as Splunk refuses a bad one (400, a FATAL message).
 * - counts: `search [index="…" ](sourcetype="…"|(sourcetype="…" OR sourcetype="…"…)) event_id=* | eval w=floor(_time/N)*N |
 *   stats dc(event_id) as count by w`
 * - ids: the same selection, then `| stats count by event_id | fields event_id`
 * Quoted values: `\` escapes the next character (`\"`, `\\`), as in SPL.
 */
const QUOTED = String.raw`"(?:[^"\\]|\\.)*"`;
const SELECTION = new RegExp(
  String.raw`^search (?:index=(${QUOTED}) )?(?:sourcetype=(${QUOTED})|\((sourcetype=${QUOTED}(?: OR sourcetype=${QUOTED})+)\)) event_id=\* \| (.*)$`,
  's',
);
const COUNTS_TAIL = /^eval w=floor\(_time\/(\d+(?:\.\d+)?)\)\*(\d+(?:\.\d+)?) \| stats dc\(event_id\) as count by w$/;
const IDS_TAIL = /^stats count by event_id \| fields event_id$/;
const EPOCH_SECONDS = /^\d+(?:\.\d+)?$/;

const unquote = (q: string): string => q.slice(1, -1).replace(/\\(.)/gs, '$1');

interface ParsedSearch {
  readonly kind: 'counts' | 'ids';
  readonly index: string | undefined;
  readonly sourcetypes: readonly string[];
  /** Window length in seconds (counts). */
  readonly span: number;
}

function parseSearch(search: string): ParsedSearch | undefined {
  const m = SELECTION.exec(search);
  if (m === null) return undefined;
  const index = m[1] === undefined ? undefined : unquote(m[1]);
  const sourcetypes = m[2] !== undefined ? [unquote(m[2])] : [...m[3]!.matchAll(new RegExp(QUOTED, 'g'))].map((q) => unquote(q[0]));
  const tail = m[4]!;
  const counts = COUNTS_TAIL.exec(tail);
  if (counts !== null) {
    const span = Number(counts[1]);
    if (counts[1] !== counts[2] || !(span > 0)) return undefined;
    return { kind: 'counts', index, sourcetypes, span };
  }
  return IDS_TAIL.test(tail) ? { kind: 'ids', index, sourcetypes, span: 0 } : undefined;
}

/** A REST API answer: `{"messages":[{"type":…,"text":…}]}` (output_mode=json). */
const restMessage = (status: number, type: string, text: string): Answer => ({ status, body: { messages: [{ type, text }] } });

// ---- state ----

/** What a search reads of one envelope: `_time`, `index`, `sourcetype` and the indexed field `event_id`. */
interface Searchable {
  readonly time: number;
  readonly index: string | undefined;
  readonly sourcetype: string;
  readonly eventId: string | undefined;
}

/** One accepted data request. */
interface Accepted {
  readonly acceptedAt: number;
  state: 'pending' | 'indexed' | 'lost';
  /** Dropped once indexed, so that an unread ack does not keep the events twice. */
  held: HeldEvent[] | undefined;
  ids: string[] | undefined;
  searchable: Searchable[] | undefined;
}

interface Channel {
  next: number;
  readonly acks: Map<number, Accepted>;
}

type Scripted = Answer & { readonly busy: boolean };

interface Auth {
  readonly token: string;
  readonly config: FakeHecToken;
}

/** Starts the fake on 127.0.0.1 (`options.port`, else a free port). */
export async function startFakeHec(options: FakeHecOptions = {}): Promise<FakeHec> {
  const tokens = new Map(Object.entries(options.tokens ?? DEFAULT_TOKENS));
  const searchUsers = new Map(Object.entries(options.searchTokens ?? DEFAULT_SEARCH_TOKENS));
  const maxContentLength = options.maxContentLength ?? 800 * MiB;
  const maxEventSize = options.maxEventSize ?? 5 * MiB;
  const keepFull = (options.store ?? 'full') === 'full';
  let ackDelayMs = options.ackDelayMs ?? 0;

  // Indexed events, one entry a column, all in index order (events only with `store: 'full'`): columns, so that `store: 'ids'`
  // keeps a million events in little memory.
  const indexedEvents: HeldEvent[] = [];
  const indexedIds: string[] = [];
  const searchTimes: number[] = [];
  const searchIndexes: (string | undefined)[] = [];
  const searchSourcetypes: string[] = [];
  const searchEventIds: (string | undefined)[] = [];
  /** Index and sourcetype names are few: one string each. */
  const names = new Map<string, string>();
  const intern = (s: string): string => names.get(s) ?? (names.set(s, s), s);
  let log: FakeHecRequest[] = [];
  let searchLog: FakeHecSearch[] = [];
  const script: Scripted[] = [];
  let busyLeft = 0;
  const refused = new Set<string>();
  let dropCount = 0;
  let dropPredicate: ((ackId: number, channel: string) => boolean) | undefined;

  // Splunk's volatile state: what a restart forgets.
  let channels = new Map<string, Channel>();
  /** Ack'd requests waiting for `ackDelayMs`, in acceptance order (so also in due order: one delay for all). */
  let waiting: Accepted[] = [];
  /** Bumped by every restart, so a request that straddles one is treated as lost with the connection. */
  let generation = 0;
  const arrivedIn = new WeakMap<Request, number>();

  function index(a: Accepted): void {
    a.state = 'indexed';
    if (a.held !== undefined) for (const e of a.held) indexedEvents.push(e);
    if (a.ids !== undefined) for (const id of a.ids) indexedIds.push(id);
    if (a.searchable !== undefined) {
      for (const e of a.searchable) {
        searchTimes.push(e.time);
        searchIndexes.push(e.index);
        searchSourcetypes.push(e.sourcetype);
        searchEventIds.push(e.eventId);
      }
    }
    a.held = undefined;
    a.ids = undefined;
    a.searchable = undefined;
  }

  /** What a search will read of an envelope accepted at `acceptedSec` (the `_time` of an envelope without `time`). */
  function searchableOf(envelope: Record<string, unknown>, id: string, acceptedSec: number): Searchable {
    const t = envelope.time;
    const time = typeof t === 'number' ? t : typeof t === 'string' && /^\d+(?:\.\d+)?$/.test(t) ? Number(t) : acceptedSec;
    const fields = envelope.fields;
    // Only a string value: a multivalue event_id is not what the sink sends, and the fake does not model it.
    const raw = isPlainObject(fields) && typeof fields.event_id === 'string' ? fields.event_id : undefined;
    return {
      time,
      index: typeof envelope.index === 'string' ? intern(envelope.index) : undefined,
      sourcetype: intern(typeof envelope.sourcetype === 'string' && envelope.sourcetype !== '' ? envelope.sourcetype : DEFAULT_SOURCETYPE),
      // The same string as the event id when they are equal (they are, for the forwarder's envelopes): kept once.
      eventId: raw === id ? id : raw,
    };
  }

  /** Time is checked lazily (on each request and accessor), so fake timers and `setAckDelay` need no timer here. */
  function settle(): void {
    if (waiting.length === 0) return;
    const now = Date.now();
    let k = 0;
    while (k < waiting.length && waiting[k]!.acceptedAt + ackDelayMs <= now) index(waiting[k++]!);
    if (k > 0) waiting = waiting.slice(k);
  }

  function note(request: Request, url: URL, bytes: number, status: number, code: number | undefined, channel: string | undefined, events: number): void {
    log.push({
      method: request.method,
      path: url.pathname,
      status,
      code,
      channel,
      contentEncoding: request.headers.get('content-encoding') ?? undefined,
      bytes,
      events,
      authorization: request.headers.get('authorization') ?? undefined,
    });
    if (log.length >= 2 * REQUEST_LOG_SIZE) log = log.slice(-REQUEST_LOG_SIZE);
  }

  function record(request: Request, url: URL, bytes: number, answer: Answer, channel: string | undefined, events = 0): Response {
    note(request, url, bytes, answer.status, typeof answer.body.code === 'number' ? answer.body.code : undefined, channel, events);
    return HttpResponse.json(answer.body, { status: answer.status, ...(answer.headers === undefined ? {} : { headers: answer.headers }) });
  }

  /** §1.2: `Authorization: Splunk <token>`, or Basic auth with the token as password. */
  function tokenOf(header: string): string | undefined {
    const splunk = /^Splunk (\S+)$/.exec(header);
    if (splunk !== null) return splunk[1];
    const basic = /^Basic ([A-Za-z0-9+/]+={0,2})$/.exec(header);
    if (basic === null) return undefined;
    const decoded = Buffer.from(basic[1]!, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    return colon >= 0 && colon < decoded.length - 1 ? decoded.slice(colon + 1) : undefined;
  }

  function authenticate(request: Request, url: URL): Auth | Answer {
    // Query-string auth is off (§1.2). Checked first, even beside a good header: UNCONFIRMED, and a token in a URL ends up in
    // access logs, so the harsher answer is the useful one.
    if (url.searchParams.has('token')) return CODES.queryAuthDisabled;
    const header = request.headers.get('authorization');
    if (header === null) return CODES.tokenRequired;
    const token = tokenOf(header);
    if (token === undefined) return CODES.invalidAuthorization;
    const config = tokens.get(token);
    if (config === undefined) return CODES.invalidToken;
    if (config.disabled === true) return CODES.tokenDisabled;
    return { token, config };
  }

  /** §1.5: a GUID from the header or `?channel=`. */
  function channelOf(request: Request, url: URL, auth: Auth): { channel: string | undefined } | Answer {
    const channel = request.headers.get('x-splunk-request-channel') || url.searchParams.get('channel') || undefined;
    if (channel === undefined) return auth.config.ack === true ? CODES.channelMissing : { channel };
    // Checked for tokens without ack too: harsher than needed (UNCONFIRMED), and a malformed channel is a client bug either way.
    return GUID.test(channel) ? { channel } : CODES.invalidChannel;
  }

  /** The body as text, or the answer refusing its encoding (§1.4, §5.6). */
  function decode(request: Request, body: Buffer): string | Answer {
    const encoding = request.headers.get('content-encoding')?.trim().toLowerCase();
    if (encoding === undefined || encoding === '' || encoding === 'identity') return body.toString('utf8');
    // Only gzip: deflate answering 415 is one third-party observation (UNCONFIRMED); any other coding gets the same.
    if (encoding !== 'gzip') return UNSUPPORTED_ENCODING;
    try {
      return gunzipSync(body).toString('utf8');
    } catch {
      return CODES.invalidDataFormat;
    }
  }

  /** Checks envelope `i` (§1.3); undefined when it may be indexed. */
  function refusal(envelope: Record<string, unknown>, i: number, auth: Auth): Answer | undefined {
    // The index comes before the event field (UNCONFIRMED order): a probe sending `{"index":"x"}` without an event learns
    // from code 7 against 12 whether the token may write to `x`.
    if (Object.hasOwn(envelope, 'index')) {
      const name = envelope.index;
      // A non-string or empty index names no index: refused even for a token allowed any (UNCONFIRMED, harsher).
      const allowed = typeof name === 'string' && name !== '' && (auth.config.indexes === undefined || auth.config.indexes.includes(name));
      if (!allowed) return badEvent(400, 'Incorrect index', 7, i);
    }
    const event = envelope.event;
    // `"event": null` counts as missing (UNCONFIRMED; no client should send it).
    if (event === undefined || event === null) return badEvent(400, 'Event field is required', 12, i);
    if (typeof event === 'string' && event.trim() === '') return badEvent(400, 'Event field cannot be blank', 13, i);
    if (Object.hasOwn(envelope, 'fields') && !flatFields(envelope.fields)) return badEvent(400, 'Error in handling indexed fields', 15, i);
    if (refused.size > 0 && isPlainObject(event) && typeof event.id === 'string' && refused.has(event.id)) return invalidFormat(i);
    return undefined;
  }

  async function bodyOf(request: Request): Promise<Buffer> {
    const bytes = await request.arrayBuffer();
    return Buffer.from(bytes);
  }

  /** True when a restart happened since the request arrived: its connection went with it. */
  function straddledRestart(request: Request, startedIn: number): boolean {
    return (arrivedIn.get(request) ?? startedIn) !== generation;
  }

  async function onData(request: Request): Promise<Response> {
    const startedIn = generation;
    const url = new URL(request.url);
    const body = await bodyOf(request);
    if (straddledRestart(request, startedIn)) return record(request, url, body.length, SHUTTING_DOWN, undefined);
    settle();
    const answer = (a: Answer, channel?: string): Response => record(request, url, body.length, a, channel);

    const auth = authenticate(request, url);
    if (!('token' in auth)) return answer(auth);

    // Scripted failures act on any authenticated data POST, before the request is looked at, as a busy Splunk would.
    const scripted = script.shift();
    if (scripted !== undefined) {
      if (scripted.busy) busyLeft--;
      return answer(scripted);
    }

    const ch = channelOf(request, url, auth);
    if (!('channel' in ch)) return answer(ch);
    const channel = ch.channel;

    // §1.4, §5.6: the limit applies to the bytes received, compressed or not.
    if (body.length > maxContentLength) return answer(CONTENT_TOO_LARGE, channel);
    const text = decode(request, body);
    if (typeof text !== 'string') return answer(text, channel);

    // §1.3: envelopes concatenated, whitespace between them, no commas, no array. The whole request is checked before
    // anything is indexed: a refused request indexes nothing, which is harsher than Splunk may be (§1.3, §5.2: it may keep
    // the envelopes before `invalid-event-number`), so a client must not count on a kept prefix either way.
    const held: HeldEvent[] | undefined = keepFull ? [] : undefined;
    const ids: string[] = [];
    const searchable: Searchable[] = [];
    const acceptedSec = Date.now() / 1000;
    let i = 0;
    for (let at = skipWhitespace(text, 0); at < text.length; at = skipWhitespace(text, at), i++) {
      if (text.charCodeAt(at) !== LBRACE) return answer(invalidFormat(i), channel);
      const end = objectEnd(text, at);
      if (end < 0) return answer(invalidFormat(i), channel);
      const slice = text.slice(at, end);
      at = end;
      // §1.4, §5.6: the per-event cap counts decompressed bytes, so gzip cannot smuggle a big event through.
      if (utf8Bytes(slice, maxEventSize) > maxEventSize) return answer(invalidFormat(i), channel);
      let envelope: unknown;
      try {
        envelope = JSON.parse(slice);
      } catch {
        return answer(invalidFormat(i), channel);
      }
      if (!isPlainObject(envelope)) return answer(invalidFormat(i), channel);
      const refusedBecause = refusal(envelope, i, auth);
      if (refusedBecause !== undefined) return answer(refusedBecause, channel);
      const id = eventIdOf(envelope, slice);
      ids.push(id);
      searchable.push(searchableOf(envelope, id, acceptedSec));
      held?.push({ text: slice, envelope, token: auth.token, channel, index: typeof envelope.index === 'string' ? envelope.index : undefined });
    }
    if (i === 0) return answer(CODES.noData, channel);

    const delayed = auth.config.ack === true;
    const accepted: Accepted = { acceptedAt: Date.now(), state: 'pending', held, ids, searchable };
    let ackId: number | undefined;
    if (delayed && channel !== undefined) {
      let state = channels.get(channel);
      if (state === undefined) channels.set(channel, (state = { next: 0, acks: new Map() }));
      ackId = state.next++;
      state.acks.set(ackId, accepted);
    }
    let lost = false;
    if (dropCount > 0) {
      dropCount--;
      lost = true;
    } else if (dropPredicate !== undefined && ackId !== undefined && channel !== undefined) {
      lost = dropPredicate(ackId, channel);
    }
    if (lost) {
      accepted.state = 'lost';
      accepted.held = undefined;
      accepted.ids = undefined;
      accepted.searchable = undefined;
    } else if (delayed) {
      waiting.push(accepted);
      settle();
    } else {
      // §1.5: without ack a 200 is all there is; the data counts as indexed at once.
      index(accepted);
    }
    const success = ackId === undefined ? CODES.success : { status: 200, body: { ...CODES.success.body, ackId } };
    return record(request, url, body.length, success, channel, i);
  }

  async function onAck(request: Request): Promise<Response> {
    const url = new URL(request.url);
    const body = await bodyOf(request);
    settle();
    const answer = (a: Answer, channel?: string): Response => record(request, url, body.length, a, channel);

    const auth = authenticate(request, url);
    if (!('token' in auth)) return answer(auth);
    if (auth.config.ack !== true) return answer(CODES.ackDisabled);
    const ch = channelOf(request, url, auth);
    if (!('channel' in ch)) return answer(ch);
    const channel = ch.channel!;
    const text = decode(request, body);
    if (typeof text !== 'string') return answer(text, channel);

    let asked: unknown;
    try {
      asked = (JSON.parse(text) as { acks?: unknown }).acks;
    } catch {
      return answer(CODES.invalidDataFormat, channel);
    }
    if (!Array.isArray(asked) || !asked.every((id) => Number.isSafeInteger(id) && (id as number) >= 0)) {
      return answer(CODES.invalidDataFormat, channel);
    }
    // §1.5: true once indexed, and read once: the status is deleted when a true is returned. An id asked twice in one
    // request gets one answer (the reply is keyed by id).
    const acks: Record<string, boolean> = {};
    const state = channels.get(channel);
    for (const id of asked as number[]) {
      if (Object.hasOwn(acks, String(id))) continue;
      const accepted = state?.acks.get(id);
      const done = accepted?.state === 'indexed';
      if (done) state!.acks.delete(id);
      acks[String(id)] = done;
    }
    return answer({ status: 200, body: { acks } }, channel);
  }

  async function onHealth(request: Request): Promise<Response> {
    const url = new URL(request.url);
    const body = await bodyOf(request);
    settle();
    const answer = (a: Answer): Response => record(request, url, body.length, a, undefined);
    if (options.healthChecksToken === true) {
      // §1.1: the REST reference lists 400 for an invalid token on health; 400 code 4 rather than the UNCONFIRMED code 21.
      const header = request.headers.get('authorization');
      const token = url.searchParams.get('token') ?? (header === null ? undefined : tokenOf(header));
      const config = token === undefined ? undefined : tokens.get(token);
      if (config === undefined) return answer(hec(400, 'Invalid token', 4));
      if (config.disabled === true) return answer(hec(400, 'Token disabled', 1));
    }
    return answer(busyLeft > 0 ? CODES.unhealthy : CODES.healthy);
  }

  /** The management API's tokens: `Authorization: Bearer <token>` (authentication tokens) or `Splunk <session key>`. */
  function searchUserOf(request: Request): FakeSearchUser | undefined {
    const m = /^(?:Bearer|Splunk) (\S+)$/.exec(request.headers.get('authorization') ?? '');
    return m === null ? undefined : searchUsers.get(m[1]!);
  }

  async function onExport(request: Request): Promise<Response> {
    const url = new URL(request.url);
    const body = await bodyOf(request);
    settle();
    const form = new URLSearchParams(body.toString('utf8'));
    const search = form.get('search') ?? '';
    let parsed: ParsedSearch | undefined;
    const answer = (a: Answer): Response => {
      searchLog.push({ search, status: a.status, kind: parsed?.kind, index: parsed?.index, sourcetypes: parsed?.sourcetypes ?? [] });
      if (searchLog.length >= 2 * REQUEST_LOG_SIZE) searchLog = searchLog.slice(-REQUEST_LOG_SIZE);
      return record(request, url, body.length, a, undefined);
    };

    const user = searchUserOf(request);
    // The REST API's answer to a missing or unknown credential.
    if (user === undefined) return answer(restMessage(401, 'WARN', 'call not properly authenticated'));
    // UNCONFIRMED wording: a role without the `search` capability.
    if (user.canSearch === false) return answer(restMessage(403, 'ERROR', 'You do not have permission to run searches (capability search).'));
    // The fake speaks JSON only, and wants the time range as epoch seconds (what the forwarder sends): it refuses the rest.
    if (form.get('output_mode') !== 'json') return answer(restMessage(400, 'FATAL', 'the fake HEC answers searches with output_mode=json only'));
    const earliest = form.get('earliest_time') ?? '';
    const latest = form.get('latest_time') ?? '';
    if (!EPOCH_SECONDS.test(earliest) || !EPOCH_SECONDS.test(latest)) {
      return answer(restMessage(400, 'FATAL', 'the fake HEC wants earliest_time and latest_time as epoch seconds'));
    }
    parsed = parseSearch(search);
    if (parsed === undefined) {
      return answer(restMessage(400, 'FATAL', `Error in 'search' command: the fake HEC knows only the two reconciliation searches, not ${JSON.stringify(search.slice(0, 200))}`));
    }
    const from = Number(earliest);
    const to = Number(latest);
    const { index, sourcetypes, span, kind } = parsed;
    const visible = (k: number): boolean => {
      const at = searchIndexes[k];
      // No `index=`: the search user's default indexes, taken to be where the token's events without `index` went.
      if (index === undefined ? at !== undefined : at !== index) return false;
      return at === undefined || user.indexes === undefined || user.indexes.includes(at);
    };
    // `earliest_time` inclusive, `latest_time` exclusive.
    const byWindow = new Map<number, Set<string>>();
    const ids = new Set<string>();
    for (let k = 0; k < searchTimes.length; k++) {
      const id = searchEventIds[k];
      const t = searchTimes[k]!;
      if (id === undefined || t < from || t >= to || !sourcetypes.includes(searchSourcetypes[k]!) || !visible(k)) continue;
      if (kind === 'ids') ids.add(id);
      else {
        const w = Math.floor(t / span) * span;
        let set = byWindow.get(w);
        if (set === undefined) byWindow.set(w, (set = new Set()));
        set.add(id);
      }
    }
    const results =
      kind === 'ids'
        ? [...ids].sort().map((id) => ({ event_id: id }))
        : [...byWindow.entries()].sort(([a], [b]) => a - b).map(([w, set]) => ({ w: String(w), count: String(set.size) }));
    // One JSON object a line, values as strings, `lastrow` on the last. No result: an empty body (UNCONFIRMED: Splunk may send a
    // line without a result instead; a client must take both).
    const text = results.map((result, offset) => JSON.stringify({ preview: false, offset, ...(offset === results.length - 1 ? { lastrow: true } : {}), result })).join('\n');
    searchLog.push({ search, status: 200, kind, index, sourcetypes });
    if (searchLog.length >= 2 * REQUEST_LOG_SIZE) searchLog = searchLog.slice(-REQUEST_LOG_SIZE);
    note(request, url, body.length, 200, undefined, undefined, 0);
    return new HttpResponse(text, { status: 200, headers: { 'content-type': 'application/json; charset=UTF-8' } });
  }

  const handlers: readonly HttpHandler[] = [
    http.post(DATA_PATH, ({ request }) => onData(request)),
    http.post(ACK_PATH, ({ request }) => onAck(request)),
    http.get(HEALTH_PATH, ({ request }) => onHealth(request)),
    http.post(EXPORT_PATH, ({ request }) => onExport(request)),
  ];

  // ---- the socket ----

  const tlsOptions = options.tls;
  const scheme = tlsOptions === undefined ? 'http' : 'https';
  const host = '127.0.0.1';
  let port = options.port ?? 0;

  async function serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const arrival = generation;
    let body: Buffer;
    try {
      body = await readBody(req);
    } catch {
      return; // the client (or stop()) closed the connection mid-body
    }
    try {
      const url = new URL(req.url ?? '/', `${scheme}://${host}:${port}`);
      const headers = fetchHeadersOf(req);
      const method = req.method ?? 'GET';
      const request = new Request(url, { method, headers, ...(method === 'GET' || method === 'HEAD' ? {} : { body }) });
      arrivedIn.set(request, arrival);
      const response = (await getResponse(handlers as HttpHandler[], request)) ?? record(request, url, body.length, NOT_FOUND, undefined);
      await writeFetchResponse(res, response, method);
    } catch (e) {
      // A bug in the fake, not a Splunk answer: no HEC code, so no client can mistake it for code 8.
      fakeFailed(res, 'fake HEC', e);
    }
  }

  const listener = (req: IncomingMessage, res: ServerResponse): void => void serve(req, res);
  const server: Server = httpOrHttpsServer(listener, tlsOptions);
  const connections = trackConnections([server]);

  let closed = false;

  async function start(): Promise<void> {
    if (closed) throw new Error('fake HEC: start() after close()');
    if (server.listening) return;
    port = await listenOn(server, port, host);
  }

  const stop = (): Promise<void> => connections.stop();

  function forget(): void {
    generation++;
    channels = new Map();
    for (const a of waiting) {
      a.state = 'lost';
      a.held = undefined;
      a.ids = undefined;
      a.searchable = undefined;
    }
    waiting = [];
  }

  await start();

  return {
    url: `${scheme}://${tlsOptions === undefined ? host : 'localhost'}:${port}`,
    port,
    handlers,
    events() {
      if (!keepFull) throw new Error("fake HEC: events() needs store: 'full'; use eventIds() or indexedCount()");
      settle();
      return indexedEvents.slice();
    },
    eventIds() {
      settle();
      return indexedIds.slice();
    },
    indexedCount() {
      settle();
      return indexedIds.length;
    },
    deleteEvents(ids) {
      settle();
      const drop = new Set(ids);
      // Compacts every column in place, keeping index order.
      let kept = 0;
      for (let k = 0; k < indexedIds.length; k++) {
        const id = searchEventIds[k];
        if (id !== undefined && drop.has(id)) continue;
        indexedIds[kept] = indexedIds[k]!;
        searchTimes[kept] = searchTimes[k]!;
        searchIndexes[kept] = searchIndexes[k];
        searchSourcetypes[kept] = searchSourcetypes[k]!;
        searchEventIds[kept] = id;
        if (keepFull) indexedEvents[kept] = indexedEvents[k]!;
        kept++;
      }
      const removed = indexedIds.length - kept;
      for (const column of [indexedIds, searchTimes, searchIndexes, searchSourcetypes, searchEventIds, ...(keepFull ? [indexedEvents] : [])]) column.length = kept;
      return removed;
    },
    requests() {
      return log.slice(-REQUEST_LOG_SIZE);
    },
    searches() {
      return searchLog.slice(-REQUEST_LOG_SIZE);
    },
    busy(n, busyOptions) {
      const retryAfter = busyOptions?.retryAfterSec;
      const answer = retryAfter === undefined ? CODES.serverBusy : { ...CODES.serverBusy, headers: { 'retry-after': String(retryAfter) } };
      for (let k = 0; k < n; k++) script.push({ ...answer, busy: true });
      busyLeft += Math.max(0, n);
    },
    failNext(n, status, body) {
      for (let k = 0; k < n; k++) script.push({ status, body, busy: false });
    },
    refuseEvent(eventId) {
      refused.add(eventId);
    },
    dropAcks(n) {
      if (typeof n === 'function') {
        dropPredicate = n;
      } else {
        dropCount = n;
        if (n === 0) dropPredicate = undefined;
      }
    },
    setAckDelay(ms) {
      ackDelayMs = ms;
      settle();
    },
    async restart(downMs = 0) {
      if (downMs > 0) await stop();
      forget();
      if (downMs > 0) {
        await new Promise((resolve) => setTimeout(resolve, downMs));
        await start();
      }
    },
    stop,
    start,
    async close() {
      closed = true;
      await stop();
    },
  };
}
