// The live forwarder: every route of the configuration running, and reloads (SIGHUP) that restart only what changed.
import type { ForwarderConfig } from '../config/schema.ts';
import type { CheckpointStore } from '../contracts/checkpoint-store.ts';
import { isForwarderError } from '../contracts/errors.ts';
import type { Logger } from '../logging.ts';
import { planReload } from './reload.ts';
import { readiness, type Readiness } from '../observe/health.ts';
import { Runner, prepareRoute, type LaneSummary, type LaneView, type RunnerDeps } from './runner.ts';

export interface DaemonOptions {
  readonly config: ForwarderConfig;
  readonly deps: RunnerDeps;
  readonly logger: Logger;
  /** Reads and validates the configuration file again; throws `FWD_CONFIG_*` when it is not valid. */
  readonly load: () => Promise<ForwarderConfig>;
  /** The checkpoint store of a checkpoint directory (a reload may move it). */
  readonly storeFor: (directory: string) => CheckpointStore;
  /** The log level was set on the command line (`--log-level`): a reload does not change it. */
  readonly keepLogLevel?: boolean;
}

/** What one reload did, per route. */
export interface ReloadReport {
  readonly applied: boolean;
  /** Why the new configuration was refused (it is not valid); the previous one goes on. */
  readonly refused?: string;
  readonly started: readonly string[];
  readonly restarted: readonly string[];
  readonly stopped: readonly string[];
  readonly kept: readonly string[];
  /** Routes of the new configuration that could not start, and why (the previous settings run where they still can). */
  readonly failed: ReadonlyArray<{ readonly route: string; readonly error: string }>;
}

const message = (e: unknown): string => (e instanceof Error ? e.message : String(e));

/**
 * Rules:
 * - `create` prepares every route (checkpoints loaded, locks taken) and throws as start-up should (a refused
 *   checkpoint, a route held by another process) before anything runs.
 * - `reload` re-reads the configuration. Not valid: it is logged and nothing changes. Valid: routes whose
 *   settings changed, and routes gone, are drained (batches in flight finished, their positions committed)
 *   and stopped; then the changed and new ones start from their checkpoints, so nothing committed is lost or
 *   sent again. Unchanged routes are not touched. A changed route that cannot start on its new settings starts
 *   again on its previous ones, and the error is reported. Reloads run one after the other.
 */
export class Daemon {
  private readonly options: DaemonOptions;
  private readonly runner: Runner;
  /** The configuration each route was last started from. */
  private readonly from = new Map<string, ForwarderConfig>();
  private deps: RunnerDeps;
  private config: ForwarderConfig;
  private reloading: Promise<ReloadReport> = Promise.resolve({ applied: true, started: [], restarted: [], stopped: [], kept: [], failed: [] });

  private constructor(options: DaemonOptions, runner: Runner) {
    this.options = options;
    this.runner = runner;
    this.deps = options.deps;
    this.config = options.config;
    for (const name of Object.keys(options.config.routes)) this.from.set(name, options.config);
  }

  static async create(options: DaemonOptions): Promise<Daemon> {
    const routes = [];
    try {
      for (const name of Object.keys(options.config.routes)) routes.push(await prepareRoute(options.config, name, { mode: { kind: 'live' } }, options.deps));
    } catch (error) {
      // Routes prepared before the one that failed give their locks back.
      await Promise.allSettled(routes.map((r) => r.finish()));
      throw error;
    }
    return new Daemon(options, new Runner(routes, { shutdownTimeoutMs: options.config.shutdownTimeoutMs, logger: options.logger }));
  }

  get lanes() {
    return this.runner.lanes;
  }

  /** Every lane that ran or runs, with its counters so far (for /metrics). */
  observe(): LaneView[] {
    return this.runner.observe();
  }

  /** What /readyz answers now (see observe/health.ts). */
  readiness(now: number = Date.now()): Readiness {
    const phase = this.runner.isStopping ? 'stopping' : this.running ? 'running' : 'starting';
    return readiness({ routes: Object.keys(this.config.routes), lanes: this.runner.observe(), stuckAfterMs: this.config.server.stuckAfterMs, phase, now });
  }

  private running = false;

  /** Runs until every route has ended (bounded sources) or `shutdown`; the summary of every lane that ran. */
  run(): Promise<LaneSummary[]> {
    const ran = this.runner.run();
    this.running = true;
    return ran;
  }

  shutdown(): void {
    this.runner.shutdown();
  }

  abortAll(): void {
    this.runner.abortAll();
  }

  /** Reloads the configuration (after the reloads asked for before have ended). */
  reload(): Promise<ReloadReport> {
    this.reloading = this.reloading.then(() => this.reloadNow());
    return this.reloading;
  }

  /** The engine's dependencies for routes of `config`: the checkpoint store of its checkpoint directory. */
  private depsFor(config: ForwarderConfig): RunnerDeps {
    return config.checkpoints.directory === this.config.checkpoints.directory ? this.deps : { ...this.deps, store: this.options.storeFor(config.checkpoints.directory) };
  }

  private async reloadNow(): Promise<ReloadReport> {
    const { logger } = this.options;
    const none = { started: [], restarted: [], stopped: [], kept: [], failed: [] };
    if (this.runner.isStopping) return { applied: false, refused: 'the forwarder is stopping', ...none };
    let next: ForwarderConfig;
    try {
      next = await this.options.load();
    } catch (error) {
      const refused = message(error);
      logger.error({ err: refused }, 'configuration reload refused; still running on the previous configuration');
      return { applied: false, refused, ...none };
    }
    if (!this.options.keepLogLevel) logger.level = next.logging.level;
    if (next.server.listen !== this.config.server.listen) {
      logger.warn({ listen: this.config.server.listen ?? null, configured: next.server.listen ?? null }, 'server.listen changed: it takes effect at the next start');
    }
    this.runner.shutdownTimeoutMs = next.shutdownTimeoutMs;
    const nextDeps = this.depsFor(next);
    const running = new Map([...this.from].filter(([name]) => this.runner.running.includes(name)));
    const plan = planReload(running, next);
    const release = this.runner.hold();
    const failed: Array<{ route: string; error: string }> = [];
    try {
      await Promise.all([...plan.stop, ...plan.restart].map((name) => this.runner.stop(name)));
      for (const name of plan.stop) this.from.delete(name);
      for (const name of [...plan.restart, ...plan.start]) {
        if (this.runner.isStopping) break;
        try {
          this.runner.start(await prepareRoute(next, name, { mode: { kind: 'live' } }, nextDeps));
          this.from.set(name, next);
        } catch (error) {
          const reason = isForwarderError(error) ? error.message : message(error);
          failed.push({ route: name, error: reason });
          const previous = this.from.get(name);
          if (previous === undefined || this.runner.isStopping) {
            logger.error({ route: name, err: reason }, 'route not started by the reload; a later reload will try again');
            continue;
          }
          // Back on the settings it ran with: the route keeps forwarding while the operator fixes the new ones.
          try {
            this.runner.start(await prepareRoute(previous, name, { mode: { kind: 'live' } }, this.depsFor(previous)));
            logger.error({ route: name, err: reason }, 'route could not start on its new settings; running again on its previous ones');
          } catch (again) {
            logger.error({ route: name, err: reason, previousErr: message(again) }, 'route could not start on its new settings nor on its previous ones; a later reload will try again');
          }
        }
      }
    } finally {
      release();
    }
    for (const name of [...this.from.keys()]) if (next.routes[name] === undefined) this.from.delete(name);
    this.config = next;
    this.deps = nextDeps;
    const report: ReloadReport = { applied: true, started: plan.start, restarted: plan.restart, stopped: plan.stop, kept: plan.keep, failed };
    logger.info({ started: plan.start, restarted: plan.restart, stopped: plan.stop, kept: plan.keep, failed: failed.map((f) => f.route) }, 'configuration reloaded');
    return report;
  }
}
