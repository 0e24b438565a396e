// Configuration schema of the `splunk-hec` sink: Splunk HTTP Event Collector, with indexer acknowledgement.
import { z } from 'zod';
import { duration, filePath, httpUrl, integer, nonEmptyString, reportIssue, withSecret } from '../../src/config/types.ts';

export const SPLUNK_HEC_DEFAULTS = Object.freeze({
  path: '/services/collector/event',
  concurrency: 4,
  timeoutMs: 30_000,
  ack: Object.freeze({ mode: 'auto' as const, pollIntervalMs: 1_000, timeoutMs: 300_000, maxPending: 64, idsPerPoll: 1000 }),
});

const urlPath = (): z.ZodType<string> =>
  nonEmptyString('a URL path starting with /').check((ctx) => {
    if (!ctx.value.startsWith('/') || /[\s?#]/.test(ctx.value)) reportIssue(ctx, { expected: 'a URL path starting with / (no query)' }, ctx.value);
  });

export const splunkHecSinkSchema = withSecret(
  {
    type: z.literal('splunk-hec'),
    /** Records are HEC envelopes: only the `splunk-hec` mapping makes them. */
    mapping: z.enum(['splunk-hec']).default('splunk-hec'),
    /** Base URL of the HEC listener, `https://splunk.example.com:8088` (`http://` only when HEC has TLS off). */
    url: httpUrl(),
    /** Path of the JSON event endpoint. */
    path: urlPath().default(SPLUNK_HEC_DEFAULTS.path),
    /** Compress request bodies with gzip (HEC accepts gzip only). */
    gzip: z.boolean().default(false),
    /** Connections to HEC, i.e. requests at once. */
    concurrency: integer({ min: 1, max: 64 }).default(SPLUNK_HEC_DEFAULTS.concurrency),
    /** Time allowed for one request's response (headers and body). */
    timeout: duration({ min: 100, max: 600_000 }).default(SPLUNK_HEC_DEFAULTS.timeoutMs),
    tls: z
      .strictObject({
        /** PEM bundle of the CAs the HEC certificate must chain to (Splunk's own CA); default: Node.js's built-in CA list. */
        caFile: filePath().optional(),
        /** Client certificate and key (PEM), when HEC requires client certificates (`requireClientCert`); re-read when they change. */
        certFile: filePath().optional(),
        keyFile: filePath().optional(),
        /** Name the certificate must carry, when it is not the URL's host. */
        serverName: nonEmptyString('a host name').optional(),
      })
      .prefault({})
      .refine((t) => (t.certFile === undefined) === (t.keyFile === undefined), { message: 'certFile and keyFile go together' }),
    ack: z
      .strictObject({
        /**
         * `auto`: wait for indexer acknowledgement when the token has it (HEC answers with an `ackId`);
         * `required`: the token must have it, else the route stops; `off`: HTTP 200 counts as delivered.
         */
        mode: z.enum(['auto', 'required', 'off']).default(SPLUNK_HEC_DEFAULTS.ack.mode),
        /** How often pending acks are asked for. */
        pollInterval: duration({ min: 10, max: 60_000 }).default(SPLUNK_HEC_DEFAULTS.ack.pollIntervalMs),
        /** A batch whose ack has not turned true by then is sent again (may duplicate). */
        timeout: duration({ min: 1_000, max: 3_600_000 }).default(SPLUNK_HEC_DEFAULTS.ack.timeoutMs),
        /** Requests waiting for their ack at once; further sends wait for a slot. */
        maxPending: integer({ min: 1, max: 10_000 }).default(SPLUNK_HEC_DEFAULTS.ack.maxPending),
        /** Ack ids asked for in one request. */
        idsPerPoll: integer({ min: 1, max: 10_000 }).default(SPLUNK_HEC_DEFAULTS.ack.idsPerPoll),
      })
      .prefault({}),
  },
  'token',
);

export type SplunkHecSinkConfig = z.output<typeof splunkHecSinkSchema>;
