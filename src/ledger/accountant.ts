// Per lane (route × sink): what each window of event time read, and what of it each status ended as, for the ledger.
//
// The lane hands over, at each ordered commit, the tallies of the batches that commit covers: every record
// counted there has ended (delivered, skipped, rejected or dead-lettered), so a window's counts only ever hold
// acknowledged facts. Windows close when the committed event time has passed their end by `latenessMs` (or, with
// nothing pending, when the clock has); an event for a window already closed opens a `late` part of it. The open
// windows are saved with the lane's checkpoint (`state()`), in the same atomic write as its position, so that a
// crash never counts a record twice nor loses one: a restart resumes both from the same point.
import { canonicalEpochSeconds, formatEpochMicros, isCanonicalTime } from '../model/time.ts';
import { jsonText } from '../model/json.ts';
import type { AuditEvent } from '../model/audit-event.ts';
import { eventHash, eventKey, WindowDigest } from './digest.ts';
import type { LedgerCounts, LedgerEntryInput } from './entry.ts';

export type Counts = { -readonly [K in keyof LedgerCounts]: number };

/** Counts of nothing yet. */
export const zero = (): Counts => ({ read: 0, selected: 0, delivered: 0, skipped: 0, rejected: 0, dead_lettered: 0 });

/** How a record read into a batch ended before being sent (the others are sent: delivered or rejected later). */
export type EarlyStatus = 'skipped' | 'dead_lettered';

/**
 * What one batch contributes to the ledger: counts of the records that ended before sending, by window, and the
 * window of each record sent (index for index with the batch's records); the lane adds the delivered records'
 * hashes once the send ended (`settle`).
 */
export class BatchTally {
  readonly windows = new Map<number, Counts>();
  readonly sentWindows: number[] = [];
  /** Per delivered record: its window and its event hash, set by `settle`. */
  delivered: Array<{ readonly window: number; readonly hash: Uint8Array }> = [];
  rejected: number[] = [];
  /** The newest event time among the batch's records (canonical), if any had one. */
  newest: string | undefined;

  private counts(window: number): Counts {
    let c = this.windows.get(window);
    if (c === undefined) this.windows.set(window, (c = zero()));
    return c;
  }

  /** A record that ended before sending: `selected` when the route's selection chose it (a mapping refused it). */
  early(window: number, status: EarlyStatus, selected: boolean): void {
    const c = this.counts(window);
    c.read++;
    if (selected) c.selected++;
    c[status]++;
  }

  /** A record sent to the sink (selected and mapped). */
  sent(window: number): void {
    const c = this.counts(window);
    c.read++;
    c.selected++;
    this.sentWindows.push(window);
  }

  /**
   * The send ended: `refused` holds the indexes of the records the sink rejected (dead-lettered); every other is
   * delivered, with its hash from its id and content (the line it was read as, or its raw record).
   */
  settle(records: ReadonlyArray<{ readonly eventId: string }>, origins: ReadonlyArray<AuditEvent | string>, refused: ReadonlySet<number>): void {
    for (let i = 0; i < records.length; i++) {
      const window = this.sentWindows[i]!;
      if (refused.has(i)) this.rejected.push(window);
      else this.delivered.push({ window, hash: eventHash(records[i]!.eventId, contentOf(origins[i]!)) });
    }
  }
}

/** What the digest covers for one event: the record as the source gave it (its line), or its raw record as JSON. */
export function contentOf(origin: AuditEvent | string): string {
  return typeof origin === 'string' ? origin : jsonText(origin.raw);
}

/** One open window (or late part) as saved in the checkpoint. */
export interface SavedWindow {
  readonly from: string;
  readonly part: number;
  readonly counts: LedgerCounts;
  readonly digest: string;
}

/** The ledger state of one lane, saved with its checkpoint position. */
export interface LaneLedgerState {
  readonly v: 1;
  readonly open: readonly SavedWindow[];
  /** Start of the newest window closed so far (undefined: none yet). */
  readonly closedThrough?: string;
  /** Windows that received late parts, with their last part number (the most recent ones only). */
  readonly lateParts?: Readonly<Record<string, number>>;
  /** The newest event time committed (the watermark that closes windows). */
  readonly highWater?: string;
}

interface OpenWindow {
  readonly index: number;
  readonly part: number;
  readonly counts: Counts;
  readonly digest: WindowDigest;
  /** Distinct delivered events of this part: the first 48 bits of their hash (see docs/completeness.md). */
  readonly seen: Set<number>;
  /** For a late part: the watermark when it opened (it closes once the watermark moved one window on). */
  readonly openedAt: number;
}

export interface AccountantOptions {
  readonly route: string;
  readonly sink: string;
  /** Window length in whole seconds. */
  readonly windowSeconds: number;
  /** How far (seconds) the committed event time must pass a window's end before it closes. */
  readonly latenessSeconds: number;
  readonly restored?: LaneLedgerState | undefined;
  /** Late-part counters kept (the most recent windows); default 1,024. */
  readonly maxLateParts?: number;
}

const MAX_LATE_PARTS = 1024;

export class LaneAccountant {
  private readonly opts: AccountantOptions;
  /** Open windows and late parts, by `index` (a late part of a closed window: key `-(index + 1)`… see keyOf). */
  private readonly open = new Map<string, OpenWindow>();
  private closedThrough: number | undefined;
  private readonly lateParts = new Map<number, number>();
  /** Newest committed event time, in seconds (NaN before any). */
  private highWater = Number.NaN;

  constructor(options: AccountantOptions) {
    if (!Number.isSafeInteger(options.windowSeconds) || options.windowSeconds < 1) throw new TypeError('windowSeconds must be a positive integer');
    this.opts = options;
    const r = options.restored;
    if (r !== undefined) this.restore(r);
  }

  /** The window a canonical event time falls in (`undefined` for a time that is not canonical: none known). */
  windowOf(time: string | undefined): number | undefined {
    if (time === undefined || !isCanonicalTime(time)) return undefined;
    return Math.floor(canonicalEpochSeconds(time) / this.opts.windowSeconds);
  }

  /** The window a record with no event time (undecodable) is counted in: the newest one committed, else now's. */
  fallbackWindow(nowMs: number): number {
    if (!Number.isNaN(this.highWater)) return Math.floor(this.highWater / this.opts.windowSeconds);
    return Math.floor(nowMs / 1000 / this.opts.windowSeconds);
  }

  /** Adds the tallies of batches whose records all ended, in commit order; `newest` is the newest event time among them. */
  apply(tally: BatchTally, newest: string | undefined = tally.newest): void {
    const early = tally.windows;
    for (const [index, c] of early) {
      const w = this.windowFor(index);
      const t = w.counts;
      t.read += c.read;
      t.selected += c.selected;
      t.skipped += c.skipped;
      t.dead_lettered += c.dead_lettered;
    }
    for (const index of tally.rejected) this.windowFor(index).counts.rejected++;
    for (const d of tally.delivered) {
      const w = this.windowFor(d.window);
      const h = d.hash;
      const key = eventKey(h);
      if (w.seen.has(key)) {
        // A second copy of an event already delivered in this window: delivered once, counted as skipped.
        w.counts.skipped++;
        continue;
      }
      w.seen.add(key);
      w.counts.delivered++;
      w.digest.add(h);
    }
    if (newest !== undefined && isCanonicalTime(newest)) {
      const s = canonicalEpochSeconds(newest);
      if (Number.isNaN(this.highWater) || s > this.highWater) this.highWater = s;
    }
  }

  /**
   * Closes the windows the watermark has passed by `latenessSeconds` (with `idleNowMs`, the lane has nothing
   * pending: the clock is the watermark too, and every late part closes). Returns their entries, oldest first;
   * they leave the state.
   */
  close(closedAt: string, idleNowMs?: number): LedgerEntryInput[] {
    const ws = this.opts.windowSeconds;
    let mark = this.highWater;
    if (idleNowMs !== undefined) mark = Number.isNaN(mark) ? idleNowMs / 1000 : Math.max(mark, idleNowMs / 1000);
    if (Number.isNaN(mark)) return [];
    const ready: OpenWindow[] = [];
    for (const w of this.open.values()) {
      const due = w.part === 0 ? (w.index + 1) * ws + this.opts.latenessSeconds <= mark : idleNowMs !== undefined || mark >= w.openedAt + ws;
      if (due) ready.push(w);
    }
    ready.sort((a, b) => a.index - b.index || a.part - b.part);
    const entries: LedgerEntryInput[] = [];
    for (const w of ready) {
      this.open.delete(keyOf(w.index, w.part));
      if (w.part === 0) this.closedThrough = this.closedThrough === undefined ? w.index : Math.max(this.closedThrough, w.index);
      entries.push({
        route: this.opts.route,
        sink: this.opts.sink,
        window: { from: this.startOf(w.index), to: this.startOf(w.index + 1) },
        part: w.part,
        late: w.part > 0,
        counts: { ...w.counts },
        digest: w.digest.toHex(),
        closedAt,
      });
    }
    return entries;
  }

  /** Open windows or parts. */
  get openWindows(): number {
    return this.open.size;
  }

  /** What the checkpoint saves: open windows with their counts and digests (not their id sets, see the docs). */
  state(): LaneLedgerState {
    const open: SavedWindow[] = [...this.open.values()]
      .sort((a, b) => a.index - b.index || a.part - b.part)
      .map((w) => ({ from: this.startOf(w.index), part: w.part, counts: { ...w.counts }, digest: w.digest.toHex() }));
    return {
      v: 1,
      open,
      ...(this.closedThrough !== undefined ? { closedThrough: this.startOf(this.closedThrough) } : {}),
      ...(this.lateParts.size > 0 ? { lateParts: Object.fromEntries([...this.lateParts].map(([i, p]) => [this.startOf(i), p])) } : {}),
      ...(!Number.isNaN(this.highWater) ? { highWater: formatEpochMicros(BigInt(this.highWater) * 1_000_000n) } : {}),
    };
  }

  private startOf(index: number): string {
    return formatEpochMicros(BigInt(index * this.opts.windowSeconds) * 1_000_000n);
  }

  /** The open window (or late part) a record of window `index` counts in, opening it when needed. */
  private windowFor(index: number): OpenWindow {
    const main = this.open.get(keyOf(index, 0));
    if (main !== undefined) return main;
    const closed = this.closedThrough !== undefined && index <= this.closedThrough;
    if (!closed) return this.openWindow(index, 0);
    // A window already closed: its latest open late part, or a new one.
    const last = this.lateParts.get(index) ?? 0;
    const part = this.open.get(keyOf(index, last));
    if (part !== undefined && last > 0) return part;
    this.lateParts.delete(index);
    this.lateParts.set(index, last + 1);
    if (this.lateParts.size > (this.opts.maxLateParts ?? MAX_LATE_PARTS)) this.lateParts.delete(this.lateParts.keys().next().value!);
    return this.openWindow(index, last + 1);
  }

  private openWindow(index: number, part: number): OpenWindow {
    const w: OpenWindow = { index, part, counts: zero(), digest: new WindowDigest(), seen: new Set(), openedAt: Number.isNaN(this.highWater) ? 0 : this.highWater };
    this.open.set(keyOf(index, part), w);
    return w;
  }

  private restore(r: LaneLedgerState): void {
    const index = (from: string): number => {
      const i = this.windowOf(from);
      if (i === undefined) throw new TypeError(`ledger state: ${JSON.stringify(from)} is not a canonical time`);
      return i;
    };
    for (const s of r.open) {
      const w: OpenWindow = { index: index(s.from), part: s.part, counts: { ...zero(), ...s.counts }, digest: WindowDigest.fromHex(s.digest), seen: new Set(), openedAt: 0 };
      this.open.set(keyOf(w.index, w.part), w);
    }
    if (r.closedThrough !== undefined) this.closedThrough = index(r.closedThrough);
    for (const [from, part] of Object.entries(r.lateParts ?? {})) this.lateParts.set(index(from), part);
    if (r.highWater !== undefined) this.highWater = canonicalEpochSeconds(r.highWater);
    for (const w of this.open.values()) if (w.part > 0) (w as { openedAt: number }).openedAt = Number.isNaN(this.highWater) ? 0 : this.highWater;
  }
}

function keyOf(index: number, part: number): string {
  return `${index}/${part}`;
}

/** Checks a saved ledger state read from a checkpoint: an error message, or undefined when it is well formed. */
export function ledgerStateProblem(v: unknown): string | undefined {
  if (typeof v !== 'object' || v === null) return 'is not an object';
  const s = v as Record<string, unknown>;
  if (s['v'] !== 1) return 'has an unknown version';
  if (!Array.isArray(s['open'])) return 'has no list of open windows';
  for (const w of s['open'] as unknown[]) {
    const o = w as Record<string, unknown> | null;
    if (typeof o !== 'object' || o === null || !isCanonicalTime(o['from']) || !Number.isSafeInteger(o['part']) || typeof o['digest'] !== 'string' || !/^[0-9a-f]{64}$/.test(o['digest']) || typeof o['counts'] !== 'object' || o['counts'] === null) {
      return 'has a malformed open window';
    }
  }
  for (const k of ['closedThrough', 'highWater']) if (s[k] !== undefined && !isCanonicalTime(s[k])) return `has a malformed ${k}`;
  return undefined;
}
