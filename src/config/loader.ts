// Loads the configuration file: read, parse YAML, substitute ${ENV}, validate, resolve paths and read secret files.
import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { CST, LineCounter, parseDocument, Parser, type YAMLError } from 'yaml';
import type { ConnectorRegistry } from '../contracts/connector.ts';
import { ForwarderError } from '../contracts/errors.ts';
import { substituteEnv } from './env.ts';
import { ConfigInvalidError, configInvalid, formatPath, isSecretKey, type ConfigPath } from './errors.ts';
import { validateConfig, type ForwarderConfig } from './schema.ts';

export interface LoadDeps {
  readonly registry: ConnectorRegistry;
  /** Names of the registered mappings, for sinks' `mapping`. */
  readonly mappingNames: readonly string[];
  /** The route `mappingOptions` keys each mapping reads (checked when given). */
  readonly mappingOptionKeys?: Readonly<Record<string, readonly string[]>>;
  /** Variables for `${VAR}`; default `process.env`. */
  readonly env?: NodeJS.ProcessEnv;
}

/**
 * Reads and validates the configuration file.
 * Throws `FWD_CONFIG_UNREADABLE` when the file cannot be read, and `FWD_CONFIG_INVALID`
 * (a ConfigInvalidError listing every problem) when it is not valid YAML or not a valid configuration.
 */
export async function loadConfig(path: string, deps: LoadDeps): Promise<ForwarderConfig> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code ?? 'error';
    throw new ForwarderError('FWD_CONFIG_UNREADABLE', `cannot read configuration ${path} (${code})`, {
      stage: 'config',
      disposition: 'fatal',
      cause,
    });
  }
  return parseConfig(text, path, deps);
}

/**
 * Validates configuration text as `loadConfig` does once the file is read (secret files are still read).
 * `configPath` is where the text came from: named in messages; relative paths resolve against its directory.
 */
export function parseConfig(text: string, configPath: string, deps: LoadDeps): ForwarderConfig {
  const absolutePath = resolve(configPath);
  const document = parseYaml(text, configPath);
  const substituted = substituteEnv(document, deps.env ?? process.env);
  const sensitive = new Set(substituted.sensitivePaths.map(formatPath));
  const result = validateConfig(substituted.value, {
    registry: deps.registry,
    mappingNames: deps.mappingNames,
    ...(deps.mappingOptionKeys !== undefined ? { mappingOptionKeys: deps.mappingOptionKeys } : {}),
    configPath: absolutePath,
    baseDir: dirname(absolutePath),
    redact: (path: ConfigPath) => sensitive.has(formatPath(path)),
  });
  // A value whose substitution failed is reported once, for that, not again for what it expanded to.
  const unexpanded = new Set(substituted.issues.map((i) => formatPath(i.path)));
  const issues = [...substituted.issues, ...(result.ok ? [] : result.issues.filter((i) => !unexpanded.has(formatPath(i.path))))];
  if (issues.length > 0 || !result.ok) throw configInvalid(configPath, issues);
  return result.config;
}

const MAX_SYNTAX_ERRORS = 3;
const UNQUOTED_VARIABLE_HINT = ' (inside { … } a ${VAR} must be quoted: "${VAR}")';

/** The YAML document as plain data; syntax errors are reported by line and column, with the line (secrets masked). */
function parseYaml(text: string, file: string): unknown {
  const lineCounter = new LineCounter();
  // prettyErrors off: the pretty form quotes the offending line as it is, which may hold a secret (see `excerpt`).
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, merge: true, uniqueKeys: true });
  const problems: YAMLError[] = [...doc.errors, ...doc.warnings];
  if (problems.length > 0) {
    const layout = scanLayout(text);
    let shownLine = -1;
    // One mistake makes the parser stumble over every token after it: the first few say where it is.
    const lines = problems.slice(0, MAX_SYNTAX_ERRORS).flatMap((e) => {
      // A quote or bracket never closed is reported where what it opened ends (the end of the text, or the next
      // line): shown where it opens instead. (Only the message tells a missing quote from a missing bracket.)
      const kind = /quote/i.test(e.message) ? 'quote' : 'flow';
      const at = layout.unclosed.findLast((u) => u.kind === kind && u.end === e.pos[0])?.start ?? e.pos[0];
      const { line, col } = lineCounter.linePos(at);
      const hint = e.code === 'UNEXPECTED_TOKEN' && text.slice(e.pos[0] - 1, e.pos[0] + 1) === '${' ? UNQUOTED_VARIABLE_HINT : '';
      const head = `line ${line}, column ${col}: ${firstLine(e.message)}${hint}`;
      // An error on the line just shown (the parser stumbling on after the first) does not show it again.
      const shown = line === shownLine ? undefined : excerpt(text, at, layout.secrets);
      if (shown !== undefined) shownLine = line;
      return shown === undefined ? [head] : [head, ...shown];
    });
    if (problems.length > MAX_SYNTAX_ERRORS) lines.push(`… and ${problems.length - MAX_SYNTAX_ERRORS} more syntax errors after these, most likely caused by the first`);
    throw new ConfigInvalidError(file, lines);
  }
  if (doc.contents === null) throw new ConfigInvalidError(file, ['the file is empty (expected a mapping with sources, sinks and routes)']);
  try {
    return doc.toJS({ maxAliasCount: 100 });
  } catch (e) {
    // e.g. an alias bomb: the message names the limit, not the content.
    throw new ConfigInvalidError(file, [firstLine(e instanceof Error ? e.message : String(e))]);
  }
}

const firstLine = (s: string): string => s.split('\n', 1)[0]?.replace(/ at line \d+, column \d+:?$/, '') ?? s;

// ---- the offending line of a syntax error ----

/** Characters of the offending line shown, at most (a window around the column when the line is longer). */
const EXCERPT_WIDTH = 120;
/** What a masked value is shown as (the same whatever its length, which is not given away either). */
const MASK = '***';
/** A key and its colon, on one line: `token:`, `"apiKey" :`, `{ password:abc` (a colon in a value may match too: masked is safe). */
const KEY_ON_LINE = /([A-Za-z0-9_.-]+)["']?\s*:/g;
/** A value that is only a reference to a variable (`${HEC_TOKEN}`, quoted or not, before a `}` or `,`): no secret, and often the mistake. */
const VARIABLE_ONLY = /^\s*(["']?)\$\{[A-Za-z_][A-Za-z0-9_]*\}\1[\s,}\]]*(#.*)?$/;
/** The user-info of a URL (`postgres://user:password@host`). */
const URL_USER_INFO = /[a-z][a-z0-9+.-]*:\/\/([^/@\s]+)@/gi;

type Range = readonly [start: number, end: number];

interface Layout {
  /** Where the values under secret-looking keys are, as far as the parser made out keys and values. */
  readonly secrets: readonly Range[];
  /** Quoted scalars and flow collections (`{ … }`, `[ … ]`) that are never closed, in the order they open. */
  readonly unclosed: readonly Unclosed[];
}

interface Unclosed {
  readonly kind: 'quote' | 'flow';
  readonly start: number;
  /** Where the parser ended it. */
  readonly end: number;
}

const CLOSING: Readonly<Record<string, string>> = { '{': '}', '[': ']' };

/** What a token opens and never closes (it then runs on until the parser gives up), if anything. */
function unclosedKind(t: CST.Token): Unclosed['kind'] | undefined {
  if (t.type === 'double-quoted-scalar' || t.type === 'single-quoted-scalar') return t.source.length < 2 || !t.source.endsWith(t.source[0]!) ? 'quote' : undefined;
  return t.type === 'flow-collection' && !t.end.some((e) => e.source === CLOSING[t.start.source]) ? 'flow' : undefined;
}

/**
 * What the concrete syntax tree of a text (built even when the text is not valid YAML) says about its secrets
 * and its quotes. A value under a key that names a secret (errors.ts `isSecretKey`: token, password, secret, key,
 * authorization, credentials, a connection string…) is a secret wherever it runs: over several lines for a
 * quoted or block scalar, and to the end of the text for a quote never closed.
 */
function scanLayout(text: string): Layout {
  const secrets: Range[] = [];
  const unclosed: Unclosed[] = [];
  const rangeOf = (t: CST.Token): Range => [t.offset, t.offset + CST.stringify(t).length];
  const note = (t: CST.Token | null | undefined) => {
    const kind = t === null || t === undefined ? undefined : unclosedKind(t);
    if (kind !== undefined) unclosed.push({ kind, start: t!.offset, end: rangeOf(t!)[1] });
  };
  for (const token of new Parser().parse(text)) {
    if (token.type !== 'document') continue;
    note(token.value);
    CST.visit(token, (item) => {
      note(item.key);
      note(item.value);
      const key = item.key !== null && item.key !== undefined && CST.isScalar(item.key) ? CST.resolveAsScalar(item.key)?.value : undefined;
      if (key !== undefined && isSecretKey(key) && item.value !== undefined) secrets.push(rangeOf(item.value));
    });
  }
  unclosed.sort((a, b) => a.start - b.start);
  return { secrets, unclosed };
}

/**
 * The line holding `offset`, and a caret under it, for a syntax error: `  | <line>` and `  | <spaces>^`; undefined
 * for a blank line. The configuration holds secrets, and the line shown may be one, so the parser's own pretty
 * form (which quotes the line as it is) is not used: values under secret-looking keys are masked, those the
 * syntax tree found (`secrets`, on any line they span) and, because a broken line may not read as a key and a
 * value, whatever follows such a key and its colon on the line; the user-info of a URL is masked too. A value
 * that is only a `${VARIABLE}` is shown: it holds no secret, and an unquoted one in `{ … }` is a common mistake.
 */
function excerpt(text: string, offset: number, secrets: readonly Range[]): [string, string] | undefined {
  const start = text.lastIndexOf('\n', offset - 1) + 1;
  const newline = text.indexOf('\n', start);
  const end = newline === -1 ? text.length : newline;
  const line = text.slice(start, end).replace(/\r$/, '');
  if (line.trim() === '') return undefined;
  const masked: Range[] = secrets.filter(([a, b]) => a < start + line.length && b > start).map(([a, b]) => [Math.max(a, start) - start, Math.min(b, start + line.length) - start]);
  for (const m of line.matchAll(KEY_ON_LINE)) {
    if (!isSecretKey(m[1]!)) continue;
    const valueStart = m.index + m[0].length + (/^\s*/.exec(line.slice(m.index + m[0].length))?.[0].length ?? 0);
    if (valueStart < line.length) masked.push([valueStart, line.length]);
  }
  for (const m of line.matchAll(URL_USER_INFO)) masked.push([m.index + m[0].indexOf('//') + 2, m.index + m[0].length - 1]);
  // Judged on the rest of the line: a value the parser split (`${TOKEN}` unquoted in `{ … }`) is whole there.
  const hidden = masked.filter(([a]) => !VARIABLE_ONLY.test(line.slice(a)));
  // The line as shown, and where the caret goes in it.
  let shown = '';
  let caret = 0;
  const column = offset - start;
  for (let i = 0; i < line.length; ) {
    if (i === column) caret = shown.length;
    const mask = hidden.filter(([a, b]) => a <= i && i < b).reduce((e, [, b]) => Math.max(e, b), -1);
    if (mask > i) {
      if (column > i && column < mask) caret = shown.length;
      shown += MASK;
      i = mask;
    } else {
      shown += line[i] === '\t' ? ' ' : line[i];
      i++;
    }
  }
  if (column >= line.length) caret = shown.length;
  // A long line: a window around the caret.
  if (shown.length > EXCERPT_WIDTH) {
    const from = Math.min(Math.max(0, caret - Math.floor(EXCERPT_WIDTH / 2)), shown.length - EXCERPT_WIDTH);
    const window = `${from > 0 ? '…' : ''}${shown.slice(from, from + EXCERPT_WIDTH)}${from + EXCERPT_WIDTH < shown.length ? '…' : ''}`;
    caret = caret - from + (from > 0 ? 1 : 0);
    shown = window;
  }
  return [`  | ${shown}`, `  | ${' '.repeat(caret)}^`];
}
