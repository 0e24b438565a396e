// The contract between the Connect source's cursor logic and its two transports (the Connect API, PostgreSQL).
import type { SourceCheckFinding } from '../../src/contracts/source.ts';
import type { JsonValue } from '../../src/model/json.ts';
import { formatEpochMicros } from '../../src/model/time.ts';

/** Which events of a time window to read. Times are canonical (RFC 3339 UTC, six fraction digits). */
export interface WindowQuery {
  /** Earliest `occurred_at` wanted (the reader may also return events at exactly this instant or a bit before). */
  readonly from: string;
  /** Latest `occurred_at` wanted (events at exactly this instant may or may not be returned). */
  readonly to: string;
  /** Event-type numbers to include (pushed down as `filter.event_types`); undefined = all. */
  readonly includeTypes?: readonly number[];
  /** Event-type numbers to exclude (pushed down as `filter.exclude.event_types`). */
  readonly excludeTypes?: readonly number[];
  /** At most this many events in a page, instead of the configured page size (`check` reads one small page). */
  readonly pageSize?: number;
}

/** How far back `check` looks for events: the page it reads shows the credentials work, and whether events come. */
export const CHECK_WINDOW_MS = 3_600_000;

/** The query of `ConnectEventReader.check`: one event of the hour before `untilMs` (now − settleDelay). */
export function checkQuery(untilMs: number): WindowQuery {
  const to = BigInt(Math.floor(untilMs)) * 1000n;
  return { from: formatEpochMicros(to - BigInt(CHECK_WINDOW_MS) * 1000n), to: formatEpochMicros(to), pageSize: 1 };
}

/** One page of a window. */
export interface EventPage {
  readonly events: readonly JsonValue[];
  /** The token of the next page of the same query; undefined on the last page. */
  readonly next?: string;
}

/**
 * Thrown by `readPage` when the server refuses a page token (expired, or the server restarted): the caller reads
 * again from where it can (the source cuts the window at the times already read, or starts it over).
 */
export class PageTokenRefused extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'PageTokenRefused';
  }
}

/**
 * Reads Connect audit events by time window, one page per call. Implemented by the API transport (`ListEvents`
 * and its `next_page_token`) and the PostgreSQL transport (keyset pagination: the token is the last key read).
 * Rules:
 * - `readPage(query, undefined)` is the first page of the window; `readPage(query, page.next)` the one after
 *   `page`, for the same `query`. A failed call may be made again with the same token (resuming the window at
 *   that page, not at its start).
 * - Pages hold events in the proto3 JSON form of `proto.audit.v1alpha1.Event` (`occurredAt`, enum names or
 *   numbers, `data` base64) — the form `decodeConnectEvent` reads — in ANY order, possibly with duplicates
 *   across pages, and possibly a little outside the window; the caller sorts, de-duplicates and filters. (The
 *   PostgreSQL transport returns them in (occurred_at, id) order; the API does not say.)
 * - Honours `signal` (throws its reason promptly).
 * - Throws `PageTokenRefused` for a refused token, else `ForwarderError` (stage `source`): disposition
 *   `retryable` for conditions that may clear (unavailable, deadline exceeded, connection reset), `permanent`
 *   for credentials or permissions refused.
 */
export interface ConnectEventReader {
  /**
   * True when every page holds events in (occurred_at, id) order, each page after the one before (PostgreSQL's
   * keyset pagination): the source then hands events out page by page. Absent: no order is assumed.
   */
  readonly ordered?: boolean;
  readPage(query: WindowQuery, token: string | undefined, signal: AbortSignal): Promise<EventPage>;
  /**
   * Optional: resolves early when new events may be available (PostgreSQL `LISTEN`), else after `ms`, or
   * when `signal` aborts. A reader without it makes the source simply wait its poll interval.
   */
  waitForChange?(ms: number, signal: AbortSignal): Promise<void>;
  /**
   * The road to the store (endpoint, or database and table), as the checkpoint fingerprints of releases before
   * 0.2 named it: a checkpoint written under it is still accepted (see `ConnectSource.identity`).
   */
  legacyIdentity(): JsonValue;
  /**
   * Optional, for `audit-forwarder check`: reads one page of `checkQuery` (connection, credentials, the table and
   * its columns, privileges) and checks what a page does not show (PostgreSQL: the indexes the query needs).
   * The findings name the endpoint or table and how the reader authenticates, never a secret. Never throws,
   * never retries.
   */
  check?(untilMs: number, signal: AbortSignal): Promise<SourceCheckFinding[]>;
  close(): Promise<void>;
}

/** Every page of a window, in the order the reader gives them (for tests and tools; the source drives pages itself). */
export async function* readWholeWindow(reader: ConnectEventReader, query: WindowQuery, signal: AbortSignal): AsyncGenerator<readonly JsonValue[]> {
  let token: string | undefined;
  do {
    const page = await reader.readPage(query, token, signal);
    if (page.events.length > 0) yield page.events;
    token = page.next;
  } while (token !== undefined);
}
