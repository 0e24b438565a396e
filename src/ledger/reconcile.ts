// `reconcile`: compares, window by window, what the ledger says was delivered with what the source holds now and
// what the SIEM holds — the engine of src/cli/reconcile.ts, without its printing.
import type { Mapping, MappingOptions } from '../contracts/mapping.ts';
import type { Source, TimeRange } from '../contracts/source.ts';
import type { SinkQuery, SinkQueryScope } from '../contracts/sink-query.ts';
import { canonicalEpochSeconds, formatEpochMicros, isCanonicalTime } from '../model/time.ts';
import type { EventSelection } from '../pipeline/selection.ts';
import { contentOf, zero, type Counts, type LaneLedgerState } from './accountant.ts';
import { eventHash, eventKey, WindowDigest } from './digest.ts';
import type { LedgerEntry } from './entry.ts';

/** What the ledger holds for one window of one sink: its entries (the window's and its late parts) summed. */
export interface LedgerWindow {
  readonly counts: Counts;
  readonly digest: WindowDigest;
  /** Entries summed (1 + late parts). */
  parts: number;
  /** Sequence numbers of those entries (for the report). */
  readonly seqs: number[];
}

/** What the source holds now for one window, for one sink (its mapping decides what would be sent). */
export interface SourceWindow {
  /** Events with an event time in the window. */
  read: number;
  /** Of them, chosen by the route's selection. */
  selected: number;
  /** Of them, mapped for this sink and not in the dead-letter file as refused by it: what the SIEM should hold. */
  expected: number;
  /** Mapped, but refused by the sink (dead-lettered, `FWD_SINK_REJECTED`). */
  rejected: number;
  readonly digest: WindowDigest;
  /** Distinct event keys (see accountant: first 48 bits of the event hash). */
  readonly seen: Set<number>;
  /** The expected event ids, kept only for windows asked for (`keepIdsOf`). */
  ids?: Set<string>;
}

export type WindowStatus = 'match' | 'open' | 'missing' | 'count' | 'digest';

export interface WindowReport {
  readonly sink: string;
  readonly from: string;
  readonly to: string;
  /** Against the source. */
  source?: { status: WindowStatus; detail: string; ledger?: Counts; now?: Omit<SourceWindow, 'digest' | 'seen' | 'ids'>; digest?: { ledger: string; source: string } };
  /** Against the SIEM. */
  siem?: { status: 'match' | 'count' | 'open'; detail: string; delivered: number; held: number; missingIds?: string[]; unexpectedIds?: string[] };
}

export function windowIndex(time: string, windowSeconds: number): number {
  return Math.floor(canonicalEpochSeconds(time) / windowSeconds);
}

export function windowStart(index: number, windowSeconds: number): string {
  return formatEpochMicros(BigInt(index * windowSeconds) * 1_000_000n);
}

/** `range` widened to whole windows: `from` down, `to` up. */
export function alignRange(range: TimeRange, windowSeconds: number): TimeRange {
  const from = windowIndex(range.from, windowSeconds);
  const last = windowIndex(range.to, windowSeconds);
  const to = canonicalEpochSeconds(range.to) % windowSeconds === 0 && range.to.endsWith('.000000Z') ? last : last + 1;
  return { from: windowStart(from, windowSeconds), to: windowStart(to, windowSeconds) };
}

/** The ledger's windows over `range` (aligned), per sink then window start. */
export function ledgerWindows(entries: readonly LedgerEntry[], range: TimeRange): Map<string, Map<string, LedgerWindow>> {
  const out = new Map<string, Map<string, LedgerWindow>>();
  for (const e of entries) {
    if (e.window.from < range.from || e.window.from >= range.to) continue;
    let bySink = out.get(e.sink);
    if (bySink === undefined) out.set(e.sink, (bySink = new Map()));
    let w = bySink.get(e.window.from);
    if (w === undefined) bySink.set(e.window.from, (w = { counts: zero(), digest: new WindowDigest(), parts: 0, seqs: [] }));
    for (const k of Object.keys(w.counts) as (keyof Counts)[]) w.counts[k] += e.counts[k];
    w.digest.addDigest(WindowDigest.fromHex(e.digest));
    w.parts++;
    w.seqs.push(e.seq);
  }
  return out;
}

/** Windows still open in a lane's checkpoint (not written to the ledger yet), by start. */
export function openWindows(state: LaneLedgerState | undefined): Set<string> {
  return new Set((state?.open ?? []).map((w) => w.from));
}

export interface SourcePassOptions {
  readonly source: Source;
  readonly range: TimeRange;
  readonly windowSeconds: number;
  readonly selection: EventSelection;
  /** Per sink: its mapping and the route's options. */
  readonly sinks: ReadonlyArray<{ readonly name: string; readonly mapping: Mapping; readonly options: MappingOptions; readonly refused: ReadonlySet<string> }>;
  /** Windows (per sink, by start) whose expected ids are wanted. */
  readonly keepIdsOf?: ReadonlyMap<string, ReadonlySet<string>>;
  readonly signal: AbortSignal;
  /** Told of each chunk read: events read so far and the newest event time. */
  readonly onProgress?: (read: number, last: string | undefined) => void;
}

/** Re-reads the range from the source, as a replay dry run does, and derives per sink and window what should be delivered. */
export async function sourceWindows(o: SourcePassOptions): Promise<Map<string, Map<string, SourceWindow>>> {
  const out = new Map<string, Map<string, SourceWindow>>(o.sinks.map((s) => [s.name, new Map()]));
  let read = 0;
  let last: string | undefined;
  const select = { includeTypes: o.selection.includeTypes, excludeTypes: o.selection.excludeTypes };
  for await (const chunk of o.source.read(undefined, { signal: o.signal, range: o.range, select })) {
    for (const rec of chunk) {
      if (!rec.decoded.ok) continue;
      const event = rec.decoded.event;
      if (!isCanonicalTime(event.time) || event.time < o.range.from || event.time >= o.range.to) continue;
      read++;
      last = event.time;
      const from = windowStart(windowIndex(event.time, o.windowSeconds), o.windowSeconds);
      const selected = o.selection.selects(event);
      let hash: Uint8Array | undefined;
      for (const s of o.sinks) {
        const bySink = out.get(s.name)!;
        let w = bySink.get(from);
        if (w === undefined) {
          w = { read: 0, selected: 0, expected: 0, rejected: 0, digest: new WindowDigest(), seen: new Set() };
          if (o.keepIdsOf?.get(s.name)?.has(from) === true) w.ids = new Set();
          bySink.set(from, w);
        }
        w.read++;
        if (!selected) continue;
        w.selected++;
        let kind: string;
        try {
          kind = s.mapping.map(event, s.options).kind;
        } catch {
          kind = 'invalid';
        }
        if (kind !== 'mapped') continue;
        if (s.refused.has(event.id)) {
          w.rejected++;
          continue;
        }
        hash ??= eventHash(event.id, contentOf(rec.rawText ?? event));
        const key = eventKey(hash);
        if (w.seen.has(key)) continue;
        w.seen.add(key);
        w.expected++;
        w.digest.add(hash);
        w.ids?.add(event.id);
      }
    }
    o.onProgress?.(read, last);
  }
  return out;
}

/** Compares the ledger with the source, per window of every sink. */
export function compareWithSource(
  sink: string,
  ledger: ReadonlyMap<string, LedgerWindow> | undefined,
  source: ReadonlyMap<string, SourceWindow>,
  open: ReadonlySet<string>,
  windowSeconds: number,
): WindowReport[] {
  const starts = new Set([...(ledger?.keys() ?? []), ...source.keys()]);
  const reports: WindowReport[] = [];
  for (const from of [...starts].sort()) {
    const l = ledger?.get(from);
    const s = source.get(from);
    const to = windowStart(windowIndex(from, windowSeconds) + 1, windowSeconds);
    const now = s === undefined ? undefined : { read: s.read, selected: s.selected, expected: s.expected, rejected: s.rejected };
    let status: WindowStatus;
    let detail: string;
    if (l === undefined) {
      if (s === undefined || s.read === 0) continue;
      status = open.has(from) ? 'open' : 'missing';
      detail =
        status === 'open'
          ? `window not closed yet (its ${s.expected} events are counted in the checkpoint, not yet in the ledger)`
          : `the source holds ${s.read} events here (${s.expected} to deliver) and the ledger has no entry: never forwarded, or the ledger lost it`;
    } else {
      const expected = s?.expected ?? 0;
      const sourceDigest = s?.digest ?? new WindowDigest();
      if (l.counts.delivered !== expected) {
        status = 'count';
        const diff = expected - l.counts.delivered;
        detail =
          diff > 0
            ? `the source holds ${diff} more event(s) to deliver than the ledger says were delivered (${expected} against ${l.counts.delivered}): added at the source after forwarding, or never forwarded`
            : `the ledger says ${l.counts.delivered} were delivered, the source now holds ${expected}: ${-diff} event(s) deleted at the source after forwarding`;
      } else if (!l.digest.equals(sourceDigest)) {
        status = 'digest';
        detail = `same count (${expected}), different digest: an event was altered at the source after it was forwarded (or forwarded altered)`;
      } else {
        status = 'match';
        detail = `${expected} delivered`;
      }
    }
    reports.push({
      sink,
      from,
      to,
      source: {
        status,
        detail,
        ...(l !== undefined ? { ledger: l.counts } : {}),
        ...(now !== undefined ? { now } : {}),
        ...(status === 'digest' ? { digest: { ledger: l!.digest.toHex(), source: (s?.digest ?? new WindowDigest()).toHex() } } : {}),
      },
    });
  }
  return reports;
}

/** Compares the ledger's delivered counts with what the SIEM holds, per window; names no ids (see `nameIds`). */
export function compareWithSiem(
  sink: string,
  ledger: ReadonlyMap<string, LedgerWindow> | undefined,
  held: ReadonlyMap<string, number>,
  open: ReadonlySet<string>,
  windowSeconds: number,
): WindowReport[] {
  const starts = new Set([...(ledger?.keys() ?? []), ...held.keys()]);
  const reports: WindowReport[] = [];
  for (const from of [...starts].sort()) {
    const delivered = ledger?.get(from)?.counts.delivered ?? 0;
    const count = held.get(from) ?? 0;
    if (delivered === 0 && count === 0) continue;
    const to = windowStart(windowIndex(from, windowSeconds) + 1, windowSeconds);
    let status: 'match' | 'count' | 'open';
    let detail: string;
    if (ledger?.get(from) === undefined && open.has(from)) {
      status = 'open';
      detail = `window not closed yet: the SIEM holds ${count}`;
    } else if (delivered === count) {
      status = 'match';
      detail = `${count} held`;
    } else {
      status = 'count';
      detail = count < delivered ? `the SIEM holds ${count} of the ${delivered} delivered: ${delivered - count} missing` : `the SIEM holds ${count}, ${count - delivered} more than the ${delivered} delivered`;
    }
    reports.push({ sink, from, to, siem: { status, detail, delivered, held: count } });
  }
  return reports;
}

/** Names the ids of a window that differs: expected (from the source) but not held, and held but not expected. */
export function nameIds(report: WindowReport, expected: ReadonlySet<string> | undefined, held: readonly string[]): void {
  if (report.siem === undefined || expected === undefined) return;
  const heldSet = new Set(held);
  report.siem.missingIds = [...expected].filter((id) => !heldSet.has(id)).sort();
  report.siem.unexpectedIds = held.filter((id) => !expected.has(id)).sort();
}

/** What the SIEM holds per window of one sink (window start → distinct ids). */
export async function siemWindows(query: SinkQuery, range: TimeRange, windowSeconds: number, scope: SinkQueryScope, signal: AbortSignal): Promise<Map<string, number>> {
  const counts = await query.countByWindow(range, windowSeconds * 1000, scope, signal);
  return new Map(counts.map((c) => [c.from, c.count]));
}
