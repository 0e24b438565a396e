// Tests of configuration loading: fixtures of valid and invalid files, env substitution, building blocks, secrets.
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { inspect } from 'node:util';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { discardSinkSchema } from '../../connectors/discard/config.ts';
import { fileSinkSchema } from '../../connectors/file/config.ts';
import { jsonlSourceSchema, type JsonlSourceConfig } from '../../connectors/jsonl/config.ts';
import { stdoutSinkSchema } from '../../connectors/stdout/config.ts';
import { expandString, substituteEnv } from '../../src/config/env.ts';
import { ConfigInvalidError, describeValue, formatConfigIssues, fromZodIssues } from '../../src/config/errors.ts';
import { loadConfig, parseConfig } from '../../src/config/loader.ts';
import { DEFAULTS, type ForwarderConfig } from '../../src/config/schema.ts';
import {
  byteSize,
  duration,
  filePath,
  formatByteSize,
  formatDuration,
  httpUrl,
  parseByteSize,
  parseDuration,
  resolvePath,
  resolvingPathsAgainst,
  Secret,
  withSecret,
} from '../../src/config/types.ts';
import type { ConnectorRegistry, SinkConnector, SourceConnector } from '../../src/contracts/connector.ts';
import { isForwarderError } from '../../src/contracts/errors.ts';
import { EVENT_TYPE_NAMES } from '../../src/model/event-types.ts';

// ---- a registry of the real schemas plus test-only connectors ----

const notUsed = (): never => {
  throw new Error('not used');
};

/** A test-only HTTP sink with a required secret, to exercise httpUrl() and withSecret(). */
const webhookSinkSchema = withSecret(
  { type: z.literal('webhook'), url: httpUrl(), mapping: z.string().default('canonical') },
  'token',
);

/** A test-only sink whose secret has a name of its own and is optional. */
const basicAuthSinkSchema = withSecret(
  { type: z.literal('basic-auth'), url: httpUrl(), user: z.string(), mapping: z.string().default('canonical') },
  'password',
  { optional: true },
);

const jsonl: SourceConnector<JsonlSourceConfig> = {
  type: 'jsonl',
  schema: jsonlSourceSchema,
  create: notUsed,
  origin: (c) => (c.format === 'connect' ? 'connect' : c.format === 'cadf' ? 'cadf' : 'mixed'),
};

const sink = (type: string, schema: z.ZodType<{ type: string; mapping: string }>): [string, SinkConnector] => [type, { type, schema, create: notUsed }];

const registry: ConnectorRegistry = {
  sources: new Map<string, SourceConnector>([['jsonl', jsonl as unknown as SourceConnector]]),
  sinks: new Map<string, SinkConnector>([
    sink('file', fileSinkSchema),
    sink('stdout', stdoutSinkSchema),
    sink('discard', discardSinkSchema),
    sink('webhook', webhookSinkSchema),
    sink('basic-auth', basicAuthSinkSchema),
  ]),
};

const mappingNames = ['canonical', 'splunk-cim'] as const;

const fixtures = fileURLToPath(new URL('../fixtures/config/', import.meta.url));
const invalidDir = join(fixtures, 'invalid');
const validDir = join(fixtures, 'valid');

/** Fixed variables for the fixtures: whatever the machine's environment holds does not matter. */
const invalidEnv = { DATA_DIR: '/data' };
const fixtureEnv = { ...invalidEnv, HEC_TOKEN: 'env-token-0002' };

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (e) {
    return e;
  }
  throw new Error('expected an error');
}

async function rejection(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (e) {
    return e;
  }
  throw new Error('expected a rejection');
}

function parse(text: string, env: NodeJS.ProcessEnv = {}, configPath = join(validDir, 'inline.yaml')): ForwarderConfig {
  return parseConfig(text, configPath, { registry, mappingNames, env });
}

function errorsOf(text: string, env: NodeJS.ProcessEnv = {}): string[] {
  const e = thrown(() => parse(text, env));
  expect(e).toBeInstanceOf(ConfigInvalidError);
  return [...(e as ConfigInvalidError).errors];
}

const MINIMAL = `
sources: { a: { type: jsonl, paths: [a.jsonl] } }
sinks: { b: { type: stdout } }
routes: { r: { from: a, to: b } }
`;

// ---- fixtures ----

describe('invalid configuration fixtures', () => {
  const cases = readdirSync(invalidDir)
    .filter((f) => f.endsWith('.yaml'))
    .map((f) => f.slice(0, -'.yaml'.length))
    .sort();

  it('has an expected-errors file for every case', () => {
    expect(cases.length).toBeGreaterThan(15);
    for (const name of cases) expect(existsSync(join(invalidDir, `${name}.errors.txt`)), name).toBe(true);
  });

  // `<dir>` in an errors file stands for the fixture directory. UPDATE_FIXTURES=1 rewrites the files; read the diff.
  it.each(cases)('%s', async (name) => {
    const file = join(invalidDir, `${name}.yaml`);
    const expectedFile = join(invalidDir, `${name}.errors.txt`);
    const error = await rejection(loadConfig(file, { registry, mappingNames, env: invalidEnv }));
    expect(error).toBeInstanceOf(ConfigInvalidError);
    const e = error as ConfigInvalidError;
    expect(e.code).toBe('FWD_CONFIG_INVALID');
    expect(e.disposition).toBe('fatal');
    const actual = e.errors.map((l) => l.replaceAll(invalidDir, '<dir>'));
    if (process.env['UPDATE_FIXTURES'] === '1') writeFileSync(expectedFile, `${actual.join('\n')}\n`);
    const expected = readFileSync(expectedFile, 'utf8').trimEnd().split('\n');
    expect(actual).toEqual(expected);
    expect(e.message).toBe([`configuration ${file} is invalid:`, ...e.errors.map((l) => `  ${l}`)].join('\n'));
  });
});

describe('valid configuration fixtures', () => {
  const files = readdirSync(validDir).filter((f) => f.endsWith('.yaml'));

  it.each(files)('%s loads', async (f) => {
    const config = await loadConfig(join(validDir, f), { registry, mappingNames, env: { ...fixtureEnv, SERVICE_NAME: 'svc' } });
    expect(config.configPath).toBe(join(validDir, f));
    expect(config.baseDir).toBe(dirname(join(validDir, f)));
    expect(Object.keys(config.routes).length).toBeGreaterThan(0);
  });

  it('minimal.yaml takes every default', async () => {
    const config = await loadConfig(join(validDir, 'minimal.yaml'), { registry, mappingNames, env: {} });
    expect(config.sources['connect-export']).toEqual({
      type: 'jsonl',
      paths: [join(validDir, 'samples/*.jsonl')],
      format: 'auto',
      follow: false,
      pollInterval: 1000,
      maxLineBytes: 1024 * 1024,
    });
    expect(config.sinks['out']).toEqual({ type: 'stdout', mapping: 'canonical' });
    expect(config.routes['export-to-stdout']).toEqual({
      name: 'export-to-stdout',
      from: 'connect-export',
      to: ['out'],
      enabledEvents: 'all',
      disabledEvents: [],
      batch: { maxEvents: 500, maxBytes: 1024 * 1024, maxAgeMs: 1000 },
      maxInFlight: 4,
      mappingOptions: {},
      retry: { initialDelayMs: 500, maxDelayMs: 60_000 },
    });
    expect(config.checkpoints.directory).toBe(join(validDir, 'var/checkpoints'));
    expect(config.deadLetter.directory).toBe(join(validDir, 'var/dead-letter'));
    expect(config.shutdownTimeoutMs).toBe(30_000);
    expect(config.server).toEqual({ stuckAfterMs: 300_000 });
    expect(config.logging).toEqual({ level: 'info', format: 'json' });
  });

  it('the route defaults are those of DEFAULTS', async () => {
    const config = await loadConfig(join(validDir, 'minimal.yaml'), { registry, mappingNames, env: {} });
    const route = config.routes['export-to-stdout']!;
    expect(route.batch).toEqual(DEFAULTS.route.batch);
    expect(route.retry).toEqual(DEFAULTS.route.retry);
    expect(route.maxInFlight).toBe(DEFAULTS.route.maxInFlight);
    expect(config.shutdownTimeoutMs).toBe(DEFAULTS.shutdownTimeoutMs);
  });

  it('full.yaml converts units and resolves paths', async () => {
    const config = await loadConfig(join(validDir, 'full.yaml'), { registry, mappingNames, env: {} });
    expect(config.sources['connect-export']).toMatchObject({
      paths: [join(validDir, 'samples/*.jsonl'), '/var/log/connect/audit.jsonl'],
      format: 'connect',
      follow: true,
      pollInterval: 250,
      maxLineBytes: 512 * 1024,
    });
    expect(config.sinks['archive']).toEqual({ type: 'file', path: join(validDir, 'out/events.jsonl'), mapping: 'canonical', fsync: false });
    expect(config.routes['export-to-archive']).toEqual({
      name: 'export-to-archive',
      from: 'connect-export',
      to: ['archive', 'bench'],
      enabledEvents: ['trust_zone_creation', 'trust_zone_update', 'trust_zone_deletion', 'node_attestation'],
      disabledEvents: ['node_attestation'],
      batch: { maxEvents: 1000, maxBytes: 2_000_000, maxAgeMs: 1500 },
      maxInFlight: 8,
      mappingOptions: {},
      retry: { initialDelayMs: 250, maxDelayMs: 120_000 },
    });
    expect(config.checkpoints.directory).toBe(join(validDir, 'state/checkpoints'));
    expect(config.deadLetter.directory).toBe('/var/lib/audit-forwarder/dead-letter');
    expect(config.shutdownTimeoutMs).toBe(60_000);
    expect(config.server).toEqual({ listen: '127.0.0.1:9464', stuckAfterMs: 300_000 });
    expect(config.logging.level).toBe('debug');
  });

  it('shared-sink.yaml: a sink fed by two routes, [all, x] is all, a token read from a file', async () => {
    const config = await loadConfig(join(validDir, 'shared-sink.yaml'), { registry, mappingNames, env: {} });
    expect(config.routes['connect']!.to).toEqual(['siem']);
    expect(config.routes['ibm']!.to).toEqual(['siem']);
    expect(config.routes['connect']!.enabledEvents).toBe('all');
    expect(config.routes['connect']!.disabledEvents).toEqual(['node_pruning']);
    expect(config.routes['ibm']!.enabledEvents).toBe('all');
    const siem = config.sinks['siem']!;
    expect(siem['url']).toBe('https://siem.example.com:8088/services/collector');
    expect(siem).not.toHaveProperty('tokenFile');
    const token = siem['token'] as Secret;
    expect(token).toBeInstanceOf(Secret);
    expect(token.reveal()).toBe('fixture-file-token-0001');
    expect(token.sourceFile).toBe(join(validDir, 'secrets/hec.token'));
    expect(config.sources['ibm-audit']).toMatchObject({ format: 'cadf', service: 'iam', paths: ['/var/log/audit/*.log'] });
  });

  it('env.yaml: variables, defaults and a literal ${', async () => {
    const config = await loadConfig(join(validDir, 'env.yaml'), { registry, mappingNames, env: fixtureEnv });
    expect(config.sources['connect-export']).toMatchObject({ paths: ['/data/*.jsonl'], service: 'literal-${SERVICE}' });
    expect(config.sinks['siem']!['url']).toBe('https://siem.example.com/hook');
    expect((config.sinks['siem']!['token'] as Secret).reveal()).toBe('env-token-0002');
    expect((config.sinks['siem']!['token'] as Secret).sourceFile).toBeUndefined();
  });
});

// ---- loader ----

describe('loadConfig', () => {
  const tmp = mkdtempSync(join(tmpdir(), 'config-test-'));
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));

  it('an unreadable file is FWD_CONFIG_UNREADABLE naming the path', async () => {
    const path = join(tmp, 'missing.yaml');
    const e = await rejection(loadConfig(path, { registry, mappingNames }));
    expect(isForwarderError(e, 'FWD_CONFIG_UNREADABLE')).toBe(true);
    expect((e as Error).message).toContain(path);
    expect((e as Error).message).toContain('ENOENT');
  });

  it('a directory is unreadable too', async () => {
    const e = await rejection(loadConfig(tmp, { registry, mappingNames }));
    expect(isForwarderError(e, 'FWD_CONFIG_UNREADABLE')).toBe(true);
  });

  it('reports a YAML syntax error by line and column, and never quotes a secret of the line', () => {
    const errors = errorsOf('sources:\n  a: { type: jsonl, token: "s3cr3t-in-broken-line\n');
    expect(errors.length).toBeGreaterThan(0);
    expect(errors[0]).toMatch(/^line \d+, column \d+: /);
    expect(errors.join('\n')).not.toContain('s3cr3t');
  });

  it('one YAML mistake gives its first errors, not one per token after it, and an unquoted ${VAR} in { } is explained', () => {
    const errors = errorsOf('sources:\n  a: { type: jsonl, token: ${TOKEN} }\nsinks:\n  b: { type: file, path: x }\nroutes:\n  r: { from: a, to: b }\n');
    expect(errors).toHaveLength(6);
    expect(errors[0]).toMatch(/^line 2, column 29: .*must be quoted: "\$\{VAR\}"/);
    // The line, under a secret-looking key but holding only a variable's name: shown.
    expect(errors.slice(1, 3)).toEqual(['  |   a: { type: jsonl, token: ${TOKEN} }', `  | ${' '.repeat(28)}^`]);
    expect(errors.filter((l) => !l.startsWith('  | '))).toHaveLength(4);
    expect(errors[5]).toMatch(/^… and \d+ more syntax errors/);
  });

  it('relative paths resolve against the directory of the file, not the working directory', async () => {
    const dir = join(tmp, 'nested');
    const { mkdirSync } = await import('node:fs');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'forwarder.yaml'), MINIMAL);
    const config = await loadConfig(join(dir, 'forwarder.yaml'), { registry, mappingNames, env: {} });
    expect(config.sources['a']!['paths']).toEqual([join(dir, 'a.jsonl')]);
    expect(config.checkpoints.directory).toBe(join(dir, 'var/checkpoints'));
  });

  it('reads a token file, trimming one trailing newline only', async () => {
    writeFileSync(join(tmp, 'crlf.token'), 'abc\r\n');
    writeFileSync(join(tmp, 'two.token'), 'abc\n\n');
    writeFileSync(join(tmp, 'none.token'), ' abc ');
    const text = `
sources: { a: { type: jsonl, paths: [a.jsonl] } }
sinks:
  crlf: { type: webhook, url: "https://x.example", tokenFile: crlf.token }
  two: { type: webhook, url: "https://x.example", tokenFile: ./two.token }
  none: { type: webhook, url: "https://x.example", tokenFile: ${join(tmp, 'none.token')} }
routes: { r: { from: a, to: [crlf, two, none] } }
`;
    writeFileSync(join(tmp, 'tokens.yaml'), text);
    const config = await loadConfig(join(tmp, 'tokens.yaml'), { registry, mappingNames, env: {} });
    expect((config.sinks['crlf']!['token'] as Secret).reveal()).toBe('abc');
    expect((config.sinks['two']!['token'] as Secret).reveal()).toBe('abc\n');
    expect((config.sinks['none']!['token'] as Secret).reveal()).toBe(' abc ');
  });

  it('an empty token file is an error naming the file', () => {
    writeFileSync(join(tmp, 'empty.token'), '\n');
    const text = `
sources: { a: { type: jsonl, paths: [a.jsonl] } }
sinks: { w: { type: webhook, url: "https://x.example", tokenFile: ${join(tmp, 'empty.token')} } }
routes: { r: { from: a, to: w } }
`;
    expect(errorsOf(text)).toEqual([`sinks.w.tokenFile: expected a file holding the secret, got an empty file "${join(tmp, 'empty.token')}"`]);
  });

  it('parseConfig names the file as given in the header', () => {
    const e = thrown(() => parseConfig('sources: 1', 'etc/forwarder.yaml', { registry, mappingNames, env: {} }));
    expect((e as Error).message.split('\n')[0]).toBe('configuration etc/forwarder.yaml is invalid:');
  });

  it('merge keys share settings between routes', () => {
    const config = parse(`
sources: { a: { type: jsonl, paths: [a.jsonl] } }
sinks: { b: { type: stdout }, c: { type: discard } }
routes:
  r: &route { from: a, to: b, batch: { maxEvents: 10 } }
  s: { <<: *route, to: c }
`);
    expect(config.routes['s']).toMatchObject({ from: 'a', to: ['c'], batch: { maxEvents: 10 } });
  });
});

// ---- secrets ----

describe('secrets never show', () => {
  const SECRET = 's3cr3t-HEC-value-7f1e';

  it('Secret prints, serialises and inspects as [redacted]', () => {
    const s = new Secret(SECRET, '/run/secrets/token');
    expect(String(s)).toBe('[redacted]');
    expect(`${s}`).toBe('[redacted]');
    expect(JSON.stringify({ s })).toBe('{"s":"[redacted]"}');
    expect(inspect(s)).toBe('[redacted]');
    expect(inspect({ nested: { s } }, { depth: 10 })).not.toContain(SECRET);
    expect(s.reveal()).toBe(SECRET);
    expect(s.sourceFile).toBe('/run/secrets/token');
  });

  it('a loaded configuration holds the secret only behind reveal()', () => {
    const config = parse(
      `
sources: { a: { type: jsonl, paths: [a.jsonl] } }
sinks: { w: { type: webhook, url: "https://x.example", token: "\${HEC_TOKEN}" } }
routes: { r: { from: a, to: w } }
`,
      { HEC_TOKEN: SECRET },
    );
    expect(JSON.stringify(config)).not.toContain(SECRET);
    expect(JSON.stringify(config)).toContain('[redacted]');
    expect(inspect(config, { depth: Infinity })).not.toContain(SECRET);
    expect((config.sinks['w']!['token'] as Secret).reveal()).toBe(SECRET);
  });

  it('no error line echoes a value under a secret key, whatever else is wrong', () => {
    const text = `
sources: { a: { type: jsonl, paths: [a.jsonl], token: "\${HEC_TOKEN}" } }
sinks:
  w: { type: webhook, url: "not a url", token: "\${HEC_TOKEN}", tokenFile: x }
  n: { type: webhook, url: "https://x.example", token: 12345 }
  b: { type: basic-auth, url: "https://x.example", user: u, password: { v: "\${HEC_TOKEN}" }, apiKey: "\${HEC_TOKEN}" }
  f: { type: file, path: out.jsonl, clientSecret: "\${HEC_TOKEN}" }
routes: { r: { from: a, to: [w, n, b, f], maxInFlight: "\${HEC_TOKEN}" } }
`;
    const e = thrown(() => parse(text, { HEC_TOKEN: SECRET })) as ConfigInvalidError;
    expect(e.errors.length).toBeGreaterThan(5);
    expect(e.message).not.toContain(SECRET);
    expect(e.message).not.toContain('12345');
    expect(JSON.stringify(e)).not.toContain(SECRET);
    expect(inspect(e, { depth: Infinity })).not.toContain(SECRET);
  });

  it('describes a value under a secret-sounding key by its type only', () => {
    const issues = fromZodIssues(
      z.strictObject({ hecToken: z.number(), password: z.enum(['a']), note: z.enum(['a']) }).safeParse(
        { hecToken: 'tok-999', password: 'pw-999', note: 'n-999' },
        { reportInput: true },
      ).error!.issues,
      z.object({}),
    );
    const lines = formatConfigIssues(issues);
    expect(lines).toEqual(['hecToken: expected a number, got a value', 'note: expected a, got "n-999"', 'password: expected a, got a value']);
  });
});

describe('withSecret', () => {
  const schema = withSecret({ type: z.literal('x') }, ['token', 'password']);
  const optional = withSecret({ type: z.literal('x') }, 'token', { optional: true });

  it('takes either form of each secret and outputs Secrets', () => {
    const out = schema.parse({ type: 'x', token: 't', password: 'p' });
    expect(Object.keys(out).sort()).toEqual(['password', 'token', 'type']);
    expect(out.token.reveal()).toBe('t');
    expect(out.password.reveal()).toBe('p');
  });

  it('requires exactly one of key and keyFile, naming both', () => {
    const r = schema.safeParse({ type: 'x', token: 't', tokenFile: '/nonexistent/never-read' }, { reportInput: true });
    const lines = formatConfigIssues(fromZodIssues(r.error!.issues, schema));
    expect(lines).toContain('token: set either token or tokenFile, not both');
    expect(lines).toContain('password: missing key (set password or passwordFile)');
  });

  it('optional: neither is fine, and the key is absent', () => {
    expect(optional.parse({ type: 'x' })).toEqual({ type: 'x' });
    expect(optional.parse({ type: 'x', token: 't' }).token?.reveal()).toBe('t');
  });

  it('lists keyFile among the known keys of an unknown-key error', () => {
    const r = optional.safeParse({ type: 'x', tokenfile: 'a' }, { reportInput: true });
    expect(formatConfigIssues(fromZodIssues(r.error!.issues, optional))).toEqual(['tokenfile: unknown key (expected one of: type, token, tokenFile)']);
  });
});

// ---- env substitution ----

describe('environment substitution', () => {
  it('substitutes ${VAR}, ${VAR:-default} and $${', () => {
    const env = { A: 'alpha', EMPTY: '' };
    expect(expandString('x-${A}-y', env)).toEqual({ value: 'x-alpha-y', problems: [], sensitive: false });
    expect(expandString('${B:-beta}', env).value).toBe('beta');
    expect(expandString('${EMPTY:-fallback}', env).value).toBe('fallback');
    expect(expandString('${EMPTY}', env).value).toBe('');
    expect(expandString('${A:-}', env).value).toBe('alpha');
    expect(expandString('${B:-}', env).value).toBe('');
    expect(expandString('$${A} costs $5 and $$', env).value).toBe('${A} costs $5 and $$');
    // Read left to right: a lone `$`, then `$${`.
    expect(expandString('$$${A}', env).value).toBe('$${A}');
    expect(expandString('${A}${A}', env).value).toBe('alphaalpha');
  });

  it('reports every missing variable and bad reference', () => {
    expect(expandString('${X}/${Y}', {}).problems).toEqual(['environment variable X is not set', 'environment variable Y is not set']);
    expect(expandString('${1BAD}', {}).problems[0]).toMatch(/^"\$\{1BAD\}" is not a valid environment variable reference/);
    expect(expandString('abc ${OPEN', {}).problems).toEqual(['unterminated "${" (write "$${" for a literal "${")']);
  });

  it('reports problems at their key paths, all of them', () => {
    const r = substituteEnv({ sinks: { splunk: { token: '${HEC_TOKEN}' } }, list: ['${A}', 'ok', '${B}'], '${KEY}': 'v' }, {});
    expect(formatConfigIssues(r.issues)).toEqual([
      'list[0]: environment variable A is not set',
      'list[2]: environment variable B is not set',
      'sinks.splunk.token: environment variable HEC_TOKEN is not set',
    ]);
    expect(Object.keys(r.value as object)).toContain('${KEY}');
  });

  it('leaves non-strings alone', () => {
    expect(substituteEnv({ a: 1, b: true, c: null, d: [2] }, {}).value).toEqual({ a: 1, b: true, c: null, d: [2] });
  });

  it('a value containing YAML stays a plain string', () => {
    const injected = 'svc\n  follow: true\nsinks: {}\n key: x';
    const config = parse(
      `
sources: { a: { type: jsonl, paths: [a.jsonl], service: "\${SVC}" } }
sinks: { b: { type: stdout } }
routes: { r: { from: a, to: b } }
`,
      { SVC: injected },
    );
    expect(config.sources['a']!['service']).toBe(injected);
    expect(config.sources['a']!['follow']).toBe(false);
    expect(Object.keys(config.sinks)).toEqual(['b']);
  });

  it('a value whose substitution failed is not validated again', () => {
    expect(errorsOf(MINIMAL.replace('to: b', 'to: b, batch: { maxAge: "${AGE}" }'))).toEqual(['routes.r.batch.maxAge: environment variable AGE is not set']);
  });

  it('a value from a secret-named variable is never echoed, under any key', () => {
    const errors = errorsOf(MINIMAL.replace('from: a, to: b', 'to: b, batch: { maxAge: "${DB_PASSWORD}" }, from: "${API_KEY}"'), {
      DB_PASSWORD: 'pw-0003',
      API_KEY: 'key-0004',
    });
    expect(errors).toEqual([
      'routes.r.batch.maxAge: expected a duration such as 500ms, 30s or 5m, got a value',
      'routes.r.from: expected a source name (one of: a), got a value',
    ]);
  });

  it('a value from another variable is shown, to help fix it', () => {
    expect(errorsOf(MINIMAL.replace('to: b', 'to: b, batch: { maxAge: "${MAX_AGE}" }'), { MAX_AGE: '5 minutes' })).toEqual([
      'routes.r.batch.maxAge: expected a duration such as 500ms, 30s or 5m, got "5 minutes"',
    ]);
  });

  it('a missing variable is reported with the other errors', () => {
    expect(
      errorsOf(`
sources: { a: { type: jsonl, paths: ["\${DIR}/a.jsonl"] } }
sinks: { b: { type: stdout, mapping: nope } }
routes: { r: { from: a, to: b } }
`),
    ).toEqual(['sinks.b.mapping: expected one of canonical, splunk-cim, got "nope"', 'sources.a.paths[0]: environment variable DIR is not set']);
  });
});

// ---- building blocks ----

describe('duration()', () => {
  const d = duration();
  it.each([
    [0, 0],
    [250, 250],
    ['500ms', 500],
    ['1s', 1000],
    ['1.5s', 1500],
    ['5m', 300_000],
    ['1h', 3_600_000],
    ['1d', 86_400_000],
    [' 2s ', 2000],
    ['.5s', 500],
  ])('%j → %d ms', (input, ms) => {
    expect(d.parse(input)).toBe(ms);
  });

  it.each(['x', '5', '5 minutes', '-1s', '1w', '', '1.s', 'ms'])('refuses %j', (input) => {
    const r = d.safeParse(input);
    expect(r.success).toBe(false);
    expect(r.error!.issues[0]!.message).toBe(`expected a duration such as 500ms, 30s or 5m, got ${describeValue(input)}`);
  });

  it('refuses negative and non-finite numbers, and other types', () => {
    for (const v of [-1, Number.NaN, Number.POSITIVE_INFINITY, true, [], {}]) expect(d.safeParse(v).success).toBe(false);
  });

  it('checks bounds and words them in units', () => {
    expect(duration({ min: 1, max: 600_000 }).safeParse('20m').error!.issues[0]!.message).toBe('expected a duration from 1ms to 10m, got "20m"');
  });

  it('formatDuration and parseDuration agree', () => {
    fc.assert(fc.property(fc.integer({ min: 0, max: 10 ** 12 }), (ms) => parseDuration(formatDuration(ms)) === ms));
  });
});

describe('byteSize()', () => {
  const b = byteSize();
  it.each([
    [0, 0],
    [4096, 4096],
    ['100B', 100],
    ['10kB', 10_000],
    ['512KiB', 524_288],
    ['1MB', 1_000_000],
    ['1MiB', 1_048_576],
    ['1mib', 1_048_576],
    ['1.5KiB', 1536],
    ['1GiB', 1024 ** 3],
    ['2 GB', 2e9],
  ])('%j → %d bytes', (input, bytes) => {
    expect(b.parse(input)).toBe(bytes);
  });

  it.each(['1024', '1 megabyte', '1XB', '-1KiB', 'KiB'])('refuses %j', (input) => {
    expect(b.safeParse(input).error!.issues[0]!.message).toBe(`expected a size such as 512KiB, 1MiB or 10MB, got ${JSON.stringify(input)}`);
  });

  it('formatByteSize and parseByteSize agree', () => {
    fc.assert(fc.property(fc.integer({ min: 0, max: 2 ** 50 }), (n) => parseByteSize(formatByteSize(n)) === n));
  });
});

describe('httpUrl()', () => {
  const u = httpUrl();
  it.each(['https://splunk.example.com:8088/services/collector', 'http://127.0.0.1:9200', 'https://[::1]:8443/'])('accepts %s', (url) => {
    expect(u.parse(url)).toBe(url);
  });

  it.each(['splunk:8088', 'ftp://example.com', 'https://', '/relative', 'example.com'])('refuses %s', (url) => {
    expect(u.safeParse(url).error!.issues[0]!.message).toBe(`expected an https:// or http:// URL, got ${JSON.stringify(url)}`);
  });

  it('refuses credentials in the URL without echoing them', () => {
    const message = u.safeParse('https://admin:hunter2@es.example.com').error!.issues[0]!.message;
    expect(message).not.toContain('hunter2');
    expect(message).toContain('https://[redacted]@es.example.com');
  });
});

describe('filePath() and resolvePath()', () => {
  it('resolves against the directory in force, absolute paths unchanged', () => {
    const p = filePath();
    expect(resolvingPathsAgainst('/etc/forwarder', () => p.parse('./out/x.jsonl'))).toBe('/etc/forwarder/out/x.jsonl');
    expect(resolvingPathsAgainst('/etc/forwarder', () => p.parse('/var/x'))).toBe('/var/x');
    expect(resolvePath('/a/b', '../c/*.jsonl')).toBe('/a/c/*.jsonl');
  });

  it('refuses an empty path', () => {
    expect(filePath().safeParse('').error!.issues[0]!.message).toBe('expected a file path, got an empty string');
  });
});

describe('route selection', () => {
  it('lists every Connect event type name in an unknown-name error', () => {
    const [line] = errorsOf(MINIMAL.replace('to: b', 'to: b, disabledEvents: [nodes]'));
    for (const name of EVENT_TYPE_NAMES) expect(line).toContain(name);
    expect(line).toMatch(/^routes\.r\.disabledEvents\[0\]: expected a Connect event type \(one of: .*\), got "nodes"$/);
  });

  it('a mixed source may select Connect types', () => {
    const config = parse(MINIMAL.replace('to: b', 'to: b, enabledEvents: [node_attestation]'));
    expect(config.routes['r']!.enabledEvents).toEqual(['node_attestation']);
  });
});
