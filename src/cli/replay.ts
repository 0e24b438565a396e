// `audit-forwarder replay`: forwards one route's events of a time range again, with its own resumable position.
import type { Command } from 'commander';
import { ForwarderError } from '../contracts/errors.ts';
import { Runner, checkpointKey, prepareRoute } from '../pipeline/runner.ts';
import { loadContext, requireRoute, timeArgument } from './context.ts';
import { EXIT } from './exit-codes.ts';
import { startProgress } from './progress.ts';
import { formatSummary } from './summary.ts';

export function registerReplay(program: Command): void {
  program
    .command('replay')
    .description('forward the events of a time range [from, to) of one route again, beside its live position')
    .requiredOption('-c, --config <file>', 'configuration file (YAML)')
    .requiredOption('--route <name>', 'route to replay')
    .requiredOption('--from <time>', 'start of the range, inclusive (RFC 3339 with zone, or YYYY-MM-DD = midnight UTC)')
    .requiredOption('--to <time>', 'end of the range, exclusive')
    .option('--dry-run', 'count what would be sent, per event type; send and record nothing')
    .option('--max-eps <n>', 'read at most this many events per second', (v) => {
      const n = Number(v);
      if (!Number.isFinite(n) || n <= 0) throw new ForwarderError('FWD_CLI_USAGE', `--max-eps ${v}: expected a positive number`, { stage: 'cli', disposition: 'fatal' });
      return n;
    })
    .option('--restart', 'forget the position of an earlier run of this same replay and start it over')
    .addHelpText(
      'after',
      `
A replay keeps its own checkpoint (checkpoints/replays/<route>/<from>--<to>): run the same command again to
resume it where it stopped. The live position of the route is not touched, and a replay may run while
\`run\` does; two runs of one same replay may not (the second exits 2, naming the first's pid).

Example:
  $ audit-forwarder replay -c config.yaml --route connect-to-splunk --from 2026-01-01 --to 2026-02-01 --max-eps 2000`,
    )
    .action(async (opts: { config: string; route: string; from: string; to: string; dryRun?: boolean; maxEps?: number; restart?: boolean }) => {
      const { config, deps, logger } = await loadContext(opts.config);
      const route = requireRoute(config, opts.route);
      const range = { from: timeArgument('--from', opts.from), to: timeArgument('--to', opts.to) };
      if (range.from >= range.to) throw new ForwarderError('FWD_CLI_USAGE', '--from must be before --to', { stage: 'cli', disposition: 'fatal' });
      const mode = { kind: 'replay' as const, range };
      if (opts.restart && !opts.dryRun) {
        // Holds the replay's lock only while it resets (refused if another run of this replay has it), so
        // that prepareRoute can take it next for the run.
        await deps.store.reset(checkpointKey(route, mode));
      }
      const prepared = await prepareRoute(config, route, { mode, dryRun: opts.dryRun === true, ...(opts.maxEps !== undefined ? { maxEventsPerSecond: opts.maxEps } : {}) }, deps);
      const runner = new Runner([prepared], { shutdownTimeoutMs: config.shutdownTimeoutMs, logger });
      const onSignal = () => runner.shutdown();
      process.on('SIGTERM', onSignal);
      process.on('SIGINT', onSignal);
      const progress = startProgress(prepared.lanes, range);
      const summary = await runner.run();
      progress.stop();
      process.off('SIGTERM', onSignal);
      process.off('SIGINT', onSignal);
      if (opts.dryRun) {
        const byType = new Map<string, number>();
        for (const l of summary.slice(0, 1)) for (const [t, n] of l.counters.byType) byType.set(t, (byType.get(t) ?? 0) + n);
        const rows = [...byType].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
        const width = Math.max(10, ...rows.map(([t]) => t.length));
        process.stdout.write(`dry run of route ${route}, ${range.from} to ${range.to}: would send\n`);
        for (const [t, n] of rows) process.stdout.write(`  ${t.padEnd(width)} ${n}\n`);
        const c = summary[0]!.counters;
        process.stdout.write(`  ${'total'.padEnd(width)} ${rows.reduce((a, [, n]) => a + n, 0)} (read ${c.read}, outside the range or not selected ${c.skipped - rows.reduce((a, [, n]) => a + n, 0)}, undecodable ${c.dead_lettered})\n`);
      } else {
        process.stderr.write(`replay of ${route} [${range.from}, ${range.to}) ${summary.some((s) => s.state === 'stopped') ? 'stopped (run again to resume)' : 'ended'}\n${formatSummary(summary)}`);
      }
      process.exitCode = summary.some((s) => s.state === 'failed') ? EXIT.failure : EXIT.ok;
    });
}
