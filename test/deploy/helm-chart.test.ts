// The Helm chart deploy/helm/audit-forwarder: values.schema.json against the values and typical mistakes, and the
// configuration the chart generates (templates/_config.tpl, transcribed here as chartConfig) against the forwarder's loader.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import Ajv from 'ajv';
import { afterAll, describe, expect, it } from 'vitest';
import { parse, parseAllDocuments, stringify } from 'yaml';
import { connectors } from '../../connectors/index.ts';
import { mappingNames, mappingOptionKeys } from '../../mappings/index.ts';
import { parseConfig } from '../../src/config/loader.ts';
import { routeSchema, topLevelSchema, type ForwarderConfig } from '../../src/config/schema.ts';
import { EVENT_TYPE_NAMES } from '../../src/model/event-types.ts';

const ROOT = resolve(import.meta.dirname, '../..');
const CHART = resolve(ROOT, 'deploy/helm/audit-forwarder');
const EXAMPLES = resolve(CHART, 'examples');
const CONFIG_PATH = '/etc/audit-forwarder/config.yaml';
const STATE = '/var/lib/audit-forwarder';
/** Where the chart mounts secrets given `as: file`; the test puts stand-in files in a temporary folder instead. */
const SECRET_MOUNTS = '/run/audit-forwarder/';

type Obj = Record<string, unknown>;
// The values as the templates see them; the schema test below guarantees this shape for every file used here.
interface Values {
  mode: 'connect' | 'sidecar';
  audit: { enabledEvents: string[]; disabledEvents: string[] };
  connect: { api: Obj & { tls?: Obj }; source: Obj; token: { existingSecret: string; key: string; as: 'env' | 'file' } };
  svid: { source: 'csi' | 'volume' | 'none'; mountPath: string; files: { cert: string; key: string; bundle: string } };
  auditFiles: Obj;
  siem: {
    type: 'splunk-hec' | 'elasticsearch' | 'syslog' | 'otlp';
    secret: { existingSecret: string; key: string; as: 'env' | 'file'; field: string; username: string; header: string };
    mappingOptions: Record<string, string>;
  } & Obj;
  route: Obj;
  server: { listen: string } & Obj;
  logging: { level: string } & Obj;
  shutdownTimeoutSeconds: number;
}

const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Helm's merge of a values file over the chart's: maps merged key by key, anything else replaced, null removes. */
function coalesce(base: Obj, over: Obj): Obj {
  const out: Obj = { ...base };
  for (const [k, v] of Object.entries(over)) {
    if (v === null) delete out[k];
    else if (isObj(v) && isObj(out[k])) out[k] = coalesce(out[k], v);
    else out[k] = v;
  }
  return out;
}

const readYaml = (path: string): Obj => parse(readFileSync(path, 'utf8')) as Obj;
const DEFAULTS = readYaml(resolve(CHART, 'values.yaml'));
const EXAMPLE_FILES = readdirSync(EXAMPLES).filter((f) => f.endsWith('.yaml')).sort();
/** The default values and each example merged over them, by name. */
const CASES: [string, Obj][] = [['values.yaml', DEFAULTS], ...EXAMPLE_FILES.map((f): [string, Obj] => [`examples/${f}`, coalesce(DEFAULTS, readYaml(resolve(EXAMPLES, f)))])];

const SETTINGS = { 'splunk-hec': 'splunkHec', elasticsearch: 'elasticsearch', syslog: 'syslog', otlp: 'otlp' } as const;

/**
 * The configuration templates/_config.tpl renders, built the same way step by step (keep the two in step: where
 * helm is installed, the last tests compare them). Maps are copied where the template copies them.
 */
function chartConfig(v: Values): Obj {
  let sourceName = 'connect';
  let source: Obj;
  if (v.mode === 'connect') {
    const { tls: givenTls, ...api } = structuredClone(v.connect.api);
    const tls: Obj = { ...givenTls };
    if (v.svid.source !== 'none') {
      tls['certFile'] = `${v.svid.mountPath}/${v.svid.files.cert}`;
      tls['keyFile'] = `${v.svid.mountPath}/${v.svid.files.key}`;
      tls['caFile'] = `${v.svid.mountPath}/${v.svid.files.bundle}`;
    }
    if (Object.keys(tls).length > 0) api['tls'] = tls;
    const token = v.connect.token;
    if (token.existingSecret !== '') {
      if (token.as === 'file') api['tokenFile'] = `/run/audit-forwarder/connect/${token.key}`;
      else api['token'] = '${CONNECT_TOKEN}';
    }
    source = { ...structuredClone(v.connect.source), type: 'connect', transport: 'api', api };
  } else {
    sourceName = 'ibm-audit';
    source = { ...structuredClone(v.auditFiles), type: 'audit-files' };
  }

  const type = v.siem.type;
  const sink: Obj = { ...structuredClone((v.siem[SETTINGS[type]] as Obj | undefined) ?? {}), type };
  const secret = v.siem.secret;
  if (secret.existingSecret !== '') {
    const asFile = secret.as === 'file';
    const value = asFile ? `/run/audit-forwarder/siem/${secret.key}` : '${SIEM_SECRET}';
    const field = secret.field || (type === 'splunk-hec' ? 'token' : 'apiKey');
    const key = asFile ? `${field}File` : field;
    if (field === 'token') sink[key] = value;
    else if (field === 'header') {
      const http = (sink['http'] as Obj | undefined) ?? {};
      const headersKey = asFile ? 'headerFiles' : 'headers';
      http[headersKey] = { ...(http[headersKey] as Obj | undefined), [secret.header]: value };
      sink['http'] = http;
    } else sink['auth'] = { [key]: value, ...(field === 'password' ? { username: secret.username } : {}) };
  }

  const route: Obj = { from: sourceName, to: [type], enabledEvents: v.audit.enabledEvents, disabledEvents: v.audit.disabledEvents };
  if (Object.keys(v.siem.mappingOptions).length > 0) route['mappingOptions'] = v.siem.mappingOptions;

  return {
    sources: { [sourceName]: source },
    sinks: { [type]: sink },
    routes: { audit: { ...structuredClone(v.route), ...route } },
    checkpoints: { directory: `${STATE}/checkpoints` },
    deadLetter: { directory: `${STATE}/dead-letter` },
    shutdownTimeout: `${Math.trunc(v.shutdownTimeoutSeconds)}s`,
    server: structuredClone(v.server),
    logging: structuredClone(v.logging),
  };
}

const work = mkdtempSync(join(tmpdir(), 'af-helm-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/**
 * Validates a generated config.yaml as the forwarder would read it in the pod: its variables set as the chart
 * sets them, and its secret files present (moved from the chart's mount points to a temporary folder).
 */
function loadGenerated(name: string, text: string): ForwarderConfig {
  const secrets = join(work, name.replace(/\W/g, '_'));
  const moved = text.replaceAll(SECRET_MOUNTS, `${secrets}/`);
  const escaped = secrets.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  for (const m of moved.matchAll(new RegExp(`${escaped}/([\\w.-]+)/([\\w.-]+)`, 'g'))) {
    mkdirSync(join(secrets, m[1]!), { recursive: true });
    writeFileSync(join(secrets, m[1]!, m[2]!), `stand-in secret of ${m[2]}\n`);
  }
  return parseConfig(moved, CONFIG_PATH, {
    registry: connectors,
    mappingNames,
    mappingOptionKeys,
    env: { SIEM_SECRET: 'stand-in SIEM secret', CONNECT_TOKEN: 'stand-in Connect token' },
  });
}

const schema = JSON.parse(readFileSync(resolve(CHART, 'values.schema.json'), 'utf8')) as Obj & { definitions: Obj; properties: Obj };
// Strict, but for the if/then rules: they require keys that their `properties` do not define again.
const ajv = new Ajv.default({ allErrors: true, strict: true, strictRequired: false, allowUnionTypes: true });
const validate = ajv.compile(schema);
const problems = (values: unknown): string[] =>
  validate(values) ? [] : (validate.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message ?? ''} ${JSON.stringify(e.params)}`);

/** A property of the schema by path (through properties). */
function schemaAt(...path: string[]): Obj {
  let node: Obj = schema;
  for (const key of path) node = (node['properties'] as Record<string, Obj>)[key]!;
  return node;
}
const propertiesOf = (node: Obj): string[] => Object.keys((node['properties'] as Obj | undefined) ?? {}).sort();

/** The keys an object schema accepts, looked through transforms (withSecret), defaults and optionals. */
function schemaKeys(zodSchema: unknown): string[] {
  const s = zodSchema as { shape?: Obj; def: { type: string; in?: unknown; innerType?: unknown } };
  if (s.shape !== undefined) return Object.keys(s.shape);
  if (s.def.type === 'pipe') return schemaKeys(s.def.in);
  return s.def.innerType !== undefined ? schemaKeys(s.def.innerType) : [];
}

describe('Chart.yaml', () => {
  const chart = readYaml(resolve(CHART, 'Chart.yaml'));
  const pkg = JSON.parse(readFileSync(resolve(ROOT, 'package.json'), 'utf8')) as { version: string };

  it('is a v2 application chart whose appVersion (the default image tag) is the forwarder version', () => {
    expect(chart).toMatchObject({ apiVersion: 'v2', name: 'audit-forwarder', type: 'application', appVersion: pkg.version });
    expect(chart['version']).toMatch(/^\d+\.\d+\.\d+$/);
  });
});

describe('values.schema.json', () => {
  it.each(CASES)('accepts %s', (_name, values) => {
    expect(problems(values)).toEqual([]);
  });

  it('the examples cover every SIEM type, both modes and every way of delivering the SVID', () => {
    const seen = (pick: (v: Values) => string) => new Set(CASES.map(([, v]) => pick(v as unknown as Values)));
    expect(seen((v) => v.siem.type)).toEqual(new Set(['splunk-hec', 'elasticsearch', 'syslog', 'otlp']));
    expect(seen((v) => v.mode)).toEqual(new Set(['connect', 'sidecar']));
    expect(seen((v) => (v.mode === 'connect' ? v.svid.source : 'csi'))).toEqual(new Set(['csi', 'volume', 'none']));
    expect(seen((v) => v.siem.secret.as)).toEqual(new Set(['env', 'file']));
  });

  const base = DEFAULTS;
  const with_ = (over: Obj): Obj => coalesce(base, over);
  const MISTAKES: [string, Obj, RegExp][] = [
    ['an unknown SIEM type', with_({ siem: { type: 'splunk' } }), /\/siem\/type must be equal to one of the allowed values/],
    ['mode connect without connect.api.url', with_({ connect: { api: { url: null } } }), /\/connect\/api must have required property 'url'/],
    ['an api url that is no URL', with_({ connect: { api: { url: 'connect:8443' } } }), /\/connect\/api\/url must match pattern/],
    ['a misspelt sink key', with_({ siem: { splunkHec: { tokne: 'x' } } }), /\/siem\/splunkHec must NOT have additional properties .*tokne/],
    ['a secret written into the values', with_({ siem: { splunkHec: { token: 'hunter2' } } }), /\/siem\/splunkHec must NOT have additional properties .*token/],
    ['replicas (one process per checkpoint: not a value)', with_({ replicaCount: 2 }), /\/ must NOT have additional properties .*replicaCount/],
    ['a misspelt top-level key', with_({ persistance: { enabled: true } }), /\/ must NOT have additional properties .*persistance/],
    ['an event type Connect does not have', with_({ audit: { enabledEvents: ['trust_zone_created'] } }), /\/audit\/enabledEvents\/0 must be equal to one of the allowed values/],
    ['all in disabledEvents', with_({ audit: { disabledEvents: ['all'] } }), /\/audit\/disabledEvents\/0 must be equal to one of the allowed values/],
    ['a Connect selection in mode sidecar', with_({ mode: 'sidecar', audit: { disabledEvents: ['node_attestation'] } }), /\/audit\/disabledEvents must NOT have more than 0 items/],
    ['splunk-hec without its token', with_({ siem: { secret: { existingSecret: '' } } }), /\/siem\/secret\/existingSecret must NOT have fewer than 1 characters/],
    ['a secret mounted some other way', with_({ siem: { secret: { as: 'envvar' } } }), /\/siem\/secret\/as must be equal to one of the allowed values/],
    ['splunk-hec without url', with_({ siem: { splunkHec: { url: null } } }), /\/siem\/splunkHec must have required property 'url'/],
    ['elasticsearch with neither url nor cloudId', with_({ siem: { type: 'elasticsearch' } }), /\/siem\/elasticsearch must match exactly one schema in oneOf/],
    ['elasticsearch with url and cloudId', with_({ siem: { type: 'elasticsearch', elasticsearch: { url: 'https://es:9200', cloudId: 'c:aGVsbG8=' } } }), /\/siem\/elasticsearch must match exactly one schema in oneOf/],
    ['a mapping option the sink does not read', with_({ siem: { type: 'elasticsearch', elasticsearch: { url: 'https://es:9200' }, mappingOptions: { index: 'audit' } } }), /\/siem\/mappingOptions property name must be valid/],
    ['syslog without host', with_({ siem: { type: 'syslog', secret: { existingSecret: '' }, syslog: { transport: 'tcp' } } }), /\/siem\/syslog must have required property 'host'/],
    ['syslog with a secret', with_({ siem: { type: 'syslog', syslog: { transport: 'tcp', host: 'siem' } } }), /\/siem\/secret\/existingSecret must NOT have more than 0 characters/],
    ['a password without a user name', with_({ siem: { type: 'otlp', otlp: { url: 'https://otel:4318' }, secret: { field: 'password' } } }), /\/siem\/secret\/username must NOT have fewer than 1 characters/],
    ['a header secret without the header name', with_({ siem: { type: 'otlp', otlp: { url: 'https://otel:4318' }, secret: { field: 'header' } } }), /\/siem\/secret\/header must match pattern/],
    ['svid.source volume without the volume', with_({ svid: { source: 'volume' } }), /\/svid\/volume must NOT have fewer than 1 properties/],
    ['server.listen without a port', with_({ server: { listen: '9090' } }), /\/server\/listen must match pattern/],
    ['an image pull policy Kubernetes does not have', with_({ image: { pullPolicy: 'Sometimes' } }), /\/image\/pullPolicy must be equal to one of the allowed values/],
  ];

  it.each(MISTAKES)('refuses %s', (_what, values, message) => {
    const found = problems(values);
    expect(found.some((p) => message.test(p)), found.join('\n')).toBe(true);
  });

  it("lists Connect's event types exactly as the forwarder knows them", () => {
    expect((schema.definitions['eventType'] as { enum: string[] }).enum).toEqual([...EVENT_TYPE_NAMES]);
  });

  it('allows, per SIEM type, exactly the mappingOptions its sink and mapping read', () => {
    const rules = schema['allOf'] as { if: { properties: { siem?: { properties: { type: { const: string } } } } }; then: Obj }[];
    const defaultMapping = { 'splunk-hec': 'splunk-hec', elasticsearch: 'ecs', otlp: 'otlp-json' } as const;
    for (const [type, mapping] of Object.entries(defaultMapping)) {
      const rule = rules.find((r) => r.if.properties.siem?.properties.type.const === type)!;
      const names = (rule.then as { properties: { siem: { properties: { mappingOptions: { propertyNames: { enum: string[] } } } } } }).properties.siem.properties.mappingOptions.propertyNames.enum;
      const read = [...(mappingOptionKeys[mapping] ?? []), ...(connectors.sinks.get(type)?.options ?? [])];
      expect([...names].sort(), type).toEqual([...read].sort());
    }
  });

  it("passes through only keys the forwarder's connectors accept", () => {
    const pairs: [string[], string, 'sources' | 'sinks'][] = [
      [['siem', 'splunkHec'], 'splunk-hec', 'sinks'],
      [['siem', 'elasticsearch'], 'elasticsearch', 'sinks'],
      [['siem', 'syslog'], 'syslog', 'sinks'],
      [['siem', 'otlp'], 'otlp', 'sinks'],
      [['connect', 'source'], 'connect', 'sources'],
      [['auditFiles'], 'audit-files', 'sources'],
    ];
    for (const [path, type, kind] of pairs) {
      const accepted = schemaKeys(connectors[kind].get(type)!.schema);
      expect(propertiesOf(schemaAt(...path)).filter((k) => !accepted.includes(k)), path.join('.')).toEqual([]);
    }
    const connectShape = (connectors.sources.get('connect')!.schema as unknown as { shape: Obj }).shape;
    const pairsTop: [string[], unknown][] = [
      [['connect', 'api'], connectShape['api']],
      [['route'], routeSchema],
      [['server'], topLevelSchema.shape.server],
      [['logging'], topLevelSchema.shape.logging],
    ];
    for (const [path, zodSchema] of pairsTop) {
      const accepted = schemaKeys(zodSchema);
      expect(accepted.length, path.join('.')).toBeGreaterThan(0);
      expect(propertiesOf(schemaAt(...path)).filter((k) => !accepted.includes(k)), path.join('.')).toEqual([]);
    }
  });
});

describe('the generated configuration', () => {
  it.each(CASES)('from %s is valid for the forwarder', (name, values) => {
    const v = values as unknown as Values;
    const config = loadGenerated(name, stringify(chartConfig(v)));
    const [route] = Object.values(config.routes);
    expect(Object.keys(config.routes)).toEqual(['audit']);
    expect(route!.to).toEqual([v.siem.type]);
    expect(route!.enabledEvents).toEqual(v.audit.enabledEvents.includes('all') ? 'all' : v.audit.enabledEvents);
    expect(route!.disabledEvents).toEqual(v.audit.disabledEvents);
    expect(config.checkpoints.directory).toBe(`${STATE}/checkpoints`);
    expect(config.deadLetter.directory).toBe(`${STATE}/dead-letter`);
    expect(config.server.listen).toBe(v.server.listen);
    expect(config.shutdownTimeoutMs).toBe(v.shutdownTimeoutSeconds * 1000);
    const source = Object.values(config.sources)[0]!;
    expect(source.type).toBe(v.mode === 'connect' ? 'connect' : 'audit-files');
    if (v.mode === 'connect' && v.svid.source !== 'none') {
      expect((source['api'] as { tls: Obj }).tls).toMatchObject({
        certFile: `${v.svid.mountPath}/${v.svid.files.cert}`,
        keyFile: `${v.svid.mountPath}/${v.svid.files.key}`,
        caFile: `${v.svid.mountPath}/${v.svid.files.bundle}`,
      });
    }
  });

  it('holds no secret, only the variable set from the Secret or the file it is mounted as', () => {
    /** The values of secret keys (and of extra headers, all secrets) anywhere in the configuration. */
    const secretsIn = (node: unknown, key = ''): unknown[] => {
      if (/^(token|apiKey|password|bearer)(File)?$/.test(key)) return [node];
      if (/^header(File)?s$/.test(key) && isObj(node)) return Object.values(node);
      return isObj(node) ? Object.entries(node).flatMap(([k, v]) => secretsIn(v, k)) : [];
    };
    for (const [name, values] of CASES) {
      const v = values as unknown as Values;
      const found = secretsIn(chartConfig(v));
      const given = [v.siem.secret.existingSecret, v.mode === 'connect' ? v.connect.token.existingSecret : ''].filter((s) => s !== '');
      expect(found, name).toHaveLength(given.length);
      for (const s of found) expect(s, name).toMatch(/^(\$\{(SIEM_SECRET|CONNECT_TOKEN)\}|\/run\/audit-forwarder\/(siem|connect)\/[\w.-]+)$/);
    }
  });

  it('every .Values path the templates read is a key of values.yaml (a misspelt one would render empty)', () => {
    const dir = resolve(CHART, 'templates');
    const missing: string[] = [];
    for (const file of readdirSync(dir)) {
      const text = readFileSync(join(dir, file), 'utf8');
      for (const m of text.matchAll(/(?:\.Values|\$v)((?:\.[A-Za-z_][A-Za-z0-9_]*)+)/g)) {
        let node: unknown = DEFAULTS;
        for (const key of m[1]!.slice(1).split('.')) {
          if (!isObj(node) || !(key in node)) {
            missing.push(`${file}: ${m[0]}`);
            break;
          }
          node = node[key];
        }
      }
    }
    expect(missing).toEqual([]);
  });
});

const HELM = spawnSync('helm', ['version', '--short'], { encoding: 'utf8' }).status === 0;
if (!HELM) {
  console.warn('test/deploy/helm-chart.test.ts: helm is not installed: helm lint and helm template are skipped (the templates are not rendered here)');
}

describe('with helm', () => {
  const helm = (...args: string[]) => spawnSync('helm', args, { encoding: 'utf8', maxBuffer: 16 * 1024 * 1024 });
  const valuesArgs = (name: string) => (name === 'values.yaml' ? [] : ['-f', resolve(CHART, name)]);

  it.skipIf(!HELM).each(CASES)('helm lint passes with %s', (name) => {
    const r = helm('lint', CHART, '--strict', ...valuesArgs(name));
    expect(r.status, r.stdout + r.stderr).toBe(0);
  });

  it.skipIf(!HELM).each(CASES)('helm template of %s renders the configuration chartConfig builds, and a hardened pod', (name, values) => {
    const v = values as unknown as Values;
    const r = helm('template', 'af', CHART, '--namespace', 'audit', ...valuesArgs(name));
    expect(r.status, r.stderr).toBe(0);
    const docs = parseAllDocuments(r.stdout).map((d) => d.toJS() as Obj | null).filter(isObj);
    const kind = (k: string) => docs.filter((d) => d['kind'] === k);
    const configMap = kind('ConfigMap').find((d) => 'config.yaml' in ((d['data'] as Obj | undefined) ?? {}))!;
    const text = (configMap['data'] as { 'config.yaml': string })['config.yaml'];
    expect(parse(text)).toEqual(chartConfig(v));
    loadGenerated(`helm-${name}`, text);

    const deployments = kind('Deployment');
    if (v.mode === 'sidecar') return void expect(deployments).toEqual([]);
    expect(deployments).toHaveLength(1);
    const spec = (deployments[0] as { spec: { replicas: number; strategy: { type: string }; template: { spec: Obj } } }).spec;
    expect(spec.replicas).toBe(1);
    expect(spec.strategy.type).toBe('Recreate');
    const pod = spec.template.spec as { terminationGracePeriodSeconds: number; containers: Obj[] };
    expect(pod.terminationGracePeriodSeconds).toBeGreaterThan(v.shutdownTimeoutSeconds);
    const container = pod.containers.find((c) => c['name'] === 'audit-forwarder')!;
    expect(container['args']).toEqual(['run', '-c', CONFIG_PATH]);
    expect(container['securityContext']).toMatchObject({ runAsNonRoot: true, readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } });
    expect(container['livenessProbe']).toMatchObject({ httpGet: { path: '/healthz' } });
    expect(container['readinessProbe']).toMatchObject({ httpGet: { path: '/readyz' } });
  });
});
