// RELP client (rsyslog's Reliable Event Logging Protocol, as librelp/imrelp speak it), hand-written: Node has no maintained RELP client.
/*
 * Protocol, as librelp implements it (doc/relp.md, src/relpframe.c, src/relpsess.c, src/copen.c, src/scsyslog.c,
 * src/cclose.c, src/relp.h):
 * - frame: `TXNR SP COMMAND SP DATALEN [SP DATA] LF`; TXNR and DATALEN 1 to 9 decimal digits, COMMAND 1 to 32
 *   letters; DATALEN is DATA's byte count, and when it is 0 there is neither the SP nor DATA;
 * - TXNR 0 is for hints from the server (`0 serverclose 0`); the client numbers its commands from 1, one by one, and
 *   a librelp receiver insists on exactly that sequence (a gap breaks the session);
 * - `open` offers `relp_version=0`, `relp_software=…`, `commands=syslog` (LF-separated); the answer is
 *   `rsp` `200 OK\n<offers>`, or `500 <why>` when refused;
 * - each `syslog` command carries one message and is answered by an `rsp` with its TXNR: `200 OK`, or `500 <why>`;
 * - `close` is answered by an `rsp` with no data; the server may send `serverclose` before it drops a session.
 */
import type { Socket } from 'node:net';

/** Highest TXNR; the spec wraps to 1 after it. */
export const RELP_MAX_TXNR = 999_999_999;
/** librelp's client window: unanswered frames at most (RELP_DFLT_WINDOW_SIZE). */
export const RELP_DEFAULT_WINDOW = 128;
/** librelp's default maximum DATALEN (RELP_DFLT_MAX_DATA_SIZE, 128 KiB); imrelp uses rsyslog's maxMessageSize instead. */
export const RELP_DEFAULT_MAX_DATA = 128 * 1024;
/** librelp's session timeout (seconds in librelp: 90). */
const DEFAULT_TIMEOUT_MS = 90_000;
const MAX_DIGITS = 9;
const MAX_COMMAND = 32;
const SP = 0x20;
const LF = 0x0a;

/** The server sent something that is not a RELP frame: the session cannot be trusted any more. */
export class RelpProtocolError extends Error {
  override readonly name = 'RelpProtocolError';
}

export type RelpSessionErrorCode = 'closed' | 'serverclose' | 'timeout' | 'protocol' | 'open-refused' | 'socket';

/** Why a session is gone (or could not be opened); `cause` is the socket error or the RelpProtocolError, if any. */
export class RelpSessionError extends Error {
  override readonly name = 'RelpSessionError';
  readonly code: RelpSessionErrorCode;
  constructor(code: RelpSessionErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}

export interface RelpFrame {
  readonly txnr: number;
  readonly command: string;
  readonly data: Buffer;
}

/** The status of an `rsp`: "200 OK" → { code: 200, text: 'OK' }. */
export interface RelpResponse {
  readonly code: number;
  readonly text: string;
}

export const nextTxnr = (txnr: number): number => (txnr >= RELP_MAX_TXNR ? 1 : txnr + 1);

export function encodeFrame(txnr: number, command: string, data: Buffer | string): Buffer {
  if (!Number.isInteger(txnr) || txnr < 0 || txnr > RELP_MAX_TXNR) throw new RangeError(`RELP TXNR out of range: ${txnr}`);
  if (!/^[a-z]{1,32}$/.test(command)) throw new RangeError(`not a RELP command: ${JSON.stringify(command)}`);
  const body = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  if (body.length > RELP_MAX_TXNR) throw new RangeError(`RELP data too long: ${body.length} bytes`);
  if (body.length === 0) return Buffer.from(`${txnr} ${command} 0\n`, 'latin1');
  return Buffer.concat([Buffer.from(`${txnr} ${command} ${body.length} `, 'latin1'), body, Buffer.from([LF])]);
}

type ParseState = 'txnr' | 'command' | 'datalen' | 'data' | 'trailer' | 'failed';

const isDigit = (c: number): boolean => c >= 0x30 && c <= 0x39;
const isLower = (c: number): boolean => c >= 0x61 && c <= 0x7a;
const show = (c: number): string => (c >= 0x21 && c <= 0x7e ? `'${String.fromCharCode(c)}'` : `0x${c.toString(16).padStart(2, '0')}`);

/**
 * Incremental frame parser (the byte state machine of librelp's relpFrameProcessOctetRcvd): chunk boundaries do
 * not matter. Holds at most one header (≤ 53 bytes) and one frame's data, which is allocated only once DATALEN is
 * known to be within the limit. After a RelpProtocolError it stays failed: a stream out of step cannot be resynced.
 */
export class RelpFrameParser {
  #state: ParseState = 'txnr';
  #txnr = 0;
  #digits = 0;
  #command = '';
  #length = 0;
  #data: Buffer = Buffer.alloc(0);
  #have = 0;
  readonly #maxDataBytes: number;

  constructor(maxDataBytes = RELP_DEFAULT_MAX_DATA) {
    if (!Number.isInteger(maxDataBytes) || maxDataBytes < 0 || maxDataBytes > RELP_MAX_TXNR) throw new RangeError(`RELP data limit out of range: ${maxDataBytes}`);
    this.#maxDataBytes = maxDataBytes;
  }

  push(chunk: Buffer): RelpFrame[] {
    if (this.#state === 'failed') throw new RelpProtocolError('the RELP stream was already out of step');
    const frames: RelpFrame[] = [];
    try {
      let i = 0;
      while (i < chunk.length) {
        if (this.#state === 'data') {
          const take = Math.min(this.#length - this.#have, chunk.length - i);
          chunk.copy(this.#data, this.#have, i, i + take);
          this.#have += take;
          i += take;
          if (this.#have === this.#length) this.#state = 'trailer';
          continue;
        }
        const frame = this.#octet(chunk[i++]!);
        if (frame !== undefined) frames.push(frame);
      }
    } catch (error) {
      this.#state = 'failed';
      throw error;
    }
    return frames;
  }

  /** One header or trailer byte; returns the frame it completes, if any. */
  #octet(c: number): RelpFrame | undefined {
    switch (this.#state) {
      case 'txnr':
        if (isDigit(c)) {
          if (this.#digits === MAX_DIGITS) throw new RelpProtocolError(`TXNR longer than ${MAX_DIGITS} digits`);
          this.#txnr = this.#txnr * 10 + (c - 0x30);
          this.#digits++;
          return undefined;
        }
        if (c !== SP || this.#digits === 0) throw new RelpProtocolError(`expected a TXNR digit, got ${show(c)}`);
        this.#state = 'command';
        return undefined;
      case 'command':
        if (isLower(c)) {
          if (this.#command.length === MAX_COMMAND) throw new RelpProtocolError(`command longer than ${MAX_COMMAND} letters`);
          this.#command += String.fromCharCode(c);
          return undefined;
        }
        if (c !== SP || this.#command.length === 0) throw new RelpProtocolError(`expected a command letter, got ${show(c)}`);
        this.#state = 'datalen';
        this.#digits = 0;
        return undefined;
      case 'datalen':
        return this.#datalen(c);
      case 'trailer':
        if (c !== LF) throw new RelpProtocolError(`expected the LF trailer after ${this.#length} data bytes, got ${show(c)}`);
        return this.#emit();
      default:
        throw new Error(`unreachable parser state ${this.#state}`);
    }
  }

  #datalen(c: number): RelpFrame | undefined {
    if (isDigit(c)) {
      if (this.#digits === MAX_DIGITS) throw new RelpProtocolError(`DATALEN longer than ${MAX_DIGITS} digits`);
      this.#length = this.#length * 10 + (c - 0x30);
      this.#digits++;
      // Refused on the digit that crosses the limit: nothing of the data is ever buffered.
      if (this.#length > this.#maxDataBytes) throw new RelpProtocolError(`DATALEN over ${this.#maxDataBytes} bytes`);
      return undefined;
    }
    if (this.#digits === 0) throw new RelpProtocolError(`expected a DATALEN digit, got ${show(c)}`);
    if (this.#length === 0) {
      // No data: no SP either, the trailer follows the length at once.
      if (c !== LF) throw new RelpProtocolError(`expected the LF trailer after DATALEN 0, got ${show(c)}`);
      return this.#emit();
    }
    if (c !== SP) throw new RelpProtocolError(`expected SP before ${this.#length} data bytes, got ${show(c)}`);
    this.#data = Buffer.allocUnsafe(this.#length);
    this.#have = 0;
    this.#state = 'data';
    return undefined;
  }

  #emit(): RelpFrame {
    const frame: RelpFrame = { txnr: this.#txnr, command: this.#command, data: this.#length === 0 ? Buffer.alloc(0) : this.#data };
    this.#state = 'txnr';
    this.#txnr = 0;
    this.#digits = 0;
    this.#command = '';
    this.#length = 0;
    this.#data = Buffer.alloc(0);
    this.#have = 0;
    return frame;
  }
}

/** The status line of an `rsp`'s data: a 3-digit code, then optionally SP and text; anything after the first LF is command data. */
export function parseResponse(data: Buffer): RelpResponse {
  const end = data.indexOf(LF);
  const line = data.subarray(0, end < 0 ? data.length : end).toString('utf8');
  const match = /^(\d{3})(?: (.*))?$/s.exec(line);
  if (match === null) throw new RelpProtocolError(`rsp without a status code: ${JSON.stringify(line.slice(0, 80))}`);
  return { code: Number(match[1]), text: match[2] ?? '' };
}

/** The offers after the status line of the `open` answer: `name[=value[,value…]]`, one per line. */
export function parseOffers(data: Buffer): Map<string, string[]> {
  const offers = new Map<string, string[]>();
  const text = data.toString('utf8');
  const start = text.indexOf('\n');
  if (start < 0) return offers;
  for (const line of text.slice(start + 1).split('\n')) {
    if (line === '') continue;
    const eq = line.indexOf('=');
    const name = eq < 0 ? line : line.slice(0, eq);
    const values = eq < 0 ? [] : line.slice(eq + 1).split(',').filter((v) => v !== '');
    offers.set(name, [...(offers.get(name) ?? []), ...values]);
  }
  return offers;
}

export interface RelpSessionOptions {
  /** Unanswered `syslog` frames at most; more are queued locally (default 128, as librelp). */
  readonly window?: number;
  /** Time allowed for the answer to `open` (default 90 s, librelp's session timeout). */
  readonly openTimeoutMs?: number;
  /** Time allowed without any answer while frames are outstanding; then the session is broken (default 90 s). */
  readonly responseTimeoutMs?: number;
  /** `relp_software` offer: `name[,version[,url]]` (default `audit-forwarder`). */
  readonly software?: string;
  /** TXNR of `open` (tests only: a session starts at 1, and librelp receivers refuse anything else). */
  readonly firstTxnr?: number;
}

type Waiter =
  | { readonly kind: 'syslog'; readonly resolve: (r: RelpResponse) => void; readonly reject: (e: RelpSessionError) => void }
  | { readonly kind: 'open' | 'close'; readonly resolve: (data: Buffer) => void; readonly reject: (e: RelpSessionError) => void };

interface Queued {
  readonly message: Buffer;
  readonly resolve: (r: RelpResponse) => void;
  readonly reject: (e: RelpSessionError) => void;
}

type SessionState = 'opening' | 'open' | 'closing' | 'closed' | 'broken';

const MAX_TIMER_MS = 2 ** 31 - 1;

function checkOptions(o: RelpSessionOptions): void {
  if (o.window !== undefined && (!Number.isInteger(o.window) || o.window < 1)) throw new RangeError(`RELP window must be a positive integer, not ${o.window}`);
  for (const key of ['openTimeoutMs', 'responseTimeoutMs'] as const) {
    const v = o[key];
    if (v !== undefined && !(v > 0 && v <= MAX_TIMER_MS)) throw new RangeError(`RELP ${key} must be in 1..${MAX_TIMER_MS}, not ${v}`);
  }
  if (o.software !== undefined && (o.software === '' || /[\n\r]/.test(o.software))) throw new RangeError('RELP software offer must be one non-empty line');
  if (o.firstTxnr !== undefined && (!Number.isInteger(o.firstTxnr) || o.firstTxnr < 1 || o.firstTxnr > RELP_MAX_TXNR)) throw new RangeError(`RELP firstTxnr out of range: ${o.firstTxnr}`);
}

/**
 * One RELP session over a connected socket: `open`, any number of `syslog` messages answered one by one (matched by
 * TXNR, in any order), `close`. When it breaks, every message not answered yet is rejected with the reason: the
 * caller sends those again on a new session (duplicates are possible, loss is not).
 */
export class RelpSession {
  #state: SessionState = 'opening';
  #failure: RelpSessionError | undefined;
  #txnr: number;
  #inFlight = 0;
  #drainWait = false;
  #flushScheduled = false;
  #responseTimer: NodeJS.Timeout | undefined;
  #closing: Promise<void> | undefined;
  #closeSent = false;
  #offers: ReadonlyMap<string, readonly string[]> = new Map();
  readonly #waiters = new Map<number, Waiter>();
  #queue: Queued[] = [];
  #queueHead = 0;
  readonly #idle: (() => void)[] = [];
  readonly #parser = new RelpFrameParser();
  readonly #window: number;
  readonly #responseTimeoutMs: number;
  /** The socket the session runs on (diagnostics only: never write to it). */
  readonly socket: Socket;

  private constructor(socket: Socket, options: RelpSessionOptions) {
    this.socket = socket;
    this.#window = options.window ?? RELP_DEFAULT_WINDOW;
    this.#responseTimeoutMs = options.responseTimeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.#txnr = options.firstTxnr ?? 1;
    socket.setNoDelay(true); // frames are batched here already; Nagle would only delay them
    socket.on('data', (chunk: Buffer) => this.#onData(chunk));
    // The 'error' listener stays for the socket's life: an 'error' without one would crash the process.
    socket.on('error', (error) => this.#fail('socket', 'the connection to the RELP receiver failed', error));
    socket.on('end', () => this.#fail('socket', 'the RELP receiver closed the connection'));
    socket.on('close', () => this.#fail('socket', 'the connection to the RELP receiver was closed'));
  }

  /**
   * Sends `open` on an already connected socket (plain or TLS: the caller connects and verifies) and resolves once
   * the server answered 200 and offered `commands=syslog`. Otherwise it rejects with a RelpSessionError
   * ('open-refused', 'timeout', 'socket', 'protocol') and the socket is destroyed.
   */
  static async open(socket: Socket, options: RelpSessionOptions = {}): Promise<RelpSession> {
    checkOptions(options);
    const session = new RelpSession(socket, options);
    await session.#handshake(options.openTimeoutMs ?? DEFAULT_TIMEOUT_MS, options.software ?? 'audit-forwarder');
    return session;
  }

  /** True once the session takes no more messages (broken, closing or closed): open a new one. */
  get broken(): boolean {
    return this.#state !== 'open';
  }

  /** What the server offered in its answer to `open` (`relp_version`, `relp_software`, `commands`). */
  get offers(): ReadonlyMap<string, readonly string[]> {
    return this.#offers;
  }

  /** `syslog` frames sent and not answered yet. */
  get outstanding(): number {
    return this.#inFlight;
  }

  /** Messages accepted by send() but held back by the window or the socket's backpressure. */
  get queued(): number {
    return this.#queue.length - this.#queueHead;
  }

  /**
   * Sends one message (its bytes, unframed) and resolves with the server's answer to it, whatever its code.
   * Rejects with a RelpSessionError when the session breaks or is closed before the answer.
   */
  send(message: Buffer): Promise<RelpResponse> {
    if (this.#state !== 'open') return Promise.reject(this.#failure ?? new RelpSessionError('closed', 'the RELP session is closed'));
    if (message.length > RELP_MAX_TXNR) return Promise.reject(new RangeError(`RELP message too long: ${message.length} bytes`));
    return new Promise<RelpResponse>((resolve, reject) => {
      this.#queue.push({ message, resolve, reject });
      this.#scheduleFlush();
    });
  }

  /**
   * Graceful end: lets what was sent and queued be answered (bounded by responseTimeoutMs without an answer), sends
   * `close`, waits for its `rsp` (bounded the same way), ends the socket. Never rejects; idempotent.
   */
  close(): Promise<void> {
    this.#closing ??= this.#runClose();
    return this.#closing;
  }

  /** Destroys the socket at once; everything unanswered is rejected with RelpSessionError('closed'). */
  destroy(reason?: Error): void {
    this.#fail('closed', reason === undefined ? 'the RELP session was destroyed' : `the RELP session was destroyed: ${reason.message}`, reason);
  }

  async #handshake(timeoutMs: number, software: string): Promise<void> {
    if (this.socket.destroyed || !this.socket.writable) {
      this.#fail('socket', 'the socket given for the RELP session is not connected');
      throw this.#failure!;
    }
    const timer = setTimeout(() => this.#fail('timeout', `no answer to RELP open in ${timeoutMs} ms`), timeoutMs).unref();
    try {
      await this.#command('open', `relp_version=0\nrelp_software=${software}\ncommands=syslog`, (data) => this.#onOpenAnswer(data));
    } finally {
      clearTimeout(timer);
    }
  }

  /** Runs as the answer is read, before any frame behind it: librelp sends `serverclose` right after a refusal. */
  #onOpenAnswer(data: Buffer): void {
    const answer = this.#parseOr(data);
    if (answer === undefined) return;
    if (answer.code !== 200) return this.#fail('open-refused', `the RELP receiver refused the session: ${answer.code} ${answer.text}`);
    const offers = parseOffers(data);
    if (!(offers.get('commands') ?? []).includes('syslog')) {
      return this.#fail('open-refused', `the RELP receiver does not offer commands=syslog (it offered: ${[...offers.keys()].join(', ') || 'nothing'})`);
    }
    this.#offers = offers;
    this.#state = 'open';
  }

  async #runClose(): Promise<void> {
    if (this.#state !== 'open') return;
    this.#state = 'closing';
    this.#scheduleFlush(); // what is queued still goes out
    await new Promise<void>((resolve) => {
      this.#idle.push(resolve);
      this.#checkIdle();
    });
    if (this.#failure !== undefined) return;
    // A failure (timeout, socket) has destroyed the socket already: nothing more to do then.
    await this.#command('close', '', () => this.#onCloseAnswer()).catch(() => {});
  }

  /** Runs as the answer is read: the `serverclose` librelp sends right behind it is then ignored. */
  #onCloseAnswer(): void {
    this.#state = 'closed';
    this.#failure = new RelpSessionError('closed', 'the RELP session is closed');
    this.#clearTimer();
    this.socket.end(() => this.socket.destroy());
  }

  /**
   * Writes a control command (open, close); `onAnswer` handles its `rsp` synchronously, as it is read. Resolves
   * then, or rejects with the failure when the answer (or anything before it) broke the session.
   */
  #command(command: 'open' | 'close', data: string, onAnswer: (data: Buffer) => void): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const txnr = this.#takeTxnr();
      const answered = (rsp: Buffer) => {
        onAnswer(rsp);
        if (this.#failure !== undefined && this.#state !== 'closed') reject(this.#failure);
        else resolve();
      };
      this.#waiters.set(txnr, { kind: command, resolve: answered, reject });
      if (command === 'close') this.#closeSent = true;
      this.socket.write(encodeFrame(txnr, command, data));
      this.#armTimer(false);
    });
  }

  #takeTxnr(): number {
    const txnr = this.#txnr;
    this.#txnr = nextTxnr(txnr);
    return txnr;
  }

  #scheduleFlush(): void {
    if (this.#flushScheduled) return;
    this.#flushScheduled = true;
    // One flush per tick: the messages sent together go out corked, in one socket write.
    queueMicrotask(() => {
      this.#flushScheduled = false;
      this.#flush();
    });
  }

  #flush(): void {
    if (this.#state !== 'open' && this.#state !== 'closing') return;
    if (this.#drainWait) {
      this.#checkIdle();
      return;
    }
    let corked = false;
    while (this.#queueHead < this.#queue.length && this.#inFlight < this.#window) {
      const item = this.#queue[this.#queueHead]!;
      this.#queueHead++;
      const txnr = this.#takeTxnr();
      this.#waiters.set(txnr, { kind: 'syslog', resolve: item.resolve, reject: item.reject });
      this.#inFlight++;
      if (!corked) this.socket.cork();
      corked = true;
      if (!this.socket.write(encodeFrame(txnr, 'syslog', item.message))) {
        this.#drainWait = true;
        this.socket.once('drain', () => {
          this.#drainWait = false;
          this.#flush();
        });
        break;
      }
    }
    if (corked) this.socket.uncork();
    this.#compactQueue();
    this.#armTimer(false);
    this.#checkIdle();
  }

  #compactQueue(): void {
    if (this.#queueHead === this.#queue.length) {
      this.#queue = [];
      this.#queueHead = 0;
    } else if (this.#queueHead > 1024 && this.#queueHead * 2 > this.#queue.length) {
      this.#queue = this.#queue.slice(this.#queueHead);
      this.#queueHead = 0;
    }
  }

  #onData(chunk: Buffer): void {
    if (this.#state === 'closed' || this.#state === 'broken') return;
    let frames: RelpFrame[];
    try {
      frames = this.#parser.push(chunk);
    } catch (error) {
      this.#fail('protocol', `the RELP receiver sent a malformed frame: ${(error as Error).message}`, error);
      return;
    }
    for (const frame of frames) {
      if (this.#failure !== undefined) return;
      this.#onFrame(frame);
    }
  }

  #onFrame(frame: RelpFrame): void {
    if (frame.command === 'serverclose' && frame.txnr === 0) {
      this.#fail('serverclose', 'the RELP receiver ended the session (serverclose)');
      return;
    }
    const waiter = frame.command === 'rsp' ? this.#waiters.get(frame.txnr) : undefined;
    if (waiter === undefined) {
      const what = frame.command === 'rsp' ? `an rsp for TXNR ${frame.txnr}, which is not outstanding` : `a '${frame.command}' command (TXNR ${frame.txnr})`;
      this.#fail('protocol', `the RELP receiver sent ${what}`, new RelpProtocolError(`unexpected frame: ${frame.txnr} ${frame.command}`));
      return;
    }
    this.#waiters.delete(frame.txnr);
    if (waiter.kind === 'syslog') {
      const answer = this.#parseOr(frame.data);
      if (answer === undefined) {
        waiter.reject(this.#failure!);
        return;
      }
      this.#inFlight--;
      waiter.resolve(answer);
      this.#armTimer(true);
      this.#scheduleFlush(); // the window has room again
    } else {
      this.#armTimer(true);
      waiter.resolve(frame.data);
    }
  }

  /** The status of an rsp, or undefined after breaking the session on a malformed one. */
  #parseOr(data: Buffer): RelpResponse | undefined {
    try {
      return parseResponse(data);
    } catch (error) {
      this.#fail('protocol', `the RELP receiver sent a malformed rsp: ${(error as Error).message}`, error);
      return undefined;
    }
  }

  #checkIdle(): void {
    if (this.#state === 'closing' && this.#inFlight === 0 && this.queued === 0) this.#wakeIdle();
  }

  #wakeIdle(): void {
    for (const wake of this.#idle.splice(0)) wake();
  }

  /** The response clock runs while syslog or close frames await answers; an answer restarts it, a new frame does not. */
  #armTimer(progress: boolean): void {
    const waiting = this.#inFlight > 0 || (this.#closeSent && this.#state === 'closing');
    if (!waiting) {
      this.#clearTimer();
    } else if (this.#responseTimer === undefined) {
      this.#responseTimer = setTimeout(() => this.#fail('timeout', `no answer from the RELP receiver in ${this.#responseTimeoutMs} ms`), this.#responseTimeoutMs).unref();
    } else if (progress) {
      this.#responseTimer.refresh();
    }
  }

  #clearTimer(): void {
    if (this.#responseTimer !== undefined) clearTimeout(this.#responseTimer);
    this.#responseTimer = undefined;
  }

  /** Breaks the session once: destroys the socket and rejects everything unanswered or queued with the same error. */
  #fail(code: RelpSessionErrorCode, message: string, cause?: unknown): void {
    if (this.#failure !== undefined) return;
    const waiters = [...this.#waiters.values()];
    const queued = this.#queue.slice(this.#queueHead);
    const unanswered = this.#inFlight + queued.length;
    const detail = unanswered > 0 ? ` (${unanswered} message${unanswered === 1 ? '' : 's'} unanswered)` : '';
    const error = new RelpSessionError(code, message + detail, cause === undefined ? undefined : { cause });
    this.#failure = error;
    this.#state = 'broken';
    this.#clearTimer();
    this.#waiters.clear();
    this.#queue = [];
    this.#queueHead = 0;
    this.#inFlight = 0;
    this.socket.destroy();
    for (const w of waiters) w.reject(error);
    for (const q of queued) q.reject(error);
    this.#wakeIdle();
  }
}
