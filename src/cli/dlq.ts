// `audit-forwarder dlq list|redrive`: inspect dead letters of a route and send them again.
import { nowCanonical } from '../model/now.ts';
import { toJsonLine } from '../model/json.ts';
import type { Command } from 'commander';
import type { AuditEvent } from '../model/audit-event.ts';
import { isJsonObject } from '../model/json.ts';
import { createDeadLetterStore } from '../delivery/dead-letter.ts';
import { deliverWithRetry } from '../delivery/retry.ts';
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
mapped again with the sink's current mapping, then sent with the route's retry policy. Each delivered
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
      let redriven = 0;
      let kept = 0;
      const keep = (line: number, why: string) => {
        kept++;
        process.stderr.write(`line ${line}: kept: ${why}\n`);
      };
      for await (const entry of store.list()) {
        if (controller.signal.aborted) {
          kept++;
          continue;
        }
        const sinkConfig = config.sinks[entry.sink];
        if (sinkConfig === undefined) {
          keep(entry.line, `sink ${entry.sink} is no longer configured`);
          continue;
        }
        let event: AuditEvent;
        if (entry.event !== undefined) {
          const problem = notAnEvent(entry.event);
          if (problem !== undefined) {
            keep(entry.line, `its event is not a canonical event (${problem})`);
            continue;
          }
          event = entry.event as unknown as AuditEvent;
        } else if (entry.raw !== undefined) {
          const decoded = source.decodeRaw(entry.raw);
          if (!decoded.ok) {
            keep(entry.line, `still not decodable: ${decoded.error.path === '' ? '' : `${decoded.error.path}: `}${decoded.error.reason}`);
            continue;
          }
          event = decoded.event;
        } else {
          keep(entry.line, 'the entry holds neither an event nor a raw record');
          continue;
        }
        const mapping = deps.mappings.get(sinkConfig.mapping)!;
        const mapped = mapping.map(event, { ...route.mappingOptions, observedTime: nowCanonical() });
        if (mapped.kind !== 'mapped') {
          keep(entry.line, mapped.kind === 'invalid' ? `still not mappable: ${mapped.path}: ${mapped.reason}` : `skipped by the mapping: ${mapped.reason}`);
          continue;
        }
        const payload = mapping.encoding === 'json' ? toJsonLine(mapped.value) : String(mapped.value);
        const sink = deps.registry.sinks.get(sinkConfig.type)!.create(entry.sink, sinkConfig, context);
        const record = { eventId: event.id, payload, bytes: Buffer.byteLength(payload) };
        const result = await deliverWithRetry(sink, { records: [record], bytes: record.bytes }, controller.signal, {
          policy: route.retry,
          onRetry: (e) => logger.warn({ sink: entry.sink, attempt: e.attempt, reason: e.reason }, 'retrying'),
        });
        await sink.close();
        if (result.delivered === 1) {
          // Recorded before the next one is tried: a crash now resends at most this one.
          await store.markResolved([entry], 'redriven');
          redriven++;
        } else keep(entry.line, `not delivered: ${result.fatal ?? result.rejected[0]?.reason ?? 'interrupted'}`);
      }
      await source.close();
      process.stdout.write(`redriven ${redriven}, still dead-lettered ${kept}\n`);
      process.exitCode = kept === 0 ? EXIT.ok : EXIT.failure;
    });
}

const CANONICAL_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/;

/** Why a dead letter's `event` (which may have been edited by hand) is not a canonical AuditEvent, if it is not. */
function notAnEvent(value: unknown): string | undefined {
  if (!isJsonObject(value)) return 'not a JSON object';
  const e = value;
  if (typeof e['id'] !== 'string' || e['id'] === '') return 'no id';
  if (typeof e['time'] !== 'string' || !CANONICAL_TIME.test(e['time'])) return 'no time in the canonical form';
  const origin = e['origin'];
  if (!isJsonObject(origin) || (origin['kind'] !== 'cofide-connect' && origin['kind'] !== 'ibm-cadf')) return 'no origin kind';
  for (const k of ['type', 'action', 'outcome'] as const) if (typeof e[k] !== 'string') return `no ${k}`;
  if (!isJsonObject(e['actor'])) return 'no actor';
  if (!Array.isArray(e['links'])) return 'no links';
  if (e['raw'] === undefined) return 'no raw record';
  return undefined;
}

