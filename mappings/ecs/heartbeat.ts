// The `ecs` heartbeat: one ECS 9.x metric document per closed ledger window, in its own data stream (`logs-audit_forwarder.heartbeat-<namespace>`).
import type { HeartbeatSummary, MapResult, MappingOptions } from '../../src/contracts/mapping.ts';
import { FORWARDER_PRODUCT, heartbeatId, heartbeatMessage, heartbeatProblem } from '../common/heartbeat.ts';

/**
 * `event.dataset` of every heartbeat, whatever the route's `ecsDataset` says (that option names the audit events'
 * data stream): the Elasticsearch sink derives the data stream from it, so heartbeats never land among audit events.
 */
export const HEARTBEAT_DATASET = 'audit_forwarder.heartbeat';
export const HEARTBEAT_MODULE = 'audit_forwarder';

/**
 * The heartbeat document. ECS fields, plus the custom object `audit_forwarder.*` (no ECS field set of that name;
 * a test checks that no field name here collides with an ECS field of another type).
 */
export interface EcsHeartbeatDocument {
  readonly '@timestamp': string;
  readonly ecs: { readonly version: string };
  readonly event: {
    readonly kind: 'metric';
    readonly id: string;
    readonly dataset: string;
    readonly module: string;
    readonly start: string;
    readonly end: string;
  };
  readonly message: string;
  readonly observer: { readonly product: string; readonly type: 'forwarder'; readonly version: string; readonly hostname: string };
  readonly agent: { readonly type: string };
  readonly labels: { readonly mapping_version: string };
  readonly audit_forwarder: {
    readonly route: string;
    readonly sink: string;
    readonly ledger: {
      readonly seq: number;
      readonly hash: string;
      readonly digest: string;
      readonly part: number;
      readonly late: boolean;
      readonly counts: {
        readonly read: number;
        readonly selected: number;
        readonly delivered: number;
        readonly skipped: number;
        readonly rejected: number;
        readonly dead_lettered: number;
      };
    };
  };
}

/**
 * The heartbeat document; `versions` are the ECS release (`ecs.version`) and the `ecs` mapping's version
 * (`labels.mapping_version`). No route option changes it. Pure and total.
 */
export function ecsHeartbeat(
  summary: HeartbeatSummary,
  _options: MappingOptions,
  versions: { readonly ecs: string; readonly mapping: string },
): MapResult<EcsHeartbeatDocument> {
  const problem = heartbeatProblem(summary);
  if (problem !== undefined) return { kind: 'invalid', reason: problem.reason, path: problem.path };
  const { counts } = summary;
  const doc: EcsHeartbeatDocument = {
    '@timestamp': summary.closedAt,
    ecs: { version: versions.ecs },
    event: {
      kind: 'metric',
      id: heartbeatId(summary),
      dataset: HEARTBEAT_DATASET,
      module: HEARTBEAT_MODULE,
      start: summary.window.from,
      end: summary.window.to,
    },
    message: heartbeatMessage(summary),
    observer: { product: FORWARDER_PRODUCT, type: 'forwarder', version: summary.forwarder.version, hostname: summary.forwarder.host },
    agent: { type: FORWARDER_PRODUCT },
    labels: { mapping_version: versions.mapping },
    audit_forwarder: {
      route: summary.route,
      sink: summary.sink,
      ledger: {
        seq: summary.seq,
        hash: summary.hash,
        digest: summary.digest,
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
      },
    },
  };
  return { kind: 'mapped', value: doc };
}
