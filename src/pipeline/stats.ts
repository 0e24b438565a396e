// Per-lane counters: every record read ends in exactly one status, and the counts add up.
import type { RecordStatus } from '../contracts/outcome.ts';

export interface LaneCounters {
  read: number;
  delivered: number;
  skipped: number;
  rejected: number;
  dead_lettered: number;
  /** Records read but not ended yet (in an open or in-flight batch). */
  readonly inFlight: number;
  /** Sends of a batch (or of part of one) again after a retryable answer. */
  retries: number;
  /** Reads of the source again after a retryable failure. */
  sourceRetries: number;
  /** `retries` by why (`RetryKind`), and `sourceRetries` by error code (`other` without one): metric labels. */
  readonly retriesByKind: Map<string, number>;
  readonly sourceRetriesByCode: Map<string, number>;
  bytesRead: number;
  /** Bytes of the encoded records delivered (before compression and framing). */
  bytesDelivered: number;
  /** Time (canonical RFC 3339) of the newest event delivered: how far behind the destination is (lag). */
  newestDelivered: string | undefined;
  /** Time of the last event read, for progress within a time range. */
  lastEventTime: string | undefined;
  /** Records sent (or, in a dry run, that would be sent) per event type. */
  readonly byType: Map<string, number>;
}

export function createCounters(): LaneCounters {
  const c = {
    read: 0,
    delivered: 0,
    skipped: 0,
    rejected: 0,
    dead_lettered: 0,
    retries: 0,
    sourceRetries: 0,
    retriesByKind: new Map<string, number>(),
    sourceRetriesByCode: new Map<string, number>(),
    bytesRead: 0,
    bytesDelivered: 0,
    newestDelivered: undefined as string | undefined,
    lastEventTime: undefined as string | undefined,
    byType: new Map<string, number>(),
    get inFlight(): number {
      return c.read - c.delivered - c.skipped - c.rejected - c.dead_lettered;
    },
  };
  return c;
}

export function countStatus(c: LaneCounters, status: RecordStatus, n = 1): void {
  c[status] += n;
}

/** The counters of two runs of one lane (before and after a reload restarted it), added up. */
export function addCounters(a: LaneCounters, b: LaneCounters): LaneCounters {
  const c = createCounters();
  for (const k of ['read', 'delivered', 'skipped', 'rejected', 'dead_lettered', 'retries', 'sourceRetries', 'bytesRead', 'bytesDelivered'] as const) c[k] = a[k] + b[k];
  c.lastEventTime = b.lastEventTime ?? a.lastEventTime;
  c.newestDelivered = [a.newestDelivered, b.newestDelivered].filter((t) => t !== undefined).sort().at(-1);
  for (const k of ['byType', 'retriesByKind', 'sourceRetriesByCode'] as const) for (const m of [a[k], b[k]]) for (const [t, n] of m) c[k].set(t, (c[k].get(t) ?? 0) + n);
  return c;
}
