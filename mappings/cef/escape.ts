// CEF text rules: header and extension escaping, neutralising of line breaks and controls, truncation with a marker.
import { jsonText } from '../../src/model/json.ts';

/** Characters a header field cannot carry as they are: `\`, `|`, controls, line separators, surrogates. */
const HEADER_SPECIAL = /[\\|\u0000-\u001f\u007f-\u009f\u2028\u2029\ud800-\udfff]/;
/** Characters an extension value cannot carry as they are: `\`, `=`, controls, line separators, surrogates. */
const EXTENSION_SPECIAL = /[\\=\u0000-\u001f\u007f-\u009f\u2028\u2029\ud800-\udfff]/;
/** What JSON.stringify leaves raw but a log line must not carry: DEL, C1 controls (NEL), U+2028, U+2029. */
const JSON_RAW_BREAK = /[\u007f-\u009f\u2028\u2029]/;
const JSON_RAW_BREAKS = /[\u007f-\u009f\u2028\u2029]/g;

const REPLACEMENT = '\ufffd';

/**
 * The one rewriting loop. Backslash is handled in the same single pass as everything else, so nothing is
 * escaped twice. Every control character other than CR, LF and TAB, DEL, the C1 controls (NEL included),
 * U+2028, U+2029 and unpaired surrogates become U+FFFD; TAB becomes a space. CR and LF become `\r` and `\n`
 * in an extension value and a space in a header field (where the spec allows no line break at all).
 */
function rewrite(s: string, header: boolean): string {
  let out = '';
  let from = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    let rep: string | undefined;
    if (c === 0x5c) rep = '\\\\';
    else if (c === 0x3d) rep = header ? undefined : '\\=';
    else if (c === 0x7c) rep = header ? '\\|' : undefined;
    else if (c === 0x0a) rep = header ? ' ' : '\\n';
    else if (c === 0x0d) rep = header ? ' ' : '\\r';
    else if (c === 0x09) rep = ' ';
    else if (c < 0x20 || (c >= 0x7f && c <= 0x9f) || c === 0x2028 || c === 0x2029) rep = REPLACEMENT;
    else if (c >= 0xd800 && c <= 0xdbff) {
      const next = s.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) {
        i++;
        continue;
      }
      rep = REPLACEMENT;
    } else if (c >= 0xdc00 && c <= 0xdfff) rep = REPLACEMENT;
    if (rep !== undefined) {
      out += s.slice(from, i) + rep;
      from = i + 1;
    }
  }
  return out + s.slice(from);
}

/** A header field: `\` → `\\`, `|` → `\|`, CR/LF/TAB → space, other breaks and controls → U+FFFD. */
export function escapeHeader(s: string): string {
  return HEADER_SPECIAL.test(s) ? rewrite(s, true) : s;
}

/** An extension value: `\` → `\\`, `=` → `\=`, CR → `\r`, LF → `\n`, TAB → space, other breaks and controls → U+FFFD. */
export function escapeExtension(s: string): string {
  return EXTENSION_SPECIAL.test(s) ? rewrite(s, false) : s;
}

/** What replaces the end of a value longer than its limit; `N` is the length of the whole value. */
export function truncationMarker(originalLength: number): string {
  return `…[truncated, ${originalLength} chars]`;
}

/** A value already cut by `truncate`: its text before the marker and the length of the whole value. */
export const TRUNCATED = /…\[truncated, (\d+) chars\]$/;

/** An extension value as written (`escapeExtension`) read back: `\\` `\=` `\n` `\r` undone. */
export function unescapeExtension(s: string): string {
  return s.indexOf('\\') === -1 ? s : s.replace(/\\([\\=nr])/g, (_, c: string) => (c === 'n' ? '\n' : c === 'r' ? '\r' : c));
}

/**
 * `s` cut to `limit` UTF-16 code units (how ArcSight, a Java program, counts characters), its end replaced
 * by the truncation marker, or by `…` alone when the limit is shorter than the marker. A surrogate pair is
 * never split. `originalLength` is the length the marker reports, when `s` is already a cut of a longer value.
 */
export function truncate(s: string, limit: number, originalLength = s.length): string {
  if (s.length <= limit) return s;
  let marker = truncationMarker(originalLength);
  if (marker.length >= limit) marker = '…';
  let cut = limit - marker.length;
  const after = s.charCodeAt(cut);
  const before = s.charCodeAt(cut - 1);
  if (after >= 0xdc00 && after <= 0xdfff && before >= 0xd800 && before <= 0xdbff) cut--;
  return s.slice(0, cut) + marker;
}

/**
 * JSON text that is safe on one log line: JSON.stringify's text (at any depth, see `jsonText`) plus `\uXXXX`
 * escapes for DEL, C1, U+2028 and U+2029. Undefined for undefined, as JSON.stringify gives.
 */
export function jsonLine(value: unknown): string | undefined {
  const text = value === undefined ? undefined : jsonText(value);
  if (text === undefined || !JSON_RAW_BREAK.test(text)) return text;
  return text.replace(JSON_RAW_BREAKS, (ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
