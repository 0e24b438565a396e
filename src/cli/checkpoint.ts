// `audit-forwarder checkpoint show|reset`: read or reset the committed positions of a route.
import type { Command } from 'commander';
import { checkpointKey } from '../pipeline/runner.ts';
import { loadContext, requireRoute } from './context.ts';
import { EXIT } from './exit-codes.ts';

export function registerCheckpoint(program: Command): void {
  const cmd = program
    .command('checkpoint')
    .description('show or reset the committed positions of a route')
    .addHelpText('after', '\nExample:\n  $ audit-forwarder checkpoint show -c config.yaml --route connect-to-splunk');
  cmd
    .command('show')
    .description('print the committed position of each sink of a route (all checkpoints without --route)')
    .requiredOption('-c, --config <file>', 'configuration file (YAML)')
    .option('--route <name>', 'route whose live checkpoint to show')
    .addHelpText('after', '\nExample:\n  $ audit-forwarder checkpoint show -c config.yaml --route connect-to-splunk')
    .action(async (opts: { config: string; route?: string }) => {
      const { config, deps } = await loadContext(opts.config, 'silent');
      const keys = opts.route === undefined ? await deps.store.list() : [checkpointKey(requireRoute(config, opts.route), { kind: 'live' })];
      for (const key of keys) {
        const cp = await deps.store.inspect(key);
        process.stdout.write(cp === undefined ? `${key}: no checkpoint (the route starts at the beginning)\n` : `${key}:\n${JSON.stringify(cp, null, 2)}\n`);
      }
      if (keys.length === 0) process.stdout.write('no checkpoints yet\n');
    });
  cmd
    .command('reset')
    .description('forget the live position of a route: it starts over from the beginning of its source (a copy is kept)')
    .requiredOption('-c, --config <file>', 'configuration file (YAML)')
    .requiredOption('--route <name>', 'route to reset')
    .addHelpText(
      'after',
      '\nEvery event of the source will be sent again (de-duplicate by event id downstream).\nThe old file is kept as <file>.reset-<time>.\nRefused (exit 2, naming its pid) while a process such as `run` holds the route: stop it first.\n\nExample:\n  $ audit-forwarder checkpoint reset -c config.yaml --route connect-to-splunk',
    )
    .action(async (opts: { config: string; route: string }) => {
      const { config, deps } = await loadContext(opts.config, 'silent');
      const key = checkpointKey(requireRoute(config, opts.route), { kind: 'live' });
      const existed = await deps.store.reset(key);
      process.stdout.write(existed ? `${key}: reset (the previous file was kept)\n` : `${key}: there was no checkpoint\n`);
      process.exitCode = EXIT.ok;
    });
}
