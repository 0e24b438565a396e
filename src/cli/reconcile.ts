// `audit-forwarder reconcile`: proves, window by window, that what the source holds reached the SIEM unaltered.
import type { Command } from 'commander';
import { Option } from 'commander';
import type { KeyObject } from 'node:crypto';
import { ForwarderError } from '../contracts/errors.ts';
import type { SinkQuery } from '../contracts/sink-query.ts';
import { createDeadLetterStore } from '../delivery/dead-letter.ts';
import type { LaneLedgerState } from '../ledger/accountant.ts';
import { loadPublicKey } from '../ledger/entry.ts';
import { readLedger, type LedgerReadResult } from '../ledger/read.ts';
import {
  alignRange,
  compareWithSiem,
  compareWithSource,
  ledgerWindows,
  nameIds,
  openWindows,
  siemWindows,
  sourceWindows,
  type SourceWindow,
  type WindowReport,
} from '../ledger/reconcile.ts';
import { ledgerDirectory } from '../ledger/route-ledger.ts';
import { checkpointKey } from '../pipeline/runner.ts';
import { createSelection } from '../pipeline/selection.ts';
import { nowCanonical } from '../model/now.ts';
import { loadContext, requireRoute, timeArgument } from './context.ts';
import { EXIT } from './exit-codes.ts';

type Against = 'source' | 'siem' | 'both';

interface SinkResult {
  readonly sink: string;
  readonly type: string;
  /** `checked`, or why the SIEM was not asked. */
  siem: string;
  readonly windows: WindowReport[];
}

export function registerReconcile(program: Command): void {
  program
    .command('reconcile')
    .description('prove, per window of event time, that the ledger, the source and the SIEM agree on what was delivered')
    .requiredOption('-c, --config <file>', 'configuration file (YAML)')
    .requiredOption('--route <name>', 'route to reconcile')
    .requiredOption('--from <time>', 'start of the range, inclusive (RFC 3339 with zone, or YYYY-MM-DD); widened to a window start')
    .requiredOption('--to <time>', 'end of the range, exclusive; widened to a window end')
    .addOption(new Option('--against <what>', 'compare the ledger with the source (re-read), the SIEM (queried), or both').choices(['source', 'siem', 'both']).default('both'))
    .addOption(new Option('--format <format>', 'a table for people, or JSON').choices(['table', 'json']).default('table'))
    .option('--sink <name>', 'only this sink of the route')
    .option('--public-key <file>', 'verify the ledger\'s signatures with this Ed25519 public key (PEM); default: the one of ledger.signingKeyFile')
    .addHelpText(
      'after',
      `
The ledger's hash chain (and signatures) is verified first: a broken chain is reported as tampering, with the
first bad entry, and nothing else is compared. Then, per window (ledger.window, 1 minute by default):
  --against source  the range is read again from the source (as \`replay --dry-run\` does) and each window's
                    delivered count and digest are compared with the ledger's: an event deleted, added or
                    altered at the source after forwarding shows up as a count or digest mismatch.
  --against siem    each sink that can be queried (splunk-hec with \`search\`, elasticsearch) is asked how many
                    distinct events it holds per window; where that differs from the ledger the event ids
                    missing (or unexpected) are named, from the source. syslog, OTLP and files cannot be queried.
Exit 0 only when every window compared matches; 1 on any mismatch, an open window, or tampering.

Example:
  $ audit-forwarder reconcile -c config.yaml --route files-to-splunk --from 2026-12-01 --to 2026-12-02 --against both`,
    )
    .action(async (opts: { config: string; route: string; from: string; to: string; against: Against; format: 'table' | 'json'; sink?: string; publicKey?: string }) => {
      const { config, deps } = await loadContext(opts.config, 'silent');
      const routeName = requireRoute(config, opts.route);
      const route = config.routes[routeName]!;
      const requested = { from: timeArgument('--from', opts.from), to: timeArgument('--to', opts.to) };
      if (requested.from >= requested.to) throw new ForwarderError('FWD_CLI_USAGE', '--from must be before --to', { stage: 'cli', disposition: 'fatal' });
      const windowSeconds = config.ledger.windowMs / 1000;
      const range = alignRange(requested, windowSeconds);
      const sinks = opts.sink === undefined ? route.to : route.to.filter((s) => s === opts.sink);
      if (sinks.length === 0) throw new ForwarderError('FWD_CLI_USAGE', `route ${routeName} does not send to a sink named ${opts.sink}; its sinks: ${route.to.join(', ')}`, { stage: 'cli', disposition: 'fatal' });
      const tty = opts.format === 'table' && process.stderr.isTTY === true;
      const say = (line: string) => {
        if (opts.format === 'table') process.stderr.write(`${line}\n`);
      };

      // 1. The ledger, verified.
      let publicKey: KeyObject | undefined;
      const keyFile = opts.publicKey ?? config.ledger.signingKeyFile;
      if (keyFile !== undefined) publicKey = loadPublicKey(keyFile);
      const ledger = await readLedger(ledgerDirectory(config.checkpoints.directory), routeName, { ...(publicKey !== undefined ? { publicKey, requireSignatures: true } : {}) });
      if (ledger.tampered) {
        report(opts.format, { route: routeName, range, windowSeconds, ledger, sinks: [], matched: false });
        process.exitCode = EXIT.failure;
        return;
      }
      const fromLedger = ledgerWindows(ledger.entries, range);

      // Windows still open in the checkpoint: counted, not in the ledger yet.
      const checkpoint = await deps.store.inspect(checkpointKey(routeName, { kind: 'live' }));
      const open = new Map(sinks.map((s) => [s, openWindows(checkpoint?.sinks[s]?.ledger as LaneLedgerState | undefined)]));

      const results: SinkResult[] = sinks.map((s) => ({ sink: s, type: config.sinks[s]!.type, siem: 'not asked', windows: [] }));
      const controller = new AbortController();
      const stop = () => controller.abort(new Error('interrupted'));
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
      try {
        // 2. The SIEM's counts (cheap), so that the source pass keeps ids only for the windows that differ.
        const siemReports = new Map<string, WindowReport[]>();
        const queries = new Map<string, SinkQuery>();
        const sourceKind = deps.registry.sources.get(config.sources[route.from]!.type)!.origin(config.sources[route.from]!);
        const scope = { mappingOptions: route.mappingOptions, origin: sourceKind === 'connect' ? ('cofide-connect' as const) : sourceKind === 'cadf' ? ('ibm-cadf' as const) : ('mixed' as const) };
        if (opts.against !== 'source') {
          for (const r of results) {
            const sinkConfig = config.sinks[r.sink]!;
            const connector = deps.registry.sinks.get(sinkConfig.type)!;
            if (connector.query === undefined) {
              r.siem = `not queryable: a ${sinkConfig.type} sink cannot be asked what it holds`;
              continue;
            }
            const query = connector.query(r.sink, sinkConfig, { logger: deps.logger, baseDir: config.baseDir, route: { name: routeName, mappingOptions: route.mappingOptions } });
            queries.set(r.sink, query);
            say(`${r.sink}: asking ${sinkConfig.type} for its counts per window…`);
            const held = await siemWindows(query, range, windowSeconds, scope, controller.signal);
            siemReports.set(r.sink, compareWithSiem(r.sink, fromLedger.get(r.sink), held, open.get(r.sink)!, windowSeconds));
            r.siem = 'checked';
          }
        }

        // 3. The source, read again (for the source comparison, and to name the ids of windows the SIEM differs on).
        const differing = new Map([...siemReports].map(([s, reports]) => [s, new Set(reports.filter((w) => w.siem!.status === 'count').map((w) => w.from))]));
        let fromSource: Map<string, Map<string, SourceWindow>> | undefined;
        if (opts.against !== 'siem' || [...differing.values()].some((d) => d.size > 0)) {
          const sourceConfig = config.sources[route.from]!;
          const source = deps.registry.sources.get(sourceConfig.type)!.create(route.from, sourceConfig, { logger: deps.logger, baseDir: config.baseDir });
          const refused = await refusedIds(config.deadLetter.directory, routeName);
          const progress = progressLine(tty, range);
          try {
            fromSource = await sourceWindows({
              source,
              range,
              windowSeconds,
              selection: createSelection(route.enabledEvents, route.disabledEvents),
              sinks: sinks.map((s) => ({
                name: s,
                mapping: deps.mappings.get(config.sinks[s]!.mapping)!,
                options: { ...route.mappingOptions, observedTime: nowCanonical(Date.now()) },
                refused: refused.get(s) ?? new Set(),
              })),
              keepIdsOf: differing,
              signal: controller.signal,
              onProgress: progress.update,
            });
          } finally {
            progress.done();
            await source.close();
          }
        }

        // 4. Compare, and name the ids where the SIEM differs.
        for (const r of results) {
          const windows = new Map<string, WindowReport>();
          if (opts.against !== 'siem' && fromSource !== undefined) {
            for (const w of compareWithSource(r.sink, fromLedger.get(r.sink), fromSource.get(r.sink)!, open.get(r.sink)!, windowSeconds)) windows.set(w.from, w);
          }
          for (const w of siemReports.get(r.sink) ?? []) {
            const existing = windows.get(w.from);
            if (existing === undefined) windows.set(w.from, w);
            else existing.siem = w.siem;
          }
          const query = queries.get(r.sink);
          for (const w of windows.values()) {
            if (w.siem?.status !== 'count' || query === undefined) continue;
            const held = await query.eventIds({ from: w.from, to: w.to }, scope, controller.signal);
            nameIds(w, fromSource?.get(r.sink)?.get(w.from)?.ids, held);
          }
          r.windows.push(...[...windows.values()].sort((a, b) => (a.from < b.from ? -1 : a.from > b.from ? 1 : 0)));
        }
        for (const q of queries.values()) await q.close();
      } finally {
        process.off('SIGINT', stop);
        process.off('SIGTERM', stop);
      }

      const compared = results.some((r) => r.windows.length > 0 || opts.against !== 'siem' || r.siem === 'checked');
      const matched = compared && results.every((r) => r.windows.every((w) => (w.source === undefined || w.source.status === 'match') && (w.siem === undefined || w.siem.status === 'match'))) && !(opts.against === 'siem' && results.every((r) => r.siem !== 'checked'));
      report(opts.format, { route: routeName, range, windowSeconds, ledger, sinks: results, matched, signed: publicKey !== undefined });
      process.exitCode = matched ? EXIT.ok : EXIT.failure;
    });
}

/** Ids of the events each sink refused (dead letters of stage `sink`): not expected in the SIEM. */
async function refusedIds(directory: string, route: string): Promise<Map<string, Set<string>>> {
  const out = new Map<string, Set<string>>();
  for await (const e of createDeadLetterStore(directory, route).list({ includeResolved: true, onInvalidLine: () => undefined })) {
    if (e.stage !== 'sink' || e.eventId === undefined) continue;
    let s = out.get(e.sink);
    if (s === undefined) out.set(e.sink, (s = new Set()));
    s.add(e.eventId);
  }
  return out;
}

function progressLine(tty: boolean, range: { from: string; to: string }): { update: (read: number, last: string | undefined) => void; done: () => void } {
  if (!tty) return { update: () => undefined, done: () => undefined };
  const from = Date.parse(range.from);
  const span = Date.parse(range.to) - from;
  let shown = 0;
  return {
    update(read, last) {
      const now = Date.now();
      if (now - shown < 200) return;
      shown = now;
      const f = last === undefined || span <= 0 ? 0 : Math.max(0, Math.min(1, (Date.parse(last) - from) / span));
      const filled = Math.round(f * 30);
      process.stderr.write(`\rsource [${'#'.repeat(filled)}${'.'.repeat(30 - filled)}] ${(f * 100).toFixed(0).padStart(3)}% ${read} events at ${last ?? '-'}\x1b[K`);
    },
    done() {
      if (shown > 0) process.stderr.write('\n');
    },
  };
}

interface Report {
  readonly route: string;
  readonly range: { from: string; to: string };
  readonly windowSeconds: number;
  readonly ledger: LedgerReadResult;
  readonly sinks: readonly SinkResult[];
  readonly matched: boolean;
  /** Signatures were checked. */
  readonly signed?: boolean;
}

function report(format: 'table' | 'json', r: Report): void {
  if (format === 'json') {
    const out = {
      route: r.route,
      range: r.range,
      windowSeconds: r.windowSeconds,
      matched: r.matched,
      ledger: {
        files: r.ledger.files,
        entries: r.ledger.entries.length,
        tampered: r.ledger.tampered,
        ...(r.ledger.firstBad !== undefined ? { firstBad: r.ledger.firstBad } : {}),
        problems: r.ledger.problems,
        ...(r.ledger.startsAfter !== undefined ? { startsAfter: r.ledger.startsAfter } : {}),
      },
      sinks: r.sinks,
    };
    process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
    return;
  }
  const w = (s: string) => process.stdout.write(`${s}\n`);
  w(`reconcile ${r.route} [${r.range.from}, ${r.range.to}), windows of ${r.windowSeconds} s`);
  if (!r.ledger.tampered) {
    const notes = [...r.ledger.problems.map((p) => p.detail), ...(r.ledger.startsAfter !== undefined ? [`the chain starts after ${r.ledger.startsAfter.slice(0, 16)}… (older files removed)`] : [])];
    w(`ledger: ${r.ledger.entries.length} entries in ${r.ledger.files.length} file(s), chain verified${r.signed === true ? ', signatures verified' : ''}${notes.length > 0 ? ` (${notes.join('; ')})` : ''}`);
  }
  if (r.ledger.tampered) {
    const b = r.ledger.firstBad!;
    w(`LEDGER TAMPERED: ${b.kind} at ${b.file}:${b.line}: ${b.detail}`);
    for (const p of r.ledger.problems.slice(1, 10)) w(`  also ${p.kind} at ${p.file}:${p.line}: ${p.detail}`);
    w('nothing else compared: the ledger cannot be trusted');
    return;
  }
  for (const s of r.sinks) {
    const bad = s.windows.filter((x) => (x.source !== undefined && x.source.status !== 'match') || (x.siem !== undefined && x.siem.status !== 'match'));
    const delivered = s.windows.reduce((a, x) => a + (x.source?.ledger?.delivered ?? x.siem?.delivered ?? 0), 0);
    w(`sink ${s.sink} (${s.type}): ${s.windows.length} windows, ${delivered} events delivered per the ledger, ${bad.length} differ; SIEM ${s.siem}`);
    if (bad.length > 0) {
      w(`  ${'window'.padEnd(27)}  ${'against'.padEnd(7)}  ${'status'.padEnd(7)}  detail`);
      for (const x of bad) {
        if (x.source !== undefined && x.source.status !== 'match') w(`  ${x.from}  ${'source'.padEnd(7)}  ${x.source.status.padEnd(7)}  ${x.source.detail}`);
        if (x.siem !== undefined && x.siem.status !== 'match') {
          w(`  ${x.from}  ${'siem'.padEnd(7)}  ${x.siem.status.padEnd(7)}  ${x.siem.detail}`);
          if (x.siem.missingIds !== undefined && x.siem.missingIds.length > 0) w(`      missing in the SIEM: ${x.siem.missingIds.join(', ')}`);
          if (x.siem.unexpectedIds !== undefined && x.siem.unexpectedIds.length > 0) w(`      in the SIEM, not at the source: ${x.siem.unexpectedIds.join(', ')}`);
        }
      }
    }
  }
  w(r.matched ? 'result: every window matches' : 'result: MISMATCH (see above)');
}
