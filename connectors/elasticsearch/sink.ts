// The `elasticsearch` sink: ECS documents through `_bulk` with `create` and the event id as `_id`, each item acknowledged, retried or dead-lettered.
import type { ConnectorContext } from '../../src/contracts/connector.ts';
import type { SendOutcome } from '../../src/contracts/outcome.ts';
import type { CheckContext, CheckResult, DeliveryStrength, Sink, SinkBatch } from '../../src/contracts/sink.ts';
import { CredentialValueError } from '../../src/net/auth.ts';
import { unansweredOutcome, type HttpReply } from '../../src/net/http.ts';
import { describeProbeFailure } from '../../src/net/probe.ts';
import { bulkOutcome, errorOf, requestOutcome } from './classify.ts';
import { ELASTICSEARCH_ROUTE_OPTIONS, type ElasticsearchSinkConfig } from './config.ts';
import { bulkBody, type Target } from './encoder.ts';
import { DEFAULT_DATA_STREAM_PATTERNS, DEFAULT_PRIORITY, ilmPolicy, indexTemplate, ismPolicy, type SearchFlavor } from './template.ts';
import { createElasticsearchTransport, type ElasticsearchTransport } from './transport.ts';
import { createSendTracker } from '../../src/delivery/sends.ts';

const STRENGTH: DeliveryStrength = {
  level: 'acknowledged',
  detail: "each document's own status in the bulk answer (written to the shard's translog); a resent document answers 409 and counts as delivered",
};

/** Data stream type of the documents (the `logs` of `logs-<dataset>-<namespace>`). */
const DATA_STREAM_TYPE = 'logs';

/** The default datasets of the `ecs` mapping, and the route option that replaces them. */
const DEFAULT_DATASETS = ['cofide.audit', 'ibm.cadf_audit'] as const;
const DATASET_OPTION = 'ecsDataset';

/** Where this sink writes for a route with `options` (its mappingOptions). */
export function targetFor(config: ElasticsearchSinkConfig, options: Readonly<Record<string, string>> | undefined): Target {
  const index = options?.[ELASTICSEARCH_ROUTE_OPTIONS.index] ?? config.index;
  if (index !== undefined) return { kind: 'index', pattern: index };
  return { kind: 'data-stream', type: DATA_STREAM_TYPE, namespace: options?.[ELASTICSEARCH_ROUTE_OPTIONS.namespace] ?? config.namespace };
}

/** The index template's name for a sink: one per sink configuration, so two sinks never overwrite each other's. */
export const templateName = (sink: string): string => `audit-forwarder-${sink}`;

/** The patterns of the data streams or indices the routes write to (a date pattern's parts as `*`). */
export function patternsFor(config: ElasticsearchSinkConfig, routeOptions: ReadonlyArray<Readonly<Record<string, string>>>): { dataStream: boolean; patterns: string[] } {
  const all = routeOptions.length === 0 ? [undefined] : routeOptions;
  const targets = all.map((o) => ({ target: targetFor(config, o), dataset: o?.[DATASET_OPTION] }));
  const indices = targets.flatMap((t) => (t.target.kind === 'index' ? [t.target.pattern.replace(/\{(yyyy|MM|dd|HH)\}/g, '*')] : []));
  if (indices.length > 0 && indices.length < targets.length) {
    // A template is either for data streams or for indices: the indices' routes then get their own sink.
    throw new TypeError('some routes of this sink write to an index and others to data streams: give them separate sinks');
  }
  if (indices.length > 0) return { dataStream: false, patterns: [...new Set(indices)] };
  const datasets = new Set(targets.map((t) => t.dataset).filter((d): d is string => d !== undefined));
  const patterns = datasets.size === 0 ? [...DEFAULT_DATA_STREAM_PATTERNS] : [...DEFAULT_DATA_STREAM_PATTERNS, ...[...datasets].map((d) => `${DATA_STREAM_TYPE}-${d}-*`)];
  return { dataStream: true, patterns: [...new Set(patterns)] };
}

/** The names `check` asks privileges for: each data stream (per dataset and namespace) or index pattern. */
function namesFor(config: ElasticsearchSinkConfig, routeOptions: ReadonlyArray<Readonly<Record<string, string>>>): string[] {
  const all = routeOptions.length === 0 ? [undefined] : routeOptions;
  const names = new Set<string>();
  for (const o of all) {
    const t = targetFor(config, o);
    if (t.kind === 'index') names.add(t.pattern.replace(/\{(yyyy|MM|dd|HH)\}/g, '*'));
    else for (const d of o?.[DATASET_OPTION] !== undefined ? [o[DATASET_OPTION]] : DEFAULT_DATASETS) names.add(`${t.type}-${d}-${t.namespace}`);
  }
  return [...names];
}

/** The cluster, as its root answers. */
interface ClusterInfo {
  readonly flavor: SearchFlavor;
  readonly version: string;
  readonly name?: string;
}

function clusterInfo(reply: HttpReply): ClusterInfo | undefined {
  try {
    const json = JSON.parse(reply.text()) as { version?: { number?: unknown; distribution?: unknown }; cluster_name?: unknown };
    if (typeof json.version?.number !== 'string') return undefined;
    return {
      flavor: json.version.distribution === 'opensearch' ? 'opensearch' : 'elasticsearch',
      version: json.version.number,
      ...(typeof json.cluster_name === 'string' ? { name: json.cluster_name } : {}),
    };
  } catch {
    return undefined;
  }
}

export function createElasticsearchSink(name: string, config: ElasticsearchSinkConfig, context: ConnectorContext): Sink & { setup(routeOptions: ReadonlyArray<Readonly<Record<string, string>>>, options: SetupOptions): Promise<string[]> } {
  const { logger } = context;
  const transport: ElasticsearchTransport = createElasticsearchTransport(config, {
    changed: (s) => {
      if (s.generation > 1) logger.info({ sink: name }, 'elasticsearch: TLS files changed; new requests use a new connection');
    },
    keptPrevious: (e) => logger.warn({ sink: name, reason: e.message }, 'elasticsearch: TLS files changed but cannot be used yet; keeping the previous ones'),
  });
  const target = targetFor(config, context.route?.mappingOptions);
  const sends = createSendTracker();
  let closing: Promise<void> | undefined;

  async function sendOnce(batch: SinkBatch, signal: AbortSignal): Promise<SendOutcome> {
    let reply: HttpReply;
    try {
      reply = await transport.bulk(bulkBody(batch.records, target), signal);
    } catch (error) {
      // The cluster may have indexed the request before the connection failed: the resend answers 409 for those.
      return unansweredOutcome(error, signal, 'Elasticsearch');
    }
    const now = Date.now();
    if (reply.status !== 200) return requestOutcome(reply.status, reply.text(), reply.retryAfter, now);
    if (reply.truncated) return { status: 'retryable', reason: 'the bulk answer was too long to read whole; the batch is sent again (its documents answer 409)' };
    return bulkOutcome(reply.text(), batch.records.length, undefined);
  }

  /** One request for `check` and `setup`: the answer, or the network failure in words a person can act on. */
  async function probe(method: 'GET' | 'PUT' | 'POST', path: string, body?: unknown): Promise<{ reply: HttpReply } | { failure: string }> {
    try {
      return { reply: await transport.json(method, path, body, AbortSignal.timeout(config.http.timeout)) };
    } catch (error) {
      if (error instanceof CredentialValueError) return { failure: `bad credentials: ${error.message}` };
      if ((error as Error).name === 'TimeoutError') return { failure: `no answer within ${config.http.timeout} ms` };
      const tls = await transport.client.tlsState().catch(() => undefined);
      return { failure: await describeProbeFailure(error, { url: config.url, timeoutMs: config.http.timeout, ...(tls === undefined ? {} : { tls: tls.options }) }) };
    }
  }

  const answered = (reply: HttpReply): string => `HTTP ${reply.status}${errorOf(reply.text()) !== undefined ? ` ${errorOf(reply.text())}` : ''}`;

  /**
   * The cluster's root: reachable, credentials, flavour and version; or why not. Credentials that may only write
   * documents (what the sink needs) cannot read the root (403, no `monitor` privilege): they are valid, and the
   * flavour is found out by the privileges request.
   */
  async function root(): Promise<{ info: ClusterInfo | undefined } | { failure: string }> {
    const res = await probe('GET', '/');
    if ('failure' in res) return res;
    if (res.reply.status === 401) return { failure: `credentials refused (${answered(res.reply)}): check auth` };
    if (res.reply.status === 403) return { info: undefined };
    const info = res.reply.status === 200 ? clusterInfo(res.reply) : undefined;
    if (info === undefined) return { failure: `${answered(res.reply)} is not Elasticsearch's or OpenSearch's answer: is url the cluster's?` };
    return { info };
  }

  async function check(ctx?: CheckContext): Promise<CheckResult> {
    const parts: string[] = [];
    let ok = true;
    const cluster = await root();
    if ('failure' in cluster) return { ok: false, detail: cluster.failure };
    const { info } = cluster;
    parts.push(
      info === undefined
        ? "reachable; credentials valid (they may not read the cluster's root: version not checked)"
        : `reachable: ${info.flavor} ${info.version}${info.name !== undefined ? ` (cluster ${info.name})` : ''}; credentials valid`,
    );
    const routeOptions = ctx?.routeOptions ?? [];
    const names = namesFor(config, routeOptions);
    if (info?.flavor !== 'opensearch') {
      const index = [{ names, privileges: ['create_doc'] }, ...(target.kind === 'data-stream' ? [{ names, privileges: ['auto_configure'] }] : [])];
      const res = await probe('POST', '/_security/user/_has_privileges', { index });
      if ('failure' in res) return { ok: false, detail: [...parts, `privileges: ${res.failure}`].join('; ') };
      if (res.reply.status === 200) {
        const answer = JSON.parse(res.reply.text()) as { has_all_requested?: boolean; index?: Record<string, Record<string, boolean>> };
        if (answer.has_all_requested === true) parts.push(`may write to ${names.join(', ')}`);
        else {
          ok = false;
          const missing = Object.entries(answer.index ?? {}).flatMap(([n, p]) => Object.entries(p).filter(([, has]) => !has).map(([priv]) => `${priv} on ${n}`));
          parts.push(`missing privileges: ${missing.join(', ') || 'some'} (grant them to the API key or user)`);
        }
      } else parts.push(`privileges not checked (${answered(res.reply)}: security off?)`);
    } else parts.push('privileges not checked on OpenSearch (the bulk answer will say)');

    const template = await probe('GET', `/_index_template/${templateName(name)}`);
    if ('failure' in template) parts.push(`index template: ${template.failure}`);
    else if (template.reply.status === 200) parts.push(`index template ${templateName(name)} installed`);
    else if (template.reply.status === 404) {
      parts.push(
        `warning: no index template ${templateName(name)}: run \`audit-forwarder setup elasticsearch -c <config>\` (without it the cluster's own templates map the fields, @timestamp in milliseconds)`,
      );
    } else parts.push(`index template not checked (${answered(template.reply)})`);
    return { ok, detail: parts.join('; ') };
  }

  async function setup(routeOptions: ReadonlyArray<Readonly<Record<string, string>>>, options: SetupOptions): Promise<string[]> {
    const done: string[] = [];
    const cluster = await root();
    if ('failure' in cluster) throw new Error(cluster.failure);
    if (cluster.info === undefined) {
      throw new Error("the credentials may not read the cluster's root: run setup with credentials that may manage index templates (manage_index_templates, and manage_ilm for --lifecycle)");
    }
    const { flavor } = cluster.info;
    done.push(`${config.url}: ${flavor} ${cluster.info.version}`);
    const { dataStream, patterns } = patternsFor(config, routeOptions);
    const policy = templateName(name);
    const put = async (path: string, body: unknown, what: string): Promise<void> => {
      const res = await probe('PUT', path, body);
      if ('failure' in res) throw new Error(`${what}: ${res.failure}`);
      if (res.reply.status >= 300) throw new Error(`${what}: ${answered(res.reply)}`);
      done.push(what);
    };
    let withPolicy = false;
    if (options.lifecycle) {
      if (!dataStream) done.push(`lifecycle: not installed for plain indices (${patterns.join(', ')}): give them the retention your policy needs`);
      else if (flavor === 'elasticsearch') {
        await put(`/_ilm/policy/${policy}`, ilmPolicy(), `ILM policy ${policy} (rollover at 50gb per primary shard or 30d; nothing deleted)`);
        withPolicy = true;
      } else {
        // Before the template: ISM attaches a policy to indices created after it exists.
        const res = await probe('PUT', `/_plugins/_ism/policies/${policy}`, ismPolicy({ patterns }));
        if ('failure' in res) throw new Error(`ISM policy: ${res.failure}`);
        if (res.reply.status === 409) done.push(`ISM policy ${policy} exists already (kept as it is)`);
        else if (res.reply.status >= 300) throw new Error(`ISM policy ${policy}: ${answered(res.reply)}`);
        else done.push(`ISM policy ${policy} (rollover at 50gb per primary shard or 30d; nothing deleted)`);
      }
    }
    const body = indexTemplate({ dataStream, patterns, flavor, priority: options.priority ?? DEFAULT_PRIORITY, ...(withPolicy ? { ilmPolicy: policy } : {}) });
    await put(`/_index_template/${templateName(name)}`, body, `index template ${templateName(name)} for ${patterns.join(', ')}${dataStream ? ' (data streams)' : ''}`);
    return done;
  }

  return {
    type: 'elasticsearch',
    needsValue: true,
    name,
    strength: STRENGTH,
    send: (batch, signal) => sends.track(sendOnce(batch, signal)),
    check: (ctx) => check(ctx).catch((error: unknown) => ({ ok: false, detail: `check failed: ${(error as Error).message}` })),
    setup,
    close() {
      closing ??= (async () => {
        await sends.settled();
        await transport.close();
      })();
      return closing;
    },
  };
}

export interface SetupOptions {
  /** Also install a lifecycle policy (ILM on Elasticsearch, ISM on OpenSearch) for the data streams. */
  readonly lifecycle: boolean;
  /** Index template priority; default `DEFAULT_PRIORITY` (above the built-in `logs` template's 100). */
  readonly priority?: number;
}
