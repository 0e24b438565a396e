// The runner: turns the configuration into lanes (route × sink), loads their checkpoints, runs and stops them.
import type { CheckpointLock, CheckpointStore, Checkpoint } from '../contracts/checkpoint-store.ts';
import { loadConnectors, type ConnectorRegistry } from '../contracts/connector.ts';
import type { Mapping } from '../contracts/mapping.ts';
import type { Sink } from '../contracts/sink.ts';
import type { Position, ReplayChunkReport, Source, TimeRange } from '../contracts/source.ts';
import type { ForwarderConfig, RouteConfig } from '../config/schema.ts';
import { createCommitWriter } from '../checkpoint/commit-writer.ts';
import { fingerprintOf } from '../checkpoint/file-store.ts';
import { createDeadLetterStore } from '../delivery/dead-letter.ts';
import type { Logger } from '../logging.ts';
import { Lane, type LaneResult } from './lane.ts';
import { heartbeatOf, ledgerDirectory, openRouteLedger, type RouteLedger } from '../ledger/route-ledger.ts';
import { createSelection } from './selection.ts';
import { addCounters, type LaneCounters } from './stats.ts';

export type RunMode = { readonly kind: 'live' } | { readonly kind: 'replay'; readonly range: TimeRange };

export interface RunOptions {
  readonly mode: RunMode;
  readonly dryRun?: boolean;
  readonly maxEventsPerSecond?: number;
}

export interface RunnerDeps {
  readonly registry: ConnectorRegistry;
  readonly mappings: ReadonlyMap<string, Mapping>;
  readonly store: CheckpointStore;
  readonly logger: Logger;
}

export interface LaneHandle {
  readonly route: string;
  /** The position the lane started from (its checkpoint). */
  readonly from: Position | undefined;
  readonly sink: string;
  readonly lane: Lane;
  readonly source: Source;
  readonly sinkInstance: Sink;
}

export interface PreparedRoute {
  readonly route: RouteConfig;
  /** Checkpoint key: `routes/<route>` live, `replays/<route>/<from>--<to>` for a replay. */
  readonly key: string;
  readonly lanes: readonly LaneHandle[];
  readonly finish: () => Promise<void>;
}

export interface LaneSummary {
  readonly route: string;
  readonly sink: string;
  readonly state: LaneResult['state'];
  readonly error?: string;
  readonly counters: LaneCounters;
  /** The source's own counters, when it keeps any. */
  readonly sourceStats?: Readonly<Record<string, number>>;
  /** For a replay whose source reports by chunk. */
  readonly replayReport?: readonly ReplayChunkReport[];
}

/** The checkpoint key of a route's live position or of one of its replays. */
export function checkpointKey(route: string, mode: RunMode): string {
  if (mode.kind === 'live') return `routes/${route}`;
  const slug = (t: string) => t.replace(/[-:]/g, '').replace(/\.\d+Z$/, (m) => (m === '.000000Z' ? 'Z' : m));
  return `replays/${route}/${slug(mode.range.from)}--${slug(mode.range.to)}`;
}

/** The fingerprint of a route's source, what a checkpoint must match to be resumed, and the earlier ones it may still carry. */
export interface SourceFingerprint {
  readonly fingerprint: string;
  /** Fingerprints of the source's identities in earlier releases (`Source.previousIdentities`): accepted too. */
  readonly accepted: readonly string[];
}

export function sourceFingerprint(config: ForwarderConfig, routeName: string, deps: Pick<RunnerDeps, 'registry' | 'logger'>): SourceFingerprint {
  const route = config.routes[routeName]!;
  const sourceConfig = config.sources[route.from]!;
  const connector = deps.registry.sources.get(sourceConfig.type)!;
  const probe = connector.create(route.from, sourceConfig, { logger: deps.logger, baseDir: config.baseDir });
  return {
    fingerprint: fingerprintOf({ source: probe.identity() }),
    accepted: (probe.previousIdentities?.() ?? []).map((identity) => fingerprintOf({ source: identity })),
  };
}

/**
 * Builds the lanes of one route, resuming each sink at its own committed position, and takes the route's
 * checkpoint lock until `finish` (a dry run takes none).
 * Throws the checkpoint store's errors (held by another process, corrupt checkpoint, changed source) before
 * anything runs.
 */
export async function prepareRoute(config: ForwarderConfig, routeName: string, options: RunOptions, deps: RunnerDeps): Promise<PreparedRoute> {
  if (config.routes[routeName] === undefined) throw new TypeError(`no route named ${routeName}`);
  await loadConnectors(deps.registry, config);
  const key = checkpointKey(routeName, options.mode);
  const { fingerprint, accepted } = sourceFingerprint(config, routeName, deps);
  // One process per checkpoint: a second `run` of this route (or `checkpoint reset`) is refused while this one
  // holds it. A dry run writes nothing and takes no lock.
  const lock = options.dryRun ? undefined : await deps.store.lock(key, { command: options.mode.kind === 'live' ? 'audit-forwarder run' : 'audit-forwarder replay' });
  try {
    return await prepareLocked(config, routeName, options, deps, key, { fingerprint, accepted }, lock);
  } catch (error) {
    await lock?.release();
    throw error;
  }
}

async function prepareLocked(
  config: ForwarderConfig,
  routeName: string,
  options: RunOptions,
  deps: RunnerDeps,
  key: string,
  { fingerprint, accepted }: SourceFingerprint,
  lock: CheckpointLock | undefined,
): Promise<PreparedRoute> {
  const route = config.routes[routeName]!;
  const sourceConfig = config.sources[route.from]!;
  const sourceConnector = deps.registry.sources.get(sourceConfig.type)!;
  const context = { logger: deps.logger, baseDir: config.baseDir };
  const checkpoint: Checkpoint | undefined = await deps.store.load(key, fingerprint, accepted);
  const deadLetters = createDeadLetterStore(config.deadLetter.directory, routeName);
  // The completeness ledger, for live runs: its entries are written before the checkpoint that drops their windows.
  const ledger: RouteLedger | undefined =
    config.ledger.enabled && options.mode.kind === 'live' && !options.dryRun
      ? await openRouteLedger(ledgerDirectory(config.checkpoints.directory), routeName, config.ledger, deps.logger.child({ route: routeName, ledger: true }))
      : undefined;
  const writer = createCommitWriter(deps.store, { key, fingerprint }, checkpoint, async () => {
    await deadLetters.flush();
    await ledger?.flush();
  });
  // A live route starting without a checkpoint from a point in time (`startAt: now`): that point is saved at
  // once, so that a restart before the first event goes on from it rather than from a later "now".
  let start: Position | undefined;
  if (checkpoint === undefined && options.mode.kind === 'live' && !options.dryRun) {
    const probe = sourceConnector.create(route.from, sourceConfig, context);
    try {
      start = probe.startPosition?.();
    } finally {
      await probe.close();
    }
    if (start !== undefined) {
      for (const sinkName of route.to) writer.commit(sinkName, start, 0);
      await writer.flush();
    }
  }
  const selection = createSelection(route.enabledEvents, route.disabledEvents);

  const lanes: LaneHandle[] = route.to.map((sinkName) => {
    const sinkConfig = config.sinks[sinkName]!;
    const sinkInstance = deps.registry.sinks.get(sinkConfig.type)!.create(sinkName, sinkConfig, { ...context, route: { name: routeName, mappingOptions: route.mappingOptions } });
    const source = sourceConnector.create(route.from, sourceConfig, context);
    const mapping = deps.mappings.get(sinkConfig.mapping);
    if (mapping === undefined) throw new TypeError(`sink ${sinkName}: no mapping ${sinkConfig.mapping}`);
    const lane = new Lane({
      route: routeName,
      sinkName,
      source,
      sink: sinkInstance,
      mapping,
      mappingOptions: route.mappingOptions,
      selection,
      batch: route.batch,
      maxInFlight: route.maxInFlight,
      retry: route.retry,
      deadLetters,
      commit: (position, records, ledgerState) => writer.commit(sinkName, position, records, ledgerState),
      ...(ledger !== undefined ? { ledger: { accountant: ledger.accountant(sinkName, checkpoint?.sinks[sinkName]?.ledger), closed: (entries) => ledger.closed(entries) } } : {}),
      from: checkpoint?.sinks[sinkName]?.position ?? start,
      ...(options.mode.kind === 'replay' ? { range: options.mode.range } : {}),
      ...(options.dryRun ? { dryRun: true } : {}),
      ...(options.maxEventsPerSecond !== undefined ? { maxEventsPerSecond: options.maxEventsPerSecond } : {}),
      logger: deps.logger.child({ route: routeName, sink: sinkName }),
    });
    deps.logger.info({ route: routeName, sink: sinkName, delivery: sinkInstance.strength.level, detail: sinkInstance.strength.detail }, `sink ${sinkName}: delivered means ${sinkInstance.strength.level}`);
    return { route: routeName, sink: sinkName, from: checkpoint?.sinks[sinkName]?.position ?? start, lane, source, sinkInstance };
  });

  // Heartbeats: each entry written is announced through its own sink. A quiet lane's windows close by the clock.
  let ticker: NodeJS.Timeout | undefined;
  let finishing = false;
  if (ledger !== undefined) {
    if (config.ledger.heartbeat) {
      ledger.onWritten((entry) => {
        // Not once the route is finishing: its sinks are about to close (the entry is in the ledger all the same).
        if (!finishing) lanes.find((l) => l.sink === entry.sink)?.lane.sendHeartbeat(heartbeatOf(entry));
      });
    }
    const every = Math.min(15_000, Math.max(200, Math.min(config.ledger.windowMs, config.ledger.latenessMs || config.ledger.windowMs) / 4));
    ticker = setInterval(() => {
      for (const l of lanes) l.lane.closeIdleWindows();
    }, every);
    ticker.unref?.();
  }

  return {
    route,
    key,
    lanes,
    finish: async () => {
      finishing = true;
      if (ticker !== undefined) clearInterval(ticker);
      const errors: unknown[] = [];
      const attempt = async (f: () => Promise<unknown>) => {
        try {
          await f();
        } catch (e) {
          errors.push(e);
        }
      };
      if (!options.dryRun) await attempt(() => writer.flush());
      await attempt(() => deadLetters.flush());
      if (ledger !== undefined) await attempt(() => ledger.close());
      for (const l of lanes) {
        await attempt(() => l.sinkInstance.close());
        await attempt(() => l.source.close());
      }
      // Last: the checkpoint is saved before another process may take the route.
      await attempt(async () => lock?.release());
      if (errors.length > 0) throw errors[0];
    },
  };
}

/** One lane as the health and metrics endpoints see it: every lane that ran, or runs, in this process. */
export interface LaneView {
  readonly route: string;
  readonly sink: string;
  /** `running`, or how its last run ended. */
  readonly state: LaneSummary['state'] | 'running';
  readonly error?: string;
  /** Counters since the process started: a route restarted by a reload adds up its runs. */
  readonly counters: LaneCounters;
  /** The running lane, for what only a running one has (batches in flight, progress, the source's stats). */
  readonly running?: LaneHandle;
  /** The source's counters: the running one's, else those it ended with. */
  readonly sourceStats?: Readonly<Record<string, number>>;
}

/**
 * Runs prepared routes until every lane has ended. Routes can be stopped and started while it runs (a
 * configuration reload); `run` resolves once no route runs and no reload holds it. `shutdown()` stops reading
 * everywhere and, after `shutdownTimeoutMs`, abandons sends still in flight (their records stay uncommitted).
 */
export class Runner {
  private readonly initial: readonly PreparedRoute[];
  private readonly active = new Map<string, { readonly prepared: PreparedRoute; readonly done: Promise<void> }>();
  /** Summaries of the lanes that ended, per `route → sink`; a route run again (reload) adds to its counters. */
  private readonly ended = new Map<string, LaneSummary>();
  private readonly logger: Logger;
  shutdownTimeoutMs: number;
  private holds = 0;
  private stopping = false;
  private started = false;
  private settle: (() => void) | undefined;
  private deadline: NodeJS.Timeout | undefined;

  constructor(routes: readonly PreparedRoute[], options: { shutdownTimeoutMs: number; logger: Logger }) {
    this.initial = routes;
    this.shutdownTimeoutMs = options.shutdownTimeoutMs;
    this.logger = options.logger;
  }

  /** The lanes of the routes running now. */
  get lanes(): LaneHandle[] {
    return [...this.active.values()].flatMap((a) => a.prepared.lanes);
  }

  /**
   * Every lane that ran or runs, with its counters so far: what `/metrics` and `/readyz` read. A route stopped
   * by a reload stays, ended, with the counters it had (so they never go back).
   */
  observe(): LaneView[] {
    const views = new Map<string, LaneView>();
    for (const [key, s] of this.ended) {
      views.set(key, { route: s.route, sink: s.sink, state: s.state, ...(s.error !== undefined ? { error: s.error } : {}), counters: s.counters, ...(s.sourceStats !== undefined ? { sourceStats: s.sourceStats } : {}) });
    }
    for (const l of this.lanes) {
      const key = `${l.route}\u0000${l.sink}`;
      const before = this.ended.get(key);
      const stats = l.source.stats?.();
      const failure = l.lane.failed;
      views.set(key, {
        route: l.route,
        sink: l.sink,
        state: l.lane.currentState,
        ...(failure !== undefined ? { error: failure } : {}),
        counters: before === undefined ? l.lane.counters : addCounters(before.counters, l.lane.counters),
        running: l,
        ...(stats !== undefined ? { sourceStats: addStats(before?.sourceStats, stats) } : {}),
      });
    }
    return [...views.values()];
  }

  /** Names of the routes running now. */
  get running(): string[] {
    return [...this.active.keys()];
  }

  /** True once `shutdown()` was called: no route may start any more. */
  get isStopping(): boolean {
    return this.stopping;
  }

  async run(): Promise<LaneSummary[]> {
    if (this.started) throw new TypeError('Runner.run() called twice');
    this.started = true;
    const ended = new Promise<void>((resolve) => (this.settle = resolve));
    for (const r of this.initial) this.start(r);
    this.checkEnded();
    await ended;
    if (this.deadline !== undefined) clearTimeout(this.deadline);
    return [...this.ended.values()];
  }

  /** Runs one more route (its name must not be running). Throws after `shutdown()`. */
  start(prepared: PreparedRoute): void {
    const name = prepared.route.name;
    if (this.stopping) throw new Error(`not starting route ${name}: the forwarder is stopping`);
    if (this.active.has(name)) throw new TypeError(`route ${name} is already running`);
    const done = this.runRoute(prepared).then((summaries) => {
      for (const s of summaries) this.record(s);
      this.active.delete(name);
      this.checkEnded();
    });
    this.active.set(name, { prepared, done });
  }

  /**
   * Stops one route as a shutdown would (reading stops, batches in flight are finished, abandoned after
   * `shutdownTimeoutMs`) and resolves once it has ended: its checkpoint saved and its lock released.
   */
  async stop(name: string): Promise<void> {
    const a = this.active.get(name);
    if (a === undefined) return;
    for (const l of a.prepared.lanes) l.lane.stop();
    const timer = setTimeout(() => {
      this.logger.warn({ route: name }, 'route stop deadline passed: abandoning batches still in flight (they will be sent again)');
      for (const l of a.prepared.lanes) l.lane.abort();
    }, this.shutdownTimeoutMs);
    timer.unref?.();
    await a.done;
    clearTimeout(timer);
  }

  /** Keeps `run` from resolving while no route runs (between stopping and starting routes); call the result to let go. */
  hold(): () => void {
    this.holds++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.holds--;
      this.checkEnded();
    };
  }

  shutdown(): void {
    if (this.stopping) return;
    this.stopping = true;
    this.logger.info({ deadlineMs: this.shutdownTimeoutMs }, 'stopping: no more reading; finishing batches in flight');
    for (const l of this.lanes) l.lane.stop();
    this.deadline = setTimeout(() => {
      this.logger.warn('shutdown deadline passed: abandoning batches still in flight (they will be sent again on restart)');
      this.abortAll();
    }, this.shutdownTimeoutMs);
    this.deadline.unref?.();
  }

  /** Abandons every send in flight now (a second signal). */
  abortAll(): void {
    for (const l of this.lanes) l.lane.abort();
  }

  private checkEnded(): void {
    if (this.started && this.active.size === 0 && this.holds === 0) this.settle?.();
  }

  private record(s: LaneSummary): void {
    const key = `${s.route}\u0000${s.sink}`;
    const before = this.ended.get(key);
    if (before === undefined) this.ended.set(key, s);
    else {
      const stats = s.sourceStats === undefined ? before.sourceStats : addStats(before.sourceStats, s.sourceStats);
      this.ended.set(key, { ...s, counters: addCounters(before.counters, s.counters), ...(stats !== undefined ? { sourceStats: stats } : {}) });
    }
  }

  private async runRoute(r: PreparedRoute): Promise<LaneSummary[]> {
    const ended = await Promise.all(
      r.lanes.map(async (l): Promise<LaneSummary> => {
        const res = await l.lane.run();
        // A bounded source read to its end: its last windows close now (by the clock), not at some later run.
        if (res.state === 'finished') l.lane.closeIdleWindows();
        const stats = l.source.stats?.();
        // Nothing committed in this run: the checkpoint is still where the run started.
        const report = l.source.replayReport?.(l.lane.committed ?? l.from);
        return {
          route: l.route,
          sink: l.sink,
          state: res.state,
          ...(res.error !== undefined ? { error: res.error } : {}),
          counters: res.counters,
          ...(stats !== undefined ? { sourceStats: stats } : {}),
          ...(report !== undefined ? { replayReport: report } : {}),
        };
      }),
    );
    try {
      await r.finish();
    } catch (e) {
      this.logger.error({ route: r.route.name, err: (e as Error).message }, 'route could not save its final state');
      return ended.map((s) => ({ ...s, state: 'failed' as const, error: s.error ?? `final checkpoint not saved: ${(e as Error).message}` }));
    }
    return ended;
  }
}

/** A source's counters over two runs of its lane (before and after a reload). */
function addStats(a: Readonly<Record<string, number>> | undefined, b: Readonly<Record<string, number>>): Readonly<Record<string, number>> {
  if (a === undefined) return b;
  const sum: Record<string, number> = { ...a };
  for (const [k, v] of Object.entries(b)) sum[k] = (sum[k] ?? 0) + v;
  return sum;
}
