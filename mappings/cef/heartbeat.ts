// The `cef` heartbeat: one CEF:0 line per closed ledger window, Device Event Class ID `audit_forwarder:heartbeat`, never one of the audit classes.
import type { HeartbeatSummary, MapResult } from '../../src/contracts/mapping.ts';
import { FORWARDER_PRODUCT, heartbeatId, heartbeatMessage, heartbeatProblem } from '../common/heartbeat.ts';
import { beforeEpoch, epochMillis } from '../common/time.ts';
import { COMMON_LABELS, EXTENSION_LIMITS, HEADER_LIMITS } from './dictionary.ts';
import { escapeExtension, escapeHeader, truncate } from './escape.ts';

/** Device Event Class ID (Signature ID) and Name of every heartbeat. */
export const HEARTBEAT_SIGNATURE_ID = 'audit_forwarder:heartbeat';
export const HEARTBEAT_NAME = 'Audit forwarder heartbeat';
/** Severity 0 (Low): a heartbeat reports, it does not alarm; the SIEM's rules decide what is wrong. */
export const HEARTBEAT_SEVERITY = 0;

/**
 * Labels of the custom fields of a heartbeat (a CEF label travels next to its value, so a field may mean another
 * thing in another event class, as `cs3`/`cs4` already do between Connect and CADF). `cn3` keeps its meaning in
 * every record of this mapping: the mapping version. The six counts are numbers: `cn1`, `cn2` (CEF Long) and
 * `cfp1`–`cfp4` (CEF floating point, exact for any count below 2^53), so that a rule can compare them.
 */
export const HEARTBEAT_LABELS = Object.freeze({
  cs1: 'route',
  cs2: 'sink',
  cs3: 'ledgerSeq',
  cs4: 'ledgerHash',
  cs5: 'ledgerDigest',
  cs6: 'late',
  flexString1: 'part',
  cn1: 'delivered',
  cn2: 'selected',
  cn3: COMMON_LABELS.cn3,
  cfp1: 'read',
  cfp2: 'skipped',
  cfp3: 'rejected',
  cfp4: 'deadLettered',
});

/** `deviceHostName` limit (ArcSight dictionary: String 100). */
const DVCHOST_LIMIT = 100;

/** The heartbeat line; `mappingVersion` is the `cef` mapping's version (`cn3`). No route option changes it. Pure and total. */
export function cefHeartbeat(summary: HeartbeatSummary, mappingVersion: string): MapResult<string> {
  const problem = heartbeatProblem(summary);
  if (problem !== undefined) return { kind: 'invalid', reason: problem.reason, path: problem.path };
  // CEF timestamps here are epoch milliseconds (as `rt` of the audit records): nothing before 1970.
  for (const [path, time] of [['window.from', summary.window.from], ['window.to', summary.window.to], ['closedAt', summary.closedAt]] as const) {
    if (beforeEpoch(time)) return { kind: 'invalid', reason: `CEF ${path === 'closedAt' ? 'rt' : path === 'window.from' ? 'start' : 'end'} counts milliseconds since 1970-01-01 and cannot carry ${time}`, path };
  }

  const header =
    `CEF:0|${escapeHeader(FORWARDER_PRODUCT)}|${escapeHeader(FORWARDER_PRODUCT)}` +
    `|${escapeHeader(truncate(summary.forwarder.version, HEADER_LIMITS.version))}` +
    `|${escapeHeader(HEARTBEAT_SIGNATURE_ID)}|${escapeHeader(HEARTBEAT_NAME)}|${HEARTBEAT_SEVERITY}|`;

  const L = EXTENSION_LIMITS;
  const B = HEARTBEAT_LABELS;
  const parts: string[] = [];
  /** A text value: truncated to its limit, then escaped (every value from the summary goes through here). */
  const text = (key: string, value: string, limit: number) => parts.push(`${key}=${escapeExtension(truncate(value, limit))}`);
  /** A number (a safe integer, checked) or a constant label: nothing to escape. */
  const raw = (key: string, value: string) => parts.push(`${key}=${value}`);
  const labelledText = (key: keyof typeof B, value: string, limit: number) => {
    raw(`${key}Label`, B[key]);
    text(key, value, limit);
  };
  const labelledNumber = (key: keyof typeof B, value: number | string) => {
    raw(`${key}Label`, B[key]);
    raw(key, String(value));
  };

  const c = summary.counts;
  raw('rt', String(epochMillis(summary.closedAt)));
  raw('start', String(epochMillis(summary.window.from)));
  raw('end', String(epochMillis(summary.window.to)));
  text('externalId', heartbeatId(summary), L.externalId);
  text('dvchost', summary.forwarder.host, DVCHOST_LIMIT);
  text('msg', heartbeatMessage(summary), L.msg);
  labelledText('cs1', summary.route, L.cs);
  labelledText('cs2', summary.sink, L.cs);
  labelledText('cs3', String(summary.seq), L.cs);
  labelledText('cs4', summary.hash, L.cs);
  labelledText('cs5', summary.digest, L.cs);
  labelledText('cs6', String(summary.late), L.cs);
  labelledText('flexString1', String(summary.part), L.flexString);
  labelledNumber('cn1', c.delivered);
  labelledNumber('cn2', c.selected);
  labelledNumber('cn3', mappingVersion);
  labelledNumber('cfp1', c.read);
  labelledNumber('cfp2', c.skipped);
  labelledNumber('cfp3', c.rejected);
  labelledNumber('cfp4', c.dead_lettered);
  return { kind: 'mapped', value: header + parts.join(' ') };
}
