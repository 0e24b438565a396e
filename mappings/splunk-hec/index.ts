// The `splunk-hec` mapping: one HEC JSON envelope per event, the event body carrying Splunk CIM fields beside the canonical ones.
import type { HeartbeatSummary, MapResult, Mapping, MappingOptions } from '../../src/contracts/mapping.ts';
import type { AuditEvent, EntityLink, EventActor, EventOrigin, EventTarget } from '../../src/model/audit-event.ts';
import type { JsonValue } from '../../src/model/json.ts';
import { payloadOf } from '../common/payload.ts';
import { classify } from '../common/taxonomy.ts';
import { beforeEpoch, epochSeconds } from '../common/time.ts';
import { eventProblem } from '../common/validate.ts';
import { cimFields, type CimFields } from './cim.ts';
import { splunkHecHeartbeat, type SplunkHecHeartbeatEnvelope } from './heartbeat.ts';

export { HEARTBEAT_SOURCE, HEARTBEAT_SOURCETYPE, type SplunkHecHeartbeatEnvelope } from './heartbeat.ts';

export const SPLUNK_HEC_MAPPING_NAME = 'splunk-hec';
export const SPLUNK_HEC_MAPPING_VERSION = '1';

/** Default `sourcetype` by origin; a route's `mappingOptions.sourcetype` replaces it. */
export const DEFAULT_SOURCETYPE = Object.freeze({ 'cofide-connect': 'cofide:connect:audit', 'ibm-cadf': 'ibm:cadf:audit' });

/** `mapping` of every event body: which rules produced the record. */
const MAPPING_STAMP = Object.freeze({ name: SPLUNK_HEC_MAPPING_NAME, version: SPLUNK_HEC_MAPPING_VERSION });

/** The only keys an envelope has (`/services/collector/event`). */
export const HEC_ENVELOPE_KEYS: readonly string[] = Object.freeze(['time', 'host', 'source', 'sourcetype', 'index', 'fields', 'event']);

/** Indexed fields: flat strings only (HEC rejects nested values and may drop numbers). Names differ from every body key. */
export interface SplunkHecIndexedFields {
  event_id: string;
  event_type: string;
  event_outcome: string;
  event_origin: string;
  mapping_version: string;
}

/** The event body: CIM fields first (short, so search-time JSON extraction reaches them), then the canonical event. */
export interface SplunkHecEventBody extends CimFields {
  id: string;
  /** The exact event time, RFC 3339 UTC with microseconds (the envelope `time` sets `_time`). */
  time: string;
  type: string;
  outcome: string;
  /** The canonical `action`: Connect's kind of change (`creation` …), the CADF action as recorded. */
  vendor_action: string;
  /** CADF `severity` as recorded (`normal`, `warning`, `critical`). */
  vendor_severity?: string;
  /** CADF `reason.reasonCode` (an HTTP status), as a string. */
  reasonCode?: string;
  origin: EventOrigin;
  mapping: { name: string; version: string };
  actor: EventActor;
  target?: EventTarget;
  links: readonly EntityLink[];
  message?: string;
  /** The event-specific payload (`{unparsed, error}` when it was not JSON); nothing in it can replace a field above. */
  data?: JsonValue;
}

export interface SplunkHecEnvelope {
  /** Epoch seconds with six decimals (microseconds). */
  time: number;
  host?: string;
  source: string;
  sourcetype: string;
  index?: string;
  fields: SplunkHecIndexedFields;
  event: SplunkHecEventBody;
}

/** A route option, or undefined when it is absent or empty. */
function option(options: MappingOptions, key: string): string | undefined {
  const v = options[key];
  return typeof v === 'string' && v !== '' ? v : undefined;
}

/** Shape checks `eventProblem` leaves to the formats: the fields `classify` and this mapping read. */
function shapeProblem(event: AuditEvent): { path: string; reason: string } | undefined {
  if (typeof event.actor !== 'object' || event.actor === null) return { path: 'actor', reason: 'expected an object' };
  if (!Array.isArray(event.links)) return { path: 'links', reason: 'expected an array' };
  if (typeof event.action !== 'string') return { path: 'action', reason: 'expected a string' };
  return undefined;
}

function map(event: AuditEvent, options: MappingOptions): MapResult<SplunkHecEnvelope> {
  const problem = eventProblem(event) ?? shapeProblem(event);
  if (problem !== undefined) return { kind: 'invalid', reason: problem.reason, path: problem.path };
  if (beforeEpoch(event.time)) return { kind: 'invalid', reason: `HEC time is epoch seconds and cannot be before 1970, got ${event.time}`, path: 'time' };

  const c = classify(event);
  // Fixed key order, absent values undefined (JSON leaves them out); long values last, because Splunk's
  // search-time JSON extraction stops after a number of characters.
  const body: SplunkHecEventBody = {
    id: event.id,
    time: event.time,
    type: event.type,
    outcome: event.outcome,
    ...cimFields(event, c),
    vendor_action: event.action,
    vendor_severity: event.severity,
    reasonCode: event.reasonCode,
    origin: event.origin,
    mapping: MAPPING_STAMP,
    actor: event.actor,
    target: event.target,
    links: event.links,
    message: event.message,
    data: payloadOf(event),
  };
  const envelope: SplunkHecEnvelope = {
    time: epochSeconds(event.time),
    host: option(options, 'host'),
    source: option(options, 'source') ?? (event.origin.service || event.origin.product),
    sourcetype: option(options, 'sourcetype') ?? DEFAULT_SOURCETYPE[event.origin.kind],
    index: option(options, 'index'),
    fields: {
      event_id: event.id,
      event_type: event.type,
      event_outcome: event.outcome,
      event_origin: event.origin.kind,
      mapping_version: SPLUNK_HEC_MAPPING_VERSION,
    },
    event: body,
  };
  return { kind: 'mapped', value: envelope };
}

/** The mapping: audit events as `SplunkHecEnvelope`s, heartbeats as `SplunkHecHeartbeatEnvelope`s (sourcetype `audit_forwarder:heartbeat`). */
export interface SplunkHecMapping extends Mapping<SplunkHecEnvelope | SplunkHecHeartbeatEnvelope> {
  map(event: AuditEvent, options: MappingOptions): MapResult<SplunkHecEnvelope>;
  heartbeat(summary: HeartbeatSummary, options: MappingOptions): MapResult<SplunkHecHeartbeatEnvelope>;
}

export const splunkHecMapping: SplunkHecMapping = {
  name: SPLUNK_HEC_MAPPING_NAME,
  version: SPLUNK_HEC_MAPPING_VERSION,
  encoding: 'json',
  options: ['sourcetype', 'source', 'host', 'index'],
  map,
  heartbeat: (summary, options) => splunkHecHeartbeat(summary, options, MAPPING_STAMP),
};
