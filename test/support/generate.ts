// Synthetic Connect events in their proto3 JSON form, for end-to-end tests and benchmarks.
import { EVENT_TYPES } from '../../src/model/event-types.ts';

const BASE_US = Date.UTC(2026, 2, 1) * 1000;

/** The i-th synthetic event: unique id, increasing microsecond times, every type in turn, ~400 bytes. */
export function connectEventJson(i: number): Record<string, unknown> {
  const t = EVENT_TYPES[i % EVENT_TYPES.length]!;
  const us = BASE_US + i * 1_000_003;
  const secs = Math.floor(us / 1e6);
  const iso = new Date(secs * 1000).toISOString().replace('.000Z', `.${String(us % 1e6).padStart(6, '0')}Z`);
  const data = Buffer.from(JSON.stringify({ name: `tz-${i}`, trustDomain: 'example.org', seq: i })).toString('base64');
  return {
    id: `ae${i.toString(36).padStart(24, '0')}`,
    occurredAt: iso,
    type: `EVENT_TYPE_${t.name.toUpperCase()}`,
    message: `${t.description} (synthetic ${i})`,
    links: [{ type: `ENTITY_TYPE_${t.entity.toUpperCase()}`, id: `ent-${i % 977}` }],
    data,
    actor: i % 5 === 0 ? 'spiffe://example.org/ns/connect/sa/agent' : `user-${i % 13}@example.org`,
    sourceIp: `10.0.${(i >> 8) & 255}.${i & 255}`,
    outcome: i % 17 === 0 ? 'OUTCOME_DENIED' : 'OUTCOME_SUCCESS',
    serverVersion: '1.4.2',
  };
}

export function connectEventLines(from: number, count: number): string {
  let out = '';
  for (let i = from; i < from + count; i++) out += `${JSON.stringify(connectEventJson(i))}\n`;
  return out;
}
