// fast-check arbitraries of canonical events whose strings are hostile to line formats (CEF, syslog): separators, escapes, line breaks, controls, lone surrogates, very long values.
import fc from 'fast-check';
import type { AuditEvent, EventOutcome } from '../../src/model/audit-event.ts';
import { ENTITY_TYPES, EVENT_TYPE_NAMES, eventTypeByName } from '../../src/model/event-types.ts';
import type { JsonValue } from '../../src/model/json.ts';

export const FRAGMENTS = ['|', '=', '\\', '\r', '\n', '\r\n', ' ', '\t', 'cs1=', ' suser=admin', ' msg=', 'x=y', 'CEF:0|a|b|c|d|e|1|', '\u2028', '\u2029', '\u0085', '\u0000', '\\n', '\\=', '\\|', 'é', '🚀', '\ud800', '\udc00', 'a', '0'];

export const nasty: fc.Arbitrary<string> = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.string({ unit: 'binary-ascii', maxLength: 40 }),
  fc.string({ unit: fc.integer({ min: 0, max: 0xffff }).map((n) => String.fromCharCode(n)), maxLength: 40 }),
  fc.array(fc.constantFrom(...FRAGMENTS), { maxLength: 16 }).map((a) => a.join('')),
  // Long values, around and over every limit (40, 63, 512, 1023, 4000).
  fc.tuple(fc.array(fc.constantFrom(...FRAGMENTS), { minLength: 1, maxLength: 6 }), fc.integer({ min: 30, max: 4200 })).map(([a, n]) => a.join('').repeat(n).slice(0, n)),
);
const nonEmpty = nasty.filter((s) => s !== '');
const opt = <T>(a: fc.Arbitrary<T>) => fc.option(a, { nil: undefined });

/** A canonical time from 1970 to 9999, six fraction digits. */
const time = fc
  .tuple(fc.integer({ min: 0, max: 253402300799999 }), fc.integer({ min: 0, max: 999 }))
  .map(([ms, us]) => `${new Date(ms).toISOString().slice(0, 23)}${String(us).padStart(3, '0')}Z`);
const outcome = fc.constantFrom<EventOutcome>('success', 'denied', 'failure', 'pending', 'unknown');
const sourceIp = opt(fc.oneof(nasty, fc.ipV4(), fc.ipV6(), fc.constant('2001:db8::7')));
const data = opt(fc.jsonValue({ maxDepth: 2, stringUnit: 'binary' }) as fc.Arbitrary<JsonValue>);

export const arbitraryConnectEvent: fc.Arbitrary<AuditEvent> = fc
  .record({
    id: nonEmpty,
    time,
    version: opt(nasty),
    type: fc.oneof(fc.constantFrom(...EVENT_TYPE_NAMES, '__proto__', 'constructor'), nonEmpty),
    message: opt(nasty),
    actorId: opt(nasty),
    actorType: opt(nasty),
    sourceIp,
    outcome,
    links: fc.array(fc.record({ type: fc.oneof(fc.constantFrom(...ENTITY_TYPES), nasty), id: nasty }), { maxLength: 4 }),
    data,
  })
  .map((r) => ({
    id: r.id,
    time: r.time,
    origin: { kind: 'cofide-connect', product: 'cofide-connect', ...(r.version !== undefined && { version: r.version }) },
    type: r.type,
    action: eventTypeByName(r.type)?.change ?? 'unknown',
    ...(r.message !== undefined && { message: r.message }),
    actor: { ...(r.actorId !== undefined && { id: r.actorId }), ...(r.actorType !== undefined && { type: r.actorType }) },
    ...(r.sourceIp !== undefined && { sourceIp: r.sourceIp }),
    outcome: r.outcome,
    links: r.links,
    ...(r.data !== undefined && { data: r.data }),
    raw: {},
  }));

export const arbitraryCadfEvent: fc.Arbitrary<AuditEvent> = fc
  .record({
    id: nonEmpty,
    time,
    product: nasty,
    service: opt(nasty),
    action: fc.oneof(fc.constantFrom('create', 'iam-identity.apikey.delete', 'authenticate', 'deploy', 'read', '__proto__'), nonEmpty),
    message: opt(nasty),
    actorId: opt(nasty),
    actorType: opt(nasty),
    credentialType: opt(nasty),
    sourceIp,
    outcome,
    reasonCode: opt(fc.oneof(nasty, fc.integer().map(String))),
    severity: opt(fc.oneof(fc.constantFrom('normal', 'warning', 'critical', 'CRITICAL', '__proto__', 'constructor'), nasty)),
    target: opt(fc.record({ id: opt(nasty), name: opt(nasty), type: opt(nasty) }, { requiredKeys: [] })),
    data,
    unparsed: opt(fc.record({ original: nasty, error: nasty })),
  })
  .map((r) => ({
    id: r.id,
    time: r.time,
    origin: { kind: 'ibm-cadf', product: r.product, ...(r.service !== undefined && { service: r.service }) },
    type: r.action,
    action: r.action,
    ...(r.message !== undefined && { message: r.message }),
    actor: {
      ...(r.actorId !== undefined && { id: r.actorId }),
      ...(r.actorType !== undefined && { type: r.actorType }),
      ...(r.credentialType !== undefined && { credentialType: r.credentialType }),
    },
    ...(r.sourceIp !== undefined && { sourceIp: r.sourceIp }),
    outcome: r.outcome,
    ...(r.reasonCode !== undefined && { reasonCode: r.reasonCode }),
    ...(r.severity !== undefined && { severity: r.severity }),
    links: [],
    ...(r.target !== undefined && { target: Object.fromEntries(Object.entries(r.target).filter(([, v]) => v !== undefined)) }),
    ...(r.data !== undefined ? { data: r.data } : r.unparsed !== undefined && { dataUnparsed: r.unparsed }),
    raw: {},
  }));
