// The Cofide Connect audit event-type catalog: the 34 names of the Connect docs, their wire numbers and meaning.

/** Entity types of `proto.audit.v1alpha1.EntityType`, by wire number. */
export const ENTITY_TYPES = [
  'unspecified',
  'attestation_policy',
  'attestation_policy_binding',
  'cluster',
  'cofide_agent',
  'exchange_policy',
  'federated_service',
  'federation',
  'node',
  'organization',
  'role_binding',
  'trust_zone',
  'trust_zone_server',
  'workload',
] as const;
export type EntityType = (typeof ENTITY_TYPES)[number];

/** The kind of change an event type records. */
export type ChangeKind =
  | 'creation'
  | 'update'
  | 'deletion'
  | 'registration'
  | 'deregistration'
  | 'attestation'
  | 'pruning'
  | 'exchange'
  | 'status_update';

export interface EventTypeInfo {
  /** Exact config name, as Connect's `enabledEvents` takes it. */
  readonly name: string;
  /** `EventType` enum number on the wire. */
  readonly number: number;
  /** Description, as the Connect documentation gives it. */
  readonly description: string;
  /** The entity type the event concerns. */
  readonly entity: EntityType;
  readonly change: ChangeKind;
}

const row = (number: number, name: string, entity: EntityType, change: ChangeKind, description: string): EventTypeInfo =>
  Object.freeze({ number, name, entity, change, description });

/** All 34 event types, in the order of the Connect documentation (alphabetical). */
export const EVENT_TYPES: readonly EventTypeInfo[] = Object.freeze([
  row(1, 'attestation_policy_creation', 'attestation_policy', 'creation', 'An attestation policy was created'),
  row(2, 'attestation_policy_update', 'attestation_policy', 'update', 'An attestation policy was updated'),
  row(3, 'attestation_policy_deletion', 'attestation_policy', 'deletion', 'An attestation policy was deleted'),
  row(4, 'attestation_policy_binding_creation', 'attestation_policy_binding', 'creation', 'An attestation policy binding was created'),
  row(5, 'attestation_policy_binding_update', 'attestation_policy_binding', 'update', 'An attestation policy binding was updated'),
  row(6, 'attestation_policy_binding_deletion', 'attestation_policy_binding', 'deletion', 'An attestation policy binding was deleted'),
  row(7, 'cluster_creation', 'cluster', 'creation', 'A cluster was registered'),
  row(8, 'cluster_update', 'cluster', 'update', 'A cluster was updated'),
  row(9, 'cluster_deletion', 'cluster', 'deletion', 'A cluster was deleted'),
  row(10, 'cofide_agent_registration', 'cofide_agent', 'registration', 'A Cofide Agent registered with the control plane'),
  row(11, 'exchange_policy_creation', 'exchange_policy', 'creation', 'A token exchange policy was created'),
  row(12, 'exchange_policy_update', 'exchange_policy', 'update', 'A token exchange policy was updated'),
  row(13, 'exchange_policy_deletion', 'exchange_policy', 'deletion', 'A token exchange policy was deleted'),
  row(14, 'federated_service_registration', 'federated_service', 'registration', 'A federated service was registered'),
  row(15, 'federated_service_update', 'federated_service', 'update', 'A federated service was updated'),
  row(16, 'federated_service_deregistration', 'federated_service', 'deregistration', 'A federated service was deregistered'),
  row(17, 'federation_creation', 'federation', 'creation', 'A federation relationship was created'),
  row(19, 'federation_deletion', 'federation', 'deletion', 'A federation relationship was deleted'),
  row(20, 'node_attestation', 'node', 'attestation', 'A node was attested'),
  row(21, 'node_deletion', 'node', 'deletion', 'A node record was deleted'),
  row(22, 'node_pruning', 'node', 'pruning', 'A node record was removed by the pruning job'),
  row(23, 'role_binding_creation', 'role_binding', 'creation', 'A role binding was created'),
  row(24, 'role_binding_update', 'role_binding', 'update', 'A role binding was updated'),
  row(25, 'role_binding_deletion', 'role_binding', 'deletion', 'A role binding was deleted'),
  row(35, 'token_exchange', 'exchange_policy', 'exchange', 'A token exchange request was processed'),
  row(26, 'trust_zone_creation', 'trust_zone', 'creation', 'A trust zone was created'),
  row(27, 'trust_zone_update', 'trust_zone', 'update', 'A trust zone was updated'),
  row(28, 'trust_zone_deletion', 'trust_zone', 'deletion', 'A trust zone was deleted'),
  row(29, 'trust_zone_server_creation', 'trust_zone_server', 'creation', 'A trust zone server was added'),
  row(30, 'trust_zone_server_update', 'trust_zone_server', 'update', 'A trust zone server was updated'),
  row(31, 'trust_zone_server_deletion', 'trust_zone_server', 'deletion', 'A trust zone server was removed'),
  row(32, 'trust_zone_server_status_update', 'trust_zone_server', 'status_update', "A trust zone server's status changed"),
  row(33, 'workload_creation', 'workload', 'creation', 'A workload registration was created'),
  row(34, 'workload_deletion', 'workload', 'deletion', 'A workload registration was deleted'),
]);

const byName = new Map(EVENT_TYPES.map((t) => [t.name, t]));
const byNumber = new Map(EVENT_TYPES.map((t) => [t.number, t]));

/** The catalog entry for a config name, or undefined. */
export function eventTypeByName(name: string): EventTypeInfo | undefined {
  return byName.get(name);
}

/** The catalog entry for a wire number, or undefined (0, 18 and numbers of newer servers). */
export function eventTypeByNumber(n: number): EventTypeInfo | undefined {
  return byNumber.get(n);
}

/** The name a type number travels under: its catalog name, or `unknown_<n>` for a number this build does not know. */
export function eventTypeName(n: number): string {
  return byNumber.get(n)?.name ?? `unknown_${n}`;
}

export const EVENT_TYPE_NAMES: readonly string[] = Object.freeze(EVENT_TYPES.map((t) => t.name));
