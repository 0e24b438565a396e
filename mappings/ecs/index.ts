// The `ecs` mapping: a canonical audit event as one Elastic Common Schema 9.x document (Connect detail under `cofide.*`, CADF under `ibm.cadf.*`).
import type { HeartbeatSummary, MapResult, Mapping, MappingOptions } from '../../src/contracts/mapping.ts';
import type { AuditEvent } from '../../src/model/audit-event.ts';
import { isJsonObject, toJsonLine } from '../../src/model/json.ts';
import type { JsonValue } from '../../src/model/json.ts';
import { payloadOf } from '../common/payload.ts';
import { classify, type Classification } from '../common/taxonomy.ts';
import { eventProblem } from '../common/validate.ts';
import type { EcsDocument, EcsUser } from './document.ts';
import { ecsHeartbeat, type EcsHeartbeatDocument } from './heartbeat.ts';
import { isIpAddress, spiffeTrustDomain } from './identifiers.ts';

export { HEARTBEAT_DATASET, type EcsHeartbeatDocument } from './heartbeat.ts';

/** The ECS release the documents follow (`ecs.version`). */
export const ECS_VERSION = '9.4.0';

/** Route `mappingOptions` keys this mapping reads. */
export const ECS_OPTIONS = Object.freeze({
  /** Replaces the default `event.dataset` (`cofide.audit`, `ibm.cadf_audit`): set it to the data stream's dataset. */
  dataset: 'ecsDataset',
  /** `true` adds `event.original` (the record as read, JSON text); `false` (the default) leaves it out. */
  eventOriginal: 'ecsEventOriginal',
});

/** Per origin: the fixed ECS values. */
const ORIGINS = Object.freeze({
  'cofide-connect': { dataset: 'cofide.audit', module: 'cofide', vendor: 'Cofide', product: 'Connect' },
  // The dataset of the data stream the elasticsearch sink writes CADF records to, `logs-ibm.cadf_audit-<namespace>`.
  'ibm-cadf': { dataset: 'ibm.cadf_audit', module: 'ibm', vendor: 'IBM', product: 'ibm-platform' },
});

/** A data stream dataset: lower case, no `-` (it separates the parts of a data stream name), at most 100 characters. */
const DATASET = /^[a-z0-9][a-z0-9_.]{0,99}$/;
const OBSERVED_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/;
const HTTP_STATUS = /^[1-5]\d\d$/;
/** Last segment of a CADF target typeURI that names a user or service id (`service/security/account/user`). */
const USER_TYPE = /^(user|users|serviceid|service_id)$/i;
const GROUP_TYPE = /^(group|groups|team|teams)$/i;

/** Connect actors that are not principals: kept in `user.id` as recorded, left out of `related.user`. */
const NOT_A_PRINCIPAL = new Set(['system', 'join-token']);

type Invalid = Extract<MapResult, { kind: 'invalid' }>;
const invalid = (path: string, reason: string): Invalid => ({ kind: 'invalid', path, reason });

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/** The two decimal digits of `s` at `i` as a number (the shape was checked already). */
const num2 = (s: string, i: number): number => (s.charCodeAt(i) - 48) * 10 + s.charCodeAt(i + 1) - 48;

/** The canonical time is shaped right (checked before) but may still name no real instant (`2026-02-30`, `24:00:00`). */
function realTime(time: string): boolean {
  const year = num2(time, 0) * 100 + num2(time, 2);
  const month = num2(time, 5);
  const day = num2(time, 8);
  if (month < 1 || month > 12 || day < 1) return false;
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  const days = month === 2 && leap ? 29 : (DAYS_IN_MONTH[month - 1] as number);
  return day <= days && num2(time, 11) <= 23 && num2(time, 14) <= 59 && num2(time, 17) <= 59;
}

/** The last `/`-separated segment of a typeURI. */
function lastSegment(typeUri: string): string {
  return typeUri.slice(typeUri.lastIndexOf('/') + 1);
}

/**
 * A role binding's subject from the Connect payload, only when it is plainly there: `data.subject`, or a
 * `subject` string one level down (`data.roleBinding.subject`), and only one of them. Best effort: the payload
 * has no published schema.
 */
export function roleBindingSubject(data: JsonValue | undefined): string | undefined {
  if (!isJsonObject(data)) return undefined;
  if (Object.hasOwn(data, 'subject')) return typeof data.subject === 'string' && data.subject !== '' ? data.subject : undefined;
  let found: string | undefined;
  for (const v of Object.values(data)) {
    if (!isJsonObject(v) || !Object.hasOwn(v, 'subject')) continue;
    const s = v.subject;
    if (typeof s !== 'string' || s === '' || (found !== undefined && found !== s)) return undefined;
    found = s;
  }
  return found;
}

/** `message` when the event has none: what happened, its outcome, who did it and to what — all from the event. */
function derivedMessage(event: AuditEvent): string {
  let m = `${event.type}: ${event.outcome}`;
  if (event.actor.id !== undefined) m += ` by ${event.actor.id}`;
  const target = event.target?.name ?? event.target?.id;
  if (target !== undefined) m += ` on ${target}`;
  return m;
}

type Writable<T> = { -readonly [K in keyof T]: T[K] };

function userOf(id: string | undefined, name?: string): EcsUser | undefined {
  if (id === undefined && name === undefined) return undefined;
  const user: Writable<EcsUser> = {};
  if (id !== undefined) user.id = id;
  if (name !== undefined) user.name = name;
  const domain = id === undefined ? undefined : spiffeTrustDomain(id);
  if (domain !== undefined) user.domain = domain;
  return user;
}

function mapEvent(event: AuditEvent, options: MappingOptions): MapResult<EcsDocument> {
  const problem = eventProblem(event);
  if (problem !== undefined) return invalid(problem.path, problem.reason);
  if (!realTime(event.time)) return invalid('time', `${JSON.stringify(event.time)} is not a real date and time`);

  const datasetOption = options[ECS_OPTIONS.dataset];
  if (datasetOption !== undefined && !DATASET.test(datasetOption)) {
    return invalid(
      `options.${ECS_OPTIONS.dataset}`,
      `expected a data stream dataset (lower-case letters, digits, _ and ., no -, at most 100 characters), got ${JSON.stringify(datasetOption)}`,
    );
  }
  const originalOption = options[ECS_OPTIONS.eventOriginal];
  if (originalOption !== undefined && originalOption !== 'true' && originalOption !== 'false') {
    return invalid(`options.${ECS_OPTIONS.eventOriginal}`, `expected true or false, got ${JSON.stringify(originalOption)}`);
  }

  const c: Classification = classify(event);
  const connect = event.origin.kind === 'cofide-connect';
  const fixed = ORIGINS[event.origin.kind];
  const version = event.origin.version;
  const service = event.origin.service;

  const ev: Writable<EcsDocument['event']> = {
    kind: 'event',
    type: c.ecsTypes,
    action: event.type,
    outcome: c.ecsOutcome,
    id: event.id,
    dataset: datasetOption ?? fixed.dataset,
    module: fixed.module,
    severity: c.severity,
  };
  // ECS allows no category; an empty list would say nothing more.
  if (c.ecsCategories.length > 0) ev.category = c.ecsCategories;
  if (connect) ev.provider = 'connect';
  else if (service !== undefined) ev.provider = service;
  const reason = connect ? (event.outcome === 'denied' ? 'denied by an access-control policy' : undefined) : event.reasonCode;
  if (reason !== undefined) ev.reason = reason;
  const observed = options.observedTime;
  if (observed !== undefined && OBSERVED_TIME.test(observed)) ev.created = observed;
  if (originalOption === 'true') {
    // JSON text on one line (U+2028 / U+2029 as JSON escapes, like the engine's records); JSON.parse gives back event.raw.
    ev.original = toJsonLine(event.raw);
  }

  const doc: Writable<EcsDocument> = {
    '@timestamp': event.time,
    ecs: { version: ECS_VERSION },
    event: ev,
    message: event.message ?? derivedMessage(event),
    service: {},
    observer: { vendor: fixed.vendor, product: fixed.product },
    agent: { type: 'audit-forwarder' },
    labels: { mapping_version: ecsMapping.version },
  };

  // The actor, and who or what the action was done to where it acts on a user (ECS `user.target`) or a group.
  const actorId = event.actor.id;
  let targetUser: EcsUser | undefined;
  if (connect) {
    if (c.object === 'role_binding') targetUser = userOf(roleBindingSubject(event.data));
  } else if (event.target?.type !== undefined) {
    const kind = lastSegment(event.target.type);
    if (USER_TYPE.test(kind)) targetUser = userOf(event.target.id, event.target.name);
    else if (GROUP_TYPE.test(kind)) {
      const group: Writable<NonNullable<EcsDocument['group']>> = {};
      if (event.target.id !== undefined) group.id = event.target.id;
      if (event.target.name !== undefined) group.name = event.target.name;
      if (group.id !== undefined || group.name !== undefined) doc.group = group;
    }
  }
  const actor = userOf(actorId);
  if (actor !== undefined || targetUser !== undefined) doc.user = targetUser === undefined ? actor : { ...actor, target: targetUser };

  const sourceIp = event.sourceIp !== undefined && isIpAddress(event.sourceIp) ? event.sourceIp : undefined;
  if (event.sourceIp !== undefined) doc.source = sourceIp === undefined ? { address: event.sourceIp } : { address: sourceIp, ip: sourceIp };
  if (!connect && event.reasonCode !== undefined && HTTP_STATUS.test(event.reasonCode)) doc.http = { response: { status_code: Number(event.reasonCode) } };

  const svc: Writable<EcsDocument['service']> = doc.service;
  if (connect) svc.name = event.origin.product;
  else if (service !== undefined) svc.name = service;
  if (!connect) svc.type = event.origin.product;
  if (version !== undefined) {
    svc.version = version;
    (doc.observer as Writable<EcsDocument['observer']>).version = version;
  }

  const relatedUsers: string[] = [];
  if (actor?.id !== undefined && !(connect && NOT_A_PRINCIPAL.has(actor.id))) relatedUsers.push(actor.id);
  if (targetUser?.id !== undefined && !relatedUsers.includes(targetUser.id)) relatedUsers.push(targetUser.id);
  if (targetUser?.name !== undefined && !relatedUsers.includes(targetUser.name)) relatedUsers.push(targetUser.name);
  if (relatedUsers.length > 0 || sourceIp !== undefined) {
    const related: Writable<NonNullable<EcsDocument['related']>> = {};
    if (relatedUsers.length > 0) related.user = relatedUsers;
    if (sourceIp !== undefined) related.ip = [sourceIp];
    doc.related = related;
  }

  const payload = payloadOf(event);
  if (event.dataUnparsed !== undefined) doc.error = { message: `${connect ? 'cofide.data' : 'ibm.cadf.request_data'}: ${event.dataUnparsed.error}` };

  if (connect) {
    const cofide: Writable<NonNullable<EcsDocument['cofide']>> = { change: event.action, outcome: event.outcome, links: event.links.map((l) => ({ type: l.type, id: l.id })) };
    if (version !== undefined) cofide.server_version = version;
    if (event.actor.type !== undefined) cofide.actor = { type: event.actor.type };
    // The entity the event type concerns, with the id of a link of that entity type only (never another type's id).
    if (c.object !== 'other') {
      const id = event.links.find((l) => l.type === c.object)?.id;
      cofide.entity = id === undefined ? { type: c.object } : { type: c.object, id };
    }
    if (payload !== undefined) cofide.data = payload;
    doc.cofide = cofide;
  } else {
    const cadf: Writable<NonNullable<EcsDocument['ibm']>['cadf']> = { outcome: event.outcome };
    if (event.severity !== undefined) cadf.severity = event.severity;
    if (event.reasonCode !== undefined) cadf.reason_code = event.reasonCode;
    if (event.actor.type !== undefined || event.actor.credentialType !== undefined) {
      const initiator: Writable<NonNullable<typeof cadf.initiator>> = {};
      if (event.actor.type !== undefined) initiator.type_uri = event.actor.type;
      if (event.actor.credentialType !== undefined) initiator.credential_type = event.actor.credentialType;
      cadf.initiator = initiator;
    }
    const target = event.target;
    if (target !== undefined) {
      const t: Writable<NonNullable<typeof cadf.target>> = {};
      if (target.id !== undefined) t.id = target.id;
      if (target.name !== undefined) t.name = target.name;
      if (target.type !== undefined) t.type_uri = target.type;
      cadf.target = t;
    }
    if (payload !== undefined) cadf.request_data = payload;
    doc.ibm = { cadf };
  }
  return { kind: 'mapped', value: doc };
}

/** The mapping: audit events as `EcsDocument`s, heartbeats as `EcsHeartbeatDocument`s (data stream `logs-audit_forwarder.heartbeat-*`). */
export interface EcsMapping extends Mapping<EcsDocument | EcsHeartbeatDocument> {
  map(event: AuditEvent, options: MappingOptions): MapResult<EcsDocument>;
  heartbeat(summary: HeartbeatSummary, options: MappingOptions): MapResult<EcsHeartbeatDocument>;
}

export const ecsMapping: EcsMapping = {
  name: 'ecs',
  version: '2',
  encoding: 'json',
  options: [ECS_OPTIONS.dataset, ECS_OPTIONS.eventOriginal],
  map: mapEvent,
  heartbeat: (summary, options) => ecsHeartbeat(summary, options, { ecs: ECS_VERSION, mapping: ecsMapping.version }),
};
