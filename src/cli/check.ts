// `audit-forwarder check`: validates the configuration, the checkpoints, and tries every sink.
import type { Command } from 'commander';
import { isForwarderError } from '../contracts/errors.ts';
import { checkpointKey, sourceFingerprint } from '../pipeline/runner.ts';
import { loadContext } from './context.ts';
import { EXIT } from './exit-codes.ts';

export function registerCheck(program: Command): void {
  program
    .command('check')
    .description('validate the configuration and checkpoints, and try a connection to every sink')
    .requiredOption('-c, --config <file>', 'configuration file (YAML)')
    .addHelpText('after', '\nExit code 0 only if every check passes.\n\nExample:\n  $ audit-forwarder check -c config.yaml')
    .action(async (opts: { config: string }) => {
      const { config, deps } = await loadContext(opts.config, 'silent');
      const out = process.stdout;
      let ok = true;
      out.write(`configuration ${config.configPath}: valid (${Object.keys(config.routes).length} routes)\n`);
      for (const name of Object.keys(config.routes)) {
        try {
          const { fingerprint, accepted } = sourceFingerprint(config, name, deps);
          const cp = await deps.store.load(checkpointKey(name, { kind: 'live' }), fingerprint, accepted);
          out.write(`route ${name}: checkpoint ${cp === undefined ? 'none yet (starts where its source starts: the beginning, or a connect source\'s startAt)' : 'valid'}\n`);
        } catch (error) {
          ok = false;
          out.write(`route ${name}: checkpoint FAILED: ${isForwarderError(error) ? error.message : String(error)}\n`);
        }
      }
      for (const [name, sinkConfig] of Object.entries(config.sinks)) {
        const sink = deps.registry.sinks.get(sinkConfig.type)!.create(name, sinkConfig, { logger: deps.logger, baseDir: config.baseDir });
        const routeOptions = Object.values(config.routes).filter((r) => r.to.includes(name)).map((r) => r.mappingOptions);
        const result = await sink.check({ routeOptions });
        await sink.close().catch(() => undefined);
        ok &&= result.ok;
        // The strength is read after check: what the destination said may have told which it is.
        out.write(`sink ${name} (${sinkConfig.type}): ${result.ok ? 'ok' : 'FAILED'}: ${result.detail}; delivered means ${sink.strength.level} (${sink.strength.detail})\n`);
      }
      process.exitCode = ok ? EXIT.ok : EXIT.failure;
    });
}
