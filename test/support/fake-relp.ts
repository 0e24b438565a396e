// A scriptable RELP receiver on loopback (imrelp's side of the protocol, as strict as librelp about TXNRs), for the RELP client's tests.
/*
 * Defaults: `open` answered `200 OK` with `commands=syslog`, each `syslog` answered `200 OK` at once, `close`
 * answered by an empty `rsp`, then `serverclose` and the end of the connection, all in one write (librelp's server
 * does the same: its session destructor sends the hint; it does after refusing `open` too). Scripting: `open` ('refuse' → 500, 'no-syslog', 'silent'), `onSyslog` (a
 * handler that does not answer leaves the message unanswered, for connection.answer() later: delays, reordering,
 * 500s, withheld answers), and per connection answer(), answerAll(), serverclose(), drop(), write() (raw bytes).
 * What the client did wrong by librelp's rules (a TXNR out of sequence, a syslog before open, …) goes to
 * `violations`; tests assert it stays empty.
 */
import { EventEmitter } from 'node:events';
import { createServer, type Server, type Socket } from 'node:net';
import { encodeFrame, nextTxnr, RelpFrameParser, type RelpFrame } from '../../connectors/syslog/relp.ts';
import { listenOn } from './listen.ts';

export type FakeOpenAnswer = 'ok' | 'refuse' | 'no-syslog' | 'silent';

export interface FakeRelpMessage {
  readonly txnr: number;
  readonly data: Buffer;
  readonly connection: FakeRelpConnection;
}

export interface FakeRelpOptions {
  readonly open?: FakeOpenAnswer;
  /** Called for each `syslog` frame instead of answering `200 OK` at once. */
  readonly onSyslog?: (message: FakeRelpMessage) => void;
  /** 'silent': `close` gets no answer. */
  readonly close?: 'ok' | 'silent';
  /** TXNR the client's `open` must carry (librelp: 1). */
  readonly firstTxnr?: number;
}

export const OPEN_OK = '200 OK\nrelp_version=0\nrelp_software=fake-relp,0,https://example.invalid\ncommands=syslog';

export class FakeRelpConnection {
  /** TXNRs of `syslog` frames received and not answered yet. */
  readonly unanswered = new Set<number>();
  /** Most `syslog` frames unanswered at once. */
  maxUnanswered = 0;
  opened = false;
  ended = false;
  expected: number | undefined;
  readonly socket: Socket;
  readonly #server: FakeRelpServer;
  readonly #parser = new RelpFrameParser();

  constructor(socket: Socket, server: FakeRelpServer) {
    this.socket = socket;
    this.#server = server;
    socket.on('data', (chunk: Buffer) => this.#onData(chunk));
    socket.on('error', () => {});
    socket.on('close', () => {
      this.ended = true;
      server.changed();
    });
  }

  answer(txnr: number, status = '200 OK'): void {
    this.unanswered.delete(txnr);
    this.write(encodeFrame(txnr, 'rsp', status));
  }

  /** Answers every unanswered message, in arrival order or reversed, in one write. */
  answerAll(order: 'arrival' | 'reverse' = 'arrival', status = '200 OK'): void {
    const txnrs = [...this.unanswered];
    if (order === 'reverse') txnrs.reverse();
    this.unanswered.clear();
    this.write(Buffer.concat(txnrs.map((t) => encodeFrame(t, 'rsp', status))));
  }

  /** Sends the hint (behind `before`, in the same write) and ends the connection. */
  serverclose(before: Buffer = Buffer.alloc(0)): void {
    this.write(Buffer.concat([before, encodeFrame(0, 'serverclose', '')]));
    this.socket.end();
  }

  drop(): void {
    this.socket.destroy();
  }

  write(bytes: Buffer | string): void {
    if (!this.socket.destroyed && this.socket.writable) this.socket.write(bytes);
  }

  #onData(chunk: Buffer): void {
    let frames: RelpFrame[];
    try {
      frames = this.#parser.push(chunk);
    } catch (error) {
      this.#server.violations.push(`malformed frame: ${(error as Error).message}`);
      this.socket.destroy();
      return;
    }
    for (const frame of frames) this.#onFrame(frame);
    this.#server.changed();
  }

  #onFrame(frame: RelpFrame): void {
    const server = this.#server;
    const first = server.options.firstTxnr ?? 1;
    const expected = this.expected ?? first;
    if (frame.txnr !== expected) server.violations.push(`TXNR ${frame.txnr} where ${expected} was due (${frame.command})`);
    this.expected = nextTxnr(frame.txnr);
    if (frame.command === 'open') return this.#onOpen(frame);
    if (!this.opened) server.violations.push(`'${frame.command}' before open`);
    if (frame.command === 'syslog') return this.#onSyslog(frame);
    if (frame.command === 'close') return this.#onClose(frame);
    server.violations.push(`unexpected command '${frame.command}'`);
  }

  #onOpen(frame: RelpFrame): void {
    const server = this.#server;
    if (this.opened) server.violations.push('a second open');
    server.opens.push({ txnr: frame.txnr, data: frame.data.toString('utf8') });
    const mode = server.options.open ?? 'ok';
    if (mode === 'silent') return;
    this.opened = mode !== 'refuse';
    const status = { ok: OPEN_OK, refuse: '500 required command not supported by client', 'no-syslog': '200 OK\nrelp_version=0\nrelp_software=fake-relp' }[mode];
    const answer = encodeFrame(frame.txnr, 'rsp', status);
    // librelp drops a refused session, with the hint in the same write as the refusal.
    if (mode === 'refuse') this.serverclose(answer);
    else this.write(answer);
  }

  #onSyslog(frame: RelpFrame): void {
    const message: FakeRelpMessage = { txnr: frame.txnr, data: frame.data, connection: this };
    this.#server.messages.push(message);
    this.unanswered.add(frame.txnr);
    this.maxUnanswered = Math.max(this.maxUnanswered, this.unanswered.size);
    const handler = this.#server.options.onSyslog;
    if (handler === undefined) this.answer(frame.txnr);
    else handler(message);
  }

  #onClose(frame: RelpFrame): void {
    const server = this.#server;
    server.closes.push(frame.txnr);
    if (this.unanswered.size > 0) server.violations.push(`close with ${this.unanswered.size} messages unanswered`);
    if (server.options.close === 'silent') return;
    this.serverclose(encodeFrame(frame.txnr, 'rsp', ''));
  }
}

export class FakeRelpServer extends EventEmitter {
  readonly messages: FakeRelpMessage[] = [];
  readonly opens: { readonly txnr: number; readonly data: string }[] = [];
  /** TXNRs of the `close` commands received. */
  readonly closes: number[] = [];
  readonly violations: string[] = [];
  readonly connections: FakeRelpConnection[] = [];
  readonly options: FakeRelpOptions;
  port = 0;
  readonly #server: Server;

  private constructor(options: FakeRelpOptions) {
    super();
    this.options = options;
    this.#server = createServer((socket) => {
      this.connections.push(new FakeRelpConnection(socket, this));
      this.changed();
    });
  }

  static async start(options: FakeRelpOptions = {}): Promise<FakeRelpServer> {
    const fake = new FakeRelpServer(options);
    fake.port = await listenOn(fake.#server, 0, '127.0.0.1');
    return fake;
  }

  get maxUnanswered(): number {
    return Math.max(0, ...this.connections.map((c) => c.maxUnanswered));
  }

  changed(): void {
    this.emit('change');
  }

  /** Resolves once `predicate` holds (checked now and after every frame or connection event). */
  waitFor(predicate: () => boolean, what: string, timeoutMs = 5_000): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const check = () => {
        if (!predicate()) return;
        cleanup();
        resolve();
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`fake RELP server: timed out waiting for ${what} (${this.messages.length} messages, violations: ${this.violations.join('; ') || 'none'})`));
      }, timeoutMs);
      const cleanup = () => {
        clearTimeout(timer);
        this.off('change', check);
      };
      this.on('change', check);
      check();
    });
  }

  async stop(): Promise<void> {
    for (const c of this.connections) c.socket.destroy();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}
