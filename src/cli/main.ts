#!/usr/bin/env node
// The `audit-forwarder` command line: one sub-command per file in this folder.
import { Command, CommanderError, Option } from 'commander';
import { LOG_FORMATS, LOG_LEVELS } from '../config/schema.ts';
import { setCliLogging } from './context.ts';
import { isForwarderError } from '../contracts/errors.ts';
import { registerCheck } from './check.ts';
import { registerCheckpoint } from './checkpoint.ts';
import { registerDlq } from './dlq.ts';
import { EXIT, EXIT_CODES_HELP, exitCodeFor } from './exit-codes.ts';
import { registerMap } from './map.ts';
import { registerReconcile } from './reconcile.ts';
import { registerReplay } from './replay.ts';
import { registerRun } from './run.ts';
import { registerSetup } from './setup.ts';
import { FORWARDER_VERSION } from '../version.ts';

export function buildProgram(): Command {
  const program = new Command('audit-forwarder')
    .description('Forwards security audit events (Cofide Connect, IBM CADF audit files) to a SIEM, at least once.')
    .version(FORWARDER_VERSION)
    .showHelpAfterError()
    .addOption(new Option('--log-level <level>', 'log level, over the configuration\'s logging.level').choices(LOG_LEVELS))
    .addOption(new Option('--log-format <format>', 'json (one object per line) or pretty (for a terminal), over logging.format').choices(LOG_FORMATS))
    .hook('preAction', (_program, action) => setCliLogging(action.optsWithGlobals()))
    .addHelpText('after', `${EXIT_CODES_HELP}\n\nExample:\n  $ audit-forwarder run -c examples/demo/config.yaml\n\nDocs: docs/cli.md, docs/configuration.md`);
  registerRun(program);
  registerReplay(program);
  registerCheck(program);
  registerMap(program);
  registerCheckpoint(program);
  registerDlq(program);
  registerSetup(program);
  registerReconcile(program);
  for (const c of [program, ...program.commands, ...program.commands.flatMap((c) => c.commands)]) {
    c.exitOverride();
  }
  return program;
}

export async function main(argv: readonly string[]): Promise<number> {
  try {
    await buildProgram().parseAsync(argv as string[], { from: 'user' });
    return typeof process.exitCode === 'number' ? process.exitCode : EXIT.ok;
  } catch (error) {
    if (error instanceof CommanderError) {
      if (error.code === 'commander.helpDisplayed' || error.code === 'commander.version') return EXIT.ok;
      // `commander.help` with a non-zero code: no (sub-)command was given, and the help went to stderr.
      if (error.code === 'commander.help' && error.exitCode === 0) return EXIT.ok;
      return EXIT.usage;
    }
    process.stderr.write(`audit-forwarder: ${isForwarderError(error) ? error.message : ((error as Error).stack ?? String(error))}\n`);
    return exitCodeFor(error);
  }
}

const code = await main(process.argv.slice(2));
process.exitCode = code;
