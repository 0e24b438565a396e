// Canonical events for mapping tests: one Connect event and one CADF record, with what a test changes.
import type { AuditEvent } from '../../src/model/audit-event.ts';

/** A `trust_zone_creation` by a user, from a public IP, linked to its trust zone. */
export function connectEvent(overrides: Partial<AuditEvent> = {}): AuditEvent {
  return {
    id: 'ae01test',
    time: '2026-05-12T08:00:00.123456Z',
    origin: { kind: 'cofide-connect', product: 'cofide-connect', version: '1.4.2' },
    type: 'trust_zone_creation',
    action: 'creation',
    message: 'Trust zone created',
    actor: { id: 'auth0|abc', type: 'user' },
    sourceIp: '203.0.113.7',
    outcome: 'success',
    links: [{ type: 'trust_zone', id: 'tz-1' }],
    raw: {},
    ...overrides,
  };
}

/** A CADF `create` by an IBMid user with a token, from `auth-idp`, without a target. */
export function cadfEvent(overrides: Partial<AuditEvent> = {}): AuditEvent {
  return {
    id: 'cadf-1',
    time: '2026-05-12T08:00:00.123456Z',
    origin: { kind: 'ibm-cadf', product: 'ibm-platform', service: 'auth-idp' },
    type: 'create',
    action: 'create',
    actor: { id: 'IBMid-1', type: 'service/security/account/user', credentialType: 'token' },
    outcome: 'success',
    links: [],
    raw: {},
    ...overrides,
  };
}
