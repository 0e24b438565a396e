// A small, strict CEF parser for tests: header and extension per the ArcSight escaping rules, rejecting anything loose.

export interface CefRecord {
  readonly version: number;
  readonly vendor: string;
  readonly product: string;
  readonly deviceVersion: string;
  readonly signatureId: string;
  readonly name: string;
  readonly severity: number;
  /** Extension values after unescaping, in the order they appear. */
  readonly extension: ReadonlyMap<string, string>;
}

const KEY_CHAR = /[A-Za-z0-9]/;
const LINE_BREAKING = /[\r\n\u000b\u000c\u0085\u2028\u2029]/;

function fail(line: string, at: number, why: string): never {
  throw new Error(`not strict CEF at ${at}: ${why}: ${JSON.stringify(line.slice(Math.max(0, at - 20), at + 20))}`);
}

/** Header field escapes: only `\\` and `\|`. */
function unescapeHeader(line: string, start: number, end: number): string {
  let out = '';
  for (let i = start; i < end; i++) {
    const ch = line[i]!;
    if (ch === '\\') {
      const next = line[i + 1];
      if (next !== '\\' && next !== '|') fail(line, i, 'header escape other than \\\\ or \\|');
      out += next;
      i++;
    } else out += ch;
  }
  return out;
}

/** Extension value escapes: only `\\`, `\=`, `\n` and `\r`. */
function unescapeValue(line: string, start: number, end: number): string {
  let out = '';
  for (let i = start; i < end; i++) {
    const ch = line[i]!;
    if (ch === '\\') {
      const next = line[i + 1];
      if (next === '\\' || next === '=') out += next;
      else if (next === 'n') out += '\n';
      else if (next === 'r') out += '\r';
      else fail(line, i, 'extension escape other than \\\\ \\= \\n \\r');
      i++;
    } else out += ch;
  }
  return out;
}

/**
 * Parses one CEF line, throwing on anything that is not strict CEF: a raw line break anywhere, a header with
 * fewer than 7 fields or a bad escape, a severity other than an integer 0–10, an unescaped `=` that does not
 * end a key (alphanumeric, after a space), a duplicate key, an empty key.
 */
export function parseCef(line: string): CefRecord {
  const brk = LINE_BREAKING.exec(line);
  if (brk !== null) fail(line, brk.index, 'raw line break');
  if (!line.startsWith('CEF:')) fail(line, 0, 'does not start with CEF:');
  // Header: 7 fields ended by unescaped `|`.
  const fields: string[] = [];
  let i = 4;
  let start = 4;
  while (fields.length < 7) {
    if (i >= line.length) fail(line, i, `header has ${fields.length} of 7 fields`);
    const ch = line[i];
    if (ch === '\\') i += 2;
    else if (ch === '|') {
      fields.push(unescapeHeader(line, start, i));
      i++;
      start = i;
    } else i++;
  }
  const [version, vendor, product, deviceVersion, signatureId, name, severity] = fields as [string, string, string, string, string, string, string];
  if (!/^\d+$/.test(version)) fail(line, 4, 'version is not an integer');
  if (!/^(?:[0-9]|10)$/.test(severity)) fail(line, start - 1, 'severity is not an integer 0–10');

  // Extension: `key=value` pairs; every unescaped `=` ends a key that follows a space (or the header).
  const extension = new Map<string, string>();
  const extStart = start;
  let key: string | undefined;
  let valueStart = -1;
  for (let j = extStart; j < line.length; j++) {
    const ch = line[j];
    if (ch === '\\') {
      j++;
      continue;
    }
    if (ch !== '=') continue;
    let k = j;
    while (k > extStart && KEY_CHAR.test(line[k - 1]!)) k--;
    if (k === j) fail(line, j, 'empty key');
    if (key === undefined) {
      if (k !== extStart) fail(line, k, 'text before the first key');
    } else {
      if (line[k - 1] !== ' ' || k - 1 < valueStart) fail(line, j, 'unescaped = inside a value');
      extension.set(key, unescapeValue(line, valueStart, k - 1));
    }
    key = line.slice(k, j);
    if (extension.has(key)) fail(line, k, `duplicate key ${key}`);
    valueStart = j + 1;
  }
  if (key !== undefined) extension.set(key, unescapeValue(line, valueStart, line.length));
  else if (extStart !== line.length) fail(line, extStart, 'extension without a key');
  return { version: Number(version), vendor, product, deviceVersion, signatureId, name, severity: Number(severity), extension };
}
