// Readiness: is every route of the configuration forwarding? What `/readyz` answers, as a pure function of the lanes.
import type { LaneView } from '../pipeline/runner.ts';

export interface LaneReadiness {
  readonly route: string;
  readonly sink: string;
  readonly state: LaneView['state'];
  readonly ready: boolean;
  /** Why not, in words, when not ready. */
  readonly reason?: string;
  /** Records read and not ended yet. */
  readonly pending: number;
  /** Seconds since the lane last committed (or started), while running. */
  readonly checkpointAgeSeconds?: number;
}

export interface Readiness {
  readonly ready: boolean;
  /** Set when the whole forwarder is not ready (starting, stopping) or a configured route has no lane. */
  readonly reason?: string;
  readonly lanes: readonly LaneReadiness[];
}

export interface ReadinessInput {
  /** The routes of the configuration in force. */
  readonly routes: readonly string[];
  readonly lanes: readonly LaneView[];
  /** A lane with records pending that has not committed for this long is stuck; so is a source failing this long. */
  readonly stuckAfterMs: number;
  readonly phase: 'starting' | 'running' | 'stopping';
  readonly now: number;
}

const secs = (ms: number) => Math.round(ms / 100) / 10;

/**
 * Rules:
 * - not ready while starting (routes being prepared) or stopping (a signal was received);
 * - every route of the configuration must have its lanes running: a failed lane, or a route that is not
 *   running (it failed and a reload has not restarted it), is not ready;
 * - a running lane is stuck, so not ready, when records are pending (read, not ended) and it has not committed
 *   for `stuckAfterMs`, or when its source has been failing (and retried) for `stuckAfterMs`;
 * - a lane of a route no longer in the configuration (removed by a reload) does not count.
 */
export function readiness(input: ReadinessInput): Readiness {
  const configured = new Set(input.routes);
  const lanes: LaneReadiness[] = [];
  for (const v of input.lanes) {
    if (!configured.has(v.route)) continue;
    const pending = v.counters.inFlight;
    if (v.running === undefined || v.state !== 'running') {
      const reason = v.state === 'failed' ? `failed: ${(v.error ?? 'unknown error').split('\n', 1)[0]}` : `not running (${v.state})`;
      lanes.push({ route: v.route, sink: v.sink, state: v.state, ready: false, reason, pending });
      continue;
    }
    const lane = v.running.lane;
    const age = input.now - lane.committedAt;
    const failing = lane.sourceFailingSince === undefined ? 0 : input.now - lane.sourceFailingSince;
    let reason: string | undefined;
    if (pending > 0 && age >= input.stuckAfterMs) reason = `stuck: ${pending} records pending and nothing committed for ${secs(age)} s`;
    else if (failing >= input.stuckAfterMs) reason = `stuck: the source has been failing for ${secs(failing)} s`;
    lanes.push({ route: v.route, sink: v.sink, state: v.state, ready: reason === undefined, ...(reason !== undefined ? { reason } : {}), pending, checkpointAgeSeconds: secs(age) });
  }
  const withLanes = new Set(lanes.filter((l) => l.state === 'running').map((l) => l.route));
  const missing = input.routes.filter((r) => !withLanes.has(r));
  let reason: string | undefined;
  if (input.phase !== 'running') reason = input.phase;
  else if (missing.length > 0) reason = `not running: route ${missing.join(', ')}`;
  const ready = reason === undefined && lanes.every((l) => l.ready);
  return { ready, ...(reason !== undefined ? { reason } : {}), lanes };
}
