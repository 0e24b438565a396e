// OTLP/HTTP: `POST <url><path>` with a protobuf or JSON `ExportLogsServiceRequest`, on the shared HTTP client (src/net).
import { BinaryReader, WireType } from '@bufbuild/protobuf/wire';
import { httpClientOf, type HttpClient, type HttpReply } from '../../src/net/http.ts';
import type { TlsEvents } from '../../src/net/tls.ts';
import { httpFailure } from './classify.ts';
import type { OtlpSinkConfig } from './config.ts';
import type { ExportAnswer, OtlpTransport } from './transport.ts';

/** The spec's recommended cap on an answer (a larger one is not an OTLP answer). */
const MAX_REPLY_BYTES = 4 * 1024 * 1024;

/** `google.rpc.Status.message` (field 2) of a protobuf failure body, or '' when there is none. */
export function statusMessageOf(body: Uint8Array): string {
  try {
    const reader = new BinaryReader(body);
    while (reader.pos < reader.len) {
      const [field, wire] = reader.tag();
      if (field === 2 && wire === WireType.LengthDelimited) return reader.string();
      reader.skip(wire);
    }
  } catch {
    // not a Status: the caller shows the body's text instead
  }
  return '';
}

/** What a failure answer says, in one short line: its Status message (protobuf or JSON), or its text. */
function detailOf(reply: HttpReply): string {
  const type = String(reply.headers['content-type'] ?? '');
  let detail = '';
  if (type.includes('protobuf')) detail = statusMessageOf(reply.body);
  else if (type.includes('json')) {
    try {
      const m = (JSON.parse(reply.text()) as { message?: unknown }).message;
      if (typeof m === 'string') detail = m;
    } catch {
      // fall through to the text
    }
  }
  if (detail === '') detail = reply.text().replace(/\s+/g, ' ').trim();
  return detail.length > 300 ? `${detail.slice(0, 300)}…` : detail;
}

export function createOtlpHttpTransport(config: OtlpSinkConfig, decode: (body: Uint8Array) => { partialSuccess?: object }, tlsEvents?: TlsEvents): OtlpTransport & { readonly client: HttpClient } {
  const json = config.protocol === 'http/json';
  const client = httpClientOf(config, tlsEvents);
  const where = `${config.url.replace(/\/+$/, '')}${config.path}`;

  return {
    client,
    where,
    async export(body: Uint8Array, signal: AbortSignal): Promise<ExportAnswer> {
      let reply: HttpReply;
      try {
        reply = await client.request(
          { method: 'POST', path: config.path, body: Buffer.from(body.buffer, body.byteOffset, body.byteLength), contentType: json ? 'application/json' : 'application/x-protobuf', gzip: config.http.gzip, maxReplyBytes: MAX_REPLY_BYTES },
          signal,
        );
      } catch (error) {
        return { kind: 'no-answer', error };
      }
      if (reply.status < 200 || reply.status > 299) return { kind: 'failure', outcome: httpFailure(reply.status, reply.retryAfter, detailOf(reply), Date.now()), status: reply.status };
      if (reply.truncated) return { kind: 'not-otlp', reason: `a ${reply.status} answer longer than ${MAX_REPLY_BYTES} bytes is not an OTLP answer` };
      const type = String(reply.headers['content-type'] ?? '');
      if (type !== '' && !/protobuf|json/i.test(type)) {
        return { kind: 'not-otlp', reason: `HTTP ${reply.status} with Content-Type ${type}, not an ExportLogsServiceResponse: is \`url\` an OTLP endpoint (and \`path\` ${config.path})?` };
      }
      try {
        // An empty 2xx body is an empty response (no partial success), in either encoding.
        return { kind: 'success', response: reply.body.length === 0 ? {} : decode(reply.body) };
      } catch {
        return { kind: 'not-otlp', reason: `HTTP ${reply.status} with a body that is not an ExportLogsServiceResponse (${detailOf(reply) || 'empty'}): is \`url\` an OTLP endpoint (and \`path\` ${config.path})?` };
      }
    },
    close: () => client.close(),
  };
}
