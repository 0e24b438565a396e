// The RELP client: frame encoding, the incremental parser (property-tested), and sessions against a fake imrelp on loopback.
import { connect, type Socket } from 'node:net';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import {
  encodeFrame,
  parseOffers,
  parseResponse,
  RELP_MAX_TXNR,
  RelpFrameParser,
  RelpProtocolError,
  RelpSession,
  RelpSessionError,
  type RelpFrame,
  type RelpResponse,
  type RelpSessionOptions,
} from '../../connectors/syslog/relp.ts';
import { FakeRelpServer, type FakeRelpOptions } from '../support/fake-relp.ts';

// ---- frames ----

const frameArb = fc.record({
  txnr: fc.integer({ min: 0, max: RELP_MAX_TXNR }),
  command: fc.stringMatching(/^[a-z]{1,32}$/),
  data: fc.oneof(fc.constant(Buffer.alloc(0)), fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a))),
});

/** `bytes` cut at the given offsets (any order, duplicates allowed: empty chunks too). */
function split(bytes: Buffer, cuts: readonly number[]): Buffer[] {
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  const chunks: Buffer[] = [];
  let start = 0;
  for (const p of [...points, bytes.length]) {
    chunks.push(bytes.subarray(start, p));
    start = p;
  }
  return chunks;
}

const plain = (f: RelpFrame) => ({ txnr: f.txnr, command: f.command, data: [...f.data] });

describe('encodeFrame', () => {
  it('writes TXNR SP COMMAND SP DATALEN SP DATA LF, and no SP nor data when DATALEN is 0', () => {
    expect(encodeFrame(1, 'syslog', 'hello').toString()).toBe('1 syslog 5 hello\n');
    expect(encodeFrame(7, 'close', '').toString()).toBe('7 close 0\n');
    expect(encodeFrame(0, 'serverclose', Buffer.alloc(0)).toString()).toBe('0 serverclose 0\n');
    // DATALEN counts bytes, not characters.
    expect(encodeFrame(2, 'syslog', 'é').toString()).toBe('2 syslog 2 é\n');
  });

  it('refuses what no RELP peer could read', () => {
    expect(() => encodeFrame(RELP_MAX_TXNR + 1, 'syslog', 'x')).toThrow(RangeError);
    expect(() => encodeFrame(-1, 'syslog', 'x')).toThrow(RangeError);
    expect(() => encodeFrame(1.5, 'syslog', 'x')).toThrow(RangeError);
    expect(() => encodeFrame(1, 'Syslog', 'x')).toThrow(RangeError);
    expect(() => encodeFrame(1, 'a'.repeat(33), 'x')).toThrow(RangeError);
    expect(() => encodeFrame(1, '', 'x')).toThrow(RangeError);
  });
});

describe('RelpFrameParser', () => {
  it('parses any sequence of valid frames back, wherever the chunks are cut', () => {
    fc.assert(
      fc.property(fc.array(frameArb, { maxLength: 12 }), fc.array(fc.nat(), { maxLength: 40 }), (frames, cuts) => {
        const bytes = Buffer.concat(frames.map((f) => encodeFrame(f.txnr, f.command, f.data)));
        const parser = new RelpFrameParser(300);
        const parsed = split(bytes, cuts).flatMap((chunk) => parser.push(chunk));
        expect(parsed.map(plain)).toEqual(frames.map(plain));
      }),
      { numRuns: 500 },
    );
  });

  it('turns garbage into frames or a RelpProtocolError, never anything else', () => {
    // Bytes biased towards what frames are made of, so the parser gets deep into its states.
    const byte = fc.oneof(fc.constantFrom(...Buffer.from('0123456789 rspyslogclose\n')), fc.integer({ min: 0, max: 255 }));
    const garbage = fc.oneof(
      fc.array(byte, { maxLength: 200 }).map((a) => Buffer.from(a)),
      // valid frames with a few bytes overwritten
      fc.tuple(fc.array(frameArb, { minLength: 1, maxLength: 4 }), fc.array(fc.tuple(fc.nat(), byte), { minLength: 1, maxLength: 3 })).map(([frames, edits]) => {
        const bytes = Buffer.concat(frames.map((f) => encodeFrame(f.txnr, f.command, f.data)));
        for (const [at, b] of edits) bytes[at % bytes.length] = b;
        return bytes;
      }),
    );
    fc.assert(
      fc.property(garbage, fc.array(fc.nat(), { maxLength: 20 }), (bytes, cuts) => {
        const parser = new RelpFrameParser(300);
        try {
          for (const chunk of split(bytes, cuts)) {
            for (const f of parser.push(chunk)) {
              expect(f.txnr).toBeLessThanOrEqual(RELP_MAX_TXNR);
              expect(f.command).toMatch(/^[a-z]{1,32}$/);
              expect(f.data.length).toBeLessThanOrEqual(300);
            }
          }
        } catch (error) {
          expect(error).toBeInstanceOf(RelpProtocolError);
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('refuses an oversize DATALEN before any of the data arrives', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 10_000 }), fc.integer({ min: 1, max: RELP_MAX_TXNR }), (limit, over) => {
        const length = Math.min(limit + over, RELP_MAX_TXNR);
        fc.pre(length > limit);
        const parser = new RelpFrameParser(limit);
        // The header alone, no data byte: the parser must already know.
        expect(() => parser.push(Buffer.from(`1 rsp ${length}`))).toThrow(RelpProtocolError);
      }),
    );
    expect(new RelpFrameParser(5).push(Buffer.from('1 rsp 5 12345\n'))).toHaveLength(1);
  });

  it.each([
    ['a 10-digit TXNR', '1000000000 rsp 0\n'],
    ['a missing TXNR', ' rsp 0\n'],
    ['a non-digit in the TXNR', '1x rsp 0\n'],
    ['an upper-case command', '1 RSP 0\n'],
    ['a 33-letter command', `1 ${'a'.repeat(33)} 0\n`],
    ['an empty command', '1  0\n'],
    ['a missing DATALEN', '1 rsp \n'],
    ['a 10-digit DATALEN', '1 rsp 0000000000\n'],
    ['DATALEN 0 followed by SP', '1 rsp 0 \n'],
    ['data without the SP', '1 rsp 2ab\n'],
    ['DATALEN > 0 and no data', '1 rsp 2\n'],
    ['a missing LF trailer', '1 rsp 2 abX'],
    ['CR LF as trailer', '1 rsp 0\r\n'],
  ])('throws RelpProtocolError on %s', (_what, bytes) => {
    const parser = new RelpFrameParser();
    expect(() => parser.push(Buffer.from(bytes, 'latin1'))).toThrow(RelpProtocolError);
    // and stays failed: a stream out of step cannot be resynchronised
    expect(() => parser.push(Buffer.from('1 rsp 0\n'))).toThrow(RelpProtocolError);
  });

  it('reads the hint librelp sends before dropping a session', () => {
    expect(new RelpFrameParser().push(Buffer.from('3 rsp 0\n0 serverclose 0\n')).map(plain)).toEqual([
      { txnr: 3, command: 'rsp', data: [] },
      { txnr: 0, command: 'serverclose', data: [] },
    ]);
  });
});

describe('rsp data', () => {
  it('takes the code from the first 3 digits and the text from the rest of the first line', () => {
    expect(parseResponse(Buffer.from('200 OK'))).toEqual({ code: 200, text: 'OK' });
    expect(parseResponse(Buffer.from('500 error 42 on connect'))).toEqual({ code: 500, text: 'error 42 on connect' });
    expect(parseResponse(Buffer.from('200 OK\nrelp_version=0\ncommands=syslog'))).toEqual({ code: 200, text: 'OK' });
    expect(parseResponse(Buffer.from('200'))).toEqual({ code: 200, text: '' });
    expect(() => parseResponse(Buffer.from(''))).toThrow(RelpProtocolError);
    expect(() => parseResponse(Buffer.from('OK 200'))).toThrow(RelpProtocolError);
    expect(() => parseResponse(Buffer.from('2000 OK'))).toThrow(RelpProtocolError);
  });

  it('reads the offers of an open answer as librelp 1.11 sends them', () => {
    const offers = parseOffers(Buffer.from('200 OK\nrelp_version=0\nrelp_software=librelp,1.11.0,http://librelp.adiscon.com\ncommands=syslog'));
    expect([...offers]).toEqual([
      ['relp_version', ['0']],
      ['relp_software', ['librelp', '1.11.0', 'http://librelp.adiscon.com']],
      ['commands', ['syslog']],
    ]);
  });
});

// ---- sessions ----

let fake: FakeRelpServer | undefined;
const sockets: Socket[] = [];

afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  await fake?.stop();
  fake = undefined;
});

async function connectTo(server: FakeRelpServer): Promise<Socket> {
  const socket = connect(server.port, '127.0.0.1');
  sockets.push(socket);
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  return socket;
}

async function start(options: FakeRelpOptions = {}, session: RelpSessionOptions = {}): Promise<{ server: FakeRelpServer; relp: RelpSession }> {
  const server = await FakeRelpServer.start(options);
  fake = server;
  const relp = await RelpSession.open(await connectTo(server), session);
  return { server, relp };
}

const msg = (i: number | string) => Buffer.from(`<13>1 - host app - - - message ${i}`);

/** The RelpSessionError a promise rejects with. */
async function sessionError(p: Promise<unknown>): Promise<RelpSessionError> {
  const error = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(RelpSessionError);
  return error as RelpSessionError;
}

describe('RelpSession', () => {
  it('opens with relp_version=0, its software and commands=syslog on TXNR 1, and sends messages from TXNR 2', async () => {
    const { server, relp } = await start();
    expect(server.opens).toEqual([{ txnr: 1, data: 'relp_version=0\nrelp_software=audit-forwarder\ncommands=syslog' }]);
    expect(relp.broken).toBe(false);
    expect(relp.offers.get('commands')).toEqual(['syslog']);
    await expect(relp.send(msg(1))).resolves.toEqual({ code: 200, text: 'OK' });
    expect(server.messages.map((m) => [m.txnr, m.data.toString()])).toEqual([[2, msg(1).toString()]]);
    expect(server.violations).toEqual([]);
    await relp.close();
  });

  it('delivers 1000 messages with at most 16 unanswered, in order', async () => {
    let scheduled = false;
    const { server, relp } = await start(
      {
        // Answers in batches, a turn of the event loop later: the client fills its window meanwhile.
        onSyslog: ({ connection }) => {
          if (scheduled) return;
          scheduled = true;
          setImmediate(() => {
            scheduled = false;
            connection.answerAll();
          });
        },
      },
      { window: 16 },
    );
    let maxOutstanding = 0;
    const sends = Array.from({ length: 1000 }, (_, i) => relp.send(msg(i)));
    const watch = setInterval(() => (maxOutstanding = Math.max(maxOutstanding, relp.outstanding)), 1);
    const answers = await Promise.all(sends);
    clearInterval(watch);
    expect(answers.every((a) => a.code === 200)).toBe(true);
    expect(server.maxUnanswered).toBeLessThanOrEqual(16);
    expect(server.maxUnanswered).toBeGreaterThan(1); // pipelined, not one by one
    expect(maxOutstanding).toBeLessThanOrEqual(16);
    expect(server.messages.map((m) => m.data.toString())).toEqual(Array.from({ length: 1000 }, (_, i) => msg(i).toString()));
    expect(server.violations).toEqual([]);
    await relp.close();
  });

  it('matches answers by TXNR whatever their order', async () => {
    const { server, relp } = await start({
      onSyslog: ({ connection }) => {
        if (connection.unanswered.size < 5) return;
        for (const txnr of [...connection.unanswered].reverse()) connection.answer(txnr, `200 OK for ${txnr}`);
        connection.unanswered.clear();
      },
    });
    const answers = await Promise.all([1, 2, 3, 4, 5].map((i) => relp.send(msg(i))));
    const txnrs = server.messages.map((m) => m.txnr);
    expect(answers).toEqual(txnrs.map((t) => ({ code: 200, text: `OK for ${t}` })));
    await relp.close();
  });

  it('resolves a 500 answer for that message alone, and the session goes on', async () => {
    const { relp } = await start({
      onSyslog: ({ connection, txnr, data }) => connection.answer(txnr, data.toString().endsWith('bad') ? '500 message refused' : '200 OK'),
    });
    const answers = await Promise.all(['a', 'bad', 'c'].map((i) => relp.send(msg(i))));
    expect(answers).toEqual([
      { code: 200, text: 'OK' },
      { code: 500, text: 'message refused' },
      { code: 200, text: 'OK' },
    ]);
    expect(relp.broken).toBe(false);
    await expect(relp.send(msg('d'))).resolves.toEqual({ code: 200, text: 'OK' });
    await relp.close();
  });

  it('rejects every unanswered message when the server drops the connection, and is broken', async () => {
    const { server, relp } = await start({
      onSyslog: ({ connection, txnr }) => {
        if (server.messages.length <= 4) connection.answer(txnr);
        else connection.drop();
      },
    });
    const results = await Promise.allSettled(Array.from({ length: 10 }, (_, i) => relp.send(msg(i))));
    expect(results.slice(0, 4).map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'fulfilled', 'fulfilled']);
    for (const r of results.slice(4)) {
      expect(r.status).toBe('rejected');
      const reason = (r as PromiseRejectedResult).reason as RelpSessionError;
      expect(reason).toBeInstanceOf(RelpSessionError);
      expect(reason.code).toBe('socket');
    }
    expect(relp.broken).toBe(true);
    expect(relp.outstanding).toBe(0);
    expect((await sessionError(relp.send(msg('late')))).code).toBe('socket');
  });

  it('ends on serverclose: what was answered stays answered, the rest is rejected', async () => {
    const { server, relp } = await start({
      onSyslog: ({ connection, txnr }) => {
        if (server.messages.length <= 3) connection.answer(txnr);
        else if (server.messages.length === 6) connection.serverclose();
      },
    });
    const results = await Promise.allSettled(Array.from({ length: 6 }, (_, i) => relp.send(msg(i))));
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'fulfilled', 'rejected', 'rejected', 'rejected']);
    const reason = (results[5] as PromiseRejectedResult).reason as RelpSessionError;
    expect(reason.code).toBe('serverclose');
    expect(reason.message).toContain('3 messages unanswered');
    expect(relp.broken).toBe(true);
  });

  it.each([
    ['answers 500 to open', 'refuse', /refused the session: 500 required command not supported by client/],
    ['does not offer commands=syslog', 'no-syslog', /does not offer commands=syslog/],
  ] as const)('rejects open with open-refused when the server %s, and closes the socket', async (_what, open, text) => {
    const server = await FakeRelpServer.start({ open });
    fake = server;
    const socket = await connectTo(server);
    const error = await sessionError(RelpSession.open(socket));
    expect(error.code).toBe('open-refused');
    expect(error.message).toMatch(text);
    expect(socket.destroyed).toBe(true);
    await server.waitFor(() => server.connections[0]?.ended === true, 'the connection to end');
  });

  it('rejects open with timeout when the server does not answer it', async () => {
    const server = await FakeRelpServer.start({ open: 'silent' });
    fake = server;
    const socket = await connectTo(server);
    const error = await sessionError(RelpSession.open(socket, { openTimeoutMs: 100 }));
    expect(error.code).toBe('timeout');
    expect(socket.destroyed).toBe(true);
  });

  it('rejects open at once on a socket that is gone', async () => {
    const server = await FakeRelpServer.start();
    fake = server;
    const socket = await connectTo(server);
    socket.destroy();
    expect((await sessionError(RelpSession.open(socket))).code).toBe('socket');
  });

  it('breaks with timeout when answers stop coming', async () => {
    const { relp } = await start({ onSyslog: () => {} }, { responseTimeoutMs: 150 });
    const error = await sessionError(relp.send(msg(1)));
    expect(error.code).toBe('timeout');
    expect(relp.broken).toBe(true);
    expect(relp.socket.destroyed).toBe(true);
  });

  it('counts the response timeout from the last answer, not from the first message', async () => {
    const { relp } = await start(
      {
        // One answer every 50 ms: 10 messages take 500 ms, longer than the 300 ms timeout, but never 300 ms without an answer.
        onSyslog: ({ connection }) => {
          if (connection.unanswered.size > 1) return;
          const next = () => {
            const [txnr] = connection.unanswered;
            if (txnr === undefined) return;
            connection.answer(txnr);
            setTimeout(next, 50);
          };
          setTimeout(next, 50);
        },
      },
      { responseTimeoutMs: 300 },
    );
    const answers = await Promise.all(Array.from({ length: 10 }, (_, i) => relp.send(msg(i))));
    expect(answers).toHaveLength(10);
    expect(relp.broken).toBe(false);
    await relp.close();
  });

  it.each([
    ['an rsp for a TXNR never sent', '99 rsp 6 200 OK\n'],
    ['a command other than rsp or serverclose', '5 syslog 2 hi\n'],
    ['a malformed frame', 'HTTP/1.1 400 Bad Request\r\n'],
    ['an rsp without a status code', '2 rsp 2 OK\n'],
  ])('breaks with protocol on %s', async (_what, bytes) => {
    const { relp } = await start({ onSyslog: ({ connection }) => connection.write(bytes) });
    const error = await sessionError(relp.send(msg(1)));
    expect(error.code).toBe('protocol');
    expect(relp.broken).toBe(true);
  });

  it('wraps the TXNR from 999999999 to 1', async () => {
    const first = RELP_MAX_TXNR - 1;
    const { server, relp } = await start({ firstTxnr: first }, { firstTxnr: first });
    const answers = await Promise.all([1, 2, 3].map((i) => relp.send(msg(i))));
    expect(answers.every((a) => a.code === 200)).toBe(true);
    expect(server.opens[0]!.txnr).toBe(first);
    expect(server.messages.map((m) => m.txnr)).toEqual([RELP_MAX_TXNR, 1, 2]);
    await relp.close();
    expect(server.closes).toEqual([3]);
    expect(server.violations).toEqual([]);
  });

  it('close() waits for the answers, sends close, gets its rsp and ends the socket', async () => {
    const { server, relp } = await start({ onSyslog: () => {} });
    const sends = [1, 2, 3].map((i) => relp.send(msg(i)));
    await server.waitFor(() => server.messages.length === 3, '3 messages');
    const closing = relp.close();
    expect(relp.close()).toBe(closing); // idempotent
    expect(relp.broken).toBe(true); // takes no more messages
    expect((await sessionError(relp.send(msg('late')))).code).toBe('closed');
    expect(server.closes).toEqual([]); // not before the answers
    server.connections[0]!.answerAll('reverse');
    await expect(Promise.all(sends)).resolves.toHaveLength(3);
    await closing;
    expect(server.closes).toEqual([5]);
    // The serverclose librelp sends behind the close answer does not turn a clean close into a failure.
    expect((await sessionError(relp.send(msg('after')))).code).toBe('closed');
    await server.waitFor(() => server.connections[0]!.ended, 'the connection to end');
    expect(server.violations).toEqual([]);
  });

  it('close() sends what is still queued behind the window first', async () => {
    const { server, relp } = await start({}, { window: 2 });
    const sends = Array.from({ length: 7 }, (_, i) => relp.send(msg(i)));
    await relp.close();
    await expect(Promise.all(sends)).resolves.toHaveLength(7);
    expect(server.messages).toHaveLength(7);
    expect(server.closes).toEqual([9]);
  });

  it('close() resolves even when close gets no answer', async () => {
    const { relp } = await start({ close: 'silent' }, { responseTimeoutMs: 100 });
    await relp.send(msg(1));
    await expect(relp.close()).resolves.toBeUndefined();
    expect(relp.socket.destroyed).toBe(true);
  });

  it('destroy() rejects everything unanswered with closed', async () => {
    const { server, relp } = await start({ onSyslog: () => {} }, { window: 2 });
    const sends = [1, 2, 3].map((i) => relp.send(msg(i)));
    await server.waitFor(() => server.messages.length === 2, '2 messages');
    relp.destroy(new Error('aborted'));
    for (const s of sends) {
      const error = await sessionError(s);
      expect(error.code).toBe('closed');
      expect(error.message).toContain('3 messages unanswered');
    }
    expect(relp.broken).toBe(true);
    await expect(relp.close()).resolves.toBeUndefined();
  });

  it('sends the messages of one tick in one socket write', async () => {
    const { server, relp } = await start();
    const writes: number[] = [];
    const write = relp.socket._writev?.bind(relp.socket);
    expect(write).toBeDefined();
    const originalWrite = relp.socket._write.bind(relp.socket);
    relp.socket._write = (chunk, encoding, cb) => {
      writes.push(1);
      originalWrite(chunk, encoding, cb);
    };
    relp.socket._writev = (chunks, cb) => {
      writes.push(chunks.length);
      write!(chunks, cb);
    };
    await Promise.all(Array.from({ length: 50 }, (_, i) => relp.send(msg(i))));
    expect(writes).toEqual([50]);
    expect(server.messages).toHaveLength(50);
    await relp.close();
  });

  it('stops writing while the socket is full and resumes on drain', async () => {
    const { server, relp } = await start({}, { window: 1000 });
    const reader = server.connections[0]!.socket;
    reader.pause(); // the server stops reading: the kernel buffers fill, then Node's
    const big = Buffer.alloc(64 * 1024, 0x61);
    const count = 400; // 25 MiB: more than loopback's socket buffers hold
    const sends = Array.from({ length: count }, () => relp.send(big));
    // Wait until the client is stalled: the socket wants a drain and nothing more went out for 5 polls.
    let last = -1;
    let still = 0;
    const deadline = Date.now() + 10_000;
    await new Promise<void>((resolve, reject) => {
      const poll = setInterval(() => {
        const now = relp.outstanding;
        still = relp.socket.writableNeedDrain && now === last ? still + 1 : 0;
        last = now;
        if (still < 5 && Date.now() < deadline) return;
        clearInterval(poll);
        if (still >= 5) resolve();
        else reject(new Error(`the socket never filled up (${relp.outstanding} of ${count} frames written): loopback buffers over 25 MiB?`));
      }, 20);
    });
    expect(relp.outstanding).toBeLessThan(count);
    expect(relp.queued).toBe(count - relp.outstanding);
    // What Node buffers is bounded by one frame past the high-water mark, not the whole backlog.
    expect(relp.socket.writableLength).toBeLessThanOrEqual(relp.socket.writableHighWaterMark + big.length + 32);
    reader.resume();
    const answers: RelpResponse[] = await Promise.all(sends);
    expect(answers).toHaveLength(count);
    expect(server.messages).toHaveLength(count);
    await relp.close();
  });

  it('validates its options', async () => {
    const server = await FakeRelpServer.start();
    fake = server;
    const socket = await connectTo(server);
    await expect(RelpSession.open(socket, { window: 0 })).rejects.toThrow(RangeError);
    await expect(RelpSession.open(socket, { responseTimeoutMs: 0 })).rejects.toThrow(RangeError);
    await expect(RelpSession.open(socket, { software: 'a\nb' })).rejects.toThrow(RangeError);
  });
});
