// `audit-forwarder dlq list|redrive`: inspect dead letters of a route and send them again.
import type { Command } from 'commander';
import { createDeadLetterStore, type ListedDeadLetterEntry } from '../delivery/dead-letter.ts';
import { redrive } from '../delivery/redrive.ts';
import { loadContext, requireRoute } from './context.ts';
import { EXIT } from './exit-codes.ts';

export function registerDlq(program: Command): void {
  const cmd = program
    .command('dlq')
    .description('list or redrive the dead letters of a route')
    .addHelpText('after', '\nExample:\n  $ audit-forwarder dlq list -c config.yaml --route connect-to-splunk');
  cmd
    .command('list')
    .description('list the dead letters of a route: when, for which sink, why, and where the record came from')
    .requiredOption('-c, --config <file>', 'configuration file (YAML)')
    .requiredOption('--route <name>', 'route')
    .option('--json', 'print the whole entries as JSON lines')
    .option('--all', 'also list the entries already redriven')
    .addHelpText('after', '\nExample:\n  $ audit-forwarder dlq list -c config.yaml --route connect-to-splunk')
    .action(async (opts: { config: string; route: string; json?: boolean; all?: boolean }) => {
      const { config } = await loadContext(opts.config, 'silent');
      const store = createDeadLetterStore(config.deadLetter.directory, requireRoute(config, opts.route));
      let n = 0;
      for await (const e of store.list({ includeResolved: opts.all === true })) {
        n++;
        if (opts.json) process.stdout.write(`${JSON.stringify(e)}\n`);
        else {
          const where = e.locator ?? e.eventId ?? '';
          process.stdout.write(`${e.line}\t${e.time}\t${e.sink}\t${e.stage}\t${where}\t${e.path ? `${e.path}: ` : ''}${e.reason}\n`);
        }
      }
      if (!opts.json) process.stderr.write(`${n} dead letter(s)\n`);
    });
  cmd
    .command('redrive')
    .description('send the dead letters of a route again; delivered ones are marked resolved, the others stay')
    .requiredOption('-c, --config <file>', 'configuration file (YAML)')
    .requiredOption('--route <name>', 'route')
    .addHelpText(
      'after',
      `
Undecodable records are decoded again by the route's source (a newer version may read them), events are
mapped again with the sink's current mapping, then sent as the route sends: in batches of its batch size,
maxInFlight at once, with its retry policy, a refused batch split to the refused record. Each delivered
entry is recorded in <route>.dlq.resolved.jsonl; the dead-letter file itself is never rewritten, so this
is safe while the route runs. Exit code 1 if some are still dead-lettered.

Example:
  $ audit-forwarder dlq redrive -c config.yaml --route connect-to-splunk`,
    )
    .action(async (opts: { config: string; route: string }) => {
      const { config, deps, logger } = await loadContext(opts.config);
      const routeName = requireRoute(config, opts.route);
      const route = config.routes[routeName]!;
      const sourceConfig = config.sources[route.from]!;
      const context = { logger, baseDir: config.baseDir };
      // The route's own source decodes undecodable records again, with its format and settings.
      const source = deps.registry.sources.get(sourceConfig.type)!.create(route.from, sourceConfig, context);
      const store = createDeadLetterStore(config.deadLetter.directory, routeName);
      const controller = new AbortController();
      process.once('SIGINT', () => controller.abort(new Error('interrupted')));
      // One lane per sink named by the entries: batched like the route, not one request per entry.
      const bySink = new Map<string, ListedDeadLetterEntry[]>();
      for await (const entry of store.list()) bySink.set(entry.sink, [...(bySink.get(entry.sink) ?? []), entry]);
      let redriven = 0;
      const kept: Array<{ entry: ListedDeadLetterEntry; why: string }> = [];
      for (const [sinkName, entries] of bySink) {
        const sinkConfig = config.sinks[sinkName];
        if (sinkConfig === undefined) {
          for (const entry of entries) kept.push({ entry, why: `sink ${sinkName} is no longer configured` });
          continue;
        }
        if (controller.signal.aborted) {
          for (const entry of entries) kept.push({ entry, why: 'interrupted' });
          continue;
        }
        const sink = deps.registry.sinks.get(sinkConfig.type)!.create(sinkName, sinkConfig, context);
        try {
          const result = await redrive(entries, {
            route: routeName,
            sinkName,
            sink,
            mapping: deps.mappings.get(sinkConfig.mapping)!,
            mappingOptions: route.mappingOptions,
            batch: route.batch,
            maxInFlight: route.maxInFlight,
            retry: route.retry,
            decodeRaw: (raw) => source.decodeRaw(raw),
            store,
            signal: controller.signal,
            logger: logger.child({ route: routeName, sink: sinkName }),
          });
          redriven += result.redriven;
          kept.push(...result.kept);
        } finally {
          await sink.close();
        }
      }
      await source.close();
      kept.sort((a, b) => a.entry.line - b.entry.line);
      for (const { entry, why } of kept) process.stderr.write(`line ${entry.line}: kept: ${why}\n`);
      process.stdout.write(`redriven ${redriven}, still dead-lettered ${kept.length}\n`);
      process.exitCode = kept.length === 0 ? EXIT.ok : EXIT.failure;
    });
}

