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

// Recursive, but only as deep as the segments of a field name this decoder asks for: the record cannot deepen it.
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

/**
 * A field by its dotted CADF name, found nested (`{"initiator":{"id":…}}`), under the flat key
 * (`{"initiator.id":…}`) or any mix of the two (`{"initiator":{"credential.type":…}}`). `null` reads as
 * absent. When the forms disagree the record is invalid: neither value is picked.
 */
export function cadfField(record: JsonObject, path: string): Got<JsonValue | undefined> {
  let plan = plans.get(path);
  if (plan === undefined) plans.set(path, (plan = planOf(path.split('.'))));
  const found: JsonValue[] = [];
  collect(record, plan, found);
  const [first] = found;
  if (first === undefined) return got(undefined);
  // Nearly always found once: only a field given in more than one form is compared, by canonical text.
  if (found.length === 1) return got(first);
  const canonical = canonicalJson(first);
  if (found.some((v, i) => i > 0 && canonicalJson(v) !== canonical)) {
    return invalid(path, `${path} is given more than once (nested and flat) with different values`);
  }
  return got(first);
}

/** An optional text field; the empty string reads as absent. */
function optionalString(record: JsonObject, path: string): Got<string | undefined> {
  const f = fieldOrInvalid(record, path);
  if (f instanceof FieldInvalid) return f.result;
  return stringOrInvalid(f, path);
}

/** Why a record is invalid at a field, as a value the per-field functions below return instead of a result object. */
class FieldInvalid {
  readonly result: Invalid;
  constructor(result: Invalid) {
    this.result = result;
  }
}

/** `cadfField` for the decoder's own loop: the value (undefined when absent) or why not, without a result object per field. */
function fieldOrInvalid(record: JsonObject, path: string): JsonValue | undefined | FieldInvalid {
  const f = cadfField(record, path);
  return f.ok ? f.value : new FieldInvalid(f);
}

function stringOrInvalid(value: JsonValue | undefined, path: string): Got<string | undefined> {
  if (value === undefined) return got(undefined);
  if (typeof value !== 'string') return invalid(path, `expected a string, got ${typeOf(value)}`);
  return got(value === '' ? undefined : value);
}

/** An optional text field (`optionalString`), as the value itself (undefined when absent or empty) or why not. */
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

  const eventTime = cadfField(json, 'eventTime');
  if (!eventTime.ok) return eventTime;
  if (eventTime.value === undefined) return invalid('eventTime', 'the event time is required');
  const time = parseEventTime(eventTime.value);
  if (!time.ok) return invalid('eventTime', time.reason);

  const action = optionalString(json, 'action');
  if (!action.ok) return action;
  if (action.value === undefined) return invalid('action', 'the action is required');

  const outcomeField = cadfField(json, 'outcome');
  if (!outcomeField.ok) return outcomeField;
  if (outcomeField.value === undefined) return invalid('outcome', 'the outcome is required');
  if (typeof outcomeField.value !== 'string' || !OUTCOMES.has(outcomeField.value.toLowerCase())) {
    return invalid('outcome', `${JSON.stringify(outcomeField.value)} is not a CADF outcome (success, failure, pending, unknown)`);
  }
  const outcome = outcomeField.value.toLowerCase() as EventOutcome;

  const id = optionalString(json, 'id');
  if (!id.ok) return id;

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
    id: id.value ?? deriveCadfId(json),
    time: time.time,
    origin,
    type: action.value,
    action: action.value,
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
