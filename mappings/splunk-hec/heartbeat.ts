// The `splunk-hec` heartbeat: one HEC envelope per closed ledger window, under its own sourcetype so that no count of audit events includes it.
import type { HeartbeatSummary, MapResult, MappingOptions } from '../../src/contracts/mapping.ts';
import { FORWARDER_PRODUCT, heartbeatProblem } from '../common/heartbeat.ts';
import { beforeEpoch, epochSeconds } from '../common/time.ts';

/** The sourcetype of every heartbeat: never one of the audit sourcetypes, whatever the route's `sourcetype` option says. */
export const HEARTBEAT_SOURCETYPE = 'audit_forwarder:heartbeat';
/** The source of every heartbeat: the forwarder itself (the route's `source` option names the audit events' source). */
export const HEARTBEAT_SOURCE = FORWARDER_PRODUCT;

/**
 * Indexed fields of a heartbeat: flat strings (HEC rejects nested values and may drop numbers), so that `tstats`
 * finds the last heartbeat of each route × sink. Never `event_id`: the reconciliation search counts audit events by
 * `event_id=*`. Their names differ from every key of the body (which nests the summary under `heartbeat`), so a
 * search never shows a field twice.
 */
export interface SplunkHecHeartbeatFields {
  route: string;
  sink: string;
  window_from: string;
  window_to: string;
  ledger_seq: string;
  late: string;
}

/** The heartbeat summary in snake_case (`closedAt` → `closed_at`), as the ledger entry has it. */
export interface SplunkHecHeartbeatSummary {
  route: string;
  sink: string;
  window: { from: string; to: string };
  part: number;
  late: boolean;
  counts: { read: number; selected: number; delivered: number; skipped: number; rejected: number; dead_lettered: number };
  digest: string;
  seq: number;
  hash: string;
  closed_at: string;
  forwarder: { version: string; host: string };
}

export interface SplunkHecHeartbeatBody {
  heartbeat: SplunkHecHeartbeatSummary;
  mapping: { name: string; version: string };
}

export interface SplunkHecHeartbeatEnvelope {
  /** `closedAt` as epoch seconds with six decimals (microseconds), like the audit envelope's `time`. */
  time: number;
  host?: string;
  source: string;
  sourcetype: string;
  index?: string;
  fields: SplunkHecHeartbeatFields;
  event: SplunkHecHeartbeatBody;
}

/** A route option, or undefined when it is absent or empty (as the audit mapping reads it). */
function option(options: MappingOptions, key: string): string | undefined {
  const v = options[key];
  return typeof v === 'string' && v !== '' ? v : undefined;
}

/** The heartbeat envelope; `mapping` is the stamp of the `splunk-hec` mapping (name and version). Pure and total. */
export function splunkHecHeartbeat(
  summary: HeartbeatSummary,
  options: MappingOptions,
  mapping: { readonly name: string; readonly version: string },
): MapResult<SplunkHecHeartbeatEnvelope> {
  const problem = heartbeatProblem(summary);
  if (problem !== undefined) return { kind: 'invalid', reason: problem.reason, path: problem.path };
  if (beforeEpoch(summary.closedAt)) return { kind: 'invalid', reason: `HEC time is epoch seconds and cannot be before 1970, got ${summary.closedAt}`, path: 'closedAt' };

  const { route, sink, window, counts, forwarder } = summary;
  const envelope: SplunkHecHeartbeatEnvelope = {
    time: epochSeconds(summary.closedAt),
    host: option(options, 'host'),
    source: HEARTBEAT_SOURCE,
    sourcetype: HEARTBEAT_SOURCETYPE,
    index: option(options, 'index'),
    fields: {
      route,
      sink,
      window_from: window.from,
      window_to: window.to,
      ledger_seq: String(summary.seq),
      late: String(summary.late),
    },
    event: {
      heartbeat: {
        route,
        sink,
        window: { from: window.from, to: window.to },
        part: summary.part,
        late: summary.late,
        counts: {
          read: counts.read,
          selected: counts.selected,
          delivered: counts.delivered,
          skipped: counts.skipped,
          rejected: counts.rejected,
          dead_lettered: counts.dead_lettered,
        },
        digest: summary.digest,
        seq: summary.seq,
        hash: summary.hash,
        closed_at: summary.closedAt,
        forwarder: { version: forwarder.version, host: forwarder.host },
      },
      mapping: { name: mapping.name, version: mapping.version },
    },
  };
  return { kind: 'mapped', value: envelope };
}
