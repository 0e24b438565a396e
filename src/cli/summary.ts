// Prints how each lane ended, with the status counts that add up to what was read.
import type { ReplayChunkReport } from '../contracts/source.ts';
import type { LaneSummary } from '../pipeline/runner.ts';

/** How one lane ended, on one line: `r1 → archive: finished; read 48, delivered 45, …` (the status words). */
export function laneSummaryLine(l: LaneSummary): string {
  const c = l.counters;
  const counts = `read ${c.read}, delivered ${c.delivered}, skipped ${c.skipped}, rejected ${c.rejected}, dead-lettered ${c.dead_lettered}`;
  const extra = c.inFlight > 0 ? `, not committed ${c.inFlight}` : '';
  const retries = `${c.retries > 0 ? `; ${c.retries} retries` : ''}${c.sourceRetries > 0 ? `; ${c.sourceRetries} source retries` : ''}`;
  return `${l.route} → ${l.sink}: ${l.state}; ${counts}${extra}${retries}`;
}

/** The same as fields of a log line (`run`'s summary): the counts under the status vocabulary's names. */
export function laneSummaryFields(l: LaneSummary): Record<string, unknown> {
  const c = l.counters;
  return {
    route: l.route,
    sink: l.sink,
    state: l.state,
    read: c.read,
    delivered: c.delivered,
    skipped: c.skipped,
    rejected: c.rejected,
    dead_lettered: c.dead_lettered,
    not_committed: c.inFlight,
    retries: c.retries,
    source_retries: c.sourceRetries,
    ...(l.error !== undefined ? { err: l.error } : {}),
    ...(l.sourceStats !== undefined ? { source: l.sourceStats } : {}),
  };
}

/** For interactive commands (`replay`, `dlq redrive`): each lane's line, its error, source counters and chunks. */
export function formatSummary(lanes: readonly LaneSummary[]): string {
  const rows = lanes.map((l) => {
    const err = l.error !== undefined ? `\n    error: ${l.error}` : '';
    const stats = l.sourceStats === undefined ? '' : `\n    source: ${Object.entries(l.sourceStats).map(([k, v]) => `${k} ${v}`).join(', ')}`;
    return `  ${laneSummaryLine(l)}${err}${stats}${formatChunks(l.replayReport ?? [])}`;
  });
  return `${rows.join('\n')}\n`;
}

/** A replay's chunks, one line each, but runs of chunks with nothing read in this run folded into one line. */
function formatChunks(report: readonly ReplayChunkReport[]): string {
  let out = '';
  for (let i = 0; i < report.length; ) {
    const r = report[i]!;
    let j = i;
    while (r.read === 0 && j + 1 < report.length && report[j + 1]!.read === 0) j++;
    const last = report[j]!;
    const what = j > i ? ` (${j - i + 1} chunks)` : '';
    out += `\n    ${r.from} – ${last.to}${what}: read ${r.read}, committed ${j > i ? report.slice(i, j + 1).reduce((a, c) => a + c.committed, 0) : r.committed}`;
    i = j + 1;
  }
  return out;
}
