// HTTP to the HEC listener: one undici pool with keep-alive and verified TLS. The only file of the sink doing I/O.
import { randomUUID } from 'node:crypto';
import { Pool } from 'undici';
import { createRotatingSecret, watchFiles } from '../../src/config/watched-files.ts';
import type { SplunkHecSinkConfig } from './config.ts';

/** A reply's body is HEC's short JSON; a proxy's error page beyond this is not read. */
const MAX_REPLY_BYTES = 64 * 1024;

export interface HecResponse {
  readonly status: number;
  readonly body: string;
  readonly retryAfter: string | undefined;
}

export interface HecRequest {
  readonly method: 'GET' | 'POST';
  /** Path and query. */
  readonly path: string;
  readonly body?: Buffer | string;
  readonly gzip?: boolean;
  /** Sends the channel header (every data and ack request does: ids are per channel). */
  readonly channel?: boolean;
}

/** The configured token cannot be sent (control characters): the route cannot work until it is fixed. */
export class HecTokenError extends Error {
  readonly code = 'ERR_HEC_TOKEN';
  constructor() {
    super('the HEC token contains a control character (a line break?): fix token / tokenFile');
    this.name = 'HecTokenError';
  }
}

export interface HecTransport {
  /** The channel (`X-Splunk-Request-Channel`) of this sink instance: a random GUID. */
  readonly channel: string;
  /**
   * Sends one request. Rejects with the network or TLS error (undici / node codes) when no HTTP answer
   * came, or with the signal's reason when aborted; an HTTP error status is an answer, not a rejection.
   */
  request(request: HecRequest, signal?: AbortSignal): Promise<HecResponse>;
  close(): Promise<void>;
}

/**
 * TLS material from files, read again when they change (a client certificate renewed by cert-manager or a
 * SPIFFE sidecar, a new CA bundle): the next request then goes through a new pool, while the old one finishes
 * the requests it has. A file that cannot be read fails the request (retryable), with the file named.
 */
export function createHecTransport(config: SplunkHecSinkConfig): HecTransport {
  const channel = randomUUID();
  const token = createRotatingSecret(config.token);
  const origin = new URL(config.url);
  // A base URL with a path (`https://host:8088/splunk`) keeps it as a prefix of every endpoint.
  const prefix = origin.pathname.replace(/\/+$/, '');
  const tlsKeys = (['caFile', 'certFile', 'keyFile'] as const).filter((k) => config.tls[k] !== undefined);
  const tlsFiles = tlsKeys.length === 0 ? undefined : watchFiles(tlsKeys.map((k) => config.tls[k]!));
  let pool: Pool | undefined;
  let closed = false;

  function createPool(files: Partial<Record<'caFile' | 'certFile' | 'keyFile', Buffer>>): Pool {
    return new Pool(origin.origin, {
      connections: config.concurrency,
      pipelining: 1,
      keepAliveTimeout: 30_000,
      headersTimeout: config.timeout,
      bodyTimeout: config.timeout,
      connect: {
        timeout: Math.min(config.timeout, 10_000),
        rejectUnauthorized: true,
        ...(files.caFile === undefined ? {} : { ca: files.caFile }),
        ...(files.certFile === undefined ? {} : { cert: files.certFile, key: files.keyFile }),
        ...(config.tls.serverName === undefined ? {} : { servername: config.tls.serverName }),
      },
    });
  }

  async function currentPool(): Promise<Pool> {
    if (tlsFiles === undefined) return (pool ??= createPool({}));
    // Always a snapshot before the first accept, so `pool` is set once this returns.
    const snapshot = await tlsFiles.changed().catch((error: NodeJS.ErrnoException) => {
      const key = tlsKeys.find((k) => error.path === config.tls[k]) ?? 'files';
      throw Object.assign(new Error(`cannot read tls.${key} ${error.path ?? ''}: ${error.code ?? error.message}`), { code: 'ERR_TLS_FILE' });
    });
    if (snapshot !== undefined) {
      const previous = pool;
      pool = createPool(Object.fromEntries(tlsKeys.map((k, i) => [k, snapshot.contents[i]!])));
      snapshot.accept();
      // Requests already on the old pool finish there.
      void previous?.close().catch(() => undefined);
    }
    return pool!;
  }

  return {
    channel,
    async request(req, signal) {
      if (closed) throw new Error('the Splunk HEC sink is closed');
      const p = await currentPool();
      const secret = (await token.current()) ?? '';
      // A token with a line break or another control character (an env var set from a file with CRLF) cannot
      // be sent in a header; said plainly, without the value.
      if (/[\u0000-\u001f\u007f]/.test(secret)) throw new HecTokenError();
      const headers: Record<string, string> = { authorization: `Splunk ${secret}`, 'user-agent': 'audit-forwarder' };
      if (req.channel === true) headers['x-splunk-request-channel'] = channel;
      if (req.body !== undefined) headers['content-type'] = 'application/json';
      if (req.gzip === true) headers['content-encoding'] = 'gzip';
      const res = await p.request({
        origin: origin.origin,
        method: req.method,
        path: `${prefix}${req.path}`,
        headers,
        ...(req.body === undefined ? {} : { body: req.body }),
        ...(signal === undefined ? {} : { signal }),
      });
      let size = 0;
      const chunks: Buffer[] = [];
      for await (const chunk of res.body as AsyncIterable<Buffer>) {
        if (size < MAX_REPLY_BYTES) chunks.push(chunk);
        size += chunk.length;
      }
      const body = Buffer.concat(chunks).subarray(0, MAX_REPLY_BYTES).toString('utf8');
      const retryAfter = res.headers['retry-after'];
      return { status: res.statusCode, body, retryAfter: Array.isArray(retryAfter) ? retryAfter[0] : retryAfter };
    },
    async close() {
      closed = true;
      const p = pool;
      pool = undefined;
      await p?.close();
    },
  };
}
