// Utf8Body writes strings straight into a buffer instead of joining them and calling Buffer.from: the bytes must
// be exactly Buffer.from's, whatever the text (astral characters, lone surrogates, U+2028) and whatever the
// capacity it is given (exact, too small, too large, none).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { jsonLines, Utf8Body } from '../../src/delivery/encode.ts';
import type { SinkRecord } from '../../src/contracts/sink.ts';

const texts = fc.array(fc.oneof(fc.string({ unit: 'binary', maxLength: 300 }), fc.string({ unit: 'grapheme', maxLength: 50 }), fc.constant(''), fc.constant('x'.repeat(70_000))), { maxLength: 40 });

describe('Utf8Body', () => {
  it('gives the bytes of Buffer.from(texts.join("")), with any capacity or none', () => {
    fc.assert(
      fc.property(texts, fc.oneof(fc.constant(undefined), fc.nat({ max: 5000 }), fc.constant('exact' as const)), (parts, cap) => {
        const expected = Buffer.from(parts.join(''), 'utf8');
        const body = new Utf8Body(cap === 'exact' ? expected.length : cap);
        for (const p of parts) body.add(p);
        expect(body.bytes().equals(expected)).toBe(true);
      }),
      { numRuns: 300 },
    );
  });

  it('a body built on the shared scratch space is a copy: the next body does not change it', () => {
    const first = new Utf8Body().add('first body').bytes();
    new Utf8Body().add('second, longer body overwriting the scratch space').bytes();
    expect(first.toString('utf8')).toBe('first body');
  });

  it('jsonLines: each payload followed by a newline, sized from the records even when a record miscounts its bytes', () => {
    const rec = (payload: string, bytes = Buffer.byteLength(payload)): SinkRecord => ({ eventId: 'e', eventTime: '2026-01-01T00:00:00.000000Z', eventType: 't', severity: 1, value: undefined, payload, bytes });
    const payloads = ['{"a":"é"}', '{"b":"😀\u2028"}', '{}'];
    expect(jsonLines(payloads.map((p) => rec(p))).toString('utf8')).toBe(payloads.map((p) => `${p}\n`).join(''));
    expect(jsonLines(payloads.map((p) => rec(p, 1))).toString('utf8')).toBe(payloads.map((p) => `${p}\n`).join(''));
    expect(jsonLines(payloads.map((p) => rec(p, 100))).toString('utf8')).toBe(payloads.map((p) => `${p}\n`).join(''));
  });
});
