// `audit-forwarder check`: validates the configuration and the checkpoints, and tries every source and every sink.
import type { Command } from 'commander';
import { sourceCheckResult, type SourceCheckFinding, type SourceCheckResult } from '../contracts/source.ts';
import { checkpointKey, sourceFingerprint } from '../pipeline/runner.ts';
import { loadContext } from './context.ts';
import { EXIT } from './exit-codes.ts';

const LEVEL_WORDS: Readonly<Record<SourceCheckFinding['level'], string>> = { ok: 'ok', warning: 'WARNING', failure: 'FAILED' };

const messageOf = (error: unknown): string => (error instanceof Error ? error.message : String(error));

/**
 * A source's lines: `source <name> (<type>): <worst level>: <finding>` when it has one finding; else the worst level
 * on that line and each finding on its own line below, indented, with its level.
 */
function sourceLines(name: string, type: string, result: SourceCheckResult): string[] {
  const worst = result.findings.some((f) => f.level === 'failure') ? 'failure' : result.findings.some((f) => f.level === 'warning') ? 'warning' : 'ok';
  const head = `source ${name} (${type}): ${LEVEL_WORDS[worst]}`;
  const only = result.findings.length === 1 ? result.findings[0] : undefined;
  if (only !== undefined) return [`${head}: ${only.detail}`];
  return [head, ...result.findings.map((f) => `  ${LEVEL_WORDS[f.level]}: ${f.detail}`)];
}

export function registerCheck(program: Command): void {
  program
    .command('check')
    .description('validate the configuration and checkpoints, and try every source and every sink')
    .requiredOption('-c, --config <file>', 'configuration file (YAML)')
    .addHelpText(
      'after',
      '\nExit code 0 when nothing failed (warnings, such as a file pattern that matches nothing yet, do not fail).\n\nExample:\n  $ audit-forwarder check -c config.yaml',
    )
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
          out.write(`route ${name}: checkpoint FAILED: ${messageOf(error)}\n`);
        }
      }
      for (const [name, sourceConfig] of Object.entries(config.sources)) {
        let result: SourceCheckResult;
        try {
          const source = deps.registry.sources.get(sourceConfig.type)!.create(name, sourceConfig, { logger: deps.logger, baseDir: config.baseDir });
          try {
            result = (await source.check?.()) ?? sourceCheckResult([{ level: 'ok', detail: 'this source type has nothing to check' }]);
          } finally {
            await source.close().catch(() => undefined);
          }
        } catch (error) {
          // A source that cannot even be made (a plaintext URL to another host), or a check that broke its contract.
          result = sourceCheckResult([{ level: 'failure', detail: messageOf(error) }]);
        }
        ok &&= result.ok;
        for (const line of sourceLines(name, sourceConfig.type, result)) out.write(`${line}\n`);
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
