// The Prometheus metrics of a running forwarder (`/metrics`), with prom-client. Every value is read from the
// lanes when scraped (prom-client's `collect`): the hot path counts in plain fields and never touches a metric.
import { collectDefaultMetrics, Counter, Gauge, Registry } from 'prom-client';
import type { RecordStatus } from '../contracts/outcome.ts';
import type { LaneView } from '../pipeline/runner.ts';
import { FORWARDER_VERSION } from '../version.ts';

export const METRIC_PREFIX = 'audit_forwarder_';
const STATUSES: readonly RecordStatus[] = ['delivered', 'skipped', 'rejected', 'dead_lettered'];
const LANE = ['route', 'sink'] as const;

/** What the metrics are read from on each scrape. */
export interface Observed {
  /** Every lane that ran or runs (`Runner.observe`). */
  lanes(): readonly LaneView[];
  /** 1 when `/readyz` would answer ready. */
  ready(): boolean;
  now?(): number;
}

/** Help text of the source counters (`Source.stats`) this build knows; others are exported with a generic one. */
const SOURCE_STATS_HELP: Readonly<Record<string, string>> = {
  late_events_total: 'Connect events delivered behind the cursor: visible only after their window had been read (they are still forwarded)',
  rows_read_total: 'events the Connect reader returned, re-reads included: the load put on Connect',
  unknown_types_total: 'Connect events of an event type this build does not know',
  unparsed_data_total: 'Connect events whose data is not JSON (kept, base64)',
  invalid_events_total: 'Connect events that do not decode (dead-lettered)',
  read_retries_total: 'Connect page reads retried after a retryable failure',
  window_splits_total: 'Connect windows narrowed because they were too large',
  window_cuts_total: 'Connect windows cut at the times already read',
  windows_read_total: 'Connect windows read to the end',
  redelivered_after_restart_total: 'Connect events read again after a restart (already sent once)',
  page_token_refusals_total: 'Connect page tokens the server refused (the window is read again)',
  files_opened_total: 'audit files opened',
  rotations_total: 'audit file rotations followed',
  truncations_total: 'audit files truncated in place (read again from their start)',
  rotated_generations_read_total: 'rotated (renamed or compressed) audit file generations read',
  lines_too_long_total: 'audit file lines longer than maxLineBytes (dead-lettered)',
};

const laneLabels = (v: LaneView) => ({ route: v.route, sink: v.sink });
const seconds = (ms: number) => Math.max(0, ms) / 1000;

/**
 * A registry of its own (not prom-client's global one), so two forwarders in one process (tests) do not mix.
 * Names and labels are documented in docs/operations.md#metrics; a test scrapes a running daemon for each.
 */
export function createMetrics(observed: Observed): Registry {
  const registry = new Registry();
  const now = () => (observed.now ?? Date.now)();
  let views: readonly LaneView[] = [];
  // One read of the lanes per scrape: the first metric collected takes it, the others use it.
  const lanes = (): readonly LaneView[] => views;

  /** A counter (or gauge) whose values are set from the lanes on each scrape. */
  function perLane<L extends string>(
    kind: 'counter' | 'gauge',
    name: string,
    help: string,
    labelNames: readonly L[],
    values: (v: LaneView) => ReadonlyArray<readonly [Record<L, string>, number]> | undefined,
  ): void {
    const set = (metric: { reset(): void }, put: (labels: Record<string, string>, value: number) => void) => {
      metric.reset();
      for (const v of lanes()) for (const [labels, value] of values(v) ?? []) put({ ...laneLabels(v), ...labels }, value);
    };
    if (kind === 'counter') {
      new Counter({
        name: METRIC_PREFIX + name,
        help,
        labelNames: [...LANE, ...labelNames],
        registers: [registry],
        collect() {
          set(this, (labels, value) => this.inc(labels as never, value));
        },
      });
    } else {
      new Gauge({
        name: METRIC_PREFIX + name,
        help,
        labelNames: [...LANE, ...labelNames],
        registers: [registry],
        collect() {
          set(this, (labels, value) => this.set(labels as never, value));
        },
      });
    }
  }
  const one = (value: number | undefined): ReadonlyArray<readonly [Record<never, string>, number]> | undefined => (value === undefined ? undefined : [[{}, value]]);
  const byKey = <L extends string>(label: L, m: ReadonlyMap<string, number>) => [...m].map(([k, n]) => [{ [label]: k } as Record<L, string>, n] as const);

  // Taken first on each scrape (registration order is collection order).
  new Gauge({
    name: `${METRIC_PREFIX}up`,
    help: 'always 1 while the forwarder serves /metrics; with the labels of its build',
    labelNames: ['version', 'node_version'],
    registers: [registry],
    collect() {
      views = observed.lanes();
      this.reset();
      this.set({ version: FORWARDER_VERSION, node_version: process.versions.node }, 1);
    },
  });
  new Gauge({
    name: `${METRIC_PREFIX}ready`,
    help: '1 when /readyz answers ready (every route running, none stuck), else 0',
    registers: [registry],
    collect() {
      this.set(observed.ready() ? 1 : 0);
    },
  });

  perLane('counter', 'events_read_total', 'records read from the source by the lane (route × sink)', [], (v) => one(v.counters.read));
  perLane('counter', 'events_total', 'records that ended, by status: read = sum over status + events_in_flight', ['status'], (v) =>
    STATUSES.map((status) => [{ status }, v.counters[status]] as const),
  );
  perLane('gauge', 'events_in_flight', 'records read and not ended yet (in an open or in-flight batch): uncommitted', [], (v) => one(v.counters.inFlight));
  perLane('counter', 'retries_total', 'sends of a batch (or part of one) again, by reason: unanswered, status, throttled, acknowledgement, item, other', ['reason'], (v) =>
    byKey('reason', v.counters.retriesByKind),
  );
  perLane('counter', 'source_retries_total', 'reads of the source again after a retryable failure, by error code', ['code'], (v) => byKey('code', v.counters.sourceRetriesByCode));
  perLane('counter', 'read_bytes_total', 'bytes of the records read from the source', [], (v) => one(v.counters.bytesRead));
  perLane('counter', 'sent_bytes_total', 'bytes of the encoded records delivered (before compression and framing)', [], (v) => one(v.counters.bytesDelivered));
  perLane('gauge', 'batches_in_flight', 'batches being sent now', [], (v) => one(v.running?.lane.batchesInFlight ?? 0));
  perLane('gauge', 'pending_acknowledgements', 'requests sent and awaiting the destination acknowledgement (HEC indexer acks, RELP)', [], (v) =>
    one(v.running?.sinkInstance.pendingAcknowledgements?.()),
  );
  perLane('gauge', 'lag_seconds', 'now minus the time of the newest event delivered (absent before the first)', [], (v) => {
    const t = v.counters.newestDelivered;
    return t === undefined ? undefined : one(seconds(now() - Date.parse(t)));
  });
  perLane('gauge', 'checkpoint_age_seconds', 'seconds since the lane last committed a position (or started), while running', [], (v) =>
    one(v.running === undefined ? undefined : seconds(now() - v.running.lane.committedAt)),
  );
  perLane('gauge', 'source_failing_seconds', 'seconds the source has been failing and retried (0 while it reads)', [], (v) => {
    const since = v.running?.lane.sourceFailingSince;
    return one(v.running === undefined ? undefined : since === undefined ? 0 : seconds(now() - since));
  });
  perLane('gauge', 'lane_state', '1 for the state the lane is in: running, finished, stopped, failed', ['state'], (v) =>
    (['running', 'finished', 'stopped', 'failed'] as const).map((state) => [{ state }, v.state === state ? 1 : 0] as const),
  );
  perLane('gauge', 'file_unread_bytes', 'bytes of a tailed file not read yet (audit-files, jsonl)', ['file'], (v) =>
    v.running?.source.unread?.().map((u) => [{ file: u.file }, u.bytes] as const),
  );
  for (const [stat, help] of Object.entries(SOURCE_STATS_HELP)) {
    perLane('counter', `source_${stat}`, help, [], (v) => one(v.sourceStats?.[stat]));
  }
  collectDefaultMetrics({ register: registry, prefix: METRIC_PREFIX });
  return registry;
}
