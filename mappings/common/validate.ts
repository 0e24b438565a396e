// Checks the canonical event a mapping is given (it may come from a hand-edited dead letter) before mapping it.
import type { AuditEvent } from '../../src/model/audit-event.ts';
import { parseEventTime } from '../../src/model/time.ts';

const CANONICAL_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/;
const OUTCOMES = new Set(['success', 'denied', 'failure', 'pending', 'unknown']);
const ORIGINS = new Set(['cofide-connect', 'ibm-cadf']);
const isObject = (v: unknown): boolean => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Why this is not a canonical event a mapping can trust, with the offending path; undefined when it is. */
export function eventProblem(event: AuditEvent): { path: string; reason: string } | undefined {
  if (!isObject(event)) return { path: '', reason: 'expected a canonical event (an object)' };
  if (typeof event.id !== 'string' || event.id === '') return { path: 'id', reason: 'the event id is required' };
  // The canonical form, and a real calendar time (no month 13, no Feb 30): it parses back to itself.
  if (typeof event.time !== 'string' || !CANONICAL_TIME.test(event.time)) {
    return { path: 'time', reason: `expected an RFC 3339 UTC time with six fraction digits, got ${JSON.stringify(event.time)}` };
  }
  if ((parseEventTime(event.time) as { time?: string }).time !== event.time) {
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
    if (!isObject(l) || typeof l!.type !== 'string' || typeof l!.id !== 'string') return { path: `links[${i}]`, reason: 'expected {type, id} strings' };
  }
  for (const key of ['message', 'sourceIp', 'reasonCode', 'severity'] as const) {
    if (event[key] !== undefined && typeof event[key] !== 'string') return { path: key, reason: 'expected a string' };
  }
  if (event.target !== undefined && !isObject(event.target)) return { path: 'target', reason: 'expected an object' };
  const optionalStrings: ReadonlyArray<readonly [string, unknown]> = [
    ['origin.product', event.origin.product],
    ['origin.service', event.origin.service],
    ['origin.version', event.origin.version],
    ['actor.id', event.actor.id],
    ['actor.type', event.actor.type],
    ['actor.credentialType', event.actor.credentialType],
    ['target.id', event.target?.id],
    ['target.name', event.target?.name],
    ['target.type', event.target?.type],
  ];
  for (const [path, value] of optionalStrings) if (value !== undefined && typeof value !== 'string') return { path, reason: 'expected a string' };
  return undefined;
}
