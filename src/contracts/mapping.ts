// The mapping contract: a pure, total function from the canonical event to one output format.
import type { AuditEvent } from '../model/audit-event.ts';

export type MapResult<T = unknown> =
  | { readonly kind: 'mapped'; readonly value: T }
  | { readonly kind: 'skipped'; readonly reason: string }
  | { readonly kind: 'invalid'; readonly reason: string; readonly path: string };

/**
 * Plain data a mapping may use: the route's `mappingOptions` (e.g. a Splunk sourcetype override) and, set by
 * the engine for every call, `observedTime` — when the forwarder read the record, RFC 3339 UTC with six
 * fraction digits — so that a mapping never reads the clock.
 */
export type MappingOptions = Readonly<Record<string, string | undefined>> & { readonly observedTime?: string };

export interface Mapping<T = unknown> {
  /** Registry name, used in configuration (`mapping: canonical`). */
  readonly name: string;
  /** Version of the mapping rules; travels with each record where the format allows. */
  readonly version: string;
  /**
   * How a mapped value becomes one record's bytes: `json` values are serialised with JSON.stringify
   * (one line, no raw line break possible); `text` values are strings already, one line each.
   */
  readonly encoding: 'json' | 'text';
  /** Keys of the route's `mappingOptions` this mapping reads (anything else is a configuration error). */
  readonly options: readonly string[];
  /**
   * Rules: pure and total. Same input, same output; no clock, no randomness, no I/O; never throws.
   * A fact that is missing is never invented: return `invalid` with the offending path instead.
   */
  map(event: AuditEvent, options: MappingOptions): MapResult<T>;
}
