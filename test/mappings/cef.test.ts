// Tests of the `cef` mapping: golden files, a strict parse of every output, and properties that no input can forge a field or a line.
import { createHash } from 'node:crypto';
import { isIPv6 } from 'node:net';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { cefMapping } from '../../mappings/cef/index.ts';
import { classify } from '../../mappings/common/taxonomy.ts';
import type { AuditEvent } from '../../src/model/audit-event.ts';
import { EVENT_TYPES, EVENT_TYPE_NAMES, eventTypeByName } from '../../src/model/event-types.ts';
import { parseCef, type CefRecord } from '../support/cef-parser.ts';
import { describeGolden, GOLDEN_OBSERVED_TIME, goldenCases, mappedGoldens } from '../support/golden-mappings.ts';

describeGolden(cefMapping);

// ---- The field table of mappings/cef/README.md, written a second time, independently of the mapping ----

/** What a consumer reads back for a text value: breaks and controls other than CR/LF neutralised, TAB a space. */
function readable(s: string, header: boolean): string {
  return s
    .replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, '\ufffd')
    .replace(/\t/g, ' ')
    .replace(header ? /[\r\n]/g : /(?!)/g, ' ')
    .replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f\u2028\u2029]/g, '\ufffd');
}

/** Cut to `limit` UTF-16 units with the documented marker, never splitting a surrogate pair. */
function cut(s: string, limit: number): string {
  if (s.length <= limit) return s;
  let marker = `…[truncated, ${s.length} chars]`;
  if (marker.length >= limit) marker = '…';
  let n = limit - marker.length;
  if (/[\ud800-\udbff]/.test(s[n - 1] ?? '') && /[\udc00-\udfff]/.test(s[n] ?? '')) n--;
  return s.slice(0, n) + marker;
}

const jsonOneLine = (v: unknown) => JSON.stringify(v).replace(/[\u007f-\u009f\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);

function externalId(id: string): string {
  if (id.length <= 40) return id;
  const n = /[\udc00-\udfff]/.test(id[23]!) ? 22 : 23;
  return `${id.slice(0, n)}~${createHash('sha256').update(id).digest('hex').slice(0, 16)}`;
}

function epochMs(time: string): number {
  return Date.parse(`${time.slice(0, 19)}Z`) + Number(time.slice(20, 23));
}

interface Expected {
  readonly header: Omit<CefRecord, 'extension'>;
  readonly extension: Record<string, string>;
}

/** The record an analyst should see for `e`, per the README field table. */
function expected(e: AuditEvent): Expected {
  const connect = e.origin.kind === 'cofide-connect';
  const c = classify(e);
  const h = (s: string, limit: number) => readable(cut(s, limit), true);
  const header = {
    version: 0,
    vendor: connect ? 'Cofide' : 'IBM',
    product: h(connect ? 'Connect' : e.origin.service || e.origin.product || '', 63),
    deviceVersion: h(e.origin.version ?? '', 31),
    signatureId: h(e.type, 1023),
    name: h(connect ? (eventTypeByName(e.type)?.description ?? 'Connect event of a type this forwarder does not know') : e.action, 512),
    severity: c.severity,
  };
  const x: Record<string, string> = {};
  const text = (key: string, v: string | undefined, limit: number, label?: string) => {
    if (v === undefined || v === '') return;
    if (label !== undefined) x[`${key}Label`] = label;
    x[key] = readable(cut(v, limit), false);
  };
  x.rt = String(epochMs(e.time));
  text('externalId', externalId(e.id), 40);
  text('cat', `/${c.cimModel}/${c.family}/${c.object}`, 1023);
  text('act', c.verb, 63);
  text('outcome', e.outcome, 63);
  text('suser', e.actor.id, 1023);
  const ip = e.sourceIp;
  if (ip !== undefined && ip !== '') {
    if (/^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/.test(ip)) x.src = ip;
    else if (isIPv6(ip) && !ip.includes('%')) text('c6a2', ip, 100, 'sourceIPv6Address');
    else text('shost', ip, 1023);
  }
  text('msg', e.message, 1023);
  text('cs1', e.id, 4000, 'eventId');
  text('cs2', c.objectId, 4000, 'targetId');
  if (connect) {
    text('cs3', e.links.find((l) => l.type === 'trust_zone')?.id, 4000, 'trustZoneId');
    text('cs4', e.links.length === 0 ? undefined : jsonOneLine(e.links.map((l) => `${l.type}:${l.id}`)), 4000, 'links');
  } else {
    text('cs3', e.target?.name, 4000, 'targetName');
    text('cs4', e.target?.type, 4000, 'targetType');
  }
  const data = e.data !== undefined ? e.data : e.dataUnparsed && { unparsed: e.dataUnparsed.original, error: e.dataUnparsed.error };
  text('cs5', data === undefined ? undefined : jsonOneLine(data), 4000, 'data');
  if (!connect) text('cs6', e.severity, 4000, 'cadfSeverity');
  text('flexString1', e.actor.type, 1023, 'actorType');
  if (!connect) {
    text('flexString2', e.actor.credentialType, 1023, 'credentialType');
    if (e.reasonCode !== undefined && /^-?\d{1,18}$/.test(e.reasonCode)) {
      x.cn1Label = 'reasonCode';
      x.cn1 = e.reasonCode;
    } else text('reason', e.reasonCode, 1023);
  }
  x.cn2Label = 'eventTimeMicros';
  x.cn2 = String(BigInt(epochMs(e.time)) * 1000n + BigInt(e.time.slice(23, 26)));
  x.cn3Label = 'mappingVersion';
  x.cn3 = cefMapping.version;
  return { header, extension: x };
}

function mapToLine(e: AuditEvent): string {
  const r = cefMapping.map(e, { observedTime: GOLDEN_OBSERVED_TIME });
  if (r.kind !== 'mapped') throw new Error(`expected mapped, got ${r.kind}: ${JSON.stringify(r)}`);
  return r.value;
}

/** The checks every output must pass: one line, no control characters, strict CEF, exactly the intended fields. */
function checkLine(line: string, e: AuditEvent): void {
  expect(line).not.toMatch(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/);
  const parsed = parseCef(line);
  const want = expected(e);
  const { extension, ...header } = parsed;
  expect(header).toEqual(want.header);
  expect(Object.fromEntries(extension)).toEqual(want.extension);
}

describe('cef: every golden output', () => {
  const goldens = mappedGoldens(cefMapping);

  it.each(goldens.map((g) => [g.name, g] as const))('%s parses strictly and carries the intended fields', (_name, g) => {
    checkLine(g.value, g.event);
    const ext = parseCef(g.value).extension;
    expect(ext.get('rt')).toBe(String(epochMs(g.event.time)));
    expect(ext.get('cs1')).toBe(readable(g.event.id, false));
    expect(ext.get('externalId')!.length).toBeLessThanOrEqual(40);
    if (g.event.message !== undefined) expect(ext.get('msg')).toBe(readable(cut(g.event.message, 1023), false));
  });

  it('covers every Connect event type with a mapped record', () => {
    const types = new Set(goldens.filter((g) => g.event.origin.kind === 'cofide-connect').map((g) => g.event.type));
    for (const t of EVENT_TYPE_NAMES) expect(types, t).toContain(t);
  });

  it('comes out invalid for the three invalid inputs and a time before 1970', () => {
    const invalid = goldenCases()
      .filter((c) => cefMapping.map(c.event, c.options).kind === 'invalid')
      .map((c) => c.name);
    expect(invalid.sort()).toEqual(['connect-pre-epoch-time', 'invalid-empty-id', 'invalid-time-not-canonical', 'invalid-unknown-outcome-value']);
  });
});

// ---- Specific rules ----

const BASE: AuditEvent = {
  id: 'ae01krdcv55qf99j9pfe7yby7pwq',
  time: '2026-05-12T06:09:01.111999Z',
  origin: { kind: 'cofide-connect', product: 'cofide-connect', version: '1.4.2' },
  type: 'trust_zone_creation',
  action: 'creation',
  message: 'Trust zone prod-eu created',
  actor: { id: '00u8k2m4q6s8u0w2y4a6', type: 'user' },
  sourceIp: '203.0.113.24',
  outcome: 'success',
  links: [{ type: 'trust_zone', id: 'tz-01hx4k9p2m' }],
  data: { trustZone: { id: 'tz-01hx4k9p2m' } },
  raw: {},
};

const ext = (e: AuditEvent) => parseCef(mapToLine(e)).extension;

describe('cef: rules', () => {
  it('writes the documented header and keeps the full timestamp in cn2', () => {
    const line = mapToLine(BASE);
    expect(line.startsWith('CEF:0|Cofide|Connect|1.4.2|trust_zone_creation|A trust zone was created|3|rt=1778566141111 ')).toBe(true);
    expect(ext(BASE).get('cn2')).toBe('1778566141111999');
    expect(line.endsWith(' cn3Label=mappingVersion cn3=1')).toBe(true);
  });

  it('keeps an id longer than 40 characters whole in cs1 and a prefix plus digest in externalId', () => {
    const id = `ae${'x'.repeat(60)}`;
    const e = ext({ ...BASE, id });
    expect(e.get('cs1')).toBe(id);
    expect(e.get('externalId')).toMatch(/^aex{21}~[0-9a-f]{16}$/);
    // Two long ids with the same prefix do not collide.
    expect(ext({ ...BASE, id: `${id}y` }).get('externalId')).not.toBe(e.get('externalId'));
  });

  it('escapes so that text in a value stays text', () => {
    const line = mapToLine({ ...BASE, message: 'a=b \\ c|d\r\ne suser=admin cs1=x' });
    expect(line).toContain('msg=a\\=b \\\\ c|d\\r\\ne suser\\=admin cs1\\=x ');
    expect(ext({ ...BASE, message: 'x suser=admin' }).get('suser')).toBe(BASE.actor.id);
  });

  it('escapes the header: | and \\ escaped, line breaks become spaces', () => {
    const line = mapToLine({ ...BASE, origin: { ...BASE.origin, version: '1|2\\3\n4' } });
    expect(line.startsWith('CEF:0|Cofide|Connect|1\\|2\\\\3 4|trust_zone_creation|')).toBe(true);
  });

  it('neutralises every other line-breaking or control character', () => {
    const msg = 'a\u2028b\u2029c\u0085d\u000be\u000cf\u0000g\u001bh\u007fi\tj\ud800k';
    expect(ext({ ...BASE, message: msg }).get('msg')).toBe('a\ufffdb\ufffdc\ufffdd\ufffde\ufffdf\ufffdg\ufffdh\ufffdi j\ufffdk');
  });

  it('puts IPv4 in src, IPv6 in c6a2 and anything else in shost', () => {
    expect(ext(BASE).get('src')).toBe('203.0.113.24');
    const v6 = ext({ ...BASE, sourceIp: '2001:db8::7' });
    expect([v6.get('src'), v6.get('c6a2'), v6.get('c6a2Label')]).toEqual([undefined, '2001:db8::7', 'sourceIPv6Address']);
    const other = ext({ ...BASE, sourceIp: 'unknown' });
    expect([other.get('src'), other.get('c6a2'), other.get('shost')]).toEqual([undefined, undefined, 'unknown']);
    expect(ext({ ...BASE, sourceIp: undefined }).has('src')).toBe(false);
  });

  it('never lets data replace a mapped field', () => {
    const e = ext({ ...BASE, data: { outcome: 'failure', rt: 0, externalId: 'forged', msg: 'forged', cs1: 'forged' } });
    expect([e.get('outcome'), e.get('rt'), e.get('externalId'), e.get('msg'), e.get('cs1')]).toEqual(['success', '1778566141111', BASE.id, BASE.message, BASE.id]);
    expect(JSON.parse(e.get('cs5')!)).toEqual({ outcome: 'failure', rt: 0, externalId: 'forged', msg: 'forged', cs1: 'forged' });
  });

  it('truncates at the limit with a marker that gives the original length', () => {
    const e = ext({ ...BASE, message: 'M'.repeat(5000), actor: { id: '🚀'.repeat(600), type: 'user' } });
    expect(e.get('msg')).toBe(`${'M'.repeat(1023 - 24)}…[truncated, 5000 chars]`);
    expect(e.get('msg')!.length).toBe(1023);
    const suser = e.get('suser')!;
    expect(suser.length).toBeLessThanOrEqual(1023);
    expect(suser).not.toMatch(/[\ud800-\udbff](?![\udc00-\udfff])/);
  });

  it('scores a CADF severity word it does not know (even `__proto__`) like none, and carries the word in cs6', () => {
    const cadf: AuditEvent = { ...BASE, origin: { kind: 'ibm-cadf', product: 'ibm-platform' }, type: 'create', action: 'create', links: [], severity: '__proto__' };
    const p = parseCef(mapToLine(cadf));
    expect(p.severity).toBe(3);
    expect(p.extension.get('cs6')).toBe('__proto__');
  });

  it('is invalid, not guessed, for a time before 1970 and a malformed event', () => {
    expect(cefMapping.map({ ...BASE, time: '1969-12-31T23:59:59.999999Z' }, {})).toMatchObject({ kind: 'invalid', path: 'time' });
    expect(cefMapping.map({ ...BASE, links: undefined as never }, {})).toMatchObject({ kind: 'invalid', path: 'links' });
    expect(cefMapping.map({ ...BASE, message: 7 as never }, {})).toMatchObject({ kind: 'invalid', path: 'message' });
    expect(cefMapping.map({ ...BASE, actor: null as never }, {})).toMatchObject({ kind: 'invalid', path: 'actor' });
    expect(cefMapping.map({ ...BASE, actor: { id: 42 as never } }, {})).toMatchObject({ kind: 'invalid', path: 'actor.id' });
    expect(cefMapping.map({ ...BASE, origin: { ...BASE.origin, version: 1 as never } }, {})).toMatchObject({ kind: 'invalid', path: 'origin.version' });
  });

  it('gives every catalog type its category, action and severity from the shared taxonomy', () => {
    for (const t of EVENT_TYPES) {
      const p = parseCef(mapToLine({ ...BASE, type: t.name, action: t.change }));
      expect(p.signatureId).toBe(t.name);
      expect(p.name).toBe(t.description);
      expect(p.extension.get('act')).toBe(t.change);
      expect(p.extension.get('cat')).toMatch(new RegExp(`^/(Change|Authentication)/[a-z-]+/${t.entity}$`));
    }
  });
});

// ---- Properties: no input string can add a key, change another key's value or split the record ----

import { arbitraryCadfEvent as cadfEvent, arbitraryConnectEvent as connectEvent } from '../support/arbitrary-events.ts';

describe('cef: properties', () => {
  it('a Connect event with any strings in any field maps to one strict line with exactly the intended fields', () => {
    fc.assert(
      fc.property(connectEvent, (e) => checkLine(mapToLine(e), e)),
      { numRuns: Number(process.env.CEF_PROPERTY_RUNS ?? 1500) },
    );
  });

  it('a CADF record with any strings in any field maps to one strict line with exactly the intended fields', () => {
    fc.assert(
      fc.property(cadfEvent, (e) => checkLine(mapToLine(e), e)),
      { numRuns: Number(process.env.CEF_PROPERTY_RUNS ?? 1500) },
    );
  });

  it('the strict parser itself rejects forged keys, raw line breaks and bad escapes', () => {
    const ok = 'CEF:0|V|P|1|sig|name|3|rt=1 msg=a b';
    expect(Object.fromEntries(parseCef(ok).extension)).toEqual({ rt: '1', msg: 'a b' });
    expect(() => parseCef('CEF:0|V|P|1|sig|name|3|rt=1 msg=a=b')).toThrow(/unescaped =/);
    expect(() => parseCef('CEF:0|V|P|1|sig|name|3|rt=1 msg=a\nb')).toThrow(/line break/);
    expect(() => parseCef('CEF:0|V|P|1|sig|name|3|rt=1 msg=a\\tb')).toThrow(/escape/);
    expect(() => parseCef('CEF:0|V|P|1|sig|na|me|3|rt=1')).toThrow();
    expect(() => parseCef('CEF:0|V|P|1|sig|name|3|rt=1 rt=2')).toThrow(/duplicate/);
  });
});
