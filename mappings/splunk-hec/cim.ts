// Splunk CIM fields (Authentication and Change data models) of one event, derived from the shared taxonomy.
import type { AuditEvent, OriginKind } from '../../src/model/audit-event.ts';
import { eventTypeByName } from '../../src/model/event-types.ts';
import type { Classification } from '../common/taxonomy.ts';

/** CIM `vendor_product` by origin (required by the Change data model). */
export const VENDOR_PRODUCT: Readonly<Record<OriginKind, string>> = Object.freeze({
  'cofide-connect': 'Cofide Connect',
  'ibm-cadf': 'IBM Platform',
});

/** CIM fields of the event body. Absent values are left out, never invented. */
export interface CimFields {
  /** Change: created | modified | deleted | read; Authentication: success | failure. */
  action?: string;
  /** success | failure; absent when the outcome is not known (pending, unknown). */
  status?: string;
  /** Clarifies the status: the outcome when it is `denied`, `pending` or `unknown`. */
  result?: string;
  /** Change data model only: `AAA` for identities and access policies, else `configuration`. */
  change_type?: string;
  signature_id: string;
  signature: string;
  /** low | medium | high | critical (the taxonomy's band). */
  severity: string;
  /** 0–10 (the taxonomy's score). */
  severity_id: number;
  /** The actor; for account-management changes the account that was changed (then `src_user` is the actor). */
  user?: string;
  src_user?: string;
  src?: string;
  /** The system the change or authentication happened on: the emitting service, else the product. */
  dest: string;
  app: string;
  vendor_product: string;
  object_category: string;
  object_id?: string;
  object?: string;
  /** Authentication data model only: the credential used (CADF `initiator.credential.type`). */
  authentication_method?: string;
}

const ACCOUNT_CHANGES = new Set(['created', 'modified', 'deleted']);

/** True for a change to an account (an identity that is not a group): CIM's user inversion applies. */
function isAccountChange(c: Classification): boolean {
  return c.family === 'identity' && c.cimModel === 'Change' && c.cimAction !== undefined && ACCOUNT_CHANGES.has(c.cimAction) && !c.ecsTypes.includes('group');
}

/** Pure: the CIM fields of `event` given its classification (absent values undefined, in a fixed key order). */
export function cimFields(event: AuditEvent, c: Classification): CimFields {
  const connect = event.origin.kind === 'cofide-connect';
  const actor = event.actor.id || undefined;
  const account = isAccountChange(c);
  return {
    action: c.cimAction,
    status: c.cimStatus,
    result: event.outcome === 'success' || event.outcome === 'failure' ? undefined : event.outcome,
    change_type: c.cimModel === 'Change' ? c.cimChangeType : undefined,
    signature_id: event.type,
    signature: (connect ? eventTypeByName(event.type)?.description : undefined) ?? event.type,
    severity: c.severityBand,
    severity_id: c.severity,
    user: account ? event.target?.name || event.target?.id || undefined : actor,
    src_user: account ? actor : undefined,
    src: event.sourceIp || undefined,
    dest: event.origin.service || event.origin.product,
    app: event.origin.product,
    vendor_product: VENDOR_PRODUCT[event.origin.kind],
    object_category: c.object,
    object_id: c.objectId || undefined,
    // CADF names its target; Connect identifies objects by id only (their names are inside `data`).
    object: (connect ? undefined : event.target?.name) || c.objectId || undefined,
    authentication_method: c.cimModel === 'Authentication' ? event.actor.credentialType || undefined : undefined,
  };
}
