// `audit-forwarder setup <type>`: prepares the destinations of the configuration's sinks of that type (index templates, lifecycle policies).
import type { Command } from 'commander';
import { ForwarderError } from '../contracts/errors.ts';
import { loadContext } from './context.ts';
import { EXIT } from './exit-codes.ts';

export function registerSetup(program: Command): void {
  program
    .command('setup')
    .description('prepare the destination of every sink of a type (elasticsearch: the index template, optionally a lifecycle policy)')
    .argument('<type>', 'sink type, e.g. elasticsearch')
    .requiredOption('-c, --config <file>', 'configuration file (YAML)')
    .option('--sink <name>', 'only this sink')
    .option('--lifecycle', 'also install a lifecycle policy (Elasticsearch ILM, OpenSearch ISM): rollover, nothing deleted')
    .option('--priority <n>', 'index template priority (default 200, above the built-in logs template)', (v) => {
      const n = Number(v);
      if (!Number.isSafeInteger(n) || n < 0) throw new ForwarderError('FWD_CLI_USAGE', `--priority ${v}: expected a non-negative integer`, { stage: 'cli', disposition: 'fatal' });
      return n;
    })
    .addHelpText(
      'after',
      `
Idempotent: run it again after changing the configuration or upgrading (the template follows the mapping).
Prints what it installed; exit 1 if a destination refused.

Example:
  $ audit-forwarder setup elasticsearch -c config.yaml --lifecycle`,
    )
    .action(async (type: string, opts: { config: string; sink?: string; lifecycle?: boolean; priority?: number }) => {
      const { config, deps, logger } = await loadContext(opts.config, 'silent');
      const connector = deps.registry.sinks.get(type);
      if (connector?.setup === undefined) {
        const types = [...deps.registry.sinks.values()].filter((c) => c.setup !== undefined).map((c) => c.type);
        throw new ForwarderError('FWD_CLI_USAGE', `nothing to set up for sink type ${JSON.stringify(type)}; types with a setup: ${types.join(', ')}`, { stage: 'cli', disposition: 'fatal' });
      }
      const sinks = Object.entries(config.sinks).filter(([name, s]) => s.type === type && (opts.sink === undefined || name === opts.sink));
      if (sinks.length === 0) {
        throw new ForwarderError('FWD_CLI_USAGE', `no sink of type ${type}${opts.sink !== undefined ? ` named ${opts.sink}` : ''} in ${config.configPath}`, { stage: 'cli', disposition: 'fatal' });
      }
      let failed = false;
      for (const [name, sinkConfig] of sinks) {
        const routeOptions = Object.values(config.routes).filter((r) => r.to.includes(name)).map((r) => r.mappingOptions);
        try {
          const done = await connector.setup(name, sinkConfig, { logger, baseDir: config.baseDir }, {
            routeOptions,
            lifecycle: opts.lifecycle === true,
            ...(opts.priority !== undefined ? { priority: opts.priority } : {}),
          });
          for (const line of done) process.stdout.write(`sink ${name}: ${line}\n`);
        } catch (error) {
          failed = true;
          process.stdout.write(`sink ${name}: FAILED: ${(error as Error).message}\n`);
        }
      }
      process.exitCode = failed ? EXIT.failure : EXIT.ok;
    });
}
