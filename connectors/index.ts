// The connector registry: the only place the engine learns which sources and sinks exist.
// Each entry holds its configuration schema (light: zod) and imports its implementation on `load`, so that a
// process pays only for the connectors its configuration names (`--help` or a `map` loads none; a HEC route
// never loads the PostgreSQL driver, gRPC or OpenTelemetry).
import type { ConnectorContext, ConnectorRegistry, SinkConnector, SinkSetupRequest, SourceConnector } from '../src/contracts/connector.ts';
import type { Sink } from '../src/contracts/sink.ts';
import type { SinkQuery } from '../src/contracts/sink-query.ts';
import type { Source } from '../src/contracts/source.ts';
import { auditFilesSourceSchema, type AuditFilesSourceConfig } from './audit-files/config.ts';
import { connectSourceSchema, type ConnectSourceConfig } from './connect/config.ts';
import { discardSinkSchema, type DiscardSinkConfig } from './discard/config.ts';
import { ELASTICSEARCH_ROUTE_OPTIONS, elasticsearchSinkSchema, type ElasticsearchSinkConfig } from './elasticsearch/config.ts';
import { fileSinkSchema, type FileSinkConfig } from './file/config.ts';
import { jsonlSourceSchema, type JsonlSourceConfig } from './jsonl/config.ts';
import { otlpSinkSchema, type OtlpSinkConfig } from './otlp/config.ts';
import { splunkHecSinkSchema, type SplunkHecSinkConfig } from './splunk-hec/config.ts';
import { stdoutSinkSchema, type StdoutSinkConfig } from './stdout/config.ts';
import { syslogSinkSchema, type SyslogSinkConfig } from './syslog/config.ts';

type Factory<C, T> = (name: string, config: C, context: ConnectorContext) => T;

/** A factory imported on first `load()`; calling it before is a bug of the caller, said as such. */
function lazy<C, T>(kind: string, type: string, importer: () => Promise<Factory<C, T>>): { load(): Promise<void>; create: Factory<C, T> } {
  let factory: Factory<C, T> | undefined;
  let loading: Promise<void> | undefined;
  return {
    load: () =>
      (loading ??= importer().then((f) => {
        factory = f;
      })),
    create: (name, config, context) => {
      if (factory === undefined) throw new TypeError(`${kind} connector ${type} used before load() (call loadConnectors first)`);
      return factory(name, config, context);
    },
  };
}

const jsonl: SourceConnector<JsonlSourceConfig> = {
  type: 'jsonl',
  schema: jsonlSourceSchema,
  ...lazy<JsonlSourceConfig, Source>('source', 'jsonl', async () => (await import('./jsonl/source.ts')).createJsonlSource),
  origin: (c) => (c.format === 'connect' ? 'connect' : c.format === 'cadf' ? 'cadf' : 'mixed'),
};

const auditFiles: SourceConnector<AuditFilesSourceConfig> = {
  type: 'audit-files',
  schema: auditFilesSourceSchema,
  ...lazy<AuditFilesSourceConfig, Source>('source', 'audit-files', async () => (await import('./audit-files/source.ts')).createAuditFilesSource),
  origin: () => 'cadf',
};

const connect: SourceConnector<ConnectSourceConfig> = {
  type: 'connect',
  schema: connectSourceSchema as never,
  ...lazy<ConnectSourceConfig, Source>('source', 'connect', async () => (await import('./connect/index.ts')).createConnect),
  origin: () => 'connect',
};

const file: SinkConnector<FileSinkConfig> = {
  type: 'file',
  schema: fileSinkSchema,
  ...lazy<FileSinkConfig, Sink>('sink', 'file', async () => (await import('./file/sink.ts')).createFileSink),
};
const stdout: SinkConnector<StdoutSinkConfig> = {
  type: 'stdout',
  schema: stdoutSinkSchema,
  ...lazy<StdoutSinkConfig, Sink>('sink', 'stdout', async () => {
    const { createStdoutSink } = await import('./stdout/sink.ts');
    return (n, c) => createStdoutSink(n, c);
  }),
};
const discard: SinkConnector<DiscardSinkConfig> = {
  type: 'discard',
  schema: discardSinkSchema,
  ...lazy<DiscardSinkConfig, Sink>('sink', 'discard', async () => (await import('./discard/sink.ts')).createDiscardSink),
};
const splunkHecImpl = lazy<SplunkHecSinkConfig, Sink>('sink', 'splunk-hec', async () => (await import('./splunk-hec/sink.ts')).createSplunkHecSink);
const splunkHecQuery = lazy<SplunkHecSinkConfig, SinkQuery>('sink', 'splunk-hec', async () => (await import('./splunk-hec/query.ts')).createSplunkHecQuery);
const splunkHec: SinkConnector<SplunkHecSinkConfig> = {
  type: 'splunk-hec',
  schema: splunkHecSinkSchema,
  load: async () => {
    await Promise.all([splunkHecImpl.load(), splunkHecQuery.load()]);
  },
  create: splunkHecImpl.create,
  query: splunkHecQuery.create,
};
const elasticsearchImpl = lazy<ElasticsearchSinkConfig, ReturnType<typeof import('./elasticsearch/sink.ts').createElasticsearchSink>>(
  'sink',
  'elasticsearch',
  async () => (await import('./elasticsearch/sink.ts')).createElasticsearchSink,
);
const elasticsearchQuery = lazy<ElasticsearchSinkConfig, SinkQuery>('sink', 'elasticsearch', async () => (await import('./elasticsearch/query.ts')).createElasticsearchQuery);
const elasticsearch: SinkConnector<ElasticsearchSinkConfig> = {
  type: 'elasticsearch',
  schema: elasticsearchSinkSchema as never,
  options: Object.values(ELASTICSEARCH_ROUTE_OPTIONS),
  load: async () => {
    await Promise.all([elasticsearchImpl.load(), elasticsearchQuery.load()]);
  },
  create: elasticsearchImpl.create,
  query: elasticsearchQuery.create,
  async setup(name: string, config: ElasticsearchSinkConfig, context: ConnectorContext, request: SinkSetupRequest) {
    await elasticsearchImpl.load();
    const sink = elasticsearchImpl.create(name, config, context);
    try {
      return await sink.setup(request.routeOptions, { lifecycle: request.lifecycle, ...(request.priority !== undefined ? { priority: request.priority } : {}) });
    } finally {
      await sink.close();
    }
  },
};
const syslog: SinkConnector<SyslogSinkConfig> = {
  type: 'syslog',
  schema: syslogSinkSchema as never,
  ...lazy<SyslogSinkConfig, Sink>('sink', 'syslog', async () => (await import('./syslog/sink.ts')).createSyslogSink),
};
const otlp: SinkConnector<OtlpSinkConfig> = {
  type: 'otlp',
  schema: otlpSinkSchema as never,
  ...lazy<OtlpSinkConfig, Sink>('sink', 'otlp', async () => (await import('./otlp/sink.ts')).createOtlpSink),
};

export const connectors: ConnectorRegistry = {
  sources: new Map<string, SourceConnector>([
    [jsonl.type, jsonl as unknown as SourceConnector],
    [connect.type, connect as unknown as SourceConnector],
    [auditFiles.type, auditFiles as unknown as SourceConnector],
  ]),
  sinks: new Map<string, SinkConnector>([
    [file.type, file as unknown as SinkConnector],
    [stdout.type, stdout as unknown as SinkConnector],
    [discard.type, discard as unknown as SinkConnector],
    [splunkHec.type, splunkHec as unknown as SinkConnector],
    [elasticsearch.type, elasticsearch as unknown as SinkConnector],
    [syslog.type, syslog as unknown as SinkConnector],
    [otlp.type, otlp as unknown as SinkConnector],
  ]),
};
