// Ordered acknowledgement: batches finish in any order, the committed position only moves over a contiguous prefix.
import type { Position } from '../contracts/source.ts';

/**
 * Rules: `register()` in read order returns a sequence number; `complete(seq, …)` may come in any order;
 * `onAdvance` is called with the position of the last batch of the longest finished prefix, and the
 * number of records that prefix adds, never for a batch with an unfinished predecessor.
 */
export class OrderedAcker<T = never> {
  private next = 0;
  private committedUpTo = 0;
  private readonly finished = new Map<number, { position: Position; records: number; note: T | undefined }>();
  private readonly onAdvance: (position: Position, records: number, notes: T[]) => void;

  /** `notes`: what `complete` was given with each batch of the prefix (those given one), in order. */
  constructor(onAdvance: (position: Position, records: number, notes: T[]) => void) {
    this.onAdvance = onAdvance;
  }

  register(): number {
    return this.next++;
  }

  complete(seq: number, position: Position, records: number, note?: T): void {
    if (seq < this.committedUpTo || seq >= this.next || this.finished.has(seq)) {
      throw new TypeError(`batch ${seq} completed twice or never registered`);
    }
    this.finished.set(seq, { position, records, note });
    let last: Position | undefined;
    let added = 0;
    const notes: T[] = [];
    for (let s = this.committedUpTo; this.finished.has(s); s++) {
      const f = this.finished.get(s)!;
      this.finished.delete(s);
      last = f.position;
      added += f.records;
      if (f.note !== undefined) notes.push(f.note);
      this.committedUpTo = s + 1;
    }
    if (last !== undefined) this.onAdvance(last, added, notes);
  }

  /** Batches registered and not yet part of the committed prefix. */
  get pending(): number {
    return this.next - this.committedUpTo;
  }
}
