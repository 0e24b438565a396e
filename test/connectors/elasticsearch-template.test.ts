// Tests of the Elasticsearch / OpenSearch index template: every field of every golden output mapped, ECS types kept, the generated field list up to date.
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { describe, expect, it } from 'vitest';
import {
  DATE_NANOS_RANGE,
  DEFAULT_DATA_STREAM_PATTERNS,
  DEFAULT_PRIORITY,
  ECS_FIELDS,
  fitsDateNanos,
  ilmPolicy,
  indexTemplate,
  ismPolicy,
  mappingProperties,
  OPENSEARCH_SUBSTITUTES,
  TYPE_OVERRIDES,
  type FieldMapping,
  type IndexTemplateOptions,
  type MappingNode,
  type SearchFlavor,
} from '../../connectors/elasticsearch/template.ts';
import { ECS_VERSION } from '../../mappings/ecs/index.ts';
import {
  buildEcsFields,
  documentPaths,
  documentShape,
  ECS_OBJECT_VALUE_TYPES,
  goldenDocuments,
  loadReference,
  OUTPUT_FILE,
  renderEcsFields,
} from '../../scripts/generate-ecs-fields.ts';

const FLAVORS: readonly SearchFlavor[] = ['elasticsearch', 'opensearch'];
const reference = loadReference();
// The TypeScript walk of EcsDocument is the slow part (about half a second): once for the file.
const shape = documentShape();
const goldens = goldenDocuments();
const payloadPaths = new Set(Object.entries(ECS_FIELDS.custom).filter(([, kind]) => kind === 'payload').map(([p]) => p));

const template = (o: Partial<IndexTemplateOptions> = {}) =>
  indexTemplate({ dataStream: true, patterns: DEFAULT_DATA_STREAM_PATTERNS, flavor: 'elasticsearch', ...o });

type Properties = Readonly<Record<string, MappingNode>>;
const childrenOf = (node: MappingNode): Properties | undefined => ('type' in node ? undefined : (node as { properties: Properties }).properties);

/** The mapping a document path resolves to in `properties`: its field, or the disabled object holding it; else undefined. */
function resolvePath(properties: Properties, path: string): FieldMapping | undefined {
  let level = properties;
  const segments = path.split('.');
  for (const [i, segment] of segments.entries()) {
    const node = level[segment];
    if (node === undefined) return undefined;
    const children = childrenOf(node);
    if (children !== undefined) level = children;
    // A field ends the path, except a disabled object: whatever is inside it is its own.
    else return i === segments.length - 1 || (node as FieldMapping).enabled === false ? (node as FieldMapping) : undefined;
  }
  return undefined;
}

/** Every field mapping of a properties tree, with its path (multi-fields as `<path>.<name>`). */
function allFields(properties: Properties, prefix = ''): Array<[string, FieldMapping]> {
  return Object.entries(properties).flatMap(([k, node]): Array<[string, FieldMapping]> => {
    const path = prefix === '' ? k : `${prefix}.${k}`;
    const children = childrenOf(node);
    if (children !== undefined) return allFields(children, path);
    const field = node as FieldMapping;
    const multi = Object.entries((field.fields ?? {}) as Record<string, FieldMapping>).map(([n, f]): [string, FieldMapping] => [`${path}.${n}`, f]);
    return [[path, field], ...multi];
  });
}

/** Leaf values of a document by path (array items share their array's path), payloads left whole. */
function documentValues(doc: unknown, path = '', out: Array<[string, unknown]> = []): Array<[string, unknown]> {
  if (payloadPaths.has(path)) out.push([path, doc]);
  else if (Array.isArray(doc)) for (const item of doc) documentValues(item, path, out);
  else if (typeof doc === 'object' && doc !== null) for (const [k, v] of Object.entries(doc)) documentValues(v, path === '' ? k : `${path}.${k}`, out);
  else out.push([path, doc]);
  return out;
}

/** Whether a value of a golden document is one the field type indexes (what Elasticsearch would refuse otherwise). */
function acceptedBy(m: FieldMapping, v: unknown): boolean {
  switch (m.type) {
    case 'object':
      return m.enabled === false; // anything: never parsed
    case 'keyword':
    case 'match_only_text':
    case 'text':
      return typeof v === 'string';
    case 'long':
      return Number.isSafeInteger(v);
    case 'ip':
      return typeof v === 'string' && isIP(v) !== 0 && !v.includes('%');
    case 'date':
      return typeof v === 'string' && /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/.test(v);
    case 'date_nanos':
      return typeof v === 'string' && /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/.test(v) && fitsDateNanos(v);
    default:
      return false;
  }
}

describe('the generated ECS field list (connectors/elasticsearch/ecs-fields.json)', () => {
  it('is what scripts/generate-ecs-fields.ts builds from the vendored ECS reference and the ecs mapping today', () => {
    const built = renderEcsFields(buildEcsFields(reference, shape));
    expect(readFileSync(OUTPUT_FILE, 'utf8'), 'out of date: run `node scripts/generate-ecs-fields.ts` and review the diff').toBe(built);
    expect(ECS_FIELDS.ecs_version).toBe(ECS_VERSION);
    expect(reference.ecs_version).toBe(ECS_VERSION);
  });

  it('covers every field the document type declares and every field any golden output carries', () => {
    const listed = new Set([...Object.keys(ECS_FIELDS.ecs), ...Object.keys(ECS_FIELDS.custom)]);
    for (const p of [...shape.leaves, ...shape.payloads]) expect(listed, p).toContain(p);
    expect(goldens.length).toBeGreaterThan(100);
    for (const g of goldens) for (const p of documentPaths(g.doc, shape.payloads)) expect(listed, `${g.name}: ${p}`).toContain(p);
  });

  it('fails loudly instead of guessing: a field outside ECS and our namespaces, or under an undescribed ECS object', () => {
    const withLeaf = (leaf: string) => ({ leaves: new Set([...shape.leaves, leaf]), payloads: shape.payloads });
    expect(() => buildEcsFields(reference, withLeaf('event.not_a_field'))).toThrow(/not an ECS 9\.4\.0 field/);
    expect(() => buildEcsFields(reference, withLeaf('process.env_vars.PATH'))).toThrow(/ECS_OBJECT_VALUE_TYPES/);
    expect(Object.keys(ECS_OBJECT_VALUE_TYPES)).toEqual(['labels']);
  });
});

describe.each(FLAVORS)('the %s index template', (flavor) => {
  const body = template({ flavor });
  const properties = body.template.mappings.properties;

  it('maps every field of every golden output (also with event.original), with a type that takes its value', () => {
    let checked = 0;
    for (const g of goldens) {
      for (const [path, value] of documentValues(g.doc)) {
        const m = resolvePath(properties, path);
        expect(m, `${g.name}: ${path} has no mapping`).toBeDefined();
        if (path === '@timestamp' && !fitsDateNanos(value as string)) continue; // the documented date_nanos range, below
        expect(acceptedBy(m as FieldMapping, value), `${g.name}: ${path} = ${JSON.stringify(value)} does not fit ${JSON.stringify(m)}`).toBe(true);
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(3000);
  });

  it('keeps the arbitrary event payload out of the mapping: cofide.data and ibm.cadf.request_data are disabled objects', () => {
    expect([...payloadPaths].sort()).toEqual(['cofide.data', 'ibm.cadf.request_data']);
    for (const p of payloadPaths) expect(resolvePath(properties, p)).toEqual({ type: 'object', enabled: false });
    // Inside a payload any key resolves to the disabled object: nothing there is ever mapped.
    expect(resolvePath(properties, 'cofide.data.trustZone.name')).toEqual({ type: 'object', enabled: false });
  });

  it('maps the custom namespaces cofide.* and ibm.cadf.* (keyword, ECS ignore_above), and nothing else outside ECS', () => {
    const custom = Object.keys(ECS_FIELDS.custom);
    expect(custom.some((p) => p.startsWith('cofide.'))).toBe(true);
    expect(custom.some((p) => p.startsWith('ibm.cadf.'))).toBe(true);
    for (const p of custom) {
      expect(p, 'a custom field outside cofide.* / ibm.cadf.*').toMatch(/^(cofide|ibm\.cadf)\./);
      if (!payloadPaths.has(p)) expect(resolvePath(properties, p)).toEqual({ type: 'keyword', ignore_above: 1024 });
    }
    for (const [path] of allFields(properties)) {
      const top = path.split('.')[0] as string;
      if (top === 'cofide' || top === 'ibm') continue;
      const field = path.replace(/\.text$/, '');
      expect(reference.fields[field] ?? reference.fields[field.split('.').slice(0, -1).join('.')], path).toBeDefined();
    }
  });

  it('says what it is: dynamic false, no date detection, mapping and ECS versions in _meta', () => {
    expect(body.template.mappings.dynamic).toBe(false);
    expect(body.template.mappings.date_detection).toBe(false);
    expect(body._meta).toMatchObject({ managed_by: 'audit-forwarder', mapping: 'ecs', ecs_version: ECS_VERSION, flavor });
    expect(body._meta.mapping_version).toMatch(/^\d+$/);
    expect(body.template.mappings._meta).toEqual(body._meta);
  });
});

describe('ECS types', () => {
  const es = mappingProperties('elasticsearch');
  const os = mappingProperties('opensearch');

  it('every ECS field has the type of the vendored reference, except the documented overrides', () => {
    const overridden: string[] = [];
    for (const path of Object.keys(ECS_FIELDS.ecs)) {
      const objectField = ECS_FIELDS.ecs_object_keys[path];
      const expected = objectField === undefined ? reference.fields[path]?.type : ECS_OBJECT_VALUE_TYPES[objectField];
      expect(expected, path).toBeDefined();
      const actual = resolvePath(es, path)?.type;
      if (TYPE_OVERRIDES[path] !== undefined) {
        overridden.push(path);
        expect(actual).toBe(TYPE_OVERRIDES[path].mapping.type);
      } else expect(actual, path).toBe(expected);
    }
    expect(overridden).toEqual(['@timestamp']);
  });

  it('keeps the ECS specifics: @timestamp date_nanos, IPs as ip, event.original not indexed, message and error.message text', () => {
    expect(resolvePath(es, '@timestamp')).toEqual({ type: 'date_nanos' });
    expect(resolvePath(es, 'source.ip')).toEqual({ type: 'ip' });
    expect(resolvePath(es, 'related.ip')).toEqual({ type: 'ip' });
    expect(resolvePath(es, 'event.original')).toEqual({ type: 'keyword', index: false, doc_values: false });
    expect(resolvePath(es, 'message')).toEqual({ type: 'match_only_text' });
    expect(resolvePath(es, 'error.message')).toEqual({ type: 'match_only_text' });
    expect(resolvePath(es, 'event.severity')).toEqual({ type: 'long' });
    expect(resolvePath(es, 'event.created')).toEqual({ type: 'date' });
    expect(resolvePath(es, 'user.target.name')).toEqual({ type: 'keyword', ignore_above: 1024, fields: { text: { type: 'match_only_text' } } });
    expect(resolvePath(es, 'labels.mapping_version')).toEqual({ type: 'keyword', ignore_above: 1024 });
    // Every keyword that is indexed has ignore_above: no value can exceed Lucene's term length and get a document refused.
    for (const [path, m] of [...allFields(es), ...allFields(os)]) if (m.type === 'keyword' && m.index !== false) expect(m.ignore_above, path).toBe(1024);
  });

  it('the OpenSearch flavour uses no type OpenSearch 2.x lacks, substituting the nearest one', () => {
    const OPENSEARCH_2_0_TYPES = new Set(['keyword', 'text', 'date', 'date_nanos', 'long', 'integer', 'short', 'byte', 'double', 'float', 'half_float', 'scaled_float', 'boolean', 'ip', 'object', 'nested', 'geo_point']);
    for (const [path, m] of allFields(os)) expect(OPENSEARCH_2_0_TYPES, `${path}: ${m.type}`).toContain(m.type);
    expect(resolvePath(os, 'message')).toEqual({ type: 'text', norms: false });
    expect(resolvePath(os, 'user.target.name')).toEqual({ type: 'keyword', ignore_above: 1024, fields: { text: { type: 'text', norms: false } } });
    // Everything else is the same as for Elasticsearch.
    for (const [path, m] of allFields(es)) {
      const substitute = OPENSEARCH_SUBSTITUTES[m.type];
      const o = allFields(os).find(([p]) => p === path)?.[1];
      expect(o?.type, path).toBe(substitute === undefined ? m.type : substitute.type);
    }
    const osBody = template({ flavor: 'opensearch', ilmPolicy: 'p' });
    expect(JSON.stringify(osBody)).not.toMatch(/index\.lifecycle|synthetic_source_keep|match_only_text|constant_keyword|flattened|wildcard/);
  });

  it('substitutes every ECS type OpenSearch lacks, should the mapping ever write one', () => {
    const file = {
      ...ECS_FIELDS,
      ecs: {
        'data_stream.type': { type: 'constant_keyword', value: 'logs' },
        'url.original': { type: 'wildcard', fields: { text: { type: 'match_only_text' } } },
        'process.env': { type: 'flattened', depth_limit: 30, ignore_above: 1024 },
      },
      ecs_object_keys: {},
      custom: {},
    };
    expect(mappingProperties('opensearch', file)).toEqual({
      data_stream: { properties: { type: { type: 'keyword', ignore_above: 1024 } } },
      process: { properties: { env: { type: 'flat_object' } } },
      url: { properties: { original: { type: 'keyword', ignore_above: 1024, fields: { text: { type: 'text', norms: false } } } } },
    });
    expect(JSON.stringify(mappingProperties('elasticsearch', file))).toContain('"constant_keyword"');
  });

  it('the payload mapping is the same on both: a disabled object needs no flat_object', () => {
    expect(JSON.stringify(os)).not.toContain('flat_object');
  });
});

describe('@timestamp as date_nanos', () => {
  it('holds 1970-01-01 to 2262-04-11; the one golden event outside it is the pre-epoch one (Elasticsearch would refuse it)', () => {
    expect(fitsDateNanos(DATE_NANOS_RANGE.min)).toBe(true);
    expect(fitsDateNanos('1969-12-31T23:59:59.999999Z')).toBe(false);
    expect(fitsDateNanos(DATE_NANOS_RANGE.max)).toBe(true);
    expect(fitsDateNanos('2262-04-11T23:47:16.854776Z')).toBe(false);
    const outside = goldens.filter((g) => !fitsDateNanos((g.doc as { '@timestamp': string })['@timestamp'])).map((g) => g.name);
    expect(new Set(outside.map((n) => n.replace(/ \(.*\)$/, '')))).toEqual(new Set(['connect-pre-epoch-time']));
  });
});

describe('index template options', () => {
  it('data streams: data_stream {} and a priority above the built-in logs template', () => {
    const t = template();
    expect(t.data_stream).toEqual({});
    expect(t.index_patterns).toEqual(['logs-cofide.audit-*', 'logs-ibm.cadf_audit-*']);
    expect(t.priority).toBe(DEFAULT_PRIORITY);
    expect(DEFAULT_PRIORITY).toBeGreaterThan(100);
    expect(t.template.settings).toBeUndefined();
    expect(() => template({ priority: 100 })).toThrow(/above 100/);
    expect(() => template({ priority: 1.5 })).toThrow(TypeError);
    expect(() => template({ patterns: [] })).toThrow(TypeError);
    expect(() => template({ patterns: ['a', 'a'] })).toThrow(/twice/);
    expect(() => template({ patterns: ['a b'] })).toThrow(TypeError);
  });

  it('plain indices: no data_stream, any priority, the rollover alias named for the flavour', () => {
    const es = template({ dataStream: false, patterns: ['audit-*'], priority: 50, ilmPolicy: 'audit', rolloverAlias: 'audit' });
    expect(es.data_stream).toBeUndefined();
    expect(es.template.settings).toEqual({ 'index.lifecycle.name': 'audit', 'index.lifecycle.rollover_alias': 'audit' });
    const os = template({ dataStream: false, patterns: ['audit-*'], priority: 50, ilmPolicy: 'audit', rolloverAlias: 'audit', flavor: 'opensearch' });
    expect(os.template.settings).toEqual({ 'plugins.index_state_management.rollover_alias': 'audit' });
    expect(os._meta.ism_policy).toBe('audit');
  });

  it('ILM on Elasticsearch is an index setting; a data stream needs no rollover alias', () => {
    expect(template({ ilmPolicy: 'audit-forwarder-ecs' }).template.settings).toEqual({ 'index.lifecycle.name': 'audit-forwarder-ecs' });
    expect(template({ ilmPolicy: 'x', rolloverAlias: 'ignored' }).template.settings).toEqual({ 'index.lifecycle.name': 'x' });
  });

  it('is deterministic: the same options give the same JSON, for every combination', () => {
    for (const flavor of FLAVORS) {
      for (const dataStream of [true, false]) {
        for (const ilm of [undefined, 'p']) {
          const o: IndexTemplateOptions = { flavor, dataStream, patterns: DEFAULT_DATA_STREAM_PATTERNS, ...(ilm === undefined ? {} : { ilmPolicy: ilm }) };
          expect(JSON.stringify(indexTemplate(o))).toBe(JSON.stringify(indexTemplate({ ...o, patterns: [...o.patterns] })));
        }
      }
    }
    expect(JSON.stringify(ilmPolicy())).toBe(JSON.stringify(ilmPolicy({})));
    expect(JSON.stringify(ismPolicy({ patterns: ['a-*'] }))).toBe(JSON.stringify(ismPolicy({ patterns: ['a-*'] })));
  });
});

describe('lifecycle policies', () => {
  it('ILM: rollover at 50gb per primary shard or 30 days, nothing deleted unless asked', () => {
    expect(ilmPolicy().policy.phases).toEqual({ hot: { min_age: '0ms', actions: { rollover: { max_primary_shard_size: '50gb', max_age: '30d' } } } });
    expect(ilmPolicy({ deleteAfter: '365d' }).policy.phases.delete).toEqual({ min_age: '365d', actions: { delete: {} } });
    expect(ilmPolicy({ rollover: false, deleteAfter: '90d' }).policy.phases).toEqual({ delete: { min_age: '90d', actions: { delete: {} } } });
    expect(() => ilmPolicy({ rollover: false })).toThrow(TypeError);
    expect(() => ilmPolicy({ maxAge: '30 days' })).toThrow(/age/);
    expect(() => ilmPolicy({ maxPrimaryShardSize: '50' })).toThrow(/size/);
  });

  it('ISM: the same rollover, attached by ism_template to the template patterns, no delete state unless asked', () => {
    const p = ismPolicy({ patterns: DEFAULT_DATA_STREAM_PATTERNS }).policy;
    expect(p.default_state).toBe('hot');
    expect(p.states).toEqual([{ name: 'hot', actions: [{ rollover: { min_primary_shard_size: '50gb', min_index_age: '30d' } }], transitions: [] }]);
    expect(p.ism_template).toEqual([{ index_patterns: [...DEFAULT_DATA_STREAM_PATTERNS], priority: DEFAULT_PRIORITY }]);
    const withDelete = ismPolicy({ patterns: ['audit-*'], deleteAfter: '365d' }).policy.states;
    expect(withDelete.map((s) => s.name)).toEqual(['hot', 'delete']);
    expect(withDelete[0]?.transitions).toEqual([{ state_name: 'delete', conditions: { min_rollover_age: '365d' } }]);
    expect(ismPolicy({ patterns: ['audit-*'], rollover: false, deleteAfter: '90d' }).policy.states[0]).toEqual({
      name: 'hot',
      actions: [],
      transitions: [{ state_name: 'delete', conditions: { min_index_age: '90d' } }],
    });
    expect(() => ismPolicy({ patterns: [] })).toThrow(TypeError);
  });
});
