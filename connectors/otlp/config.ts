// Configuration schema of the `otlp` sink: OpenTelemetry log records over OTLP (http/protobuf, http/json or gRPC).
import { z } from 'zod';
import { httpUrl, nonEmptyString, reportIssue } from '../../src/config/types.ts';
import { httpAuth, httpOptions, tlsOptions } from '../../src/net/config.ts';

export const OTLP_PROTOCOLS = ['http/protobuf', 'http/json', 'grpc'] as const;
export type OtlpProtocol = (typeof OTLP_PROTOCOLS)[number];

/** OTLP/HTTP's default path for logs (the spec's `/v1/logs`, appended to the endpoint as OTEL_EXPORTER_OTLP_ENDPOINT does). */
export const DEFAULT_LOGS_PATH = '/v1/logs';

const urlPath = (): z.ZodType<string> =>
  nonEmptyString('a URL path starting with /').check((ctx) => {
    if (!ctx.value.startsWith('/') || /[\s?#]/.test(ctx.value)) reportIssue(ctx, { expected: 'a URL path starting with / (no query)' }, ctx.value);
  });

export const otlpSinkSchema = z
  .strictObject({
    type: z.literal('otlp'),
    /** Records are OTLP log records: only the `otlp-json` mapping makes them (the sink encodes them itself). */
    mapping: z.enum(['otlp-json']).default('otlp-json'),
    /** The receiver: `https://collector.example.com:4318` (http/*) or `https://collector.example.com:4317` (grpc). */
    url: httpUrl(),
    /** `http/protobuf` (default), `http/json` or `grpc`. */
    protocol: z.enum(OTLP_PROTOCOLS).default('http/protobuf'),
    /** http/*: the logs path appended to `url` (default `/v1/logs`). */
    path: urlPath().optional(),
    /** Credentials sent as `Authorization` (bearer, basic, apiKey); vendor keys go in `http.headers`. */
    auth: httpAuth().optional(),
    /** TLS: `caFile`, `certFile` + `keyFile` (mutual TLS), `serverName`. Verification is always on. */
    tls: tlsOptions(),
    /** `timeout`, `concurrency`, `gzip` (off by default; http/* bodies and gRPC messages), `headers` / `headerFiles` (also sent as gRPC metadata). */
    http: httpOptions({ gzip: false }),
    /**
     * Resource attributes added to every record's resource (over the mapping's `service.name` …), e.g.
     * `{ deployment.environment.name: production }`. Kubernetes attributes come from the environment too (docs).
     */
    resource: z.record(nonEmptyString('a resource attribute name'), z.string()).default({}),
  })
  .superRefine((c, ctx) => {
    if (c.protocol === 'grpc' && c.path !== undefined) {
      reportIssue(ctx, { text: 'path is for http/protobuf and http/json: gRPC calls LogsService/Export' }, undefined, ['path']);
    }
  })
  .transform((c) => ({ ...c, path: c.path ?? DEFAULT_LOGS_PATH }));

export type OtlpSinkConfig = z.output<typeof otlpSinkSchema>;
