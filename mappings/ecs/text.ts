// String helpers of the `ecs` mapping: line separators made visible, IP addresses ECS `ip` fields accept, SPIFFE domains.
import { isIP } from 'node:net';
import type { JsonValue } from '../../src/model/json.ts';

const LINE_SEPARATOR = /[\u2028\u2029]/;
const LINE_SEPARATORS = /[\u2028\u2029]/g;
const escapeSeparator = (c: string): string => (c === '\u2028' ? '\\u2028' : '\\u2029');

/**
 * The string with U+2028 / U+2029 written as the six characters `\u2028` / `\u2029`. JSON.stringify leaves
 * them raw, and line-oriented readers of the NDJSON output would split the record there; CR and LF need
 * nothing, JSON escapes them.
 */
export function text(s: string): string {
  return LINE_SEPARATOR.test(s) ? s.replace(LINE_SEPARATORS, escapeSeparator) : s;
}

/** `text()` applied to every string and key of a JSON value; the same value (no copy) when nothing changes. */
export function jsonText(v: JsonValue): JsonValue {
  if (typeof v === 'string') return text(v);
  if (v === null || typeof v !== 'object') return v;
  if (Array.isArray(v)) {
    let out: JsonValue[] | undefined;
    for (let i = 0; i < v.length; i++) {
      const item = v[i] as JsonValue;
      const c = jsonText(item);
      if (c !== item && out === undefined) out = v.slice(0, i);
      if (out !== undefined) out.push(c);
    }
    return out ?? v;
  }
  let out: { [key: string]: JsonValue } | undefined;
  const keys = Object.keys(v);
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i] as string;
    const item = v[key] as JsonValue;
    const k = text(key);
    const c = jsonText(item);
    if ((k !== key || c !== item) && out === undefined) {
      out = {};
      for (let j = 0; j < i; j++) out[keys[j] as string] = v[keys[j] as string] as JsonValue;
    }
    if (out !== undefined) out[k] = c;
  }
  return out ?? v;
}

/** JSON text of a value with U+2028 / U+2029 escaped as JSON escapes: `JSON.parse` gives back the same value. */
export function jsonString(v: JsonValue): string | undefined {
  const s = JSON.stringify(v) as string | undefined;
  return s === undefined ? undefined : text(s);
}

/** True when an Elasticsearch `ip` field accepts the string: an IPv4 or IPv6 address without a zone index. */
export function isIpAddress(s: string): boolean {
  return isIP(s) !== 0 && !s.includes('%');
}

const SPIFFE = 'spiffe://';

/** The trust domain of a SPIFFE ID (`spiffe://example.org/ns/x` → `example.org`), else undefined. */
export function spiffeTrustDomain(id: string): string | undefined {
  if (!id.startsWith(SPIFFE)) return undefined;
  const end = id.indexOf('/', SPIFFE.length);
  const domain = end === -1 ? id.slice(SPIFFE.length) : id.slice(SPIFFE.length, end);
  return domain === '' ? undefined : domain;
}
