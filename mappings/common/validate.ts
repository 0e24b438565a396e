// Checks the canonical event a mapping is given (it may come from a hand-edited dead letter) before mapping it.
import type { AuditEvent } from '../../src/model/audit-event.ts';
import { isCanonicalTime } from '../../src/model/time.ts';

const OUTCOMES = new Set(['success', 'denied', 'failure', 'pending', 'unknown']);
const ORIGINS = new Set(['cofide-connect', 'ibm-cadf']);
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const CANONICAL_SHAPE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/;

/** The first of `keys` of `object` whose value is present and not a string, as `<prefix><key>`. */
function notAString(object: Record<string, unknown> | undefined, keys: readonly string[], prefix: string): string | undefined {
  if (object === undefined) return undefined;
  for (const key of keys) {
    const v = object[key];
    if (v !== undefined && typeof v !== 'string') return prefix + key;
  }
  return undefined;
}

const EVENT_STRINGS = ['message', 'sourceIp', 'reasonCode', 'severity'] as const;
const ORIGIN_STRINGS = ['product', 'service', 'version'] as const;
const ACTOR_STRINGS = ['id', 'type', 'credentialType'] as const;
const TARGET_STRINGS = ['id', 'name', 'type'] as const;

/**
 * Why this is not a canonical event a mapping can trust, with the offending path; undefined when it is. On every
 * event a mapping is given, so it allocates nothing on the way to `undefined`.
 */
export function eventProblem(event: AuditEvent): { path: string; reason: string } | undefined {
  if (!isObject(event)) return { path: '', reason: 'expected a canonical event (an object)' };
  if (typeof event.id !== 'string' || event.id === '') return { path: 'id', reason: 'the event id is required' };
  // The canonical form, and a real calendar time (no month 13, no Feb 30).
  if (!isCanonicalTime(event.time)) {
    if (typeof event.time !== 'string' || !CANONICAL_SHAPE.test(event.time)) {
      return { path: 'time', reason: `expected an RFC 3339 UTC time with six fraction digits, got ${JSON.stringify(event.time)}` };
    }
    return { path: 'time', reason: `not a calendar time: ${JSON.stringify(event.time)}` };
  }
  if (!OUTCOMES.has(event.outcome)) return { path: 'outcome', reason: `expected success, denied, failure, pending or unknown, got ${JSON.stringify(event.outcome)}` };
  if (!isObject(event.origin) || !ORIGINS.has(event.origin.kind)) return { path: 'origin.kind', reason: 'expected cofide-connect or ibm-cadf' };
  if (typeof event.type !== 'string' || event.type === '') return { path: 'type', reason: 'the event type is required' };
  if (typeof event.action !== 'string') return { path: 'action', reason: 'expected a string' };
  if (!isObject(event.actor)) return { path: 'actor', reason: 'expected an object' };
  if (!Array.isArray(event.links)) return { path: 'links', reason: 'expected an array' };
  for (let i = 0; i < event.links.length; i++) {
    const l = event.links[i];
    if (!isObject(l) || typeof l['type'] !== 'string' || typeof l['id'] !== 'string') return { path: `links[${i}]`, reason: 'expected {type, id} strings' };
  }
  const top = notAString(event as unknown as Record<string, unknown>, EVENT_STRINGS, '');
  if (top !== undefined) return { path: top, reason: 'expected a string' };
  if (event.target !== undefined && !isObject(event.target)) return { path: 'target', reason: 'expected an object' };
  const nested =
    notAString(event.origin as unknown as Record<string, unknown>, ORIGIN_STRINGS, 'origin.') ??
    notAString(event.actor as unknown as Record<string, unknown>, ACTOR_STRINGS, 'actor.') ??
    notAString(event.target as unknown as Record<string, unknown> | undefined, TARGET_STRINGS, 'target.');
  if (nested !== undefined) return { path: nested, reason: 'expected a string' };
  return undefined;
}
