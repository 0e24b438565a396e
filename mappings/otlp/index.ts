// The `otlp-json` mapping: one audit event → one OpenTelemetry LogRecord (OTLP/JSON) with its resource and scope.
import { isIP } from 'node:net';
import type { MapResult, Mapping, MappingOptions } from '../../src/contracts/mapping.ts';
import type { AuditEvent } from '../../src/model/audit-event.ts';
import { toJsonLine } from '../../src/model/json.ts';
import { payloadOf } from '../common/payload.ts';
import { classify, type Classification } from '../common/taxonomy.ts';
import { eventProblem } from '../common/validate.ts';
import { int, str, strArray, stringValue, type KeyValue, type OtlpLogEntry, type OtlpLogRecord } from './any-value.ts';
import { observedNanos, pushOptionAttributes, unixNanos } from './common.ts';
import { otlpHeartbeat } from './heartbeat.ts';
import { OTLP_SEVERITY } from './severity.ts';

export type { AnyValue, KeyValue, OtlpLogEntry, OtlpLogRecord } from './any-value.ts';
export { OTLP_SEVERITY } from './severity.ts';
export { HEARTBEAT_EVENT_NAME } from './heartbeat.ts';

export const OTLP_MAPPING_VERSION = '1';
/** `InstrumentationScope.name` of every record. */
export const OTLP_SCOPE_NAME = 'audit-forwarder';
/** `eventName` prefixes; the event type (Connect) or the action (CADF) follows. */
export const CONNECT_EVENT_NAME_PREFIX = 'cofide.connect.audit.';
export const CADF_EVENT_NAME_PREFIX = 'ibm.cadf.audit.';

/** A type or action that may end an event name as is; anything else ends it in `other` (the value is still carried as an attribute). */
const EVENT_NAME_SUFFIX = /^[A-Za-z0-9_.-]{1,200}$/;
function resourceOf(event: AuditEvent, options: MappingOptions): KeyValue[] {
  const { product, service, version } = event.origin;
  const attributes = [str('service.name', service ?? product ?? event.origin.kind)];
  // A CADF record's observer (`auth-idp`) is the service; the platform that runs it is its namespace.
  if (service !== undefined && product !== undefined) attributes.push(str('service.namespace', product));
  if (version !== undefined) attributes.push(str('service.version', version));
  pushOptionAttributes(attributes, options);
  return attributes;
}

/** The body when the record has no message: `<type> on <object>: <outcome>`. */
function summary(event: AuditEvent, c: Classification): string {
  const object = event.target?.name ?? c.objectId;
  return `${event.type}${object === undefined ? '' : ` on ${object}`}: ${event.outcome}`;
}

function connectAttributes(event: AuditEvent, attributes: KeyValue[], sourceIpIsIp: boolean): void {
  attributes.push(str('cofide.event_type', event.type));
  if (event.actor.type !== undefined) attributes.push(str('cofide.actor.type', event.actor.type));
  if (event.sourceIp !== undefined && !sourceIpIsIp) attributes.push(str('cofide.source_ip', event.sourceIp));
  // Links grouped by entity type: `cofide.links.trust_zone: [ids…]`.
  const groups = new Map<string, string[]>();
  for (const link of event.links) {
    const key = `cofide.links.${link.type}`;
    const ids = groups.get(key);
    if (ids === undefined) groups.set(key, [link.id]);
    else ids.push(link.id);
  }
  for (const [key, ids] of groups) attributes.push(strArray(key, ids));
  const payload = payloadOf(event);
  if (payload !== undefined) attributes.push(str('cofide.data', toJsonLine(payload)));
}

function cadfAttributes(event: AuditEvent, attributes: KeyValue[], sourceIpIsIp: boolean): void {
  attributes.push(str('ibm.cadf.action', event.action));
  const { actor, target } = event;
  if (actor.type !== undefined) attributes.push(str('ibm.cadf.initiator.type_uri', actor.type));
  if (actor.credentialType !== undefined) attributes.push(str('ibm.cadf.initiator.credential.type', actor.credentialType));
  if (event.sourceIp !== undefined && !sourceIpIsIp) attributes.push(str('ibm.cadf.initiator.host.address', event.sourceIp));
  if (target?.id !== undefined) attributes.push(str('ibm.cadf.target.id', target.id));
  if (target?.name !== undefined) attributes.push(str('ibm.cadf.target.name', target.name));
  if (target?.type !== undefined) attributes.push(str('ibm.cadf.target.type_uri', target.type));
  if (event.reasonCode !== undefined) attributes.push(str('ibm.cadf.reason.reason_code', event.reasonCode));
  if (event.severity !== undefined) attributes.push(str('ibm.cadf.severity', event.severity));
  const payload = payloadOf(event);
  if (payload !== undefined) attributes.push(str('ibm.cadf.request_data', toJsonLine(payload)));
}

function mapToOtlp(event: AuditEvent, options: MappingOptions): MapResult<OtlpLogEntry> {
  const problem = eventProblem(event);
  if (problem !== undefined) return { kind: 'invalid', reason: problem.reason, path: problem.path };
  const time = unixNanos(event.time, 'the event time');
  if (!time.ok) return { kind: 'invalid', reason: time.reason, path: 'time' };
  let observedTimeUnixNano: string | undefined;
  const observed = options.observedTime;
  if (observed !== undefined) {
    const o = observedNanos(observed);
    if (!o.ok) return { kind: 'invalid', reason: o.reason, path: 'observedTime' };
    observedTimeUnixNano = o.nanos;
  }

  const c = classify(event);
  const connect = event.origin.kind === 'cofide-connect';
  const sourceIpIsIp = event.sourceIp !== undefined && isIP(event.sourceIp) !== 0;
  const attributes: KeyValue[] = [str('log.record.uid', event.id)];
  if (event.actor.id !== undefined) attributes.push(str('user.id', event.actor.id));
  if (sourceIpIsIp) attributes.push(str('client.address', event.sourceIp!));
  attributes.push(str('audit.action', c.verb), str('audit.outcome', event.outcome), str('audit.category', c.family), str('audit.object.type', c.object));
  if (c.objectId !== undefined) attributes.push(str('audit.object.id', c.objectId));
  attributes.push(int('audit.severity', c.severity));
  if (connect) connectAttributes(event, attributes, sourceIpIsIp);
  else cadfAttributes(event, attributes, sourceIpIsIp);
  attributes.push(str('mapping.version', OTLP_MAPPING_VERSION));

  const severity = OTLP_SEVERITY[c.severityBand];
  const suffix = EVENT_NAME_SUFFIX.test(event.type) ? event.type : 'other';
  const logRecord: OtlpLogRecord = {
    timeUnixNano: time.nanos,
    ...(observedTimeUnixNano !== undefined && { observedTimeUnixNano }),
    severityNumber: severity.number,
    severityText: severity.text,
    body: stringValue(event.message !== undefined && event.message !== '' ? event.message : summary(event, c)),
    eventName: (connect ? CONNECT_EVENT_NAME_PREFIX : CADF_EVENT_NAME_PREFIX) + suffix,
    attributes,
  };
  return {
    kind: 'mapped',
    value: {
      resource: { attributes: resourceOf(event, options) },
      scope: { name: OTLP_SCOPE_NAME, version: OTLP_MAPPING_VERSION },
      logRecord,
    },
  };
}

export const otlpJsonMapping: Mapping<OtlpLogEntry> = {
  name: 'otlp-json',
  version: OTLP_MAPPING_VERSION,
  encoding: 'json',
  options: ['deploymentEnvironment', 'serviceInstanceId'],
  map: mapToOtlp,
  heartbeat: (summary, options) => otlpHeartbeat(summary, options, { name: OTLP_SCOPE_NAME, version: OTLP_MAPPING_VERSION }),
};
