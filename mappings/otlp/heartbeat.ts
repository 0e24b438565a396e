// The `otlp-json` heartbeat: one OpenTelemetry log record per closed ledger window, event name `audit_forwarder.heartbeat`, never an audit event name.
import type { HeartbeatSummary, MapResult, MappingOptions } from '../../src/contracts/mapping.ts';
import { FORWARDER_PRODUCT, HEARTBEAT_COUNTS, heartbeatId, heartbeatMessage, heartbeatProblem } from '../common/heartbeat.ts';
import { int, str, stringValue, type KeyValue, type OtlpLogEntry, type OtlpLogRecord } from './any-value.ts';
import { pushOptionAttributes, unixNanos } from './common.ts';
import { OTLP_SEVERITY } from './severity.ts';

/** `eventName` of every heartbeat (the audit records' names start `cofide.connect.audit.` or `ibm.cadf.audit.`). */
export const HEARTBEAT_EVENT_NAME = 'audit_forwarder.heartbeat';
/** Prefix of the heartbeat's own attributes. */
const NS = 'audit_forwarder';

const bool = (key: string, value: boolean): KeyValue => ({ key, value: { boolValue: value } });

/**
 * The heartbeat log record with its resource (the forwarder: `service.name` `audit-forwarder`, its version and host,
 * then the route's `serviceInstanceId` / `deploymentEnvironment` as for audit records) and the mapping's scope.
 * Pure and total.
 */
export function otlpHeartbeat(
  summary: HeartbeatSummary,
  options: MappingOptions,
  scope: { readonly name: string; readonly version: string },
): MapResult<OtlpLogEntry> {
  const problem = heartbeatProblem(summary);
  if (problem !== undefined) return { kind: 'invalid', reason: problem.reason, path: problem.path };
  const time = unixNanos(summary.closedAt, 'closedAt');
  if (!time.ok) return { kind: 'invalid', reason: time.reason, path: 'closedAt' };
  const attributes: KeyValue[] = [
    str('log.record.uid', heartbeatId(summary)),
    str(`${NS}.route`, summary.route),
    str(`${NS}.sink`, summary.sink),
    str(`${NS}.window.from`, summary.window.from),
    str(`${NS}.window.to`, summary.window.to),
    int(`${NS}.ledger.seq`, summary.seq),
    str(`${NS}.ledger.hash`, summary.hash),
    str(`${NS}.ledger.digest`, summary.digest),
    int(`${NS}.ledger.part`, summary.part),
    bool(`${NS}.ledger.late`, summary.late),
  ];
  for (const k of HEARTBEAT_COUNTS) attributes.push(int(`${NS}.ledger.counts.${k}`, summary.counts[k]));
  attributes.push(str('mapping.version', scope.version));

  // INFO: a heartbeat reports; the SIEM's rules decide what is wrong.
  const severity = OTLP_SEVERITY.low;
  const logRecord: OtlpLogRecord = {
    // The forwarder wrote the record when it closed the entry: that is also when it was observed (the engine's
    // `observedTime`, when it reads audit records, has no meaning for a record the forwarder itself made).
    timeUnixNano: time.nanos,
    observedTimeUnixNano: time.nanos,
    severityNumber: severity.number,
    severityText: severity.text,
    body: stringValue(heartbeatMessage(summary)),
    eventName: HEARTBEAT_EVENT_NAME,
    attributes,
  };
  const resource = [str('service.name', FORWARDER_PRODUCT), str('service.version', summary.forwarder.version), str('host.name', summary.forwarder.host)];
  pushOptionAttributes(resource, options);
  return { kind: 'mapped', value: { resource: { attributes: resource }, scope: { name: scope.name, version: scope.version }, logRecord } };
}
