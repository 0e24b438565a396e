// Decoder for IBM platform audit records (DMTF CADF), nested or with flat dotted keys.
import { createHash } from 'node:crypto';
import type { AuditEvent, DecodeResult, EventActor, EventOrigin, EventOutcome, EventTarget } from './audit-event.ts';
import { canonicalJson, isJsonObject } from './json.ts';
import type { JsonObject, JsonValue } from './json.ts';
import { parseEventTime } from './time.ts';

/** Facts about where a record was read that the record itself may not carry. */
export interface CadfContext {
  /** Service that wrote the file (`auth-idp`, `auth-pdp`), used when the record names no observer. */
  readonly service?: string;
}

type Invalid = { readonly ok: false; readonly error: { readonly path: string; readonly reason: string } };
/** A looked-up value, or why the record is invalid there. */
export type CadfLookup<T> = { readonly ok: true; readonly value: T } | Invalid;
type Got<T> = CadfLookup<T>;

const invalid = (path: string, reason: string): Invalid => ({ ok: false, error: { path, reason } });
const got = <T>(value: T): Got<T> => ({ ok: true, value });

const OUTCOMES: ReadonlySet<string> = new Set(['success', 'failure', 'pending', 'unknown']);

/** The outcome a CADF `outcome` names (any case), or undefined. Lower-case text, the usual, is not copied. */
function outcomeOf(s: string): EventOutcome | undefined {
  if (OUTCOMES.has(s)) return s as EventOutcome;
  const lower = s.toLowerCase();
  return OUTCOMES.has(lower) ? (lower as EventOutcome) : undefined;
}

function typeOf(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'object') return 'an object';
  return `a ${typeof v}`;
}

/**
 * How to find a dotted field name in a record: at each level, the keys that may hold it (each prefix of the
 * remaining segments joined by dots) and, for each, what is left to find below it. Built once per field name, so
 * that a lookup allocates nothing.
 */
interface FieldPlan {
  readonly steps: ReadonlyArray<{ readonly key: string; readonly rest: FieldPlan | undefined }>;
}

function planOf(segments: readonly string[]): FieldPlan {
  const steps: Array<{ key: string; rest: FieldPlan | undefined }> = [];
  for (let j = 1; j <= segments.length; j++) {
    steps.push({ key: segments.slice(0, j).join('.'), rest: j === segments.length ? undefined : planOf(segments.slice(j)) });
  }
  return { steps };
}

const plans = new Map<string, FieldPlan>();

/** What `findOnce` returns when a field is found in more than one form: `agreedForm` compares them. */
const SEVERAL: unique symbol = Symbol('several');

/**
 * The value of a field (undefined when absent or null) when it occurs in at most one form, else `SEVERAL`:
 * the common case, with no array and no result object. Recursive, but only as deep as the segments of a field
 * name this decoder asks for: the record cannot deepen it.
 */
function findOnce(obj: JsonObject, plan: FieldPlan): JsonValue | undefined | typeof SEVERAL {
  const steps = plan.steps;
  let found: JsonValue | undefined;
  for (let i = 0; i < steps.length; i++) {
    const { key, rest } = steps[i]!;
    const v = obj[key];
    // An own property only (a field named `constructor` must not find Object.prototype's).
    if (v === undefined || v === null || !Object.hasOwn(obj, key)) continue;
    let here: JsonValue | undefined | typeof SEVERAL;
    if (rest === undefined) here = v;
    else if (isJsonObject(v)) here = findOnce(v, rest);
    else continue;
    if (here === SEVERAL) return SEVERAL;
    if (here !== undefined) {
      if (found !== undefined) return SEVERAL;
      found = here;
    }
  }
  return found;
}

/** Every form of a field that is present (`findOnce` found more than one). */
function collect(obj: JsonObject, plan: FieldPlan, out: JsonValue[]): void {
  for (const { key, rest } of plan.steps) {
    if (!Object.hasOwn(obj, key)) continue;
    const v = obj[key];
    if (rest === undefined) {
      if (v !== null && v !== undefined) out.push(v);
    } else if (isJsonObject(v)) {
      collect(v, rest, out);
    }
  }
}

function planFor(path: string): FieldPlan {
  let plan = plans.get(path);
  if (plan === undefined) plans.set(path, (plan = planOf(path.split('.'))));
  return plan;
}

/**
 * A field found in several forms (`findOnce` said so, which is rare): its first form when they all agree (by
 * canonical text), else why the record is invalid there.
 */
function agreedForm(record: JsonObject, plan: FieldPlan, path: string): JsonValue | FieldInvalid {
  const found: JsonValue[] = [];
  collect(record, plan, found);
  const canonical = canonicalJson(found[0]!);
  if (found.some((v, i) => i > 0 && canonicalJson(v) !== canonical)) {
    return new FieldInvalid(invalid(path, `${path} is given more than once (nested and flat) with different values`));
  }
  return found[0]!;
}

/** Why a record is invalid at a field, as a value the per-field functions below return instead of a result object. */
class FieldInvalid {
  readonly result: Invalid;
  constructor(result: Invalid) {
    this.result = result;
  }
}

/**
 * A field by its dotted CADF name, found nested (`{"initiator":{"id":…}}`), under the flat key
 * (`{"initiator.id":…}`) or any mix of the two (`{"initiator":{"credential.type":…}}`). `null` reads as
 * absent. When the forms disagree the record is invalid: neither value is picked.
 */
export function cadfField(record: JsonObject, path: string): Got<JsonValue | undefined> {
  const v = fieldOrInvalid(record, path);
  return v instanceof FieldInvalid ? v.result : got(v);
}

/** `cadfField` for the decoder's own loop: the value (undefined when absent) or why not, without a result object per field. */
function fieldOrInvalid(record: JsonObject, path: string): JsonValue | undefined | FieldInvalid {
  const plan = planFor(path);
  const v = findOnce(record, plan);
  // Nearly never several: a field given in more than one form is taken when the forms agree.
  return v === SEVERAL ? agreedForm(record, plan, path) : v;
}

/** An optional text field (the empty string reads as absent), as the value itself (undefined when absent or empty) or why not. */
function text(record: JsonObject, path: string): string | undefined | FieldInvalid {
  const v = fieldOrInvalid(record, path);
  if (v === undefined || v instanceof FieldInvalid) return v;
  if (typeof v !== 'string') return new FieldInvalid(invalid(path, `expected a string, got ${typeOf(v)}`));
  return v === '' ? undefined : v;
}

/** A stable id for a record without one: the same content (in any key order) always gives the same id. */
export function deriveCadfId(record: JsonValue): string {
  return `cadf-${createHash('sha256').update(canonicalJson(record)).digest('hex').slice(0, 32)}`;
}

/**
 * Decodes one CADF audit record. Requires `eventTime` (with a zone), `action` and `outcome`
 * (`success | failure | pending | unknown`, any case). A record without an `id` gets one derived from its
 * content (`deriveCadfId`). `context.service` names the origin when the record has no `observer`.
 * Never throws.
 */
export function decodeCadfRecord(json: unknown, context?: CadfContext): DecodeResult {
  if (!isJsonObject(json)) return invalid('', `expected a CADF record object, got ${typeOf(json)}`);

  const eventTime = fieldOrInvalid(json, 'eventTime');
  if (eventTime instanceof FieldInvalid) return eventTime.result;
  if (eventTime === undefined) return invalid('eventTime', 'the event time is required');
  const time = parseEventTime(eventTime);
  if (!time.ok) return invalid('eventTime', time.reason);

  const action = text(json, 'action');
  if (action instanceof FieldInvalid) return action.result;
  if (action === undefined) return invalid('action', 'the action is required');

  const outcomeField = fieldOrInvalid(json, 'outcome');
  if (outcomeField instanceof FieldInvalid) return outcomeField.result;
  if (outcomeField === undefined) return invalid('outcome', 'the outcome is required');
  const outcome = typeof outcomeField === 'string' ? outcomeOf(outcomeField) : undefined;
  if (outcome === undefined) {
    return invalid('outcome', `${JSON.stringify(outcomeField)} is not a CADF outcome (success, failure, pending, unknown)`);
  }

  const id = text(json, 'id');
  if (id instanceof FieldInvalid) return id.result;

  // Each optional text field, in the order its errors are reported (the first invalid one is).
  const initiatorId = text(json, 'initiator.id');
  if (initiatorId instanceof FieldInvalid) return initiatorId.result;
  const initiatorType = text(json, 'initiator.typeURI');
  if (initiatorType instanceof FieldInvalid) return initiatorType.result;
  const credentialType = text(json, 'initiator.credential.type');
  if (credentialType instanceof FieldInvalid) return credentialType.result;
  const hostAddress = text(json, 'initiator.host.address');
  if (hostAddress instanceof FieldInvalid) return hostAddress.result;
  const targetId = text(json, 'target.id');
  if (targetId instanceof FieldInvalid) return targetId.result;
  const targetName = text(json, 'target.name');
  if (targetName instanceof FieldInvalid) return targetName.result;
  const targetType = text(json, 'target.typeURI');
  if (targetType instanceof FieldInvalid) return targetType.result;
  const severity = text(json, 'severity');
  if (severity instanceof FieldInvalid) return severity.result;
  const message = text(json, 'message');
  if (message instanceof FieldInvalid) return message.result;
  const observerName = text(json, 'observer.name');
  if (observerName instanceof FieldInvalid) return observerName.result;
  const observerId = text(json, 'observer.id');
  if (observerId instanceof FieldInvalid) return observerId.result;

  const reasonField = fieldOrInvalid(json, 'reason.reasonCode');
  if (reasonField instanceof FieldInvalid) return reasonField.result;
  let reasonCode: string | undefined;
  if (typeof reasonField === 'string') reasonCode = reasonField === '' ? undefined : reasonField;
  else if (typeof reasonField === 'number') reasonCode = String(reasonField);
  else if (reasonField !== undefined) {
    return invalid('reason.reasonCode', `expected a string or number, got ${typeOf(reasonField)}`);
  }

  const requestData = fieldOrInvalid(json, 'requestData');
  if (requestData instanceof FieldInvalid) return requestData.result;

  // Built by assignment in the canonical key order (the order JSON output shows), absent fields left out:
  // no temporary object per optional field.
  const service = observerName ?? observerId ?? (context?.service === '' ? undefined : context?.service);
  const origin: { -readonly [K in keyof EventOrigin]: EventOrigin[K] } = { kind: 'ibm-cadf', product: 'ibm-platform' };
  if (service !== undefined) origin.service = service;
  const actor: { -readonly [K in keyof EventActor]: EventActor[K] } = {};
  if (initiatorId !== undefined) actor.id = initiatorId;
  if (initiatorType !== undefined) actor.type = initiatorType;
  if (credentialType !== undefined) actor.credentialType = credentialType;
  let target: { -readonly [K in keyof EventTarget]: EventTarget[K] } | undefined;
  if (targetId !== undefined || targetName !== undefined || targetType !== undefined) {
    target = {};
    if (targetId !== undefined) target.id = targetId;
    if (targetName !== undefined) target.name = targetName;
    if (targetType !== undefined) target.type = targetType;
  }

  const event: { -readonly [K in keyof AuditEvent]: AuditEvent[K] } = {
    id: id ?? deriveCadfId(json),
    time: time.time,
    origin,
    type: action,
    action,
  } as AuditEvent;
  if (message !== undefined) event.message = message;
  event.actor = actor;
  if (hostAddress !== undefined) event.sourceIp = hostAddress;
  event.outcome = outcome;
  if (reasonCode !== undefined) event.reasonCode = reasonCode;
  if (severity !== undefined) event.severity = severity;
  event.links = [];
  if (target !== undefined) event.target = target;
  if (requestData !== undefined) event.data = requestData;
  event.raw = json;
  return { ok: true, event };
}
