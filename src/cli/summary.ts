// Prints how each lane ended, with the status counts that add up to what was read.
import type { LaneSummary } from '../pipeline/runner.ts';

export function formatSummary(lanes: readonly LaneSummary[]): string {
  const rows = lanes.map((l) => {
    const c = l.counters;
    const counts = `read ${c.read}, delivered ${c.delivered}, skipped ${c.skipped}, rejected ${c.rejected}, dead-lettered ${c.dead_lettered}`;
    const extra = c.inFlight > 0 ? `, not committed ${c.inFlight}` : '';
    const err = l.error !== undefined ? `\n    error: ${l.error}` : '';
    const stats = l.sourceStats === undefined ? '' : `\n    source: ${Object.entries(l.sourceStats).map(([k, v]) => `${k} ${v}`).join(', ')}`;
    const chunks = (l.replayReport ?? []).map((r) => `\n    ${r.from} – ${r.to}: read ${r.read}, committed ${r.committed}`).join('');
    return `  ${l.route} → ${l.sink}: ${l.state}; ${counts}${extra}${c.retries > 0 ? `; ${c.retries} retries` : ''}${err}${stats}${chunks}`;
  });
  return `${rows.join('\n')}\n`;
}
