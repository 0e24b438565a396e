// The real-rsyslog test harness (test/support/rsyslog.ts) works: every input receives from raw node sockets, TLS refuses what it should, kill and restart keep the ports.
import { randomUUID } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { appendFileSync, readFileSync } from 'node:fs';
import { connect as connectTcp, type Socket } from 'node:net';
import { join } from 'node:path';
import { connect as connectTls, type TLSSocket } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tlsFixture } from '../support/connect-server.ts';
import { rsyslogAvailable, startRsyslog, type ReceivedMessage, type Rsyslog, type RsyslogOptions } from '../support/rsyslog.ts';

// No skipping: CI installs rsyslog (.ci/run), so a machine without it must fail loudly, with the install command.
beforeAll(() => {
  const available = rsyslogAvailable();
  if (!available.ok) throw new Error(`these tests need a real rsyslog: ${available.why}`);
});

const started: Rsyslog[] = [];
afterAll(async () => {
  await Promise.all(started.map((r) => r.stop()));
});

async function start(options: RsyslogOptions): Promise<Rsyslog> {
  const r = await startRsyslog(options);
  started.push(r);
  return r;
}

/** A unique word to find one test's messages. */
const tag = () => `t${randomUUID().slice(0, 8)}`;
const octetCounted = (msg: string) => `${Buffer.byteLength(msg)} ${msg}`;
const containing = (word: string) => (ms: ReceivedMessage[]) => ms.filter((m) => m.raw.includes(word));
const arrived = (word: string, count = 1) => (ms: ReceivedMessage[]) => containing(word)(ms).length >= count;

/** The RFC 5424 sample the syslog sink sends. */
const sample5424 = (word: string) =>
  `<85>1 2026-12-05T06:00:00.123456Z host1 audit-forwarder - trust_zone_creation - CEF:0|Cofide|audit-forwarder|0.1|trust_zone_creation|Trust zone created|3|msg=${word}`;

function sendUdp(port: number, text: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = createSocket('udp4');
    socket.send(text, port, '127.0.0.1', (e) => {
      socket.close();
      if (e) reject(e);
      else resolve();
    });
  });
}

/** Connects, writes, half-closes and waits for rsyslog to close too. */
function sendTcp(port: number, data: string | Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = connectTcp(port, '127.0.0.1', () => socket.end(data));
    socket.on('error', reject);
    socket.on('close', () => resolve());
  });
}

interface TlsOutcome {
  /** The handshake completed and the server certificate verified. */
  readonly connected: boolean;
  readonly error: (Error & { code?: string }) | undefined;
}

/**
 * A TLS client verifying the server against `ca` (name localhost), with client-1's certificate when asked.
 * It writes `data` once connected and waits for the server to close: a refused client certificate shows up
 * as an error then, not at connect time (TLS 1.3 finishes the client's side of the handshake first).
 */
function sendTls(port: number, data: string, options: { ca?: string; clientCert?: boolean } = {}): Promise<TlsOutcome> {
  return new Promise((resolve) => {
    let connected = false;
    let error: TlsOutcome['error'];
    const socket = tlsClient(port, options);
    socket.on('secureConnect', () => {
      connected = socket.authorized;
      socket.end(data);
    });
    socket.on('error', (e) => (error ??= e));
    socket.on('close', () => resolve({ connected, error }));
  });
}

function tlsClient(port: number, options: { ca?: string; clientCert?: boolean }): TLSSocket {
  return connectTls({
    host: '127.0.0.1',
    port,
    servername: 'localhost',
    ca: readFileSync(tlsFixture(options.ca ?? 'ca.pem')),
    ...(options.clientCert ? { cert: readFileSync(tlsFixture('client-1.pem')), key: readFileSync(tlsFixture('client-1.key')) } : {}),
  });
}

/** What a socket received, with a wait for a pattern to show up in it. */
function reader(socket: Socket) {
  let text = '';
  let closed = false;
  const waiters: (() => void)[] = [];
  const wake = () => waiters.splice(0).forEach((w) => w());
  socket.on('data', (d: Buffer) => {
    text += d.toString('utf8');
    wake();
  });
  socket.on('close', () => {
    closed = true;
    wake();
  });
  socket.on('error', () => undefined);
  return {
    text: () => text,
    /** Resolves once `pattern` matches what was received; rejects if the connection closes first. */
    async until(pattern: RegExp): Promise<string> {
      while (!pattern.test(text)) {
        if (closed) throw new Error(`connection closed before ${pattern}; received ${JSON.stringify(text)}`);
        await new Promise<void>((resolve) => waiters.push(resolve));
      }
      return text;
    },
  };
}

const RELP_OFFERS = 'relp_version=0\nrelp_software=test\ncommands=syslog\n';

/** A raw RELP session: open, one syslog command, close; returns everything the server answered. */
async function relpSession(socket: Socket, connectedEvent: 'connect' | 'secureConnect', msg: string): Promise<string> {
  const answers = reader(socket);
  await new Promise<void>((resolve, reject) => {
    socket.once(connectedEvent, () => resolve());
    socket.once('error', reject);
  });
  socket.write(`1 open ${Buffer.byteLength(RELP_OFFERS)} ${RELP_OFFERS}\n`);
  await answers.until(/^1 rsp \d+ 200 OK\n[^]*commands=syslog/);
  socket.write(`2 syslog ${Buffer.byteLength(msg)} ${msg}\n`);
  await answers.until(/\n2 rsp \d+ .*\n/);
  socket.write('3 close 0\n');
  await answers.until(/\n3 rsp 0\n/);
  socket.end();
  return answers.text();
}

describe('rsyslog harness: every input at once', () => {
  let r: Rsyslog;
  beforeAll(async () => {
    r = await start({ udp: true, tcp: true, tls: { authMode: 'anon' }, relp: true, relpTls: {} });
  });

  it('gives each input its own loopback port', () => {
    const ports = Object.values(r.ports);
    expect(ports).toHaveLength(5);
    for (const p of ports) expect(p).toBeGreaterThan(0);
  });

  it('UDP: a datagram arrives, parsed as RFC 5424 (pri, app-name, procid, msgid, no structured data); probes are not messages', async () => {
    const word = tag();
    await sendUdp(r.ports.udp as number, `${sample5424(word)}\n`);
    const [m] = containing(word)(await r.waitFor(arrived(word), undefined, `the UDP datagram ${word}`));
    expect(m).toEqual({
      input: 'udp',
      // The trailing LF of the datagram is dropped (parser.dropTrailingLFOnReception).
      raw: sample5424(word),
      msg: `CEF:0|Cofide|audit-forwarder|0.1|trust_zone_creation|Trust zone created|3|msg=${word}`,
      pri: 85,
      facility: 10,
      severity: 5,
      hostname: 'host1',
      appName: 'audit-forwarder',
      procId: '-',
      msgId: 'trust_zone_creation',
      structuredData: '-',
      timeReported: '2026-12-05T06:00:00.123456Z',
      protocolVersion: '1',
      tag: 'audit-forwarder',
      receivedAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+00:00$/),
    });
    expect(r.messages().filter((x) => x.raw.includes('rsyslog-harness-probe'))).toEqual([]);
  });

  it('TCP octet-counted framing: a raw LF inside a frame stays in ONE message', async () => {
    const word = tag();
    const first = `${sample5424(word)} line one\nline two`;
    const second = `<13>1 - - app - - - ${word} next frame`;
    await sendTcp(r.ports.tcp as number, octetCounted(first) + octetCounted(second));
    const got = containing(word)(await r.waitFor(arrived(word, 2), undefined, 'two octet-counted frames'));
    expect(got.map((m) => [m.input, m.raw])).toEqual([
      ['tcp', first],
      ['tcp', second],
    ]);
    expect(got[0]?.msg).toContain('line one\nline two');
  });

  it('TCP LF framing: each line is a message', async () => {
    const word = tag();
    await sendTcp(r.ports.tcp as number, `<13>1 - - app - - - ${word} a\n<13>1 - - app - - - ${word} b\n`);
    const got = containing(word)(await r.waitFor(arrived(word, 2), undefined, 'two LF-framed lines'));
    expect(got.map((m) => m.raw)).toEqual([`<13>1 - - app - - - ${word} a`, `<13>1 - - app - - - ${word} b`]);
  });

  it('RFC 3164: the legacy parser takes a bare `CEF:` as the tag (and, with DNS off, the peer IP as the hostname)', async () => {
    const word = tag();
    await sendTcp(r.ports.tcp as number, `<13>CEF:0|Cofide|audit-forwarder|0.1|x|y|3|msg=${word}\n`);
    const [m] = containing(word)(await r.waitFor(arrived(word), undefined, 'the RFC 3164 line'));
    expect(m).toMatchObject({ protocolVersion: '0', tag: 'CEF:', appName: 'CEF', hostname: '127.0.0.1', msg: `0|Cofide|audit-forwarder|0.1|x|y|3|msg=${word}` });
  });

  it('TLS: a client verifying against ca.pem delivers', async () => {
    const word = tag();
    const outcome = await sendTls(r.ports.tls as number, `${octetCounted(sample5424(word))}`);
    expect(outcome).toEqual({ connected: true, error: undefined });
    const [m] = containing(word)(await r.waitFor(arrived(word), undefined, 'the TLS message'));
    expect(m).toMatchObject({ input: 'tls', raw: sample5424(word), msgId: 'trust_zone_creation' });
  });

  it('TLS: a client verifying against another CA (other-ca.pem) refuses the server', async () => {
    const outcome = await sendTls(r.ports.tls as number, '<13>never sent\n', { ca: 'other-ca.pem' });
    expect(outcome.connected).toBe(false);
    expect(outcome.error?.code).toMatch(/^(SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER_CERT(_LOCALLY)?)$/);
  });

  it('RELP: a raw session is answered 200 OK and delivers', async () => {
    const word = tag();
    const answers = await relpSession(connectTcp(r.ports.relp as number, '127.0.0.1'), 'connect', sample5424(word));
    expect(answers).toContain('\n2 rsp 6 200 OK\n');
    const [m] = containing(word)(await r.waitFor(arrived(word), undefined, 'the RELP message'));
    // rawmsg is the syslog command's data, without RELP framing.
    expect(m).toMatchObject({ input: 'relp', raw: sample5424(word), appName: 'audit-forwarder' });
  });

  it('RELP over TLS (anon: server certificate only): delivers', async () => {
    const word = tag();
    const answers = await relpSession(tlsClient(r.ports.relpTls as number, {}), 'secureConnect', sample5424(word));
    expect(answers).toContain('\n2 rsp 6 200 OK\n');
    const [m] = containing(word)(await r.waitFor(arrived(word), undefined, 'the RELP/TLS message'));
    expect(m).toMatchObject({ input: 'relp-tls', raw: sample5424(word) });
  });

  it('waitFor: a timeout says what it waited for and what arrived', async () => {
    await expect(r.waitFor(() => false, 100, 'nothing at all')).rejects.toThrow(/timed out after 100 ms waiting for nothing at all; \d+ message\(s\) received.*; rsyslogd: udp running, tcp running/);
  });
});

describe('rsyslog harness: mutual TLS (x509/certvalid, certvalid on RELP)', () => {
  let r: Rsyslog;
  beforeAll(async () => {
    r = await start({ tls: { authMode: 'x509/certvalid' }, relpTls: { authMode: 'certvalid' } });
  });

  it('TLS: a client without a certificate is refused and delivers nothing; client-1 gets through', async () => {
    const refusedWord = tag();
    const refused = await sendTls(r.ports.tls as number, `<13>1 - - app - - - ${refusedWord}\n`);
    expect(refused.error?.code).toMatch(/^(ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED|ECONNRESET|EPIPE)$/);
    const word = tag();
    expect(await sendTls(r.ports.tls as number, `<13>1 - - app - - - ${word}\n`, { clientCert: true })).toEqual({ connected: true, error: undefined });
    const all = await r.waitFor(arrived(word), undefined, 'the client-1 message');
    expect(containing(refusedWord)(all)).toEqual([]);
  });

  it('RELP over TLS: a client without a certificate gets no session; client-1 does', async () => {
    await expect(relpSession(tlsClient(r.ports.relpTls as number, {}), 'secureConnect', '<13>1 - - app - - - refused')).rejects.toThrow();
    const word = tag();
    const answers = await relpSession(tlsClient(r.ports.relpTls as number, { clientCert: true }), 'secureConnect', `<13>1 - - app - - - ${word}`);
    expect(answers).toContain('\n2 rsp 6 200 OK\n');
    await r.waitFor(arrived(word), undefined, 'the client-1 RELP message');
  });
});

describe('rsyslog harness: maxMessageSize', () => {
  it('an oversize octet-counted frame is cut at the limit (and rsyslog delivers the rest as another message)', async () => {
    const r = await start({ tcp: true, maxMessageSize: 1024 });
    const word = tag();
    const big = `<13>1 - - app - - - ${word} ${'x'.repeat(2000)}`;
    await sendTcp(r.ports.tcp as number, octetCounted(big) + octetCounted(`<13>1 - - app - - - ${word} small`));
    const all = await r.waitFor((ms) => ms.some((m) => m.raw.endsWith(`${word} small`)), undefined, 'the frame after the oversize one');
    expect(all).toHaveLength(3);
    expect(all[0]?.raw).toBe(big.slice(0, 1024));
    // 8.2302 keeps reading the frame's remaining bytes as a message of their own (here all but one of them).
    expect(big.endsWith(all[1]?.raw ?? '')).toBe(true);
    expect(all[1]?.raw).toMatch(/^x+$/);
  });
});

describe('rsyslog harness: kill and restart', () => {
  it('after SIGKILL, restart() listens on the same ports again and appends to the same output', async () => {
    const r = await start({ udp: true, tcp: true, tls: { authMode: 'anon' }, relp: true });
    const ports = { ...r.ports };
    const before = tag();
    await sendTcp(r.ports.tcp as number, `<13>1 - - app - - - ${before}\n`);
    await r.waitFor(arrived(before), undefined, 'the message before the kill');
    // A connection open across the kill: the restarted rsyslogd must still bind the port.
    const open = connectTcp(r.ports.tcp as number, '127.0.0.1');
    await new Promise((resolve) => open.once('connect', resolve));
    open.on('error', () => undefined);

    await r.kill('SIGKILL');
    await expect(sendTcp(r.ports.tcp as number, 'x')).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    // A line torn by the kill (simulated): never returned, and cut off so the next run's lines stay whole.
    appendFileSync(join(r.dir, 'tcp', 'messages.jsonl'), '{"input":"tcp","raw":"torn');
    expect(containing('torn')(r.messages())).toEqual([]);

    await r.restart();
    expect(r.ports).toEqual(ports);
    const after = tag();
    await sendUdp(r.ports.udp as number, `<13>1 - - app - - - ${after} udp`);
    await sendTcp(r.ports.tcp as number, `<13>1 - - app - - - ${after} tcp\n`);
    expect((await sendTls(r.ports.tls as number, `<13>1 - - app - - - ${after} tls\n`)).connected).toBe(true);
    expect(await relpSession(connectTcp(r.ports.relp as number, '127.0.0.1'), 'connect', `<13>1 - - app - - - ${after} relp`)).toContain('\n2 rsp 6 200 OK\n');
    const all = await r.waitFor(arrived(after, 4), undefined, 'a message on every input after the restart');
    expect(containing(after)(all).map((m) => m.input).sort()).toEqual(['relp', 'tcp', 'tls', 'udp']);
    expect(containing(before)(all)).toHaveLength(1);
    expect(containing('torn')(all)).toEqual([]);
    open.destroy();
  });
});
