// Loads the configuration file: read, parse YAML, substitute ${ENV}, validate, resolve paths and read secret files.
import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { LineCounter, parseDocument, type YAMLError } from 'yaml';
import type { ConnectorRegistry } from '../contracts/connector.ts';
import { ForwarderError } from '../contracts/errors.ts';
import { substituteEnv } from './env.ts';
import { ConfigInvalidError, configInvalid, formatPath, type ConfigPath } from './errors.ts';
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

/** The YAML document as plain data; syntax errors are reported by line and column, without the source text. */
function parseYaml(text: string, file: string): unknown {
  const lineCounter = new LineCounter();
  // prettyErrors off: the pretty form quotes the offending line, which may hold a secret.
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, merge: true, uniqueKeys: true });
  const problems: YAMLError[] = [...doc.errors, ...doc.warnings];
  if (problems.length > 0) {
    // One mistake makes the parser stumble over every token after it: the first few say where it is.
    const lines = problems.slice(0, MAX_SYNTAX_ERRORS).map((e) => {
      const { line, col } = lineCounter.linePos(e.pos[0]);
      const hint = e.code === 'UNEXPECTED_TOKEN' && text.slice(e.pos[0] - 1, e.pos[0] + 1) === '${' ? UNQUOTED_VARIABLE_HINT : '';
      return `line ${line}, column ${col}: ${firstLine(e.message)}${hint}`;
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
