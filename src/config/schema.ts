// The forwarder's configuration: top-level and route schemas, defaults, limits, and the checks across sections.
import { z } from 'zod';
import type { ConnectorRegistry, SinkConnector, SourceConnector } from '../contracts/connector.ts';
import type { LogFormat, LogLevel } from '../logging.ts';
import { EVENT_TYPE_NAMES, eventTypeByName } from '../model/event-types.ts';
import { describeValue, expectation, fromZodIssues, type ConfigIssue, type ConfigPath, type RedactPredicate } from './errors.ts';
import {
  byteSize,
  duration,
  filePath,
  formatDuration,
  integer,
  isPlainObject,
  nonEmptyString,
  reportIssue,
  resolvingPathsAgainst,
} from './types.ts';

const KiB = 1024;
const MiB = 1024 * KiB;
const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;

/** Every default of the top-level configuration, in output units (milliseconds, bytes); paths relative to the file. */
export const DEFAULTS = Object.freeze({
  route: Object.freeze({
    enabledEvents: Object.freeze(['all']) as readonly string[],
    disabledEvents: Object.freeze([]) as readonly string[],
    batch: Object.freeze({ maxEvents: 500, maxBytes: 1 * MiB, maxAgeMs: 1 * SECOND }),
    maxInFlight: 4,
    retry: Object.freeze({ initialDelayMs: 500, maxDelayMs: 1 * MINUTE }),
  }),
  checkpoints: Object.freeze({ directory: './var/checkpoints' }),
  deadLetter: Object.freeze({ directory: './var/dead-letter' }),
  shutdownTimeoutMs: 30 * SECOND,
  server: Object.freeze({ stuckAfterMs: 5 * MINUTE }),
  logging: Object.freeze({ level: 'info' as LogLevel, format: 'json' as LogFormat }),
  ledger: Object.freeze({ enabled: true, windowMs: 1 * MINUTE, latenessMs: 1 * MINUTE, heartbeat: false }),
});

/** Bounds of the numeric settings, in output units. */
export const LIMITS = Object.freeze({
  maxEvents: Object.freeze({ min: 1, max: 100_000 }),
  maxBytes: Object.freeze({ min: 1 * KiB, max: 512 * MiB }),
  maxAgeMs: Object.freeze({ min: 1, max: 10 * MINUTE }),
  maxInFlight: Object.freeze({ min: 1, max: 64 }),
  retryDelayMs: Object.freeze({ min: 1, max: 1 * HOUR }),
  shutdownTimeoutMs: Object.freeze({ min: 0, max: 1 * HOUR }),
  stuckAfterMs: Object.freeze({ min: 1 * SECOND, max: 24 * HOUR }),
  ledgerWindowMs: Object.freeze({ min: 1 * SECOND, max: 24 * HOUR }),
  ledgerLatenessMs: Object.freeze({ min: 0, max: 24 * HOUR }),
});

export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const satisfies readonly LogLevel[];
export const LOG_FORMATS = ['json', 'pretty'] as const satisfies readonly LogFormat[];

/** Source, sink and route names become file names. */
export const NAME_PATTERN = /^[a-z0-9][a-z0-9_-]{0,62}$/;
const NAME_RULE = 'invalid name (expected 1 to 63 of a-z, 0-9, "-" and "_", starting with a letter or digit)';

export interface RouteConfig {
  name: string;
  from: string;
  to: string[];
  /** `'all'`, or the exact Connect type names selected. */
  enabledEvents: 'all' | string[];
  /** Removed from `enabledEvents`. */
  disabledEvents: string[];
  batch: { maxEvents: number; maxBytes: number; maxAgeMs: number };
  /** Batches in flight per sink. */
  maxInFlight: number;
  /** Settings for the mappings of the route's sinks (e.g. a Splunk `sourcetype`); each key is read by one of them. */
  mappingOptions: Record<string, string>;
  retry: { initialDelayMs: number; maxDelayMs: number };
}

export interface ForwarderConfig {
  /** The configuration file, absolute. */
  configPath: string;
  /** Its directory: relative paths in the configuration are resolved against it. */
  baseDir: string;
  /** Each the output of its connector's schema. */
  sources: Record<string, { type: string } & Record<string, unknown>>;
  sinks: Record<string, { type: string; mapping: string } & Record<string, unknown>>;
  routes: Record<string, RouteConfig>;
  /** Absolute. */
  checkpoints: { directory: string };
  /** Absolute. */
  deadLetter: { directory: string };
  shutdownTimeoutMs: number;
  /** `listen`: where /healthz, /readyz and /metrics are served (none when absent). */
  server: { listen?: string; stuckAfterMs: number };
  logging: { level: LogLevel; format: LogFormat };
  /**
   * The completeness ledger (docs/completeness.md): per route × sink and window of event time, counts and a digest
   * of what was delivered, hash-chained in `<checkpoints>/ledger/<route>.jsonl`. Live runs only.
   */
  ledger: { enabled: boolean; windowMs: number; latenessMs: number; heartbeat: boolean; signingKeyFile?: string };
}

// ---- schemas ----

const LISTEN = /^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)?:(\d{1,5})$/;

/** `host:port` (`127.0.0.1:9464`, `[::1]:9464`, `:9464` for every interface). */
function listenAddress(): z.ZodType<string> {
  return nonEmptyString().check((ctx) => {
    const m = LISTEN.exec(ctx.value);
    if (m === null || Number(m[1]) > 65_535) reportIssue(ctx, { expected: 'host:port such as 127.0.0.1:9464' }, ctx.value);
  });
}

/** A mapping of names to settings, at least one entry; the entries are checked separately. */
function section(what: string): z.ZodType<Record<string, unknown>> {
  const expected = `a mapping of ${what} names to their settings`;
  return z.unknown().transform((input, ctx) => {
    if (isPlainObject(input) && Object.keys(input).length > 0) return input;
    reportIssue(ctx, { expected }, input);
    return z.NEVER;
  }) as unknown as z.ZodType<Record<string, unknown>>;
}

const eventTypeList = `one of: ${EVENT_TYPE_NAMES.join(', ')}`;

function eventName(allowAll: boolean): z.ZodType<string> {
  const expected = allowAll ? `all or a Connect event type (${eventTypeList})` : `a Connect event type (${eventTypeList})`;
  return nonEmptyString(expected).check((ctx) => {
    if ((allowAll && ctx.value === 'all') || eventTypeByName(ctx.value) !== undefined) return;
    reportIssue(ctx, { expected }, ctx.value);
  });
}

/** One sink name or a non-empty list of them → a list. */
function sinkList(): z.ZodType<string[]> {
  return z.unknown().transform((input, ctx) => {
    const blank = (v: unknown): boolean => typeof v !== 'string' || v.trim() === '';
    if (!(typeof input === 'string' && !blank(input)) && !(Array.isArray(input) && input.length > 0)) {
      reportIssue(ctx, { expected: 'a sink name or a list of sink names' }, input);
      return z.NEVER;
    }
    const list: unknown[] = typeof input === 'string' ? [input] : input;
    list.forEach((item, i) => {
      if (blank(item)) reportIssue(ctx, { expected: 'a sink name' }, item, [i]);
    });
    return list.some(blank) ? z.NEVER : (list as string[]);
  }) as unknown as z.ZodType<string[]>;
}

const retryDelay = () => duration(LIMITS.retryDelayMs);

/** A route as written. Names of sources, sinks and events are checked against the rest by `validateConfig`. */
export const routeSchema = z
  .strictObject({
    from: nonEmptyString('a source name'),
    to: sinkList(),
    enabledEvents: z.array(eventName(true)).min(1).default([...DEFAULTS.route.enabledEvents]),
    disabledEvents: z.array(eventName(false)).default([...DEFAULTS.route.disabledEvents]),
    batch: z
      .strictObject({
        maxEvents: integer(LIMITS.maxEvents).default(DEFAULTS.route.batch.maxEvents),
        maxBytes: byteSize(LIMITS.maxBytes).default(DEFAULTS.route.batch.maxBytes),
        maxAge: duration(LIMITS.maxAgeMs).default(DEFAULTS.route.batch.maxAgeMs),
      })
      .prefault({}),
    maxInFlight: integer(LIMITS.maxInFlight).default(DEFAULTS.route.maxInFlight),
    mappingOptions: z.record(z.string(), nonEmptyString('a string')).default({}),
    retry: z
      .strictObject({
        initialDelay: retryDelay().default(DEFAULTS.route.retry.initialDelayMs),
        maxDelay: retryDelay().default(DEFAULTS.route.retry.maxDelayMs),
      })
      .prefault({})
      .check((ctx) => {
        const { initialDelay, maxDelay } = ctx.value;
        if (initialDelay <= maxDelay) return;
        const text = `expected at most maxDelay (${formatDuration(maxDelay)}), got ${formatDuration(initialDelay)}`;
        reportIssue(ctx, { text }, initialDelay, ['initialDelay']);
      }),
  })
  .transform(
    (r): Omit<RouteConfig, 'name'> => ({
      from: r.from,
      to: r.to,
      enabledEvents: r.enabledEvents.includes('all') ? 'all' : [...new Set(r.enabledEvents)],
      disabledEvents: [...new Set(r.disabledEvents)],
      batch: { maxEvents: r.batch.maxEvents, maxBytes: r.batch.maxBytes, maxAgeMs: r.batch.maxAge },
      maxInFlight: r.maxInFlight,
      mappingOptions: r.mappingOptions,
      retry: { initialDelayMs: r.retry.initialDelay, maxDelayMs: r.retry.maxDelay },
    }),
  );

/** The top level. Sources, sinks and routes are only required to be non-empty mappings here. */
export const topLevelSchema = z.strictObject({
  sources: section('source'),
  sinks: section('sink'),
  routes: section('route'),
  checkpoints: z.strictObject({ directory: filePath('a directory path').prefault(DEFAULTS.checkpoints.directory) }).prefault({}),
  deadLetter: z.strictObject({ directory: filePath('a directory path').prefault(DEFAULTS.deadLetter.directory) }).prefault({}),
  shutdownTimeout: duration(LIMITS.shutdownTimeoutMs).default(DEFAULTS.shutdownTimeoutMs),
  server: z
    .strictObject({ listen: listenAddress().optional(), stuckAfter: duration(LIMITS.stuckAfterMs).default(DEFAULTS.server.stuckAfterMs) })
    .prefault({}),
  logging: z
    .strictObject({ level: z.enum(LOG_LEVELS).default(DEFAULTS.logging.level), format: z.enum(LOG_FORMATS).default(DEFAULTS.logging.format) })
    .prefault({}),
  ledger: z
    .strictObject({
      enabled: z.boolean().default(DEFAULTS.ledger.enabled),
      window: wholeSeconds(LIMITS.ledgerWindowMs).default(DEFAULTS.ledger.windowMs),
      lateness: wholeSeconds(LIMITS.ledgerLatenessMs).default(DEFAULTS.ledger.latenessMs),
      heartbeat: z.boolean().default(DEFAULTS.ledger.heartbeat),
      signingKeyFile: filePath('a path to an Ed25519 private key (PEM)').optional(),
    })
    .prefault({}),
});

/** A duration that is a whole number of seconds (ledger windows are aligned on seconds since the epoch). */
function wholeSeconds(range: { min: number; max: number }): z.ZodType<number> {
  return duration(range).check((ctx) => {
    if (ctx.value % SECOND !== 0) reportIssue(ctx, { expected: 'a whole number of seconds, such as 30s or 1m' }, formatDuration(ctx.value));
  });
}

// ---- validation across sections ----

export interface ValidateOptions {
  readonly registry: ConnectorRegistry;
  readonly mappingNames: readonly string[];
  /** The `mappingOptions` keys each mapping reads; when given, a route's keys are checked against its sinks' mappings. */
  readonly mappingOptionKeys?: Readonly<Record<string, readonly string[]>>;
  /** Absolute path of the configuration file. */
  readonly configPath: string;
  /** Directory relative paths resolve against (the file's). */
  readonly baseDir: string;
  /** Values not to echo in messages beyond those under secret keys (the loader's: those from secret variables). */
  readonly redact?: RedactPredicate;
}

export type ValidationResult = { readonly ok: true; readonly config: ForwarderConfig } | { readonly ok: false; readonly issues: ConfigIssue[] };

const oneOf = (names: readonly string[]): string => (names.length === 0 ? 'none are defined' : `one of: ${names.join(', ')}`);

interface Parsed<T, C> {
  readonly value: T;
  readonly connector: C;
}

/** Validates one source or sink entry with the schema of the connector its `type` names. */
function parseEntry<C extends SourceConnector | SinkConnector>(
  kind: 'sources' | 'sinks',
  name: string,
  entry: unknown,
  connectors: ReadonlyMap<string, C>,
  issues: ConfigIssue[],
  redact: RedactPredicate,
): Parsed<Record<string, unknown> & { type: string }, C> | undefined {
  const path: ConfigPath = [kind, name];
  const types = [...connectors.keys()].sort();
  if (!isPlainObject(entry)) {
    issues.push({ path, message: expectation('a mapping with a type key', entry) });
    return undefined;
  }
  const type = entry['type'];
  const connector = typeof type === 'string' ? connectors.get(type) : undefined;
  if (connector === undefined) {
    issues.push({ path: [...path, 'type'], message: expectation(`one of ${types.join(', ')}`, type, redact([...path, 'type'])) });
    return undefined;
  }
  const result = connector.schema.safeParse(entry, { reportInput: true });
  if (!result.success) {
    issues.push(...fromZodIssues(result.error.issues, connector.schema, path, redact));
    return undefined;
  }
  return { value: result.data as Record<string, unknown> & { type: string }, connector };
}

function checkNames(kind: string, entries: Record<string, unknown>, issues: ConfigIssue[]): void {
  for (const name of Object.keys(entries)) if (!NAME_PATTERN.test(name)) issues.push({ path: [kind, name], message: NAME_RULE });
}

const entriesOf = (raw: Record<string, unknown>, key: string): Record<string, unknown> => {
  const v = raw[key];
  return isPlainObject(v) ? v : {};
};

/**
 * Validates a parsed (and env-substituted) configuration document: the top level, each source and sink
 * with its connector's schema, each route, and the references between them. Reports every problem found.
 */
export function validateConfig(raw: unknown, options: ValidateOptions): ValidationResult {
  return resolvingPathsAgainst(options.baseDir, () => validate(raw, options));
}

function validate(raw: unknown, options: ValidateOptions): ValidationResult {
  const { registry, mappingNames } = options;
  const redact = options.redact ?? (() => false);
  const issues: ConfigIssue[] = [];
  if (!isPlainObject(raw)) {
    issues.push({ path: [], message: `expected a mapping with sources, sinks and routes, got ${describeValue(raw)}` });
    return { ok: false, issues };
  }

  const top = topLevelSchema.safeParse(raw, { reportInput: true });
  if (!top.success) issues.push(...fromZodIssues(top.error.issues, topLevelSchema, [], redact));

  const rawSources = entriesOf(raw, 'sources');
  const rawSinks = entriesOf(raw, 'sinks');
  const rawRoutes = entriesOf(raw, 'routes');
  checkNames('sources', rawSources, issues);
  checkNames('sinks', rawSinks, issues);
  checkNames('routes', rawRoutes, issues);

  const sources: Record<string, Parsed<Record<string, unknown> & { type: string }, SourceConnector>> = {};
  for (const [name, entry] of Object.entries(rawSources)) {
    const parsed = parseEntry('sources', name, entry, registry.sources, issues, redact);
    if (parsed !== undefined) sources[name] = parsed;
  }

  const sinks: ForwarderConfig['sinks'] = {};
  const mappings = [...mappingNames].sort();
  for (const [name, entry] of Object.entries(rawSinks)) {
    const parsed = parseEntry('sinks', name, entry, registry.sinks, issues, redact);
    const mapping = parsed !== undefined ? parsed.value['mapping'] : isPlainObject(entry) ? entry['mapping'] : undefined;
    if (typeof mapping === 'string' && !mappingNames.includes(mapping)) {
      const at: ConfigPath = ['sinks', name, 'mapping'];
      issues.push({ path: at, message: expectation(`one of ${mappings.join(', ')}`, mapping, redact(at)) });
    } else if (parsed !== undefined) {
      sinks[name] = parsed.value as ForwarderConfig['sinks'][string];
    }
  }

  const routes: Record<string, RouteConfig> = {};
  const sourceNames = Object.keys(rawSources);
  const sinkNames = Object.keys(rawSinks);
  for (const [name, entry] of Object.entries(rawRoutes)) {
    const path: ConfigPath = ['routes', name];
    if (!isPlainObject(entry)) {
      issues.push({ path, message: expectation('a mapping with from and to', entry) });
      continue;
    }
    const result = routeSchema.safeParse(entry, { reportInput: true });
    if (!result.success) issues.push(...fromZodIssues(result.error.issues, routeSchema, path, redact));
    checkRouteReferences(name, entry, result.success ? result.data : undefined, { sourceNames, sinkNames, sources, redact }, issues);
    if (options.mappingOptionKeys !== undefined) checkMappingOptions(name, entry, sinks, options.mappingOptionKeys, options.registry, issues);
    if (result.success) routes[name] = { name, ...result.data };
  }

  if (issues.length > 0 || !top.success) return { ok: false, issues };
  const t = top.data;
  const config: ForwarderConfig = {
    configPath: options.configPath,
    baseDir: options.baseDir,
    sources: Object.fromEntries(Object.entries(sources).map(([n, p]) => [n, p.value])),
    sinks,
    routes,
    checkpoints: { directory: t.checkpoints.directory },
    deadLetter: { directory: t.deadLetter.directory },
    shutdownTimeoutMs: t.shutdownTimeout,
    server: { ...(t.server.listen === undefined ? {} : { listen: t.server.listen }), stuckAfterMs: t.server.stuckAfter },
    logging: { level: t.logging.level, format: t.logging.format },
    ledger: {
      enabled: t.ledger.enabled,
      windowMs: t.ledger.window,
      latenessMs: t.ledger.lateness,
      heartbeat: t.ledger.heartbeat,
      ...(t.ledger.signingKeyFile !== undefined ? { signingKeyFile: t.ledger.signingKeyFile } : {}),
    },
  };
  return { ok: true, config };
}

/** Every `mappingOptions` key of a route must be read by one of its sinks or by its mapping. */
function checkMappingOptions(
  name: string,
  route: Record<string, unknown>,
  sinks: ForwarderConfig['sinks'],
  keysOf: Readonly<Record<string, readonly string[]>>,
  registry: ConnectorRegistry,
  issues: ConfigIssue[],
): void {
  const options = route['mappingOptions'];
  if (!isPlainObject(options)) return;
  const to = route['to'];
  const targets = (typeof to === 'string' ? [to] : Array.isArray(to) ? to : []).filter((t): t is string => typeof t === 'string');
  // Which keys a sink reads is known once it validated (its mapping and type): while one of the route's sinks has
  // errors of its own, or `to` names no sink, a key is not called unknown for want of knowing who reads it.
  const chosen = targets.flatMap((s) => (sinks[s] === undefined ? [] : [sinks[s]]));
  if (chosen.length === 0 || chosen.length < targets.length) return;
  const used = [...new Set(chosen.map((s) => s.mapping))];
  const sinkTypes = [...new Set(chosen.map((s) => s.type))];
  const bySinks = sinkTypes.flatMap((t) => registry.sinks.get(t)?.options ?? []);
  const accepted = new Set([...used.flatMap((m) => keysOf[m] ?? []), ...bySinks]);
  for (const key of Object.keys(options)) {
    if (accepted.has(key)) continue;
    const known = [...accepted].sort();
    const readers = [...used.map((m) => `mapping ${m}`), ...sinkTypes.filter((t) => (registry.sinks.get(t)?.options ?? []).length > 0).map((t) => `sink ${t}`)];
    issues.push({
      path: ['routes', name, 'mappingOptions', key],
      message: `unknown key (this route's ${readers.join(', ') || 'sinks'} read ${known.length === 0 ? 'no options' : `only: ${known.join(', ')}`})`,
    });
  }
}

interface RouteContext {
  readonly sourceNames: readonly string[];
  readonly sinkNames: readonly string[];
  readonly sources: Readonly<Record<string, Parsed<Record<string, unknown> & { type: string }, SourceConnector>>>;
  readonly redact: RedactPredicate;
}

/** References from a route to sources and sinks, and the selection against the source's kind of records. */
function checkRouteReferences(
  name: string,
  route: Record<string, unknown>,
  parsed: Omit<RouteConfig, 'name'> | undefined,
  ctx: RouteContext,
  issues: ConfigIssue[],
): void {
  const path: ConfigPath = ['routes', name];
  const from = route['from'];
  if (typeof from === 'string' && from.trim() !== '' && !ctx.sourceNames.includes(from)) {
    const at: ConfigPath = [...path, 'from'];
    issues.push({ path: at, message: expectation(`a source name (${oneOf(ctx.sourceNames)})`, from, ctx.redact(at)) });
  }

  const to = route['to'];
  const targets: [ConfigPath, unknown][] =
    typeof to === 'string' ? [[[...path, 'to'], to]] : Array.isArray(to) ? to.map((t, i): [ConfigPath, unknown] => [[...path, 'to', i], t]) : [];
  const seen = new Set<string>();
  for (const [at, sink] of targets) {
    if (typeof sink !== 'string' || sink.trim() === '') continue;
    if (!ctx.sinkNames.includes(sink)) {
      issues.push({ path: at, message: expectation(`a sink name (${oneOf(ctx.sinkNames)})`, sink, ctx.redact(at)) });
    } else if (seen.has(sink)) issues.push({ path: at, message: `expected each sink once, got ${describeValue(sink)} again` });
    seen.add(sink);
  }

  const source = typeof from === 'string' ? ctx.sources[from] : undefined;
  if (source !== undefined && source.connector.origin(source.value) === 'cadf') {
    const why = `source ${describeValue(from)} reads IBM CADF records, which have no Connect event type`;
    const enabled = route['enabledEvents'];
    if (Array.isArray(enabled) && enabled.some((e) => e !== 'all')) issues.push({ path: [...path, 'enabledEvents'], message: `${why}; use [all]` });
    const disabled = route['disabledEvents'];
    if (Array.isArray(disabled) && disabled.length > 0) issues.push({ path: [...path, 'disabledEvents'], message: `${why}; remove disabledEvents` });
    return;
  }

  if (parsed !== undefined && parsed.disabledEvents.length > 0) {
    const selected = parsed.enabledEvents === 'all' ? EVENT_TYPE_NAMES : parsed.enabledEvents;
    if (selected.every((e) => parsed.disabledEvents.includes(e))) {
      issues.push({ path: [...path, 'disabledEvents'], message: 'removes every event type enabledEvents selects, so the route would forward nothing' });
    }
  }
}
