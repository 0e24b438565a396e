// The `syslog` sink: mapped records (CEF by default) as RFC 5424/3164 messages over UDP, TCP, TLS, or RELP with per-message acknowledgements.
import { lookup } from 'node:dns/promises';
import { resolve } from 'node:path';
import type { ConnectorContext } from '../../src/contracts/connector.ts';
import { createSendTracker } from '../../src/delivery/sends.ts';
import { Utf8Body } from '../../src/delivery/encode.ts';
import type { ItemFailure, SendOutcome } from '../../src/contracts/outcome.ts';
import type { CheckResult, DeliveryStrength, Sink, SinkBatch } from '../../src/contracts/sink.ts';
import { explainNetworkError } from '../../src/net/errors.ts';
import { createTlsMaterial, type TlsMaterial } from '../../src/net/tls.ts';
import type { SyslogSinkConfig } from './config.ts';
import { buildMessage, frame, framedBytes, type MessageSettings } from './encoder.ts';
import { RELP_MAX_TXNR, RelpSession, RelpSessionError } from './relp.ts';
import { acceptance, DatagramChannel, openStream, StreamChannel, type StreamTarget } from './transport.ts';

/** What `delivered` means on each transport. */
export const STRENGTHS: Readonly<Record<SyslogSinkConfig['transport'], DeliveryStrength>> = Object.freeze({
  relp: { level: 'acknowledged', detail: "RELP: each message answered '200 OK' by the receiver; unanswered ones are sent again on a new session" },
  tls: { level: 'accepted', detail: 'written to the TLS connection; syslog has no acknowledgement, a batch whose write failed is sent again' },
  tcp: { level: 'accepted', detail: 'written to the TCP connection; syslog has no acknowledgement, a batch whose write failed is sent again' },
  udp: { level: 'best-effort', detail: 'UDP: nothing confirms a datagram arrived (bestEffort: true)' },
});

/** Messages a RELP session carries before it is replaced, well before its transaction numbers wrap. */
const TXNR_RETIRE = RELP_MAX_TXNR - 1_000_000;

export function createSyslogSink(name: string, config: SyslogSinkConfig, context: ConnectorContext): Sink {
  const { logger } = context;
  const inBaseDir = (p: string | undefined) => (p === undefined ? undefined : resolve(context.baseDir, p));
  const useTls = config.transport === 'tls' || (config.transport === 'relp' && config.relp.tls);
  const tls: TlsMaterial | undefined = useTls
    ? createTlsMaterial(
        { caFile: inBaseDir(config.tls.caFile), certFile: inBaseDir(config.tls.certFile), keyFile: inBaseDir(config.tls.keyFile), serverName: config.tls.serverName },
        {
          changed: (state) => {
            if (state.generation > 1) logger.info({ sink: name, clientCertSerial: state.clientSerial }, 'syslog sink: TLS files changed; the next connection uses them');
          },
          keptPrevious: (problem) => logger.warn({ sink: name, reason: problem.message }, 'syslog sink: TLS files changed but cannot be used yet; keeping the previous ones'),
        },
      )
    : undefined;
  const target: StreamTarget = { host: config.host, port: config.port, tls, timeoutMs: config.timeout, confirmTls13: config.transport === 'tls' };
  const settings: MessageSettings = {
    format: config.format,
    facility: config.facility,
    hostname: config.hostname,
    appName: config.appName,
    procId: String(process.pid),
    maxMessageBytes: config.maxMessageBytes,
    cef: config.mapping === 'cef',
  };
  const where = `${config.transport}://${config.host}:${config.port}`;
  // The shared network table's words and fixes, with this sink's keys.
  const keys = { url: 'host', withoutTls: `use transport tcp${config.transport === 'relp' ? ' (relp.tls: false)' : ''}, or the port where it speaks TLS` };
  const explain = (error: unknown): string => explainNetworkError(error, keys);
  let cutTotal = 0;

  if (config.transport === 'udp') {
    logger.warn({ sink: name, where }, 'syslog sink over UDP: best-effort, a datagram lost on the way is lost without a trace (bestEffort: true)');
  }

  /** Builds the messages of a batch; a record that cannot be a message is refused (dead-lettered) with the reason. */
  function messagesOf(batch: SinkBatch): { messages: Array<{ index: number; text: string; bytes: number }>; failures: ItemFailure[] } {
    const messages: Array<{ index: number; text: string; bytes: number }> = [];
    const failures: ItemFailure[] = [];
    let cut = 0;
    batch.records.forEach((record, index) => {
      const built = buildMessage(record, settings);
      if (!built.ok) failures.push({ index, status: 'rejected', reason: built.reason });
      else if (config.framing === 'lf' && config.transport !== 'udp' && built.text.includes('\n')) {
        failures.push({ index, status: 'rejected', reason: 'the message holds a line break, which LF framing would split: use framing octet-counting' });
      } else {
        if (built.cut) cut++;
        messages.push({ index, text: built.text, bytes: built.bytes });
      }
    });
    if (cut > 0) {
      cutTotal += cut;
      logger.warn({ sink: name, cut, cutTotal, maxMessageBytes: config.maxMessageBytes }, 'syslog sink: CEF messages longer than maxMessageBytes were cut (their longest values end with …[truncated, N chars])');
    }
    return { messages, failures };
  }

  const outcomeOf = (failures: ItemFailure[]): SendOutcome => (failures.length === 0 ? { status: 'delivered' } : { status: 'partial', failures });

  const retryable = (error: unknown): SendOutcome => ({ status: 'retryable', reason: `${where}: ${explain(error)}`, kind: 'unanswered' });

  // ---- transports ----

  const stream = config.transport === 'tcp' || config.transport === 'tls' ? new StreamChannel(target) : undefined;
  const datagrams = config.transport === 'udp' ? new DatagramChannel(config.host, config.port) : undefined;

  async function sendStream(batch: SinkBatch, signal: AbortSignal): Promise<SendOutcome> {
    const { messages, failures } = messagesOf(batch);
    if (messages.length > 0) {
      try {
        // One buffer per batch, sized from the messages' byte counts: no write per message, no copy.
        let size = 0;
        for (const m of messages) size += framedBytes(m.bytes, config.framing);
        const body = new Utf8Body(size);
        for (const m of messages) body.add(frame(m.text, m.bytes, config.framing));
        await stream!.write(body.bytes(), signal);
      } catch (error) {
        return retryable(error);
      }
    }
    return outcomeOf(failures);
  }

  async function sendDatagrams(batch: SinkBatch): Promise<SendOutcome> {
    const { messages, failures } = messagesOf(batch);
    try {
      for (const m of messages) await datagrams!.send(Buffer.from(m.text));
    } catch (error) {
      return retryable(error);
    }
    return outcomeOf(failures);
  }

  // RELP: one session at a time; a broken one is replaced on the next send, and what it left unanswered is sent again.
  let session: Promise<RelpSession> | undefined;
  /** The session once open, for the pending-acknowledgements metric (which cannot await). */
  let opened: RelpSession | undefined;
  const sentOn = new WeakMap<RelpSession, number>();
  const sends = createSendTracker();
  let closed = false;
  let closing: Promise<void> | undefined;

  async function openRelp(signal: AbortSignal): Promise<RelpSession> {
    const { socket } = await openStream(target, signal);
    const s = await RelpSession.open(socket, { window: config.relp.window, openTimeoutMs: config.timeout, responseTimeoutMs: config.timeout });
    opened = s;
    return s;
  }

  /** The open session, or a new one when there is none or it broke (or failed to open). */
  async function relpSession(signal: AbortSignal): Promise<RelpSession> {
    const pending = session;
    if (pending !== undefined) {
      const s = await pending.catch(() => undefined);
      if (s !== undefined && !s.broken) return s;
      if (session === pending) session = undefined;
    }
    if (closed) throw new Error('the sink is closed');
    session ??= openRelp(signal);
    return session;
  }

  async function sendRelp(batch: SinkBatch, signal: AbortSignal): Promise<SendOutcome> {
    const { messages, failures } = messagesOf(batch);
    if (messages.length === 0) return outcomeOf(failures);
    let s: RelpSession;
    try {
      s = await relpSession(signal);
      if ((sentOn.get(s) ?? 0) + messages.length >= TXNR_RETIRE) {
        // librelp's server cannot follow the transaction number's wrap from 999999999 to 1: the session is
        // replaced before it gets there (it closes once what it has in flight is answered).
        if (session !== undefined && (await session) === s) session = undefined;
        void s.close();
        s = await relpSession(signal);
      }
      sentOn.set(s, (sentOn.get(s) ?? 0) + messages.length);
    } catch (error) {
      return retryable(error);
    }
    const onAbort = () => s.destroy(new Error('aborted'));
    signal.addEventListener('abort', onAbort, { once: true });
    const answers = await Promise.allSettled(messages.map((m) => s.send(Buffer.from(m.text))));
    signal.removeEventListener('abort', onAbort);
    const broken = answers.find((a) => a.status === 'rejected');
    // No answer at all: the session broke before anything was confirmed; the whole batch goes again.
    if (broken !== undefined && answers.every((a) => a.status === 'rejected') && failures.length === 0) {
      return { status: 'retryable', reason: `${where}: ${relpReason(broken.reason)}`, kind: 'acknowledgement' };
    }
    answers.forEach((a, k) => {
      const index = messages[k]!.index;
      if (a.status === 'rejected') failures.push({ index, status: 'retryable', reason: `${where}: no RELP answer: ${relpReason(a.reason)}` });
      // A receiver that answers anything but 200 refuses this message and says why (librelp itself only does so
      // for a command it does not take): sending it again as it is would not help.
      else if (a.value.code !== 200) failures.push({ index, status: 'rejected', reason: `${where}: the RELP receiver refused the message: ${a.value.code} ${a.value.text}` });
    });
    failures.sort((x, y) => x.index - y.index);
    return outcomeOf(failures);
  }

  const relpReason = (error: unknown): string =>
    error instanceof RelpSessionError ? `${error.message}${error.cause !== undefined ? `: ${explain(error.cause)}` : ''}` : explain(error);

  // ---- check ----

  async function check(): Promise<CheckResult> {
    const strength = STRENGTHS[config.transport];
    if (config.transport === 'udp') {
      try {
        const { address } = await lookup(config.host);
        return { ok: true, detail: `${config.host} resolves to ${address}; UDP cannot be checked further: delivery is best-effort (nothing confirms a datagram arrived)` };
      } catch (error) {
        return { ok: false, detail: `unreachable: ${explain(error)}` };
      }
    }
    let socket;
    try {
      const stream = await openStream(target);
      socket = stream.socket;
      // TLS 1.3: a server refuses a client certificate after the handshake; its ticket or its alert tells.
      await acceptance(stream, Math.min(config.timeout, 1_000)).catch((error: unknown) => {
        socket!.destroy();
        throw error;
      });
    } catch (error) {
      return { ok: false, detail: `${where}: ${explain(error)}` };
    }
    if (config.transport === 'relp') {
      try {
        const s = await RelpSession.open(socket, { window: config.relp.window, openTimeoutMs: config.timeout, responseTimeoutMs: config.timeout });
        await s.close();
        return { ok: true, detail: `${where}: RELP session opened (the receiver offers syslog)${useTls ? ' over TLS, server certificate verified' : ''}; ${strength.level}` };
      } catch (error) {
        return { ok: false, detail: `${where}: ${relpReason(error)}` };
      }
    }
    socket.destroy();
    return { ok: true, detail: `${where}: ${useTls ? 'TLS handshake done, server certificate verified' : 'TCP connection opened'}; ${config.format}, ${config.framing} framing; ${strength.level}: syslog has no acknowledgement` };
  }

  return {
    type: 'syslog',
    name,
    strength: STRENGTHS[config.transport],
    send(batch, signal) {
      if (config.transport === 'relp') return sends.track(sendRelp(batch, signal));
      if (config.transport === 'udp') return sends.track(sendDatagrams(batch));
      return sends.track(sendStream(batch, signal));
    },
    pendingAcknowledgements: () => (opened === undefined || opened.broken ? 0 : opened.outstanding),
    check: () => check().catch((error: unknown) => ({ ok: false, detail: `check failed: ${(error as Error).message}` })),
    close() {
      closing ??= (async () => {
        // The sends handed over before close() end first (the Sink contract), then the connections.
        await sends.settled();
        closed = true;
        const s = await session?.catch(() => undefined);
        session = undefined;
        await Promise.all([s?.close(), stream?.close(), datagrams?.close()]);
      })();
      return closing;
    },
  };
}
