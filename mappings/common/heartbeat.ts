// Checks and shared wording of the heartbeat summary (src/contracts/mapping.ts `HeartbeatSummary`) every format's `heartbeat()` reads.
import type { HeartbeatSummary } from '../../src/contracts/mapping.ts';
import { isCanonicalTime } from '../../src/model/time.ts';

/** The product name a heartbeat names as its producer (HEC `source`, ECS `observer.product`, CEF vendor and product, OTLP `service.name`). */
export const FORWARDER_PRODUCT = 'audit-forwarder';

/** The six counts of a ledger window, in the order every format writes them. */
export const HEARTBEAT_COUNTS = ['read', 'selected', 'delivered', 'skipped', 'rejected', 'dead_lettered'] as const;

const HEX64 = /^[0-9a-f]{64}$/;
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;

/** A value in a reason, never throwing (a BigInt or a cycle would make JSON.stringify throw). */
function show(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'number' || typeof v === 'boolean' || v === null || v === undefined) return String(v);
  if (typeof v === 'bigint') return `${v}n`;
  if (Array.isArray(v)) return 'an array';
  return typeof v === 'object' ? 'an object' : `a ${typeof v}`;
}

function timeProblem(v: unknown, path: string): { path: string; reason: string } | undefined {
  if (isCanonicalTime(v)) return undefined;
  return { path, reason: `expected a canonical RFC 3339 UTC time with six fraction digits, got ${show(v)}` };
}

function nameProblem(v: unknown, path: string): { path: string; reason: string } | undefined {
  return typeof v === 'string' && v !== '' ? undefined : { path, reason: 'expected a non-empty string' };
}

/**
 * Why this is not a heartbeat summary a mapping can trust, with the offending path; undefined when it is. Each field
 * is checked on its own (type, form, range; the window's `from` before its `to`). The relations between the counts
 * (`read` = delivered + skipped + rejected + dead_lettered …) are NOT checked: a heartbeat whose counts do not add
 * up is exactly what a SIEM alert is there to see, so it is mapped, never dead-lettered.
 */
export function heartbeatProblem(summary: HeartbeatSummary): { path: string; reason: string } | undefined {
  const s = summary as unknown;
  if (!isObject(s)) return { path: '', reason: 'expected a heartbeat summary (an object)' };
  const problem = nameProblem(s['route'], 'route') ?? nameProblem(s['sink'], 'sink');
  if (problem !== undefined) return problem;
  const window = s['window'];
  if (!isObject(window)) return { path: 'window', reason: 'expected an object {from, to}' };
  const w = timeProblem(window['from'], 'window.from') ?? timeProblem(window['to'], 'window.to');
  if (w !== undefined) return w;
  if ((window['from'] as string) >= (window['to'] as string)) return { path: 'window.to', reason: `expected a time after window.from (${window['from'] as string}), got ${window['to'] as string}` };
  if (!isCount(s['part'])) return { path: 'part', reason: `expected an integer ≥ 0, got ${show(s['part'])}` };
  if (typeof s['late'] !== 'boolean') return { path: 'late', reason: 'expected true or false' };
  const counts = s['counts'];
  if (!isObject(counts)) return { path: 'counts', reason: 'expected an object of counts' };
  for (const k of HEARTBEAT_COUNTS) {
    if (!isCount(counts[k])) return { path: `counts.${k}`, reason: `expected an integer ≥ 0, got ${show(counts[k])}` };
  }
  if (typeof s['digest'] !== 'string' || !HEX64.test(s['digest'])) return { path: 'digest', reason: 'expected 64 lower-case hex digits' };
  if (!isCount(s['seq'])) return { path: 'seq', reason: `expected an integer ≥ 0, got ${show(s['seq'])}` };
  if (typeof s['hash'] !== 'string' || !HEX64.test(s['hash'])) return { path: 'hash', reason: 'expected 64 lower-case hex digits' };
  const closed = timeProblem(s['closedAt'], 'closedAt');
  if (closed !== undefined) return closed;
  const forwarder = s['forwarder'];
  if (!isObject(forwarder)) return { path: 'forwarder', reason: 'expected an object {version, host}' };
  return nameProblem(forwarder['version'], 'forwarder.version') ?? nameProblem(forwarder['host'], 'forwarder.host');
}

/** The id of a heartbeat record (ECS `event.id`, CEF `externalId`, OTLP `log.record.uid`): `hb-` and the first 32 hex digits of the entry's hash. */
export function heartbeatId(summary: HeartbeatSummary): string {
  return `hb-${summary.hash.slice(0, 32)}`;
}

/** One line a person reads (ECS `message`, CEF `msg`, OTLP body): which route and sink, which window, the counts. */
export function heartbeatMessage(s: HeartbeatSummary): string {
  const c = s.counts;
  const part = s.late ? ` (late part ${s.part})` : s.part === 0 ? '' : ` (part ${s.part})`;
  return (
    `Heartbeat of route ${s.route} to sink ${s.sink}, window ${s.window.from} to ${s.window.to}${part}: ` +
    `read ${c.read}, selected ${c.selected}, delivered ${c.delivered}, skipped ${c.skipped}, rejected ${c.rejected}, dead-lettered ${c.dead_lettered}`
  );
}
