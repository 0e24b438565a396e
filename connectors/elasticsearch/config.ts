// Configuration schema of the `elasticsearch` sink: ECS documents to Elasticsearch or OpenSearch through `_bulk`.
import { z } from 'zod';
import { httpUrl, nonEmptyString, reportIssue } from '../../src/config/types.ts';
import { httpAuth, httpOptions, tlsOptions } from '../../src/net/config.ts';

/** Route `mappingOptions` keys the sink reads: a route may write to its own namespace or index. */
export const ELASTICSEARCH_ROUTE_OPTIONS = Object.freeze({ namespace: 'esNamespace', index: 'esIndex' });

/** A data stream namespace (and dataset): lower case, no `-` (it separates the parts of the name), at most 100 characters. */
const NAME_PART = /^[a-z0-9][a-z0-9_.]{0,99}$/;
/** An index name (the date parts taken out): lower case, none of `\ / * ? " < > | , #` or a space, not starting with `-_+`. */
const INDEX = /^[a-z0-9{][a-z0-9_.+-]*$/;

const namespace = () =>
  nonEmptyString('a data stream namespace').check((ctx) => {
    if (!NAME_PART.test(ctx.value)) reportIssue(ctx, { expected: 'a data stream namespace (lower-case letters, digits, _ and ., no -, at most 100 characters)' }, ctx.value);
  });

const indexPattern = () =>
  nonEmptyString('an index name').check((ctx) => {
    const rest = ctx.value.replace(/\{(yyyy|MM|dd|HH)\}/g, '0');
    if (!INDEX.test(rest) || Buffer.byteLength(ctx.value) > 200) {
      reportIssue(ctx, { expected: 'an index name (lower case, no \\ / * ? " < > | , # or space), with {yyyy} {MM} {dd} {HH} for the event time' }, ctx.value);
    }
  });

/**
 * An Elastic Cloud ID, `<name>:<base64 of host$es-uuid$kibana-uuid>` (the host may carry `:port`), as the
 * cluster's HTTPS URL `https://<es-uuid>.<host>[:port]`, or undefined when it is not one.
 */
export function cloudIdUrl(cloudId: string): string | undefined {
  const colon = cloudId.indexOf(':');
  if (colon < 0) return undefined;
  const decoded = Buffer.from(cloudId.slice(colon + 1), 'base64').toString('utf8');
  const [hostPort, esUuid] = decoded.split('$');
  if (hostPort === undefined || esUuid === undefined || hostPort === '' || esUuid === '' || !/^[A-Za-z0-9.-]+(:\d+)?$/.test(hostPort)) return undefined;
  const [host, port] = hostPort.split(':');
  return `https://${esUuid}.${host}${port === undefined || port === '443' ? '' : `:${port}`}`;
}

export const elasticsearchSinkSchema = z
  .strictObject({
    type: z.literal('elasticsearch'),
    /** Documents are ECS: only the `ecs` mapping makes them. */
    mapping: z.enum(['ecs']).default('ecs'),
    /** Base URL of the cluster, `https://es.example.com:9200` (a path is kept as a prefix); or `cloudId`. */
    url: httpUrl().optional(),
    /** Elastic Cloud deployment ID (from the Cloud console), instead of `url`. */
    cloudId: nonEmptyString('an Elastic Cloud ID (name:base64…)').optional(),
    /** Credentials: `apiKey` (the API key's base64 `encoded` form), `username` + `password`, or `bearer`. */
    auth: httpAuth().optional(),
    /** Data streams `logs-<dataset>-<namespace>` (datasets `cofide.audit`, `ibm.cadf_audit`): the namespace. */
    namespace: namespace().default('default'),
    /** Write to this index instead of data streams; `{yyyy}` `{MM}` `{dd}` `{HH}` are the event's time (UTC). */
    index: indexPattern().optional(),
    /** Ingest pipeline every document goes through (`?pipeline=`). */
    pipeline: nonEmptyString('an ingest pipeline id').optional(),
    /** TLS to the cluster (src/net): `caFile`, `certFile` + `keyFile`, `serverName`. Verification is always on. */
    tls: tlsOptions(),
    /** `timeout`, `concurrency` (requests at once), `gzip` (request bodies; on by default), extra `headers`. */
    http: httpOptions({ gzip: true }),
  })
  .superRefine((c, ctx) => {
    if ((c.url === undefined) === (c.cloudId === undefined)) {
      reportIssue(ctx, { text: c.url === undefined ? 'missing key (set url, or cloudId for Elastic Cloud)' : 'set url or cloudId, not both' }, undefined, ['url']);
    } else if (c.cloudId !== undefined && cloudIdUrl(c.cloudId) === undefined) {
      reportIssue(ctx, { text: 'not an Elastic Cloud ID (expected name:base64 of host$elasticsearch-id$kibana-id, from the Cloud console)' }, undefined, ['cloudId']);
    }
  })
  .transform(({ cloudId, url, ...rest }) => ({ ...rest, url: url ?? cloudIdUrl(cloudId!)!, ...(cloudId !== undefined ? { cloudId } : {}) }));

export type ElasticsearchSinkConfig = z.output<typeof elasticsearchSinkSchema>;
