// Configuration schema of the `connect` source: Cofide Connect audit events, through the Connect API or from PostgreSQL.
import { z } from 'zod';
import { byteSize, duration, filePath, httpUrl, integer, maxNestingDepth, nonEmptyString, withSecret } from '../../src/config/types.ts';
import { parseTimeArgument } from '../../src/model/time.ts';
import { tlsFields, tlsObject } from '../../src/net/config.ts';

/** `beginning`, `now`, or an RFC 3339 time with a zone (or a date, midnight UTC) → `beginning`, `now` or a canonical time. */
function startAt(): z.ZodType<string> {
  const expected = 'beginning, now, or an RFC 3339 time with a zone (2026-05-12T00:00:00Z) or a date (2026-05-12)';
  return nonEmptyString(expected).transform((v, ctx) => {
    if (v === 'beginning' || v === 'now') return v;
    const t = parseTimeArgument(v);
    if (t.ok) return t.time;
    ctx.addIssue({ code: 'custom', message: `expected ${expected}, got ${JSON.stringify(v)} (${t.reason})` });
    return z.NEVER;
  }) as unknown as z.ZodType<string>;
}

const columnName = (dflt: string) => nonEmptyString('a column name').default(dflt);

/** The Connect API (`AuditService.ListEvents`): gRPC by default, TLS always, SPIFFE mTLS and/or a bearer token. */
export const connectApiSchema = withSecret(
  {
    /** `https://connect.example.org:8443` (`http://` only for tests on loopback). */
    url: httpUrl(),
    /** `grpc` (default) or `connect` (the Connect protocol over HTTP/2). */
    protocol: z.enum(['grpc', 'connect']).default('grpc'),
    /** TLS server name and `:authority` to use instead of the URL's host. */
    authority: nonEmptyString('a host name').optional(),
    tls: tlsObject({
      /** PEM bundle of the CAs (the SPIFFE trust bundle) the server certificate must chain to; default: system CAs. */
      caFile: tlsFields.caFile(),
      /** Client X.509 SVID (PEM) and its key, for mTLS; re-read when the files change (SVID rotation). */
      certFile: tlsFields.certFile(),
      keyFile: tlsFields.keyFile(),
      /** The server's expected SPIFFE ID (URI SAN), e.g. `spiffe://example.org/connect`. */
      serverSpiffeId: tlsFields.serverSpiffeId('spiffe://example.org/connect'),
    }),
    /** Deadline of each ListEvents call. */
    deadline: duration({ min: 100, max: 600_000 }).default(30_000),
    /** Events per page (the server caps it at 1000). */
    pageSize: integer({ min: 1, max: 1000 }).default(1000),
  },
  'token',
  { optional: true },
);

/** Direct reading of the Connect datastore; table and column names come from here (the layout is not published). */
export const connectPostgresSchema = withSecret(
  {
    table: nonEmptyString('a table name, optionally schema-qualified').default('audit_events'),
    columns: z
      .strictObject({
        id: columnName('id'),
        occurredAt: columnName('occurred_at'),
        type: columnName('type'),
        message: columnName('message'),
        links: columnName('links'),
        data: columnName('data'),
        actor: columnName('actor'),
        sourceIp: columnName('source_ip'),
        outcome: columnName('outcome'),
        serverVersion: columnName('server_version'),
      })
      .prefault({}),
    /**
     * Entity links from a second table (one row per link) instead of the `links` column, which is then not read.
     * Its event id column needs an index: each selected row looks its links up by it.
     */
    linksTable: z
      .strictObject({
        table: nonEmptyString('a table name, optionally schema-qualified'),
        columns: z
          .strictObject({
            eventId: columnName('event_id'),
            type: columnName('entity_type'),
            id: columnName('entity_id'),
          })
          .prefault({}),
      })
      .optional(),
    /** `LISTEN` channel to wake up early when Connect (or a trigger) notifies it. */
    listenChannel: nonEmptyString('a channel name').optional(),
    /** Rows per query. */
    pageSize: integer({ min: 1, max: 100_000 }).default(1000),
    /** TLS to the database: CA bundle (verification is always on when TLS is used). */
    ssl: z.strictObject({ caFile: filePath().optional() }).optional(),
  },
  'connectionString',
);

export const connectSourceSchema = z
  .strictObject({
    type: z.literal('connect'),
    transport: z.enum(['api', 'postgres']).default('api'),
    /**
     * Names the Connect datastore the events come from, for the checkpoint: the transport and its URL are roads to
     * it, and may change without invalidating the checkpoint. Change it when the source reads another store.
     */
    store: nonEmptyString('a name for the Connect datastore').default('connect'),
    /** Where a route with no checkpoint starts: `beginning` (everything the store holds), `now`, or a time. */
    startAt: startAt().default('beginning'),
    api: connectApiSchema.optional(),
    postgres: connectPostgresSchema.optional(),
    /** How often the live reader asks for new events. */
    pollInterval: duration({ min: 50, max: 3_600_000 }).default(5_000),
    /** Never read closer to now than this: events may become visible this late after their `occurred_at`. */
    settleDelay: duration({ min: 0, max: 3_600_000 }).default(10_000),
    /** Each poll re-reads this far behind the cursor, to catch events committed late (counted as late events). */
    lookback: duration({ min: 0, max: 7 * 86_400_000 }).default(300_000),
    /** A replay reads its range in chunks of this length, each with its own resumable cursor. */
    replayChunk: duration({ min: 60_000, max: 31 * 86_400_000 }).default(3_600_000),
    /** Events of a window held at once, as JSON, before they are sorted and delivered (parsed, about ten times this). */
    maxWindowBytes: byteSize({ min: 64 * 1024, max: 4 * 1024 * 1024 * 1024 }).default(4 * 1024 * 1024),
    /** Events nesting deeper (objects and arrays, the event being 1, its `data` payload included) are dead-lettered with their path. */
    maxNestingDepth: maxNestingDepth(),
  })
  .superRefine((c, ctx) => {
    if (c.transport === 'api' && c.api === undefined) ctx.addIssue({ code: 'custom', path: ['api'], message: 'missing key (expected the api settings, since transport is api)' });
    if (c.transport === 'postgres' && c.postgres === undefined) {
      ctx.addIssue({ code: 'custom', path: ['postgres'], message: 'missing key (expected the postgres settings, since transport is postgres)' });
    }
    // Checked even when other keys are wrong: every error is reported at once.
  }, { when: () => true });

export type ConnectSourceConfig = z.output<typeof connectSourceSchema>;
export type ConnectApiConfig = NonNullable<ConnectSourceConfig['api']>;
export type ConnectPostgresConfig = NonNullable<ConnectSourceConfig['postgres']>;
