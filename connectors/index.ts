// The connector registry: the only place the engine learns which sources and sinks exist.
import type { ConnectorRegistry, SinkConnector, SourceConnector } from '../src/contracts/connector.ts';
import { auditFilesSourceSchema, type AuditFilesSourceConfig } from './audit-files/config.ts';
import { createAuditFilesSource } from './audit-files/source.ts';
import { connectSource } from './connect/index.ts';
import { discardSinkSchema, type DiscardSinkConfig } from './discard/config.ts';
import { createDiscardSink } from './discard/sink.ts';
import { fileSinkSchema, type FileSinkConfig } from './file/config.ts';
import { createFileSink } from './file/sink.ts';
import { ELASTICSEARCH_ROUTE_OPTIONS, elasticsearchSinkSchema, type ElasticsearchSinkConfig } from './elasticsearch/config.ts';
import { createElasticsearchSink } from './elasticsearch/sink.ts';
import { otlpSinkSchema, type OtlpSinkConfig } from './otlp/config.ts';
import { createOtlpSink } from './otlp/sink.ts';
import { splunkHecSinkSchema, type SplunkHecSinkConfig } from './splunk-hec/config.ts';
import { syslogSinkSchema, type SyslogSinkConfig } from './syslog/config.ts';
import { createSyslogSink } from './syslog/sink.ts';
import { createSplunkHecSink } from './splunk-hec/sink.ts';
import { jsonlSourceSchema, type JsonlSourceConfig } from './jsonl/config.ts';
import { createJsonlSource } from './jsonl/source.ts';
import { stdoutSinkSchema, type StdoutSinkConfig } from './stdout/config.ts';
import { createStdoutSink } from './stdout/sink.ts';

const jsonl: SourceConnector<JsonlSourceConfig> = {
  type: 'jsonl',
  schema: jsonlSourceSchema,
  create: createJsonlSource,
  origin: (c) => (c.format === 'connect' ? 'connect' : c.format === 'cadf' ? 'cadf' : 'mixed'),
};

const auditFiles: SourceConnector<AuditFilesSourceConfig> = {
  type: 'audit-files',
  schema: auditFilesSourceSchema,
  create: createAuditFilesSource,
  origin: () => 'cadf',
};

const file: SinkConnector<FileSinkConfig> = { type: 'file', schema: fileSinkSchema, create: createFileSink };
const stdout: SinkConnector<StdoutSinkConfig> = { type: 'stdout', schema: stdoutSinkSchema, create: (n, c) => createStdoutSink(n, c) };
const splunkHec: SinkConnector<SplunkHecSinkConfig> = { type: 'splunk-hec', schema: splunkHecSinkSchema, create: createSplunkHecSink };
const elasticsearch: SinkConnector<ElasticsearchSinkConfig> = {
  type: 'elasticsearch',
  schema: elasticsearchSinkSchema as never,
  options: Object.values(ELASTICSEARCH_ROUTE_OPTIONS),
  create: createElasticsearchSink,
  async setup(name, config, context, request) {
    const sink = createElasticsearchSink(name, config, context);
    try {
      return await sink.setup(request.routeOptions, { lifecycle: request.lifecycle, ...(request.priority !== undefined ? { priority: request.priority } : {}) });
    } finally {
      await sink.close();
    }
  },
};
const syslog: SinkConnector<SyslogSinkConfig> = { type: 'syslog', schema: syslogSinkSchema as never, create: createSyslogSink };
const otlp: SinkConnector<OtlpSinkConfig> = { type: 'otlp', schema: otlpSinkSchema as never, create: createOtlpSink };
const discard: SinkConnector<DiscardSinkConfig> = { type: 'discard', schema: discardSinkSchema, create: createDiscardSink };

export const connectors: ConnectorRegistry = {
  sources: new Map<string, SourceConnector>([
    [jsonl.type, jsonl as unknown as SourceConnector],
    [connectSource.type, connectSource as unknown as SourceConnector],
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
