// Ordered acknowledgement: the committed position only advances over a contiguous prefix of finished batches.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { OrderedAcker } from '../../src/pipeline/ordered-acker.ts';

describe('OrderedAcker', () => {
  it('waits for earlier batches before advancing', () => {
    const commits: Array<[unknown, number]> = [];
    const a = new OrderedAcker((p, n) => commits.push([p, n]));
    const s = [a.register(), a.register(), a.register()];
    a.complete(s[2]!, 'p3', 30);
    a.complete(s[1]!, 'p2', 20);
    expect(commits).toEqual([]);
    a.complete(s[0]!, 'p1', 10);
    expect(commits).toEqual([['p3', 60]]);
    expect(a.pending).toBe(0);
  });

  it('rejects a batch completed twice', () => {
    const a = new OrderedAcker(() => undefined);
    const s = a.register();
    a.complete(s, 1, 1);
    expect(() => a.complete(s, 1, 1)).toThrow(TypeError);
  });

  it('for any completion order, commits are increasing and end at the last batch', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 40 }).chain((n) => fc.shuffledSubarray([...Array(n).keys()], { minLength: n, maxLength: n })), (order) => {
        const commits: number[] = [];
        const a = new OrderedAcker((p) => commits.push(p as number));
        const seqs = order.map(() => a.register());
        const done = new Set<number>();
        for (const i of order) {
          a.complete(seqs[i]!, i, 1);
          done.add(i);
          // The committed position never passes an unfinished batch.
          const last = commits.at(-1);
          if (last !== undefined) for (let k = 0; k <= last; k++) expect(done.has(k)).toBe(true);
        }
        expect(commits.at(-1)).toBe(order.length - 1);
        expect([...commits].sort((x, y) => x - y)).toEqual(commits);
      }),
    );
  });
});
