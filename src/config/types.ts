// Zod building blocks for configuration schemas: durations, sizes, URLs, paths and secrets.
import { readFileSync } from 'node:fs';
import { resolve as resolveFsPath } from 'node:path';
import { z } from 'zod';
import { describeValue, type IssueParams } from './errors.ts';
import { MAX_NESTING_DEPTH_LIMIT } from '../model/nesting.ts';

// ---- plumbing ----

/** Why a value was refused: the expectation (`a duration …`) or a whole message, see IssueParams. */
class Refusal {
  readonly params: IssueParams;
  constructor(params: IssueParams) {
    this.params = params;
  }
}

const refuse = (params: IssueParams): Refusal => new Refusal(params);

function message(params: IssueParams, input: unknown): string {
  if (params.text !== undefined) return params.text;
  const expected = params.expected ?? 'a valid value';
  if (input === undefined) return `missing key (expected ${expected})`;
  return `expected ${expected}, got ${params.got ?? describeValue(input, params.secret === true)}`;
}

/**
 * Adds a custom issue carrying IssueParams (see errors.ts) to a zod check or transform context, with a
 * complete message too, for use outside the loader. `path` is relative to the value being checked.
 */
export function reportIssue(ctx: { issues: z.core.$ZodRawIssue[] }, params: IssueParams, input: unknown, path?: PropertyKey[]): void {
  const issue: z.core.$ZodRawIssue = { code: 'custom', message: message(params, input), input, params: { ...params } };
  ctx.issues.push(path === undefined ? issue : { ...issue, path });
}

/**
 * A schema for one value, checked by a plain function, whose issues carry IssueParams (see errors.ts) so
 * the report can word and redact them. The issue message is complete too, for use outside the loader.
 */
function scalar<T>(expected: string, check: (input: unknown) => T | Refusal, options: { secret?: boolean } = {}): z.ZodType<T> {
  const base: IssueParams = options.secret === true ? { expected, secret: true } : { expected };
  return z
    .unknown()
    .transform((input, ctx): T => {
      const result = input === undefined ? refuse(base) : check(input);
      if (result instanceof Refusal) {
        reportIssue(ctx, { ...base, ...result.params }, input);
        return z.NEVER;
      }
      return result;
    })
    .describe(expected) as unknown as z.ZodType<T>;
}

export function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
  const proto = Object.getPrototypeOf(v) as unknown;
  return proto === Object.prototype || proto === null;
}

// ---- durations ----

const MS_PER: Readonly<Record<string, number>> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const DURATION = /^(\d+(?:\.\d+)?|\.\d+)\s*(ms|s|m|h|d)$/;

/** `500ms`, `1.5s`, `5m`, `1h`, `1d` or a number of milliseconds → milliseconds (rounded); undefined if neither. */
export function parseDuration(input: unknown): number | undefined {
  if (typeof input === 'number') return Number.isFinite(input) && input >= 0 ? Math.round(input) : undefined;
  if (typeof input !== 'string') return undefined;
  const m = DURATION.exec(input.trim());
  if (m === null) return undefined;
  const ms = Math.round(Number(m[1]) * (MS_PER[m[2] as string] as number));
  return Number.isSafeInteger(ms) ? ms : undefined;
}

/** Milliseconds in the largest unit that divides them exactly: 600000 → `10m`, 1500 → `1500ms`. */
export function formatDuration(ms: number): string {
  for (const unit of ['d', 'h', 'm', 's'] as const) {
    const per = MS_PER[unit] as number;
    if (ms !== 0 && ms % per === 0) return `${ms / per}${unit}`;
  }
  return `${ms}ms`;
}

export interface RangeOptions {
  readonly min?: number;
  readonly max?: number;
}

function rangeWords(format: (n: number) => string, { min, max }: RangeOptions): string | undefined {
  if (min !== undefined && max !== undefined) return `from ${format(min)} to ${format(max)}`;
  if (min !== undefined) return `of at least ${format(min)}`;
  if (max !== undefined) return `of at most ${format(max)}`;
  return undefined;
}

const inRange = (n: number, { min, max }: RangeOptions): boolean => (min === undefined || n >= min) && (max === undefined || n <= max);

/**
 * A duration: a number of milliseconds or a string such as `500ms`, `30s`, `5m`, `1h`, `1d`; the output is
 * milliseconds. `min`/`max` are in milliseconds.
 */
export function duration(range: RangeOptions = {}): z.ZodType<number> {
  const words = rangeWords(formatDuration, range);
  return scalar('a duration such as 500ms, 30s or 5m', (input) => {
    const ms = parseDuration(input);
    if (ms === undefined) return refuse({});
    if (!inRange(ms, range)) return refuse({ expected: `a duration ${words ?? ''}`.trimEnd() });
    return ms;
  });
}

// ---- byte sizes ----

const BYTES_PER: Readonly<Record<string, number>> = {
  b: 1,
  kb: 1e3,
  mb: 1e6,
  gb: 1e9,
  tb: 1e12,
  kib: 1024,
  mib: 1024 ** 2,
  gib: 1024 ** 3,
  tib: 1024 ** 4,
};
const BYTE_SIZE = /^(\d+(?:\.\d+)?|\.\d+)\s*([a-z]+)$/i;

/**
 * `512KiB`, `1MiB`, `10kB`, `1MB`, `1GiB`, `100B` or a number of bytes → bytes (rounded). Units are
 * case-insensitive; `kB`/`MB`/`GB`/`TB` are powers of 1000, `KiB`/`MiB`/`GiB`/`TiB` powers of 1024.
 */
export function parseByteSize(input: unknown): number | undefined {
  if (typeof input === 'number') return Number.isFinite(input) && input >= 0 ? Math.round(input) : undefined;
  if (typeof input !== 'string') return undefined;
  const m = BYTE_SIZE.exec(input.trim());
  if (m === null) return undefined;
  const per = BYTES_PER[(m[2] as string).toLowerCase()];
  if (per === undefined) return undefined;
  const bytes = Math.round(Number(m[1]) * per);
  return Number.isSafeInteger(bytes) ? bytes : undefined;
}

/** Bytes in the largest binary unit that divides them exactly: 1048576 → `1MiB`, 1000 → `1000B`. */
export function formatByteSize(bytes: number): string {
  for (const unit of ['TiB', 'GiB', 'MiB', 'KiB'] as const) {
    const per = BYTES_PER[unit.toLowerCase()] as number;
    if (bytes !== 0 && bytes % per === 0) return `${bytes / per}${unit}`;
  }
  return `${bytes}B`;
}

/** A size in bytes: a number or a string such as `512KiB`, `1MiB`, `10MB`; the output is bytes. */
export function byteSize(range: RangeOptions = {}): z.ZodType<number> {
  const words = rangeWords(formatByteSize, range);
  return scalar('a size such as 512KiB, 1MiB or 10MB', (input) => {
    const bytes = parseByteSize(input);
    if (bytes === undefined) return refuse({});
    if (!inRange(bytes, range)) return refuse({ expected: `a size ${words ?? ''}`.trimEnd() });
    return bytes;
  });
}

// ---- numbers, strings, URLs ----

/** A whole number, optionally bounded. */
export function integer(range: RangeOptions = {}): z.ZodType<number> {
  const words = rangeWords(String, range);
  const expected = words === undefined ? 'an integer' : `an integer ${words}`;
  return scalar(expected, (input) => (typeof input === 'number' && Number.isSafeInteger(input) && inRange(input, range) ? input : refuse({})));
}

/**
 * `maxNestingDepth` of a source that decodes records: how many containers deep a record may nest (the record
 * itself is 1) before it is dead-lettered as `FWD_DECODE_TOO_DEEP`. One definition for every such source.
 * Absent, the decoders apply DEFAULT_MAX_NESTING_DEPTH: the default lives with the decoders, not in each
 * parsed configuration.
 */
export function maxNestingDepth(): z.ZodOptional<z.ZodType<number>> {
  return integer({ min: 1, max: MAX_NESTING_DEPTH_LIMIT }).optional();
}

/** A string with at least one non-blank character. `expected` words the message (`a sink name`). */
export function nonEmptyString(expected = 'a non-empty string'): z.ZodType<string> {
  return scalar(expected, (input) => (typeof input === 'string' && input.trim() !== '' ? input : refuse({})));
}

/** Hides the user-info part of something that looks like a URL, for messages. */
const hideUserInfo = (s: string): string => s.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/@]*@/i, '$1[redacted]@');

/**
 * An absolute `https://` or `http://` URL with a host, as written. User and password inside the URL are
 * refused: credentials belong in secret keys, which are redacted.
 */
export function httpUrl(): z.ZodType<string> {
  const expected = 'an https:// or http:// URL';
  return scalar(expected, (input) => {
    if (typeof input !== 'string') return refuse({});
    const got = JSON.stringify(hideUserInfo(input));
    let url: URL;
    try {
      url = new URL(input);
    } catch {
      return refuse({ got });
    }
    if ((url.protocol !== 'https:' && url.protocol !== 'http:') || url.hostname === '') return refuse({ got });
    if (url.username !== '' || url.password !== '') {
      return refuse({ expected: `${expected} without a user or password (put credentials in the secret keys)`, got });
    }
    return input;
  });
}

// ---- file paths ----

/** Resolves a configured path against the configuration file's directory (absolute paths stay as they are). */
export function resolvePath(baseDir: string, p: string): string {
  return resolveFsPath(baseDir, p);
}

/*
 * zod has no per-parse context for caller data, so the directory relative paths resolve against is set
 * around a (synchronous) parse by `resolvingPathsAgainst`. Outside it, paths resolve against the working
 * directory.
 */
let currentBaseDir: string | undefined;

/** Runs a synchronous parse with `filePath()` values resolved against `baseDir`. */
export function resolvingPathsAgainst<T>(baseDir: string, parse: () => T): T {
  const previous = currentBaseDir;
  currentBaseDir = baseDir;
  try {
    return parse();
  } finally {
    currentBaseDir = previous;
  }
}

const baseDir = (): string => currentBaseDir ?? process.cwd();

/**
 * A file or directory path (glob patterns allowed); the output is absolute, resolved against the
 * configuration file's directory when parsed by the loader.
 */
export function filePath(expected = 'a file path'): z.ZodType<string> {
  return scalar(expected, (input) => {
    if (typeof input !== 'string' || input.trim() === '' || input.includes('\0')) return refuse({});
    return resolvePath(baseDir(), input);
  });
}

// ---- secrets ----

const REDACTED = '[redacted]';

/**
 * A secret value: prints, serialises and inspects as `[redacted]`; `reveal()` is the only way to the value.
 * Reveal it where it is used (an Authorization header), never earlier.
 */
export class Secret {
  readonly #value: string;
  /** The absolute path of the file the value was read from, when it came from a `*File` key. */
  readonly sourceFile: string | undefined;

  constructor(value: string, sourceFile?: string) {
    this.#value = value;
    this.sourceFile = sourceFile;
  }

  reveal(): string {
    return this.#value;
  }

  toString(): string {
    return REDACTED;
  }

  toJSON(): string {
    return REDACTED;
  }

  [Symbol.toPrimitive](): string {
    return REDACTED;
  }

  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return REDACTED;
  }
}

/** The content of a secret file: one trailing newline (`\n` or `\r\n`) is not part of the secret. */
export function trimSecretFile(content: string): string {
  return content.replace(/\r?\n$/, '');
}

/** A secret given inline (after `${VAR}` substitution): never echoed in messages. */
export function secretValue(key: string): z.ZodType<Secret> {
  return scalar(
    'a non-empty string',
    (input) => (typeof input === 'string' && input !== '' ? new Secret(input) : refuse({})),
    { secret: true },
  ).describe(`secret ${key}`);
}

/**
 * A secret read from a file when the configuration is loaded. Errors name the path, never the content.
 * Read synchronously: it happens once, at start-up, inside the (synchronous) schema parse.
 */
export function secretFile(fileKey: string): z.ZodType<Secret> {
  return scalar(`a path to a file holding the secret`, (input) => {
    if (typeof input !== 'string' || input.trim() === '' || input.includes('\0')) return refuse({});
    const path = resolvePath(baseDir(), input);
    let content: string;
    try {
      content = readFileSync(path, 'utf8');
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code ?? 'error';
      return refuse({ expected: 'a readable file', got: `${JSON.stringify(path)} (${code})` });
    }
    const value = trimSecretFile(content);
    if (value === '') return refuse({ expected: 'a file holding the secret', got: `an empty file ${JSON.stringify(path)}` });
    return new Secret(value, path);
  }).describe(`file holding secret ${fileKey}`);
}

type FileKey<K extends string> = `${K}File`;
type Simplify<T> = { [P in keyof T]: T[P] } & {};

/** The output of a `withSecret` schema: the shape's output, with `key` a Secret and `keyFile` gone. */
export type WithSecretOutput<S extends z.ZodRawShape, K extends string, Optional extends boolean> = Simplify<
  Omit<z.output<z.ZodObject<S>>, K | FileKey<K>> & (Optional extends true ? { [P in K]?: Secret } : { [P in K]: Secret })
>;

export interface WithSecretOptions<Optional extends boolean> {
  /** When true, neither key may be given (no secret); default false: exactly one of them is required. */
  readonly optional?: Optional;
}

/**
 * A strict object schema from `shape` plus, for each secret `key`, the two ways to give it: `key` (a
 * string, usually `${ENV}`) or `keyFile` (a path read at load time), exactly one of them. The output has
 * `key: Secret` (with `sourceFile` set when it came from the file) and no `keyFile`.
 *
 *     export const webhookSinkSchema = withSecret({ type: z.literal('webhook'), url: httpUrl(), … }, 'token');
 */
export function withSecret<S extends z.ZodRawShape, K extends string, Optional extends boolean = false>(
  shape: S,
  keys: K | readonly K[],
  options: WithSecretOptions<Optional> = {},
): z.ZodType<WithSecretOutput<S, K, Optional>> {
  const list: readonly string[] = typeof keys === 'string' ? [keys] : keys;
  const secretShape: Record<string, z.ZodType> = {};
  for (const key of list) {
    secretShape[key] = secretValue(key).optional();
    secretShape[`${key}File`] = secretFile(`${key}File`).optional();
  }
  const object = z.strictObject({ ...shape, ...secretShape });
  return object
    .superRefine(
      (value, ctx) => {
        const given = value as Record<string, unknown>;
        for (const key of list) {
          const fileKey = `${key}File`;
          const inline = given[key] !== undefined;
          const fromFile = given[fileKey] !== undefined;
          if (inline && fromFile) reportIssue(ctx, { text: `set either ${key} or ${fileKey}, not both` }, undefined, [key]);
          else if (!inline && !fromFile && options.optional !== true) {
            reportIssue(ctx, { text: `missing key (set ${key} or ${fileKey})` }, undefined, [key]);
          }
        }
      },
      // Checked even when other keys failed, so every problem is reported at once.
      { when: (payload) => isPlainObject(payload.value) },
    )
    .transform((value) => {
      const out: Record<string, unknown> = { ...(value as Record<string, unknown>) };
      for (const key of list) {
        const fileKey = `${key}File`;
        const secret = out[key] ?? out[fileKey];
        delete out[fileKey];
        if (secret === undefined) delete out[key];
        else out[key] = secret;
      }
      return out;
    }) as unknown as z.ZodType<WithSecretOutput<S, K, Optional>>;
}
