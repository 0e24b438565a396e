// Checks the canonical event a mapping is given (it may come from a hand-edited dead letter) before mapping it.
import type { AuditEvent } from '../../src/model/audit-event.ts';

const CANONICAL_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/;
const OUTCOMES = new Set(['success', 'denied', 'failure', 'pending', 'unknown']);
const ORIGINS = new Set(['cofide-connect', 'ibm-cadf']);

/** Why this is not a canonical event a mapping can trust, with the offending path; undefined when it is. */
export function eventProblem(event: AuditEvent): { path: string; reason: string } | undefined {
  if (typeof event.id !== 'string' || event.id === '') return { path: 'id', reason: 'the event id is required' };
  if (typeof event.time !== 'string' || !CANONICAL_TIME.test(event.time)) {
    return { path: 'time', reason: `expected an RFC 3339 UTC time with six fraction digits, got ${JSON.stringify(event.time)}` };
  }
  if (!OUTCOMES.has(event.outcome)) return { path: 'outcome', reason: `expected success, denied, failure, pending or unknown, got ${JSON.stringify(event.outcome)}` };
  if (typeof event.origin !== 'object' || event.origin === null || !ORIGINS.has(event.origin.kind)) {
    return { path: 'origin.kind', reason: 'expected cofide-connect or ibm-cadf' };
  }
  if (typeof event.type !== 'string' || event.type === '') return { path: 'type', reason: 'the event type is required' };
  return undefined;
}
