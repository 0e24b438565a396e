// `audit-forwarder run`: runs every route until they end or SIGTERM/SIGINT, then stops cleanly.
import type { Command } from 'commander';
import { Runner, prepareRoute, type PreparedRoute } from '../pipeline/runner.ts';
import { loadContext } from './context.ts';
import { EXIT } from './exit-codes.ts';
import { formatSummary } from './summary.ts';

export function registerRun(program: Command): void {
  program
    .command('run')
    .description('forward events on every route until stopped (SIGTERM/SIGINT) or until all sources end')
    .requiredOption('-c, --config <file>', 'configuration file (YAML)')
    .addHelpText(
      'after',
      `
On SIGTERM or SIGINT: reading stops, batches in flight are finished (or abandoned after shutdownTimeout),
what was delivered is committed, and the process exits 0. A second signal abandons in-flight batches at once.

Example:
  $ audit-forwarder run -c /etc/audit-forwarder/config.yaml`,
    )
    .action(async (opts: { config: string }) => {
      const { config, deps, logger } = await loadContext(opts.config);
      const routes: PreparedRoute[] = [];
      for (const name of Object.keys(config.routes)) routes.push(await prepareRoute(config, name, { mode: { kind: 'live' } }, deps));
      const runner = new Runner(routes, { shutdownTimeoutMs: config.shutdownTimeoutMs, logger });
      let signals = 0;
      const onSignal = (sig: string) => {
        signals++;
        logger.info({ signal: sig }, 'signal received');
        if (signals === 1) runner.shutdown();
        else for (const l of runner.lanes) l.lane.abort();
      };
      process.on('SIGTERM', onSignal);
      process.on('SIGINT', onSignal);
      logger.info({ routes: routes.map((r) => r.route.name), lanes: runner.lanes.length }, 'forwarding');
      const summary = await runner.run();
      process.off('SIGTERM', onSignal);
      process.off('SIGINT', onSignal);
      process.stderr.write(`audit-forwarder: ${signals > 0 ? 'stopped' : 'all sources ended'}\n${formatSummary(summary)}`);
      process.exitCode = summary.some((s) => s.state === 'failed') ? EXIT.failure : EXIT.ok;
    });
}
