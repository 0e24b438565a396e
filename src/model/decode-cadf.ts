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
  const f = cadfField(record, path);
  if (!f.ok) return f;
  if (f.value === undefined) return got(undefined);
  if (typeof f.value !== 'string') return invalid(path, `expected a string, got ${typeOf(f.value)}`);
  return got(f.value === '' ? undefined : f.value);
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

  const texts = ['initiator.id', 'initiator.typeURI', 'initiator.credential.type', 'initiator.host.address', 'target.id', 'target.name', 'target.typeURI', 'severity', 'message', 'observer.name', 'observer.id'] as const;
  const t: Partial<Record<(typeof texts)[number], string>> = {};
  for (const path of texts) {
    const v = optionalString(json, path);
    if (!v.ok) return v;
    if (v.value !== undefined) t[path] = v.value;
  }

  const reasonField = cadfField(json, 'reason.reasonCode');
  if (!reasonField.ok) return reasonField;
  let reasonCode: string | undefined;
  if (typeof reasonField.value === 'string') reasonCode = reasonField.value === '' ? undefined : reasonField.value;
  else if (typeof reasonField.value === 'number') reasonCode = String(reasonField.value);
  else if (reasonField.value !== undefined) {
    return invalid('reason.reasonCode', `expected a string or number, got ${typeOf(reasonField.value)}`);
  }

  const requestData = cadfField(json, 'requestData');
  if (!requestData.ok) return requestData;

  const service = t['observer.name'] ?? t['observer.id'] ?? (context?.service === '' ? undefined : context?.service);
  const origin: EventOrigin = { kind: 'ibm-cadf', product: 'ibm-platform', ...(service !== undefined && { service }) };
  const actor: EventActor = {
    ...(t['initiator.id'] !== undefined && { id: t['initiator.id'] }),
    ...(t['initiator.typeURI'] !== undefined && { type: t['initiator.typeURI'] }),
    ...(t['initiator.credential.type'] !== undefined && { credentialType: t['initiator.credential.type'] }),
  };
  const target: EventTarget = {
    ...(t['target.id'] !== undefined && { id: t['target.id'] }),
    ...(t['target.name'] !== undefined && { name: t['target.name'] }),
    ...(t['target.typeURI'] !== undefined && { type: t['target.typeURI'] }),
  };

  const event: AuditEvent = {
    id: id.value ?? deriveCadfId(json),
    time: time.time,
    origin,
    type: action.value,
    action: action.value,
    ...(t.message !== undefined && { message: t.message }),
    actor,
    ...(t['initiator.host.address'] !== undefined && { sourceIp: t['initiator.host.address'] }),
    outcome,
    ...(reasonCode !== undefined && { reasonCode }),
    ...(t.severity !== undefined && { severity: t.severity }),
    links: [],
    ...(Object.keys(target).length > 0 && { target }),
    ...(requestData.value !== undefined && { data: requestData.value }),
    raw: json,
  };
  return { ok: true, event };
}
