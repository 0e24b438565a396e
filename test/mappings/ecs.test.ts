// Tests of the `ecs` mapping: golden files, every emitted field checked against the ECS 9.4.0 field definitions, properties.
import { existsSync, readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { resolve } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { MapResult } from '../../src/contracts/mapping.ts';
import type { AuditEvent, EventOutcome } from '../../src/model/audit-event.ts';
import { EVENT_TYPES } from '../../src/model/event-types.ts';
import { toJsonLine, type JsonValue } from '../../src/model/json.ts';
import type { EcsDocument } from '../../mappings/ecs/document.ts';
import { ECS_OPTIONS, ECS_VERSION, ecsMapping, roleBindingSubject } from '../../mappings/ecs/index.ts';
import { describeGolden, goldenCases, GOLDEN_OBSERVED_TIME, mappedGoldens } from '../support/golden-mappings.ts';
import { cadfEvent, connectEvent } from '../support/events.ts';

const ROOT = resolve(import.meta.dirname, '../..');
const ECS_FIELDS_FILE = resolve(ROOT, 'test/fixtures/ecs/ecs-9.4.0-fields.json');
/** Top-level keys that are ours, not ECS: Connect detail and CADF detail. */
const CUSTOM_NAMESPACES = new Set(['cofide', 'ibm']);

interface EcsSpec {
  readonly ecs_version: string;
  readonly fields: Readonly<Record<string, { readonly type: string; readonly normalize?: readonly string[] }>>;
  readonly allowed_values: Readonly<Record<string, Readonly<Record<string, readonly string[]>>>>;
}

let loaded: EcsSpec | undefined;
/** The ECS 9.4.0 field definitions (elastic/ecs, Apache-2.0), vendored in test/fixtures/ecs. */
function ecsSpec(): EcsSpec {
  if (loaded !== undefined) return loaded;
  if (!existsSync(ECS_FIELDS_FILE)) {
    throw new Error(`ECS field definitions not found at ${ECS_FIELDS_FILE}: the vendored ECS reference is missing`);
  }
  loaded = JSON.parse(readFileSync(ECS_FIELDS_FILE, 'utf8')) as EcsSpec;
  return loaded;
}

const isPlainObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/;

function scalarProblem(type: string, v: unknown): string | undefined {
  switch (type) {
    case 'keyword':
    case 'constant_keyword':
    case 'wildcard':
    case 'match_only_text':
    case 'text':
      return typeof v === 'string' ? undefined : `expected a string for ${type}`;
    case 'ip':
      return typeof v === 'string' && isIP(v) !== 0 && !v.includes('%') ? undefined : 'expected an IP address';
    case 'date':
      return typeof v === 'string' && RFC3339.test(v) && !Number.isNaN(Date.parse(v)) ? undefined : 'expected an RFC 3339 date';
    case 'long':
    case 'integer':
      return Number.isSafeInteger(v) ? undefined : `expected an integer for ${type}`;
    case 'float':
    case 'double':
    case 'scaled_float':
      return typeof v === 'number' && Number.isFinite(v) ? undefined : `expected a number for ${type}`;
    case 'boolean':
      return typeof v === 'boolean' ? undefined : 'expected a boolean';
    default:
      return `type ${type} is not checked here: extend the test before emitting it`;
  }
}

/** Every way `doc` departs from ECS 9.4.0, as `path: problem` lines (empty when it conforms). */
function ecsProblems(doc: unknown): string[] {
  const spec = ecsSpec();
  const out: string[] = [];
  const walk = (v: unknown, path: string): void => {
    if (path !== '' && CUSTOM_NAMESPACES.has(path.split('.')[0] as string)) return;
    const def = spec.fields[path];
    if (def === undefined) {
      if (isPlainObject(v)) for (const [k, child] of Object.entries(v)) walk(child, path === '' ? k : `${path}.${k}`);
      else out.push(`${path}: not an ECS field (and not under ${[...CUSTOM_NAMESPACES].join(', ')})`);
      return;
    }
    if (def.type === 'object' || def.type === 'flattened' || def.type === 'nested') {
      if (!isPlainObject(v)) out.push(`${path}: expected an object`);
      // ECS object fields (`labels`) hold flat keyword values.
      else if (def.type === 'object') for (const [k, child] of Object.entries(v)) if (typeof child !== 'string') out.push(`${path}.${k}: expected a flat keyword value`);
      return;
    }
    const values = Array.isArray(v) ? v : [v];
    if (Array.isArray(v) && !def.normalize?.includes('array')) out.push(`${path}: an array where ECS expects a single value`);
    for (const item of values) {
      const p = scalarProblem(def.type, item);
      if (p !== undefined) out.push(`${path}: ${p}, got ${JSON.stringify(item)}`);
    }
    const allowed = spec.allowed_values[path];
    if (allowed !== undefined) for (const item of values) if (!Object.hasOwn(allowed, item as string)) out.push(`${path}: ${JSON.stringify(item)} is not an allowed value`);
  };
  walk(doc, '');
  const d = doc as EcsDocument;
  if (d['@timestamp'] === undefined) out.push('@timestamp: required');
  if (d.ecs?.version !== spec.ecs_version) out.push(`ecs.version: expected ${spec.ecs_version}`);
  const expected = spec.allowed_values['event.category'] ?? {};
  for (const category of d.event?.category ?? []) {
    for (const type of d.event?.type ?? []) {
      if (!(expected[category] ?? []).includes(type)) out.push(`event.category ${category} does not expect event.type ${type}`);
    }
  }
  return out;
}

/** Leaf paths of a document (array items share their array's path), not descending into `stopAt` paths. */
function leafPaths(v: unknown, path: string, stopAt: ReadonlySet<string>, out: Set<string>): Set<string> {
  if (stopAt.has(path)) out.add(path);
  else if (Array.isArray(v)) for (const item of v) leafPaths(item, path, stopAt, out);
  else if (isPlainObject(v)) for (const [k, child] of Object.entries(v)) leafPaths(child, path === '' ? k : `${path}.${k}`, stopAt, out);
  else out.add(path);
  return out;
}

function mapped(r: MapResult<EcsDocument>): EcsDocument {
  if (r.kind !== 'mapped') throw new Error(`expected mapped, got ${JSON.stringify(r)}`);
  return r.value;
}

const cases = goldenCases();
function golden(name: string): { event: AuditEvent; doc: EcsDocument } {
  const c = cases.find((x) => x.name === name);
  if (c === undefined) throw new Error(`no golden input ${name}`);
  return { event: c.event, doc: mapped(ecsMapping.map(c.event, c.options)) };
}

const OPTIONS = { observedTime: GOLDEN_OBSERVED_TIME };

describeGolden(ecsMapping);

describe('ecs mapping', () => {
  it('emits only ECS 9.4.0 fields with the right types, allowed values and category/type pairs (or fields under cofide.* / ibm.*), in every golden output', () => {
    const goldens = mappedGoldens(ecsMapping);
    expect(goldens.length).toBeGreaterThan(50);
    for (const g of goldens) expect(ecsProblems(g.value), g.name).toEqual([]);
  });

  it('catches what it should: the conformance check itself rejects wrong documents', () => {
    const doc = golden('connect-trust-zone-creation').doc;
    expect(ecsProblems({ ...doc, evnt: { id: 'x' } })).toContain('evnt.id: not an ECS field (and not under cofide, ibm)');
    expect(ecsProblems({ ...doc, event: { ...doc.event, severity: '3' } })[0]).toMatch(/^event\.severity: expected an integer/);
    expect(ecsProblems({ ...doc, event: { ...doc.event, outcome: 'denied' } })[0]).toMatch(/^event\.outcome: "denied" is not an allowed value/);
    expect(ecsProblems({ ...doc, event: { ...doc.event, category: ['authentication'], type: ['creation'] } })).toContain('event.category authentication does not expect event.type creation');
    expect(ecsProblems({ ...doc, source: { ip: 'unknown' } })[0]).toMatch(/^source\.ip: expected an IP address/);
    expect(ecsProblems({ ...doc, labels: { a: { b: 'c' } } })).toContain('labels.a: expected a flat keyword value');
    expect(ecsProblems({ ...doc, message: ['a'] })[0]).toMatch(/^message: an array/);
  });

  it('gives every Connect event type, with every outcome, an ECS category/type/action/severity that ECS expects (driven by the catalog)', () => {
    const outcomes: EventOutcome[] = ['success', 'denied', 'unknown'];
    for (const t of EVENT_TYPES) {
      for (const outcome of outcomes) {
        for (const links of [[], [{ type: t.entity, id: 'x-1' }]]) {
          const doc = mapped(ecsMapping.map(connectEvent({ type: t.name, action: t.change, outcome, links }), OPTIONS));
          expect(ecsProblems(doc), `${t.name} ${outcome}`).toEqual([]);
          expect(doc.event.category?.length, t.name).toBeGreaterThan(0);
          expect(doc.event.action).toBe(t.name);
          expect(doc.event.severity).toBeGreaterThanOrEqual(0);
          expect(doc.event.severity).toBeLessThanOrEqual(10);
          if (outcome === 'denied') {
            expect(doc.event.outcome).toBe('failure');
            expect(doc.event.type).toContain('denied');
          }
        }
      }
    }
  });

  it('gives any CADF action, outcome, severity and target type an ECS document that conforms (property)', () => {
    const segment = fc.oneof(
      fc.constantFrom('create', 'update', 'delete', 'authenticate', 'authorize', 'deploy', 'read', 'login', 'revoke', 'apikey', 'user', 'group', 'iam-identity'),
      fc.stringMatching(/^[a-zA-Z-]{1,10}$/),
    );
    const action = fc.array(segment, { minLength: 1, maxLength: 4 }).map((s) => s.join('.'));
    const typeUri = fc.option(
      fc.oneof(fc.constantFrom('service', 'resource', 'user', 'service/security/account/user', 'service/security/account/serviceid', 'team', 'group', 'API key', 'secret'), fc.string()),
      { nil: undefined },
    );
    fc.assert(
      fc.property(
        action,
        fc.constantFrom<EventOutcome>('success', 'failure', 'pending', 'unknown'),
        fc.option(fc.constantFrom('normal', 'warning', 'critical', 'CRITICAL', 'odd'), { nil: undefined }),
        typeUri,
        fc.option(fc.constantFrom('200', '401', '403', '999', 'x'), { nil: undefined }),
        (act, outcome, severity, type, reasonCode) => {
          const target = type === undefined ? undefined : { id: 't-1', name: 'target', type };
          const event = cadfEvent({ type: act, action: act, outcome, ...(severity !== undefined && { severity }), ...(reasonCode !== undefined && { reasonCode }), ...(target !== undefined && { target }) });
          const doc = mapped(ecsMapping.map(event, OPTIONS));
          expect(ecsProblems(doc)).toEqual([]);
        },
      ),
      { numRuns: 400 },
    );
  });

  it('keeps the mapped fields whatever the data payload holds: the payload only ever lands under cofide.data (property)', () => {
    const key = fc.oneof(fc.constantFrom('@timestamp', 'event', 'event.id', 'outcome', 'message', 'user', 'id', 'cofide', 'labels', 'source', '__proto__'), fc.string());
    const payload = fc.dictionary(key, fc.jsonValue({ maxDepth: 3 }), { maxKeys: 8 });
    const base = connectEvent();
    const { cofide: _c, ...without } = mapped(ecsMapping.map(base, OPTIONS));
    fc.assert(
      fc.property(payload, (data) => {
        const { cofide, ...rest } = mapped(ecsMapping.map({ ...base, data: data as JsonValue }, OPTIONS));
        expect(rest).toEqual(without);
        expect(cofide?.data).toBeDefined();
      }),
    );
  });

  it('keeps every string exactly, and the record is one JSON line that parses back to the same document, whatever the strings hold (property)', () => {
    const nasty = fc
      .array(fc.oneof(fc.constantFrom('\u2028', '\u2029', '\n', '\r', '\ud800', '\udfff', '|', '=', '\\', '"', '\u0000', '🚀', 'Zürich'), fc.string({ unit: 'binary' })), { maxLength: 6 })
      .map((parts) => parts.join(''));
    const nonEmpty = nasty.filter((s) => s !== '');
    fc.assert(
      fc.property(nonEmpty, nasty, nasty, nasty, nasty, nasty, (id, message, actor, linkId, ip, dataText) => {
        for (const event of [
          connectEvent({ id, message, actor: { id: actor, type: 'user' }, sourceIp: ip, links: [{ type: 'role_binding', id: linkId }], type: 'role_binding_creation', data: { [dataText]: dataText, roleBinding: { subject: actor } }, raw: { message, dataText } }),
          cadfEvent({ id, message, actor: { id: actor, type: dataText }, sourceIp: ip, reasonCode: dataText, target: { id: linkId, name: message, type: 'user' }, data: [dataText], raw: { id, message } }),
        ]) {
          const r = ecsMapping.map(event, { ...OPTIONS, [ECS_OPTIONS.eventOriginal]: 'true' });
          const doc = mapped(r);
          // The values carry the original characters, U+2028 / U+2029 and lone surrogates included.
          expect(doc.event.id).toBe(id);
          expect(doc.message).toBe(message);
          expect(doc.user?.id).toBe(actor);
          expect(doc.source?.address).toBe(ip);
          if (event.origin.kind === 'cofide-connect') {
            expect(doc.cofide?.links).toEqual([{ type: 'role_binding', id: linkId }]);
            expect(doc.cofide?.data).toEqual(event.data);
          } else {
            expect(doc.user?.target).toMatchObject({ id: linkId, name: message });
            expect(doc.ibm?.cadf.reason_code).toBe(dataText);
            expect(doc.ibm?.cadf.request_data).toEqual(event.data);
          }
          // The engine writes it as one line, which gives back exactly the document.
          const line = toJsonLine(doc);
          expect(line).not.toMatch(/[\r\n\u2028\u2029]/);
          expect(JSON.parse(line)).toEqual(doc);
          // event.original is JSON text on one line that gives back the record exactly.
          expect(doc.event.original).not.toMatch(/[\r\n\u2028\u2029]/);
          expect(JSON.parse(doc.event.original as string)).toEqual(event.raw);
        }
      }),
    );
  });

  it('never lets the data payload replace a mapped field (golden connect-data-collides-with-mapped-fields)', () => {
    const { event, doc } = golden('connect-data-collides-with-mapped-fields');
    expect(doc['@timestamp']).toBe(event.time);
    expect(doc.event.id).toBe('ae01krgcollide000000000000');
    expect(doc.event.outcome).toBe('success');
    expect(doc.message).toBe('Trust zone created');
    expect(doc.user).toEqual({ id: 'auth0|abc' });
    expect(doc.event.severity).toBe(3);
    expect(doc.cofide?.data).toEqual(event.data);
    expect(Object.keys(doc).sort()).toEqual(['@timestamp', 'agent', 'cofide', 'ecs', 'event', 'labels', 'message', 'observer', 'related', 'service', 'source', 'user']);
  });

  it('carries the event id, the microsecond time, the mapping version and when the forwarder read the event', () => {
    const { doc } = golden('connect-nanosecond-time');
    expect(doc.event.id).toBe('ae01krgnanos00000000000000');
    expect(doc['@timestamp']).toBe('2026-05-12T08:00:00.123456Z');
    expect(doc.labels).toEqual({ mapping_version: ecsMapping.version });
    expect(doc.event.created).toBe(GOLDEN_OBSERVED_TIME);
    expect(mapped(ecsMapping.map(connectEvent(), {})).event.created).toBeUndefined();
    expect(doc.ecs.version).toBe(ECS_VERSION);
  });

  it('maps a denied Connect event to outcome failure, type denied and a reason, even without links', () => {
    const { doc } = golden('connect-denied-no-links');
    expect(doc.event.outcome).toBe('failure');
    expect(doc.event.type).toContain('denied');
    expect(doc.event.reason).toBe('denied by an access-control policy');
    expect(doc.cofide?.outcome).toBe('denied');
    expect(doc.cofide?.links).toEqual([]);
    expect(doc.cofide?.entity).toEqual({ type: 'role_binding' });
    expect(doc.user?.target).toBeUndefined();
  });

  it('puts only valid IP addresses in source.ip and related.ip; any source address stays in source.address', () => {
    expect(golden('connect-source-ip-not-an-ip').doc.source).toEqual({ address: 'unknown' });
    expect(golden('connect-source-ip-not-an-ip').doc.related).toEqual({ user: ['auth0|abc'] });
    expect(golden('connect-ipv6-source').doc.source).toEqual({ address: '2001:db8::7', ip: '2001:db8::7' });
    expect(golden('connect-ipv6-source').doc.related?.ip).toEqual(['2001:db8::7']);
    expect(mapped(ecsMapping.map(connectEvent({ sourceIp: 'fe80::1%eth0' }), OPTIONS)).source).toEqual({ address: 'fe80::1%eth0' });
    const system = golden('connect-system-no-source-ip').doc;
    expect(system.source).toBeUndefined();
    expect(system.related).toBeUndefined();
    expect(system.user).toEqual({ id: 'system' });
    expect(system.cofide?.actor).toEqual({ type: 'system' });
  });

  it('names the target user of a role binding from its payload subject (best effort) and of a CADF record on a user', () => {
    const rb = golden('connect-role-binding-creation').doc;
    expect(rb.user).toEqual({ id: '00u8k2m4q6s8u0w2y4a6', target: { id: 'auth0|6643f1c2a9b8e7d6c5b4a3f2' } });
    expect(rb.related?.user).toEqual(['00u8k2m4q6s8u0w2y4a6', 'auth0|6643f1c2a9b8e7d6c5b4a3f2']);
    expect(golden('connect-exchange-policy-creation').doc.user?.target).toBeUndefined();
    const del = golden('cadf-unknown-outcome-delete').doc;
    expect(del.user?.target).toEqual({ id: 'crn:v1:icp:private:iam:::user:jdoe', name: 'jdoe' });
    expect(del.event.outcome).toBe('unknown');
    expect(golden('cadf-no-id-derived').doc.group).toEqual({ id: 'crn:v1:icp:private:iam:::team:blue', name: 'blue' });
    expect(golden('cadf-nested-create').doc.user?.target).toBeUndefined();
  });

  it('takes a role binding subject only when it is plainly there', () => {
    expect(roleBindingSubject({ subject: 'u1' })).toBe('u1');
    expect(roleBindingSubject({ roleBinding: { subject: 'u1', role: 'r' } })).toBe('u1');
    expect(roleBindingSubject({ a: { subject: 'u1' }, b: { subject: 'u1' } })).toBe('u1');
    expect(roleBindingSubject({ a: { subject: 'u1' }, b: { subject: 'u2' } })).toBeUndefined();
    expect(roleBindingSubject({ subject: { id: 'u1' } })).toBeUndefined();
    expect(roleBindingSubject({ a: { b: { subject: 'u1' } } })).toBeUndefined();
    expect(roleBindingSubject({ a: { subject: 7 } })).toBeUndefined();
    expect(roleBindingSubject(['u1'])).toBeUndefined();
    expect(roleBindingSubject(undefined)).toBeUndefined();
  });

  it('maps CADF records: provider, reason, HTTP status, initiator and target detail under ibm.cadf, a message when the record has none', () => {
    const { doc } = golden('cadf-flat-authenticate-failure');
    expect(doc.event.dataset).toBe('ibm.cadf_audit');
    expect(doc.event.module).toBe('ibm');
    expect(doc.event.provider).toBeUndefined();
    expect(doc.event.reason).toBe('401');
    expect(doc.http?.response.status_code).toBe(401);
    expect(doc.message).toBe('authenticate: failure by ldap:jdoe on platform-identity-management');
    expect(doc.ibm?.cadf).toEqual({
      outcome: 'failure',
      severity: 'warning',
      reason_code: '401',
      initiator: { type_uri: 'user', credential_type: 'password' },
      target: { id: 'crn:v1:icp:private:iam:::auth', name: 'platform-identity-management', type_uri: 'service' },
    });
    expect(golden('cadf-pending-update').doc.ibm?.cadf.outcome).toBe('pending');
    expect(golden('cadf-pending-update').doc.event.outcome).toBe('unknown');
    expect(golden('cadf-authorization-pdp').doc.event.provider).toBe('auth-pdp');
    const minimal = golden('cadf-minimal').doc;
    expect(minimal.message).toBe('update: success');
    expect(minimal.user).toBeUndefined();
    expect(minimal.service).toEqual({ type: 'ibm-platform' });
  });

  it('keeps awkward strings exactly as they are, U+2028 included, and writes them as one JSON line that gives them back', () => {
    const { event, doc } = golden('connect-awkward-strings');
    expect(doc.message).toBe('pipe | equals = backslash \\ newline\nCR\rtab\t end; unicode: Zürich ✓ 🚀 \u2028 and a forged cs1=evil suser=admin');
    expect(doc.message).toBe(event.message);
    const line = toJsonLine(doc);
    expect(line).not.toMatch(/[\r\n\u2028\u2029]/);
    expect(line).toContain('\\u2028');
    expect(JSON.parse(line)).toEqual(doc);
    expect(doc.user?.id).toBe('user|with=odd\\chars\nand lines');
    expect(doc.cofide?.links).toEqual([{ type: 'trust_zone', id: 'tz=1|x\\y\nz' }]);
    const cadf = golden('cadf-awkward-strings').doc;
    expect(cadf.event.id).toBe('cadf|rec=9\\x');
    expect(cadf.user?.id).toBe('evil\nCEF:0|forged|line');
    expect(golden('connect-very-long-values').doc.message).toHaveLength(golden('connect-very-long-values').event.message?.length ?? -1);
  });

  it('keeps data that is not JSON, and says so in error.message', () => {
    const { doc } = golden('connect-data-not-json');
    expect(doc.cofide?.data).toEqual({ unparsed: 'bm90IGpzb24gew==', error: expect.stringMatching(/^not valid JSON/) });
    expect(doc.error?.message).toMatch(/^cofide\.data: not valid JSON/);
  });

  it('maps a time before 1970 (ECS @timestamp is a date, which has no lower bound at 1970)', () => {
    expect(golden('connect-pre-epoch-time').doc['@timestamp']).toBe('1969-12-31T23:59:59.999999Z');
  });

  it('returns invalid, with the path, for the invalid golden inputs and for a time that names no real instant', () => {
    const invalidCases = cases.filter((c) => c.name.startsWith('invalid-'));
    expect(invalidCases.length).toBe(3);
    for (const c of invalidCases) expect(ecsMapping.map(c.event, c.options).kind, c.name).toBe('invalid');
    expect(ecsMapping.map(connectEvent({ time: '2026-02-30T00:00:00.000000Z' }), OPTIONS)).toMatchObject({ kind: 'invalid', path: 'time' });
    expect(ecsMapping.map(connectEvent({ time: '2026-05-12T24:00:00.000000Z' }), OPTIONS)).toMatchObject({ kind: 'invalid', path: 'time' });
  });

  it('reads the ecsDataset and ecsEventOriginal options, and returns invalid for a value it cannot use', () => {
    expect(ecsMapping.options).toEqual(['ecsDataset', 'ecsEventOriginal']);
    expect(mapped(ecsMapping.map(connectEvent(), { ...OPTIONS, ecsDataset: 'acme.cofide_audit' })).event.dataset).toBe('acme.cofide_audit');
    expect(mapped(ecsMapping.map(connectEvent(), OPTIONS)).event.dataset).toBe('cofide.audit');
    expect(ecsMapping.map(connectEvent(), { ...OPTIONS, ecsDataset: 'cofide-audit' })).toMatchObject({ kind: 'invalid', path: 'options.ecsDataset' });
    expect(ecsMapping.map(connectEvent(), { ...OPTIONS, ecsDataset: 'Cofide.Audit' })).toMatchObject({ kind: 'invalid', path: 'options.ecsDataset' });
    expect(ecsMapping.map(connectEvent(), { ...OPTIONS, ecsEventOriginal: 'yes' })).toMatchObject({ kind: 'invalid', path: 'options.ecsEventOriginal' });
    expect(mapped(ecsMapping.map(connectEvent(), { ...OPTIONS, ecsEventOriginal: 'false' })).event.original).toBeUndefined();
    const { event } = golden('connect-awkward-strings');
    const doc = mapped(ecsMapping.map(event, { ...OPTIONS, ecsEventOriginal: 'true' }));
    expect(doc.event.original).toContain('\\u2028');
    expect(JSON.parse(doc.event.original as string)).toEqual(event.raw);
    expect(ecsProblems(doc)).toEqual([]);
  });

  it('documents every field it emits in mappings/ecs/README.md', () => {
    const readme = readFileSync(resolve(ROOT, 'mappings/ecs/README.md'), 'utf8');
    const paths = new Set<string>();
    const stop = new Set(['cofide.data', 'ibm.cadf.request_data']);
    for (const g of mappedGoldens(ecsMapping)) leafPaths(g.value, '', stop, paths);
    leafPaths(mapped(ecsMapping.map(connectEvent(), { ...OPTIONS, ecsEventOriginal: 'true' })), '', stop, paths);
    for (const p of paths) expect(readme, p).toContain(`\`${p}\``);
    expect(readme).toContain(`\`${ECS_OPTIONS.dataset}\``);
    expect(readme).toContain(`\`${ECS_OPTIONS.eventOriginal}\``);
  });

  it('documents the category, type and severity of every Connect event type in mappings/ecs/README.md exactly as it maps them', () => {
    const readme = readFileSync(resolve(ROOT, 'mappings/ecs/README.md'), 'utf8');
    const rows = [...readme.matchAll(/^\| `([a-z_]+)` \| ((?:`[a-z_]+`(?:, )?)+) \| ((?:`[a-z_]+`(?:, )?)+) \| (\d+) \/ (\d+) \/ (\d+) \|$/gm)].map((m) => m.slice(1).join(' | '));
    const list = (xs: readonly string[] | undefined): string => (xs ?? []).map((x) => `\`${x}\``).join(', ');
    const expected = EVENT_TYPES.map((t) => {
      const [s, u, d] = (['success', 'unknown', 'denied'] as const).map((outcome) => mapped(ecsMapping.map(connectEvent({ type: t.name, action: t.change, outcome }), OPTIONS))) as [EcsDocument, EcsDocument, EcsDocument];
      expect(d.event.category).toEqual(['api']);
      expect(d.event.type).toEqual([...s.event.type, 'denied']);
      return [t.name, list(s.event.category), list(s.event.type), s.event.severity, u.event.severity, d.event.severity].join(' | ');
    });
    expect(rows).toEqual(expected);
  });
});
