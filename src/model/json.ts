// JSON value types shared by the canonical event, positions and checkpoints.
export type JsonPrimitive = string | number | boolean | null;
export type JsonValue = JsonPrimitive | JsonValue[] | { [key: string]: JsonValue };
export type JsonObject = { [key: string]: JsonValue };

export function isJsonObject(v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** JSON text with object keys sorted at every level: the same value always gives the same bytes. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map((v) => canonicalJson(v)).join(',')}]`;
  const obj = value as Record<string, unknown>;
  const keys = Object.keys(obj).filter((k) => obj[k] !== undefined).sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(obj[k])}`).join(',')}}`;
}

const LINE_SEPARATORS = /[\u2028\u2029]/g;

/**
 * JSON text on one line, whatever the value holds: JSON.stringify escapes every control character but
 * leaves U+2028 / U+2029 raw, which some line readers split on; they are written as JSON escapes, so
 * `JSON.parse` gives back exactly the same value.
 */
export function toJsonLine(value: unknown): string {
  const text = JSON.stringify(value);
  return text.includes('\u2028') || text.includes('\u2029') ? text.replace(LINE_SEPARATORS, (c) => (c === '\u2028' ? '\\u2028' : '\\u2029')) : text;
}
