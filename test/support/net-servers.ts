// Small real servers for the network layer's tests: HTTP or HTTPS (the test PKI), raw TCP answering what it is told, a closed port.
import { readFileSync } from 'node:fs';
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { createServer as createNetServer, type Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { tlsFixture } from './connect-server.ts';
import { listenOn } from './listen.ts';

export interface TestServer {
  /** `http(s)://localhost:<port>` (`127.0.0.1` for raw servers). */
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
}

export interface ServerTls {
  /** Fixture names (test/fixtures/tls): the certificate (a chain when several) and its key. */
  readonly cert: string | readonly string[];
  readonly key: string;
  /** Require a client certificate signed by this fixture CA. */
  readonly clientCa?: string;
}

export type Handler = (req: IncomingMessage, res: ServerResponse, body: Buffer) => void;

/** One request as the server saw it. */
export interface SeenRequest {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingMessage['headers'];
  readonly body: Buffer;
  /** Serial number of the client certificate, over TLS. */
  readonly clientSerial: string | undefined;
  /** A number per TCP connection, in the order they were accepted. */
  readonly connection: number;
}

export interface TestHttpServer extends TestServer {
  readonly requests: SeenRequest[];
}

/** An HTTP(S) server on 0.0.0.0 (so 127.0.0.2 reaches it too) calling `handler` with the whole request body. */
export async function startHttpServer(handler: Handler, tls?: ServerTls): Promise<TestHttpServer> {
  const requests: SeenRequest[] = [];
  const connections = new WeakMap<Socket, number>();
  let accepted = 0;
  const listener = (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const peer = (req.socket as TLSSocket).getPeerCertificate?.();
      requests.push({
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        body,
        clientSerial: peer !== undefined && peer !== null && 'serialNumber' in peer ? peer.serialNumber : undefined,
        connection: connections.get(req.socket) ?? -1,
      });
      handler(req, res, body);
    });
  };
  const read = (names: string | readonly string[]) => Buffer.concat((typeof names === 'string' ? [names] : names).map((n) => readFileSync(tlsFixture(n))));
  const server =
    tls === undefined
      ? createHttpServer(listener)
      : createHttpsServer(
          {
            cert: read(tls.cert),
            key: read(tls.key),
            ...(tls.clientCa === undefined ? {} : { ca: read(tls.clientCa), requestCert: true, rejectUnauthorized: true }),
          },
          listener,
        );
  server.on(tls === undefined ? 'connection' : 'secureConnection', (socket: Socket) => connections.set(socket, (accepted += 1)));
  server.on('tlsClientError', () => undefined);
  const port = await listenOn(server, 0, '0.0.0.0');
  return {
    url: `${tls === undefined ? 'http' : 'https'}://localhost:${port}`,
    port,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A TCP server that calls `onData` with the first bytes of each connection (and does nothing else). */
export async function startRawServer(onData: (socket: Socket, data: Buffer) => void): Promise<TestServer> {
  const sockets = new Set<Socket>();
  const server = createNetServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => undefined);
    socket.on('close', () => sockets.delete(socket));
    socket.once('data', (data) => onData(socket, data));
  });
  const port = await listenOn(server, 0, '127.0.0.1');
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/** A port nothing listens on (it was free a moment ago). */
export async function closedPort(): Promise<number> {
  const server = createNetServer();
  const port = await listenOn(server, 0, '127.0.0.1');
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
