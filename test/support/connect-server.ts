// A test Cofide Connect AuditService: a real Connect/gRPC server over HTTP/2 (TLS, mTLS or plaintext) backed by PostgreSQL.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import http2 from 'node:http2';
import type { Socket } from 'node:net';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import { fileURLToPath } from 'node:url';
import { create, toBinary, toJson, type JsonValue } from '@bufbuild/protobuf';
import type { DescEnum } from '@bufbuild/protobuf';
import { TimestampSchema, type Timestamp } from '@bufbuild/protobuf/wkt';
import { Code, ConnectError, createContextKey, createContextValues, type HandlerContext } from '@connectrpc/connect';
import { connectNodeAdapter } from '@connectrpc/connect-node';
import pg from 'pg';
import { EntityLinkSchema, EntityTypeSchema, EventSchema, EventTypeSchema, OutcomeSchema, type Event } from '../../connectors/connect/gen/proto/audit/v1alpha1/audit_pb.js';
import {
  AuditService,
  FilterSchema,
  ListEventsRequestSchema,
  ListEventsResponseSchema,
  type Filter,
  type Filter_Entity,
  type ListEventsRequest,
  type ListEventsResponse,
} from '../../connectors/connect/gen/proto/connect/audit_service/v1alpha1/audit_service_pb.js';
import { PageResponseSchema } from '../../connectors/connect/gen/proto/pagination/v1alpha1/pagination_pb.js';
import { formatEpochMicros, toEpochMicros } from '../../src/model/time.ts';
import { DEFAULT_AUDIT_TABLE_DDL } from './postgres.ts';
import { listenOn } from './listen.ts';

/** The committed TLS fixtures (see test/fixtures/tls/README.md). */
export const TLS_FIXTURES_DIR = fileURLToPath(new URL('../fixtures/tls/', import.meta.url));
export const tlsFixture = (name: string): string => join(TLS_FIXTURES_DIR, name);

export const DEFAULT_PAGE_SIZE = 100;
export const MAX_PAGE_SIZE = 1000;

/** `none`: no client certificate asked; `request`: asked and recorded, not required; `require`: the TLS handshake fails without a trusted one. */
export type ClientAuth = 'none' | 'request' | 'require';

export interface ConnectTestServerOptions {
  /** A PostgreSQL database (e.g. from `TestPostgres.createDatabase`); the default audit table is created in it. */
  readonly databaseUrl: string;
  /** TLS (default: the fixture `server.pem`, CA `ca.pem`, client auth `request`); `false` for plaintext HTTP/2. */
  readonly tls?:
    | false
    | { readonly certFile?: string; readonly keyFile?: string; readonly caFile?: string; readonly clientAuth?: ClientAuth };
  /** Bearer token every call must carry (`authorization: Bearer <token>`); also `knobs.token`. */
  readonly token?: string;
  /** Default 127.0.0.1, a free port. */
  readonly host?: string;
  readonly port?: number;
}

/** Behaviour switches, read by every call; change them at any time. */
export interface ConnectServerKnobs {
  /** Return each page newest first (pagination follows that order). Default false. */
  descending: boolean;
  /** Treat `occurred_after` / `occurred_before` as exclusive. Default false: both inclusive, as Cofide's own fake. */
  exclusiveBounds: boolean;
  /** A page token issued more than this many calls ago is refused (0: every token is); undefined: never. */
  tokenMaxAgeCalls: number | undefined;
  /** Required bearer token; undefined: none required. */
  token: string | undefined;
}

export interface ClientCertInfo {
  /** Hex, as Node prints it (`1001`). */
  readonly serialNumber: string;
  readonly uris: readonly string[];
  readonly fingerprint256: string;
  /** Whether it chained to the server's CA. */
  readonly authorized: boolean;
}

export interface ListEventsCall {
  /** 1, 2, … in arrival order. */
  readonly n: number;
  /** 1, 2, … per TCP connection accepted, so tests can tell a reused connection from a new one. */
  readonly connection: number;
  readonly protocol: 'grpc' | 'connect' | 'grpc-web' | 'unknown';
  /** `:authority` (or `Host`) as received. */
  readonly authority: string | undefined;
  /** TLS SNI as received. */
  readonly serverName: string | undefined;
  readonly authorization: string | undefined;
  readonly clientCert: ClientCertInfo | undefined;
  /** The request, in proto3 JSON. */
  readonly request: JsonValue;
  /** How it ended: `ok` with the page, or the name of the `Code` (`Unavailable`); undefined while in progress. */
  result: { readonly code: 'ok'; readonly events: number; readonly nextPageToken: string } | { readonly code: string; readonly message: string } | undefined;
}

export interface HeldCall {
  /** Resolves when the next call has read its page and waits, before answering. */
  readonly reached: Promise<void>;
  /** Lets it answer. */
  release(): void;
}

export interface ConnectTestServer {
  /** `https://127.0.0.1:<port>` (or `http://` when plaintext). */
  readonly url: string;
  readonly port: number;
  readonly knobs: ConnectServerKnobs;
  /** Every ListEvents call received, in order. */
  readonly calls: readonly ListEventsCall[];
  /** Inserts events given in their proto3 JSON form (as `connectEventJson(i)` makes them). */
  insertEvents(events: readonly Record<string, unknown>[]): Promise<void>;
  /** Empties the audit table. */
  deleteEvents(): Promise<void>;
  /** The next `count` calls fail with `code` (after the credentials check). */
  failNext(count: number, code: Code, message?: string): void;
  /** Every page token issued so far becomes invalid. */
  expireTokens(): void;
  /** The next call waits, after reading its page, until released (or the server stops). */
  holdNext(): HeldCall;
  /** Stops abruptly, as a crash: open connections are destroyed and calls in progress never answer. */
  stop(): Promise<void>;
  /** Listens again on the same port. */
  start(): Promise<void>;
  /** Stops and closes the database pool. */
  close(): Promise<void>;
}

// ---- enums stored as names or numbers ----

function enumNumber(schema: DescEnum, stored: string): number {
  if (/^-?\d+$/.test(stored)) return Number(stored);
  const v = schema.values.find((x) => x.name === stored);
  if (v === undefined) throw new ConnectError(`stored ${schema.typeName} ${JSON.stringify(stored)} is not a known name`, Code.Internal);
  return v.number;
}

/** The text values a column may hold for these numbers: the number and, when known, the name. */
function storedForms(schema: DescEnum, numbers: readonly number[]): string[] {
  const out: string[] = [];
  for (const n of numbers) {
    out.push(String(n));
    const v = schema.values.find((x) => x.number === n);
    if (v !== undefined) out.push(v.name);
  }
  return out;
}

// ---- times ----

function canonicalOf(ts: Timestamp): string {
  return formatEpochMicros(ts.seconds * 1_000_000n + BigInt(Math.floor(ts.nanos / 1000)));
}

function timestampOf(time: string): Timestamp {
  const us = toEpochMicros(time);
  const seconds = us >= 0n ? us / 1_000_000n : -((-us + 999_999n) / 1_000_000n);
  return create(TimestampSchema, { seconds, nanos: Number(us - seconds * 1_000_000n) * 1000 });
}

// ---- inserting events ----

const COLUMNS = ['id', 'occurred_at', 'type', 'message', 'links', 'data', 'actor', 'source_ip', 'outcome', 'server_version'] as const;
const CAST = ['text', 'timestamptz', 'text', 'text', 'jsonb', 'jsonb', 'text', 'text', 'text', 'text'] as const;

function pick(e: Record<string, unknown>, camel: string, snake: string): unknown {
  return e[camel] ?? e[snake];
}

function text(v: unknown, dflt = ''): string {
  if (v === undefined || v === null) return dflt;
  if (typeof v === 'string' || typeof v === 'number') return String(v);
  throw new TypeError(`expected a string or number, got ${JSON.stringify(v)}`);
}

/** One row of the default layout from a proto3 JSON event; `data` must decode to JSON (the column is jsonb). */
function rowOf(e: Record<string, unknown>): (string | null)[] {
  const id = text(e.id);
  const occurredAt = text(pick(e, 'occurredAt', 'occurred_at'));
  const links = (pick(e, 'links', 'links') as { type?: unknown; id?: unknown }[] | undefined) ?? [];
  const data = pick(e, 'data', 'data');
  let dataJson: string | null = null;
  if (data !== undefined && data !== null && data !== '') {
    const decoded = Buffer.from(text(data), 'base64').toString('utf8');
    try {
      JSON.parse(decoded);
    } catch {
      throw new TypeError(`event ${id}: data is not JSON; the default table stores it as jsonb`);
    }
    dataJson = decoded;
  }
  return [
    id,
    occurredAt,
    text(e.type),
    text(e.message),
    JSON.stringify(links.map((l) => ({ type: text(l.type, 'ENTITY_TYPE_UNSPECIFIED'), id: text(l.id) }))),
    dataJson,
    text(e.actor),
    text(pick(e, 'sourceIp', 'source_ip')),
    text(e.outcome, 'OUTCOME_UNSPECIFIED'),
    text(pick(e, 'serverVersion', 'server_version')),
  ];
}

/** Inserts proto3 JSON events into the default audit table, in batches (fast enough for a million rows). */
export async function insertConnectEvents(db: pg.Pool | pg.Client, events: readonly Record<string, unknown>[], table = 'audit_events'): Promise<void> {
  const BATCH = 5000;
  for (let at = 0; at < events.length; at += BATCH) {
    const rows = events.slice(at, at + BATCH).map(rowOf);
    const columns = COLUMNS.map((_, c) => rows.map((r) => r[c] ?? null));
    const unnest = CAST.map((t, c) => `$${c + 1}::${t}[]`).join(', ');
    await db.query(`INSERT INTO ${pg.escapeIdentifier(table)} (${COLUMNS.join(', ')}) SELECT * FROM unnest(${unnest})`, columns);
  }
}

// ---- the query ----

interface Keyset {
  readonly time: string;
  readonly id: string;
}

interface PageToken {
  readonly epoch: number;
  readonly issuedAt: number;
  readonly request: string;
  readonly after: Keyset;
}

class SqlBuilder {
  readonly params: unknown[] = [];
  param(v: unknown): string {
    this.params.push(v);
    return `$${this.params.length}`;
  }
}

/** Events linked to one of `entities` (a missing type or id matches any). */
function entityMatch(sql: SqlBuilder, entities: readonly Filter_Entity[]): string {
  const spec = entities.map((e) => ({ types: e.type === 0 ? null : storedForms(EntityTypeSchema, [e.type]), id: e.id === '' ? null : e.id }));
  return `EXISTS (SELECT 1 FROM jsonb_array_elements(links) l, jsonb_to_recordset(${sql.param(JSON.stringify(spec))}::jsonb) AS f(types text[], id text)
    WHERE (f.types IS NULL OR l->>'type' = ANY(f.types)) AND (f.id IS NULL OR l->>'id' = f.id))`;
}

/** WHERE conditions of a filter, as the spec describes it: fields ANDed, repeated values ORed, exclusions after. */
function conditions(sql: SqlBuilder, f: Filter, exclusive: boolean): string[] {
  const where: string[] = [];
  if (f.occurredAfter !== undefined) where.push(`occurred_at ${exclusive ? '>' : '>='} ${sql.param(canonicalOf(f.occurredAfter))}::timestamptz`);
  if (f.occurredBefore !== undefined) where.push(`occurred_at ${exclusive ? '<' : '<='} ${sql.param(canonicalOf(f.occurredBefore))}::timestamptz`);
  if (f.eventTypes.length > 0) where.push(`type = ANY(${sql.param(storedForms(EventTypeSchema, f.eventTypes))}::text[])`);
  if (f.entities.length > 0) {
    where.push(`(${entityMatch(sql, f.entities)}${f.matchLinkless ? ` OR jsonb_array_length(links) = 0` : ''})`);
  } else if (f.matchLinkless) {
    where.push('jsonb_array_length(links) = 0');
  }
  if (f.actors.length > 0) where.push(`actor = ANY(${sql.param(f.actors)}::text[])`);
  if (f.sourceIps.length > 0) where.push(`source_ip = ANY(${sql.param(f.sourceIps)}::text[])`);
  if (f.outcomes.length > 0) where.push(`outcome = ANY(${sql.param(storedForms(OutcomeSchema, f.outcomes))}::text[])`);
  const x = f.exclude;
  if (x !== undefined) {
    if (x.eventTypes.length > 0) where.push(`NOT (type = ANY(${sql.param(storedForms(EventTypeSchema, x.eventTypes))}::text[]))`);
    if (x.entities.length > 0) where.push(`NOT ${entityMatch(sql, x.entities)}`);
    if (x.actors.length > 0) where.push(`NOT (actor = ANY(${sql.param(x.actors)}::text[]))`);
    if (x.sourceIps.length > 0) where.push(`NOT (source_ip = ANY(${sql.param(x.sourceIps)}::text[]))`);
    if (x.outcomes.length > 0) where.push(`NOT (outcome = ANY(${sql.param(storedForms(OutcomeSchema, x.outcomes))}::text[]))`);
  }
  return where;
}

interface EventRow {
  id: string;
  t: string;
  type: string;
  message: string;
  links: { type?: string; id?: string }[];
  data: string | null;
  actor: string;
  source_ip: string;
  outcome: string;
  server_version: string;
}

function eventOf(r: EventRow): Event {
  return create(EventSchema, {
    id: r.id,
    occurredAt: timestampOf(r.t),
    type: enumNumber(EventTypeSchema, r.type),
    message: r.message,
    links: r.links.map((l) => create(EntityLinkSchema, { type: enumNumber(EntityTypeSchema, l.type ?? '0'), id: l.id ?? '' })),
    data: r.data === null ? new Uint8Array() : Buffer.from(r.data, 'utf8'),
    actor: r.actor,
    sourceIp: r.source_ip,
    outcome: enumNumber(OutcomeSchema, r.outcome),
    serverVersion: r.server_version,
  });
}

// ---- the server ----

interface Peer {
  readonly connection: number;
  readonly protocol: ListEventsCall['protocol'];
  readonly authority: string | undefined;
  readonly serverName: string | undefined;
  readonly clientCert: ClientCertInfo | undefined;
}

const PEER = createContextKey<Peer | undefined>(undefined, { description: 'peer' });

function protocolOf(contentType: string | undefined): ListEventsCall['protocol'] {
  if (contentType === undefined) return 'unknown';
  if (contentType.startsWith('application/grpc-web')) return 'grpc-web';
  if (contentType.startsWith('application/grpc')) return 'grpc';
  if (contentType.startsWith('application/proto') || contentType.startsWith('application/json')) return 'connect';
  return 'unknown';
}

function peerOf(req: http2.Http2ServerRequest | import('node:http').IncomingMessage, connectionOf: (s: object) => number): Peer {
  const socket = req.socket as TLSSocket;
  const isTls = typeof socket.getPeerCertificate === 'function';
  const cert = isTls ? socket.getPeerCertificate() : undefined;
  const hasCert = cert !== undefined && cert !== null && typeof cert.serialNumber === 'string';
  const authority = req.headers[':authority'] ?? req.headers.host;
  return {
    connection: connectionOf('stream' in req ? (req.stream.session ?? socket) : socket),
    protocol: protocolOf(req.headers['content-type']),
    authority: typeof authority === 'string' ? authority : undefined,
    serverName: isTls && typeof socket.servername === 'string' ? socket.servername : undefined,
    clientCert: hasCert
      ? {
          serialNumber: cert.serialNumber,
          uris: (cert.subjectaltname ?? '')
            .split(', ')
            .filter((s) => s.startsWith('URI:'))
            .map((s) => s.slice(4)),
          fingerprint256: cert.fingerprint256,
          authorized: socket.authorized,
        }
      : undefined,
  };
}

/** Starts the server on a free port (or `options.port`). */
export async function startConnectServer(options: ConnectTestServerOptions): Promise<ConnectTestServer> {
  const pool = new pg.Pool({ connectionString: options.databaseUrl, max: 4 });
  // An idle connection dropped by the database (PostgreSQL stopping first) must not crash the test process.
  pool.on('error', () => undefined);
  await pool.query(DEFAULT_AUDIT_TABLE_DDL);

  const knobs: ConnectServerKnobs = { descending: false, exclusiveBounds: false, tokenMaxAgeCalls: undefined, token: options.token };
  const calls: ListEventsCall[] = [];
  const failures: { code: Code; message: string }[] = [];
  const holds: { reached: () => void; released: Promise<void>; release: () => void }[] = [];
  let epoch = 0;
  let stopped = false;
  let stopping: (() => void)[] = [];

  // Connection numbers, by HTTP/2 session (or socket for HTTP/1.1), assigned on first use.
  const connections = new WeakMap<object, number>();
  let connectionCount = 0;
  const connectionOf = (key: object): number => {
    let id = connections.get(key);
    if (id === undefined) {
      id = ++connectionCount;
      connections.set(key, id);
    }
    return id;
  };

  const fingerprint = (req: ListEventsRequest): string =>
    createHash('sha256')
      .update(toBinary(FilterSchema, req.filter ?? create(FilterSchema)))
      .update(String(req.pagination?.pageSize ?? 0))
      .digest('base64url');

  function encodeToken(t: PageToken): string {
    return Buffer.from(JSON.stringify(t)).toString('base64url');
  }

  function decodeToken(s: string, req: ListEventsRequest, n: number): PageToken {
    let t: PageToken;
    try {
      t = JSON.parse(Buffer.from(s, 'base64url').toString('utf8')) as PageToken;
      if (typeof t.after?.time !== 'string' || typeof t.after.id !== 'string') throw new Error('shape');
    } catch {
      throw new ConnectError('invalid page_token: not a token issued by this server', Code.InvalidArgument);
    }
    if (t.epoch !== epoch || (knobs.tokenMaxAgeCalls !== undefined && n - t.issuedAt > knobs.tokenMaxAgeCalls)) {
      throw new ConnectError('invalid page_token: expired', Code.InvalidArgument);
    }
    if (t.request !== fingerprint(req)) throw new ConnectError('invalid page_token: the other request fields changed', Code.InvalidArgument);
    return t;
  }

  async function answer(req: ListEventsRequest, ctx: HandlerContext, n: number): Promise<ListEventsResponse> {
    if (knobs.token !== undefined && ctx.requestHeader.get('authorization') !== `Bearer ${knobs.token}`) {
      throw new ConnectError('missing or invalid bearer token', Code.Unauthenticated);
    }
    const failure = failures.shift();
    if (failure !== undefined) throw new ConnectError(failure.message, failure.code);

    const requested = req.pagination?.pageSize ?? 0;
    if (requested < 0) throw new ConnectError('page_size must not be negative', Code.InvalidArgument);
    const pageSize = requested === 0 ? DEFAULT_PAGE_SIZE : Math.min(requested, MAX_PAGE_SIZE);
    const token = req.pagination?.pageToken ?? '';
    const after = token === '' ? undefined : decodeToken(token, req, n).after;

    const sql = new SqlBuilder();
    const where = conditions(sql, req.filter ?? create(FilterSchema), knobs.exclusiveBounds);
    const desc = knobs.descending;
    if (after !== undefined) where.push(`(occurred_at, id) ${desc ? '<' : '>'} (${sql.param(after.time)}::timestamptz, ${sql.param(after.id)})`);
    const order = desc ? 'DESC' : 'ASC';
    const { rows } = await pool.query<EventRow>(
      `SELECT id, to_char(occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS t, type, message, links, data::text AS data,
              actor, source_ip, outcome, server_version
       FROM audit_events ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''}
       ORDER BY occurred_at ${order}, id ${order} LIMIT ${sql.param(pageSize + 1)}`,
      sql.params,
    );
    const page = rows.slice(0, pageSize);
    const last = page[page.length - 1];
    const nextPageToken =
      rows.length > pageSize && last !== undefined
        ? encodeToken({ epoch, issuedAt: n, request: fingerprint(req), after: { time: last.t, id: last.id } })
        : '';

    const hold = holds.shift();
    if (hold !== undefined) {
      hold.reached();
      await Promise.race([hold.released, new Promise<void>((resolve) => stopping.push(resolve))]);
      if (stopped) throw new ConnectError('server stopped', Code.Unavailable);
    }
    return create(ListEventsResponseSchema, { events: page.map(eventOf), pagination: create(PageResponseSchema, { nextPageToken }) });
  }

  const handler = connectNodeAdapter({
    routes(router) {
      router.service(AuditService, {
        async listEvents(req, ctx) {
          const n = calls.length + 1;
          const peer = ctx.values.get(PEER);
          const call: ListEventsCall = {
            n,
            connection: peer?.connection ?? 0,
            protocol: peer?.protocol ?? 'unknown',
            authority: peer?.authority,
            serverName: peer?.serverName,
            authorization: ctx.requestHeader.get('authorization') ?? undefined,
            clientCert: peer?.clientCert,
            request: toJson(ListEventsRequestSchema, req),
            result: undefined,
          };
          calls.push(call);
          try {
            const res = await answer(req, ctx, n);
            call.result = { code: 'ok', events: res.events.length, nextPageToken: res.pagination?.nextPageToken ?? '' };
            return res;
          } catch (e) {
            const ce = ConnectError.from(e);
            call.result = { code: Code[ce.code] ?? String(ce.code), message: ce.rawMessage };
            throw ce;
          }
        },
      });
    },
    contextValues: (req) => createContextValues().set(PEER, peerOf(req, connectionOf)),
  });

  const tls = options.tls === false ? undefined : (options.tls ?? {});
  const clientAuth = tls?.clientAuth ?? 'request';
  const server =
    tls === undefined
      ? http2.createServer(handler)
      : http2.createSecureServer(
          {
            cert: readFileSync(tls.certFile ?? tlsFixture('server.pem')),
            key: readFileSync(tls.keyFile ?? tlsFixture('server.key')),
            ca: readFileSync(tls.caFile ?? tlsFixture('ca.pem')),
            requestCert: clientAuth !== 'none',
            rejectUnauthorized: clientAuth === 'require',
            allowHTTP1: true,
          },
          handler,
        );
  const sockets = new Set<Socket>();
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  // Handshake failures (a refused client certificate) are the client's problem, not the server's.
  server.on('tlsClientError', () => undefined);
  server.on('sessionError', () => undefined);

  const host = options.host ?? '127.0.0.1';
  let port = options.port ?? 0;

  async function start(): Promise<void> {
    port = await listenOn(server, port, host);
    stopped = false;
  }

  async function stop(): Promise<void> {
    stopped = true;
    const wasListening = server.listening;
    const closed = new Promise<void>((resolve) => (wasListening ? server.close(() => resolve()) : resolve()));
    for (const s of sockets) s.destroy();
    for (const wake of stopping) wake();
    stopping = [];
    await closed;
  }

  await start();
  return {
    url: `${tls === undefined ? 'http' : 'https'}://${host}:${port}`,
    port,
    knobs,
    calls,
    insertEvents: (events) => insertConnectEvents(pool, events),
    async deleteEvents() {
      await pool.query('DELETE FROM audit_events');
    },
    failNext(count, code, message = `injected ${Code[code]}`) {
      for (let i = 0; i < count; i++) failures.push({ code, message });
    },
    expireTokens() {
      epoch += 1;
    },
    holdNext() {
      let reached!: () => void;
      let release!: () => void;
      const reachedP = new Promise<void>((r) => (reached = r));
      const released = new Promise<void>((r) => (release = r));
      holds.push({ reached, released, release });
      return { reached: reachedP, release };
    },
    stop,
    start,
    async close() {
      await stop();
      await pool.end();
    },
  };
}
