// Replaces U+2028 / U+2029 in every string of a JSON value, which JSON.stringify would otherwise write raw.

const HAS_SEPARATOR = /[\u2028\u2029]/;
const SEPARATORS = /[\u2028\u2029]/g;

const escaped = (c: string): string => (c === '\u2028' ? '\\u2028' : '\\u2029');

/** The string with each U+2028 / U+2029 written as the six characters `\u2028` / `\u2029`; the same string when it has none. */
export function withoutLineSeparators(s: string): string {
  return HAS_SEPARATOR.test(s) ? s.replace(SEPARATORS, escaped) : s;
}

/** True when a string or key anywhere in the value holds U+2028 or U+2029 (no allocation). */
export function hasLineSeparator(value: unknown): boolean {
  if (typeof value === 'string') return HAS_SEPARATOR.test(value);
  if (typeof value !== 'object' || value === null) return false;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) if (hasLineSeparator(value[i])) return true;
    return false;
  }
  const obj = value as Record<string, unknown>;
  for (const key in obj) if (HAS_SEPARATOR.test(key) || hasLineSeparator(obj[key])) return true;
  return false;
}

/**
 * The value with no U+2028 / U+2029 in any string or key (JSON.stringify leaves them raw, and some readers
 * break lines on them). Pure: returns the same reference when nothing needed replacing, and copies only
 * the objects and arrays on the way to a replaced string, never the rest. `undefined` members are kept.
 */
export function lineSafe<T>(value: T): T {
  if (typeof value === 'string') return withoutLineSeparators(value) as T;
  if (typeof value !== 'object' || value === null) return value;
  if (Array.isArray(value)) {
    let copy: unknown[] | undefined;
    for (let i = 0; i < value.length; i++) {
      const v: unknown = value[i];
      const safe = lineSafe(v);
      if (safe !== v) {
        copy ??= value.slice();
        copy[i] = safe;
      }
    }
    return (copy ?? value) as T;
  }
  const obj = value as Record<string, unknown>;
  let copy: Record<string, unknown> | undefined;
  for (const key in obj) {
    const v = obj[key];
    const safe = lineSafe(v);
    const safeKey = withoutLineSeparators(key);
    if (safe !== v || safeKey !== key) {
      // Rebuild in the original key order so that only the affected strings change.
      copy ??= { ...obj };
      if (safeKey !== key) {
        const rebuilt: Record<string, unknown> = {};
        for (const k in copy) {
          if (k === key) rebuilt[safeKey] = safe;
          else rebuilt[k] = copy[k];
        }
        copy = rebuilt;
      } else {
        copy[key] = safe;
      }
    }
  }
  return (copy ?? value) as T;
}
