// The optional query capability of a sink connector: what `reconcile --against siem` asks a destination.
import type { TimeRange } from './source.ts';

/** One window of event time and the distinct event ids the destination holds in it. */
export interface WindowCount {
  /** Start of the window, inclusive: canonical RFC 3339 UTC with six fraction digits (model/time.ts). */
  readonly from: string;
  /** End of the window, exclusive, same form. */
  readonly to: string;
  /** Distinct event ids held with an event time in [from, to): re-sends of one event count once. */
  readonly count: number;
}

/** What a route's records look like at the destination, so a query finds them and nothing else. */
export interface SinkQueryScope {
  /** The route's `mappingOptions` (Splunk `index` and `sourcetype`, the Elasticsearch target …). */
  readonly mappingOptions: Readonly<Record<string, string>>;
  /** The origin kind of the route's source (`cofide-connect`, `ibm-cadf`, or `mixed`), for per-origin defaults. */
  readonly origin: 'cofide-connect' | 'ibm-cadf' | 'mixed';
}

/**
 * Rules:
 * - Read-only: never writes to the destination.
 * - Windows are aligned on multiples of `windowMs` since the Unix epoch, in UTC; `range.from` and `range.to` are
 *   aligned by the caller. Only windows holding at least one event are returned, in time order.
 * - Event time is the time the mapping gave the destination (HEC `time`, ECS `@timestamp`), which is the
 *   event's own time; an event is counted once however many copies the destination holds.
 * - Rejects with a `ForwarderError` (`FWD_SINK_*`, `FWD_NET_*`) naming what failed (unreachable, 401/403, a query
 *   the destination refused); retries nothing itself.
 */
export interface SinkQuery {
  /** Distinct event ids per window of `windowMs` over `range`. */
  countByWindow(range: TimeRange, windowMs: number, scope: SinkQueryScope, signal: AbortSignal): Promise<WindowCount[]>;
  /** The distinct event ids held over `range` (a window, usually, whose count differs). */
  eventIds(range: TimeRange, scope: SinkQueryScope, signal: AbortSignal): Promise<string[]>;
  /** Releases connections. Idempotent. */
  close(): Promise<void>;
}
