// The operations endpoints of `server.listen`: /healthz (alive), /readyz (forwarding) and /metrics (Prometheus).
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import { ForwarderError } from '../contracts/errors.ts';
import type { Logger } from '../logging.ts';
import type { Readiness } from './health.ts';

export interface OpsServerOptions {
  /** `host:port` as configured (`:9464` listens on every interface). */
  readonly listen: string;
  readonly metrics: Registry;
  readonly readiness: () => Readiness;
  readonly logger: Logger;
}

export interface OpsServer {
  /** Where it listens (the port chosen by the system for `:0`). */
  readonly address: { readonly host: string; readonly port: number };
  close(): Promise<void>;
}

/** `host:port`, `[v6]:port` or `:port` → what `server.listen` takes (undefined host: every interface). */
export function parseListen(listen: string): { host: string | undefined; port: number } {
  const at = listen.lastIndexOf(':');
  const host = listen.slice(0, at).replace(/^\[(.*)\]$/, '$1');
  return { host: host === '' ? undefined : host, port: Number(listen.slice(at + 1)) };
}

const json = (body: unknown) => `${JSON.stringify(body, null, 2)}\n`;

/**
 * Rules:
 * - GET and HEAD only; anything else is 405, an unknown path 404. No request body is read.
 * - `/healthz`: 200 while the process serves requests (its event loop turns): restart it when this fails.
 * - `/readyz`: 200 when every route is forwarding, else 503; the body says, per lane, why (`health.ts`).
 * - `/metrics`: the registry in Prometheus text format 0.0.4 (what every Prometheus-compatible scraper reads).
 * - Nothing here can stop or slow forwarding: a scrape only reads counters.
 * - A port in use (or not allowed) is a start-up error naming `server.listen`.
 */
export async function startOpsServer(options: OpsServerOptions): Promise<OpsServer> {
  const { host, port } = parseListen(options.listen);
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?', 1)[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain' }).end('method not allowed\n');
      return;
    }
    const send = (status: number, type: string, body: string) => {
      res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
      res.end(req.method === 'HEAD' ? undefined : body);
    };
    switch (path) {
      case '/healthz':
        send(200, 'text/plain; charset=utf-8', 'ok\n');
        return;
      case '/readyz': {
        const r = options.readiness();
        send(r.ready ? 200 : 503, 'application/json', json(r));
        return;
      }
      case '/metrics': {
        options.metrics.metrics().then(
          (text) => send(200, options.metrics.contentType, text),
          (error: unknown) => {
            options.logger.error({ err: (error as Error).message }, 'metrics could not be collected');
            send(500, 'text/plain', 'metrics could not be collected\n');
          },
        );
        return;
      }
      default:
        send(404, 'text/plain; charset=utf-8', 'not found: try /healthz, /readyz or /metrics\n');
    }
  });
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve, reject) => {
    const onError = (error: NodeJS.ErrnoException) =>
      reject(
        new ForwarderError('FWD_CONFIG_INVALID', `server.listen ${options.listen}: cannot listen (${error.code ?? error.message}${error.code === 'EADDRINUSE' ? ': the port is in use' : ''})`, {
          stage: 'config',
          disposition: 'fatal',
          cause: error,
        }),
      );
    server.once('error', onError);
    server.listen({ port, ...(host !== undefined ? { host } : {}) }, () => {
      server.off('error', onError);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  options.logger.info({ listen: `${address.address}:${address.port}` }, `serving /healthz, /readyz and /metrics on ${address.address}:${address.port}`);
  return {
    address: { host: address.address, port: address.port },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
