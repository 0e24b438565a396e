// The mapping contract: a pure, total function from the canonical event to one output format.
import type { AuditEvent } from '../model/audit-event.ts';
import type { LedgerEntry, LedgerEntryInput } from '../ledger/entry.ts';

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
  /**
   * Optional: the heartbeat record of one closed ledger window (see src/ledger/ and docs/completeness.md) in this
   * mapping's format, kept apart from audit events at the destination (its own sourcetype, data stream, CEF
   * class or event name), so that a SIEM alert can watch the forwarder and a count of audit events never
   * includes it. Pure and total like `map`.
   */
  heartbeat?(summary: HeartbeatSummary, options: MappingOptions): MapResult<T>;
}

/**
 * What a heartbeat says: one closed window of one route × sink, as its ledger entry records it (window, part, late,
 * counts, digest, `closedAt` — the heartbeat's own time — and the entry's `seq` and `hash`, the chain an auditor
 * verifies), and the forwarder that wrote it.
 */
export interface HeartbeatSummary extends LedgerEntryInput, Pick<LedgerEntry, 'seq' | 'hash'> {
  /** The forwarder that wrote it: its version and host name. */
  readonly forwarder: { readonly version: string; readonly host: string };
}
