// Benchmark: audit files → cef mapping → syslog sink → a real rsyslog on loopback, per transport (tcp, tls, relp, relp over TLS, udp), 1 million events each.
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tlsFixture } from '../test/support/connect-server.ts';
import { startRsyslog, type RsyslogOptions } from '../test/support/rsyslog.ts';
import { benchRunner, machine, runUntilDelivered, runVariants, writeCadfLog } from './support.ts';

const EVENTS = Number(process.env.BENCH_EVENTS ?? 1_000_000);
const VARIANTS = ['tcp', 'tls', 'relp', 'relp-tls', 'udp'] as const;
type Variant = (typeof VARIANTS)[number];

const RSYSLOG: Record<Variant, RsyslogOptions> = {
  tcp: { tcp: true },
  tls: { tls: { authMode: 'anon' } },
  relp: { relp: true },
  'relp-tls': { relpTls: {} },
  udp: { udp: true },
};

function sinkFor(v: Variant, ports: Record<string, number | undefined>): string {
  const tls = `tls: { caFile: "${tlsFixture('ca.pem')}", serverName: localhost }`;
  switch (v) {
    case 'tcp':
      return `{ type: syslog, transport: tcp, host: 127.0.0.1, port: ${ports['tcp']} }`;
    case 'tls':
      return `{ type: syslog, transport: tls, host: 127.0.0.1, port: ${ports['tls']}, ${tls} }`;
    case 'relp':
      return `{ type: syslog, transport: relp, host: 127.0.0.1, port: ${ports['relp']} }`;
    case 'relp-tls':
      return `{ type: syslog, transport: relp, host: 127.0.0.1, port: ${ports['relpTls']}, relp: { tls: true }, ${tls} }`;
    case 'udp':
      return `{ type: syslog, transport: udp, host: 127.0.0.1, port: ${ports['udp']}, bestEffort: true, maxMessageBytes: 8096 }`;
  }
}

async function runVariant(v: Variant): Promise<void> {
  const rsyslog = await startRsyslog({ ...RSYSLOG[v], countOnly: true });
  const dir = mkdtempSync(join(tmpdir(), 'af-bench-syslog-'));
  try {
    mkdirSync(join(dir, 'logs'));
    const bytes = writeCadfLog(join(dir, 'logs/auth-idp-audit.log'), EVENTS);
    const started = process.hrtime.bigint();
    const runner = await benchRunner(dir, '{ type: audit-files, paths: [logs/*-audit.log], pollInterval: 50ms }', { kind: 'live' }, { sink: sinkFor(v, rsyslog.ports), maxInFlight: 8 });
    const { secs } = await runUntilDelivered(runner, EVENTS, started);
    const usage = process.resourceUsage();
    // What rsyslog wrote (it writes after it answered RELP, or after it read TCP): wait for it to settle.
    let received = rsyslog.received();
    for (let last = -1; received !== last; ) {
      last = received;
      await new Promise((r) => setTimeout(r, 200));
      received = rsyslog.received();
    }
    if (v !== 'udp' && received < EVENTS) throw new Error(`rsyslog got ${received} of ${EVENTS} messages`);
    const cpuSecs = (usage.userCPUTime + usage.systemCPUTime) / 1e6;
    console.log(
      `audit-files→cef→syslog (${v}): ${EVENTS} lines, ${(bytes / 1e6).toFixed(0)} MB in ${secs.toFixed(2)} s: ` +
        `${Math.round(EVENTS / secs)} events/s, ${Math.round(EVENTS / cpuSecs)} events/CPU-s, ${(bytes / 1e6 / secs).toFixed(1)} MB/s, peak RSS ${(usage.maxRSS / 1024).toFixed(0)} MB; ` +
        `rsyslog received ${received}${v === 'udp' ? ` (${(((EVENTS - received) / EVENTS) * 100).toFixed(2)}% of the datagrams lost)` : ''} ` +
        `(forwarder process; rsyslog 8.2302 on loopback, counting; batches of 1000, 8 in flight; ${machine()})`,
    );
  } finally {
    await rsyslog.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

await runVariants(import.meta.filename, 'SYSLOG_BENCH_VARIANT', VARIANTS, runVariant);
