// `audit-forwarder run`: runs every route until they end or SIGTERM/SIGINT, reloads on SIGHUP, then stops cleanly.
import type { Command } from 'commander';
import { createFileCheckpointStore } from '../checkpoint/file-store.ts';
import { Daemon } from '../pipeline/daemon.ts';
import type { LaneSummary } from '../pipeline/runner.ts';
import { createMetrics } from '../observe/metrics.ts';
import { startOpsServer, type OpsServer } from '../observe/server.ts';
import { loadContext, logLevelFromCli, readConfig } from './context.ts';
import { EXIT } from './exit-codes.ts';
import { laneSummaryFields, laneSummaryLine } from './summary.ts';

/** The first line of how the run ended: which routes failed and why, or that it stopped or ran out of input. */
export function headline(summary: readonly LaneSummary[], signalled: boolean): string {
  const failed = summary.filter((s) => s.state === 'failed');
  if (failed.length === 0) return signalled ? 'stopped' : 'all sources ended';
  const why = failed.map((s) => `route ${s.route} → ${s.sink} failed: ${(s.error ?? 'unknown error').split('\n', 1)[0]}`);
  return why.join('; ');
}

export function registerRun(program: Command): void {
  program
    .command('run')
    .description('forward events on every route until stopped (SIGTERM/SIGINT) or until all sources end; SIGHUP reloads the configuration')
    .requiredOption('-c, --config <file>', 'configuration file (YAML)')
    .addHelpText(
      'after',
      `
On SIGTERM or SIGINT: reading stops, batches in flight are finished (or abandoned after shutdownTimeout),
what was delivered is committed, and the process exits 0. A second signal abandons in-flight batches at once.

On SIGHUP: the configuration file is read again. If it is not valid, the error is logged and the forwarder
goes on with the previous one. If it is, the routes it changes or removes are drained (their positions
committed) and restarted or stopped, new routes start, and unchanged routes are not touched.

Only one process may run a route: a second one exits 2, naming the process that holds it.

Example:
  $ audit-forwarder run -c /etc/audit-forwarder/config.yaml`,
    )
    .action(async (opts: { config: string }) => {
      const { config, deps, logger } = await loadContext(opts.config);
      // Served from before the routes are prepared: alive at once, ready once every route runs.
      let daemon: Daemon | undefined;
      const starting = { ready: false, reason: 'starting', lanes: [] };
      const server: OpsServer | undefined =
        config.server.listen === undefined
          ? undefined
          : await startOpsServer({
              listen: config.server.listen,
              metrics: createMetrics({ lanes: () => daemon?.observe() ?? [], ready: () => daemon?.readiness().ready ?? false }),
              readiness: () => daemon?.readiness() ?? starting,
              logger,
            });
      try {
        daemon = await Daemon.create({ config, deps, logger, load: () => readConfig(opts.config), storeFor: createFileCheckpointStore, keepLogLevel: logLevelFromCli() });
      } catch (error) {
        await server?.close();
        throw error;
      }
      const running = daemon;
      let signals = 0;
      const onSignal = (sig: string) => {
        signals++;
        logger.info({ signal: sig }, 'signal received');
        if (signals === 1) running.shutdown();
        else running.abortAll();
      };
      const onHangup = () => {
        logger.info({ signal: 'SIGHUP' }, 'signal received: reloading the configuration');
        void running.reload();
      };
      process.on('SIGTERM', onSignal);
      process.on('SIGINT', onSignal);
      process.on('SIGHUP', onHangup);
      logger.info({ routes: Object.keys(config.routes), lanes: Object.values(config.routes).reduce((n, r) => n + r.to.length, 0) }, 'forwarding');
      const summary = await running.run();
      process.off('SIGTERM', onSignal);
      process.off('SIGINT', onSignal);
      process.off('SIGHUP', onHangup);
      await server?.close();
      // The daemon's summary is log lines (one per lane, then how the run ended), for whatever collects its logs.
      const failed = summary.some((s) => s.state === 'failed');
      for (const s of summary) logger[s.state === 'failed' ? 'error' : 'info'](laneSummaryFields(s), laneSummaryLine(s));
      logger[failed ? 'error' : 'info']({ lanes: summary.length, failed: summary.filter((s) => s.state === 'failed').length }, `run ended: ${headline(summary, signals > 0)}`);
      process.exitCode = failed ? EXIT.failure : EXIT.ok;
    });
}
