// One classification of every event, shared by all formats: kind of change, object, severity, ECS and CIM categories.
import type { AuditEvent } from '../../src/model/audit-event.ts';
import { eventTypeByName, type ChangeKind } from '../../src/model/event-types.ts';

/** What happened, in one vocabulary for both origins: Connect's change kinds plus the CADF actions. */
export type Verb = ChangeKind | 'authentication' | 'authorization' | 'deployment' | 'read' | 'other';

/** The family of the object acted on, which decides IAM vs configuration categories. */
export type ObjectFamily = 'identity' | 'access-policy' | 'infrastructure' | 'other';

export type CimModel = 'Change' | 'Authentication';

export interface VerbRules {
  /** Severity before the outcome is taken into account, 0–10 (the CEF scale). */
  readonly baseSeverity: number;
  /** ECS `event.type` for this verb. */
  readonly ecsType: 'creation' | 'change' | 'deletion' | 'start' | 'info' | 'access';
  /** ECS category for a successful event of this verb on a non-identity object (`api` is always added). */
  readonly ecsCategory: 'configuration' | 'authentication' | null;
  readonly cimModel: CimModel;
  /** CIM Change `action` (prescribed values); Authentication uses success/failure instead. */
  readonly cimChangeAction: 'created' | 'modified' | 'deleted' | 'read' | null;
}

/**
 * The table every format derives from (documented in docs/mappings.md; a test keeps them equal).
 * Deletions rank higher than creations; reads lowest.
 */
export const VERB_RULES: Readonly<Record<Verb, VerbRules>> = Object.freeze({
  creation: { baseSeverity: 3, ecsType: 'creation', ecsCategory: 'configuration', cimModel: 'Change', cimChangeAction: 'created' },
  registration: { baseSeverity: 3, ecsType: 'creation', ecsCategory: 'configuration', cimModel: 'Change', cimChangeAction: 'created' },
  update: { baseSeverity: 3, ecsType: 'change', ecsCategory: 'configuration', cimModel: 'Change', cimChangeAction: 'modified' },
  status_update: { baseSeverity: 2, ecsType: 'change', ecsCategory: 'configuration', cimModel: 'Change', cimChangeAction: 'modified' },
  deployment: { baseSeverity: 4, ecsType: 'change', ecsCategory: 'configuration', cimModel: 'Change', cimChangeAction: 'modified' },
  deletion: { baseSeverity: 5, ecsType: 'deletion', ecsCategory: 'configuration', cimModel: 'Change', cimChangeAction: 'deleted' },
  deregistration: { baseSeverity: 5, ecsType: 'deletion', ecsCategory: 'configuration', cimModel: 'Change', cimChangeAction: 'deleted' },
  pruning: { baseSeverity: 3, ecsType: 'deletion', ecsCategory: 'configuration', cimModel: 'Change', cimChangeAction: 'deleted' },
  attestation: { baseSeverity: 3, ecsType: 'start', ecsCategory: 'authentication', cimModel: 'Authentication', cimChangeAction: null },
  authentication: { baseSeverity: 3, ecsType: 'start', ecsCategory: 'authentication', cimModel: 'Authentication', cimChangeAction: null },
  exchange: { baseSeverity: 3, ecsType: 'info', ecsCategory: 'authentication', cimModel: 'Authentication', cimChangeAction: null },
  authorization: { baseSeverity: 2, ecsType: 'access', ecsCategory: null, cimModel: 'Change', cimChangeAction: null },
  read: { baseSeverity: 1, ecsType: 'access', ecsCategory: 'configuration', cimModel: 'Change', cimChangeAction: 'read' },
  other: { baseSeverity: 3, ecsType: 'info', ecsCategory: null, cimModel: 'Change', cimChangeAction: null },
});

/** Added to the base severity by outcome; then `critical` / `warning` CADF severities raise it to a floor. */
export const OUTCOME_SEVERITY_BONUS = Object.freeze({ success: 0, pending: 0, unknown: 1, failure: 2, denied: 3 });
export const CADF_SEVERITY_FLOOR: Readonly<Record<string, number>> = Object.freeze({ critical: 8, warning: 5 });

/** Connect entity types and CADF target words that are identities or access policies (IAM in ECS, AAA in CIM). */
const IDENTITY = /(^|[/._ -])(user|users|account|serviceid|service_id|apikey|api[ _-]?key|clientid|group|team|identity|principal|role_binding|role)s?($|[/._ -])/i;
const ACCESS_POLICY = new Set(['role_binding', 'attestation_policy', 'attestation_policy_binding', 'exchange_policy']);

/** CADF action words by rule: the last dotted segment (`iam-identity.apikey.create` → `create`), lower-cased. */
const CADF_VERBS: ReadonlyArray<readonly [RegExp, Verb]> = [
  [/^(create|add|register|new|post)$/, 'creation'],
  [/^(update|modify|patch|put|set|change|rotate|enable|disable|lock|unlock)$/, 'update'],
  [/^(delete|remove|deregister|unregister|revoke|destroy)$/, 'deletion'],
  [/^(authenticate|login|logon|signin|sign-in|token|authn)$/, 'authentication'],
  [/^(authorize|authorise|authz|check|evaluate|decide|access)$/, 'authorization'],
  [/^(deploy|install|upgrade|rollout)$/, 'deployment'],
  [/^(read|get|list|view|search|describe|export)$/, 'read'],
];

export interface Classification {
  readonly verb: Verb;
  /** What was acted on: the Connect entity type, or the CADF object (`apikey`, the target typeURI). */
  readonly object: string;
  readonly objectId: string | undefined;
  readonly family: ObjectFamily;
  /** 0–10. */
  readonly severity: number;
  /** `low` 0–3, `medium` 4–6, `high` 7–8, `critical` 9–10 (CIM / CEF bands). */
  readonly severityBand: 'low' | 'medium' | 'high' | 'critical';
  /** ECS `event.category` values; every (category, type) pair is one ECS expects. */
  readonly ecsCategories: readonly string[];
  readonly ecsTypes: readonly string[];
  readonly ecsOutcome: 'success' | 'failure' | 'unknown';
  readonly cimModel: CimModel;
  /** CIM `action`: created/modified/deleted/read for Change, success/failure for Authentication. */
  readonly cimAction: string | undefined;
  /** CIM `status` (success | failure), undefined when the outcome is not known. */
  readonly cimStatus: 'success' | 'failure' | undefined;
  /** CIM Change `change_type`. */
  readonly cimChangeType: 'AAA' | 'configuration';
}

/** `cadfVerb` by action: a source has a few hundred actions at most, so each is worked out once. Bounded all the same. */
const verbsByAction = new Map<string, { readonly verb: Verb; readonly object: string | undefined }>();
const VERB_CACHE_SIZE = 4096;

function cadfVerb(action: string): { readonly verb: Verb; readonly object: string | undefined } {
  let v = verbsByAction.get(action);
  if (v === undefined) {
    if (verbsByAction.size >= VERB_CACHE_SIZE) verbsByAction.clear();
    verbsByAction.set(action, (v = cadfVerbOf(action)));
  }
  return v;
}

function cadfVerbOf(action: string): { verb: Verb; object: string | undefined } {
  const parts = action.toLowerCase().split('.');
  const last = parts.at(-1) ?? '';
  const verb = CADF_VERBS.find(([re]) => re.test(last))?.[1] ?? 'other';
  // `iam-identity.apikey.create`: the segment before the verb names the object.
  const object = parts.length >= 2 && verb !== 'other' ? parts.at(-2) : undefined;
  return { verb, object };
}

function familyOf(object: string): ObjectFamily {
  if (ACCESS_POLICY.has(object)) return 'access-policy';
  if (IDENTITY.test(object)) return 'identity';
  if (object === 'other' || object === '') return 'other';
  return 'infrastructure';
}

function band(score: number): Classification['severityBand'] {
  return score <= 3 ? 'low' : score <= 6 ? 'medium' : score <= 8 ? 'high' : 'critical';
}

/** The verb of an event: from its Connect type, or from the last word of its CADF action. */
function verbOf(event: AuditEvent): Verb {
  return event.origin.kind === 'cofide-connect' ? (eventTypeByName(event.type)?.change ?? 'other') : cadfVerb(event.action).verb;
}

/** A failed authorization decision is a denial too (CADF has no `denied` outcome), and ranks as one. */
function isDenied(event: AuditEvent, verb: Verb): boolean {
  return event.outcome === 'denied' || (verb === 'authorization' && event.outcome === 'failure');
}

function severityFor(event: AuditEvent, verb: Verb): number {
  // An own-property lookup: a recorded severity such as `__proto__` must not reach Object.prototype.
  const recorded = event.severity?.toLowerCase();
  const cadfFloor = recorded !== undefined && Object.hasOwn(CADF_SEVERITY_FLOOR, recorded) ? CADF_SEVERITY_FLOOR[recorded]! : 0;
  const bonus = isDenied(event, verb) ? OUTCOME_SEVERITY_BONUS.denied : OUTCOME_SEVERITY_BONUS[event.outcome];
  return Math.min(10, Math.max(VERB_RULES[verb].baseSeverity + bonus, cadfFloor));
}

/** Pure: the 0–10 severity of `classify(event)` alone, without the rest (the engine gives it to sinks). */
export function severityOf(event: AuditEvent): number {
  return severityFor(event, verbOf(event));
}

/** Pure: the classification of one event. */
export function classify(event: AuditEvent): Classification {
  let verb: Verb;
  let object: string;
  let objectId: string | undefined;
  if (event.origin.kind === 'cofide-connect') {
    const info = eventTypeByName(event.type);
    verb = info?.change ?? 'other';
    object = info?.entity ?? 'other';
    // Only a link of the object's own type names it: another entity's id would mislead an analyst.
    objectId = event.links.find((l) => l.type === object)?.id;
  } else {
    const v = cadfVerb(event.action);
    verb = v.verb;
    object = v.object ?? event.target?.type ?? event.target?.name ?? 'other';
    objectId = event.target?.id;
  }
  const rules = VERB_RULES[verb];
  const family = familyOf(object);
  const denied = isDenied(event, verb);
  const severity = severityFor(event, verb);

  const ecsOutcome = event.outcome === 'success' ? 'success' : event.outcome === 'denied' || event.outcome === 'failure' ? 'failure' : 'unknown';
  const types: string[] = [rules.ecsType];
  const categories: string[] = [];
  const identityChange = family !== 'other' && family !== 'infrastructure' && ['creation', 'change', 'deletion'].includes(rules.ecsType);
  // ECS: `user`/`group` when a user's or group's access changes, `admin` for other IAM objects (policies).
  if (identityChange) {
    const kind = /group|team/i.test(object) ? 'group' : family === 'identity' || object === 'role_binding' ? 'user' : 'admin';
    // A denial is filed under `api`, which expects `user` and `admin` but not `group`.
    if (!(denied && kind === 'group')) types.push(kind);
  }
  if (denied) types.push('denied');
  if (event.origin.kind === 'cofide-connect') categories.push('api');
  // A second category only where all our types are ones it expects (ECS allowed-values table).
  if (identityChange && !denied) categories.push('iam');
  else if (rules.ecsCategory === 'configuration' && !denied && !identityChange) categories.push('configuration');
  else if (rules.ecsCategory === 'authentication' && !denied) categories.push('authentication');
  if (categories.length === 0 && (denied || rules.ecsType === 'access')) categories.push('api');

  const cimStatus = event.outcome === 'success' ? 'success' : event.outcome === 'denied' || event.outcome === 'failure' ? 'failure' : undefined;
  const cimAction = rules.cimModel === 'Authentication' ? cimStatus : (rules.cimChangeAction ?? undefined);
  return {
    verb,
    object,
    objectId,
    family,
    severity,
    severityBand: band(severity),
    ecsCategories: categories,
    ecsTypes: types,
    ecsOutcome,
    cimModel: rules.cimModel,
    cimAction,
    cimStatus,
    cimChangeType: family === 'identity' || family === 'access-policy' ? 'AAA' : 'configuration',
  };
}
