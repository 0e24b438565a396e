// Reconciliation queries to Splunk (`reconcile --against siem`): the two SPL searches, their export answers, and the SinkQuery over the search API.
import type { ConnectorContext } from '../../src/contracts/connector.ts';
import { ForwarderError } from '../../src/contracts/errors.ts';
import type { SinkQuery, SinkQueryScope, WindowCount } from '../../src/contracts/sink-query.ts';
import type { TimeRange } from '../../src/contracts/source.ts';
import { canonicalEpochSeconds, canonicalMicros, formatEpochMicros, isCanonicalTime } from '../../src/model/time.ts';
import { DEFAULT_SOURCETYPE } from '../../mappings/splunk-hec/index.ts';
import { searchKeys, searchStatusError, searchUnanswered } from './classify.ts';
import type { SplunkHecSinkConfig } from './config.ts';
import { createSearchTransport } from './search-transport.ts';

// ---- SPL (pure) ----

/** Where a route's events are in Splunk: what the mapping put in each envelope (mappings/splunk-hec/index.ts). */
export interface SplScope {
  /** The route's `mappingOptions.index`; absent: the token's default index. */
  readonly index: string | undefined;
  /** The route's `mappingOptions.sourcetype`, else the mapping's default of each origin the route reads. */
  readonly sourcetypes: readonly string[];
}

/** What a value put into SPL may not hold: control characters (no escape for them), and `*` (a wildcard even when quoted). */
const NOT_IN_SPL = /[\u0000-\u001f\u007f*]/;

/**
 * A value as an SPL quoted string: inside double quotes, `\` escapes `"` and `\` themselves, so every other
 * character (`|`, `[`, `=`, spaces) is literal. A value SPL cannot hold literally is a configuration error.
 */
export function splString(value: string, key: string): string {
  if (NOT_IN_SPL.test(value)) {
    throw new ForwarderError(
      'FWD_CONFIG_INVALID',
      `mappingOptions.${key} ${JSON.stringify(value)} cannot be searched for exactly (it holds a control character or *, which SPL has no escape for)`,
      { stage: 'config', disposition: 'fatal' },
    );
  }
  return `"${value.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}

/** A route option as the mapping reads it: absent when missing or empty. */
const option = (options: Readonly<Record<string, string>>, key: string): string | undefined => {
  const v = options[key];
  return typeof v === 'string' && v !== '' ? v : undefined;
};

export function splScope(scope: SinkQueryScope): SplScope {
  const sourcetype = option(scope.mappingOptions, 'sourcetype');
  const sourcetypes =
    sourcetype !== undefined ? [sourcetype] : scope.origin === 'mixed' ? [DEFAULT_SOURCETYPE['cofide-connect'], DEFAULT_SOURCETYPE['ibm-cadf']] : [DEFAULT_SOURCETYPE[scope.origin]];
  return { index: option(scope.mappingOptions, 'index'), sourcetypes };
}

/** `index="…" sourcetype="…" event_id=*`: the events of the route, and nothing else (heartbeats have their own sourcetype). */
function selection(scope: SplScope): string {
  const index = scope.index === undefined ? '' : `index=${splString(scope.index, 'index')} `;
  const types = scope.sourcetypes.map((t) => `sourcetype=${splString(t, 'sourcetype')}`);
  const sourcetype = types.length === 1 ? types[0]! : `(${types.join(' OR ')})`;
  return `search ${index}${sourcetype} event_id=*`;
}

/** Milliseconds as seconds in decimal: 60000 → `60`, 1500 → `1.5`. */
function secondsText(ms: number): string {
  const whole = Math.floor(ms / 1000);
  const fraction = ms % 1000;
  return fraction === 0 ? String(whole) : `${whole}.${String(fraction).padStart(3, '0').replace(/0+$/, '')}`;
}

function checkWindow(windowMs: number): void {
  if (!Number.isSafeInteger(windowMs) || windowMs <= 0) throw new TypeError(`windowMs must be a positive integer, got ${windowMs}`);
}

/**
 * Distinct event ids per window: `search index="…" sourcetype="…" event_id=* | eval w=floor(_time/<secs>)*<secs> |
 * stats dc(event_id) as count by w`. `dc` is exact (`estdc` is the estimate): a re-sent event counts once.
 */
export function countsSearch(scope: SplScope, windowMs: number): string {
  checkWindow(windowMs);
  const secs = secondsText(windowMs);
  return `${selection(scope)} | eval w=floor(_time/${secs})*${secs} | stats dc(event_id) as count by w`;
}

/** The distinct event ids: `search index="…" sourcetype="…" event_id=* | stats count by event_id | fields event_id`. */
export function idsSearch(scope: SplScope): string {
  return `${selection(scope)} | stats count by event_id | fields event_id`;
}

/** A canonical time as epoch seconds with its microseconds, trailing zeros dropped: `1767323040`, `1767323040.5`. */
export function epochSecondsText(time: string): string {
  if (!isCanonicalTime(time)) throw new TypeError(`expected a canonical time, got ${JSON.stringify(time)}`);
  const seconds = canonicalEpochSeconds(time);
  const micros = canonicalMicros(time);
  return micros === 0 ? String(seconds) : `${seconds}.${String(micros).padStart(6, '0').replace(/0+$/, '')}`;
}

/**
 * The form of `POST /services/search/jobs/export`: the search, JSON lines, and the range as epoch seconds.
 * `earliest_time` is inclusive and `latest_time` exclusive (`_time < latest`), as Splunk's search time range is.
 */
export function exportForm(search: string, range: TimeRange): Record<string, string> {
  return { search, output_mode: 'json', earliest_time: epochSecondsText(range.from), latest_time: epochSecondsText(range.to) };
}

// ---- the export answer (pure) ----

/** Why an export answer cannot be used: `refused` when Splunk said so (a FATAL or ERROR message), `bad` when it is not one. */
export class ExportAnswerError extends Error {
  readonly kind: 'refused' | 'bad';
  constructor(kind: 'refused' | 'bad', message: string) {
    super(message);
    this.name = 'ExportAnswerError';
    this.kind = kind;
  }
}

export interface ExportAnswer {
  /** The final results (`preview: false`), in order. */
  readonly rows: ReadonlyArray<Readonly<Record<string, unknown>>>;
  /** Messages Splunk gave beside them that do not stop the search (`WARN`, `INFO`): a peer that did not answer … */
  readonly notes: readonly string[];
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Reads an export answer in `output_mode=json`: one JSON object a line, each with a `result` (or `results`),
 * `preview`, `offset`, `lastrow`, and `messages` (`{type, text}`) — the lines Splunk's own SDK reads
 * (splunk-sdk-python `JSONResultsReader`). Only final results count: a search that streamed previews then its
 * final results is read from its final ones, and one that ended with previews alone did not finish. A
 * `FATAL` or `ERROR` message means the search failed or its results are not to be trusted. No line at all is a
 * search that found nothing. Throws `ExportAnswerError`.
 */
export function parseExportAnswer(body: string): ExportAnswer {
  const final: Record<string, unknown>[] = [];
  let previews = 0;
  const notes: string[] = [];
  const errors: string[] = [];
  for (const line of body.split('\n')) {
    const text = line.trim();
    if (text === '') continue;
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      throw new ExportAnswerError('bad', `a line of the answer is not JSON (${JSON.stringify(text.slice(0, 80))}): is this Splunk's search API?`);
    }
    if (!isObject(json)) throw new ExportAnswerError('bad', 'a line of the answer is not a JSON object');
    if (Array.isArray(json.messages)) {
      for (const m of json.messages) {
        const type = isObject(m) && typeof m.type === 'string' ? m.type.toUpperCase() : 'INFO';
        const said = isObject(m) && typeof m.text === 'string' ? m.text : JSON.stringify(m);
        (type === 'FATAL' || type === 'ERROR' ? errors : notes).push(`${type}: ${said}`);
      }
    }
    const results = isObject(json.result) ? [json.result] : Array.isArray(json.results) ? json.results.filter(isObject) : [];
    if (json.preview === true) previews += results.length;
    else final.push(...results);
  }
  if (errors.length > 0) throw new ExportAnswerError('refused', errors.join('; ').slice(0, 500));
  if (final.length === 0 && previews > 0) throw new ExportAnswerError('bad', 'the search ended with preview results only (it did not finish)');
  return { rows: final, notes };
}

/** A field of a result: Splunk writes every value as a string; a number is taken too. */
function numberField(row: Readonly<Record<string, unknown>>, field: string): number {
  const v = row[field];
  const n = typeof v === 'number' ? v : typeof v === 'string' && v.trim() !== '' ? Number(v) : NaN;
  if (!Number.isFinite(n)) throw new ExportAnswerError('bad', `a result has no number in ${field} (${JSON.stringify(v)})`);
  return n;
}

/**
 * The rows of the counts search as windows of `range`, in time order. `w` is the window's start in epoch seconds
 * (a double: rounded to the millisecond, then to its window). A window outside `range` is dropped, should the
 * search's time range not be exactly [from, to).
 */
export function windowCountsOf(rows: ReadonlyArray<Readonly<Record<string, unknown>>>, windowMs: number, range: TimeRange): WindowCount[] {
  checkWindow(windowMs);
  const fromMs = canonicalEpochSeconds(range.from) * 1000 + Math.floor(canonicalMicros(range.from) / 1000);
  const toMs = canonicalEpochSeconds(range.to) * 1000 + Math.floor(canonicalMicros(range.to) / 1000);
  const counts = new Map<number, number>();
  for (const row of rows) {
    const ms = Math.round(numberField(row, 'w') * 1000);
    const start = Math.floor(ms / windowMs) * windowMs;
    const count = numberField(row, 'count');
    if (!Number.isSafeInteger(count) || count < 0) throw new ExportAnswerError('bad', `a window's count is not a whole number (${count})`);
    if (start < fromMs || start >= toMs || count === 0) continue;
    counts.set(start, (counts.get(start) ?? 0) + count);
  }
  return [...counts.entries()]
    .sort(([a], [b]) => a - b)
    .map(([start, count]) => ({ from: formatEpochMicros(BigInt(start) * 1000n), to: formatEpochMicros(BigInt(start + windowMs) * 1000n), count }));
}

/** The rows of the ids search as distinct ids (a multivalue field gives each of its values). */
export function eventIdsOf(rows: ReadonlyArray<Readonly<Record<string, unknown>>>): string[] {
  const ids = new Set<string>();
  for (const row of rows) {
    const v = row['event_id'];
    if (typeof v === 'string') ids.add(v);
    else if (Array.isArray(v) && v.every((x) => typeof x === 'string')) for (const x of v) ids.add(x);
    else throw new ExportAnswerError('bad', `a result has no event_id (${JSON.stringify(v)})`);
  }
  return [...ids];
}

// ---- the query (I/O through search-transport.ts) ----

/**
 * The SinkQuery of a `splunk-hec` sink: searches through `search.url` with `search.token`. Throws
 * `FWD_CONFIG_INVALID` when the sink has no `search` block.
 */
export function createSplunkHecQuery(name: string, config: SplunkHecSinkConfig, context: ConnectorContext): SinkQuery {
  const settings = config.search;
  if (settings === undefined) {
    throw new ForwarderError(
      'FWD_CONFIG_INVALID',
      `sinks.${name}.search.url is not set: reconcile --against siem asks Splunk's search API, on the management port (https://splunk.example.com:8089), with a search token (sinks.${name}.search.token / tokenFile); the HEC token cannot search`,
      { stage: 'config', disposition: 'fatal' },
    );
  }
  const { logger } = context;
  const keys = searchKeys(name);
  const transport = createSearchTransport(settings, {
    changed: (state) => {
      if (state.generation > 1) logger.info({ sink: name }, 'splunk-hec: search TLS files changed; new searches use new connections');
    },
    keptPrevious: (problem) => logger.warn({ sink: name, reason: problem.message }, 'splunk-hec: search TLS files changed but cannot be used yet; keeping the previous ones'),
  });
  const url = transport.exportUrl;

  async function run(search: string, range: TimeRange, scope: SplScope, signal: AbortSignal): Promise<ExportAnswer['rows']> {
    const where = scope.index === undefined ? "the token user's default indexes" : `index ${scope.index}`;
    let reply;
    try {
      reply = await transport.exportSearch(exportForm(search, range), signal);
    } catch (error) {
      throw searchUnanswered(error, signal, url, keys);
    }
    if (reply.status !== 200) throw searchStatusError(reply.status, reply.body, url, keys, where);
    if (reply.truncated) {
      throw new ForwarderError('FWD_SINK_PERMANENT', `Splunk search at ${url}: the answer is larger than the forwarder reads (${range.from} to ${range.to}): query a shorter range`, {
        stage: 'sink',
        disposition: 'permanent',
      });
    }
    let answer: ExportAnswer;
    try {
      answer = parseExportAnswer(reply.body);
    } catch (error) {
      if (!(error instanceof ExportAnswerError)) throw error;
      const what = error.kind === 'refused' ? `Splunk refused the search: ${error.message}` : `not a search answer: ${error.message}`;
      throw new ForwarderError('FWD_SINK_PERMANENT', `Splunk search at ${url}: ${what} (check that ${keys.url} is the management port and the search user may search ${where})`, {
        stage: 'sink',
        disposition: 'permanent',
        cause: error,
      });
    }
    if (answer.notes.length > 0) logger.warn({ sink: name, messages: answer.notes }, 'splunk-hec: the reconciliation search came with messages (counts may be incomplete)');
    return answer.rows;
  }

  const empty = (range: TimeRange): boolean => range.from >= range.to || range.to <= '1970-01-01T00:00:00.000000Z';

  return {
    async countByWindow(range, windowMs, scope, signal) {
      checkWindow(windowMs);
      if (empty(range)) return [];
      const spl = splScope(scope);
      const rows = await run(countsSearch(spl, windowMs), clampRange(range), spl, signal);
      try {
        return windowCountsOf(rows, windowMs, range);
      } catch (error) {
        throw badAnswer(error, url);
      }
    },
    async eventIds(range, scope, signal) {
      if (empty(range)) return [];
      const spl = splScope(scope);
      const rows = await run(idsSearch(spl), clampRange(range), spl, signal);
      try {
        return eventIdsOf(rows);
      } catch (error) {
        throw badAnswer(error, url);
      }
    },
    close: () => transport.close(),
  };
}

/** HEC cannot hold a time before 1970 (the mapping refuses it): a range starting earlier starts at the epoch. */
function clampRange(range: TimeRange): TimeRange {
  const epoch = '1970-01-01T00:00:00.000000Z';
  return range.from < epoch ? { from: epoch, to: range.to } : range;
}

function badAnswer(error: unknown, url: string): unknown {
  if (!(error instanceof ExportAnswerError)) return error;
  return new ForwarderError('FWD_SINK_PERMANENT', `Splunk search at ${url}: not the answer of the search sent: ${error.message}`, { stage: 'sink', disposition: 'permanent', cause: error });
}
