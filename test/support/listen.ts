// Test servers: start one listening and tell its port (a free one when asked for port 0); read a request's body.
import { readFileSync } from 'node:fs';
import { createServer as createHttpServer, type IncomingMessage, type Server as HttpServer, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { Server, Server as NetServer, Socket } from 'node:net';

export async function listenOn(server: Server, port: number, host: string): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return (server.address() as { port: number }).port;
}

/** A request's whole body; rejects when the connection closes before it ends (a client killed mid-request). */
export function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let ended = false;
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      ended = true;
      resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks));
    });
    req.on('error', reject);
    req.on('close', () => {
      if (!ended) reject(new Error('connection closed before the body ended'));
    });
  });
}

/**
 * Writes a Fetch `Response` (what msw handlers answer) to a node response: status, headers (`copyHeaders` may
 * replace how they are copied), body with its length; no body for HEAD.
 */
export async function writeFetchResponse(
  res: ServerResponse,
  response: Response,
  method: string,
  copyHeaders: (response: Response, res: ServerResponse) => void = (r, out) => r.headers.forEach((value, name) => out.setHeader(name, value)),
): Promise<void> {
  res.statusCode = response.status;
  copyHeaders(response, res);
  const out = Buffer.from(await response.arrayBuffer());
  res.setHeader('content-length', out.length);
  res.end(method === 'HEAD' ? undefined : out);
}

/** The answer to a bug in a fake: a plain-text 500 that no client can mistake for the vendor's own answer. */
export function fakeFailed(res: ServerResponse, fake: string, error: unknown): void {
  if (!res.headersSent) {
    res.statusCode = 500;
    res.setHeader('content-type', 'text/plain');
  }
  res.end(`${fake} failed: ${error instanceof Error ? error.stack : String(error)}`);
}

/**
 * Tracks the connections of a fake's servers so that `stop()` can close them all (a restart the clients see), and
 * ignores refused TLS handshakes (a missing or untrusted client certificate is the client's failure, not the fake's).
 */
export function trackConnections(servers: readonly NetServer[]): { stop(): Promise<void> } {
  const sockets = new Set<Socket>();
  for (const server of servers) {
    server.on('connection', (s: Socket) => {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
    });
    server.on('tlsClientError', () => undefined);
  }
  return {
    async stop() {
      const closing = servers.map((server) => new Promise<void>((resolve) => (server.listening ? server.close(() => resolve()) : resolve())));
      for (const s of sockets) s.destroy();
      await Promise.all(closing);
    },
  };
}

/** A node request's headers as Fetch `Headers`; a header Fetch refuses is dropped (the vendor would not act on it either). */
export function fetchHeadersOf(req: IncomingMessage): Headers {
  const headers = new Headers();
  for (let k = 0; k + 1 < req.rawHeaders.length; k += 2) {
    try {
      headers.append(req.rawHeaders[k]!, req.rawHeaders[k + 1]!);
    } catch {
      // refused by Fetch
    }
  }
  return headers;
}

/** TLS files of a fake's HTTPS server; `requestCert` requires a client certificate chaining to `caFile`. */
export interface FakeServerTls {
  readonly certFile: string;
  readonly keyFile: string;
  readonly caFile?: string | undefined;
  readonly requestCert?: boolean | undefined;
}

/** An HTTP server, or an HTTPS one with `tls`. */
export function httpOrHttpsServer(listener: (req: IncomingMessage, res: ServerResponse) => void, tls: FakeServerTls | undefined): HttpServer {
  if (tls === undefined) return createHttpServer(listener);
  return createHttpsServer(
    {
      cert: readFileSync(tls.certFile),
      key: readFileSync(tls.keyFile),
      ...(tls.caFile === undefined ? {} : { ca: readFileSync(tls.caFile) }),
      requestCert: tls.requestCert === true,
      rejectUnauthorized: tls.requestCert === true,
    },
    listener,
  );
}
