// A fake Elasticsearch (or OpenSearch) for tests: the `_bulk` contract and its setup endpoints as msw handlers, served on a real loopback socket.
//
// Written from /work/shared/spec/siem-formats.md §2 and §5 (pitfalls 8–12), and from Elasticsearch/OpenSearch documentation, issue
// threads and REST test suites where the spec is silent (the report that came with this file lists them). Never from a client.
// Where the real answer could not be confirmed the fake says UNCONFIRMED and picks what is harder on a client.
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { gunzipSync, inflateRawSync, inflateSync } from 'node:zlib';
import { getResponse, http, HttpResponse, type HttpHandler } from 'msw';
import { fakeFailed, fetchHeadersOf, httpOrHttpsServer, listenOn, readBody, trackConnections, writeFetchResponse } from './listen.ts';

// ---- public types ----

export type FakeEsFlavour = 'elasticsearch' | 'opensearch';

/** Index privileges granted on some names. Privilege names are Elasticsearch's, for both flavours (OpenSearch's action groups differ). */
export interface FakeEsIndexGrant {
  /** Index, data stream or pattern names; `*` matches any run of characters. */
  readonly names: readonly string[];
  /** `all`, `write`, `index`, `create`, `create_doc`, `delete`, `auto_configure`, `create_index`, `manage`, `read`, `view_index_metadata`, `monitor`. */
  readonly privileges: readonly string[];
}

/** One identity and the credentials that authenticate as it. */
export interface FakeEsUser {
  readonly username: string;
  /** `Authorization: Basic base64(username:password)`. */
  readonly password?: string;
  /** `Authorization: ApiKey base64(id:key)`; Elasticsearch only (OpenSearch has no API keys and answers 401). */
  readonly apiKey?: { readonly id: string; readonly key: string };
  /** `Authorization: Bearer <token>`. */
  readonly bearerToken?: string;
  /** Reported in 403 texts and `_authenticate`; default `[]`. */
  readonly roles?: readonly string[];
  /** Cluster privileges: `all`, `manage`, `monitor`, `manage_index_templates`, `manage_ilm`, `manage_ingest_pipelines`, `manage_pipeline`. */
  readonly cluster?: readonly string[];
  readonly indices?: readonly FakeEsIndexGrant[];
}

export interface FakeElasticsearchOptions {
  /** Default `elasticsearch`. */
  flavour?: FakeEsFlavour;
  /** Default `8.17.0` (Elasticsearch) or `2.19.0` (OpenSearch). Elasticsearch 7–9, OpenSearch 1–3; some answers depend on it. */
  version?: string;
  /** `version.build_flavor` of Elasticsearch (OpenSearch has none). Default `default`. */
  buildFlavor?: string;
  /** Default `fake-es`. */
  clusterName?: string;
  /** Default `fake-es-node-1`. */
  nodeName?: string;
  /** Default: one superuser `elastic` / `changeme`, also `ApiKey` id `superkey` key `superkey-secret` on Elasticsearch. */
  users?: readonly FakeEsUser[];
  /** Default true. False: no authentication at all (OpenSearch without its security plugin, Elasticsearch with security off). */
  security?: boolean;
  /** `action.auto_create_index`; default true. False: a write to a missing name that no data-stream template matches is item 404. */
  autoCreateIndex?: boolean;
  /**
   * Elasticsearch's built-in `logs` index template (`logs-*-*`, priority 100, data stream), as a fresh 8.x/9.x cluster has it.
   * Default true for Elasticsearch; OpenSearch has none.
   */
  builtInTemplates?: boolean;
  /** Composable index templates present at start, by name (the `PUT /_index_template/{name}` body). */
  indexTemplates?: Record<string, Record<string, unknown>>;
  /** Ingest pipelines present at start (`PUT /_ingest/pipeline/{id}` adds more). Processors are never run. */
  pipelines?: readonly string[];
  /** Serve https (URL `https://localhost:PORT`); `caFile` + `requestCert`: a client certificate chaining to `caFile` is required. */
  tls?: { certFile: string; keyFile: string; caFile?: string; requestCert?: boolean };
  /** Default 0: a free port. `stop()`/`start()`/`restart()` keep the port. */
  port?: number;
  /** `http.max_content_length`: over → 413 with an empty body. Default 100 MiB (§2.1). */
  maxContentLength?: number;
  /**
   * What `maxContentLength` is compared with. Default `wire`: the bytes received, compressed or not (as the brief of this fake
   * asks). Elasticsearch's settings page says the limit applies to the size "before compression", i.e. `decoded`; pick that to
   * test a client against the stricter reading.
   */
  maxContentLengthMeasure?: 'wire' | 'decoded';
}

/** A document as held, after a successful `create`, `index` or `update`. */
export interface HeldDocument {
  /** The concrete index: for a data stream, its backing index. */
  readonly index: string;
  /** The data stream the document was written through, if any. */
  readonly dataStream: string | undefined;
  readonly id: string;
  /** The parsed `_source`. */
  readonly source: Record<string, unknown>;
  /** The source line as received (for `update`, the merged source re-serialised). */
  readonly text: string;
  readonly op: 'create' | 'index' | 'update';
  /** The ingest pipeline the write named (never run). */
  readonly pipeline: string | undefined;
  readonly version: number;
  readonly seqNo: number;
}

export interface FakeEsDataStream {
  readonly name: string;
  readonly template: string;
  readonly timestampField: string;
  /** Oldest first; the last is the write index. */
  readonly backingIndices: readonly string[];
}

export interface FakeEsRequest {
  method: string;
  /** URL path, without the query. */
  path: string;
  query: Record<string, string>;
  status: number;
  contentEncoding: string | undefined;
  /** Body bytes as received (compressed when gzip/deflate). */
  bytes: number;
  /** Body bytes after decoding (equal to `bytes` without compression; 0 when never decoded). */
  decodedBytes: number;
  /** Bulk items answered (0 for anything else or a refused request). */
  items: number;
  /** Bulk items answered with an error. */
  failedItems: number;
  /** The authenticated user; undefined when unauthenticated or security is off. */
  user: string | undefined;
  /** `apiKey`, `basic`, `bearer`; undefined without a recognised `Authorization` header. */
  authScheme: 'apiKey' | 'basic' | 'bearer' | undefined;
  /** The request-level `pipeline` query parameter. */
  pipeline: string | undefined;
}

/** What a bulk item looks like to a `rejectItems` or `refuseDocument` predicate. */
export interface FakeEsBulkItem {
  readonly op: 'create' | 'index' | 'update' | 'delete';
  /** The name written to (`_index` of the action or the path target): an index or data stream name. */
  readonly target: string;
  readonly id: string | undefined;
  readonly source: Record<string, unknown> | undefined;
  /** 1-based line of the action in the NDJSON body. */
  readonly line: number;
}

export interface FailNextOptions {
  /** Adds `Retry-After: <seconds>`. */
  retryAfterSec?: number;
  headers?: Record<string, string>;
  /** `bulk` (default): authenticated `_bulk` requests only; `any`: any authenticated request. */
  scope?: 'bulk' | 'any';
}

/** A fake for the tests of a forwarder Elasticsearch/OpenSearch sink; control methods act on the next requests, never on answered ones. */
export interface FakeElasticsearch {
  /** `http://127.0.0.1:PORT`, or `https://localhost:PORT` with TLS so the fixture certificate's name matches. */
  readonly url: string;
  readonly port: number;
  readonly flavour: FakeEsFlavour;
  readonly version: string;
  /** The vendor behaviour, usable on its own with msw's `getResponse` or `setupServer`. */
  readonly handlers: readonly HttpHandler[];
  /** Held documents in write order per index, indices in creation order; `target`: one index, or a data stream (all its backing indices). */
  documents(target?: string): readonly HeldDocument[];
  /** Ids of `documents(target)`. */
  documentIds(target?: string): readonly string[];
  /**
   * Removes the documents whose `_id` is one of `ids`, from every index and backing index (data lost in the cluster, or deleted
   * by an admin); returns how many were removed.
   */
  deleteDocuments(ids: readonly string[]): number;
  /** One document by id; for a data stream, searched in every backing index, newest first. */
  document(target: string, id: string): HeldDocument | undefined;
  /** Concrete index names in creation order, backing indices included. */
  indices(): readonly string[];
  dataStreams(): readonly FakeEsDataStream[];
  /** Every request answered, oldest first (the last 10 000). */
  requests(): readonly FakeEsRequest[];
  /**
   * The next `which` bulk items that reach a shard (past target, privilege, pipeline and source checks) are answered `status`
   * with an error of `type` (default by status: 429 `es_rejected_execution_exception`, 400 document/mapper parsing, 503
   * `unavailable_shards_exception`, else `exception`). A predicate instead applies to every following item until
   * `clearScripts()`. Calls queue in order: counts before later counts, predicates after all counts.
   */
  rejectItems(which: number | ((item: FakeEsBulkItem) => boolean), status: number, type?: string, reason?: string): void;
  /**
   * The next `n` authenticated requests (`_bulk` only unless `scope: 'any'`) are answered `status` with `body`: an object is
   * sent as JSON, a string as `text/html` when it starts with `<` (a proxy's page), else `text/plain`. Default body: the
   * Elasticsearch error for the status (429 `es_rejected_execution_exception`, 503 `cluster_block_exception`, 502 an nginx page).
   */
  failNext(n: number, status: number, body?: Record<string, unknown> | string, options?: FailNextOptions): void;
  /**
   * From now on, documents matching `predicate` are refused like a mapping conflict: item 400 document (or mapper) parsing
   * exception; with `field`, worded as Elasticsearch words a field of the wrong type.
   */
  refuseDocument(predicate: (item: FakeEsBulkItem) => boolean, options?: { field?: string; type?: string; reason?: string }): void;
  /** Forgets every `rejectItems`, `failNext` and `refuseDocument` not yet used. */
  clearScripts(): void;
  /** Rolls the data stream over: a new write index (generation + 1). `_id` deduplication then starts afresh (pitfall 10). */
  rollover(dataStream: string): string;
  /** Closes the listening socket and destroys open connections (clients see ECONNREFUSED / ECONNRESET); state is kept. */
  stop(): Promise<void>;
  /** Listens again on the same port. */
  start(): Promise<void>;
  /** Down for `downMs` (default 0: connections are cut and it listens again at once); held data survives, as on a real node. */
  restart(downMs?: number): Promise<void>;
  /** Stops for good. */
  close(): Promise<void>;
}

// ---- constants ----

const MiB = 1024 * 1024;
const REQUEST_LOG_SIZE = 10_000;
const DEFAULT_ES_VERSION = '8.17.0';
const DEFAULT_OS_VERSION = '2.19.0';
const BULK_ACTIONS = ['create', 'delete', 'index', 'update'] as const;
type BulkOp = (typeof BULK_ACTIONS)[number];

// Elasticsearch's 401 challenge (three WWW-Authenticate values), as quoted in go-elasticsearch#279.
const ES_CHALLENGES = ['Basic realm="security" charset="UTF-8"', 'Bearer realm="security"', 'ApiKey'];
const OS_CHALLENGE = 'Basic realm="OpenSearch Security"';

// Action names as they appear in 403 texts.
const ACTION = {
  main: 'cluster:monitor/main',
  bulk: 'indices:data/write/bulk',
  bulkShard: 'indices:data/write/bulk[s]',
  autoCreate: 'indices:admin/auto_create',
  templatePut: 'indices:admin/index_template/put',
  templateGet: 'indices:admin/index_template/get',
  ilmPut: 'cluster:admin/ilm/put',
  ilmGet: 'cluster:admin/ilm/get',
  ismWrite: 'cluster:admin/opendistro/ism/policy/write',
  ismGet: 'cluster:admin/opendistro/ism/policy/get',
  pipelinePut: 'cluster:admin/ingest/pipeline/put',
  pipelineGet: 'cluster:admin/ingest/pipeline/get',
  dataStreamGet: 'indices:admin/data_stream/get',
  dataStreamCreate: 'indices:admin/data_stream/create',
  search: 'indices:data/read/search',
} as const;

// Which granted privileges let an action through (any one of them).
const NEEDS = {
  create: ['create_doc', 'create', 'index', 'write', 'all'],
  // `create` lets an op_type index through too (it grants indices:data/write/index*); `create_doc` does not (elastic/elasticsearch#45806).
  index: ['create', 'index', 'write', 'all'],
  update: ['index', 'write', 'all'],
  delete: ['delete', 'write', 'all'],
  anyWrite: ['create_doc', 'create', 'delete', 'index', 'write', 'all'],
  autoCreate: ['auto_configure', 'create_index', 'manage', 'all'],
  read: ['read', 'all'],
  viewMetadata: ['view_index_metadata', 'manage', 'all'],
  createIndex: ['create_index', 'manage', 'all'],
  monitor: ['monitor', 'manage', 'all'],
  templates: ['manage_index_templates', 'manage', 'all'],
  ilm: ['manage_ilm', 'manage', 'all'],
  pipelines: ['manage_ingest_pipelines', 'manage_pipeline', 'manage', 'all'],
} as const satisfies Record<string, readonly string[]>;

// What a granted privilege implies when `_has_privileges` asks about another one (an approximation of Elasticsearch's automata).
const INDEX_IMPLIES: Record<string, readonly string[]> = {
  write: ['write', 'index', 'create', 'create_doc', 'delete'],
  index: ['index', 'create', 'create_doc'],
  create: ['create', 'create_doc'],
  manage: ['manage', 'create_index', 'auto_configure', 'view_index_metadata', 'monitor'],
};
const CLUSTER_IMPLIES: Record<string, readonly string[]> = {
  manage: ['manage', 'monitor', 'manage_index_templates', 'manage_ilm', 'manage_ingest_pipelines', 'manage_pipeline'],
};

// Query parameters each endpoint knows; anything else is refused like Elasticsearch refuses it.
const COMMON_PARAMS = ['pretty', 'human', 'error_trace', 'filter_path', 'format', 'source'];
const BULK_PARAMS = ['pipeline', 'refresh', 'routing', 'timeout', 'wait_for_active_shards', 'require_alias', '_source', '_source_includes', '_source_excludes', 'list_executed_pipelines'];
const ACTION_META = ['_index', '_id', 'routing', 'pipeline', 'require_alias', 'require_data_stream', 'op_type', 'version', 'version_type', 'if_seq_no', 'if_primary_term', 'dynamic_templates', 'list_executed_pipelines', 'retry_on_conflict', '_source'];

// ---- helpers ----

type Json = Record<string, unknown>;

const isPlainObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

const globCache = new Map<string, RegExp>();
function globMatch(pattern: string, name: string): boolean {
  let re = globCache.get(pattern);
  if (re === undefined) {
    re = new RegExp(`^${pattern.split('*').map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`);
    globCache.set(pattern, re);
  }
  return re.test(name);
}

/**
 * A date as a date field parses it, in nanoseconds since the epoch: ISO-8601 `yyyy-MM-ddTHH:mm:ss[.f{1,9}](Z|±HH:mm)` or epoch
 * milliseconds (a number or a string of digits). Undefined for anything else.
 */
function dateNanos(value: unknown): bigint | undefined {
  if (typeof value === 'number') return Number.isSafeInteger(value) ? BigInt(value) * 1_000_000n : undefined;
  if (typeof value !== 'string') return undefined;
  if (/^-?\d+$/.test(value)) return BigInt(value) * 1_000_000n;
  const m = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:[.,](\d{1,9}))?(Z|[+-]\d{2}:\d{2})$/.exec(value);
  if (m === null) return undefined;
  const ms = Date.parse(`${m[1]}${m[3]}`);
  if (Number.isNaN(ms)) return undefined;
  return BigInt(ms) * 1_000_000n + BigInt((m[2] ?? '').padEnd(9, '0'));
}

function parseVersion(v: string): [number, number, number] {
  const m = /^(\d+)\.(\d+)\.(\d+)/.exec(v);
  if (m === null) throw new Error(`fake Elasticsearch: version ${JSON.stringify(v)} is not x.y.z`);
  return [Number(m[1]), Number(m[2]), Number(m[3])];
}

const atLeast = (v: readonly number[], major: number, minor: number): boolean => v[0]! > major || (v[0] === major && v[1]! >= minor);

/** A base64url id of 20 characters, like the time-based ids Elasticsearch generates. */
const generatedId = (): string => randomBytes(15).toString('base64url');

/** An index UUID as Elasticsearch prints them (22 base64url characters). */
const indexUuid = (): string => randomBytes(16).toString('base64url').slice(0, 22);

function tokenName(v: unknown): string {
  if (Array.isArray(v)) return 'START_ARRAY';
  if (v === null) return 'VALUE_NULL';
  switch (typeof v) {
    case 'string':
      return 'VALUE_STRING';
    case 'number':
      return 'VALUE_NUMBER';
    case 'boolean':
      return 'VALUE_BOOLEAN';
    default:
      return 'START_OBJECT';
  }
}

/** Index names Elasticsearch refuses (the rules of `MetadataCreateIndexService.validateIndexOrAliasName`, from its docs). */
function invalidIndexName(name: string): string | undefined {
  if (name !== name.toLowerCase()) return 'must be lowercase';
  if (name === '') return 'must not be empty';
  if (name === '.' || name === '..') return 'must not be \'.\' or \'..\'';
  if (/^[_\-+]/.test(name)) return 'must not start with \'_\', \'-\', or \'+\'';
  if (/[\\/*?"<>| ,#:]/.test(name)) return 'must not contain the following characters [ , ", *, \\, <, |, ,, >, /, ?]';
  if (Buffer.byteLength(name) > 255) return 'index name is too long';
  return undefined;
}

// ---- answers ----

interface Answer {
  readonly status: number;
  /** An object is sent as JSON, a string as text; undefined: an empty body. */
  readonly body: unknown;
  readonly headers?: Record<string, string | readonly string[]>;
  readonly contentType?: string;
}

/** Elasticsearch's error envelope: the cause repeated as the single root cause. */
function esError(status: number, type: string, reason: string, extra: Json = {}, causedBy?: Json): Answer {
  const cause = { type, reason, ...extra };
  return { status, body: { error: { root_cause: [cause], ...cause, ...(causedBy === undefined ? {} : { caused_by: causedBy }) }, status } };
}

/** The flat error form of the REST layer (no handler, wrong method, content type). */
const restError = (status: number, error: string, headers?: Record<string, string>): Answer => ({ status, body: { error, status }, ...(headers === undefined ? {} : { headers }) });

/** One bulk item's failure, with the fields Elasticsearch adds when an index is known. */
interface ItemError {
  readonly status: number;
  readonly error: Json;
}

const itemError = (status: number, type: string, reason: string, extra: Json = {}, causedBy?: Json): ItemError => ({
  status,
  error: { type, reason, ...extra, ...(causedBy === undefined ? {} : { caused_by: causedBy }) },
});

const indexNotFoundExtra = (name: string): Json => ({ 'resource.type': 'index_or_alias', 'resource.id': name, index_uuid: '_na_', index: name });

const PROXY_502 =
  '<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n';

// ---- state ----

interface IndexState {
  readonly name: string;
  readonly uuid: string;
  readonly dataStream: string | undefined;
  readonly docs: Map<string, HeldDocument>;
  seqNo: number;
}

interface DataStreamState {
  readonly name: string;
  readonly template: string;
  readonly timestampField: string;
  readonly backing: IndexState[];
  generation: number;
}

interface TemplateState {
  readonly name: string;
  readonly body: Json;
  readonly patterns: readonly string[];
  readonly priority: number;
  readonly dataStream: Json | undefined;
}

interface Identity {
  readonly user: FakeEsUser;
  readonly scheme: 'apiKey' | 'basic' | 'bearer' | undefined;
}

/** Per-request facts gathered for the log. */
interface Ctx {
  readonly request: Request;
  readonly url: URL;
  readonly body: Buffer;
  readonly method: string;
  readonly pathForErrors: string;
  identity: Identity | undefined;
  decodedBytes: number;
  items: number;
  failedItems: number;
}

type RouteFn = (ctx: Ctx, segments: readonly string[]) => Answer | Promise<Answer>;

interface Route {
  /** Matched against the path; captured groups are passed on, percent-decoded. */
  readonly path: RegExp;
  readonly methods: Partial<Record<string, RouteFn>>;
  /** Served only when true (flavour and security dependent routes). */
  readonly when?: () => boolean;
  /** `_bulk`: scripted `failNext` answers with the default scope apply here. */
  readonly bulk?: boolean;
}

interface ScriptedFailure {
  readonly answer: Answer;
  readonly scope: 'bulk' | 'any';
}

interface ItemScript {
  readonly status: number;
  readonly type: string | undefined;
  readonly reason: string | undefined;
}

interface PredicateScript extends ItemScript {
  readonly predicate: (item: FakeEsBulkItem) => boolean;
}

interface RefusalScript {
  readonly predicate: (item: FakeEsBulkItem) => boolean;
  readonly field: string | undefined;
  readonly type: string | undefined;
  readonly reason: string | undefined;
}

/** Starts the fake on 127.0.0.1 (`options.port`, else a free port). */
export async function startFakeElasticsearch(options: FakeElasticsearchOptions = {}): Promise<FakeElasticsearch> {
  const flavour = options.flavour ?? 'elasticsearch';
  const isEs = flavour === 'elasticsearch';
  const version = options.version ?? (isEs ? DEFAULT_ES_VERSION : DEFAULT_OS_VERSION);
  const v = parseVersion(version);
  if (isEs ? v[0] < 7 || v[0] > 9 : v[0] < 1 || v[0] > 3) throw new Error(`fake Elasticsearch: ${flavour} ${version} is not modelled`);
  const security = options.security ?? true;
  const autoCreateIndex = options.autoCreateIndex ?? true;
  const maxContentLength = options.maxContentLength ?? 100 * MiB;
  const measureDecoded = options.maxContentLengthMeasure === 'decoded';
  const clusterName = options.clusterName ?? 'fake-es';
  const nodeName = options.nodeName ?? 'fake-es-node-1';
  const clusterUuid = indexUuid();
  const users: readonly FakeEsUser[] = options.users ?? [
    {
      username: 'elastic',
      password: 'changeme',
      ...(isEs ? { apiKey: { id: 'superkey', key: 'superkey-secret' } } : {}),
      roles: ['superuser'],
      cluster: ['all'],
      indices: [{ names: ['*'], privileges: ['all'] }],
    },
  ];
  // Elasticsearch 8.8 renamed document parsing failures (elastic/elasticsearch#92646, first shipped in 8.8: elastic/kibana#154411).
  const docParsingType = isEs && atLeast(v, 8, 8) ? 'document_parsing_exception' : 'mapper_parsing_exception';
  // `require_data_stream` arrived in 8.13 (data_stream/190_require_data_stream.yml); OpenSearch never had it.
  const knowsRequireDataStream = isEs && atLeast(v, 8, 13);
  // UNCONFIRMED version: the spec lists `include_source_on_error`; taken to arrive with 8.18/9.0.
  const knowsIncludeSource = isEs && atLeast(v, 8, 18);
  const bulkParams = new Set([...COMMON_PARAMS, ...BULK_PARAMS, ...(knowsRequireDataStream ? ['require_data_stream'] : []), ...(knowsIncludeSource ? ['include_source_on_error'] : [])]);

  // ---- held state ----
  const indexes = new Map<string, IndexState>();
  const dataStreams = new Map<string, DataStreamState>();
  const templates = new Map<string, TemplateState>();
  const pipelines = new Map<string, Json>();
  const ilmPolicies = new Map<string, { version: number; modified: string; policy: Json }>();
  const ismPolicies = new Map<string, { version: number; seqNo: number; policy: Json }>();
  let ismSeqNo = 0;
  for (const id of options.pipelines ?? []) pipelines.set(id, { description: 'preconfigured', processors: [] });

  // ---- scripts ----
  let failures: ScriptedFailure[] = [];
  let itemCounts: ItemScript[] = [];
  let itemPredicates: PredicateScript[] = [];
  let refusals: RefusalScript[] = [];

  let log: FakeEsRequest[] = [];

  function putTemplate(name: string, body: Json): Answer | undefined {
    const raw = body.index_patterns;
    const patterns = typeof raw === 'string' ? [raw] : Array.isArray(raw) && raw.every((p) => typeof p === 'string') ? (raw as string[]) : [];
    if (patterns.length === 0) return esError(400, 'action_request_validation_exception', 'Validation Failed: 1: index patterns are missing;');
    const priority = typeof body.priority === 'number' ? body.priority : 0;
    // Elasticsearch refuses two templates with an overlapping pattern and the same priority; only identical patterns are detected here.
    for (const other of templates.values()) {
      if (other.name === name || other.priority !== priority) continue;
      const shared = other.patterns.filter((p) => patterns.includes(p));
      if (shared.length > 0) {
        return esError(
          400,
          'illegal_argument_exception',
          `index template [${name}] has index patterns [${patterns.join(', ')}] matching patterns from existing templates [${other.name}] with patterns (${other.name} => [${other.patterns.join(', ')}]) that have the same priority [${priority}], multiple index templates may not match during index creation, please use a different priority`,
        );
      }
    }
    let dataStream: Json | undefined;
    if (isPlainObject(body.data_stream)) {
      dataStream = isEs
        ? { hidden: false, allow_custom_routing: false, ...body.data_stream }
        : { timestamp_field: { name: '@timestamp' }, ...body.data_stream };
    }
    const normalised: Json = { ...body, index_patterns: patterns, composed_of: Array.isArray(body.composed_of) ? body.composed_of : [] };
    if (dataStream !== undefined) normalised.data_stream = dataStream;
    templates.set(name, { name, body: normalised, patterns, priority, dataStream });
    return undefined;
  }

  if (isEs && (options.builtInTemplates ?? true)) {
    // §2.4: the managed `logs` template, priority 100, data stream enabled.
    putTemplate('logs', {
      index_patterns: ['logs-*-*'],
      priority: 100,
      data_stream: {},
      composed_of: ['logs@mappings', 'logs@settings'],
      _meta: { managed: true, description: 'default logs template installed by x-pack' },
      allow_auto_create: true,
    });
  }
  for (const [name, body] of Object.entries(options.indexTemplates ?? {})) {
    const refused = putTemplate(name, body);
    if (refused !== undefined) throw new Error(`fake Elasticsearch: template ${name}: ${JSON.stringify(refused.body)}`);
  }

  function matchingTemplate(name: string): TemplateState | undefined {
    let best: TemplateState | undefined;
    for (const t of templates.values()) {
      if (!t.patterns.some((p) => globMatch(p, name))) continue;
      if (best === undefined || t.priority > best.priority) best = t;
    }
    return best;
  }

  function createIndex(name: string, dataStream?: string): IndexState {
    const state: IndexState = { name, uuid: indexUuid(), dataStream, docs: new Map(), seqNo: 0 };
    indexes.set(name, state);
    return state;
  }

  function backingName(ds: string, generation: number): string {
    const gen = String(generation).padStart(6, '0');
    if (!isEs) return `.ds-${ds}-${gen}`; // OpenSearch: `.ds-<data-stream>-<generation>` (its data streams page)
    if (!atLeast(v, 7, 11)) return `.ds-${ds}-${gen}`;
    const d = new Date();
    const date = `${d.getUTCFullYear()}.${String(d.getUTCMonth() + 1).padStart(2, '0')}.${String(d.getUTCDate()).padStart(2, '0')}`;
    return `.ds-${ds}-${date}-${gen}`;
  }

  function createDataStream(name: string, template: TemplateState): DataStreamState {
    const tsField = (template.dataStream?.timestamp_field as { name?: unknown } | undefined)?.name;
    const ds: DataStreamState = {
      name,
      template: template.name,
      timestampField: !isEs && typeof tsField === 'string' ? tsField : '@timestamp',
      backing: [],
      generation: 1,
    };
    ds.backing.push(createIndex(backingName(name, 1), name));
    dataStreams.set(name, ds);
    return ds;
  }

  // ---- authentication and authorisation ----

  function parseAuthorization(header: string): { scheme: 'apiKey' | 'basic' | 'bearer'; a: string; b: string } | undefined {
    const m = /^(ApiKey|Basic|Bearer)\s+(\S+)\s*$/i.exec(header);
    if (m === null) return undefined;
    const scheme = m[1]!.toLowerCase();
    if (scheme === 'bearer') return { scheme: 'bearer', a: m[2]!, b: '' };
    const decoded = Buffer.from(m[2]!, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 0) return { scheme: scheme === 'apikey' ? 'apiKey' : 'basic', a: decoded, b: '' };
    return { scheme: scheme === 'apikey' ? 'apiKey' : 'basic', a: decoded.slice(0, colon), b: decoded.slice(colon + 1) };
  }

  function unauthenticated(reason: string, extra: Json = {}): Answer {
    if (!isEs) {
      // OpenSearch's security plugin answers a bare "Unauthorized" (security#2346; newer releases may send no body: security#4214).
      return { status: 401, body: 'Unauthorized', contentType: 'text/plain; charset=UTF-8', headers: { 'www-authenticate': OS_CHALLENGE } };
    }
    const answer = esError(401, 'security_exception', reason, { ...extra, header: { 'WWW-Authenticate': ES_CHALLENGES } });
    return { ...answer, headers: { 'www-authenticate': ES_CHALLENGES } };
  }

  function authenticate(ctx: Ctx): Identity | Answer {
    if (!security) return { user: { username: '_anonymous' }, scheme: undefined };
    const header = ctx.request.headers.get('authorization');
    const parsed = header === null ? undefined : parseAuthorization(header);
    // An unknown scheme is no credential at all to Elasticsearch's realms.
    if (parsed === undefined) return unauthenticated(`missing authentication credentials for REST request [${ctx.pathForErrors}]`);
    const anonymousRefused = 'unable to authenticate with provided credentials and anonymous access is not allowed for this request';
    switch (parsed.scheme) {
      case 'basic': {
        const user = users.find((u) => u.password !== undefined && u.username === parsed.a);
        if (user === undefined || user.password !== parsed.b) {
          return unauthenticated(`unable to authenticate user [${parsed.a}] for REST request [${ctx.pathForErrors}]`);
        }
        return { user, scheme: 'basic' };
      }
      case 'apiKey': {
        if (!isEs) return unauthenticated('Unauthorized');
        const user = users.find((u) => u.apiKey?.id === parsed.a);
        if (user === undefined) return unauthenticated(anonymousRefused, { additional_unsuccessful_credentials: `API key: unable to find apikey with id ${parsed.a}` });
        if (user.apiKey!.key !== parsed.b) {
          return unauthenticated(anonymousRefused, { additional_unsuccessful_credentials: `API key: invalid credentials for API key [${parsed.a}]` });
        }
        return { user, scheme: 'apiKey' };
      }
      case 'bearer': {
        const user = users.find((u) => u.bearerToken !== undefined && u.bearerToken === parsed.a);
        // UNCONFIRMED wording for a bad bearer token: the generic refusal, without naming the token.
        if (user === undefined) return unauthenticated(anonymousRefused);
        return { user, scheme: 'bearer' };
      }
    }
  }

  function hasCluster(identity: Identity, needs: readonly string[]): boolean {
    if (!security) return true;
    return (identity.user.cluster ?? []).some((p) => needs.includes(p));
  }

  function hasIndex(identity: Identity, name: string, needs: readonly string[]): boolean {
    if (!security) return true;
    return (identity.user.indices ?? []).some((g) => g.privileges.some((p) => needs.includes(p)) && g.names.some((n) => globMatch(n, name)));
  }

  function hasAnyIndex(identity: Identity, needs: readonly string[]): boolean {
    if (!security) return true;
    return (identity.user.indices ?? []).some((g) => g.privileges.some((p) => needs.includes(p)));
  }

  function unauthorizedText(identity: Identity, action: string, kind: 'cluster' | 'index', needs: readonly string[], names?: readonly string[]): string {
    const user = identity.user;
    if (!isEs) return `no permissions for [${action}] and User [name=${user.username}, backend_roles=[${(user.roles ?? []).join(', ')}], requestedTenant=null]`;
    const who =
      identity.scheme === 'apiKey'
        ? `API key id [${user.apiKey!.id}] of user [${user.username}]`
        : `user [${user.username}] with effective roles [${(user.roles ?? []).join(',')}]`;
    const on = names === undefined ? '' : ` on indices [${names.join(',')}]`;
    return `action [${action}] is unauthorized for ${who}${on}, this action is granted by the ${kind} privileges [${needs.join(',')}]`;
  }

  const forbidden = (identity: Identity, action: string, kind: 'cluster' | 'index', needs: readonly string[], names?: readonly string[]): Answer =>
    esError(403, 'security_exception', unauthorizedText(identity, action, kind, needs, names));

  // ---- bodies ----

  function decodeBody(ctx: Ctx): Buffer | Answer {
    const encoding = ctx.request.headers.get('content-encoding')?.trim().toLowerCase();
    try {
      // §2.1: gzip or deflate; Netty's decoder takes the x- aliases too, and deflate with or without the zlib wrapper.
      if (encoding === 'gzip' || encoding === 'x-gzip') return gunzipSync(ctx.body);
      if (encoding === 'deflate' || encoding === 'x-deflate') {
        try {
          return inflateSync(ctx.body);
        } catch {
          return inflateRawSync(ctx.body);
        }
      }
    } catch {
      // UNCONFIRMED answer to a corrupt compressed body.
      return esError(400, 'illegal_argument_exception', `failed to decompress the request body (Content-Encoding: ${encoding})`);
    }
    // Identity, absent, or a coding Elasticsearch does not decode (the bytes then fail to parse, as they would there).
    return ctx.body;
  }

  /** Elasticsearch refuses a body whose Content-Type it cannot parse (406); the JS client's compatibility types are accepted. */
  function contentTypeRefusal(ctx: Ctx, ndjson: boolean): Answer | undefined {
    const raw = ctx.request.headers.get('content-type');
    // UNCONFIRMED wording for a missing header.
    if (raw === null) return restError(406, 'Content-Type header is missing');
    const type = raw.split(';')[0]!.trim().toLowerCase();
    const ok = ['application/json', 'application/vnd.elasticsearch+json', ...(ndjson ? ['application/x-ndjson', 'application/vnd.elasticsearch+x-ndjson'] : [])];
    return ok.includes(type) ? undefined : restError(406, `Content-Type header [${raw}] is not supported`);
  }

  function unknownParam(ctx: Ctx, known: ReadonlySet<string>): Answer | undefined {
    for (const key of ctx.url.searchParams.keys()) {
      if (!known.has(key)) return esError(400, 'illegal_argument_exception', `request [${ctx.url.pathname}] contains unrecognized parameter: [${key}]`);
    }
    return undefined;
  }

  /** The JSON object a request carries, or the answer refusing it. */
  function jsonBody(ctx: Ctx, required: boolean): { json: Json } | { refused: Answer } {
    const decoded = decodeBody(ctx);
    if (!Buffer.isBuffer(decoded)) return { refused: decoded };
    ctx.decodedBytes = decoded.length;
    if (decoded.length === 0) return required ? { refused: esError(400, 'parse_exception', 'request body is required') } : { json: {} };
    const refused = contentTypeRefusal(ctx, false);
    if (refused !== undefined) return { refused };
    let parsed: unknown;
    try {
      parsed = JSON.parse(decoded.toString('utf8'));
    } catch (e) {
      // UNCONFIRMED wording: Elasticsearch quotes Jackson's message with its position.
      return { refused: esError(400, 'x_content_parse_exception', `[1:1] ${e instanceof Error ? e.message : 'invalid JSON'}`) };
    }
    if (!isPlainObject(parsed)) return { refused: esError(400, 'parse_exception', `request body must be an object, found [${tokenName(parsed)}]`) };
    return { json: parsed };
  }

  // ---- documents ----

  /** Index names a read target expands to: comma lists, `*` patterns (open, non-hidden), data streams to their backing indices. */
  function expand(target: string): IndexState[] | Answer {
    const out = new Set<IndexState>();
    for (const part of target.split(',')) {
      if (part === '') continue;
      if (part.includes('*')) {
        for (const ds of dataStreams.values()) if (globMatch(part, ds.name)) for (const b of ds.backing) out.add(b);
        for (const ix of indexes.values()) if (ix.dataStream === undefined && !ix.name.startsWith('.') && globMatch(part, ix.name)) out.add(ix);
        continue;
      }
      const ds = dataStreams.get(part);
      if (ds !== undefined) {
        for (const b of ds.backing) out.add(b);
        continue;
      }
      const ix = indexes.get(part);
      if (ix === undefined) return esError(404, 'index_not_found_exception', `no such index [${part}]`, indexNotFoundExtra(part));
      out.add(ix);
    }
    return [...out];
  }

  function heldIn(target?: string): HeldDocument[] {
    const list: IndexState[] = [];
    if (target === undefined) list.push(...indexes.values());
    else if (dataStreams.has(target)) list.push(...dataStreams.get(target)!.backing);
    else if (indexes.has(target)) list.push(indexes.get(target)!);
    return list.flatMap((ix) => [...ix.docs.values()]);
  }

  // ---- the bulk item pipeline ----

  interface Resolved {
    readonly write: IndexState;
    readonly dataStream: DataStreamState | undefined;
  }

  function resolveTarget(identity: Identity, target: string, op: BulkOp, requireDataStream: boolean, conditional: boolean): Resolved | ItemError {
    const invalid = invalidIndexName(target);
    if (invalid !== undefined) return itemError(400, 'invalid_index_name_exception', `Invalid index name [${target}], ${invalid}`, { index_uuid: '_na_', index: target });
    const ds = dataStreams.get(target);
    if (ds !== undefined) {
      // §2.1, pitfall 11: data streams take `create` only (the reason as quoted in elastic/elasticsearch#62762).
      if (op !== 'create') return itemError(400, 'illegal_argument_exception', 'only write ops with an op_type of create are allowed in data streams');
      return { write: ds.backing.at(-1)!, dataStream: ds };
    }
    const existing = indexes.get(target);
    if (existing?.dataStream !== undefined) {
      // Writes to a backing index must name the data stream, unless they are conditional updates (Elasticsearch 7.9+).
      const owner = dataStreams.get(existing.dataStream)!;
      if (op === 'create') {
        return itemError(400, 'illegal_argument_exception', `index request with op_type=create targeting backing indices is disallowed, target corresponding data stream [${owner.name}] instead`);
      }
      if (!conditional) {
        return itemError(
          400,
          'illegal_argument_exception',
          `index request with op_type=${op} and no if_primary_term and if_seq_no set targeting backing indices is disallowed, target corresponding data stream [${owner.name}] instead`,
        );
      }
      return { write: existing, dataStream: owner };
    }
    if (existing !== undefined) {
      if (requireDataStream) {
        // UNCONFIRMED status: the REST test checks only the message.
        return itemError(400, 'illegal_argument_exception', `[require_data_stream] request flag is [true] and [${target}] is not a data stream`);
      }
      return { write: existing, dataStream: undefined };
    }
    const template = matchingTemplate(target);
    if (requireDataStream && template?.dataStream === undefined) {
      return itemError(
        404,
        'index_not_found_exception',
        `no such index [${target}] and the index creation request requires a data stream, but no matching index template with data stream template was found for it`,
        indexNotFoundExtra(target),
      );
    }
    if (template?.dataStream === undefined && !autoCreateIndex) {
      // elastic/elasticsearch#53378: with auto-creation off the reason is the bare "no such index".
      return itemError(404, 'index_not_found_exception', `no such index [${target}]`, indexNotFoundExtra(target));
    }
    if (!hasIndex(identity, target, NEEDS.autoCreate)) {
      return itemError(403, 'security_exception', unauthorizedText(identity, ACTION.autoCreate, 'index', NEEDS.autoCreate, [target]));
    }
    if (template?.dataStream !== undefined) {
      const created = createDataStream(target, template);
      if (op !== 'create') return itemError(400, 'illegal_argument_exception', 'only write ops with an op_type of create are allowed in data streams');
      return { write: created.backing[0]!, dataStream: created };
    }
    return { write: createIndex(target), dataStream: undefined };
  }

  /** `[line:column]` prefix of Elasticsearch 8.8+ document parsing reasons; the column is taken as the end of the source line. */
  const position = (text: string): string => (docParsingType === 'document_parsing_exception' ? `[1:${text.length}] ` : '');

  function docParsingError(text: string, message: string, causedBy?: Json): ItemError {
    if (docParsingType === 'document_parsing_exception') return itemError(400, docParsingType, `${position(text)}failed to parse: ${message}`, {}, causedBy);
    // Before 8.8, and in OpenSearch: a generic reason, the detail in caused_by (elastic/elasticsearch-js#1660).
    return itemError(400, docParsingType, 'failed to parse', {}, causedBy ?? { type: 'illegal_argument_exception', reason: message });
  }

  function fieldTypeError(text: string, id: string, field: string, type: string, value: unknown, includeSource: boolean, causedBy?: Json): ItemError {
    const preview = includeSource ? ` Preview of field's value: '${typeof value === 'string' ? value : JSON.stringify(value)}'` : '';
    return itemError(400, docParsingType, `${position(text)}failed to parse field [${field}] of type [${type}] in document with id '${id}'.${preview}`, {}, causedBy);
  }

  function getPath(source: Json, field: string): unknown {
    if (Object.hasOwn(source, field)) return source[field];
    let at: unknown = source;
    for (const part of field.split('.')) {
      if (!isPlainObject(at) || !Object.hasOwn(at, part)) return undefined;
      at = at[part];
    }
    return at;
  }

  /** `strict_date_optional_time||epoch_millis` (§2.4): an ISO-8601 date or date-time, or a whole number of milliseconds. */
  function validDate(value: unknown): boolean {
    if (typeof value === 'number') return Number.isInteger(value);
    if (typeof value !== 'string') return false;
    if (/^-?\d+$/.test(value)) return true;
    return /^\d{4}(-\d{2}(-\d{2}(T\d{2}(:\d{2}(:\d{2}([.,]\d{1,9})?)?)?(Z|[+-]\d{2}(:?\d{2})?)?)?)?)?$/.test(value) && !Number.isNaN(Date.parse(value.length === 4 ? `${value}-01-01` : value));
  }

  function defaultItemError(status: number, item: FakeEsBulkItem, text: string): { type: string; reason: string } {
    switch (status) {
      case 429:
        return {
          type: 'es_rejected_execution_exception',
          reason: `rejected execution of primary operation [shard_id=[${item.target}][0], source[${text.length} bytes]] on EsThreadPoolExecutor[name = ${nodeName}/write, queue capacity = 10000, active threads = 8, queued tasks = 10000]`,
        };
      case 400:
        return { type: docParsingType, reason: `${position(text)}failed to parse` };
      case 503:
        return { type: 'unavailable_shards_exception', reason: `[${item.target}][0] primary shard is not active Timeout: [1m], request: [BulkShardRequest [[${item.target}][0]] containing [1] requests]` };
      default:
        return { type: 'exception', reason: `scripted failure ${status}` };
    }
  }

  function scriptedItemError(item: FakeEsBulkItem, text: string): ItemError | undefined {
    let script: ItemScript | undefined = itemCounts.shift();
    if (script === undefined) script = itemPredicates.find((p) => p.predicate(item));
    if (script === undefined) return undefined;
    const d = defaultItemError(script.status, item, text);
    return itemError(script.status, script.type ?? d.type, script.reason ?? d.reason);
  }

  interface ParsedAction {
    readonly op: BulkOp;
    readonly meta: Json;
    readonly line: number;
    readonly sourceText: string | undefined;
  }

  /** The NDJSON body as actions; a whole-request refusal for what Elasticsearch's BulkRequestParser refuses. */
  function parseBulk(text: string): ParsedAction[] | Answer {
    if (text.length === 0) return esError(400, 'parse_exception', 'request body is required');
    // The reason holds a backslash and an n, not a newline.
    if (!text.endsWith('\n')) return esError(400, 'illegal_argument_exception', 'The bulk request must be terminated by a newline [\\n]');
    const lines = text.slice(0, -1).split('\n').map((l) => (l.endsWith('\r') ? l.slice(0, -1) : l));
    const actions: ParsedAction[] = [];
    for (let i = 0; i < lines.length; i++) {
      const lineNo = i + 1;
      const raw = lines[i]!;
      if (raw.trim() === '') continue;
      let action: unknown;
      try {
        action = JSON.parse(raw);
      } catch {
        // UNCONFIRMED wording: Elasticsearch quotes Jackson's message here.
        return esError(400, 'x_content_parse_exception', `[${lineNo}:1] Unexpected character in action/metadata line [${lineNo}]`);
      }
      if (!isPlainObject(action)) return esError(400, 'illegal_argument_exception', `Malformed action/metadata line [${lineNo}], expected START_OBJECT but found [${tokenName(action)}]`);
      const keys = Object.keys(action);
      if (keys.length === 0) return esError(400, 'illegal_argument_exception', `Malformed action/metadata line [${lineNo}], expected FIELD_NAME but found [END_OBJECT]`);
      const op = keys[0]!;
      if (!(BULK_ACTIONS as readonly string[]).includes(op)) {
        return esError(400, 'illegal_argument_exception', `Malformed action/metadata line [${lineNo}], expected field [create], [delete], [index] or [update] but found [${op}]`);
      }
      if (keys.length > 1) return esError(400, 'illegal_argument_exception', `Malformed action/metadata line [${lineNo}], expected END_OBJECT but found [FIELD_NAME]`);
      const meta = action[op];
      if (!isPlainObject(meta)) return esError(400, 'illegal_argument_exception', `Malformed action/metadata line [${lineNo}], expected START_OBJECT but found [${tokenName(meta)}]`);
      for (const key of Object.keys(meta)) {
        if (!ACTION_META.includes(key)) return esError(400, 'illegal_argument_exception', `Action/metadata line [${lineNo}] contains an unknown parameter [${key}]`);
      }
      if (op === 'delete') {
        actions.push({ op, meta, line: lineNo, sourceText: undefined });
        continue;
      }
      // An action on the last line with no source line after it is dropped, as Elasticsearch's parser stops there.
      if (i + 1 >= lines.length) break;
      i++;
      actions.push({ op: op as BulkOp, meta, line: lineNo, sourceText: lines[i]! });
    }
    return actions;
  }

  function processItem(identity: Identity, a: ParsedAction, ctx: Ctx, defaultIndex: string | undefined): Json {
    const params = ctx.url.searchParams;
    // `index` with `op_type: create` is a create, and is answered under `create`.
    const op: BulkOp = a.op === 'index' && a.meta.op_type === 'create' ? 'create' : a.op;
    const target = typeof a.meta._index === 'string' ? a.meta._index : defaultIndex!;
    const rawId = a.meta._id;
    let id = typeof rawId === 'string' ? rawId : typeof rawId === 'number' ? String(rawId) : undefined;
    const answer = (body: Json): Json => ({ [op]: body });
    /** `shard`: the index_uuid/shard/index fields Elasticsearch adds to the error of an item that reached a shard. */
    const fail = (e: ItemError, index = target, shard: Json = {}): Json => {
      ctx.failedItems++;
      const { caused_by: causedBy, ...error } = e.error;
      return answer({ _index: index, _id: id ?? null, status: e.status, error: { ...error, ...shard, ...(causedBy === undefined ? {} : { caused_by: causedBy }) } });
    };

    if (id !== undefined && id === '') return fail(itemError(400, 'illegal_argument_exception', 'if _id is specified it must not be empty'));
    if (id !== undefined && Buffer.byteLength(id) > 512) {
      return fail(itemError(400, 'illegal_argument_exception', `id [${id}] is too long, must be no longer than 512 bytes but was: ${Buffer.byteLength(id)}`));
    }
    if ((op === 'update' || op === 'delete') && id === undefined) return fail(itemError(400, 'action_request_validation_exception', 'Validation Failed: 1: id is missing;'));
    const metaRequireDs = a.meta.require_data_stream;
    const requireDs = typeof metaRequireDs === 'boolean' ? metaRequireDs : params.get('require_data_stream') === 'true';

    const resolved = resolveTarget(identity, target, op, requireDs && (op === 'create' || op === 'index'), typeof a.meta.if_seq_no === 'number');
    if (!('write' in resolved)) return fail(resolved);
    const { write, dataStream } = resolved;
    const reported = write.name;
    const shardExtra: Json = { index_uuid: write.uuid, shard: '0', index: reported };

    // The per-shard authorisation (bulk[s]) is checked against the name the client wrote to.
    const needs = NEEDS[op];
    if (!hasIndex(identity, target, needs)) {
      return fail(itemError(403, 'security_exception', unauthorizedText(identity, ACTION.bulkShard, 'index', needs, [target])), reported);
    }

    const pipelineName = typeof a.meta.pipeline === 'string' ? a.meta.pipeline : (params.get('pipeline') ?? undefined);
    if (pipelineName !== undefined && pipelineName !== '_none' && !pipelines.has(pipelineName) && op !== 'delete') {
      return fail(itemError(400, 'illegal_argument_exception', `pipeline with id [${pipelineName}] does not exist`), reported);
    }

    const text = a.sourceText ?? '';
    let source: Json | undefined;
    if (op !== 'delete') {
      let parsed: unknown;
      try {
        parsed = JSON.parse(text);
      } catch (e) {
        return fail(docParsingError(text, 'the source is not valid JSON', { type: 'x_content_parse_exception', reason: e instanceof Error ? e.message : 'invalid JSON' }), reported, shardExtra);
      }
      if (!isPlainObject(parsed)) return fail(docParsingError(text, `expected START_OBJECT but found [${tokenName(parsed)}]`), reported, shardExtra);
      source = parsed;
    }
    if (id === undefined) id = generatedId();

    const item: FakeEsBulkItem = { op, target, id, source, line: a.line };
    const scripted = scriptedItemError(item, text);
    if (scripted !== undefined) return fail(scripted, reported, shardExtra);

    const includeSource = params.get('include_source_on_error') !== 'false';
    if (source !== undefined && op !== 'update') {
      const refusal = refusals.find((r) => r.predicate(item));
      if (refusal !== undefined) {
        if (refusal.type !== undefined || refusal.reason !== undefined || refusal.field === undefined) {
          return fail(itemError(400, refusal.type ?? docParsingType, refusal.reason ?? `${position(text)}failed to parse`), reported, shardExtra);
        }
        const value = getPath(source, refusal.field);
        return fail(
          fieldTypeError(text, id, refusal.field, 'long', value, includeSource, { type: 'illegal_argument_exception', reason: `For input string: "${String(value)}"` }),
          reported,
          shardExtra,
        );
      }
      if (dataStream !== undefined) {
        const field = dataStream.timestampField;
        const value = getPath(source, field);
        if (value === undefined || value === null) {
          return fail(docParsingError(text, `data stream timestamp field [${field}] is missing`), reported, shardExtra);
        }
        if (!validDate(value)) {
          return fail(
            fieldTypeError(text, id, field, 'date', value, includeSource, {
              type: 'illegal_argument_exception',
              reason: `failed to parse date field [${String(value)}] with format [strict_date_optional_time||epoch_millis]`,
            }),
            reported,
            shardExtra,
          );
        }
      }
    }

    const existing = write.docs.get(id);
    const seqNoParam = a.meta.if_seq_no;
    if (typeof seqNoParam === 'number' && (existing === undefined || existing.seqNo !== seqNoParam || a.meta.if_primary_term !== 1)) {
      const current = existing === undefined ? 'but no document was found' : `current document has seqNo [${existing.seqNo}] and primary term [1]`;
      return fail(
        itemError(409, 'version_conflict_engine_exception', `[${id}]: version conflict, required seqNo [${seqNoParam}], primary term [${String(a.meta.if_primary_term)}]. ${current}`),
        reported,
        shardExtra,
      );
    }

    const written = (result: string, status: number, version: number, seqNo: number): Json =>
      answer({ _index: reported, _id: id, _version: version, result, _shards: { total: 2, successful: 1, failed: 0 }, _seq_no: seqNo, _primary_term: 1, status });

    switch (op) {
      case 'create':
      case 'index': {
        if (op === 'create' && existing !== undefined) {
          // §2.2: create with an existing `_id` is 409: the document was delivered before.
          return fail(itemError(409, 'version_conflict_engine_exception', `[${id}]: version conflict, document already exists (current version [${existing.version}])`), reported, shardExtra);
        }
        const version = (existing?.version ?? 0) + 1;
        const doc: HeldDocument = { index: write.name, dataStream: dataStream?.name, id, source: source!, text, op, pipeline: pipelineName, version, seqNo: write.seqNo++ };
        // Delete first so that a replaced document moves to the end of the write order.
        write.docs.delete(id);
        write.docs.set(id, doc);
        return written(existing === undefined ? 'created' : 'updated', existing === undefined ? 201 : 200, version, doc.seqNo);
      }
      case 'update': {
        if (existing === undefined) return fail(itemError(404, 'document_missing_exception', `[${id}]: document missing`), reported, shardExtra);
        const partial = source!.doc;
        if (!isPlainObject(partial)) return fail(itemError(400, 'action_request_validation_exception', 'Validation Failed: 1: script or doc is missing;'), reported);
        const merged = { ...existing.source, ...partial };
        const doc: HeldDocument = { ...existing, source: merged, text: JSON.stringify(merged), op: 'update', version: existing.version + 1, seqNo: write.seqNo++ };
        write.docs.set(id, doc);
        return written('updated', 200, doc.version, doc.seqNo);
      }
      case 'delete': {
        if (existing === undefined) {
          // A 404 without an `error`: not a failure, `errors` stays false for it.
          return answer({ _index: reported, _id: id, _version: 1, result: 'not_found', _shards: { total: 2, successful: 1, failed: 0 }, _seq_no: write.seqNo++, _primary_term: 1, status: 404 });
        }
        write.docs.delete(id);
        return written('deleted', 200, existing.version + 1, write.seqNo++);
      }
    }
  }

  // ---- endpoints ----

  function onBulk(ctx: Ctx, segments: readonly string[]): Answer {
    const identity = ctx.identity!;
    const refusedParam = unknownParam(ctx, bulkParams);
    if (refusedParam !== undefined) return refusedParam;
    const decoded = decodeBody(ctx);
    if (!Buffer.isBuffer(decoded)) return decoded;
    ctx.decodedBytes = decoded.length;
    if (measureDecoded && decoded.length > maxContentLength) return { status: 413, body: undefined };
    if (decoded.length > 0) {
      const refusedType = contentTypeRefusal(ctx, true);
      if (refusedType !== undefined) return refusedType;
    }
    const started = process.hrtime.bigint();
    const actions = parseBulk(decoded.toString('utf8'));
    if (!Array.isArray(actions)) return actions;
    if (actions.length === 0) return esError(400, 'action_request_validation_exception', 'Validation Failed: 1: no requests added;');
    const defaultIndex = segments[0];
    if (defaultIndex === undefined && actions.some((a) => typeof a.meta._index !== 'string')) {
      return esError(400, 'action_request_validation_exception', 'Validation Failed: 1: index is missing;');
    }
    // No write privilege anywhere: the whole request is refused (elastic/logstash#16135 quotes the text).
    if (!hasAnyIndex(identity, NEEDS.anyWrite)) return forbidden(identity, ACTION.bulk, 'index', NEEDS.anyWrite);
    const items = actions.map((a) => processItem(identity, a, ctx, defaultIndex));
    ctx.items = items.length;
    const took = Number((process.hrtime.bigint() - started) / 1_000_000n);
    return { status: 200, body: { errors: ctx.failedItems > 0, took, items } };
  }

  function onInfo(ctx: Ctx): Answer {
    if (!hasCluster(ctx.identity!, NEEDS.monitor)) return forbidden(ctx.identity!, ACTION.main, 'cluster', NEEDS.monitor);
    const [major] = v;
    const lucene = isEs ? (major >= 9 ? '10.1.0' : major === 8 ? '9.12.0' : '8.11.1') : major >= 3 ? '10.2.1' : '9.12.1';
    const minWire = isEs ? (major >= 9 ? '8.18.0' : major === 8 ? '7.17.0' : '6.8.0') : major >= 3 ? '2.19.0' : '7.10.0';
    const minIndex = isEs ? (major >= 9 ? '8.0.0' : major === 8 ? '7.0.0' : '6.0.0-beta1') : major >= 3 ? '2.0.0' : '7.0.0';
    const common = {
      build_type: 'docker',
      build_hash: 'f0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3',
      build_date: '2025-01-10T10:08:26.972230187Z',
      build_snapshot: false,
      lucene_version: lucene,
      minimum_wire_compatibility_version: minWire,
      minimum_index_compatibility_version: minIndex,
    };
    // OpenSearch reports `distribution` and no `build_flavor` (grafana/opensearch-datasource#131, gitlab MR 88802).
    const versionBlock = isEs ? { number: version, build_flavor: options.buildFlavor ?? 'default', ...common } : { distribution: 'opensearch', number: version, ...common };
    return {
      status: 200,
      body: {
        name: nodeName,
        cluster_name: clusterName,
        cluster_uuid: clusterUuid,
        version: versionBlock,
        tagline: isEs ? 'You Know, for Search' : 'The OpenSearch Project: https://opensearch.org/',
      },
    };
  }

  function onHasPrivileges(ctx: Ctx): Answer {
    if (!security) {
      // elastic/kibana#64585: with security off the security APIs answer 500 `exception`.
      return esError(500, 'exception', 'Security must be explicitly enabled when using a [basic] license. Enable security by setting [xpack.security.enabled] to [true] in the elasticsearch.yml file and restart the node.');
    }
    const parsed = jsonBody(ctx, true);
    if ('refused' in parsed) return parsed.refused;
    const req = parsed.json;
    const user = ctx.identity!.user;
    let all = true;
    const cluster: Record<string, boolean> = {};
    for (const p of Array.isArray(req.cluster) ? (req.cluster as unknown[]) : []) {
      if (typeof p !== 'string') continue;
      const ok = (user.cluster ?? []).some((g) => g === 'all' || g === p || (CLUSTER_IMPLIES[g] ?? []).includes(p));
      cluster[p] = ok;
      all &&= ok;
    }
    const index: Record<string, Record<string, boolean>> = {};
    for (const entry of Array.isArray(req.index) ? (req.index as unknown[]) : []) {
      if (!isPlainObject(entry)) continue;
      const names = Array.isArray(entry.names) ? entry.names : typeof entry.names === 'string' ? [entry.names] : [];
      const privileges = Array.isArray(entry.privileges) ? entry.privileges : [];
      for (const name of names) {
        if (typeof name !== 'string') continue;
        const result = (index[name] ??= {});
        for (const p of privileges) {
          if (typeof p !== 'string') continue;
          // A requested pattern counts as covered when a granted pattern matches it as a string (`logs-*` covers `logs-a-*`).
          const ok = (user.indices ?? []).some(
            (g) => g.names.some((n) => globMatch(n, name)) && g.privileges.some((gp) => gp === 'all' || gp === p || (INDEX_IMPLIES[gp] ?? []).includes(p)),
          );
          result[p] = ok;
          all &&= ok;
        }
      }
    }
    return { status: 200, body: { username: user.username, has_all_requested: all, cluster, index, application: {} } };
  }

  function onAuthenticate(ctx: Ctx): Answer {
    if (!security) return esError(500, 'exception', 'Security must be explicitly enabled when using a [basic] license. Enable security by setting [xpack.security.enabled] to [true] in the elasticsearch.yml file and restart the node.');
    const { user, scheme } = ctx.identity!;
    return {
      status: 200,
      body: {
        username: user.username,
        roles: user.roles ?? [],
        full_name: null,
        email: null,
        metadata: {},
        enabled: true,
        authentication_realm: scheme === 'apiKey' ? { name: '_es_api_key', type: '_es_api_key' } : { name: 'default_native', type: 'native' },
        lookup_realm: scheme === 'apiKey' ? { name: '_es_api_key', type: '_es_api_key' } : { name: 'default_native', type: 'native' },
        authentication_type: scheme === 'apiKey' ? 'api_key' : scheme === 'bearer' ? 'token' : 'realm',
        ...(scheme === 'apiKey' ? { api_key: { id: user.apiKey!.id, name: user.apiKey!.id } } : {}),
      },
    };
  }

  function onAccount(ctx: Ctx): Answer {
    const user = ctx.identity!.user;
    return {
      status: 200,
      body: {
        user_name: user.username,
        is_reserved: false,
        is_hidden: false,
        is_internal_user: true,
        user_requested_tenant: null,
        backend_roles: user.roles ?? [],
        custom_attribute_names: [],
        tenants: { global_tenant: true, [user.username]: true },
        roles: user.roles ?? [],
      },
    };
  }

  function onPutTemplate(ctx: Ctx, [name]: readonly string[]): Answer {
    if (!hasCluster(ctx.identity!, NEEDS.templates)) return forbidden(ctx.identity!, ACTION.templatePut, 'cluster', NEEDS.templates);
    const parsed = jsonBody(ctx, true);
    if ('refused' in parsed) return parsed.refused;
    const body = parsed.json;
    const refused = putTemplate(name!, body);
    return refused ?? { status: 200, body: { acknowledged: true } };
  }

  function templateList(name: string | undefined): TemplateState[] | Answer {
    if (name === undefined || name.includes('*')) return [...templates.values()].filter((t) => name === undefined || globMatch(name, t.name));
    const t = templates.get(name);
    return t === undefined ? esError(404, 'resource_not_found_exception', `index template matching [${name}] not found`) : [t];
  }

  function onGetTemplate(ctx: Ctx, [name]: readonly string[]): Answer {
    if (!hasCluster(ctx.identity!, NEEDS.templates)) return forbidden(ctx.identity!, ACTION.templateGet, 'cluster', NEEDS.templates);
    const list = templateList(name);
    if (!Array.isArray(list)) return list;
    return { status: 200, body: { index_templates: list.map((t) => ({ name: t.name, index_template: t.body })) } };
  }

  function onHeadTemplate(ctx: Ctx, [name]: readonly string[]): Answer {
    if (!hasCluster(ctx.identity!, NEEDS.templates)) return { status: 403, body: undefined };
    return { status: templates.has(name!) ? 200 : 404, body: undefined };
  }

  function onPutIlm(ctx: Ctx, [name]: readonly string[]): Answer {
    if (!hasCluster(ctx.identity!, NEEDS.ilm)) return forbidden(ctx.identity!, ACTION.ilmPut, 'cluster', NEEDS.ilm);
    const parsed = jsonBody(ctx, true);
    if ('refused' in parsed) return parsed.refused;
    const body = parsed.json;
    if (!isPlainObject(body.policy)) return esError(400, 'parse_exception', 'request body or source parameter is required');
    const previous = ilmPolicies.get(name!);
    ilmPolicies.set(name!, { version: (previous?.version ?? 0) + 1, modified: new Date().toISOString(), policy: body.policy });
    return { status: 200, body: { acknowledged: true } };
  }

  function onGetIlm(ctx: Ctx, [name]: readonly string[]): Answer {
    if (!hasCluster(ctx.identity!, [...NEEDS.ilm, 'read_ilm'])) return forbidden(ctx.identity!, ACTION.ilmGet, 'cluster', [...NEEDS.ilm, 'read_ilm']);
    const p = ilmPolicies.get(name!);
    if (p === undefined) return esError(404, 'resource_not_found_exception', `Lifecycle policy not found: ${name}`);
    return { status: 200, body: { [name!]: { version: p.version, modified_date: p.modified, policy: p.policy, in_use_by: { indices: [], data_streams: [], composable_templates: [] } } } };
  }

  function onPutIsm(ctx: Ctx, [id]: readonly string[]): Answer {
    if (!hasCluster(ctx.identity!, ['manage', 'all'])) return forbidden(ctx.identity!, ACTION.ismWrite, 'cluster', ['manage', 'all']);
    const parsed = jsonBody(ctx, true);
    if ('refused' in parsed) return parsed.refused;
    const body = parsed.json;
    if (!isPlainObject(body.policy)) return esError(400, 'illegal_argument_exception', 'Required [policy]');
    const previous = ismPolicies.get(id!);
    const ifSeqNo = ctx.url.searchParams.get('if_seq_no');
    if (previous !== undefined && (ifSeqNo === null || Number(ifSeqNo) !== previous.seqNo)) {
      // An update needs if_seq_no/if_primary_term (the ISM API page); without them the policy document already exists.
      return esError(409, 'version_conflict_engine_exception', `[${id}]: version conflict, document already exists (current version [${previous.version}])`);
    }
    const stored = { version: (previous?.version ?? 0) + 1, seqNo: ismSeqNo++, policy: { policy_id: id, ...body.policy, last_updated_time: Date.now(), schema_version: 1 } };
    ismPolicies.set(id!, stored);
    return { status: previous === undefined ? 201 : 200, body: { _id: id, _version: stored.version, _primary_term: 1, _seq_no: stored.seqNo, policy: { policy: stored.policy } } };
  }

  function onGetIsm(ctx: Ctx, [id]: readonly string[]): Answer {
    if (!hasCluster(ctx.identity!, ['manage', 'all', 'monitor'])) return forbidden(ctx.identity!, ACTION.ismGet, 'cluster', ['manage', 'all', 'monitor']);
    const p = ismPolicies.get(id!);
    // UNCONFIRMED body for a missing policy.
    if (p === undefined) return esError(404, 'status_exception', 'Policy not found');
    return { status: 200, body: { _id: id, _version: p.version, _seq_no: p.seqNo, _primary_term: 1, policy: p.policy } };
  }

  function onPutPipeline(ctx: Ctx, [id]: readonly string[]): Answer {
    if (!hasCluster(ctx.identity!, NEEDS.pipelines)) return forbidden(ctx.identity!, ACTION.pipelinePut, 'cluster', NEEDS.pipelines);
    const parsed = jsonBody(ctx, true);
    if ('refused' in parsed) return parsed.refused;
    const body = parsed.json;
    if (!Array.isArray(body.processors)) return esError(400, 'parse_exception', '[processors] required property is missing', { property_name: 'processors' });
    pipelines.set(id!, body);
    return { status: 200, body: { acknowledged: true } };
  }

  function onGetPipeline(ctx: Ctx, [id]: readonly string[]): Answer {
    if (!hasCluster(ctx.identity!, NEEDS.pipelines)) return forbidden(ctx.identity!, ACTION.pipelineGet, 'cluster', NEEDS.pipelines);
    const p = pipelines.get(id!);
    // Elasticsearch answers a missing pipeline with 404 and an empty object.
    return p === undefined ? { status: 404, body: {} } : { status: 200, body: { [id!]: p } };
  }

  function dataStreamBody(ds: DataStreamState): Json {
    return {
      name: ds.name,
      timestamp_field: { name: ds.timestampField },
      indices: ds.backing.map((b) => ({ index_name: b.name, index_uuid: b.uuid })),
      generation: ds.generation,
      status: 'GREEN',
      template: ds.template,
      ...(isEs ? { hidden: false, system: false, allow_custom_routing: false, replicated: false } : {}),
    };
  }

  function onGetDataStream(ctx: Ctx, [name]: readonly string[]): Answer {
    const identity = ctx.identity!;
    let list: DataStreamState[];
    if (name === undefined || name.includes('*')) {
      list = [...dataStreams.values()].filter((d) => (name === undefined || globMatch(name, d.name)) && hasIndex(identity, d.name, NEEDS.viewMetadata));
    } else {
      if (!hasIndex(identity, name, NEEDS.viewMetadata)) return forbidden(identity, ACTION.dataStreamGet, 'index', NEEDS.viewMetadata, [name]);
      const ds = dataStreams.get(name);
      if (ds === undefined) return esError(404, 'index_not_found_exception', `no such index [${name}]`, indexNotFoundExtra(name));
      list = [ds];
    }
    return { status: 200, body: { data_streams: list.map(dataStreamBody) } };
  }

  function onPutDataStream(ctx: Ctx, [name]: readonly string[]): Answer {
    const identity = ctx.identity!;
    if (!hasIndex(identity, name!, NEEDS.createIndex)) return forbidden(identity, ACTION.dataStreamCreate, 'index', NEEDS.createIndex, [name!]);
    if (dataStreams.has(name!)) return esError(400, 'resource_already_exists_exception', `data_stream [${name}] already exists`);
    const template = matchingTemplate(name!);
    if (template?.dataStream === undefined) return esError(400, 'illegal_argument_exception', `no matching index template found for data stream [${name}]`);
    createDataStream(name!, template);
    return { status: 200, body: { acknowledged: true } };
  }

  /** The minimal query language of `_count` and `_search`: `match_all` (or none) and `ids`. */
  function queryFilter(body: Json): ((doc: HeldDocument) => boolean) | Answer {
    const query = body.query;
    if (query === undefined) return () => true;
    if (!isPlainObject(query)) return esError(400, 'parsing_exception', `[query] query malformed, no start_object after query name`);
    const [kind, spec] = Object.entries(query)[0] ?? ['match_all', {}];
    if (kind === 'match_all') return () => true;
    if (kind === 'ids' && isPlainObject(spec) && Array.isArray(spec.values)) {
      const wanted = new Set(spec.values.map(String));
      return (doc) => wanted.has(doc.id);
    }
    if (kind === 'range' && isPlainObject(spec)) return rangeFilter(spec);
    // A limit of the fake, not an Elasticsearch answer: said loudly so that a test needing more knows to extend it.
    return esError(400, 'parsing_exception', `the fake Elasticsearch knows only [match_all], [ids] and [range] queries, not [${kind}]`);
  }

  /**
   * `{"range":{"<date field>":{"gte":…,"lt":…}}}` (either bound may be left out): what reconciliation sends. Values are dates
   * as the date field parses them (ISO-8601 with up to nine fraction digits, or epoch milliseconds), compared to the
   * nanosecond, so a document at exactly `lt` is out.
   */
  function rangeFilter(spec: Json): ((doc: HeldDocument) => boolean) | Answer {
    const entries = Object.entries(spec);
    const [field, bounds] = entries[0] ?? [];
    if (entries.length !== 1 || field === undefined || !isPlainObject(bounds)) return esError(400, 'parsing_exception', '[range] query malformed, no start_object after query name');
    const unknown = Object.keys(bounds).find((k) => k !== 'gte' && k !== 'lt');
    if (unknown !== undefined) return esError(400, 'parsing_exception', `the fake Elasticsearch knows only gte and lt in a [range] query, not [${unknown}]`);
    const gte = bounds.gte === undefined ? undefined : dateNanos(bounds.gte);
    const lt = bounds.lt === undefined ? undefined : dateNanos(bounds.lt);
    for (const [k, parsed] of [['gte', gte], ['lt', lt]] as const) {
      if (bounds[k] !== undefined && parsed === undefined) {
        return esError(400, 'parse_exception', `failed to parse date field [${String(bounds[k])}] with format [strict_date_optional_time||epoch_millis]`);
      }
    }
    return (doc) => {
      const t = dateNanos(getPath(doc.source, field));
      return t !== undefined && (gte === undefined || t >= gte) && (lt === undefined || t < lt);
    };
  }

  /**
   * The `aggs` of a search body: the two reconciliation aggregations and nothing else (a limit of the fake, said loudly):
   * - `date_histogram` on a date field with `fixed_interval` (`<n>ms|s|m|h|d`) and `min_doc_count: 1`: buckets aligned on the
   *   epoch in UTC, `key` in epoch milliseconds, non-empty ones only, in key order;
   * - `composite` with one `terms` source on a keyword field, `size`, and `after`: buckets in ascending (UTF-8 byte) order of
   *   the value, `after_key` the last bucket's key when the page has buckets (documents without the field have no bucket).
   */
  function aggregate(aggs: unknown, docs: readonly HeldDocument[]): { aggregations: Json } | { refused: Answer } {
    if (!isPlainObject(aggs)) return { refused: esError(400, 'parsing_exception', 'Expected [START_OBJECT] under [aggs]') };
    const out: Json = {};
    for (const [name, spec] of Object.entries(aggs)) {
      const kinds = isPlainObject(spec) ? Object.keys(spec) : [];
      const kind = kinds[0];
      const params = kind === undefined || !isPlainObject(spec) ? undefined : spec[kind];
      if (kinds.length !== 1 || !isPlainObject(params)) return { refused: esError(400, 'parsing_exception', `Expected one aggregation type under [${name}]`) };
      if (kind === 'date_histogram') {
        const interval = typeof params.fixed_interval === 'string' ? /^(\d+)(ms|s|m|h|d)$/.exec(params.fixed_interval) : null;
        const unknownKey = Object.keys(params).find((k) => !['field', 'fixed_interval', 'min_doc_count'].includes(k));
        if (typeof params.field !== 'string' || interval === null || params.min_doc_count !== 1 || unknownKey !== undefined) {
          return { refused: esError(400, 'parsing_exception', `the fake Elasticsearch knows date_histogram with field, fixed_interval and min_doc_count: 1 only, got ${JSON.stringify(params)}`) };
        }
        const per: Record<string, bigint> = { ms: 1n, s: 1000n, m: 60_000n, h: 3_600_000n, d: 86_400_000n };
        const spanMs = BigInt(interval[1]!) * per[interval[2]!]!;
        if (spanMs === 0n) return { refused: esError(400, 'illegal_argument_exception', `Zero or negative time interval [${params.fixed_interval}] not supported`) };
        const counts = new Map<bigint, number>();
        for (const d of docs) {
          const t = dateNanos(getPath(d.source, params.field));
          if (t === undefined) continue;
          const ms = t >= 0n ? t / 1_000_000n : -((-t + 999_999n) / 1_000_000n);
          const key = (ms >= 0n ? ms / spanMs : -((-ms + spanMs - 1n) / spanMs)) * spanMs;
          counts.set(key, (counts.get(key) ?? 0) + 1);
        }
        const buckets = [...counts.entries()]
          .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
          .map(([key, count]) => ({ key_as_string: new Date(Number(key)).toISOString(), key: Number(key), doc_count: count }));
        out[name] = { buckets };
        continue;
      }
      if (kind === 'composite') {
        const sources = params.sources;
        const source = Array.isArray(sources) && sources.length === 1 && isPlainObject(sources[0]) ? Object.entries(sources[0]) : [];
        const [sourceName, sourceSpec] = source[0] ?? [];
        const terms = isPlainObject(sourceSpec) && Object.keys(sourceSpec).length === 1 && isPlainObject(sourceSpec.terms) ? sourceSpec.terms : undefined;
        const unknownKey = Object.keys(params).find((k) => !['size', 'sources', 'after'].includes(k));
        const size = params.size ?? 10;
        if (sourceName === undefined || source.length !== 1 || terms === undefined || typeof terms.field !== 'string' || Object.keys(terms).length !== 1 || unknownKey !== undefined || typeof size !== 'number' || !Number.isInteger(size) || size < 1) {
          return { refused: esError(400, 'parsing_exception', `the fake Elasticsearch knows composite with one terms source, size and after only, got ${JSON.stringify(params)}`) };
        }
        const after = params.after;
        const afterValue = isPlainObject(after) ? after[sourceName] : undefined;
        if (after !== undefined && typeof afterValue !== 'string') return { refused: esError(400, 'illegal_argument_exception', `[after] has wrong number of values or a missing [${sourceName}]`) };
        const counts = new Map<string, number>();
        for (const d of docs) {
          const value = getPath(d.source, terms.field);
          if (typeof value === 'string') counts.set(value, (counts.get(value) ?? 0) + 1);
        }
        const ordered = [...counts.entries()].sort(([a], [b]) => Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8')));
        const start = typeof afterValue === 'string' ? ordered.filter(([v]) => Buffer.compare(Buffer.from(v, 'utf8'), Buffer.from(afterValue, 'utf8')) > 0) : ordered;
        const page = start.slice(0, size).map(([value, count]) => ({ key: { [sourceName]: value }, doc_count: count }));
        out[name] = { ...(page.length > 0 ? { after_key: page.at(-1)!.key } : {}), buckets: page };
        continue;
      }
      return { refused: esError(400, 'parsing_exception', `the fake Elasticsearch knows only [date_histogram] and [composite] aggregations, not [${kind}]`) };
    }
    return { aggregations: out };
  }

  function onCount(ctx: Ctx, [target]: readonly string[]): Answer {
    return searchLike(ctx, target!, true);
  }

  function onSearch(ctx: Ctx, [target]: readonly string[]): Answer {
    return searchLike(ctx, target!, false);
  }

  function searchLike(ctx: Ctx, target: string, count: boolean): Answer {
    const identity = ctx.identity!;
    for (const part of target.split(',')) {
      if (!part.includes('*') && !hasIndex(identity, part, NEEDS.read)) return forbidden(identity, ACTION.search, 'index', NEEDS.read, [part]);
    }
    const parsed = jsonBody(ctx, false);
    if ('refused' in parsed) return parsed.refused;
    const body = parsed.json;
    const found = expand(target);
    if (!Array.isArray(found)) return found;
    const filter = queryFilter(body);
    if (typeof filter !== 'function') return filter;
    const readable = found.filter((ix) => hasIndex(identity, ix.dataStream ?? ix.name, NEEDS.read));
    const hits = readable.flatMap((ix) => [...ix.docs.values()]).filter(filter);
    const shards = { total: readable.length, successful: readable.length, skipped: 0, failed: 0 };
    if (count) return { status: 200, body: { count: hits.length, _shards: shards } };
    let aggregations: Json | undefined;
    if (body.aggs !== undefined || body.aggregations !== undefined) {
      const result = aggregate(body.aggs ?? body.aggregations, hits);
      if ('refused' in result) return result.refused;
      aggregations = result.aggregations;
    }
    const sizeParam = ctx.url.searchParams.get('size');
    const size = typeof body.size === 'number' ? body.size : sizeParam !== null ? Number(sizeParam) : 10;
    const from = typeof body.from === 'number' ? body.from : 0;
    return {
      status: 200,
      body: {
        took: 1,
        timed_out: false,
        _shards: shards,
        hits: {
          total: { value: hits.length, relation: 'eq' },
          max_score: hits.length > 0 ? 1 : null,
          hits: hits.slice(from, from + size).map((d) => ({ _index: d.index, _id: d.id, _score: 1, _source: d.source })),
        },
        ...(aggregations === undefined ? {} : { aggregations }),
      },
    };
  }

  const es = (): boolean => isEs;
  const os = (): boolean => !isEs;
  const seg = '([^/]+)';
  const routes: readonly Route[] = [
    { path: /^\/$/, methods: { GET: onInfo, HEAD: onInfo } },
    { path: /^\/_bulk$/, methods: { POST: onBulk, PUT: onBulk }, bulk: true },
    { path: /^\/_security\/user\/_has_privileges$/, methods: { GET: onHasPrivileges, POST: onHasPrivileges }, when: es },
    { path: /^\/_security\/_authenticate$/, methods: { GET: onAuthenticate }, when: es },
    { path: /^\/_plugins\/_security\/api\/account$/, methods: { GET: onAccount }, when: () => !isEs && security },
    { path: /^\/_index_template$/, methods: { GET: onGetTemplate } },
    { path: new RegExp(`^/_index_template/${seg}$`), methods: { PUT: onPutTemplate, POST: onPutTemplate, GET: onGetTemplate, HEAD: onHeadTemplate } },
    { path: new RegExp(`^/_ilm/policy/${seg}$`), methods: { PUT: onPutIlm, GET: onGetIlm }, when: es },
    { path: new RegExp(`^/_plugins/_ism/policies/${seg}$`), methods: { PUT: onPutIsm, GET: onGetIsm }, when: os },
    { path: new RegExp(`^/_ingest/pipeline/${seg}$`), methods: { PUT: onPutPipeline, GET: onGetPipeline } },
    { path: /^\/_data_stream$/, methods: { GET: onGetDataStream } },
    { path: new RegExp(`^/_data_stream/${seg}$`), methods: { GET: onGetDataStream, PUT: onPutDataStream } },
    { path: new RegExp(`^/${seg}/_bulk$`), methods: { POST: onBulk, PUT: onBulk }, bulk: true },
    { path: new RegExp(`^/${seg}/_count$`), methods: { GET: onCount, POST: onCount } },
    { path: new RegExp(`^/${seg}/_search$`), methods: { GET: onSearch, POST: onSearch } },
  ];

  // ---- dispatch ----

  /** The first scripted whole-request failure that applies to this route, taken. */
  function takeFailure(bulk: boolean): Answer | undefined {
    const at = failures.findIndex((f) => f.scope === 'any' || bulk);
    if (at < 0) return undefined;
    return failures.splice(at, 1)[0]!.answer;
  }

  function respond(ctx: Ctx, answer: Answer): Response {
    const params: Record<string, string> = {};
    for (const [k, val] of ctx.url.searchParams) params[k] = val;
    log.push({
      method: ctx.method,
      path: ctx.url.pathname,
      query: params,
      status: answer.status,
      contentEncoding: ctx.request.headers.get('content-encoding') ?? undefined,
      bytes: ctx.body.length,
      decodedBytes: ctx.decodedBytes,
      items: ctx.items,
      failedItems: ctx.failedItems,
      user: security ? ctx.identity?.user.username : undefined,
      authScheme: ctx.identity?.scheme ?? parseAuthorization(ctx.request.headers.get('authorization') ?? '')?.scheme,
      pipeline: ctx.url.searchParams.get('pipeline') ?? undefined,
    });
    if (log.length >= 2 * REQUEST_LOG_SIZE) log = log.slice(-REQUEST_LOG_SIZE);

    const headers = new Headers();
    // The product header Elasticsearch 7.14+ sends and its clients check; OpenSearch sends none.
    if (isEs) headers.set('x-elastic-product', 'Elasticsearch');
    for (const [name, value] of Object.entries(answer.headers ?? {})) {
      if (typeof value === 'string') headers.set(name, value);
      else for (const one of value) headers.append(name, one);
    }
    if (answer.body === undefined) return new HttpResponse(null, { status: answer.status, headers });
    if (typeof answer.body === 'string') {
      headers.set('content-type', answer.contentType ?? (answer.body.startsWith('<') ? 'text/html' : 'text/plain; charset=UTF-8'));
      return new HttpResponse(answer.body, { status: answer.status, headers });
    }
    const accept = ctx.request.headers.get('accept') ?? '';
    headers.set('content-type', isEs && accept.includes('application/vnd.elasticsearch+json') ? `application/vnd.elasticsearch+json;compatible-with=${v[0]}` : 'application/json');
    return new HttpResponse(JSON.stringify(answer.body), { status: answer.status, headers });
  }

  /**
   * Elasticsearch reads bodies of GET requests (`_search`, `_count`, `_has_privileges`); Fetch cannot carry them, so the socket
   * layer hands them over beside the Request.
   */
  const getBodies = new WeakMap<Request, Buffer>();
  const bodyOf = async (request: Request): Promise<Buffer> => getBodies.get(request) ?? Buffer.from(await request.arrayBuffer());

  async function dispatch(route: Route, request: Request, segments: readonly string[]): Promise<Response> {
    const url = new URL(request.url);
    const body = await bodyOf(request);
    const ctx: Ctx = {
      request,
      url,
      body,
      method: request.method,
      pathForErrors: `${url.pathname}${url.search}`,
      identity: undefined,
      decodedBytes: 0,
      items: 0,
      failedItems: 0,
    };
    const fn = route.methods[request.method];
    if (fn === undefined) {
      const allowed = Object.keys(route.methods);
      return respond(ctx, restError(405, `Incorrect HTTP method for uri [${ctx.pathForErrors}] and method [${request.method}], allowed: [${allowed.join(', ')}]`, { allow: allowed.join(',') }));
    }
    // http.max_content_length is enforced by the HTTP layer, before authentication; its 413 has an empty body (elastic/elasticsearch#76705).
    if (!measureDecoded && body.length > maxContentLength) return respond(ctx, { status: 413, body: undefined });
    const identity = authenticate(ctx);
    if (!('user' in identity)) return respond(ctx, identity);
    ctx.identity = identity;
    // Scripted failures act on authenticated requests before they are looked at, as an overloaded node or a proxy would.
    const scripted = takeFailure(route.bulk === true);
    if (scripted !== undefined) return respond(ctx, scripted);
    return respond(ctx, await fn(ctx, segments));
  }

  function urlPattern(path: RegExp): RegExp {
    // msw matches a RegExp against the whole URL without its query.
    return new RegExp(`^https?://[^/]+${path.source.slice(1)}`);
  }

  const handlers: readonly HttpHandler[] = [
    ...routes.map((route) =>
      http.all(urlPattern(route.path), async ({ request }) => {
        if (route.when !== undefined && !route.when()) return undefined;
        const m = route.path.exec(new URL(request.url).pathname)!;
        return dispatch(route, request, m.slice(1).map((s) => decodeURIComponent(s)));
      }),
    ),
    http.all(/.*/, async ({ request }) => {
      const url = new URL(request.url);
      const ctx: Ctx = {
        request,
        url,
        body: await bodyOf(request),
        method: request.method,
        pathForErrors: `${url.pathname}${url.search}`,
        identity: undefined,
        decodedBytes: 0,
        items: 0,
        failedItems: 0,
      };
      // With security on, authentication comes first (an OpenSearch security plugin answers 401 before routing).
      if (security) {
        const identity = authenticate(ctx);
        if (!('user' in identity)) return respond(ctx, identity);
        ctx.identity = identity;
      }
      // Both flavours: 400 and a flat error for a path no handler serves (opensearch-project/security#1998).
      return respond(ctx, restError(400, `no handler found for uri [${ctx.pathForErrors}] and method [${request.method}]`));
    }),
  ];

  // ---- the socket ----

  const tlsOptions = options.tls;
  const scheme = tlsOptions === undefined ? 'http' : 'https';
  const host = '127.0.0.1';
  let port = options.port ?? 0;

  async function serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let body: Buffer;
    try {
      body = await readBody(req);
    } catch {
      return; // the client (or stop()) closed the connection mid-body
    }
    try {
      const url = new URL(req.url ?? '/', `${scheme}://${host}:${port}`);
      const headers = fetchHeadersOf(req);
      const method = req.method ?? 'GET';
      const bodiless = method === 'GET' || method === 'HEAD';
      const request = new Request(url, { method, headers, ...(bodiless ? {} : { body }) });
      if (bodiless && body.length > 0) getBodies.set(request, body);
      const response = (await getResponse(handlers as HttpHandler[], request))!;
      await writeFetchResponse(res, response, method, (r, out) => {
        const challenge = r.headers.get('www-authenticate');
        r.headers.forEach((value, name) => {
          if (name !== 'www-authenticate') out.setHeader(name, value);
        });
        // Fetch Headers join repeated values with ", "; Elasticsearch sends one WWW-Authenticate line per challenge.
        if (challenge !== null) out.setHeader('www-authenticate', isEs ? ES_CHALLENGES : challenge);
      });
    } catch (e) {
      // A bug in the fake, not an Elasticsearch answer: plain text, so no client can mistake it for one.
      fakeFailed(res, 'fake Elasticsearch', e);
    }
  }

  const listener = (req: IncomingMessage, res: ServerResponse): void => void serve(req, res);
  const server: Server = httpOrHttpsServer(listener, tlsOptions);
  const connections = trackConnections([server]);

  let closed = false;

  async function start(): Promise<void> {
    if (closed) throw new Error('fake Elasticsearch: start() after close()');
    if (server.listening) return;
    port = await listenOn(server, port, host);
  }

  const stop = (): Promise<void> => connections.stop();

  await start();

  return {
    url: `${scheme}://${tlsOptions === undefined ? host : 'localhost'}:${port}`,
    port,
    flavour,
    version,
    handlers,
    documents: (target) => heldIn(target),
    documentIds: (target) => heldIn(target).map((d) => d.id),
    deleteDocuments(ids) {
      const drop = new Set(ids);
      let removed = 0;
      for (const ix of indexes.values()) {
        for (const id of drop) if (ix.docs.delete(id)) removed++;
      }
      return removed;
    },
    document(target, id) {
      const ds = dataStreams.get(target);
      if (ds !== undefined) {
        for (let k = ds.backing.length - 1; k >= 0; k--) {
          const found = ds.backing[k]!.docs.get(id);
          if (found !== undefined) return found;
        }
        return undefined;
      }
      return indexes.get(target)?.docs.get(id);
    },
    indices: () => [...indexes.keys()],
    dataStreams: () =>
      [...dataStreams.values()].map((d) => ({ name: d.name, template: d.template, timestampField: d.timestampField, backingIndices: d.backing.map((b) => b.name) })),
    requests: () => log.slice(-REQUEST_LOG_SIZE),
    rejectItems(which, status, type, reason) {
      if (typeof which === 'function') itemPredicates.push({ predicate: which, status, type, reason });
      else for (let k = 0; k < which; k++) itemCounts.push({ status, type, reason });
    },
    failNext(n, status, body, failOptions) {
      const headers: Record<string, string> = { ...(failOptions?.headers ?? {}) };
      if (failOptions?.retryAfterSec !== undefined) headers['retry-after'] = String(failOptions.retryAfterSec);
      let answer: Answer;
      if (body !== undefined) answer = { status, body, headers };
      else if (status === 429) {
        answer = {
          ...esError(429, 'es_rejected_execution_exception', `rejected execution of coordinating operation [coordinating_and_primary_bytes=0, replica_bytes=0, all_bytes=0, coordinating_operation_bytes=1048576, max_coordinating_and_primary_bytes=107374182]`),
          headers,
        };
      } else if (status === 503) answer = { ...esError(503, 'cluster_block_exception', 'blocked by: [SERVICE_UNAVAILABLE/2/no master];'), headers };
      else if (status === 502) answer = { status, body: PROXY_502, contentType: 'text/html', headers };
      else answer = { ...esError(status, 'exception', `scripted failure ${status}`), headers };
      for (let k = 0; k < n; k++) failures.push({ answer, scope: failOptions?.scope ?? 'bulk' });
    },
    refuseDocument(predicate, refuseOptions) {
      refusals.push({ predicate, field: refuseOptions?.field, type: refuseOptions?.type, reason: refuseOptions?.reason });
    },
    clearScripts() {
      failures = [];
      itemCounts = [];
      itemPredicates = [];
      refusals = [];
    },
    rollover(name) {
      const ds = dataStreams.get(name);
      if (ds === undefined) throw new Error(`fake Elasticsearch: no data stream ${name}`);
      ds.generation++;
      const next = createIndex(backingName(name, ds.generation), name);
      ds.backing.push(next);
      return next.name;
    },
    stop,
    start,
    async restart(downMs = 0) {
      await stop();
      if (downMs > 0) await new Promise((resolve) => setTimeout(resolve, downMs));
      await start();
    },
    async close() {
      closed = true;
      await stop();
    },
  };
}
