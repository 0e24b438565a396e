// The `otlp` sink: OpenTelemetry log records to an OTLP receiver (http/protobuf, http/json, gRPC), each batch delivered, retried, split or dead-lettered — partial successes included.
import type { ConnectorContext } from '../../src/contracts/connector.ts';
import type { SendOutcome } from '../../src/contracts/outcome.ts';
import type { CheckResult, DeliveryStrength, Sink, SinkBatch } from '../../src/contracts/sink.ts';
import { unansweredOutcome } from '../../src/net/http.ts';
import type { TlsEvents } from '../../src/net/tls.ts';
import { successOutcome } from './classify.ts';
import type { OtlpSinkConfig } from './config.ts';
import { createOtlpEncoder, kubernetesAttributes } from './encoder.ts';
import type { ExportAnswer, OtlpTransport } from './transport.ts';
import { createOtlpGrpcTransport } from './transport-grpc.ts';
import { createOtlpHttpTransport } from './transport-http.ts';
import { createSendTracker } from '../../src/delivery/sends.ts';

const STRENGTH: DeliveryStrength = {
  level: 'acknowledged',
  detail: 'the receiver answered success for the export request; records it refused in a partial success are dead-lettered',
};

export function createOtlpSink(name: string, config: OtlpSinkConfig, context: ConnectorContext): Sink {
  const { logger } = context;
  const encoder = createOtlpEncoder(config.protocol === 'http/json' ? 'json' : 'protobuf', { ...kubernetesAttributes(), ...config.resource });
  const tlsEvents: TlsEvents = {
    changed: (state) => {
      if (state.generation > 1) logger.info({ sink: name, clientCertSerial: state.clientSerial }, 'otlp sink: TLS files changed; new requests use them');
    },
    keptPrevious: (problem) => logger.warn({ sink: name, reason: problem.message }, 'otlp sink: TLS files changed but cannot be used yet; keeping the previous ones'),
  };
  const transport: OtlpTransport =
    config.protocol === 'grpc' ? createOtlpGrpcTransport(config, tlsEvents, context.baseDir) : createOtlpHttpTransport(config, (body) => encoder.decodeResponse(body), tlsEvents);
  const sends = createSendTracker();
  let warnedPartial = false;
  let closing: Promise<void> | undefined;

  function outcomeOf(answer: ExportAnswer, signal: AbortSignal): SendOutcome {
    switch (answer.kind) {
      case 'success': {
        const partial = answer.response.partialSuccess;
        if (partial?.errorMessage !== undefined && partial.errorMessage !== '' && !(Number(partial.rejectedLogRecords ?? 0) > 0) && !warnedPartial) {
          // Rejected 0 with a message is a warning from the receiver (spec): delivered, said once.
          warnedPartial = true;
          logger.warn({ sink: name, message: partial.errorMessage }, 'otlp sink: the receiver accepted every record with a warning');
        }
        return successOutcome(partial);
      }
      case 'failure':
        return answer.outcome;
      case 'no-answer':
        // OTLP accepts the duplicates a resend after a lost answer can make; records carry log.record.uid.
        return unansweredOutcome(answer.error, signal, `the OTLP receiver at ${transport.where}`);
      case 'not-otlp':
        return { status: 'rejected', scope: 'sink', reason: `${transport.where}: ${answer.reason}` };
    }
  }

  async function sendOnce(batch: SinkBatch, signal: AbortSignal): Promise<SendOutcome> {
    let body: Uint8Array;
    try {
      body = encoder.encode(batch.records);
    } catch (error) {
      // A record OpenTelemetry's serializer cannot write: the engine splits the batch to dead-letter it alone.
      return { status: 'rejected', scope: 'batch', reason: `OpenTelemetry's serializer refused the batch: ${(error as Error).message}` };
    }
    return outcomeOf(await transport.export(body, signal), signal);
  }

  async function check(): Promise<CheckResult> {
    // An empty export request: receivers answer success without storing anything (spec: "empty requests SHOULD get success").
    const signal = AbortSignal.timeout(config.http.timeout);
    const answer = await transport.export(encoder.empty(), signal);
    const protocol = `${config.protocol} to ${transport.where}`;
    if (answer.kind === 'success') return { ok: true, detail: `${protocol}: an empty export request was accepted (reachable, credentials valid); delivered means ${STRENGTH.level}` };
    const outcome = outcomeOf(answer, signal);
    const reason = outcome.status === 'delivered' ? 'accepted' : 'reason' in outcome ? outcome.reason : outcome.status;
    return { ok: false, detail: `${protocol}: ${await mismatchHint(config, answer, reason)}` };
  }

  return {
    type: 'otlp',
    needsValue: true,
    name,
    strength: STRENGTH,
    send: (batch, signal) => sends.track(sendOnce(batch, signal)),
    check: () => check().catch((error: unknown) => ({ ok: false, detail: `check failed: ${(error as Error).message}` })),
    close() {
      closing ??= (async () => {
        await sends.settled();
        await transport.close();
      })();
      return closing;
    },
  };
}

/**
 * A failed `check`, with the protocol mismatch told apart: when the endpoint does not answer the configured
 * protocol, the other family (gRPC or HTTP) is tried once, and if it answers, the line says which to set.
 */
async function mismatchHint(config: OtlpSinkConfig, answer: ExportAnswer, reason: string): Promise<string> {
  // What a wrong protocol looks like: HTTP to a gRPC port is no answer or a protocol error; gRPC to an HTTP port is
  // INTERNAL ("Protocol error"), UNIMPLEMENTED or UNAVAILABLE; an HTTP server without OTLP says 404/405/415.
  const mismatchCodes = config.protocol === 'grpc' ? [12, 13, 14] : [404, 405, 415, 505];
  const suspicious = answer.kind === 'no-answer' || answer.kind === 'not-otlp' || (answer.kind === 'failure' && mismatchCodes.includes(answer.status));
  if (!suspicious) return reason;
  const other: OtlpSinkConfig = { ...config, protocol: config.protocol === 'grpc' ? 'http/protobuf' : 'grpc' };
  const encoder = createOtlpEncoder('protobuf', {});
  const transport = other.protocol === 'grpc' ? createOtlpGrpcTransport(other) : createOtlpHttpTransport(other, (b) => encoder.decodeResponse(b));
  try {
    const probe = await transport.export(encoder.empty(), AbortSignal.timeout(Math.min(config.http.timeout, 5_000)));
    if (probe.kind === 'success' || (probe.kind === 'failure' && probe.status !== 404)) {
      return `${reason}: this endpoint answers OTLP over ${other.protocol === 'grpc' ? 'gRPC: set protocol: grpc' : 'HTTP: set protocol: http/protobuf (or http/json)'}`;
    }
  } catch {
    // no hint
  } finally {
    await transport.close();
  }
  return reason;
}
