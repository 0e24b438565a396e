// Decoder for Cofide Connect audit events in the proto3 JSON mapping of `proto.audit.v1alpha1.Event`.
import type { AuditEvent, DecodeResult, EntityLink, InvalidRecord, EventActor, EventOrigin, EventOutcome, UnparsedData } from './audit-event.ts';
import { ENTITY_TYPES, eventTypeByName, eventTypeName } from './event-types.ts';
import { canonicalJson, isJsonObject, nestingProblem } from './json.ts';
import type { JsonObject, JsonValue } from './json.ts';
import { mayNestDeeperThan, tooDeep } from './nesting.ts';
import { parseEventTime } from './time.ts';

const EVENT_TYPE_PREFIX = 'EVENT_TYPE_';
const ENTITY_TYPE_PREFIX = 'ENTITY_TYPE_';
const OUTCOME_PREFIX = 'OUTCOME_';
const INT32_MIN = -2147483648;
const INT32_MAX = 2147483647;

/** Enum value names as proto writes them (`TRUST_ZONE_CREATION`) and as config spells them (`trust_zone_creation`). */
const UPPER_NAME = /^[A-Z][A-Z0-9_]*$/;
const LOWER_NAME = /^[a-z][a-z0-9_]*$/;
const DECIMAL = /^-?\d+$/;

type Invalid = { readonly ok: false; readonly error: InvalidRecord };
type Got<T> = { readonly ok: true; readonly value: T } | Invalid;

const invalid = (path: string, reason: string): Invalid => ({ ok: false, error: { path, reason } });
const got = <T>(value: T): Got<T> => ({ ok: true, value });

function typeOf(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'object') return 'an object';
  return `a ${typeof v}`;
}

function own(obj: JsonObject, key: string): JsonValue | undefined {
  return Object.hasOwn(obj, key) ? obj[key] : undefined;
}

/**
 * A field under its lowerCamelCase JSON name or its original proto name, as proto3 JSON parsers accept both.
 * `null` means the default value, as in proto3 JSON, and reads as absent. Both names with different values
 * is an error: neither is picked.
 */
function field(obj: JsonObject, camel: string, snake: string): Got<JsonValue | undefined> {
  const va = own(obj, camel) ?? undefined;
  const vb = camel === snake ? undefined : (own(obj, snake) ?? undefined);
  if (va !== undefined && vb !== undefined && canonicalJson(va) !== canonicalJson(vb)) {
    return invalid(camel, `both ${camel} and ${snake} are present, with different values`);
  }
  return got(va ?? vb);
}

/** An optional string field; the empty string (proto3's default) reads as absent. */
function optionalString(obj: JsonObject, camel: string, snake: string = camel): Got<string | undefined> {
  const f = field(obj, camel, snake);
  if (!f.ok) return f;
  if (f.value === undefined) return got(undefined);
  if (typeof f.value !== 'string') return invalid(camel, `expected a string, got ${typeOf(f.value)}`);
  return got(f.value === '' ? undefined : f.value);
}

/** An enum given as a JSON number or a decimal string: an int32, or a reason why not. */
function enumNumber(v: number | string): number | string {
  const n = typeof v === 'number' ? v : Number(v);
  if (!Number.isInteger(n) || n < INT32_MIN || n > INT32_MAX) return `${JSON.stringify(v)} is not an int32 enum number`;
  return n;
}

type TypeInfo = { readonly type: string; readonly action: string };

function decodeEventType(v: JsonValue | undefined): Got<TypeInfo> {
  const required = 'the event type is required (missing, null or EVENT_TYPE_UNSPECIFIED)';
  if (v === undefined) return invalid('type', required);
  if (typeof v === 'number' || (typeof v === 'string' && DECIMAL.test(v))) {
    const n = enumNumber(v);
    if (typeof n === 'string') return invalid('type', n);
    if (n === 0) return invalid('type', required);
    const name = eventTypeName(n);
    return got({ type: name, action: eventTypeByName(name)?.change ?? 'unknown' });
  }
  if (typeof v !== 'string') return invalid('type', `expected an EventType name or number, got ${typeOf(v)}`);
  let name: string;
  if (v.startsWith(EVENT_TYPE_PREFIX) && UPPER_NAME.test(v.slice(EVENT_TYPE_PREFIX.length))) {
    name = v.slice(EVENT_TYPE_PREFIX.length).toLowerCase();
  } else if (LOWER_NAME.test(v)) {
    name = v;
  } else {
    return invalid('type', `${JSON.stringify(v)} is not an EventType name (EVENT_TYPE_TRUST_ZONE_CREATION, trust_zone_creation) or number`);
  }
  if (name === 'unspecified') return invalid('type', required);
  return got({ type: name, action: eventTypeByName(name)?.change ?? 'unknown' });
}

function decodeOutcome(v: JsonValue | undefined): Got<EventOutcome> {
  if (v === undefined) return got('unknown');
  let key: string | number | undefined;
  if (typeof v === 'number' || (typeof v === 'string' && DECIMAL.test(v))) {
    const n = enumNumber(v);
    key = typeof n === 'number' ? n : undefined;
  } else if (typeof v === 'string') {
    const suffix = v.slice(OUTCOME_PREFIX.length);
    key = v.startsWith(OUTCOME_PREFIX) && UPPER_NAME.test(suffix) ? suffix.toLowerCase() : LOWER_NAME.test(v) ? v : undefined;
  }
  switch (key) {
    case 0:
    case 'unspecified':
      return got('unknown');
    case 1:
    case 'success':
      return got('success');
    case 2:
    case 'denied':
      return got('denied');
    default:
      return invalid('outcome', `${JSON.stringify(v)} is not an Outcome (OUTCOME_SUCCESS, OUTCOME_DENIED, OUTCOME_UNSPECIFIED, or 0–2)`);
  }
}

function decodeEntityType(v: JsonValue | undefined, path: string): Got<string> {
  if (v === undefined) return got('unspecified');
  if (typeof v === 'number' || (typeof v === 'string' && DECIMAL.test(v))) {
    const n = enumNumber(v);
    if (typeof n === 'string') return invalid(path, n);
    return got(ENTITY_TYPES[n] ?? `unknown_${n}`);
  }
  if (typeof v !== 'string') return invalid(path, `expected an EntityType name or number, got ${typeOf(v)}`);
  if (v.startsWith(ENTITY_TYPE_PREFIX) && UPPER_NAME.test(v.slice(ENTITY_TYPE_PREFIX.length))) {
    return got(v.slice(ENTITY_TYPE_PREFIX.length).toLowerCase());
  }
  if (LOWER_NAME.test(v)) return got(v);
  return invalid(path, `${JSON.stringify(v)} is not an EntityType name (ENTITY_TYPE_TRUST_ZONE, trust_zone) or number`);
}

function decodeLinks(v: JsonValue | undefined): Got<EntityLink[]> {
  if (v === undefined) return got([]);
  if (!Array.isArray(v)) return invalid('links', `expected an array of entity links, got ${typeOf(v)}`);
  const links: EntityLink[] = [];
  for (const [i, item] of v.entries()) {
    const path = `links[${i}]`;
    if (!isJsonObject(item)) return invalid(path, `expected an entity link object, got ${typeOf(item)}`);
    const t = decodeEntityType(own(item, 'type') ?? undefined, `${path}.type`);
    if (!t.ok) return t;
    const id = own(item, 'id') ?? '';
    if (typeof id !== 'string') return invalid(`${path}.id`, `expected a string, got ${typeOf(id)}`);
    links.push({ type: t.value, id });
  }
  return got(links);
}

const STD_BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;
const URL_BASE64 = /^[A-Za-z0-9_-]*={0,2}$/;

/** Decodes proto3 JSON `bytes`: standard or URL-safe base64, padding optional. Undefined when not base64. */
function decodeBase64(s: string): Buffer | undefined {
  const std = STD_BASE64.test(s);
  if (!std && !URL_BASE64.test(s)) return undefined;
  const body = s.replace(/=+$/, '');
  const padded = body.length !== s.length;
  if (body.length % 4 === 1) return undefined;
  if (padded && s.length % 4 !== 0) return undefined;
  return Buffer.from(body, std ? 'base64' : 'base64url');
}

type DataFields = { readonly data?: JsonValue; readonly dataUnparsed?: UnparsedData };

/** Limits of a decode: `maxDepth` containers, the event itself being depth 1 (see `DecodeContext`). */
export interface ConnectDecodeContext {
  readonly maxDepth?: number;
}

function decodeData(v: JsonValue | undefined, maxDepth: number | undefined): Got<DataFields> {
  if (v === undefined || v === '') return got({});
  if (typeof v === 'object') return got({ data: v });
  if (typeof v !== 'string') return invalid('data', `expected base64 bytes (a string) or a JSON object or array, got ${typeOf(v)}`);
  const bytes = decodeBase64(v);
  if (bytes === undefined) return got({ dataUnparsed: { original: v, error: 'not valid base64' } });
  if (bytes.length === 0) return got({});
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    return got({ dataUnparsed: { original: v, error: 'not valid UTF-8' } });
  }
  let data: JsonValue;
  try {
    data = JSON.parse(text) as JsonValue;
  } catch (e) {
    return got({ dataUnparsed: { original: v, error: `not valid JSON: ${e instanceof Error ? e.message : String(e)}` } });
  }
  // The payload sits one level inside the event: measured in place, so its path and depth are the event's.
  if (maxDepth !== undefined && mayNestDeeperThan(text, maxDepth - 1)) {
    const problem = nestingProblem({ data }, maxDepth);
    if (problem !== undefined) return tooDeep(problem, maxDepth);
  }
  return got({ data });
}

/** What kind of principal a Connect `actor` names. */
function actorType(actor: string): string {
  if (actor === 'system') return 'system';
  if (actor === 'join-token') return 'join-token';
  if (actor.startsWith('spiffe://')) return 'workload';
  return 'user';
}

/**
 * Decodes one Connect event in proto3 JSON form (camelCase or original snake_case names). Enums may be given
 * by name, short config name or number; an unknown type number or name from a newer server is kept
 * (`unknown_<n>` / its lower-case name, action `unknown`). `data` is base64 JSON bytes or, from exports,
 * JSON already; data that is not JSON is kept in `dataUnparsed`. With `context.maxDepth`, base64 data that
 * nests deeper once parsed (counted from the event, depth 1) refuses the event (`FWD_DECODE_TOO_DEEP`); the
 * rest of the event is `decodeRecord`'s to check. Never throws; nothing here recurses, whatever the depth.
 */
export function decodeConnectEvent(json: unknown, context?: ConnectDecodeContext): DecodeResult {
  if (!isJsonObject(json)) return invalid('', `expected a Connect event object, got ${typeOf(json)}`);

  const idField = field(json, 'id', 'id');
  if (!idField.ok) return idField;
  const id = idField.value;
  if (id === undefined || id === '') return invalid('id', 'the event id is required');
  if (typeof id !== 'string') return invalid('id', `expected a string, got ${typeOf(id)}`);

  const occurred = field(json, 'occurredAt', 'occurred_at');
  if (!occurred.ok) return occurred;
  if (occurred.value === undefined) return invalid('occurredAt', 'the event time is required');
  const time = parseEventTime(occurred.value);
  if (!time.ok) return invalid('occurredAt', time.reason);

  const typeField = field(json, 'type', 'type');
  if (!typeField.ok) return typeField;
  const type = decodeEventType(typeField.value);
  if (!type.ok) return type;

  const outcomeField = field(json, 'outcome', 'outcome');
  if (!outcomeField.ok) return outcomeField;
  const outcome = decodeOutcome(outcomeField.value);
  if (!outcome.ok) return outcome;

  const linksField = field(json, 'links', 'links');
  if (!linksField.ok) return linksField;
  const links = decodeLinks(linksField.value);
  if (!links.ok) return links;

  const dataField = field(json, 'data', 'data');
  if (!dataField.ok) return dataField;
  const data = decodeData(dataField.value, context?.maxDepth);
  if (!data.ok) return data;

  const actor = optionalString(json, 'actor');
  if (!actor.ok) return actor;
  const message = optionalString(json, 'message');
  if (!message.ok) return message;
  const sourceIp = optionalString(json, 'sourceIp', 'source_ip');
  if (!sourceIp.ok) return sourceIp;
  const serverVersion = optionalString(json, 'serverVersion', 'server_version');
  if (!serverVersion.ok) return serverVersion;

  const origin: EventOrigin = {
    kind: 'cofide-connect',
    product: 'cofide-connect',
    ...(serverVersion.value !== undefined && { version: serverVersion.value }),
  };
  const eventActor: EventActor = actor.value === undefined ? {} : { id: actor.value, type: actorType(actor.value) };
  const event: AuditEvent = {
    id,
    time: time.time,
    origin,
    type: type.value.type,
    action: type.value.action,
    ...(message.value !== undefined && { message: message.value }),
    actor: eventActor,
    ...(sourceIp.value !== undefined && { sourceIp: sourceIp.value }),
    outcome: outcome.value,
    links: links.value,
    ...data.value,
    raw: json,
  };
  return { ok: true, event };
}
