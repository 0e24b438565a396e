// Sink records for engine and sink tests: a payload with the metadata the lane would give it.
import type { SinkRecord } from '../../src/contracts/sink.ts';

/** A record whose value is its payload parsed when it is JSON (else the payload), at a fixed time. */
export function sinkRecord(eventId: string, payload: string, bytes = Buffer.byteLength(payload)): SinkRecord {
  let value: unknown = payload;
  try {
    value = JSON.parse(payload);
  } catch {
    // a text record
  }
  return { eventId, eventTime: '2026-05-12T07:59:16.000000Z', eventType: 'trust_zone_creation', severity: 3, value, payload, bytes };
}
