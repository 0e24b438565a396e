// What the OTLP audit record and the OTLP heartbeat share: OTLP times (fixed64 nanoseconds) and the resource attributes of the route's options.
import type { MappingOptions } from '../../src/contracts/mapping.ts';
import { epochNanosString } from '../common/time.ts';
import { str, type KeyValue } from './any-value.ts';

/** A canonical time whose fields are in calendar range, so that `epochNanosString` cannot meet a NaN (month 13, hour 25). */
const CALENDAR_TIME = /^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])T([01]\d|2[0-3]):[0-5]\d:[0-5]\d\.\d{6}Z$/;
const EPOCH = '1970-01-01T00:00:00.000000Z';
/** The last microsecond whose nanosecond count fits OTLP's fixed64 (2^64 − 1 ns is 2554-07-21T23:34:33.709551615Z). */
const LAST_FIXED64_TIME = '2554-07-21T23:34:33.709551Z';

export type Nanos = { readonly ok: true; readonly nanos: string } | { readonly ok: false; readonly reason: string };

/** A canonical time as OTLP fixed64 nanoseconds: after 1970 (0 means "unknown" in OTLP) and before the fixed64 limit. */
export function unixNanos(time: string, what: string): Nanos {
  if (!CALENDAR_TIME.test(time)) return { ok: false, reason: `${what} must be an RFC 3339 UTC calendar time with six fraction digits, got ${JSON.stringify(time)}` };
  if (time <= EPOCH) {
    return {
      ok: false,
      reason:
        time === EPOCH
          ? `${what} is the Unix epoch itself, which OTLP reads as "unknown" (a time of 0)`
          : `${what} ${time} is before 1970: OTLP times are unsigned nanoseconds since the Unix epoch`,
    };
  }
  if (time > LAST_FIXED64_TIME) return { ok: false, reason: `${what} ${time} is after ${LAST_FIXED64_TIME}, the last time OTLP's 64-bit nanoseconds can hold` };
  return { ok: true, nanos: epochNanosString(time) };
}

// The engine gives one observedTime to a whole chunk of records: converting it once per chunk, not per record,
// is worth a one-entry memo (of a pure function, so the mapping stays pure).
let lastObserved: { readonly time: string; readonly result: Nanos } | undefined;
export function observedNanos(time: string): Nanos {
  if (lastObserved?.time !== time) lastObserved = { time, result: unixNanos(time, 'the observedTime option') };
  return lastObserved.result;
}

/** Resource attributes the route's options add (`serviceInstanceId`, `deploymentEnvironment`), after the service's own. */
export function pushOptionAttributes(attributes: KeyValue[], options: MappingOptions): void {
  const instance = options.serviceInstanceId;
  if (instance !== undefined && instance !== '') attributes.push(str('service.instance.id', instance));
  const environment = options.deploymentEnvironment;
  if (environment !== undefined && environment !== '') attributes.push(str('deployment.environment.name', environment));
}
