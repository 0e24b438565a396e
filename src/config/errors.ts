// Configuration error reporting: zod issues and our own checks as sorted `<key.path>: <expected>, got <found>` lines.
import type { z } from 'zod';
import { ForwarderError } from '../contracts/errors.ts';

/** Where in the configuration a problem is: keys and list indexes, from the top. */
export type ConfigPath = readonly (string | number)[];

/** One problem, already worded: `message` is what follows `<key.path>: ` in the report. */
export interface ConfigIssue {
  readonly path: ConfigPath;
  readonly message: string;
}

/**
 * Parameters our own checks put on zod `custom` issues, so that the report is built from parts and a
 * value under a secret key is never echoed:
 * - `expected`: what was expected (`a duration such as 500ms, 30s or 5m`); the line says `expected …, got …`.
 * - `text`: the whole message, used as is (cross-field rules such as "set either token or tokenFile").
 * - `got`: how to show the value found, instead of the value itself (an already redacted form).
 * - `secret`: the field holds a secret; the value found is described by its type only.
 */
export interface IssueParams {
  readonly expected?: string;
  readonly text?: string;
  readonly got?: string;
  readonly secret?: boolean;
}

/**
 * Key names whose values are never echoed, whatever connector they belong to (`token`, `hecToken`,
 * `password`, `clientSecret`, `apiKey`, `authorization`, a `connectionString` with its password…). A `*File`
 * key holds a path, which is shown; the file's content never reaches a message.
 */
const SECRET_KEY = /(token|password|passwd|secret|api_?key|key|credentials?|authorization|connection_?string)$/i;

export function isSecretKey(key: string | number): boolean {
  return typeof key === 'string' && SECRET_KEY.test(key);
}

/** Whether the value at `path` must not be echoed (its last key names a secret). */
export function isSecretPath(path: ConfigPath): boolean {
  for (let i = path.length - 1; i >= 0; i--) {
    const seg = path[i];
    if (typeof seg === 'string') return isSecretKey(seg);
  }
  return false;
}

const MAX_ECHO = 80;

/**
 * How a value found in the configuration is shown in a message: strings quoted (and shortened), numbers
 * and booleans as written, collections by kind. With `secret`, a string or number is never shown.
 */
export function describeValue(value: unknown, secret = false): string {
  if (value === null) return 'null';
  if (value === undefined) return 'nothing';
  if (Array.isArray(value)) return value.length === 0 ? 'an empty list' : 'a list';
  switch (typeof value) {
    case 'string': {
      if (value === '') return 'an empty string';
      if (secret) return 'a value';
      const quoted = JSON.stringify(value);
      return quoted.length <= MAX_ECHO ? quoted : `${quoted.slice(0, MAX_ECHO - 2)}…"`;
    }
    case 'number':
      return secret ? 'a number' : String(value);
    case 'boolean':
      return secret ? 'a boolean' : String(value);
    case 'object':
      return Object.keys(value).length === 0 ? 'an empty mapping' : 'a mapping';
    default:
      return `a ${typeof value}`;
  }
}

/** `expected X, got Y`, or `missing key (expected X)` when nothing was there. */
export function expectation(expected: string, input: unknown, secret = false, got?: string): string {
  if (input === undefined) return `missing key (expected ${expected})`;
  return `expected ${expected}, got ${secret ? describeValue(input, true) : (got ?? describeValue(input))}`;
}

/** Says whether the value at a path must not be echoed for a reason only the caller knows (it came from a secret variable). */
export type RedactPredicate = (path: ConfigPath) => boolean;

const NEVER_REDACT: RedactPredicate = () => false;

const SIMPLE_KEY = /^[A-Za-z0-9_-]+$/;

/** `routes.r.to[1]`; a key that is not a plain word is quoted (`sources."Bad Name"`). */
export function formatPath(path: ConfigPath): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else {
      const key = SIMPLE_KEY.test(seg) ? seg : JSON.stringify(seg);
      out += out === '' ? key : `.${key}`;
    }
  }
  return out;
}

function comparePaths(a: ConfigPath, b: ConfigPath): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a[i] as string | number;
    const y = b[i] as string | number;
    if (x === y) continue;
    if (typeof x === 'number' && typeof y === 'number') return x - y;
    // An index sorts before a key; keys in code-point order (stable across locales).
    if (typeof x === 'number') return -1;
    if (typeof y === 'number') return 1;
    return x < y ? -1 : 1;
  }
  return a.length - b.length;
}

/** The report lines: sorted by path (then message), duplicates removed. */
export function formatConfigIssues(issues: readonly ConfigIssue[]): string[] {
  const sorted = [...issues].sort((a, b) => comparePaths(a.path, b.path) || (a.message < b.message ? -1 : a.message > b.message ? 1 : 0));
  const lines: string[] = [];
  for (const issue of sorted) {
    const line = issue.path.length === 0 ? issue.message : `${formatPath(issue.path)}: ${issue.message}`;
    if (lines[lines.length - 1] !== line) lines.push(line);
  }
  return lines;
}

/** `FWD_CONFIG_INVALID`, carrying every line of the report in `errors`. */
export class ConfigInvalidError extends ForwarderError {
  /** The file the configuration came from, as given. */
  readonly file: string;
  /** The lines of the report, without the header: one per problem (a YAML syntax error's followed by the offending line and a caret). */
  readonly errors: readonly string[];

  constructor(file: string, errors: readonly string[]) {
    super('FWD_CONFIG_INVALID', [`configuration ${file} is invalid:`, ...errors.map((e) => `  ${e}`)].join('\n'), {
      stage: 'config',
      disposition: 'fatal',
    });
    this.file = file;
    this.errors = Object.freeze([...errors]);
  }
}

/** The error for a list of issues (sorted and worded by `formatConfigIssues`). */
export function configInvalid(file: string, issues: readonly ConfigIssue[]): ConfigInvalidError {
  return new ConfigInvalidError(file, formatConfigIssues(issues));
}

// ---- zod issues → ConfigIssue ----

/** The parts of a zod schema definition the key lister walks through (zod keeps them on `_zod.def`). */
interface WalkDef {
  readonly type: string;
  readonly innerType?: z.core.$ZodType;
  readonly in?: z.core.$ZodType;
  readonly out?: z.core.$ZodType;
  readonly shape?: Readonly<Record<string, z.core.$ZodType>>;
  readonly valueType?: z.core.$ZodType;
  readonly element?: z.core.$ZodType;
  readonly options?: readonly z.core.$ZodType[];
  readonly getter?: () => z.core.$ZodType;
}

const defOf = (schema: z.core.$ZodType): WalkDef => schema._zod.def as unknown as WalkDef;

/** Strips wrappers (optional, default, pipe into a transform, …) down to the schema that reads the input. */
function unwrap(schema: z.core.$ZodType): z.core.$ZodType {
  for (let i = 0; i < 32; i++) {
    const def = defOf(schema);
    if (def.innerType !== undefined) schema = def.innerType;
    else if (def.type === 'pipe' && def.in !== undefined && def.out !== undefined) {
      // z.preprocess(fn, s) is a pipe from a transform: the shape is on the right.
      schema = defOf(def.in).type === 'transform' ? def.out : def.in;
    } else if (def.type === 'lazy' && def.getter !== undefined) schema = def.getter();
    else return schema;
  }
  return schema;
}

function child(schema: z.core.$ZodType, seg: string | number): z.core.$ZodType | undefined {
  const s = unwrap(schema);
  const def = defOf(s);
  switch (def.type) {
    case 'object':
      return typeof seg === 'string' ? def.shape?.[seg] : undefined;
    case 'record':
      return def.valueType;
    case 'array':
      return def.element;
    case 'union':
      for (const o of def.options ?? []) {
        const c = child(o, seg);
        if (c !== undefined) return c;
      }
      return undefined;
    default:
      return undefined;
  }
}

/** The keys the object schema at `path` accepts (for "unknown key (expected one of: …)"), when known. */
export function knownKeysAt(schema: z.core.$ZodType, path: ConfigPath): string[] | undefined {
  let s: z.core.$ZodType | undefined = schema;
  for (const seg of path) {
    s = child(s, seg);
    if (s === undefined) return undefined;
  }
  const def = defOf(unwrap(s));
  if (def.type === 'object' && def.shape !== undefined) return Object.keys(def.shape);
  if (def.type === 'union') {
    const keys = new Set<string>();
    for (const o of def.options ?? []) for (const k of knownKeysAt(o, []) ?? []) keys.add(k);
    return keys.size > 0 ? [...keys] : undefined;
  }
  return undefined;
}

const TYPE_WORDS: Readonly<Record<string, string>> = {
  string: 'a string',
  number: 'a number',
  int: 'an integer',
  boolean: 'true or false',
  array: 'a list',
  object: 'a mapping',
  record: 'a mapping',
  null: 'null',
};

const plural = (n: number | bigint, one: string, many: string): string => `${n} ${Number(n) === 1 ? one : many}`;

/** The words for what a zod issue expected, or undefined when the issue is not of a kind we word ourselves. */
function expectedOf(issue: z.core.$ZodIssue): string | undefined {
  switch (issue.code) {
    case 'invalid_type':
      return TYPE_WORDS[issue.expected] ?? issue.expected;
    case 'invalid_value':
      return issue.values.length === 1
        ? typeof issue.values[0] === 'string' ? issue.values[0] : String(issue.values[0])
        : `one of ${issue.values.map(String).join(', ')}`;
    case 'too_small': {
      const min = issue.minimum;
      const op = issue.inclusive === false ? 'more than' : 'at least';
      if (issue.origin === 'array' || issue.origin === 'set') return `a list of ${op} ${plural(min, 'item', 'items')}`;
      if (issue.origin === 'string') return Number(min) === 1 ? 'a non-empty string' : `a string of ${op} ${plural(min, 'character', 'characters')}`;
      return `a number ${issue.inclusive === false ? '>' : '>='} ${String(min)}`;
    }
    case 'too_big': {
      const max = issue.maximum;
      const op = issue.inclusive === false ? 'fewer than' : 'at most';
      if (issue.origin === 'array' || issue.origin === 'set') return `a list of ${op} ${plural(max, 'item', 'items')}`;
      if (issue.origin === 'string') return `a string of ${op} ${plural(max, 'character', 'characters')}`;
      return `a number ${issue.inclusive === false ? '<' : '<='} ${String(max)}`;
    }
    default:
      return undefined;
  }
}

/**
 * Turns the issues of one `safeParse(…, { reportInput: true })` into ConfigIssues. `schema` is the schema
 * that was parsed (for the keys an object accepts); `prefix` is where its input sits in the configuration;
 * `redact` names more values not to echo.
 */
export function fromZodIssues(
  issues: readonly z.core.$ZodIssue[],
  schema: z.core.$ZodType,
  prefix: ConfigPath = [],
  redact: RedactPredicate = NEVER_REDACT,
): ConfigIssue[] {
  const out: ConfigIssue[] = [];
  for (const issue of issues) {
    const rel = issue.path.filter((s): s is string | number => typeof s !== 'symbol');
    const path = [...prefix, ...rel];
    if (issue.code === 'unrecognized_keys') {
      const known = knownKeysAt(schema, rel);
      const hint = known === undefined ? '' : ` (expected one of: ${known.join(', ')})`;
      for (const key of issue.keys) out.push({ path: [...path, key], message: `unknown key${hint}` });
      continue;
    }
    const params = (issue.code === 'custom' ? issue.params : undefined) as IssueParams | undefined;
    if (params?.text !== undefined) {
      out.push({ path, message: params.text });
      continue;
    }
    const secret = params?.secret === true || isSecretPath(path) || redact(path);
    const expected = params?.expected ?? expectedOf(issue);
    if (expected !== undefined) {
      out.push({ path, message: expectation(expected, issue.input, secret, params?.got) });
      continue;
    }
    // zod's own messages name types and keys, never the value found.
    out.push({ path, message: issue.message });
  }
  return out;
}
