// OTLP/gRPC: `LogsService/Export` over HTTP/2 through connect-rpc (src/net/rpc.ts), with OpenTelemetry's protobuf bytes as the request.
import { fromBinary } from '@bufbuild/protobuf';
import { BinaryReader, WireType } from '@bufbuild/protobuf/wire';
import { ConnectError } from '@connectrpc/connect';
import { resolve } from 'node:path';
import { createAuthorization, createSecretHeaders } from '../../src/net/auth.ts';
import { findNetworkError } from '../../src/net/errors.ts';
import { createRpcChannel } from '../../src/net/rpc.ts';
import { createTlsMaterial, type TlsEvents } from '../../src/net/tls.ts';
import { grpcFailure } from './classify.ts';
import type { OtlpSinkConfig } from './config.ts';
import { ExportLogsServiceRequestSchema, LogsService } from './gen/opentelemetry/proto/collector/logs/v1/logs_service_pb.js';
import type { ExportAnswer, OtlpTransport } from './transport.ts';

const RETRY_INFO = 'google.rpc.RetryInfo';

/** `google.rpc.RetryInfo.retry_delay` (a Duration: seconds = 1, nanos = 2) in milliseconds, or undefined. */
export function retryDelayMs(value: Uint8Array): number | undefined {
  try {
    const outer = new BinaryReader(value);
    while (outer.pos < outer.len) {
      const [field, wire] = outer.tag();
      if (field !== 1 || wire !== WireType.LengthDelimited) {
        outer.skip(wire);
        continue;
      }
      const duration = new BinaryReader(outer.bytes());
      let seconds = 0n;
      let nanos = 0;
      while (duration.pos < duration.len) {
        const [f, w] = duration.tag();
        if (f === 1 && w === WireType.Varint) seconds = BigInt(duration.int64());
        else if (f === 2 && w === WireType.Varint) nanos = duration.int32();
        else duration.skip(w);
      }
      return Number(seconds) * 1000 + Math.round(nanos / 1e6);
    }
  } catch {
    // not a RetryInfo
  }
  return undefined;
}

export function createOtlpGrpcTransport(config: OtlpSinkConfig, tlsEvents?: TlsEvents, baseDir = '/'): OtlpTransport {
  const url = new URL(config.url);
  const inBaseDir = (p: string | undefined) => (p === undefined ? undefined : resolve(baseDir, p));
  const tls =
    url.protocol === 'https:'
      ? createTlsMaterial({ caFile: inBaseDir(config.tls.caFile), certFile: inBaseDir(config.tls.certFile), keyFile: inBaseDir(config.tls.keyFile), serverName: config.tls.serverName }, tlsEvents)
      : undefined;
  const channel = createRpcChannel(LogsService, { baseUrl: config.url, tls, gzip: config.http.gzip });
  const authorization = config.auth === undefined ? undefined : createAuthorization(config.auth);
  const headers = createSecretHeaders(config.http.headers, 'http.headers');
  const where = `${config.url.replace(/\/+$/, '')} (gRPC)`;

  return {
    where,
    async export(body: Uint8Array, signal: AbortSignal): Promise<ExportAnswer> {
      let lease;
      try {
        lease = await channel.acquire();
      } catch (error) {
        return { kind: 'no-answer', error };
      }
      try {
        // OpenTelemetry's protobuf bytes, read into the generated message that connect-rpc sends as it is.
        const request = fromBinary(ExportLogsServiceRequestSchema, body);
        const metadata: Record<string, string> = { ...(await headers.current()) };
        const auth = await authorization?.current();
        if (auth !== undefined) metadata['authorization'] = auth;
        const response = await lease.client.export(request, { signal, timeoutMs: config.http.timeout, headers: metadata });
        return { kind: 'success', response };
      } catch (error) {
        if (error instanceof ConnectError) {
          // A failure below gRPC (refused, reset, TLS) reaches us as UNAVAILABLE/INTERNAL with the socket error as its cause.
          if (findNetworkError(error) !== undefined) return { kind: 'no-answer', error };
          const retryInfo = error.details.find((d) => 'type' in d && d.type === RETRY_INFO);
          const delay = retryInfo !== undefined && 'value' in retryInfo && retryInfo.value instanceof Uint8Array ? retryDelayMs(retryInfo.value) : undefined;
          return { kind: 'failure', outcome: grpcFailure(error.code, error.rawMessage, delay), status: error.code };
        }
        return { kind: 'no-answer', error };
      } finally {
        lease.release();
      }
    },
    close() {
      channel.close();
      return Promise.resolve();
    },
  };
}
