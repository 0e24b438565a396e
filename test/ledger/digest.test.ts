// The completeness digest: SHA-256 per event, summed mod 2^256 — checked against BigInt arithmetic, and independent of order and batching.
import { createHash, randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { eventHash, WindowDigest } from '../../src/ledger/digest.ts';

const MOD = 1n << 256n;
const toBig = (bytes: Uint8Array): bigint => BigInt(`0x${Buffer.from(bytes).toString('hex')}`);
const toHex = (n: bigint): string => n.toString(16).padStart(64, '0');

/** The reference: the sum of the hashes as big-endian integers, modulo 2^256, in BigInt. */
function referenceHex(hashes: readonly Uint8Array[]): string {
  let sum = 0n;
  for (const h of hashes) sum = (sum + toBig(h)) % MOD;
  return toHex(sum);
}

function digestOf(hashes: readonly Uint8Array[]): WindowDigest {
  const d = new WindowDigest();
  for (const h of hashes) d.add(h);
  return d;
}

const hash32 = fc.uint8Array({ minLength: 32, maxLength: 32 });
/** Hashes near the carries: all 0xff, all 0x00, 0xff words with one low bit. */
const edgy = fc.oneof(
  hash32,
  fc.constant(new Uint8Array(32).fill(0xff)),
  fc.constant(new Uint8Array(32)),
  fc.integer({ min: 0, max: 31 }).map((i) => {
    const h = new Uint8Array(32).fill(0xff);
    h[i] = 0xfe;
    return h;
  }),
);

describe('eventHash', () => {
  it('is SHA-256 of UTF-8(id) ‖ 0x00 ‖ UTF-8(content)', () => {
    for (const [id, content] of [
      ['evt-1', '{"a":1}'],
      ['', ''],
      ['ünïcødé-☃', 'line with 🚀 and \u0000 inside'],
      // Lone surrogates (each written as U+FFFD) must not pair up across the separator.
      ['id-\ud83d', '\ude80-content'],
    ] as const) {
      const expected = createHash('sha256')
        .update(Buffer.concat([Buffer.from(id, 'utf8'), Buffer.from([0]), Buffer.from(content, 'utf8')]))
        .digest();
      const h = eventHash(id, content);
      expect(h).toHaveLength(32);
      expect(Buffer.from(h).equals(expected)).toBe(true);
    }
  });

  it('keeps the boundary between id and content', () => {
    expect(Buffer.from(eventHash('ab', 'c')).equals(Buffer.from(eventHash('a', 'bc')))).toBe(false);
  });
});

describe('WindowDigest', () => {
  it('is 64 zeros when empty', () => {
    expect(new WindowDigest().toHex()).toBe('0'.repeat(64));
    expect(new WindowDigest().isZero()).toBe(true);
  });

  it('equals the BigInt sum mod 2^256 on random hashes', () => {
    const hashes = Array.from({ length: 5000 }, () => randomBytes(32));
    const d = new WindowDigest();
    for (let i = 0; i < hashes.length; i++) {
      d.add(hashes[i]!);
      if (i % 499 === 0) expect(d.toHex()).toBe(referenceHex(hashes.slice(0, i + 1)));
    }
    expect(d.toHex()).toBe(referenceHex(hashes));
  });

  it('equals the BigInt sum across every carry and the wrap past 2^256', () => {
    fc.assert(
      fc.property(fc.array(edgy, { maxLength: 40 }), (hashes) => {
        expect(digestOf(hashes).toHex()).toBe(referenceHex(hashes));
      }),
      { numRuns: 2000 },
    );
    const ones = new Uint8Array(32).fill(0xff);
    const one = new Uint8Array(32);
    one[31] = 1;
    // (2^256 − 1) + 1 wraps to zero; + (2^256 − 1) again is 2^256 − 1.
    const d = digestOf([ones, one]);
    expect(d.toHex()).toBe('0'.repeat(64));
    d.add(ones);
    expect(d.toHex()).toBe('f'.repeat(64));
  });

  it('reads the hash bytes where they are (a view into a larger buffer)', () => {
    const big = randomBytes(100);
    const view = big.subarray(7, 39);
    expect(digestOf([view]).toHex()).toBe(referenceHex([Buffer.from(view)]));
    expect(digestOf([new Uint8Array(big.buffer, big.byteOffset + 7, 32)]).toHex()).toBe(referenceHex([view]));
  });

  it('does not depend on the order of the events', () => {
    fc.assert(
      fc.property(
        fc.array(edgy, { minLength: 1, maxLength: 60 }).chain((hashes) => fc.tuple(fc.constant(hashes), fc.shuffledSubarray(hashes, { minLength: hashes.length }))),
        ([hashes, shuffled]) => {
          const a = digestOf(hashes);
          const b = digestOf(shuffled);
          expect(b.toHex()).toBe(a.toHex());
          expect(a.equals(b)).toBe(true);
        },
      ),
      { numRuns: 1000 },
    );
  });

  it('does not depend on how the events are split into batches (sub-digests summed with addDigest)', () => {
    fc.assert(
      fc.property(fc.array(edgy, { maxLength: 60 }), fc.array(fc.nat(), { maxLength: 10 }), (hashes, cutsRaw) => {
        const cuts = [...new Set(cutsRaw.map((c) => (hashes.length === 0 ? 0 : c % (hashes.length + 1))))].sort((x, y) => x - y);
        const bounds = [0, ...cuts, hashes.length];
        const total = new WindowDigest();
        for (let i = 0; i + 1 < bounds.length; i++) total.addDigest(digestOf(hashes.slice(bounds[i], bounds[i + 1])));
        expect(total.toHex()).toBe(digestOf(hashes).toHex());
      }),
      { numRuns: 1000 },
    );
  });

  it('addDigest leaves the other digest unchanged; clone is independent', () => {
    const a = digestOf([randomBytes(32)]);
    const b = digestOf([randomBytes(32)]);
    const bHex = b.toHex();
    const c = a.clone();
    a.addDigest(b);
    expect(b.toHex()).toBe(bHex);
    expect(c.equals(a)).toBe(false);
    c.addDigest(b);
    expect(c.equals(a)).toBe(true);
  });

  it('round-trips through hex (either case in, lowercase out)', () => {
    fc.assert(
      fc.property(fc.array(edgy, { maxLength: 10 }), (hashes) => {
        const d = digestOf(hashes);
        const hex = d.toHex();
        expect(hex).toMatch(/^[0-9a-f]{64}$/);
        expect(WindowDigest.fromHex(hex).toHex()).toBe(hex);
        expect(WindowDigest.fromHex(hex.toUpperCase()).equals(d)).toBe(true);
      }),
    );
    // A digest read back goes on adding.
    const h = randomBytes(32);
    const restored = WindowDigest.fromHex(digestOf([h]).toHex());
    restored.add(h);
    expect(restored.toHex()).toBe(referenceHex([h, h]));
  });

  it('refuses anything but 64 hex digits', () => {
    for (const bad of ['', '0'.repeat(63), '0'.repeat(65), `${'0'.repeat(63)}g`, ` ${'0'.repeat(64)}`, `0x${'0'.repeat(62)}`, `${'0'.repeat(64)}\n`]) {
      expect(() => WindowDigest.fromHex(bad), JSON.stringify(bad)).toThrow(TypeError);
    }
    expect(() => WindowDigest.fromHex(42 as unknown as string)).toThrow(TypeError);
  });

  it('refuses an event hash that is not 32 bytes', () => {
    const d = new WindowDigest();
    expect(() => d.add(new Uint8Array(31))).toThrow(TypeError);
    expect(() => d.add(new Uint8Array(33))).toThrow(TypeError);
    expect(d.toHex()).toBe('0'.repeat(64));
  });
});
