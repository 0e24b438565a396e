// The canonical audit event: one shape that carries a Cofide Connect event or an IBM CADF record without loss.
import type { EntityType } from './event-types.ts';
import type { JsonValue } from './json.ts';

export type EventOutcome = 'success' | 'denied' | 'failure' | 'pending' | 'unknown';

/** Where an event was recorded. */
export type OriginKind = 'cofide-connect' | 'ibm-cadf';

export interface EventOrigin {
  readonly kind: OriginKind;
  /** Product that recorded it: `cofide-connect`, `ibm-platform`. */
  readonly product: string;
  /** Emitting service (`auth-idp`, `auth-pdp`, a file's service name), when known. */
  readonly service?: string;
  /** Version of the recording software (Connect's `server_version`), when known. */
  readonly version?: string;
}

export interface EventActor {
  /** JWT `sub`, SPIFFE ID, `system`, `join-token` (Connect); `initiator.id` (CADF). */
  readonly id?: string;
  /** `user`, `workload`, `system`, `join-token` (Connect, derived); `initiator.typeURI` (CADF). */
  readonly type?: string;
  /** `initiator.credential.type` (CADF). */
  readonly credentialType?: string;
}

export interface EntityLink {
  /** Entity type name (lower-case, `unknown_<n>` for a number this build does not know). */
  readonly type: EntityType | string;
  readonly id: string;
}

export interface EventTarget {
  readonly id?: string;
  readonly name?: string;
  readonly type?: string;
}

/** Event data that could not be parsed as JSON: kept as it came (the base64 text of the bytes), flagged, never dropped. */
export interface UnparsedData {
  readonly original: string;
  readonly error: string;
}

export interface AuditEvent {
  /** Unique id: Connect's `ae…` id, the CADF record's `id`, or an id derived from the record's content. */
  readonly id: string;
  /**
   * When the event occurred: RFC 3339 in UTC with exactly six fraction digits
   * (`2026-01-02T03:04:05.123456Z`), so that string order is time order. See `src/model/time.ts`.
   */
  readonly time: string;
  readonly origin: EventOrigin;
  /** Connect event-type name (`trust_zone_creation`, `unknown_<n>`) or the CADF `action` as recorded. */
  readonly type: string;
  /** Kind of change: the catalog's change kind for Connect (`creation` …), the CADF action for CADF. */
  readonly action: string;
  readonly message?: string;
  readonly actor: EventActor;
  readonly sourceIp?: string;
  readonly outcome: EventOutcome;
  /** CADF `reason.reasonCode` (an HTTP status), as a string. */
  readonly reasonCode?: string;
  /** CADF `severity` as recorded (`normal`, `warning`, `critical`). */
  readonly severity?: string;
  /** Entities the event concerns (Connect links). Empty when there are none. */
  readonly links: readonly EntityLink[];
  /** The target of the action (CADF `target.*`). */
  readonly target?: EventTarget;
  /** Event-specific payload, parsed JSON. Absent when the record has none. */
  readonly data?: JsonValue;
  /** Set instead of `data` when the payload was present but not valid JSON. */
  readonly dataUnparsed?: UnparsedData;
  /** The record as it was read, for evidence and for formats that carry the original. */
  readonly raw: JsonValue;
}

/** A record that cannot be decoded into an `AuditEvent`: never patched with guesses. */
export interface InvalidRecord {
  /** Dotted path of the offending field (`occurredAt`, `initiator.id`), or `` for the whole record. */
  readonly path: string;
  readonly reason: string;
  /**
   * Set when the record is refused for a reason other than a broken rule: `FWD_DECODE_TOO_DEEP` (nested deeper
   * than the source's `maxNestingDepth`), `FWD_DECODE_FAILED` (the decoder threw: a bug, isolated to this record).
   * Absent means `FWD_DECODE_INVALID`.
   */
  readonly code?: 'FWD_DECODE_TOO_DEEP' | 'FWD_DECODE_FAILED';
}

export type DecodeResult =
  | { readonly ok: true; readonly event: AuditEvent }
  | { readonly ok: false; readonly error: InvalidRecord };
