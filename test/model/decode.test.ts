// Property and unit tests for the decoders: totality, the canonical time, and stable derived CADF ids.
import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { decodeCadfRecord, deriveCadfId } from '../../src/model/decode-cadf.ts';
import { decodeConnectEvent } from '../../src/model/decode-connect.ts';
import { decodeLine, decodeRecord, detectFormat } from '../../src/model/decode.ts';
import type { InputFormat } from '../../src/model/decode.ts';
import type { DecodeResult } from '../../src/model/audit-event.ts';
import { EVENT_TYPES } from '../../src/model/event-types.ts';

const CANONICAL_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/;
const FORMATS: readonly InputFormat[] = ['connect', 'cadf', 'auto'];

function checkResult(r: DecodeResult, input: unknown): void {
  if (r.ok) {
    expect(r.event.time).toMatch(CANONICAL_TIME);
    expect(r.event.id.length).toBeGreaterThan(0);
    expect(Array.isArray(r.event.links)).toBe(true);
    expect(r.event.raw).toBe(input);
  } else {
    expect(typeof r.error.path).toBe('string');
    expect(r.error.reason.length).toBeGreaterThan(0);
  }
}

const flatCadf = {
  eventTime: '2026-03-14T08:00:01.250Z',
  action: 'iam-identity.apikey.create',
  outcome: 'success',
  'initiator.id': 'iam-ServiceId-7c2a9e31',
  'reason.reasonCode': 201,
};

describe('derived CADF ids', () => {
  it('are the same for the same record content, whatever the key order', () => {
    const a = decodeCadfRecord(flatCadf);
    const reordered = Object.fromEntries(Object.entries(flatCadf).reverse());
    const b = decodeCadfRecord(reordered);
    const c = decodeCadfRecord(JSON.parse(JSON.stringify(flatCadf)));
    expect(a.ok && b.ok && c.ok).toBe(true);
    if (!a.ok || !b.ok || !c.ok) return;
    expect(a.event.id).toMatch(/^cadf-[0-9a-f]{32}$/);
    expect(b.event.id).toBe(a.event.id);
    expect(c.event.id).toBe(a.event.id);
    expect(deriveCadfId(flatCadf)).toBe(a.event.id);
  });

  it('differ when any part of the record differs', () => {
    const a = decodeCadfRecord(flatCadf);
    const variants = [
      { ...flatCadf, eventTime: '2026-03-14T08:00:01.251Z' },
      { ...flatCadf, outcome: 'failure' },
      { ...flatCadf, 'initiator.id': 'iam-ServiceId-7c2a9e32' },
      { ...flatCadf, 'reason.reasonCode': '201' },
      { ...flatCadf, extra: null },
    ];
    const ids = new Set([a, ...variants.map((v) => decodeCadfRecord(v))].map((r) => (r.ok ? r.event.id : r.error.reason)));
    expect(ids.size).toBe(variants.length + 1);
  });

  it('do not depend on the file context', () => {
    const a = decodeCadfRecord(flatCadf, { service: 'auth-idp' });
    const b = decodeCadfRecord(flatCadf, { service: 'auth-pdp' });
    expect(a.ok && b.ok && a.event.id === b.event.id).toBe(true);
  });

  it('are not used when the record has its own id', () => {
    const r = decodeCadfRecord({ ...flatCadf, id: 'f3b1c2d4' });
    expect(r.ok && r.event.id).toBe('f3b1c2d4');
  });
});

describe('Connect decoding of the whole catalog', () => {
  it.each(EVENT_TYPES.map((t) => [t.name, t.number, t.change] as const))('%s (%i) by name, number and short name', (name, number, change) => {
    for (const type of [`EVENT_TYPE_${name.toUpperCase()}`, number, name, String(number)]) {
      const r = decodeConnectEvent({ id: 'ae1', occurredAt: '2026-01-01T00:00:00Z', type });
      expect(r.ok && [r.event.type, r.event.action]).toEqual([name, change]);
    }
  });

  it('treats null as the default value, as proto3 JSON does', () => {
    const r = decodeConnectEvent({ id: 'ae1', occurredAt: '2026-01-01T00:00:00Z', type: 26, outcome: null, links: null, data: null, actor: null });
    expect(r.ok && r.event).toMatchObject({ outcome: 'unknown', links: [], actor: {} });
    expect(r.ok && 'data' in r.event).toBe(false);
  });
});

describe('format detection', () => {
  it.each([
    [{ eventTime: 'x' }, 'cadf'],
    [{ 'action': 'create' }, 'cadf'],
    [{ occurredAt: 'x' }, 'connect'],
    [{ occurred_at: 'x' }, 'connect'],
    [{ type: 26 }, 'connect'],
    [{ type: 26, eventTime: 'x' }, 'cadf'],
    [{ id: 'x' }, undefined],
    [[], undefined],
    [null, undefined],
  ] as const)('%j → %s', (record, expected) => {
    expect(detectFormat(record)).toBe(expected);
  });
});

describe('decoders are total', () => {
  it('decodeRecord never throws for arbitrary JSON, and valid results carry a canonical time', () => {
    fc.assert(
      fc.property(fc.jsonValue(), fc.constantFrom(...FORMATS), (json, format) => {
        checkResult(decodeRecord(json, format), json);
      }),
      { numRuns: 2000 },
    );
  });

  const anyValue = fc.oneof(fc.jsonValue({ maxDepth: 2 }), fc.constant(undefined));
  const time = fc.oneof(
    fc.constantFrom('2026-03-14T09:26:53.123456Z', '2018-04-20 20:15:00.32 +0000 UTC', '2026-03-14T09:26:53', '9999-12-31T23:59:59-01:00'),
    fc.string(),
    anyValue,
  );
  const enumish = fc.oneof(fc.integer({ min: -3, max: 40 }), fc.constantFrom('EVENT_TYPE_TRUST_ZONE_CREATION', 'EVENT_TYPE_X', 'OUTCOME_DENIED', 'success', 'trust_zone', '7'), anyValue);
  const connectLike = fc.record(
    {
      id: fc.oneof(fc.constantFrom('ae01jq4m8z6x2c5v7b9n3k4h2g1f', ''), anyValue),
      occurredAt: time,
      occurred_at: time,
      type: enumish,
      outcome: enumish,
      links: fc.oneof(fc.array(fc.record({ type: enumish, id: anyValue }, { requiredKeys: [] })), anyValue),
      data: fc.oneof(fc.base64String(), fc.string(), anyValue),
      actor: fc.oneof(fc.constantFrom('system', 'join-token', 'spiffe://example.org/ns/a/sa/b'), anyValue),
      sourceIp: anyValue,
      serverVersion: anyValue,
    },
    { requiredKeys: [] },
  );
  const cadfLike = fc.record(
    {
      id: anyValue,
      eventTime: time,
      action: fc.oneof(fc.constantFrom('create', 'authenticate'), anyValue),
      outcome: fc.oneof(fc.constantFrom('success', 'FAILURE', 'pending', 'Unknown', 'ok'), anyValue),
      initiator: fc.oneof(fc.record({ id: anyValue, 'credential.type': anyValue, credential: fc.record({ type: anyValue }) }, { requiredKeys: [] }), anyValue),
      'initiator.id': anyValue,
      'reason.reasonCode': anyValue,
      reason: fc.oneof(fc.record({ reasonCode: anyValue }), anyValue),
      severity: anyValue,
      requestData: anyValue,
      observer: anyValue,
    },
    { requiredKeys: [] },
  );

  it('never throws for records shaped like either format, with arbitrary field values', () => {
    fc.assert(
      fc.property(fc.oneof(connectLike, cadfLike), fc.constantFrom(...FORMATS), (record, format) => {
        // JSON round trip: the decoders receive parsed JSON, which has no undefined values.
        const json = JSON.parse(JSON.stringify(record)) as unknown;
        checkResult(decodeRecord(json, format, { service: 'auth-idp' }), json);
      }),
      { numRuns: 3000 },
    );
  });

  it('decodeLine never throws for arbitrary text', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.jsonValue().map((v) => JSON.stringify(v))), fc.constantFrom(...FORMATS), (line, format) => {
        const r = decodeLine(line, format);
        if (r.ok) expect(r.event.time).toMatch(CANONICAL_TIME);
        else expect(r.error.reason.length).toBeGreaterThan(0);
      }),
      { numRuns: 1000 },
    );
  });
});
