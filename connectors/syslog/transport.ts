// Connections of the syslog sink: a TCP or TLS stream (also under RELP) opened with the shared TLS material, and a UDP socket.
import { createSocket, type Socket as DgramSocket } from 'node:dgram';
import { lookup } from 'node:dns/promises';
import { connect as netConnect, isIP, type Socket } from 'node:net';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import type { TlsMaterial } from '../../src/net/tls.ts';

export interface StreamTarget {
  readonly host: string;
  readonly port: number;
  /** TLS (verification always on), with the files re-read when they change; undefined for plain TCP. */
  readonly tls?: TlsMaterial | undefined;
  /** Time allowed for the connection (and the TLS handshake). */
  readonly timeoutMs: number;
  /**
   * TLS 1.3: count the first write on a connection only once the server has not refused the client
   * certificate (see `OpenStream.accepted`). Plain syslog needs it (nothing else would tell); RELP does not
   * (its `open` answer tells).
   */
  readonly confirmTls13?: boolean;
}

/** At most this long after the first write on a TLS 1.3 connection for the server's refusal of our certificate. */
const REFUSAL_WAIT_MS = 1_000;

/** A connected socket and the TLS generation it was opened with (a newer one means the files changed). */
export interface OpenStream {
  readonly socket: Socket;
  readonly generation: number;
  /**
   * Whether the server is known to have accepted the connection. False only for TLS 1.3 with `confirmTls13`:
   * its client handshake ends before the server has checked the client certificate, and a server that refuses
   * it says so in an alert afterwards — after bytes written at once were counted as written. The server's
   * session ticket (sent once it accepted the handshake) sets it; see `StreamChannel.write`.
   */
  accepted: boolean;
}

/** Opens a TCP connection, with TLS when `target.tls` is set; rejects with the socket's or the handshake's error. */
export async function openStream(target: StreamTarget, signal?: AbortSignal): Promise<OpenStream> {
  const state = target.tls === undefined ? undefined : await target.tls.current();
  return new Promise<OpenStream>((resolve, reject) => {
    const socket =
      state === undefined
        ? netConnect({ host: target.host, port: target.port })
        : tlsConnect({
            // SNI carries host names only (RFC 6066); `tls.serverName` (in the options) wins over the host.
            ...(isIP(target.host) === 0 ? { servername: target.host } : {}),
            ...state.options,
            host: target.host,
            port: target.port,
          });
    let finished = false;
    const done = (error?: Error) => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      socket.off('error', done);
      if (error !== undefined) {
        socket.destroy();
        reject(error);
        return;
      }
      socket.setNoDelay(true);
      socket.setKeepAlive(true, 30_000);
      const pending = state !== undefined && target.confirmTls13 === true && (socket as TLSSocket).getProtocol() === 'TLSv1.3';
      const stream: OpenStream = { socket, generation: state?.generation ?? 0, accepted: !pending };
      // (Waiting for the ticket before writing is not an option: rsyslog's OpenSSL driver and librelp then fail
      // to read what follows, "bad record mac".)
      if (pending) socket.once('session', () => (stream.accepted = true));
      resolve(stream);
    };
    const onAbort = () => done(signal?.reason instanceof Error ? signal.reason : new Error('aborted'));
    let tcpUp = false;
    socket.once('connect', () => (tcpUp = true));
    const timer = setTimeout(() => {
      const what =
        state !== undefined && tcpUp
          ? `connected to ${target.host}:${target.port}, but no TLS handshake answer within ${target.timeoutMs} ms: the receiver may not speak TLS on this port (use transport tcp, or the port where it speaks TLS)`
          : `no connection to ${target.host}:${target.port} within ${target.timeoutMs} ms`;
      done(Object.assign(new Error(what), { code: 'ETIMEDOUT' }));
    }, target.timeoutMs);
    signal?.addEventListener('abort', onAbort, { once: true });
    socket.once('error', done);
    socket.once(state === undefined ? 'connect' : 'secureConnect', () => done());
  });
}

/**
 * Resolves once a TLS 1.3 server shows it accepted the connection (its session ticket), or when it has not
 * refused it within `waitMs` (a server that issues no tickets); rejects with its alert or its closing.
 */
export function acceptance(stream: OpenStream, waitMs: number = REFUSAL_WAIT_MS): Promise<void> {
  if (stream.accepted) return Promise.resolve();
  const { socket } = stream;
  return new Promise<void>((resolve, reject) => {
    const finish = (error?: Error) => {
      clearTimeout(timer);
      socket.off('session', onTicket);
      socket.off('error', onError);
      socket.off('close', onClose);
      if (error !== undefined) reject(error);
      else {
        stream.accepted = true;
        resolve();
      }
    };
    const onTicket = () => finish();
    const onError = (e: Error) => finish(e);
    const onClose = () =>
      finish(Object.assign(new Error('the receiver closed the connection right after the TLS handshake: it may require a client certificate, or not trust the one given'), { code: 'ECONNRESET' }));
    const timer = setTimeout(() => finish(), waitMs);
    if (socket.destroyed) return onClose();
    socket.once('session', onTicket);
    socket.once('error', onError);
    socket.once('close', onClose);
  });
}

/**
 * One long-lived stream to the receiver for plain TCP and TLS syslog. Writes go out in the order they are
 * given; each resolves once its bytes are handed to the kernel, and rejects when the connection fails first.
 * A connection that the receiver closed (FIN or reset) is dropped at once, so the next write opens a new one
 * instead of writing into a dead socket; after the TLS files change, the next write opens a new connection.
 */
export class StreamChannel {
  private current: OpenStream | undefined;
  private opening: Promise<OpenStream> | undefined;
  private closed = false;
  private readonly target: StreamTarget;

  constructor(target: StreamTarget) {
    this.target = target;
  }

  async write(data: Buffer, signal: AbortSignal): Promise<void> {
    const stream = await this.stream(signal);
    await new Promise<void>((resolve, reject) => {
      const { socket } = stream;
      let settled = false;
      const finish = (error?: Error | null) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        socket.off('close', onClose);
        signal.removeEventListener('abort', onAbort);
        if (error) reject(error);
        else resolve();
      };
      const onClose = () => finish(Object.assign(new Error('the receiver closed the connection before the batch was written'), { code: 'ECONNRESET' }));
      const onAbort = () => {
        // Part of the batch may be on its way: the connection cannot carry another message boundary safely.
        this.drop(stream, new Error('aborted'));
        finish(new Error('aborted'));
      };
      const timer = setTimeout(() => {
        this.drop(stream, new Error('write timed out'));
        finish(Object.assign(new Error(`the batch was not written within ${this.target.timeoutMs} ms (the receiver is not reading)`), { code: 'ETIMEDOUT' }));
      }, this.target.timeoutMs);
      socket.once('close', onClose);
      signal.addEventListener('abort', onAbort, { once: true });
      socket.write(data, (error) => finish(error ?? undefined));
    });
    // The first bytes on a TLS 1.3 connection count once the server has not refused the connection.
    if (!stream.accepted) {
      await acceptance(stream, Math.min(this.target.timeoutMs, REFUSAL_WAIT_MS)).catch((error: unknown) => {
        this.drop(stream, error as Error);
        throw error;
      });
    }
  }

  /** The open connection, or a new one when there is none, it was closed, or the TLS files changed. */
  private async stream(signal: AbortSignal): Promise<OpenStream> {
    if (this.closed) throw new Error('the sink is closed');
    const cur = this.current;
    if (cur !== undefined && !cur.socket.destroyed && cur.socket.writable) {
      const generation = this.target.tls === undefined ? 0 : (await this.target.tls.current()).generation;
      if (generation === cur.generation) return cur;
      // New certificates: finish what is queued on the old connection, use a new one.
      cur.socket.end();
      this.current = undefined;
    }
    this.opening ??= openStream(this.target, signal)
      .then((s) => {
        this.adopt(s);
        return s;
      })
      .finally(() => {
        this.opening = undefined;
      });
    return this.opening;
  }

  private adopt(s: OpenStream): void {
    this.current = s;
    const gone = () => {
      if (this.current === s) this.current = undefined;
      s.socket.destroy();
    };
    // The receiver sends nothing on a syslog connection; what it sends is read and ignored. Its FIN means it
    // will read no more: what is written after it would be lost.
    s.socket.on('data', () => {});
    s.socket.once('end', gone);
    s.socket.once('close', gone);
    s.socket.on('error', gone);
  }

  private drop(s: OpenStream, reason: Error): void {
    if (this.current === s) this.current = undefined;
    s.socket.destroy(reason);
  }

  /** Ends the connection after what was written (bounded by the timeout). */
  async close(): Promise<void> {
    this.closed = true;
    const cur = this.current ?? (await this.opening?.catch(() => undefined));
    this.current = undefined;
    if (cur === undefined || cur.socket.destroyed) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        cur.socket.destroy();
        resolve();
      }, this.target.timeoutMs);
      cur.socket.once('close', () => {
        clearTimeout(timer);
        resolve();
      });
      cur.socket.end();
    });
  }
}

/** UDP: one datagram per message (RFC 5426), through a socket connected to the receiver (ICMP errors then show). */
export class DatagramChannel {
  private socket: Promise<DgramSocket> | undefined;
  private readonly host: string;
  private readonly port: number;

  constructor(host: string, port: number) {
    this.host = host;
    this.port = port;
  }

  private open(): Promise<DgramSocket> {
    this.socket ??= (async () => {
      const { address, family } = await lookup(this.host);
      const socket = createSocket(family === 6 ? 'udp6' : 'udp4');
      socket.on('error', () => {
        // Errors reach the send callbacks; a socket error with none pending is dropped with the socket.
        this.socket = undefined;
        socket.close();
      });
      await new Promise<void>((resolve, reject) => {
        socket.once('error', reject);
        socket.connect(this.port, address, () => {
          socket.off('error', reject);
          resolve();
        });
      });
      return socket;
    })().catch((error: unknown) => {
      this.socket = undefined;
      throw error;
    });
    return this.socket;
  }

  async send(message: Buffer): Promise<void> {
    const socket = await this.open();
    await new Promise<void>((resolve, reject) => socket.send(message, (error) => (error ? reject(error) : resolve())));
  }

  async close(): Promise<void> {
    const s = await this.socket?.catch(() => undefined);
    this.socket = undefined;
    if (s !== undefined) await new Promise<void>((resolve) => s.close(() => resolve()));
  }
}
