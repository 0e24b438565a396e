// Reconciliation queries to Elasticsearch/OpenSearch (`reconcile --against siem`): `_search` bodies with aggregations, their answers, and the SinkQuery over the sink's connection.
import type { ConnectorContext } from '../../src/contracts/connector.ts';
import { ForwarderError } from '../../src/contracts/errors.ts';
import type { SinkQuery, SinkQueryScope, WindowCount } from '../../src/contracts/sink-query.ts';
import type { TimeRange } from '../../src/contracts/source.ts';
import { formatEpochMicros, isCanonicalTime, toEpochMicros } from '../../src/model/time.ts';
import { ECS_OPTIONS } from '../../mappings/ecs/index.ts';
import type { HttpReply } from '../../src/net/http.ts';
import { queryKeys, queryRow, queryStatusError, queryUnanswered } from './classify.ts';
import type { ElasticsearchSinkConfig } from './config.ts';
import { targetFor } from './sink.ts';
import { createElasticsearchTransport } from './transport.ts';

/** Event ids asked for in one page of the composite aggregation. */
export const IDS_PAGE_SIZE = 1000;
/** Windows asked for in one date histogram: well under the cluster's `search.max_buckets` (65,536 by default). */
export const MAX_WINDOWS_PER_SEARCH = 10_000;
/** Targets one query may search one after the other (a dated index per hour over a year is 8,760). */
export const MAX_TARGETS = 10_000;

/** The event's `event.dataset` (and so its data stream) by origin: the `ecs` mapping's defaults (mappings/ecs/index.ts). */
const DATASET_OF_ORIGIN = Object.freeze({ 'cofide-connect': 'cofide.audit', 'ibm-cadf': 'ibm.cadf_audit' });

// ---- targets (pure) ----

/** One concrete data stream or index, and the part of the range whose events it holds. */
export interface QueryTarget {
  readonly name: string;
  readonly range: TimeRange;
}

type Unit = 'yyyy' | 'MM' | 'dd' | 'HH';
const UNITS: readonly Unit[] = ['HH', 'dd', 'MM', 'yyyy'];
const DATE_PART = /\{(yyyy|MM|dd|HH)\}/g;

const floorDiv = (a: bigint, b: bigint): bigint => (a % b < 0n ? a / b - 1n : a / b);

/** The start of the period of `unit` holding `ms`, and the start of the next one (epoch milliseconds, UTC). */
function period(ms: number, unit: Unit): [number, number] {
  const d = new Date(ms);
  const y = d.getUTCFullYear();
  const m = unit === 'yyyy' ? 0 : d.getUTCMonth();
  const day = unit === 'yyyy' || unit === 'MM' ? 1 : d.getUTCDate();
  const h = unit === 'HH' ? d.getUTCHours() : 0;
  const start = Date.UTC(y, m, day, h);
  const next = unit === 'yyyy' ? Date.UTC(y + 1, 0, 1) : unit === 'MM' ? Date.UTC(y, m + 1, 1) : unit === 'dd' ? Date.UTC(y, m, day + 1) : Date.UTC(y, m, day, h + 1);
  return [start, next];
}

/**
 * The concrete targets a route's events over `range` are in, each with its part of the range (the `elasticsearch`
 * sink's `targetFor`, sink.ts, from the route's `mappingOptions`):
 * - data streams: `logs-<dataset>-<namespace>` for the route's `ecsDataset`, else for the dataset of each origin the
 *   route reads (`mixed`: both);
 * - an index: itself; with date parts (`audit-{yyyy}.{MM}`), one index per period of the finest part over the range,
 *   each holding the events of its period (an event goes to the index of its own time).
 * Names are concrete, never patterns: see classify.ts `QUERY_TABLE` for why.
 */
export function queryTargets(config: ElasticsearchSinkConfig, scope: SinkQueryScope, range: TimeRange): QueryTarget[] {
  const target = targetFor(config, scope.mappingOptions);
  if (target.kind === 'data-stream') {
    const option = scope.mappingOptions[ECS_OPTIONS.dataset];
    const datasets =
      option !== undefined && option !== '' ? [option] : scope.origin === 'mixed' ? Object.values(DATASET_OF_ORIGIN) : [DATASET_OF_ORIGIN[scope.origin]];
    return datasets.map((d) => ({ name: `${target.type}-${d}-${target.namespace}`, range }));
  }
  const parts = new Set([...target.pattern.matchAll(DATE_PART)].map((m) => m[1] as Unit));
  const unit = UNITS.find((u) => parts.has(u));
  if (unit === undefined) return [{ name: target.pattern, range }];
  const fromUs = toEpochMicros(range.from);
  const toUs = toEpochMicros(range.to);
  const out: QueryTarget[] = [];
  for (let ms = period(Number(floorDiv(fromUs, 1000n)), unit)[0]; BigInt(ms) * 1000n < toUs; ) {
    const [start, next] = period(ms, unit);
    if (out.length >= MAX_TARGETS) {
      throw new ForwarderError('FWD_SINK_PERMANENT', `${range.from} to ${range.to} spans more than ${MAX_TARGETS} indices of ${target.pattern}: query a shorter range`, {
        stage: 'sink',
        disposition: 'permanent',
      });
    }
    const lo = BigInt(start) * 1000n > fromUs ? BigInt(start) * 1000n : fromUs;
    const hi = BigInt(next) * 1000n < toUs ? BigInt(next) * 1000n : toUs;
    const t = formatEpochMicros(BigInt(start) * 1000n);
    const values: Record<Unit, string> = { yyyy: t.slice(0, 4), MM: t.slice(5, 7), dd: t.slice(8, 10), HH: t.slice(11, 13) };
    out.push({ name: target.pattern.replace(DATE_PART, (_, p: Unit) => values[p]), range: { from: formatEpochMicros(lo), to: formatEpochMicros(hi) } });
    ms = next;
  }
  return out;
}

/** `range` in pieces of at most `maxWindows` windows (boundaries on multiples of `windowMs` from `range.from`). */
export function splitRange(range: TimeRange, windowMs: number, maxWindows: number): TimeRange[] {
  const step = BigInt(windowMs) * BigInt(maxWindows) * 1000n;
  const toUs = toEpochMicros(range.to);
  const out: TimeRange[] = [];
  for (let lo = toEpochMicros(range.from); lo < toUs; lo += step) {
    const hi = lo + step < toUs ? lo + step : toUs;
    out.push({ from: formatEpochMicros(lo), to: formatEpochMicros(hi) });
  }
  return out;
}

// ---- request bodies (pure) ----

function checkWindow(windowMs: number): void {
  if (!Number.isSafeInteger(windowMs) || windowMs <= 0) throw new TypeError(`windowMs must be a positive integer, got ${windowMs}`);
}

/** Events of `range` by their time (ECS `@timestamp` = the event's time), `from` inclusive, `to` exclusive. */
function rangeQuery(range: TimeRange): Record<string, unknown> {
  return { range: { '@timestamp': { gte: range.from, lt: range.to } } };
}

/**
 * Documents per window: `{"size":0,"query":{"range":{"@timestamp":{"gte":from,"lt":to}}},"aggs":{"w":{"date_histogram":
 * {"field":"@timestamp","fixed_interval":"<ms>ms","min_doc_count":1}}}}`. Fixed intervals are aligned on the epoch in
 * UTC; only windows holding a document come back. With `create` and `_id` = the event id, a target holds an event
 * once, so documents are distinct events (see the README for the one exception, a data stream's rollover).
 */
export function countsBody(range: TimeRange, windowMs: number): Record<string, unknown> {
  checkWindow(windowMs);
  return { size: 0, query: rangeQuery(range), aggs: { w: { date_histogram: { field: '@timestamp', fixed_interval: `${windowMs}ms`, min_doc_count: 1 } } } };
}

/**
 * One page of distinct event ids: a `composite` aggregation on `event.id` (a terms source), `IDS_PAGE_SIZE` buckets
 * a page, the next page `after` the last key. Exact, unlike `cardinality`.
 */
export function idsBody(range: TimeRange, after?: string): Record<string, unknown> {
  const composite = { size: IDS_PAGE_SIZE, sources: [{ id: { terms: { field: 'event.id' } } }], ...(after === undefined ? {} : { after: { id: after } }) };
  return { size: 0, query: rangeQuery(range), aggs: { ids: { composite } } };
}

// ---- answers (pure) ----

/** Why a search answer cannot be used: `incomplete` (shards failed or timed out: may clear), `bad` (not the answer asked for). */
export class SearchAnswerError extends Error {
  readonly kind: 'incomplete' | 'bad';
  constructor(kind: 'incomplete' | 'bad', message: string) {
    super(message);
    this.name = 'SearchAnswerError';
    this.kind = kind;
  }
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The aggregation `name` of a complete search answer; throws `SearchAnswerError`. */
function aggregation(body: string, name: string): Record<string, unknown> {
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    throw new SearchAnswerError('bad', 'the answer is not JSON');
  }
  if (!isObject(json)) throw new SearchAnswerError('bad', 'the answer is not a JSON object');
  if (json.timed_out === true) throw new SearchAnswerError('incomplete', 'the search timed out: its results are partial');
  const shards = json._shards;
  if (isObject(shards) && typeof shards.failed === 'number' && shards.failed > 0) {
    const failure = Array.isArray(shards.failures) && isObject(shards.failures[0]) && isObject(shards.failures[0].reason) ? shards.failures[0].reason : undefined;
    const why = failure !== undefined && typeof failure.type === 'string' ? ` (${failure.type}${typeof failure.reason === 'string' ? `: ${failure.reason}` : ''})` : '';
    throw new SearchAnswerError('incomplete', `${shards.failed} shards failed${why}: the results would be partial`);
  }
  const agg = isObject(json.aggregations) ? json.aggregations[name] : undefined;
  if (!isObject(agg) || !Array.isArray(agg.buckets)) throw new SearchAnswerError('bad', `the answer has no aggregation ${name} with buckets`);
  return agg;
}

/** The windows of a counts answer: each bucket's `key` (window start, epoch milliseconds) and `doc_count`. */
export function parseCounts(body: string): Array<{ readonly key: number; readonly count: number }> {
  const agg = aggregation(body, 'w');
  return (agg.buckets as unknown[]).map((b) => {
    if (!isObject(b) || typeof b.key !== 'number' || !Number.isSafeInteger(b.key) || typeof b.doc_count !== 'number' || !Number.isSafeInteger(b.doc_count) || b.doc_count < 0) {
      throw new SearchAnswerError('bad', `a histogram bucket is not {key, doc_count}: ${JSON.stringify(b).slice(0, 120)}`);
    }
    return { key: b.key, count: b.doc_count };
  });
}

/**
 * One page of an ids answer: its ids, and the key to ask the next page `after` (undefined when this page is the
 * last: fewer buckets than asked for, or no `after_key`).
 */
export function parseIdsPage(body: string): { readonly ids: string[]; readonly after: string | undefined } {
  const agg = aggregation(body, 'ids');
  const ids = (agg.buckets as unknown[]).map((b) => {
    const id = isObject(b) && isObject(b.key) ? b.key.id : undefined;
    if (typeof id !== 'string') throw new SearchAnswerError('bad', `a composite bucket has no key.id string: ${JSON.stringify(b).slice(0, 120)}`);
    return id;
  });
  const afterKey = isObject(agg.after_key) ? agg.after_key.id : undefined;
  const after = ids.length < IDS_PAGE_SIZE || typeof afterKey !== 'string' ? undefined : afterKey;
  return { ids, after };
}

/** Windows from summed bucket counts, in time order, those of `range` only. */
export function windowCountsOf(counts: ReadonlyMap<number, number>, windowMs: number, range: TimeRange): WindowCount[] {
  const fromUs = toEpochMicros(range.from);
  const toUs = toEpochMicros(range.to);
  return [...counts.entries()]
    .filter(([key, count]) => count > 0 && BigInt(key) * 1000n >= fromUs && BigInt(key) * 1000n < toUs)
    .sort(([a], [b]) => a - b)
    .map(([key, count]) => ({ from: formatEpochMicros(BigInt(key) * 1000n), to: formatEpochMicros(BigInt(key + windowMs) * 1000n), count }));
}

// ---- the query (I/O through transport.ts) ----

function checkRange(range: TimeRange): void {
  if (!isCanonicalTime(range.from) || !isCanonicalTime(range.to)) throw new TypeError(`expected a range of canonical times, got ${JSON.stringify(range)}`);
}

/** The SinkQuery of an `elasticsearch` sink: searches with the sink's own URL, credentials and TLS. */
export function createElasticsearchQuery(name: string, config: ElasticsearchSinkConfig, context: ConnectorContext): SinkQuery {
  const { logger } = context;
  const keys = queryKeys(name);
  const transport = createElasticsearchTransport(config, {
    changed: (s) => {
      if (s.generation > 1) logger.info({ sink: name }, 'elasticsearch: TLS files changed; new queries use a new connection');
    },
    keptPrevious: (e) => logger.warn({ sink: name, reason: e.message }, 'elasticsearch: TLS files changed but cannot be used yet; keeping the previous ones'),
  });
  const url = config.url;

  /** One search: the answer's body, or undefined when the target does not exist (it holds nothing). */
  async function search(target: string, body: Record<string, unknown>, signal: AbortSignal): Promise<string | undefined> {
    let reply: HttpReply;
    try {
      reply = await transport.search(target, body, signal);
    } catch (error) {
      throw queryUnanswered(error, signal, url, keys);
    }
    const text = reply.text();
    if (reply.status !== 200) {
      if (queryRow(reply.status, text).action === 'empty') return undefined;
      throw queryStatusError(reply.status, text, url, keys, target);
    }
    if (reply.truncated) {
      throw new ForwarderError('FWD_SINK_PERMANENT', `Elasticsearch search at ${url}: the answer for ${target} is larger than the forwarder reads`, { stage: 'sink', disposition: 'permanent' });
    }
    return text;
  }

  function unusable(error: unknown, target: string): unknown {
    if (!(error instanceof SearchAnswerError)) return error;
    const io = error.kind === 'incomplete';
    return new ForwarderError(io ? 'FWD_SINK_IO' : 'FWD_SINK_PERMANENT', `Elasticsearch search at ${url} (${target}): ${error.message}${io ? '' : ': is url the cluster?'}`, {
      stage: 'sink',
      disposition: io ? 'retryable' : 'permanent',
      cause: error,
    });
  }

  return {
    async countByWindow(range, windowMs, scope, signal) {
      checkRange(range);
      checkWindow(windowMs);
      if (range.from >= range.to) return [];
      const counts = new Map<number, number>();
      for (const target of queryTargets(config, scope, range)) {
        for (const piece of splitRange(target.range, windowMs, MAX_WINDOWS_PER_SEARCH)) {
          const body = await search(target.name, countsBody(piece, windowMs), signal);
          if (body === undefined) break;
          let buckets;
          try {
            buckets = parseCounts(body);
          } catch (error) {
            throw unusable(error, target.name);
          }
          // Each event is in one target (its dataset's data stream, its period's index): counts of targets add up.
          for (const { key, count } of buckets) counts.set(key, (counts.get(key) ?? 0) + count);
        }
      }
      return windowCountsOf(counts, windowMs, range);
    },
    async eventIds(range, scope, signal) {
      checkRange(range);
      if (range.from >= range.to) return [];
      const ids = new Set<string>();
      for (const target of queryTargets(config, scope, range)) {
        let after: string | undefined;
        do {
          const body = await search(target.name, idsBody(target.range, after), signal);
          if (body === undefined) break;
          let page;
          try {
            page = parseIdsPage(body);
          } catch (error) {
            throw unusable(error, target.name);
          }
          for (const id of page.ids) ids.add(id);
          after = page.after;
        } while (after !== undefined);
      }
      return [...ids];
    },
    close: () => transport.close(),
  };
}
