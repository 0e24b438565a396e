// The shared taxonomy: every classification it can produce is valid ECS and CIM, and severities rank as documented.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { classify, VERB_RULES } from '../../mappings/common/taxonomy.ts';
import type { AuditEvent, EventOutcome } from '../../src/model/audit-event.ts';
import { EVENT_TYPES } from '../../src/model/event-types.ts';
import { connectEvent } from '../support/memory-source.ts';

// The ECS 9.4.0 field reference (elastic/ecs, Apache-2.0), vendored so the suite needs nothing outside the repo.
const ECS_FILE = resolve(import.meta.dirname, '../fixtures/ecs/ecs-9.4.0-fields.json');
const ecs = JSON.parse(readFileSync(ECS_FILE, 'utf8')) as { allowed_values: Record<string, Record<string, string[]>> };
const expectedTypes = ecs.allowed_values['event.category']!;
const OUTCOMES: EventOutcome[] = ['success', 'denied', 'failure', 'pending', 'unknown'];
const CADF_ACTIONS = ['create', 'update', 'delete', 'authenticate', 'authorize', 'deploy', 'read', 'iam-identity.apikey.create', 'iam-groups.group.delete', 'frobnicate'];
const CADF_TARGETS = ['service', 'resource', 'API key', 'secret', 'service/security/account/user', 'service/security/account/serviceid', 'team', 'group', undefined];

function cadf(action: string, outcome: EventOutcome, targetType: string | undefined, severity?: string): AuditEvent {
  return connectEvent(1, {
    origin: { kind: 'ibm-cadf', product: 'ibm-platform', service: 'auth-idp' },
    type: action,
    action,
    outcome,
    ...(targetType !== undefined ? { target: { id: 't', type: targetType } } : {}),
    ...(severity !== undefined ? { severity } : {}),
  });
}

function allEvents(): AuditEvent[] {
  const out: AuditEvent[] = [];
  for (const o of OUTCOMES) {
    for (const t of EVENT_TYPES) out.push(connectEvent(1, { type: t.name, action: t.change, outcome: o, links: [{ type: t.entity, id: 'x' }] }));
    out.push(connectEvent(1, { type: 'unknown_99', action: 'unknown', outcome: o }));
    for (const a of CADF_ACTIONS) for (const tt of CADF_TARGETS) out.push(cadf(a, o, tt));
  }
  return out;
}

describe('classify', () => {
  it('emits only ECS category/type pairs that ECS 9.4 expects, and ECS outcomes', () => {
    for (const e of allEvents()) {
      const c = classify(e);
      for (const cat of c.ecsCategories) {
        expect(expectedTypes[cat], `unknown category ${cat}`).toBeDefined();
        for (const t of c.ecsTypes) expect(expectedTypes[cat], `${e.origin.kind} ${e.type} ${e.outcome}: ${cat}/${t}`).toContain(t);
      }
      expect(Object.keys(ecs.allowed_values['event.type']!)).toEqual(expect.arrayContaining([...c.ecsTypes]));
      expect(['success', 'failure', 'unknown']).toContain(c.ecsOutcome);
      if (e.outcome === 'denied') {
        expect(c.ecsTypes).toContain('denied');
        expect(c.ecsOutcome).toBe('failure');
      }
    }
  });

  it('gives CIM actions from the prescribed lists and a status only when the outcome is known', () => {
    for (const e of allEvents()) {
      const c = classify(e);
      if (c.cimModel === 'Authentication') expect([undefined, 'success', 'failure']).toContain(c.cimAction);
      else expect([undefined, 'created', 'modified', 'deleted', 'read']).toContain(c.cimAction);
      expect(c.cimStatus).toBe(e.outcome === 'success' ? 'success' : e.outcome === 'denied' || e.outcome === 'failure' ? 'failure' : undefined);
    }
  });

  it('ranks severity 0–10: deletions above creations, denials and failures above successes, CADF critical at least 8', () => {
    const sev = (type: string, outcome: EventOutcome) => classify(connectEvent(1, { type, outcome })).severity;
    expect(sev('trust_zone_deletion', 'success')).toBeGreaterThan(sev('trust_zone_creation', 'success'));
    expect(sev('trust_zone_creation', 'denied')).toBeGreaterThan(sev('trust_zone_creation', 'failure'));
    expect(sev('trust_zone_creation', 'failure')).toBeGreaterThan(sev('trust_zone_creation', 'success'));
    expect(classify(cadf('read', 'success', 'service', 'critical')).severity).toBe(8);
    for (const e of allEvents()) expect(classify(e).severity).toBeGreaterThanOrEqual(0), expect(classify(e).severity).toBeLessThanOrEqual(10);
  });

  it('maps CADF actions by rule, dotted IBM names by their last segment, and names the object', () => {
    const c = (a: string, t?: string) => classify(cadf(a, 'success', t));
    expect([c('create').verb, c('update').verb, c('delete').verb, c('authenticate').verb, c('deploy').verb, c('read').verb]).toEqual([
      'creation',
      'update',
      'deletion',
      'authentication',
      'deployment',
      'read',
    ]);
    expect(c('iam-identity.apikey.create')).toMatchObject({ verb: 'creation', object: 'apikey', family: 'identity', ecsCategories: ['iam'] });
    expect(c('frobnicate', 'resource')).toMatchObject({ verb: 'other', object: 'resource', ecsCategories: [] });
    expect(c('delete', 'service/security/account/user')).toMatchObject({ family: 'identity', ecsTypes: ['deletion', 'user'], cimChangeType: 'AAA' });
  });

  it('has a rule for every verb, and every Connect change kind is a verb', () => {
    for (const t of EVENT_TYPES) expect(VERB_RULES[t.change]).toBeDefined();
  });
});

describe('classify on hostile input', () => {
  it('a recorded severity that names an Object.prototype member does not corrupt the score', () => {
    for (const severity of ['__proto__', 'constructor', 'toString', 'hasOwnProperty']) {
      const c = classify(connectEvent(1, { origin: { kind: 'ibm-cadf', product: 'ibm-platform' }, type: 'create', action: 'create', severity }));
      expect(c.severity).toBe(3);
    }
  });
});
