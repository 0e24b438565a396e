// The mapping contract: a pure, total function from the canonical event to one output format.
import type { AuditEvent } from '../model/audit-event.ts';

export type MapResult<T = unknown> =
  | { readonly kind: 'mapped'; readonly value: T }
  | { readonly kind: 'skipped'; readonly reason: string }
  | { readonly kind: 'invalid'; readonly reason: string; readonly path: string };

/** Per-route settings a mapping may use (e.g. a sourcetype override). Plain data. */
export type MappingOptions = Readonly<Record<string, string | number | boolean | undefined>>;

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
  /**
   * Rules: pure and total. Same input, same output; no clock, no randomness, no I/O; never throws.
   * A fact that is missing is never invented: return `invalid` with the offending path instead.
   */
  map(event: AuditEvent, options: MappingOptions): MapResult<T>;
}
