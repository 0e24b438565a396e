// The `splunk-hec` sink: batches of HEC envelopes to /services/collector/event, delivered once Splunk acknowledges them.
import type { ConnectorContext } from '../../src/contracts/connector.ts';
import type { SendOutcome } from '../../src/contracts/outcome.ts';
import type { CheckContext, CheckResult, DeliveryStrength, Sink, SinkBatch } from '../../src/contracts/sink.ts';
import { CredentialValueError } from '../../src/net/auth.ts';
import { unansweredOutcome } from '../../src/net/http.ts';
import { describeProbeFailure } from '../../src/net/probe.ts';
import { createAckTracker, type AckResult } from './acks.ts';
import { actionOf, describeReply, isTokenRefusal, parseHecReply, refusedOutcome, type HecReply } from './classify.ts';
import type { SplunkHecSinkConfig } from './config.ts';
import { ackQueryBody, batchBody } from './encoder.ts';
import { createHecTransport, type HecRequest } from './transport.ts';

const ACK_PATH = '/services/collector/ack';
const HEALTH_PATH = '/services/collector/health';

export function createSplunkHecSink(name: string, config: SplunkHecSinkConfig, context: ConnectorContext): Sink {
  const { logger } = context;
  const transport = createHecTransport(config, {
    changed: (state) => {
      if (state.generation > 1) logger.info({ sink: name, clientCertSerial: state.clientSerial }, 'splunk-hec: TLS files changed; new requests use new connections');
    },
    keptPrevious: (problem) => logger.warn({ sink: name, reason: problem.message }, 'splunk-hec: TLS files changed but cannot be used yet; keeping the previous ones'),
  });
  const ackMode = config.ack.mode;
  const acks = createAckTracker({
    pollIntervalMs: config.ack.pollInterval,
    timeoutMs: config.ack.timeout,
    maxPending: config.ack.maxPending,
    idsPerPoll: config.ack.idsPerPoll,
    query: (body, signal) => transport.request({ method: 'POST', path: ACK_PATH, body, channel: true }, signal),
    logger,
    sink: name,
  });
  const sends = new Set<Promise<SendOutcome>>();
  let closing: Promise<void> | undefined;
  let toldNoAck = false;
  let toldAckIgnored = false;
  const ACKNOWLEDGED: DeliveryStrength = { level: 'acknowledged', detail: 'indexer acknowledgement: delivered once Splunk reports the batch indexed' };
  const ACCEPTED_NO_ACK: DeliveryStrength = { level: 'accepted', detail: 'the token has no indexer acknowledgement: HTTP 200 counts as delivered' };
  let strength: DeliveryStrength =
    ackMode === 'off'
      ? { level: 'accepted', detail: 'ack.mode off: HTTP 200 counts as delivered' }
      : ackMode === 'required'
        ? ACKNOWLEDGED
        : // Until HEC says whether the token has acknowledgement: the weaker of the two.
          { level: 'accepted', detail: 'ack.mode auto: acknowledged (indexer acknowledgement) once HEC shows the token has it, else HTTP 200 counts as delivered' };

  async function sendOnce(batch: SinkBatch, signal: AbortSignal): Promise<SendOutcome> {
    let release: () => void;
    try {
      release = ackMode === 'off' ? () => undefined : await acks.acquire(signal);
    } catch {
      return { status: 'retryable', reason: 'aborted while waiting for a free ack slot' };
    }
    try {
      const body = batchBody(batch);
      const ticket = acks.begin();
      let reply: HecReply;
      try {
        const res = await transport.request({ method: 'POST', path: config.path, body, gzip: config.gzip, channel: true }, signal);
        reply = parseHecReply(res.status, res.body, res.retryAfter);
      } catch (error) {
        ticket.unanswered();
        // HEC may have taken the request before the connection failed: sending again may duplicate. A TLS
        // failure is retried too: a certificate fixed on the Splunk side is then picked up without a restart.
        return unansweredOutcome(error, signal, 'HEC');
      }
      if (actionOf(reply) !== 'accepted') {
        ticket.answered();
        return refusedOutcome(reply, batch.records.length, Date.now());
      }
      if (reply.ackId === undefined || ackMode === 'off') {
        ticket.answered();
        if (reply.ackId !== undefined && !toldAckIgnored) {
          toldAckIgnored = true;
          logger.warn(
            { sink: name },
            'splunk-hec: ack.mode is off but the token has indexer acknowledgement: Splunk keeps every ack status until it is asked for (and may refuse requests once its ack limits are reached); set ack.mode to auto',
          );
        }
        if (ackMode === 'required') {
          return {
            status: 'rejected',
            scope: 'sink',
            reason: 'HEC accepted the request without an ackId, but ack.mode is required: enable indexer acknowledgement on the token',
          };
        }
        if (!toldNoAck && ackMode === 'auto') {
          toldNoAck = true;
          strength = ACCEPTED_NO_ACK;
          logger.warn({ sink: name }, 'splunk-hec: the token has no indexer acknowledgement, so HTTP 200 counts as delivered (data HEC loses before indexing is not noticed)');
        }
        return { status: 'delivered' };
      }
      if (ackMode === 'auto') strength = ACKNOWLEDGED;
      return outcomeOfAck(await ticket.accepted(reply.ackId, signal));
    } finally {
      release();
    }
  }

  function outcomeOfAck(result: AckResult): SendOutcome {
    switch (result.kind) {
      case 'acked':
        return { status: 'delivered' };
      case 'timeout':
      case 'lost':
        return { status: 'retryable', reason: result.reason, kind: 'acknowledgement' };
      case 'disabled':
        return { status: 'rejected', scope: 'sink', reason: result.reason };
      case 'aborted':
        return { status: 'retryable', reason: 'aborted while waiting for the indexer acknowledgement' };
    }
  }

  /** One request for `check`: the reply, or the network failure in words a person can act on. */
  async function probe(request: HecRequest): Promise<{ reply: HecReply } | { failure: string }> {
    try {
      const res = await transport.request(request, AbortSignal.timeout(config.timeout));
      return { reply: parseHecReply(res.status, res.body, res.retryAfter) };
    } catch (error) {
      if (error instanceof CredentialValueError) return { failure: `bad token: ${error.message}` };
      const tls = await transport.tlsState().catch(() => undefined);
      return { failure: await describeProbeFailure(error, { url: config.url, timeoutMs: config.timeout, ...(tls === undefined ? {} : { tls: tls.options }) }) };
    }
  }

  async function check(context?: CheckContext): Promise<CheckResult> {
    const parts: string[] = [];
    let ok = true;
    const fail = (detail: string) => {
      ok = false;
      parts.push(detail);
    };
    const health = await probe({ method: 'GET', path: HEALTH_PATH });
    if ('failure' in health) return { ok: false, detail: health.failure };
    if (health.reply.status === 200) parts.push(health.reply.code === 17 ? 'reachable, HEC is healthy' : `reachable (health: ${describeReply(health.reply)})`);
    else if (health.reply.status === 404) return { ok: false, detail: `no HEC at ${config.url} (${describeReply(health.reply)}): is HEC enabled, on this port?` };
    else if (isTokenRefusal(health.reply)) return { ok: false, detail: `bad token: ${describeReply(health.reply)}` };
    else fail(`reachable, but HEC is not healthy: ${describeReply(health.reply)}`);

    // A request without data: HEC checks the token and answers "No data" (code 5) when it is good.
    const dry = await probe({ method: 'POST', path: config.path, body: '', channel: true });
    if ('failure' in dry) return { ok: false, detail: [...parts, dry.failure].join('; ') };
    if (isTokenRefusal(dry.reply)) return { ok: false, detail: [...parts, `bad token: ${describeReply(dry.reply)}`].join('; ') };
    if (dry.reply.status === 404) return { ok: false, detail: [...parts, `no HEC endpoint at path ${config.path} (${describeReply(dry.reply)})`].join('; ') };
    if (dry.reply.code === 5 || (dry.reply.code === 0 && dry.reply.status === 200)) parts.push('token valid');
    else if (dry.reply.code === undefined) fail(`dry send: ${describeReply(dry.reply)} is not HEC's answer: is url a Splunk HEC endpoint?`);
    else fail(`dry send: ${describeReply(dry.reply)}`);

    if (ackMode !== 'off') {
      const ack = await probe({ method: 'POST', path: ACK_PATH, body: ackQueryBody([0]), channel: true });
      if ('failure' in ack) fail(`ack query: ${ack.failure}`);
      else if (ack.reply.status === 200) {
        parts.push('indexer acknowledgement on');
        strength = ACKNOWLEDGED;
      } else if (ack.reply.code === 14) {
        if (ackMode === 'required') fail('ack disabled on this token, but ack.mode is required');
        else {
          parts.push('ack disabled on this token (HTTP 200 counts as delivered; set ack.mode: required to insist)');
          strength = ACCEPTED_NO_ACK;
        }
      } else {
        // A channel Splunk has not seen yet may be refused (code 11) on some versions: not a verdict on the token.
        parts.push(`indexer acknowledgement not determined (ack query answered ${describeReply(ack.reply)})`);
      }
    }

    // An envelope with a blank event is never indexed; HEC refuses its index first when the token may not
    // write there (code 7, "Incorrect index"), else the blank event (code 13). Order observed on HEC-compatible
    // servers; not documented by Splunk.
    const indexes = [...new Set((context?.routeOptions ?? []).flatMap((o) => (o['index'] === undefined ? [] : [o['index']])))];
    for (const index of indexes) {
      const res = await probe({ method: 'POST', path: config.path, body: JSON.stringify({ index, event: '' }), channel: true });
      if ('failure' in res) fail(`index ${index}: ${res.failure}`);
      else if (res.reply.code === 7) fail(`index not allowed: ${index} (${describeReply(res.reply)}): add it to the token's allowed indexes`);
      else if (res.reply.code === 13 || res.reply.code === 12) parts.push(`index ${index} allowed`);
      else fail(`index ${index}: unexpected ${describeReply(res.reply)}`);
    }
    return { ok, detail: parts.join('; ') };
  }

  return {
    type: 'splunk-hec',
    name,
    get strength() {
      return strength;
    },
    send(batch, signal) {
      const p = sendOnce(batch, signal);
      sends.add(p);
      void p.finally(() => sends.delete(p));
      return p;
    },
    pendingAcknowledgements: () => acks.pending(),
    check: (ctx) => check(ctx).catch((error: unknown) => ({ ok: false, detail: `check failed: ${(error as Error).message}` })),
    close() {
      closing ??= (async () => {
        await Promise.allSettled([...sends]);
        acks.close();
        await transport.close();
      })();
      return closing;
    },
  };
}
