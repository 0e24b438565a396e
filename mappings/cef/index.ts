// The `cef` mapping: one ArcSight CEF:0 line per event (no syslog prefix), for Cofide Connect events and IBM CADF records.
import { createHash } from 'node:crypto';
import { isIPv4, isIPv6 } from 'node:net';
import type { MapResult, Mapping } from '../../src/contracts/mapping.ts';
import type { AuditEvent } from '../../src/model/audit-event.ts';
import { eventTypeByName } from '../../src/model/event-types.ts';
import { payloadOf } from '../common/payload.ts';
import { classify, type Classification } from '../common/taxonomy.ts';
import { beforeEpoch, epochMicros, epochMillis } from '../common/time.ts';
import { eventProblem } from '../common/validate.ts';
import { CADF_LABELS, COMMON_LABELS, CONNECT_LABELS, EXTENSION_LIMITS, EXTERNAL_ID_DIGEST_HEX, EXTERNAL_ID_PREFIX, HEADER_LIMITS } from './dictionary.ts';
import { escapeExtension, escapeHeader, jsonLine, truncate } from './escape.ts';
import { cefHeartbeat } from './heartbeat.ts';

export { HEARTBEAT_LABELS, HEARTBEAT_NAME, HEARTBEAT_SIGNATURE_ID } from './heartbeat.ts';

/** Integer versions only: the version travels in `cn3`, a CEF Long. */
const VERSION = '1';

const invalid = (reason: string, path: string): MapResult<string> => ({ kind: 'invalid', reason, path });

/** Fields this mapping reads that `eventProblem()` does not check: strings when present. */
function shapeProblem(event: AuditEvent): { path: string; reason: string } | undefined {
  const notString = (v: unknown) => v !== undefined && typeof v !== 'string';
  for (const k of ['product', 'service', 'version'] as const) if (notString(event.origin[k])) return { path: `origin.${k}`, reason: 'expected a string' };
  for (const k of ['id', 'type', 'credentialType'] as const) if (notString(event.actor[k])) return { path: `actor.${k}`, reason: 'expected a string' };
  const t = event.target;
  if (t !== undefined) for (const k of ['id', 'name', 'type'] as const) if (notString(t[k])) return { path: `target.${k}`, reason: 'expected a string' };
  return undefined;
}

/** The id as `externalId`: as it is when it fits the key's limit, else a prefix, `~` and a SHA-256 digest of the whole id. */
function externalIdOf(id: string): string {
  if (id.length <= EXTENSION_LIMITS.externalId) return id;
  let n = EXTERNAL_ID_PREFIX;
  const after = id.charCodeAt(n);
  if (after >= 0xdc00 && after <= 0xdfff) n--;
  const digest = createHash('sha256').update(id, 'utf8').digest('hex').slice(0, EXTERNAL_ID_DIGEST_HEX);
  return `${id.slice(0, n)}~${digest}`;
}

/** Source address: `src` takes IPv4 only, `c6a2` an IPv6 address (no zone), anything else is kept in `shost`. */
function sourceKey(ip: string): 'src' | 'c6a2' | 'shost' {
  if (isIPv4(ip)) return 'src';
  if (isIPv6(ip) && !ip.includes('%')) return 'c6a2';
  return 'shost';
}

/** `deviceEventCategory`: the CIM model, the object family and the object, from the shared classification. */
function categoryOf(c: Classification): string {
  return `/${c.cimModel}/${c.family}/${c.object}`;
}

/** Collects `key=value` pairs; a key is only ever one of this module's constants. */
class Extension {
  readonly parts: string[] = [];
  text(key: string, value: string | undefined, limit: number): void {
    if (value === undefined || value === '') return;
    this.parts.push(`${key}=${escapeExtension(truncate(value, limit))}`);
  }
  labelled(key: string, label: string, value: string | undefined, limit: number): void {
    if (value === undefined || value === '') return;
    this.parts.push(`${key}Label=${label}`);
    this.text(key, value, limit);
  }
  /** A number or an address: written as it is (it has been checked to need no escaping). */
  raw(key: string, value: string): void {
    this.parts.push(`${key}=${value}`);
  }
}

const LONG = /^-?\d{1,18}$/;

function mapEvent(event: AuditEvent): MapResult<string> {
  const problem = eventProblem(event) ?? shapeProblem(event);
  if (problem !== undefined) return invalid(problem.reason, problem.path);
  if (beforeEpoch(event.time)) {
    return invalid(`CEF rt counts milliseconds since 1970-01-01 and cannot carry ${event.time}`, 'time');
  }
  const c = classify(event);
  const connect = event.origin.kind === 'cofide-connect';

  const vendor = connect ? 'Cofide' : 'IBM';
  const product = connect ? 'Connect' : event.origin.service || event.origin.product || '';
  const name = connect ? (eventTypeByName(event.type)?.description ?? 'Connect event of a type this forwarder does not know') : (event.action ?? event.type);
  const header =
    `CEF:0|${escapeHeader(vendor)}|${escapeHeader(truncate(product, HEADER_LIMITS.product))}` +
    `|${escapeHeader(truncate(event.origin.version ?? '', HEADER_LIMITS.version))}` +
    `|${escapeHeader(truncate(event.type, HEADER_LIMITS.signatureId))}|${escapeHeader(truncate(name, HEADER_LIMITS.name))}|${c.severity}|`;

  const L = EXTENSION_LIMITS;
  const x = new Extension();
  x.raw('rt', String(epochMillis(event.time)));
  x.text('externalId', externalIdOf(event.id), L.externalId);
  x.text('cat', categoryOf(c), L.cat);
  x.text('act', c.verb, L.act);
  x.text('outcome', event.outcome, L.outcome);
  x.text('suser', event.actor.id, L.suser);
  if (event.sourceIp !== undefined && event.sourceIp !== '') {
    const key = sourceKey(event.sourceIp);
    if (key === 'src') x.raw('src', event.sourceIp);
    else if (key === 'c6a2') {
      x.raw('c6a2Label', COMMON_LABELS.c6a2);
      x.raw('c6a2', event.sourceIp);
    } else x.text('shost', event.sourceIp, L.shost);
  }
  x.text('msg', event.message, L.msg);
  const data = payloadOf(event);
  const json = data === undefined ? undefined : jsonLine(data);
  const common = COMMON_LABELS;
  x.labelled('cs1', common.cs1, event.id, L.cs);
  x.labelled('cs2', common.cs2, c.objectId, L.cs);
  if (connect) {
    x.labelled('cs3', CONNECT_LABELS.cs3, event.links.find((l) => l.type === 'trust_zone')?.id, L.cs);
    x.labelled('cs4', CONNECT_LABELS.cs4, event.links.length === 0 ? undefined : jsonLine(event.links.map((l) => `${l.type}:${l.id}`)), L.cs);
  } else {
    x.labelled('cs3', CADF_LABELS.cs3, event.target?.name, L.cs);
    x.labelled('cs4', CADF_LABELS.cs4, event.target?.type, L.cs);
  }
  x.labelled('cs5', common.cs5, json, L.cs);
  if (!connect) x.labelled('cs6', CADF_LABELS.cs6, event.severity, L.cs);
  x.labelled('flexString1', common.flexString1, event.actor.type, L.flexString);
  if (!connect) {
    x.labelled('flexString2', CADF_LABELS.flexString2, event.actor.credentialType, L.flexString);
    if (event.reasonCode !== undefined && LONG.test(event.reasonCode)) {
      x.raw('cn1Label', CADF_LABELS.cn1);
      x.raw('cn1', event.reasonCode);
    } else x.text('reason', event.reasonCode, L.reason);
  }
  x.raw('cn2Label', COMMON_LABELS.cn2);
  x.raw('cn2', String(epochMicros(event.time)));
  x.raw('cn3Label', COMMON_LABELS.cn3);
  x.raw('cn3', VERSION);
  return { kind: 'mapped', value: header + x.parts.join(' ') };
}

export const cefMapping: Mapping<string> = {
  name: 'cef',
  version: VERSION,
  encoding: 'text',
  options: [],
  map: (event) => mapEvent(event),
  heartbeat: (summary) => cefHeartbeat(summary, VERSION),
};
