// Configuration schema of the `splunk-hec` sink: Splunk HTTP Event Collector, with indexer acknowledgement.
import { z } from 'zod';
import { duration, httpUrl, integer, nonEmptyString, reportIssue, withSecret } from '../../src/config/types.ts';
import { concurrency, gzipOption, requestTimeout, tlsOptions } from '../../src/net/config.ts';

export const SPLUNK_HEC_DEFAULTS = Object.freeze({
  path: '/services/collector/event',
  concurrency: 4,
  timeoutMs: 30_000,
  ack: Object.freeze({ mode: 'auto' as const, pollIntervalMs: 1_000, timeoutMs: 300_000, maxPending: 64, idsPerPoll: 1000 }),
  /** A search over a range can take much longer than a HEC request. */
  search: Object.freeze({ timeoutMs: 120_000 }),
});

const urlPath = (): z.ZodType<string> =>
  nonEmptyString('a URL path starting with /').check((ctx) => {
    if (!ctx.value.startsWith('/') || /[\s?#]/.test(ctx.value)) reportIssue(ctx, { expected: 'a URL path starting with / (no query)' }, ctx.value);
  });

/** The collector's endpoints (event, raw, ack, health) under `/services/collector`: the sink appends them to `url`. */
const ENDPOINT_SUFFIX = /\/services\/collector(?:\/(?:event|raw|ack|health)(?:\/1\.0)?)?\/*$/;

/**
 * `url`: the base URL of the HEC listener. A URL that already ends in a collector endpoint (as Splunk's
 * documentation writes them, `https://host:8088/services/collector/event`) would make every request go to
 * `…/services/collector/event/services/collector/event`, which HEC answers 404: an error naming the URL to use.
 */
const hecBaseUrl = (): z.ZodType<string> =>
  httpUrl().check((ctx) => {
    const url = new URL(ctx.value);
    const endpoint = ENDPOINT_SUFFIX.exec(url.pathname);
    if (endpoint === null) return;
    url.pathname = url.pathname.slice(0, endpoint.index);
    const base = url.toString().replace(/\/$/, '');
    const text =
      `expected the base URL of the HEC listener (such as https://splunk.example.com:8088), got ${JSON.stringify(ctx.value)}: ` +
      `the sink adds ${SPLUNK_HEC_DEFAULTS.path} (its \`path\`) and the ack and health endpoints itself; use ${JSON.stringify(base)}`;
    reportIssue(ctx, { text }, ctx.value);
  });

/**
 * `search.url`: the base URL of Splunk's REST management port (usually 8089), where the reconciliation queries
 * go (`/services/search/jobs/export`). A URL that already names an endpoint under `/services` would make every
 * query go to `…/services/…/services/search/jobs/export`: an error naming the URL to use.
 */
const managementBaseUrl = (): z.ZodType<string> =>
  httpUrl().check((ctx) => {
    const url = new URL(ctx.value);
    const at = url.pathname.search(/\/services(?:NS)?(?:\/|$)/);
    if (at < 0) return;
    url.pathname = url.pathname.slice(0, at);
    const base = url.toString().replace(/\/$/, '');
    const text =
      `expected the base URL of Splunk's management port (such as https://splunk.example.com:8089), got ${JSON.stringify(ctx.value)}: ` +
      `the query adds /services/search/jobs/export itself; use ${JSON.stringify(base)}`;
    reportIssue(ctx, { text }, ctx.value);
  });

/**
 * The optional `search` block: Splunk's search API, for `reconcile --against siem` (query.ts). Its own URL (the
 * management port, not HEC's), its own token (a Splunk authentication token of a user who may search the
 * routes' indexes: not the HEC token, which cannot search), its own TLS and timeout.
 */
const searchOptions = () =>
  withSecret(
    {
      /** Base URL of the REST management port, `https://splunk.example.com:8089`. */
      url: managementBaseUrl(),
      /** TLS to the management port: as the sink's `tls` (Splunk's own CA, a client certificate, `serverName`). */
      tls: tlsOptions(),
      /** Time allowed for a search's answer (its headers, then each part of its body). */
      timeout: requestTimeout(SPLUNK_HEC_DEFAULTS.search.timeoutMs),
    },
    'token',
  );

export const splunkHecSinkSchema = withSecret(
  {
    type: z.literal('splunk-hec'),
    /** Records are HEC envelopes: only the `splunk-hec` mapping makes them. */
    mapping: z.enum(['splunk-hec']).default('splunk-hec'),
    /** Base URL of the HEC listener, `https://splunk.example.com:8088` (`http://` only when HEC has TLS off). */
    url: hecBaseUrl(),
    /** Path of the JSON event endpoint. */
    path: urlPath().default(SPLUNK_HEC_DEFAULTS.path),
    /** Compress request bodies with gzip (HEC accepts gzip only). */
    gzip: gzipOption(false),
    /** Connections to HEC, i.e. requests at once. */
    concurrency: concurrency(SPLUNK_HEC_DEFAULTS.concurrency),
    /** Time allowed for one request's response (headers and body). */
    timeout: requestTimeout(SPLUNK_HEC_DEFAULTS.timeoutMs),
    /**
     * TLS to HEC (src/net/config.ts): `caFile` (Splunk's own CA; default Node.js's built-in CA list), `certFile`
     * and `keyFile` when HEC requires client certificates (`requireClientCert`), `serverName` when the
     * certificate's name is not the URL's host. Re-read when the files change.
     */
    tls: tlsOptions(),
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
    /** Splunk's search API, for reconciliation queries (optional: without it `reconcile --against siem` says what to set). */
    search: searchOptions().optional(),
  },
  'token',
);

export type SplunkHecSinkConfig = z.output<typeof splunkHecSinkSchema>;
