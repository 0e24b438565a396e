// gRPC (and the Connect protocol) over HTTP/2 for every connector: one connect-rpc client per TLS generation, replaced when the TLS files change.
import type { DescService } from '@bufbuild/protobuf';
import { createClient, type Client, type Transport } from '@connectrpc/connect';
import { compressionGzip, createConnectTransport, createGrpcTransport, Http2SessionManager } from '@connectrpc/connect-node';
import type { ClientHttp2Stream, OutgoingHttpHeaders } from 'node:http2';
import type { TlsMaterial } from './tls.ts';

export interface RpcChannelOptions {
  /** `https://host:port[/prefix]` (or `http://` without TLS); calls go to `<baseUrl>/<service>/<method>`. */
  readonly baseUrl: string;
  /** TLS material (src/net/tls.ts); undefined for plaintext. */
  readonly tls: TlsMaterial | undefined;
  /** `grpc` (default) or the Connect protocol over HTTP/2. */
  readonly protocol?: 'grpc' | 'connect';
  /** The HTTP/2 `:authority` to send, when it is not the URL's host (a proxy; a SPIFFE ID-routed mesh). */
  readonly authority?: string | undefined;
  /** Compress request messages with gzip (`grpc-encoding: gzip`); answers may be gzip either way. */
  readonly gzip?: boolean;
}

/** A client for one call, and what to do when the call is over. */
export interface RpcLease<S extends DescService> {
  readonly client: Client<S>;
  release(): void;
}

export interface RpcChannel<S extends DescService> {
  /**
   * The client for the next call (the TLS files are checked first; after a change, a new HTTP/2 connection is
   * opened and the old one closes when its calls are over). Rejects with the TLS material's `TlsFileError`.
   */
  acquire(): Promise<RpcLease<S>>;
  close(): void;
}

interface Generation<S extends DescService> {
  readonly tls: number;
  readonly client: Client<S>;
  readonly session: Http2SessionManager;
  active: number;
  retired: boolean;
}

/** A session manager that sends another `:authority` than the URL's host. */
function withAuthority(session: Http2SessionManager, authority: string) {
  return {
    authority: session.authority,
    request: (method: string, path: string, headers: OutgoingHttpHeaders, options: Parameters<Http2SessionManager['request']>[3]) =>
      session.request(method, path, { ...headers, ':authority': authority }, options),
    notifyResponseByteRead: (stream: ClientHttp2Stream) => session.notifyResponseByteRead(stream),
  };
}

export function createRpcChannel<S extends DescService>(service: S, options: RpcChannelOptions): RpcChannel<S> {
  const url = new URL(options.baseUrl);
  const baseUrl = options.baseUrl.replace(/\/+$/, '');
  let generation: Generation<S> | undefined;

  function retire(g: Generation<S>): void {
    g.retired = true;
    if (g.active === 0) g.session.abort();
  }

  function open(tlsGeneration: number, tlsOptions: object): Generation<S> {
    const session = new Http2SessionManager(url.origin, {}, tlsOptions);
    const sessionManager = options.authority === undefined ? session : withAuthority(session, options.authority);
    const transportOptions = { baseUrl, sessionManager, ...(options.gzip === true ? { sendCompression: compressionGzip } : {}) };
    const transport: Transport = options.protocol === 'connect' ? createConnectTransport({ ...transportOptions, httpVersion: '2' }) : createGrpcTransport(transportOptions);
    return { tls: tlsGeneration, client: createClient(service, transport), session, active: 0, retired: false };
  }

  return {
    async acquire() {
      const state = await options.tls?.current();
      const tlsGeneration = state?.generation ?? 0;
      if (generation === undefined || generation.tls !== tlsGeneration) {
        if (generation !== undefined) retire(generation);
        generation = open(tlsGeneration, state?.options ?? {});
      }
      const g = generation;
      g.active += 1;
      return {
        client: g.client,
        release() {
          g.active -= 1;
          if (g.retired && g.active === 0) g.session.abort();
        },
      };
    },
    close() {
      if (generation !== undefined) {
        generation.session.abort();
        generation = undefined;
      }
    },
  };
}
