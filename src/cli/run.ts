// `audit-forwarder run`: runs every route until they end or SIGTERM/SIGINT, reloads on SIGHUP, then stops cleanly.
import type { Command } from 'commander';
import { createFileCheckpointStore } from '../checkpoint/file-store.ts';
import { Daemon } from '../pipeline/daemon.ts';
import type { LaneSummary } from '../pipeline/runner.ts';
import { loadContext, readConfig } from './context.ts';
import { EXIT } from './exit-codes.ts';
import { formatSummary } from './summary.ts';

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
      const daemon = await Daemon.create({ config, deps, logger, load: () => readConfig(opts.config), storeFor: createFileCheckpointStore });
      let signals = 0;
      const onSignal = (sig: string) => {
        signals++;
        logger.info({ signal: sig }, 'signal received');
        if (signals === 1) daemon.shutdown();
        else daemon.abortAll();
      };
      const onHangup = () => {
        logger.info({ signal: 'SIGHUP' }, 'signal received: reloading the configuration');
        void daemon.reload();
      };
      process.on('SIGTERM', onSignal);
      process.on('SIGINT', onSignal);
      process.on('SIGHUP', onHangup);
      logger.info({ routes: Object.keys(config.routes), lanes: daemon.lanes.length }, 'forwarding');
      const summary = await daemon.run();
      process.off('SIGTERM', onSignal);
      process.off('SIGINT', onSignal);
      process.off('SIGHUP', onHangup);
      process.stderr.write(`audit-forwarder: ${headline(summary, signals > 0)}\n${formatSummary(summary)}`);
      process.exitCode = summary.some((s) => s.state === 'failed') ? EXIT.failure : EXIT.ok;
    });
}
