// The Connect API transport of the `connect` source: AuditService.ListEvents over gRPC or the Connect protocol, page by page.
import { create, toJson } from '@bufbuild/protobuf';
import { TimestampSchema, type Timestamp } from '@bufbuild/protobuf/wkt';
import { resolve } from 'node:path';
import type { ConnectorContext } from '../../src/contracts/connector.ts';
import { ForwarderError } from '../../src/contracts/errors.ts';
import type { JsonValue } from '../../src/model/json.ts';
import { toEpochMicros } from '../../src/model/time.ts';
import { classifyApiError, type ApiFailure } from './classify.ts';
import type { ConnectApiConfig } from './config.ts';
import { EventSchema, type EventType } from './gen/proto/audit/v1alpha1/audit_pb.js';
import { AuditService, FilterSchema, ListEventsRequestSchema, type Filter } from './gen/proto/connect/audit_service/v1alpha1/audit_service_pb.js';
import { PageRequestSchema } from './gen/proto/pagination/v1alpha1/pagination_pb.js';
import { createAuthorization, CredentialValueError } from '../../src/net/auth.ts';
import { createRpcChannel } from '../../src/net/rpc.ts';
import { createTlsMaterial, TlsFileError } from '../../src/net/tls.ts';
import type { SourceCheckFinding } from '../../src/contracts/source.ts';
import { checkQuery, PageTokenRefused, type ConnectEventReader, type EventPage, type WindowQuery } from './window.ts';

const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);


/** A canonical time as a protobuf Timestamp, to the microsecond. */
export function timestampOf(time: string): Timestamp {
  return timestampOfMicros(toEpochMicros(time));
}

function timestampOfMicros(us: bigint): Timestamp {
  let seconds = us / 1_000_000n;
  let micros = us % 1_000_000n;
  if (micros < 0n) {
    micros += 1_000_000n;
    seconds -= 1n;
  }
  return create(TimestampSchema, { seconds, nanos: Number(micros) * 1000 });
}

/**
 * The ListEvents filter of a window: both bounds, and the route's selection of event types. Whether the
 * server's bounds are inclusive is not published, so `occurred_after` is one microsecond before `from`: an
 * exclusive server still returns events at exactly `from`, an inclusive one returns one microsecond more
 * (allowed: the caller filters). `occurred_before` is `to` as is (the window contract leaves `to` open).
 */
/** The earliest time a protobuf Timestamp can hold (0001-01-01T00:00:00Z), in microseconds. */
const TIMESTAMP_MIN_MICROS = -62_135_596_800_000_000n;

export function filterOf(query: WindowQuery): Filter {
  const exclude = query.excludeTypes !== undefined && query.excludeTypes.length > 0 ? { eventTypes: [...query.excludeTypes] as EventType[] } : undefined;
  const after = toEpochMicros(query.from) - 1n;
  return create(FilterSchema, {
    occurredAfter: timestampOfMicros(after < TIMESTAMP_MIN_MICROS ? TIMESTAMP_MIN_MICROS : after),
    occurredBefore: timestampOf(query.to),
    ...(query.includeTypes !== undefined ? { eventTypes: [...query.includeTypes] as EventType[] } : {}),
    ...(exclude !== undefined ? { exclude } : {}),
  });
}


/** What every error of the reader starts with: the route's log and its stop message say which source failed. */
const MESSAGE_PREFIX = 'connect source: ';

function sourceError(message: string, disposition: 'retryable' | 'permanent', cause: unknown): ForwarderError {
  return new ForwarderError('FWD_SOURCE_IO', `${MESSAGE_PREFIX}${message}`, { stage: 'source', disposition, cause });
}

/** How the reader speaks to the server and proves who it is, for `check`: the keys in use, never their values. */
function describeApiAuth(config: ConnectApiConfig, plaintext: boolean): string {
  const protocol = config.protocol === 'connect' ? 'Connect protocol' : 'gRPC';
  const transport = plaintext
    ? `${protocol}, plaintext (loopback)`
    : `${protocol} over TLS${config.tls.serverSpiffeId === undefined ? '' : `, server ${config.tls.serverSpiffeId}`}`;
  const credentials = [
    ...(config.tls.certFile !== undefined ? ['SPIFFE mTLS (client SVID api.tls.certFile)'] : []),
    ...(config.token !== undefined ? ['bearer token'] : []),
  ];
  return `${transport}; credentials: ${credentials.length === 0 ? 'none' : credentials.join(' and ')}`;
}

/**
 * Creates the API transport. Rules beyond ConnectEventReader's:
 * - TLS verification is always on; `http://` is accepted only for a loopback host (tests).
 * - The CA bundle and client SVID files are checked (`stat`) before each call and re-read only when they
 *   changed; a change opens a new connection for the next call (the old one closes when its calls end).
 * - The bearer token, when it came from a file, is re-read the same way. It is never logged; one that cannot
 *   be sent in a header (a control character) is a permanent error.
 * - TLS state and errors below gRPC are the shared network layer's (src/net/tls.ts, errors.ts).
 * - A refused page token (see classify.ts) is thrown as `PageTokenRefused`.
 * Throws a fatal `FWD_CONFIG_INVALID` for a plaintext URL to a host that is not loopback.
 */
export function createApiReader(config: ConnectApiConfig, context: ConnectorContext): ConnectEventReader {
  const url = new URL(config.url);
  const plaintext = url.protocol === 'http:';
  if (plaintext && !LOOPBACK_HOSTS.has(url.hostname)) {
    throw new ForwarderError('FWD_CONFIG_INVALID', `${MESSAGE_PREFIX}${config.url} is not TLS; http:// is only accepted for a loopback host (tests)`, {
      stage: 'config',
      disposition: 'fatal',
    });
  }
  // A path prefix (a proxy in front of Connect) is kept: requests go to <baseUrl>/<service>/<method>.
  const baseUrl = config.url.replace(/\/+$/, '');
  const where = `the Connect API at ${baseUrl}`;
  const authority = config.authority;
  const serverName = authority === undefined ? undefined : hostOf(authority);
  const logger = context.logger;
  // The loader makes paths absolute already; a config built in code may still hold relative ones.
  const inBaseDir = (p: string | undefined): string | undefined => (p === undefined ? undefined : resolve(context.baseDir, p));
  const tls = plaintext
    ? undefined
    : createTlsMaterial(
        {
          caFile: inBaseDir(config.tls.caFile),
          certFile: inBaseDir(config.tls.certFile),
          keyFile: inBaseDir(config.tls.keyFile),
          serverSpiffeId: config.tls.serverSpiffeId,
          serverName,
          configKey: 'api.tls',
        },
        {
          changed: (state) => {
            if (state.generation > 1) logger.info({ clientCertSerial: state.clientSerial }, 'connect source: TLS files changed; the next call uses a new connection');
          },
          keptPrevious: (problem) => logger.warn({ reason: problem.message }, 'connect source: TLS files changed but cannot be used yet; keeping the previous certificate'),
        },
      );
  const bearer =
    config.token === undefined
      ? undefined
      : createAuthorization({ type: 'scheme', scheme: 'Bearer', secret: config.token, what: 'the bearer token', keys: 'api.token / api.tokenFile' });
  const channel = createRpcChannel(AuditService, { baseUrl, tls, protocol: config.protocol === 'connect' ? 'connect' : 'grpc', authority });
  let closed = false;

  async function listPage(filter: Filter, pageToken: string, pageSize: number, signal: AbortSignal) {
    let lease;
    try {
      lease = await channel.acquire();
    } catch (e) {
      if (!(e instanceof TlsFileError)) throw e;
      // Retryable: an SVID sidecar may not have written the files yet, or be half-way through a rotation.
      throw sourceError(e.message, 'retryable', e);
    }
    try {
      const authorization = await bearer?.current();
      const request = create(ListEventsRequestSchema, { filter, pagination: create(PageRequestSchema, { pageSize, pageToken }) });
      return await lease.client.listEvents(request, {
        signal,
        timeoutMs: config.deadline,
        ...(authorization !== undefined ? { headers: { authorization } } : {}),
      });
    } finally {
      lease.release();
    }
  }

  const LIST_FAILED = `ListEvents on ${where} failed: `;

  function failure(f: ApiFailure, cause: unknown): ForwarderError {
    const disposition = f.action === 'permanent' ? 'permanent' : 'retryable';
    return sourceError(`${LIST_FAILED}${f.reason}: ${f.meaning} (${f.detail})`, disposition, cause);
  }

  async function readPage(query: WindowQuery, token: string | undefined, signal: AbortSignal): Promise<EventPage> {
    if (closed) throw new Error('connect source: readPage called after close()');
    // Nothing can match an empty inclusion list; an empty repeated field would mean "every type".
    if (query.includeTypes !== undefined && query.includeTypes.length === 0) return { events: [] };
    let response;
    try {
      response = await listPage(filterOf(query), token ?? '', query.pageSize ?? config.pageSize, signal);
    } catch (e) {
      if (signal.aborted) throw signal.reason;
      if (e instanceof ForwarderError) throw e;
      if (e instanceof CredentialValueError) throw sourceError(e.message, 'permanent', e);
      const f = classifyApiError(e, token !== undefined);
      if (f.action === 'restart-window') throw new PageTokenRefused(`${where} refused the page token (${f.reason}: ${f.detail})`, { cause: e });
      throw failure(f, e);
    }
    const next = response.pagination?.nextPageToken ?? '';
    const events = response.events.map((e) => toJson(EventSchema, e) as JsonValue);
    return next === '' ? { events } : { events, next };
  }

  return {
    readPage,

    async check(untilMs: number, signal: AbortSignal): Promise<SourceCheckFinding[]> {
      const target = `${where} (${describeApiAuth(config, plaintext)})`;
      try {
        const page = await readPage(checkQuery(untilMs), undefined, signal);
        return [{ level: 'ok', detail: `${target}: ListEvents answered (${page.events.length > 0 ? 'with events' : 'no event'} in the last hour)` }];
      } catch (e) {
        // The reader's own message, less what the line already says (the source, the endpoint).
        const message = (e instanceof Error ? e.message : String(e)).replace(MESSAGE_PREFIX, '').replace(LIST_FAILED, 'ListEvents failed: ');
        return [{ level: 'failure', detail: `${target}: ${message}` }];
      }
    },

    legacyIdentity(): JsonValue {
      return authority === undefined ? { transport: 'api', url: baseUrl } : { transport: 'api', url: baseUrl, authority };
    },

    close(): Promise<void> {
      closed = true;
      channel.close();
      return Promise.resolve();
    },
  };
}

/** The host part of an authority (`host`, `host:port`, `[v6]:port`). */
function hostOf(authority: string): string {
  if (authority.startsWith('[')) return authority.slice(1, authority.indexOf(']'));
  const colon = authority.lastIndexOf(':');
  return colon > 0 && authority.indexOf(':') === colon ? authority.slice(0, colon) : authority;
}
