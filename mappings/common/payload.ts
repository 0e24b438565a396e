// The event-specific `data` payload, carried without ever overwriting the fields a mapping sets.
import type { AuditEvent } from '../../src/model/audit-event.ts';
import type { JsonValue } from '../../src/model/json.ts';

/**
 * The payload to carry under a mapping's own namespace key (`cofide.data`, `detail` …): `data` as parsed,
 * or the unparsed original with its error. Formats put it under ONE key they own, never spread it into
 * their top level, so that no payload key (`outcome`, `@timestamp`, `event.id`) can replace a mapped field.
 */
export function payloadOf(event: AuditEvent): JsonValue | undefined {
  if (event.data !== undefined) return event.data;
  if (event.dataUnparsed !== undefined) return { unparsed: event.dataUnparsed.original, error: event.dataUnparsed.error };
  return undefined;
}
