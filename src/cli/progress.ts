// Replay progress: a redrawn bar on a terminal, plain periodic lines otherwise.
import type { LaneHandle } from '../pipeline/runner.ts';
import type { TimeRange } from '../contracts/source.ts';
import { toEpochMicros } from '../model/time.ts';

export interface ProgressReporter {
  stop(): void;
}

function fractionOf(lanes: readonly LaneHandle[], range: TimeRange): number | undefined {
  const fractions = lanes.map((l) => {
    const p = l.source.progress?.();
    if (p !== undefined && p.total > 0) return Math.min(1, p.done / p.total);
    const t = l.lane.counters.lastEventTime;
    if (t === undefined) return undefined;
    const from = toEpochMicros(range.from);
    const span = Number(toEpochMicros(range.to) - from);
    return span > 0 ? Math.max(0, Math.min(1, Number(toEpochMicros(t) - from) / span)) : undefined;
  });
  const known = fractions.filter((f): f is number => f !== undefined);
  return known.length === 0 ? undefined : Math.min(...known);
}

export function startProgress(lanes: readonly LaneHandle[], range: TimeRange, out: NodeJS.WriteStream = process.stderr): ProgressReporter {
  const tty = out.isTTY === true;
  const started = Date.now();
  const render = (): string => {
    const read = lanes.reduce((a, l) => a + l.lane.counters.read, 0);
    const delivered = lanes.reduce((a, l) => a + l.lane.counters.delivered, 0);
    const secs = Math.max(0.001, (Date.now() - started) / 1000);
    const rate = Math.round(read / secs);
    const f = fractionOf(lanes, range);
    const pct = f === undefined ? '  ?%' : `${(f * 100).toFixed(0).padStart(3)}%`;
    const last = lanes[0]?.lane.counters.lastEventTime ?? '-';
    if (!tty) return `replay ${pct} read=${read} delivered=${delivered} rate=${rate}/s at=${last}\n`;
    const width = 30;
    const filled = f === undefined ? 0 : Math.round(f * width);
    return `\r[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${pct} ${read} events (${delivered} delivered) ${rate}/s at ${last}\x1b[K`;
  };
  const timer = setInterval(() => out.write(render()), tty ? 200 : 5000);
  timer.unref();
  return {
    stop() {
      clearInterval(timer);
      out.write(render() + (tty ? '\n' : ''));
    },
  };
}
