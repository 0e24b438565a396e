// A real rsyslogd (Debian 8.2302: imudp, imtcp plain and TLS, imrelp plain and TLS) on loopback ports, for the syslog sink's tests.
/*
 * What it runs: for each input asked for, one `rsyslogd -n -f <dir>/<input>/rsyslog.conf -i <dir>/<input>/rsyslogd.pid`
 * in the foreground, everything in the harness's own temp directory (`global(workDirectory=<dir>/<input>)`, config,
 * pid file, output): no root-only path, so it runs as root and as any other user. imuxsock/imklog are not loaded;
 * every input listens on 127.0.0.1 only, on a port the harness found free by binding a node socket to port 0 (tcp
 * for the TCP-based inputs, udp for imudp). On Linux rsyslogd is started through `setpriv --pdeathsig KILL` when
 * setpriv exists, so it dies with the test process even when vitest kills a worker; a process 'exit' hook and
 * every error path kill it (and remove the temp directory) too.
 *
 * Why one rsyslogd per input: 8.2302 closes a TLS session's socket twice, in nsd_ossl (SSL_free with BIO_CLOSE,
 * then nsd_ptcp; fixed upstream in rsyslog PR #6375, Dec 2025) and in librelp's OpenSSL code. Any fd another
 * thread opens between the two close() calls is closed under it: seen here as RELP sessions cut right after
 * `open`, acknowledged RELP messages never written, and omfile's own output fd closed (silent loss). In a process
 * of its own an input's thread is the only one that opens fds after startup (accept; the output file is opened
 * by the startup message, before readiness; `net.enableDNS="off"` avoids /etc/hosts reads; TZ=UTC avoids
 * /etc/localtime reads), so the double close can only hit an fd that thread itself already closed.
 * `processInternalMessages="on"` for the same reason: otherwise rsyslogd sends its own messages with libc
 * syslog(3), a socket per message on the main thread (to a /dev/log nobody reads).
 *
 * API:
 *   startRsyslog(options) → Rsyslog, resolved once every input is ready (see "Readiness"); it throws, with
 *     rsyslogd's stderr and internal messages and the install command, when rsyslog is missing, the config is
 *     refused or an input does not come up. A port taken by someone else between the harness freeing it and
 *     rsyslogd binding it is retried on fresh ports (initial start only: restart() keeps its ports by design).
 *   options: udp, tcp (plain imtcp: octet-counted framing `<len> <msg>` auto-detected, LF framing otherwise),
 *     tls (imtcp + the OpenSSL "ossl" stream driver, authMode anon | x509/certvalid (mutual TLS: the client needs
 *     a certificate signed by ca.pem, e.g. client-1) | x509/name (+ permittedPeer; rsyslog matches it against
 *     the client's SANs including URIs, e.g. client-1's spiffe://example.org/ns/forwarder/sa/audit-forwarder)),
 *     relp (plain imrelp), relpTls (imrelp tls="on", authMode anon (default) | certvalid | name (+ permittedPeer),
 *     tlsLib openssl (default) | gnutls: with gnutls and no authMode librelp asks for a client certificate in
 *     fingerprint mode, so "anon" refuses every client there), maxMessageSize (global, rsyslog's default 8k),
 *     readyTimeoutMs (default 15 s).
 *     TLS files, all from test/fixtures/tls: server.pem/server.key (SANs DNS:localhost, IP:127.0.0.1), CA ca.pem.
 *   rsyslog.ports            { udp?, tcp?, tls?, relp?, relpTls? }, the same for the harness's whole life.
 *   rsyslog.messages()       every message written so far, ordered by the time rsyslog received it
 *                            (`receivedAt`; file order within an input), from one JSON line per message; a
 *                            partial last line is not returned. Probes and rsyslogd's own messages never are.
 *   rsyslog.waitFor(pred, timeoutMs = 10 s, what)  polls messages() until pred is true and returns them; rejects
 *                            on timeout with the counts per input, the last messages and rsyslogd's diagnostics,
 *                            or at once when an rsyslogd exited without being asked to.
 *   rsyslog.kill(signal = 'SIGKILL')  signals every rsyslogd and resolves when all have exited.
 *   rsyslog.restart()        (stops them first if running) starts them again on the SAME ports and configs,
 *                            appending to the same output files (a line torn by a kill is cut off first), and
 *                            resolves when every input is ready again.
 *   rsyslog.stop()           SIGTERM (SIGKILL after 5 s), waits, removes the temp directory. Idempotent.
 *   rsyslog.diagnostics()    rsyslogd's stderr and internal messages so far, per input (all runs).
 *   rsyslog.dir              the temp directory; <dir>/<input>/messages.jsonl are the output files.
 *   rsyslogAvailable()       { ok: true } or { ok: false, why } (why includes the install command). Tests use it
 *                            to print a clear error, not to skip: on CI .ci/run installs the packages.
 *
 * Output: one omfile action per rsyslogd with a list template and `option.jsonf="on"` (rsyslog's own JSON
 * escaping), flushing every transaction (`flushOnTXEnd="on"`, `asyncWriting="off"`), so waitFor sees a message
 * as soon as rsyslog processed it. The input's ruleset sets `$.input` to a constant ('udp' | 'tcp' | 'tls' |
 * 'relp' | 'relp-tls'), so `input` is exact; the default ruleset (rsyslogd's own messages) writes 'rsyslogd'.
 * `parser.escapeControlCharactersOnReceive="off"`: a raw LF inside an octet-counted frame stays an LF (rsyslog
 * would write it as `#012` otherwise); NUL still becomes `#000`.
 *
 * Readiness (no sleeps, polling every 25 ms until a deadline): first the startup line of this very rsyslogd
 * (`[origin ...x-pid="<pid>"...] start`) in its output, then the input itself: tcp: a TCP connect, closed at once
 * (an empty session, no message); tls: a full TLS handshake verified against ca.pem (with the client-1
 * certificate unless anon), then a clean close; relp / relp-tls: a real RELP session, `open` answered
 * `200 OK`, then `close`; udp: probe datagrams carrying a per-harness marker until one is written (the udp
 * ruleset labels them 'probe', and messages() leaves them out).
 *
 * TLS config that works on 8.2302: imtcp takes the TLS material per input (`streamDriver.name="ossl"`,
 * `streamDriver.mode="1"`, `streamDriver.authMode`, `streamDriver.CAFile`/`CertFile`/`KeyFile`,
 * `permittedPeer`), no global DefaultNetstreamDriver* settings needed. imrelp: the TLS library is librelp's
 * choice, set by the *module* parameter `tls.tlslib` (Debian's librelp 1.11 links both GnuTLS and OpenSSL); the
 * harness loads it with "openssl" unless told otherwise; the input takes tls.caCert/tls.myCert/tls.myPrivKey and
 * tls.authMode (none for anon).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { accessSync, closeSync, constants, existsSync, fstatSync, ftruncateSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, readSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { connect as connectTcp, createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { connect as connectTls } from 'node:tls';
import { tlsFixture } from './connect-server.ts';

export interface RsyslogOptions {
  /** imudp. */
  udp?: boolean;
  /** imtcp, plain: octet-counted framing (`<len> <msg>`) is auto-detected, LF framing otherwise. */
  tcp?: boolean;
  /** imtcp with the OpenSSL (ossl) stream driver, server.pem/server.key, CA ca.pem; certvalid = mutual TLS. */
  tls?: { authMode: 'anon' | 'x509/certvalid' | 'x509/name'; permittedPeer?: string };
  /** imrelp, plain. */
  relp?: boolean;
  /** imrelp with tls="on" and the same files; authMode defaults to anon (server certificate only). */
  relpTls?: { authMode?: 'certvalid' | 'name' | 'anon'; permittedPeer?: string; tlsLib?: 'openssl' | 'gnutls' };
  /** rsyslog's global maxMessageSize in bytes (rsyslog's default: 8k). */
  maxMessageSize?: number;
  /** Benchmarks: count messages (`received()`) instead of writing them; `messages()` is then empty. */
  countOnly?: boolean;
  /** How long start and restart may take until every input is ready (default 15 s). */
  readyTimeoutMs?: number;
}

export type InputName = 'udp' | 'tcp' | 'tls' | 'relp' | 'relp-tls';

/** One message as rsyslog parsed it (properties of the same names; `raw` is %rawmsg%). */
export interface ReceivedMessage {
  input: InputName;
  raw: string;
  msg: string;
  pri: number;
  facility: number;
  severity: number;
  hostname: string;
  appName: string;
  procId: string;
  msgId: string;
  structuredData: string;
  /** %timereported:::date-rfc3339% (rsyslogd runs with TZ=UTC). */
  timeReported: string;
  /** '1' for RFC 5424, '0' for RFC 3164. */
  protocolVersion: string;
  /** %syslogtag% (what the RFC 3164 parser took as the tag). */
  tag: string;
  /** %timegenerated:::date-rfc3339%: when rsyslog received it, to the microsecond, UTC. */
  receivedAt: string;
}

type Ports = { udp?: number; tcp?: number; tls?: number; relp?: number; relpTls?: number };

export interface Rsyslog {
  readonly ports: Ports;
  readonly dir: string;
  messages(): ReceivedMessage[];
  waitFor(pred: (m: ReceivedMessage[]) => boolean, timeoutMs?: number, what?: string): Promise<ReceivedMessage[]>;
  kill(signal?: NodeJS.Signals): Promise<void>;
  restart(): Promise<void>;
  stop(): Promise<void>;
  diagnostics(): string;
  /** With `countOnly`: the messages each input has written so far, all inputs together. */
  received(): number;
}

export const RSYSLOG_INSTALL_COMMAND = 'apt-get install -y --no-install-recommends rsyslog rsyslog-relp rsyslog-openssl';
const REQUIRED_MODULES = ['imudp.so', 'imtcp.so', 'imrelp.so', 'lmnsd_ossl.so'];
const POLL_MS = 25;
const ATTEMPT_TIMEOUT_MS = 2_000;
const STDERR_KEEP = 64 * 1024;
const INPUTS: readonly { input: InputName; port: keyof Ports; protocol: 'tcp' | 'udp' }[] = [
  { input: 'udp', port: 'udp', protocol: 'udp' },
  { input: 'tcp', port: 'tcp', protocol: 'tcp' },
  { input: 'tls', port: 'tls', protocol: 'tcp' },
  { input: 'relp', port: 'relp', protocol: 'tcp' },
  { input: 'relp-tls', port: 'relpTls', protocol: 'tcp' },
];
/** rsyslogd's words for a config it refused (it may keep running without the broken part). */
const CONFIG_REFUSED = /error during parsing file|could not interpret master config|error processing global config/i;
/** rsyslogd's words for a listener it could not bind (imtcp, imudp, imrelp). */
const BIND_FAILED = /Address already in use|Could not create (tcp|udp) listener|error while binding relp|could not activate relp listener/i;

// ---- is rsyslog installed

/** The rsyslogd binary: /usr/sbin/rsyslogd (Debian), else the first on PATH. */
function findRsyslogd(): string | undefined {
  const dirs = ['/usr/sbin', '/sbin', ...(process.env['PATH'] ?? '').split(delimiter).filter((d) => d !== '')];
  return dirs.map((d) => join(d, 'rsyslogd')).find(isExecutable);
}

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Where the modules are: Debian's multiarch /usr/lib/<triplet>/rsyslog, or the classic directories. */
function moduleDirs(): string[] {
  const multiarch = readdirSync('/usr/lib').filter((d) => /-linux-gnu/.test(d));
  return [...multiarch.map((d) => join('/usr/lib', d, 'rsyslog')), '/usr/lib/rsyslog', '/usr/lib64/rsyslog', '/lib/rsyslog'];
}

export function rsyslogAvailable(): { ok: true } | { ok: false; why: string } {
  const install = `install it with: ${RSYSLOG_INSTALL_COMMAND} (.ci/run does this on CI)`;
  if (findRsyslogd() === undefined) return { ok: false, why: `rsyslogd not found in /usr/sbin, /sbin or PATH; ${install}` };
  const dir = moduleDirs().find((d) => existsSync(join(d, 'imtcp.so')));
  if (dir === undefined) return { ok: false, why: `no rsyslog module directory (imtcp.so) in ${moduleDirs().join(', ')}; ${install}` };
  const missing = REQUIRED_MODULES.filter((m) => !existsSync(join(dir, m)));
  if (missing.length > 0) return { ok: false, why: `rsyslog modules missing from ${dir}: ${missing.join(', ')}; ${install}` };
  return { ok: true };
}

// ---- every rsyslogd started here is killed, and every temp directory removed, when this process exits, whatever the tests did.

const live = new Set<ChildProcess>();
const liveDirs = new Set<string>();
let exitHookInstalled = false;
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const c of live) c.kill('SIGKILL');
    for (const d of liveDirs) rmSync(d, { recursive: true, force: true });
  });
}
function track(child: ChildProcess): void {
  installExitHook();
  live.add(child);
  child.once('exit', () => live.delete(child));
}
function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
  liveDirs.delete(dir);
}

// ---- config

/** An rsyslog string literal. */
const q = (s: string): string => `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;

const FIELDS: readonly [out: string, property: string, extra?: string][] = [
  ['input', '$.input'],
  ['raw', 'rawmsg'],
  ['msg', 'msg'],
  ['pri', 'pri'],
  ['facility', 'syslogfacility'],
  ['severity', 'syslogseverity'],
  ['hostname', 'hostname'],
  ['appName', 'app-name'],
  ['procId', 'procid'],
  ['msgId', 'msgid'],
  ['structuredData', 'structured-data'],
  ['timeReported', 'timereported', 'dateFormat="rfc3339"'],
  ['protocolVersion', 'protocol-version'],
  ['tag', 'syslogtag'],
  ['receivedAt', 'timegenerated', 'dateFormat="rfc3339"'],
];

/** The config of the rsyslogd serving one input. */
function rsyslogConfig(input: InputName, port: number, dir: string, outputFile: string, marker: string, o: RsyslogOptions): string {
  const file = (name: string) => q(tlsFixture(name));
  const lines: string[] = [
    `global(workDirectory=${q(dir)} maxMessageSize="${o.maxMessageSize ?? 8192}" parser.escapeControlCharactersOnReceive="off"` +
      ` processInternalMessages="on" net.enableDNS="off")`,
    'template(name="harness_json" type="list" option.jsonf="on") {',
    ...FIELDS.map(([out, prop, extra]) => `  property(outname="${out}" name="${prop}" format="jsonf"${extra ? ` ${extra}` : ''})`),
    '}',
    'ruleset(name="harness_write") {',
    `  action(type="omfile" name="harness_output" file=${q(outputFile)} template="harness_json" flushOnTXEnd="on" asyncWriting="off")`,
    '}',
    // The default ruleset only gets rsyslogd's own messages (every input has its ruleset): the startup line
    // opens the output file before any session exists, and errors land next to the messages.
    'set $.input = "rsyslogd";',
    'call harness_write',
  ];
  const addr = `address="127.0.0.1" port="${port}" ruleset="in"`;
  // A Direct queue: each message is written in the input's own thread before the input takes the next one, so
  // imrelp answers `200 OK` only after the message is in the file (a SIGKILL then loses nothing it answered).
  // `countOnly` (benchmarks): one byte per message in count.txt instead of the JSON line, so a million messages
  // cost rsyslog little and the disk nothing; `received()` reads the count.
  const sink = o.countOnly === true ? `action(type="omfile" file=${q(join(dir, 'count.txt'))} template="harness_count")` : 'call harness_write';
  if (o.countOnly === true) lines.push('template(name="harness_count" type="string" string="\\n")');
  const ruleset = (body = `set $.input = "${input}";`) => lines.push(`ruleset(name="in" queue.type="Direct") { ${body} ${sink} }`);
  switch (input) {
    case 'udp':
      lines.push('module(load="imudp")');
      // Probes always go to the JSON output (readiness looks for them there), counted or not.
      ruleset(`if ($rawmsg contains ${q(marker)}) then { set $.input = "probe"; call harness_write stop } set $.input = "udp";`);
      lines.push(`input(type="imudp" ${addr})`);
      break;
    case 'tcp':
      lines.push(`module(load="imtcp" maxFrameSize="${Math.max(200_000, (o.maxMessageSize ?? 8192) + 1024)}")`);
      ruleset();
      lines.push(`input(type="imtcp" ${addr})`);
      break;
    case 'tls': {
      const tls = o.tls ?? { authMode: 'anon' };
      lines.push(`module(load="imtcp" maxFrameSize="${Math.max(200_000, (o.maxMessageSize ?? 8192) + 1024)}")`);
      ruleset();
      lines.push(
        `input(type="imtcp" ${addr} streamDriver.name="ossl" streamDriver.mode="1" streamDriver.authMode="${tls.authMode}"` +
          ` streamDriver.CAFile=${file('ca.pem')} streamDriver.CertFile=${file('server.pem')} streamDriver.KeyFile=${file('server.key')}` +
          `${tls.permittedPeer === undefined ? '' : ` permittedPeer=[${q(tls.permittedPeer)}]`})`,
      );
      break;
    }
    case 'relp':
      lines.push('module(load="imrelp")');
      ruleset();
      lines.push(`input(type="imrelp" ${addr})`);
      break;
    case 'relp-tls': {
      const relpTls = o.relpTls ?? {};
      const mode = relpTls.authMode ?? 'anon';
      lines.push(`module(load="imrelp" tls.tlslib="${relpTls.tlsLib ?? 'openssl'}")`);
      ruleset();
      lines.push(
        `input(type="imrelp" ${addr} tls="on" tls.caCert=${file('ca.pem')} tls.myCert=${file('server.pem')} tls.myPrivKey=${file('server.key')}` +
          // librelp has no "anon" value: anon is the absence of tls.authMode.
          `${mode === 'anon' ? '' : ` tls.authMode="${mode}"`}` +
          `${relpTls.permittedPeer === undefined ? '' : ` tls.permittedPeer=[${q(relpTls.permittedPeer)}]`})`,
      );
      break;
    }
  }
  return `${lines.join('\n')}\n`;
}

// ---- ports

/** Free loopback ports, all held at once (so they differ) and then released for rsyslogd. */
async function freePorts(o: RsyslogOptions): Promise<Ports> {
  const held: { close(): Promise<void> }[] = [];
  const tcp = async () => {
    const server = createServer();
    await new Promise<void>((resolve, reject) => server.once('error', reject).listen(0, '127.0.0.1', resolve));
    held.push({ close: () => new Promise<void>((resolve) => server.close(() => resolve())) });
    return (server.address() as { port: number }).port;
  };
  const udp = async () => {
    const socket = createSocket('udp4');
    await new Promise<void>((resolve, reject) => socket.once('error', reject).bind(0, '127.0.0.1', resolve));
    held.push({ close: () => new Promise<void>((resolve) => socket.close(() => resolve())) });
    return socket.address().port;
  };
  try {
    const ports: Ports = {};
    for (const i of INPUTS) if (wanted(o, i.input)) ports[i.port] = await (i.protocol === 'udp' ? udp() : tcp());
    return ports;
  } finally {
    await Promise.all(held.map((h) => h.close()));
  }
}

function wanted(o: RsyslogOptions, input: InputName): boolean {
  return Boolean({ udp: o.udp, tcp: o.tcp, tls: o.tls, relp: o.relp, 'relp-tls': o.relpTls }[input]);
}

// ---- readiness probes: each attempt resolves true (ready) or false (try again); none waits longer than ATTEMPT_TIMEOUT_MS.

function attempt(socket: Socket, run: (done: (ready: boolean) => void) => void): Promise<boolean> {
  return new Promise((resolve) => {
    let settled = false;
    const done = (ready: boolean) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (ready) {
        // A clean close (TLS close_notify, RELP already closed) that rsyslogd has no reason to log about.
        socket.end();
        setTimeout(() => socket.destroy(), 1_000).unref();
      } else {
        socket.destroy();
      }
      resolve(ready);
    };
    const timer = setTimeout(() => done(false), ATTEMPT_TIMEOUT_MS);
    // run's own listeners come first: they may read an error or close as "ready".
    run(done);
    socket.on('error', () => done(false));
    socket.on('close', () => done(false));
  });
}

const probeTcp = (port: number) => {
  const socket = connectTcp(port, '127.0.0.1');
  return attempt(socket, (done) => socket.on('connect', () => done(true)));
};

/** A TLS client verifying the server against ca.pem (name localhost), presenting client-1 unless anon. */
const tlsClient = (port: number, clientCert: boolean) =>
  connectTls({
    host: '127.0.0.1',
    port,
    servername: 'localhost',
    ca: readFileSync(tlsFixture('ca.pem')),
    ...(clientCert ? { cert: readFileSync(tlsFixture('client-1.pem')), key: readFileSync(tlsFixture('client-1.key')) } : {}),
  });

/** A whole TLS handshake, then a clean close. */
const probeTls = (port: number, clientCert: boolean) => {
  const socket = tlsClient(port, clientCert);
  return attempt(socket, (done) => socket.on('secureConnect', () => done(true)));
};

const RELP_OFFERS = 'relp_version=0\nrelp_software=audit-forwarder-test-harness\ncommands=syslog\n';

/**
 * A whole RELP session: `open` answered `200 OK`, then `close` (a bare connect would make imrelp log a broken
 * session). Over TLS, a session refused after a good handshake (x509 name mode with a peer client-1 does not
 * match) still means the listener is up.
 */
const probeRelp = (port: number, tls?: { clientCert: boolean }) => {
  const socket = tls === undefined ? connectTcp(port, '127.0.0.1') : tlsClient(port, tls.clientCert);
  return attempt(socket, (done) => {
    let got = '';
    let connected = false;
    socket.on(tls === undefined ? 'connect' : 'secureConnect', () => {
      connected = true;
      socket.write(`1 open ${Buffer.byteLength(RELP_OFFERS)} ${RELP_OFFERS}\n`);
    });
    socket.on('data', (d: Buffer) => {
      got += d.toString('latin1');
      if (/^1 rsp \d+ 200 /.test(got) && !got.includes('2 rsp')) socket.write('2 close 0\n');
      if (got.includes('2 rsp')) done(true);
    });
    if (tls !== undefined) {
      socket.on('error', () => done(connected));
      socket.on('close', () => done(connected));
    }
  });
};

/** One UDP probe datagram; the caller looks for it in the output. */
function sendUdpProbe(port: number, text: string): Promise<void> {
  return new Promise((resolve) => {
    const socket = createSocket('udp4');
    socket.send(text, port, '127.0.0.1', () => {
      socket.close();
      resolve();
    });
  });
}

class PortTakenError extends Error {}

// ---- one rsyslogd serving one input

/** A line of an output file: a message, a probe, or one of rsyslogd's own messages. */
type Line = { kind: 'message'; message: ReceivedMessage } | { kind: 'probe'; raw: string } | { kind: 'internal'; raw: string; at: string };

class Instance {
  readonly input: InputName;
  readonly port: number;
  private readonly rsyslogd: string;
  private readonly marker: string;
  private readonly options: RsyslogOptions;
  readonly dir: string;
  readonly conf: string;
  readonly pidFile: string;
  readonly outputFile: string;
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();
  /** How the current run ended, when it did. */
  exit: string | undefined;
  /** kill/stop asked for the exit: no error. */
  private expected = false;
  private generation = 0;
  private stderr = '';
  /** This run's stderr alone (a port conflict of an earlier run is no news). */
  private runStderr = '';
  private readonly lines: Line[] = [];
  /** Where this run's lines start in `lines`. */
  private runLinesFrom = 0;
  /** Bytes of the output file turned into `lines`. */
  private consumed = 0;

  constructor(input: InputName, port: number, root: string, rsyslogd: string, marker: string, options: RsyslogOptions) {
    this.input = input;
    this.port = port;
    this.rsyslogd = rsyslogd;
    this.marker = marker;
    this.options = options;
    this.dir = join(root, input);
    this.conf = join(this.dir, 'rsyslog.conf');
    this.pidFile = join(this.dir, 'rsyslogd.pid');
    this.outputFile = join(this.dir, 'messages.jsonl');
    mkdirSync(this.dir);
    writeFileSync(this.conf, rsyslogConfig(input, port, this.dir, this.outputFile, marker, options));
    writeFileSync(this.outputFile, '');
  }

  get running(): boolean {
    return this.child !== undefined && this.exit === undefined;
  }

  spawn(): void {
    this.generation += 1;
    this.runStderr = '';
    this.runLinesFrom = this.read().length;
    this.exit = undefined;
    this.expected = false;
    const args = ['-n', '-f', this.conf, '-i', this.pidFile];
    // pdeathsig: rsyslogd dies with this process even if it is SIGKILLed and no hook runs.
    const setpriv = process.platform === 'linux' ? ['/usr/bin/setpriv', '/bin/setpriv'].find(isExecutable) : undefined;
    const [command, argv] = setpriv === undefined ? [this.rsyslogd, args] : [setpriv, ['--pdeathsig', 'KILL', '--', this.rsyslogd, ...args]];
    // TZ fixed: the same timestamps on every machine, and glibc never re-reads /etc/localtime (see the top).
    const child = spawn(command, argv, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, TZ: 'UTC' } });
    this.child = child;
    track(child);
    const append = (s: string) => {
      this.stderr = (this.stderr + s).slice(-STDERR_KEEP);
      this.runStderr = (this.runStderr + s).slice(-STDERR_KEEP);
    };
    if (this.generation > 1) this.stderr += `--- run ${this.generation}\n`;
    child.stdout?.setEncoding('utf8').on('data', append);
    child.stderr?.setEncoding('utf8').on('data', append);
    this.exited = new Promise<void>((resolve) => {
      child.once('error', (e) => {
        this.exit ??= `could not be started: ${e.message}`;
        resolve();
      });
      child.once('exit', (code, signal) => {
        this.exit ??= signal === null ? `exit code ${code}` : `signal ${signal}`;
        resolve();
      });
    });
  }

  /** Throws if this rsyslogd refused its config, could not bind its port, or is gone without being asked to. */
  check(): void {
    if (CONFIG_REFUSED.test(this.runStderr)) {
      throw new Error(`rsyslog harness: the ${this.input} rsyslogd refused its config ${this.conf}.\n${this.diagnostics()}${this.configCheck()}`);
    }
    const internal = this.lines.slice(this.runLinesFrom).flatMap((l) => (l.kind === 'internal' ? [l.raw] : []));
    if (BIND_FAILED.test(this.runStderr) || internal.some((l) => BIND_FAILED.test(l))) {
      throw new PortTakenError(`rsyslog harness: ${this.input} port ${this.port} was taken by another process.\n${this.diagnostics()}`);
    }
    if (this.exit !== undefined && !this.expected) {
      throw new Error(`rsyslog harness: the ${this.input} rsyslogd exited unexpectedly (${this.exit}).\n${this.diagnostics()}${this.configCheck()}`);
    }
  }

  diagnostics(): string {
    const internal = this.lines.flatMap((l) => (l.kind === 'internal' ? [`${l.at} ${l.raw}`] : []));
    return (
      `[${this.input}] rsyslogd stderr: ${this.stderr.trim() === '' ? '(empty)' : `\n${this.stderr.trimEnd()}`}\n` +
      `[${this.input}] rsyslogd internal messages: ${internal.length === 0 ? '(none)' : `\n${internal.join('\n')}`}`
    );
  }

  /** rsyslogd -N1's verdict on the config, for start failures. */
  configCheck(): string {
    const r = spawnSync(this.rsyslogd, ['-N1', '-f', this.conf], { encoding: 'utf8', timeout: 10_000 });
    return `\nrsyslogd -N1 -f ${this.conf} (exit ${r.status}):\n${`${r.stdout ?? ''}${r.stderr ?? ''}`.trimEnd()}`;
  }

  async terminate(signal: NodeJS.Signals): Promise<void> {
    const child = this.child;
    if (child === undefined || this.exit !== undefined) return;
    this.expected = true;
    child.kill(signal);
    const timer = signal === 'SIGKILL' ? undefined : setTimeout(() => child.kill('SIGKILL'), 5_000);
    await this.exited;
    clearTimeout(timer);
  }

  /** Reads what was appended to the output since the last call. */
  read(): Line[] {
    const fd = openSync(this.outputFile, 'r');
    try {
      const size = fstatSync(fd).size;
      if (size > this.consumed) {
        const chunk = Buffer.alloc(size - this.consumed);
        const n = readSync(fd, chunk, 0, chunk.length, this.consumed);
        const end = chunk.subarray(0, n).lastIndexOf(0x0a);
        if (end >= 0) {
          for (const line of chunk.subarray(0, end).toString('utf8').split('\n')) this.lines.push(parseLine(line, this.outputFile));
          this.consumed += end + 1;
        }
      }
    } finally {
      closeSync(fd);
    }
    return this.lines;
  }

  /** A line torn by a kill would be glued to the next run's first line: cut it off before restarting. */
  cutTornLine(): void {
    this.read();
    const fd = openSync(this.outputFile, 'r+');
    try {
      if (fstatSync(fd).size > this.consumed) ftruncateSync(fd, this.consumed);
    } finally {
      closeSync(fd);
    }
  }

  /** Resolves when this run wrote its startup line and the input answers; throws with diagnostics otherwise. */
  async waitReady(deadline: number, timeoutMs: number): Promise<void> {
    const pid = this.child?.pid;
    const started = `x-pid="${pid}"`;
    await this.waitUntil('its startup line in the output', deadline, timeoutMs, async () =>
      this.read().some((l) => l.kind === 'internal' && l.raw.includes(started) && l.raw.endsWith('] start')),
    );
    await this.waitUntil('its input', deadline, timeoutMs, () => this.probe());
  }

  private probe(): Promise<boolean> {
    switch (this.input) {
      case 'tcp':
        return probeTcp(this.port);
      case 'tls':
        return probeTls(this.port, this.options.tls?.authMode !== 'anon');
      case 'relp':
        return probeRelp(this.port);
      case 'relp-tls':
        return probeRelp(this.port, { clientCert: (this.options.relpTls?.authMode ?? 'anon') !== 'anon' });
      case 'udp':
        return this.probeUdp();
    }
  }

  private udpProbes = 0;
  private async probeUdp(): Promise<boolean> {
    const text = `${this.marker} run-${this.generation} ${(this.udpProbes += 1)}`;
    await sendUdpProbe(this.port, `<14>${text}`);
    // The datagram goes through the main queue and the action: a few polls before the next one.
    for (let i = 0; i < 4; i += 1) {
      if (this.read().some((l) => l.kind === 'probe' && l.raw.includes(`${this.marker} run-${this.generation} `))) return true;
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    }
    return false;
  }

  private async waitUntil(what: string, deadline: number, timeoutMs: number, ready: () => Promise<boolean>): Promise<void> {
    for (;;) {
      this.read();
      this.check();
      if (await ready()) return;
      this.read();
      this.check();
      if (Date.now() > deadline) {
        throw new Error(`rsyslog harness: the ${this.input} rsyslogd (port ${this.port}) did not show ${what} within ${timeoutMs} ms.\n${this.diagnostics()}${this.configCheck()}`);
      }
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    }
  }
}

// ---- the harness

export async function startRsyslog(options: RsyslogOptions): Promise<Rsyslog> {
  const available = rsyslogAvailable();
  if (!available.ok) throw new Error(`rsyslog harness: ${available.why}`);
  if (!INPUTS.some((i) => wanted(options, i.input))) throw new Error('rsyslog harness: no input asked for');
  // Another process may take a port between freePorts() and rsyslogd's bind: fresh ports, a few times.
  for (let tries = 1; ; tries += 1) {
    try {
      return await startOnce(options, await freePorts(options));
    } catch (e) {
      if (!(e instanceof PortTakenError) || tries >= 3) throw e;
    }
  }
}

async function startOnce(options: RsyslogOptions, ports: Ports): Promise<Rsyslog> {
  const dir = mkdtempSync(join(tmpdir(), 'rsyslog-harness-'));
  installExitHook();
  liveDirs.add(dir);
  const rsyslogd = findRsyslogd() as string;
  const marker = `rsyslog-harness-probe-${randomBytes(6).toString('hex')}`;
  const readyTimeoutMs = options.readyTimeoutMs ?? 15_000;
  let stopped = false;
  let instances: Instance[] = [];
  try {
    instances = INPUTS.filter((i) => wanted(options, i.input)).map((i) => new Instance(i.input, ports[i.port] as number, dir, rsyslogd, marker, options));
  } catch (e) {
    removeDir(dir);
    throw e;
  }

  const diagnostics = () => instances.map((i) => i.diagnostics()).join('\n');

  async function launch(): Promise<void> {
    for (const i of instances) i.spawn();
    const deadline = Date.now() + readyTimeoutMs;
    // allSettled: a failing input must not leave the others polling in the background.
    const results = await Promise.allSettled(instances.map((i) => i.waitReady(deadline, readyTimeoutMs)));
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed !== undefined) {
      await Promise.all(instances.map((i) => i.terminate('SIGKILL')));
      throw failed.reason;
    }
  }

  // waitFor polls every 25 ms: merge again only when some file grew.
  let merged: ReceivedMessage[] = [];
  let mergedLines = -1;
  function messages(): ReceivedMessage[] {
    const lines = instances.map((i) => i.read());
    const count = lines.reduce((n, l) => n + l.length, 0);
    if (count !== mergedLines) {
      const all = lines.flatMap((ls) => ls.flatMap((l) => (l.kind === 'message' ? [l.message] : [])));
      // A stable sort: file order within an input. TZ=UTC makes the RFC 3339 strings comparable as text.
      merged = all.sort((a, b) => (a.receivedAt < b.receivedAt ? -1 : a.receivedAt > b.receivedAt ? 1 : 0));
      mergedLines = count;
    }
    return [...merged];
  }

  const harness: Rsyslog = {
    ports,
    dir,
    messages,
    diagnostics,
    received: () => instances.reduce((n, i) => n + sizeOf(join(i.dir, 'count.txt')), 0),
    async waitFor(pred, timeoutMs = 10_000, what = 'the expected messages') {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const all = messages();
        if (pred(all)) return all;
        for (const i of instances) i.check();
        if (Date.now() > deadline) {
          const state = instances.map((i) => `${i.input} ${i.running ? 'running' : `exited (${i.exit ?? 'not started'})`}`).join(', ');
          throw new Error(`rsyslog harness: timed out after ${timeoutMs} ms waiting for ${what}; ${summary(all)}; rsyslogd: ${state}\n${diagnostics()}`);
        }
        await new Promise((resolve) => setTimeout(resolve, POLL_MS));
      }
    },
    async kill(signal = 'SIGKILL') {
      await Promise.all(instances.map((i) => i.terminate(signal)));
    },
    async restart() {
      if (stopped) throw new Error('rsyslog harness: restart() after stop()');
      await Promise.all(instances.map((i) => i.terminate('SIGTERM')));
      for (const i of instances) i.cutTornLine();
      await launch();
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      await Promise.all(instances.map((i) => i.terminate('SIGTERM')));
      removeDir(dir);
    },
  };

  try {
    await launch();
  } catch (e) {
    stopped = true;
    removeDir(dir);
    throw e;
  }
  return harness;
}

function parseLine(line: string, file: string): Line {
  let o: Record<string, string>;
  try {
    o = JSON.parse(line) as Record<string, string>;
  } catch (e) {
    throw new Error(`rsyslog harness: a line of ${file} is not JSON (${(e as Error).message}): ${line.slice(0, 500)}`);
  }
  const s = (k: string) => o[k] ?? '';
  if (s('input') === 'rsyslogd') return { kind: 'internal', raw: s('raw'), at: s('receivedAt') };
  if (s('input') === 'probe') return { kind: 'probe', raw: s('raw') };
  return {
    kind: 'message',
    message: {
      input: s('input') as InputName,
      raw: s('raw'),
      msg: s('msg'),
      pri: Number(s('pri')),
      facility: Number(s('facility')),
      severity: Number(s('severity')),
      hostname: s('hostname'),
      appName: s('appName'),
      procId: s('procId'),
      msgId: s('msgId'),
      structuredData: s('structuredData'),
      timeReported: s('timeReported'),
      protocolVersion: s('protocolVersion'),
      tag: s('tag'),
      receivedAt: s('receivedAt'),
    },
  };
}

/** Counts per input and the last few raw messages, for timeout errors. */
function summary(all: readonly ReceivedMessage[]): string {
  const counts = new Map<string, number>();
  for (const m of all) counts.set(m.input, (counts.get(m.input) ?? 0) + 1);
  const perInput = [...counts].map(([k, v]) => `${k}: ${v}`).join(', ');
  const last = all.slice(-3).map((m) => `[${m.input}] ${JSON.stringify(m.raw.length > 200 ? `${m.raw.slice(0, 200)}…` : m.raw)}`);
  return `${all.length} message(s) received${perInput === '' ? '' : ` (${perInput})`}${last.length === 0 ? '' : `; last: ${last.join(' ')}`}`;
}

/** Size of a file in bytes, 0 when it does not exist (yet). */
function sizeOf(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
}
