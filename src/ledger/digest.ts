// Completeness digests: one SHA-256 per event, summed modulo 2^256 into an order-independent digest of a window's events.
import { hash as oneShotHash } from 'node:crypto';

/*
 * The digest of a set of events is the sum, modulo 2^256, of their event hashes read as 256-bit big-endian
 * unsigned integers. A sum does not depend on the order of its terms, and the digest of the union of two
 * disjoint sets is the sum of their digests: the forwarder adds each event as it is acknowledged, in whatever
 * order acknowledgements come, and an auditor recomputes the same value from the events found in the SIEM.
 * (A multiset: an event counted twice adds its hash twice.) See docs/completeness.md, "The ledger file format".
 */

const HEX_DIGEST = /^[0-9a-fA-F]{64}$/;
const WORDS = 8;

/**
 * The hash of one event: SHA-256 of UTF-8(eventId) ‖ 0x00 ‖ UTF-8(content), 32 bytes. `content` is the event's
 * record exactly as read from the source (the text an auditor can find again), `eventId` its id.
 */
export function eventHash(eventId: string, content: string): Uint8Array {
  // One string, one native call (the one-shot hash is faster than a Hash object per event): U+0000 is the single
  // byte 0x00 in UTF-8, and it keeps a lone surrogate at the end of the id from pairing with the content.
  return oneShotHash('sha256', `${eventId}\u0000${content}`, 'buffer');
}

/**
 * Order-independent digest of a multiset of event hashes: their sum modulo 2^256. Held as eight 32-bit words,
 * most significant first; `add` costs eight additions with carry (no BigInt, no allocation).
 */
export class WindowDigest {
  /** words[0] is the most significant. */
  private readonly words = new Uint32Array(WORDS);

  /**
   * Adds one event hash (32 bytes, as `eventHash` returns). Throws `TypeError` for anything but 32 bytes: a
   * shorter value would silently change what the digest means.
   */
  add(hash: Uint8Array): void {
    if (hash.length !== 32) throw new TypeError(`WindowDigest.add: an event hash is 32 bytes, got ${String(hash.length)}`);
    const w = this.words;
    let carry = 0;
    for (let i = WORDS - 1, j = 28; i >= 0; i--, j -= 4) {
      const term = ((hash[j]! << 24) | (hash[j + 1]! << 16) | (hash[j + 2]! << 8) | hash[j + 3]!) >>> 0;
      const sum = w[i]! + term + carry;
      w[i] = sum; // Uint32Array stores sum mod 2^32
      carry = sum > 0xffffffff ? 1 : 0;
    }
  }

  /** Adds another digest: the digest of the union of the two (disjoint) sets of events. `other` is unchanged. */
  addDigest(other: WindowDigest): void {
    const w = this.words;
    const o = other.words;
    let carry = 0;
    for (let i = WORDS - 1; i >= 0; i--) {
      const sum = w[i]! + o[i]! + carry;
      w[i] = sum;
      carry = sum > 0xffffffff ? 1 : 0;
    }
  }

  /** 64 lowercase hex digits, big-endian; the empty digest is 64 zeros. */
  toHex(): string {
    let hex = '';
    for (let i = 0; i < WORDS; i++) hex += this.words[i]!.toString(16).padStart(8, '0');
    return hex;
  }

  /** The digest written as 64 hex digits (either case). Throws `TypeError` for anything else. */
  static fromHex(hex: string): WindowDigest {
    if (typeof hex !== 'string' || !HEX_DIGEST.test(hex)) {
      throw new TypeError(`WindowDigest.fromHex: expected 64 hex digits, got ${JSON.stringify(typeof hex === 'string' ? hex.slice(0, 80) : hex)}`);
    }
    const digest = new WindowDigest();
    for (let i = 0; i < WORDS; i++) digest.words[i] = Number.parseInt(hex.slice(i * 8, i * 8 + 8), 16);
    return digest;
  }

  equals(other: WindowDigest): boolean {
    for (let i = 0; i < WORDS; i++) if (this.words[i] !== other.words[i]) return false;
    return true;
  }

  /** A copy that can be added to independently. */
  clone(): WindowDigest {
    const copy = new WindowDigest();
    copy.words.set(this.words);
    return copy;
  }

  /** True for the digest of no event (all zeros; a sum can also wrap to zero, with negligible probability). */
  isZero(): boolean {
    for (let i = 0; i < WORDS; i++) if (this.words[i] !== 0) return false;
    return true;
  }
}

/**
 * The key under which a window counts an event once: the first 48 bits of its hash, as a number. The forwarder
 * and `reconcile` use the same key, so a collision (about 1 in 10^14 per pair) would affect both sides alike.
 */
export function eventKey(hash: Uint8Array): number {
  return hash[0]! * 2 ** 40 + hash[1]! * 2 ** 32 + ((hash[2]! << 24) >>> 0) + (hash[3]! << 16) + (hash[4]! << 8) + hash[5]!;
}
