// Generates connectors/elasticsearch/ecs-fields.json: the ECS mapping (type and options) of exactly the fields the `ecs` mapping can write.
/*
 * Run `node scripts/generate-ecs-fields.ts` after changing the ECS mapping's document or the vendored ECS
 * reference, and read the diff; `--check` only compares (exit 1 when the file is out of date).
 * test/connectors/elasticsearch-template.test.ts fails while the committed file differs from what this builds.
 *
 * Which fields the mapping can write — derived from the mapping, never typed by hand, two ways:
 * 1. The document type `EcsDocument` (mappings/ecs/document.ts), walked with the TypeScript checker: every leaf
 *    path (array items share their array's path), and the members typed `JsonValue` as opaque payloads. This is
 *    the complete list, including fields no golden input happens to produce (today `user.name` and
 *    `user.target.domain`) — a field missing from the template would be left unindexed.
 * 2. The mapping run over every golden input (test/golden/mappings/inputs: every Connect event type, every CADF
 *    shape), also with `ecsEventOriginal: "true"` (the one option that adds a field), collecting every leaf path
 *    outside the payloads. The type cannot see a property the code adds beyond it, so every path found here must
 *    also be in the type: the script fails otherwise.
 * The type alone is not enough (TypeScript's structural typing lets extra members through), the goldens alone
 * are not (they miss fields only some inputs produce); together they fail loudly when they disagree.
 *
 * The mapping of each ECS field comes from the vendored reference (test/fixtures/ecs/ecs-9.4.0-fields.json: elastic/
 * ecs generated/ecs/ecs_flat.yml reduced to name, type, normalize and allowed values), completed as ECS's own
 * generator completes it (elastic/ecs scripts/schema/cleaner.py `field_or_multi_field_datatype_defaults`: keyword
 * gets `ignore_above: 1024`, text `norms: false`, `index: false` implies `doc_values: false` and no
 * `ignore_above`). The reduction dropped the per-field options; the few our fields need are in
 * `ECS_OPTIONS_NOT_IN_REFERENCE` below, each as elastic/ecs states it — the reference wins wherever it carries
 * an option itself (re-vendoring it with `ignore_above`, `multi_fields`, `index`, `doc_values` makes the table
 * redundant, and the script refuses a table entry that contradicts the reference).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import ts from 'typescript';
import type { EcsFieldsFile, FieldMapping } from '../connectors/elasticsearch/template.ts';
import { ECS_OPTIONS, ecsMapping } from '../mappings/ecs/index.ts';
import { goldenCases } from '../test/support/golden-mappings.ts';

const ROOT = resolve(import.meta.dirname, '..');
export const REFERENCE_FILE = resolve(ROOT, 'test/fixtures/ecs/ecs-9.4.0-fields.json');
export const DOCUMENT_FILE = resolve(ROOT, 'mappings/ecs/document.ts');
export const OUTPUT_FILE = resolve(ROOT, 'connectors/elasticsearch/ecs-fields.json');

/** One field of the vendored reference (ecs_flat.yml attributes; the reduced file has only type, level, normalize). */
export interface ReferenceField {
  readonly type: string;
  readonly level?: string;
  readonly normalize?: readonly string[];
  readonly ignore_above?: number;
  readonly index?: boolean;
  readonly doc_values?: boolean;
  readonly norms?: boolean;
  readonly scaling_factor?: number;
  readonly multi_fields?: ReadonlyArray<{ readonly name: string; readonly type: string; readonly [k: string]: unknown }>;
  readonly [attribute: string]: unknown;
}

export interface EcsReference {
  readonly ecs_version: string;
  readonly fields: Readonly<Record<string, ReferenceField>>;
}

/**
 * ECS options of fields the mapping writes that the reduced reference dropped, as elastic/ecs v9.x states them
 * (schemas/event.yml `event.original`: "not indexed", `index: false`; schemas/user.yml `name` with a `text`
 * match_only_text multi-field, reused as `user.target.*`; the same in generated/elasticsearch/composable/component/
 * event.json and user.json).
 */
export const ECS_OPTIONS_NOT_IN_REFERENCE: Readonly<Record<string, Partial<ReferenceField>>> = {
  'event.original': { index: false, doc_values: false },
  'user.name': { multi_fields: [{ name: 'text', type: 'match_only_text' }] },
  'user.target.name': { multi_fields: [{ name: 'text', type: 'match_only_text' }] },
};

/**
 * ECS `object` fields whose keys hold values, and the type of those values (ecs_flat.yml `object_type`, which the
 * reduced reference dropped: schemas/base.yml `labels`, object_type keyword). A key under any other ECS object
 * field stops the script: its value type must be looked up, not guessed.
 */
export const ECS_OBJECT_VALUE_TYPES: Readonly<Record<string, string>> = { labels: 'keyword' };

/** Mapping parameters taken from the reference into the template; anything else there (level, normalize, descriptions) is not a mapping parameter. */
const PARAMETERS = ['ignore_above', 'index', 'doc_values', 'norms', 'scaling_factor', 'null_value'] as const;
/*
 * Left out on purpose, should a re-vendored reference carry it: `synthetic_source_keep` (ECS 9.x sets it on a few
 * keyword arrays) is refused as an unknown parameter by Elasticsearch before 8.15 and by OpenSearch.
 */

export function loadReference(file = REFERENCE_FILE): EcsReference {
  return JSON.parse(readFileSync(file, 'utf8')) as EcsReference;
}

/** What the document type says the mapping can write: leaf paths, and the paths of opaque payloads. */
export interface DocumentShape {
  readonly leaves: ReadonlySet<string>;
  readonly payloads: ReadonlySet<string>;
}

/** Walks `EcsDocument` with the TypeScript checker (see the file comment). Throws when the type cannot be read. */
export function documentShape(file = DOCUMENT_FILE): DocumentShape {
  const program = ts.createProgram([file], {
    target: ts.ScriptTarget.ES2023,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    allowImportingTsExtensions: true,
    strict: true,
    noEmit: true,
    skipLibCheck: true,
    types: [],
    lib: ['lib.es2023.d.ts'],
  });
  const problems = ts.getPreEmitDiagnostics(program).map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'));
  if (problems.length > 0) throw new Error(`${file} does not type-check on its own:\n${problems.join('\n')}`);
  const checker = program.getTypeChecker();
  const source = program.getSourceFile(file);
  const moduleSymbol = source === undefined ? undefined : checker.getSymbolAtLocation(source);
  const doc = moduleSymbol === undefined ? undefined : checker.getExportsOfModule(moduleSymbol).find((s) => s.name === 'EcsDocument');
  if (doc === undefined) throw new Error(`${file} exports no EcsDocument`);

  const leaves = new Set<string>();
  const payloads = new Set<string>();
  const walk = (type: ts.Type, path: string): void => {
    for (const property of checker.getPropertiesOfType(type)) {
      const name = path === '' ? property.name : `${path}.${property.name}`;
      const declaration = property.valueDeclaration;
      const typeNode = declaration !== undefined && ts.isPropertySignature(declaration) ? declaration.type : undefined;
      if (typeNode !== undefined && checker.getTypeFromTypeNode(typeNode).aliasSymbol?.name === 'JsonValue') {
        payloads.add(name);
        continue;
      }
      let t = checker.getNonNullableType(checker.getTypeOfSymbol(property));
      if (checker.isArrayType(t)) t = checker.getTypeArguments(t as ts.TypeReference)[0] as ts.Type;
      if (t.flags & (ts.TypeFlags.Any | ts.TypeFlags.Unknown)) throw new Error(`EcsDocument.${name} has no usable type`);
      if (t.flags & (ts.TypeFlags.Object | ts.TypeFlags.Intersection)) walk(t, name);
      else leaves.add(name);
    }
  };
  walk(checker.getDeclaredTypeOfSymbol(doc), '');
  return { leaves, payloads };
}

const isPlainObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Leaf paths of one document (array items share their array's path), not descending into `payloads`. */
export function documentPaths(doc: unknown, payloads: ReadonlySet<string>): Set<string> {
  const out = new Set<string>();
  const stack: Array<[unknown, string]> = [[doc, '']];
  while (stack.length > 0) {
    const [v, path] = stack.pop() as [unknown, string];
    if (payloads.has(path)) out.add(path);
    else if (Array.isArray(v)) for (const item of v) stack.push([item, path]);
    else if (isPlainObject(v)) for (const [k, child] of Object.entries(v)) stack.push([child, path === '' ? k : `${path}.${k}`]);
    else if (v !== undefined && v !== null) out.add(path);
  }
  return out;
}

/** Every mapped golden output, as given and with the option that adds `event.original`. */
export function goldenDocuments(): Array<{ readonly name: string; readonly doc: unknown }> {
  const out: Array<{ name: string; doc: unknown }> = [];
  for (const c of goldenCases()) {
    for (const [suffix, options] of [
      ['', c.options],
      [` (${ECS_OPTIONS.eventOriginal})`, { ...c.options, [ECS_OPTIONS.eventOriginal]: 'true' }],
    ] as const) {
      const r = ecsMapping.map(c.event, options);
      if (r.kind === 'mapped') out.push({ name: `${c.name}${suffix}`, doc: r.value });
    }
  }
  return out;
}

/** The ECS mapping of one field of the reference: its type, options and ECS's datatype defaults. */
export function ecsFieldMapping(name: string, field: ReferenceField): FieldMapping {
  const extra = ECS_OPTIONS_NOT_IN_REFERENCE[name] ?? {};
  for (const [k, v] of Object.entries(extra)) {
    if (field[k] !== undefined && JSON.stringify(field[k]) !== JSON.stringify(v)) {
      throw new Error(`ECS_OPTIONS_NOT_IN_REFERENCE.${name}.${k} is ${JSON.stringify(v)} but the reference says ${JSON.stringify(field[k])}: drop the entry`);
    }
  }
  const merged: ReferenceField = { ...extra, ...field };
  return withDefaults(merged.type, merged, merged.multi_fields);
}

function withDefaults(type: string, attributes: Readonly<Record<string, unknown>>, multiFields?: ReferenceField['multi_fields']): FieldMapping {
  const m: Record<string, unknown> = { type };
  for (const p of PARAMETERS) if (attributes[p] !== undefined) m[p] = attributes[p];
  // elastic/ecs scripts/schema/cleaner.py field_or_multi_field_datatype_defaults.
  if (type === 'keyword' && m.ignore_above === undefined) m.ignore_above = 1024;
  if (type === 'text' && m.norms === undefined) m.norms = false;
  if (type === 'wildcard') delete m.index;
  if (m.index === false) {
    if (m.doc_values === undefined) m.doc_values = false;
    delete m.ignore_above;
  }
  if (multiFields !== undefined && multiFields.length > 0) {
    m.fields = Object.fromEntries([...multiFields].sort((a, b) => (a.name < b.name ? -1 : 1)).map((mf) => [mf.name, withDefaults(mf.type, mf)]));
  }
  return sortKeys(m) as FieldMapping;
}

function sortKeys(o: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.keys(o).sort().map((k) => [k, o[k]]));
}

const COMMENT =
  'GENERATED by `node scripts/generate-ecs-fields.ts` from test/fixtures/ecs/ecs-9.4.0-fields.json and the fields the ecs ' +
  'mapping can write (mappings/ecs/document.ts, checked against every golden output). Do not edit: change the mapping or ' +
  'the reference and run the script. Read by connectors/elasticsearch/template.ts.';

/** Builds the contents of ecs-fields.json. Throws, saying why, when the mapping writes a field it cannot place. */
export function buildEcsFields(reference: EcsReference = loadReference(), shape: DocumentShape = documentShape()): EcsFieldsFile {
  for (const name of Object.keys(ECS_OPTIONS_NOT_IN_REFERENCE)) {
    if (reference.fields[name] === undefined) throw new Error(`ECS_OPTIONS_NOT_IN_REFERENCE names ${name}, which is not in the ECS reference`);
  }
  const paths = new Set(shape.leaves);
  for (const p of shape.payloads) paths.add(p);
  for (const g of goldenDocuments()) {
    for (const p of documentPaths(g.doc, shape.payloads)) {
      if (!paths.has(p)) throw new Error(`golden ${g.name}: the mapping writes ${p}, which EcsDocument (mappings/ecs/document.ts) does not declare`);
    }
  }
  const fieldSets = new Set(Object.keys(reference.fields).map((n) => n.split('.')[0] as string));
  const ecs: Record<string, FieldMapping> = {};
  const objectKeys: Record<string, string> = {};
  const custom: Record<string, 'value' | 'payload'> = {};
  for (const path of [...paths].sort()) {
    const field = reference.fields[path];
    if (field !== undefined) {
      if (shape.payloads.has(path)) throw new Error(`${path} is an opaque payload in EcsDocument but an ECS field (${field.type})`);
      ecs[path] = ecsFieldMapping(path, field);
      continue;
    }
    const segments = path.split('.');
    let parentPath: string | undefined;
    for (let i = segments.length - 1; i > 0 && parentPath === undefined; i--) {
      const prefix = segments.slice(0, i).join('.');
      if (reference.fields[prefix] !== undefined) parentPath = prefix;
    }
    if (parentPath !== undefined) {
      const valueType = ECS_OBJECT_VALUE_TYPES[parentPath];
      if (reference.fields[parentPath]?.type !== 'object' || valueType === undefined || segments.length !== parentPath.split('.').length + 1) {
        throw new Error(`${path} is inside the ECS field ${parentPath} (${reference.fields[parentPath]?.type}), which ECS_OBJECT_VALUE_TYPES does not describe`);
      }
      ecs[path] = withDefaults(valueType, {});
      objectKeys[path] = parentPath;
      continue;
    }
    if (fieldSets.has(segments[0] as string)) throw new Error(`${path} is not an ECS ${reference.ecs_version} field, yet ${segments[0]} is an ECS field set`);
    custom[path] = shape.payloads.has(path) ? 'payload' : 'value';
  }
  return { _comment: COMMENT, ecs_version: reference.ecs_version, ecs, ecs_object_keys: objectKeys, custom };
}

/** The file's text: two-space JSON and a final newline, keys in the order built (sorted). */
export function renderEcsFields(file: EcsFieldsFile): string {
  return `${JSON.stringify(file, null, 2)}\n`;
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === import.meta.filename) {
  const shape = documentShape();
  const text = renderEcsFields(buildEcsFields(loadReference(), shape));
  const goldenPaths = new Set(goldenDocuments().flatMap((g) => [...documentPaths(g.doc, shape.payloads)]));
  const unseen = [...shape.leaves].filter((p) => !goldenPaths.has(p)).sort();
  if (unseen.length > 0) console.log(`declared by EcsDocument but in no golden output (mapped all the same): ${unseen.join(', ')}`);
  let current = '';
  try {
    current = readFileSync(OUTPUT_FILE, 'utf8');
  } catch {
    // No file yet.
  }
  if (process.argv.includes('--check')) {
    if (current !== text) {
      console.error(`${OUTPUT_FILE} is out of date: run node scripts/generate-ecs-fields.ts`);
      process.exitCode = 1;
    } else console.log(`${OUTPUT_FILE} is up to date`);
  } else if (current === text) console.log(`${OUTPUT_FILE} unchanged`);
  else {
    writeFileSync(OUTPUT_FILE, text);
    console.log(`wrote ${OUTPUT_FILE}`);
  }
}
