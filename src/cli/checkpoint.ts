// `audit-forwarder checkpoint show|reset|set`: read, reset or move to a time the committed positions of a route.
import type { Command } from 'commander';
import { checkpointFilePath } from '../checkpoint/file-store.ts';
import { CHECKPOINT_FORMAT_VERSION, type Checkpoint, type SinkPosition } from '../contracts/checkpoint-store.ts';
import { ForwarderError, isForwarderError } from '../contracts/errors.ts';
import type { Position } from '../contracts/source.ts';
import { canonicalJson } from '../model/json.ts';
import { formatEpochMicros } from '../model/time.ts';
import { checkpointKey, sourceFingerprint } from '../pipeline/runner.ts';
import { loadContext, requireRoute, timeArgument, type CommandContext } from './context.ts';
import { EXIT } from './exit-codes.ts';

const SET_HOLDER = { command: 'audit-forwarder checkpoint set' };

export function registerCheckpoint(program: Command): void {
  const cmd = program
    .command('checkpoint')
    .description('show, reset or set (to a time) the committed positions of a route')
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
        process.stdout.write(cp === undefined ? `${key}: no checkpoint (the route starts where its source starts: the beginning, or a connect source's startAt)\n` : `${key}:\n${JSON.stringify(cp, null, 2)}\n`);
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
  cmd
    .command('set')
    .description('move the live position of every sink of a route to a time: the next run reads everything from that time on')
    .requiredOption('-c, --config <file>', 'configuration file (YAML)')
    .requiredOption('--route <name>', 'route to move')
    .requiredOption('--at <time>', 'RFC 3339 time with zone, or YYYY-MM-DD = midnight UTC')
    .addHelpText(
      'after',
      `
For sources read by time (connect). Every sink of the route moves to "everything from <time> on":
events before <time> not yet delivered are skipped (a gap), events at or after it already delivered are
sent again (duplicates: de-duplicate by event id downstream). The new checkpoint is written for the source
as configured now, so this is also the way on when start-up was refused because the source changed
(exit 4). The previous file is kept as <file>.prev.
Refused (exit 2, naming its pid) while a process such as \`run\` holds the route: stop it first.
A source that cannot be positioned by time (jsonl, audit-files) is refused (exit 2): use checkpoint reset.

Example:
  $ audit-forwarder checkpoint set -c config.yaml --route connect-to-splunk --at 2026-05-12T08:00:00Z`,
    )
    .action(async (opts: { config: string; route: string; at: string }) => {
      const at = timeArgument('--at', opts.at);
      const context = await loadContext(opts.config, 'silent');
      const route = requireRoute(context.config, opts.route);
      await setCheckpoint(context, route, at);
      process.exitCode = EXIT.ok;
    });
}

/** `checkpoint set`: the route's live checkpoint becomes "everything from `at` on" for each of its sinks, under the current fingerprint. */
async function setCheckpoint({ config, deps }: CommandContext, route: string, at: string): Promise<void> {
  const key = checkpointKey(route, { kind: 'live' });
  const position = await positionAt(config, route, at, deps);
  // As `run` computes it: the checkpoint must be the one the next run resumes from, whatever the last one was written for.
  const { fingerprint, accepted } = sourceFingerprint(config, route, deps);
  const lock = await deps.store.lock(key, SET_HOLDER);
  try {
    const out = process.stdout;
    const previous = await previousCheckpoint(deps.store, key, checkpointFilePath(config.checkpoints.directory, key));
    if (typeof previous === 'string') {
      out.write(`${key}: previous checkpoint: ${previous}\n`);
    } else {
      const whose =
        previous.fingerprint === fingerprint ? 'this source' : accepted.includes(previous.fingerprint) ? 'this source, by an earlier release' : 'another source';
      out.write(`${key}: previous checkpoint (written for ${whose}, fingerprint ${previous.fingerprint}):\n`);
      for (const [sink, sp] of Object.entries(previous.sinks)) out.write(`  sink ${sink}: position ${canonicalJson(sp.position)}, ${sp.records} records, saved ${sp.savedAt}\n`);
    }
    const savedAt = new Date();
    const sinks: Record<string, SinkPosition> = {};
    for (const sink of config.routes[route]!.to) sinks[sink] = { position, records: 0, savedAt: savedAt.toISOString() };
    const checkpoint: Checkpoint = { version: CHECKPOINT_FORMAT_VERSION, key, fingerprint, sinks };
    await deps.store.save(checkpoint);
    out.write(`${key}: new checkpoint, everything from ${at} on (fingerprint ${fingerprint}):\n`);
    for (const sink of Object.keys(sinks)) out.write(`  sink ${sink}: position ${canonicalJson(position)}\n`);
    if (typeof previous !== 'string') {
      // Not carried over: a sink no longer in the route would keep a position of another source under the new fingerprint.
      for (const sink of Object.keys(previous.sinks)) if (sinks[sink] === undefined) out.write(`  sink ${sink}: dropped (no longer a sink of the route)\n`);
    }
    out.write(`Events before ${at} not yet delivered will not be sent; events from ${at} on already delivered will be sent again.\n`);
    if (at > formatEpochMicros(BigInt(savedAt.getTime()) * 1000n)) {
      process.stderr.write(`audit-forwarder: note: ${at} is in the future: the route delivers nothing until then\n`);
    }
  } finally {
    await lock.release();
  }
}

/** The source's position for "everything from `at` on"; a usage error for a source that is not read by time. */
async function positionAt(config: CommandContext['config'], route: string, at: string, deps: CommandContext['deps']): Promise<Position> {
  const name = config.routes[route]!.from;
  const sourceConfig = config.sources[name]!;
  const source = deps.registry.sources.get(sourceConfig.type)!.create(name, sourceConfig, { logger: deps.logger, baseDir: config.baseDir });
  try {
    if (source.positionAt === undefined) {
      throw new ForwarderError('FWD_CLI_USAGE', `the ${source.type} source of route ${route} cannot be positioned by time; use checkpoint reset`, {
        stage: 'cli',
        disposition: 'fatal',
      });
    }
    return source.positionAt(at);
  } finally {
    await source.close();
  }
}

/**
 * The checkpoint being replaced, or what to say instead: none, or unusable (corrupt, or written by a newer
 * release) — setting a time is a way on from those too.
 */
async function previousCheckpoint(store: CommandContext['deps']['store'], key: string, file: string): Promise<Checkpoint | string> {
  try {
    return (await store.inspect(key)) ?? 'none';
  } catch (error) {
    if (!isForwarderError(error) || (error.code !== 'FWD_CHECKPOINT_CORRUPT' && error.code !== 'FWD_CHECKPOINT_UNSUPPORTED_VERSION')) throw error;
    // The store keeps a damaged file rather than rotating it into `.prev` (see saveNow in file-store.ts).
    return `unusable (${error.code}, see \`checkpoint show\`); a damaged ${file} is kept as ${file}.corrupt-<time>`;
  }
}
