// `server.listen` of a running daemon (child process): /healthz, /readyz and /metrics scraped over a real socket.
import { createServer } from 'node:net';
import { appendFileSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { cleanUp, exited, newScene, startRun, until, type CliChild } from '../support/cli-child.ts';
import { cadfLines } from '../support/cadf-lines.ts';
import { connectEventLines } from '../support/generate.ts';

const scene = newScene();
afterEach(() => cleanUp(scene));

interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

/** Prometheus text format → samples (enough of it for these tests: no escapes beyond \" and \\ in label values). */
function parseMetrics(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (m === null) throw new Error(`not a sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]!] = l[2]!.replace(/\\(.)/g, '$1');
    samples.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return samples;
}

const value = (samples: Sample[], name: string, labels: Record<string, string>): number | undefined =>
  samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;

/** The address the daemon logged it serves on (it listens on port 0: the system picks one). */
async function servedAt(child: CliChild): Promise<string> {
  let at: string | undefined;
  await until(() => {
    for (const line of child.stderrText().split('\n')) {
      if (!line.startsWith('{')) continue;
      const l = JSON.parse(line) as { listen?: string };
      if (l.listen !== undefined) at = `http://${l.listen}`;
    }
    return at !== undefined || child.exitCode !== null;
  }, 'the ops server to listen');
  if (at === undefined) throw new Error(`the daemon exited: ${child.stderrText()}`);
  return at;
}

/** A TCP port nothing listens on (bound, then closed). */
async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise((r) => s.close(r));
  return port;
}

function daemonDir(sinks: string, routes: string, events = 300): string {
  const dir = mkdtempSync(join(tmpdir(), 'af-ops-'));
  scene.dirs.push(dir);
  writeFileSync(join(dir, 'input.jsonl'), connectEventLines(0, events));
  mkdirSync(join(dir, 'logs'));
  writeFileSync(join(dir, 'logs/idm-audit.log'), cadfLines('ops', 0, 50));
  writeFileSync(join(dir, 'blocker'), 'a file, not a directory\n');
  writeFileSync(
    join(dir, 'config.yaml'),
    `sources:
  export: { type: jsonl, paths: [input.jsonl], format: connect, follow: true }
  audit: { type: audit-files, paths: [logs/*-audit.log] }
sinks:
${sinks}
routes:
${routes}
checkpoints: { directory: state/checkpoints }
deadLetter: { directory: state/dead-letter }
server: { listen: "127.0.0.1:0", stuckAfter: 1s }
shutdownTimeout: 2s
logging: { level: info }
`,
  );
  return dir;
}

/** Polls the async `cond` every 20 ms until it holds; fails after a minute naming `what`. */
async function eventually(cond: () => Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const get = async (url: string, init?: RequestInit) => {
  const res = await fetch(url, init);
  return { status: res.status, type: res.headers.get('content-type') ?? '', text: await res.text() };
};

describe('server.listen', () => {
  it('a healthy daemon: alive, ready, and metrics whose status counts add up to what was read', async () => {
    const dir = daemonDir(
      `  archive: { type: file, path: out/archive.jsonl, mapping: canonical }
  void: { type: discard }`,
      `  r1: { from: export, to: [archive, void], disabledEvents: [node_attestation], batch: { maxEvents: 50, maxBytes: 1MiB, maxAge: 50ms } }
  r2: { from: audit, to: [void], batch: { maxEvents: 50, maxBytes: 1MiB, maxAge: 50ms } }`,
    );
    const child = startRun(dir, { track: scene.children });
    const base = await servedAt(child);

    expect(await get(`${base}/healthz`)).toMatchObject({ status: 200, text: 'ok\n' });
    let samples: Sample[] = [];
    const scrape = async () => (samples = parseMetrics((await get(`${base}/metrics`)).text));
    // Every record read has ended (the source follows the file: the lanes stay running).
    const allEnded = (n: number) => async () => {
      await scrape();
      return (
        ['archive', 'void'].every(
          (sink) => value(samples, 'audit_forwarder_events_read_total', { route: 'r1', sink }) === n && value(samples, 'audit_forwarder_events_in_flight', { route: 'r1', sink }) === 0,
        ) && value(samples, 'audit_forwarder_events_total', { route: 'r2', sink: 'void', status: 'delivered' }) === 50
      );
    };
    await eventually(allEnded(300), 'the 300 records to end');
    for (const sink of ['archive', 'void']) {
      const l = { route: 'r1', sink };
      const read = value(samples, 'audit_forwarder_events_read_total', l)!;
      const ended = ['delivered', 'skipped', 'rejected', 'dead_lettered'].map((status) => value(samples, 'audit_forwarder_events_total', { ...l, status }) ?? NaN);
      expect(read).toBe(ended.reduce((a, b) => a + b, 0) + value(samples, 'audit_forwarder_events_in_flight', l)!);
      expect(value(samples, 'audit_forwarder_lane_state', { ...l, state: 'running' })).toBe(1);
      expect(value(samples, 'audit_forwarder_lane_state', { ...l, state: 'failed' })).toBe(0);
      expect(value(samples, 'audit_forwarder_checkpoint_age_seconds', l)).toBeGreaterThanOrEqual(0);
      expect(value(samples, 'audit_forwarder_batches_in_flight', l)).toBe(0);
      expect(value(samples, 'audit_forwarder_source_failing_seconds', l)).toBe(0);
    }
    const archive = { route: 'r1', sink: 'archive' };
    // Both tailed files read to their end; the audit-files source's own counters.
    expect(value(samples, 'audit_forwarder_file_unread_bytes', { ...archive, file: join(dir, 'input.jsonl') })).toBe(0);
    expect(value(samples, 'audit_forwarder_file_unread_bytes', { route: 'r2', sink: 'void', file: join(dir, 'logs/idm-audit.log') })).toBe(0);
    expect(value(samples, 'audit_forwarder_source_files_opened_total', { route: 'r2', sink: 'void' })).toBe(1);
    expect(value(samples, 'audit_forwarder_source_rotations_total', { route: 'r2', sink: 'void' })).toBe(0);
    const skipped = value(samples, 'audit_forwarder_events_total', { ...archive, status: 'skipped' })!;
    expect(skipped).toBeGreaterThan(0); // node_attestation events
    expect(value(samples, 'audit_forwarder_events_total', { ...archive, status: 'delivered' })).toBe(300 - skipped);
    expect(value(samples, 'audit_forwarder_sent_bytes_total', archive)).toBeGreaterThan(0);
    expect(value(samples, 'audit_forwarder_read_bytes_total', archive)).toBeGreaterThan(value(samples, 'audit_forwarder_sent_bytes_total', archive)! / 10);
    // The generated events are from 2026-05: the lag is the time since then.
    expect(value(samples, 'audit_forwarder_lag_seconds', archive)).toBeGreaterThan(86_400);
    expect(value(samples, 'audit_forwarder_ready', {})).toBe(1);
    expect(value(samples, 'audit_forwarder_up', {})).toBe(1);
    expect(samples.find((s) => s.name === 'audit_forwarder_up')!.labels['version']).toMatch(/^\d+\.\d+\.\d+/);
    expect(value(samples, 'audit_forwarder_process_resident_memory_bytes', {})).toBeGreaterThan(0);
    // Every documented family is there (HELP and TYPE), even those without samples here.
    const text = (await get(`${base}/metrics`)).text;
    for (const name of ['retries_total', 'source_retries_total', 'pending_acknowledgements', 'file_unread_bytes', 'source_late_events_total']) {
      expect(text).toContain(`# TYPE audit_forwarder_${name} `);
    }

    const ready = await get(`${base}/readyz`);
    expect(ready.status).toBe(200);
    expect(JSON.parse(ready.text)).toMatchObject({ ready: true, lanes: [{ route: 'r1', ready: true }, { route: 'r1', ready: true }, { route: 'r2', ready: true }] });
    expect(await get(`${base}/nothing`)).toMatchObject({ status: 404 });
    expect(await get(`${base}/metrics`, { method: 'POST', body: 'x' })).toMatchObject({ status: 405 });
    expect((await get(`${base}/metrics`)).type).toBe('text/plain; version=0.0.4; charset=utf-8');

    // More input: counted as it comes (the counters are read at each scrape).
    appendFileSync(join(dir, 'input.jsonl'), connectEventLines(300, 20));
    await eventually(allEnded(320), 'the 20 records appended to end');

    child.kill('SIGTERM');
    expect(await exited(child)).toBe(0);
  });

  it('a stuck lane and a failed route make /readyz 503 with the reasons; /healthz stays 200; retries are counted by reason', async () => {
    const port = await closedPort();
    const dir = daemonDir(
      `  archive: { type: file, path: out/archive.jsonl, mapping: canonical }
  nowhere: { type: syslog, transport: tcp, host: 127.0.0.1, port: ${port}, mapping: cef }
  broken: { type: file, path: blocker/events.jsonl, mapping: canonical }`,
      `  ok: { from: export, to: [archive], batch: { maxEvents: 500, maxBytes: 1MiB, maxAge: 20ms } }
  stuck: { from: export, to: [nowhere], retry: { initialDelay: 10ms, maxDelay: 50ms }, batch: { maxEvents: 10, maxBytes: 1MiB, maxAge: 1s }, maxInFlight: 1 }
  bad: { from: export, to: [broken] }`,
      // More than the jsonl source reads at once (1 MiB): the stuck lane stops reading with most of it unread.
      4000,
    );
    const child = startRun(dir, { track: scene.children });
    const base = await servedAt(child);
    let body: { ready: boolean; reason?: string; lanes: Array<{ route: string; ready: boolean; reason?: string; state: string }> } = { ready: true, lanes: [] };
    await eventually(async () => {
      const r = await get(`${base}/readyz`);
      body = JSON.parse(r.text) as typeof body;
      const stuck = body.lanes.find((l) => l.route === 'stuck');
      const ok = body.lanes.find((l) => l.route === 'ok');
      return r.status === 503 && stuck?.reason?.startsWith('stuck:') === true && body.lanes.some((l) => l.route === 'bad' && l.state === 'failed') && ok?.ready === true;
    }, '/readyz to report the stuck and the failed lane');
    expect(body.ready).toBe(false);
    expect(body.reason).toBe('not running: route bad');
    expect(body.lanes.find((l) => l.route === 'ok')).toMatchObject({ ready: true });
    expect(body.lanes.find((l) => l.route === 'stuck')!.reason).toMatch(/^stuck: \d+ records pending and nothing committed for \d/);
    expect(body.lanes.find((l) => l.route === 'bad')!.reason).toMatch(/^failed: sink broken refuses all data: .*blocker/);
    expect((await get(`${base}/healthz`)).status).toBe(200);

    const samples = parseMetrics((await get(`${base}/metrics`)).text);
    expect(value(samples, 'audit_forwarder_retries_total', { route: 'stuck', sink: 'nowhere', reason: 'unanswered' })).toBeGreaterThan(0);
    expect(value(samples, 'audit_forwarder_lane_state', { route: 'bad', sink: 'broken', state: 'failed' })).toBe(1);
    expect(value(samples, 'audit_forwarder_ready', {})).toBe(0);
    expect(value(samples, 'audit_forwarder_events_in_flight', { route: 'stuck', sink: 'nowhere' })).toBeGreaterThan(0);
    expect(value(samples, 'audit_forwarder_events_total', { route: 'stuck', sink: 'nowhere', status: 'delivered' })).toBe(0);
    expect(samples.some((s) => s.name === 'audit_forwarder_lag_seconds' && s.labels['route'] === 'stuck')).toBe(false);
    // Reading stopped with one batch in flight: part of the file is still unread (by this lane; the others read it all).
    expect(value(samples, 'audit_forwarder_batches_in_flight', { route: 'stuck', sink: 'nowhere' })).toBe(1);
    expect(value(samples, 'audit_forwarder_file_unread_bytes', { route: 'stuck', sink: 'nowhere', file: join(dir, 'input.jsonl') })).toBeGreaterThan(0);
    expect(value(samples, 'audit_forwarder_file_unread_bytes', { route: 'ok', sink: 'archive', file: join(dir, 'input.jsonl') })).toBe(0);

    child.kill('SIGTERM');
    expect(await exited(child)).toBe(1); // the failed route
  });

  it('a port already in use: start-up refused, exit 3, naming server.listen', async () => {
    const busy = createServer();
    await new Promise<void>((r) => busy.listen(0, '127.0.0.1', r));
    try {
      const port = (busy.address() as { port: number }).port;
      const dir = daemonDir(`  void: { type: discard }`, `  r1: { from: export, to: [void] }`);
      writeFileSync(join(dir, 'config.yaml'), readFileSync(join(dir, 'config.yaml'), 'utf8').replace('127.0.0.1:0', `127.0.0.1:${port}`));
      const child = startRun(dir, { track: scene.children });
      expect(await exited(child)).toBe(3);
      expect(child.stderrText()).toMatch(/server\.listen 127\.0\.0\.1:\d+: cannot listen \(EADDRINUSE: the port is in use\)/);
    } finally {
      await new Promise((r) => busy.close(r));
    }
  });
});
