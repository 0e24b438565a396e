// End to end over RELP into a real rsyslog: rsyslog SIGKILLed and restarted mid-stream, the forwarder SIGKILLed mid-stream; every event arrives, and the checkpoint never passes a message rsyslog had not acknowledged.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { cleanUp, committedLine, exited, jsonlRouteDir, newScene, startRun, until } from '../support/cli-child.ts';
import { afterAll, describe, expect, it } from 'vitest';
import { connectEventJson } from '../support/generate.ts';
import { rsyslogAvailable, startRsyslog, type Rsyslog } from '../support/rsyslog.ts';

const TOTAL = 30_000;

const scene = newScene();
let rsyslog: Rsyslog | undefined;
afterAll(async () => {
  cleanUp(scene);
  await rsyslog?.stop();
});

const setup = (port: number) =>
  jsonlRouteDir(scene, 'af-relp-', {
    events: TOTAL,
    sink: { name: 'relay', yaml: `type: syslog
transport: relp
host: 127.0.0.1
port: ${port}
timeout: 5s` },
    route: 'export-to-relay',
    batch: '{ maxEvents: 500, maxBytes: 2MiB, maxAge: 50ms }',
    maxInFlight: 4,
    maxRetryDelay: '300ms',
  });

const start = (dir: string) => startRun(dir, { track: scene.children });
const committedLines = (dir: string) => committedLine(dir, 'export-to-relay', 'relay');

describe('run: jsonl → cef → syslog over RELP → rsyslog (child processes)', () => {
  it('rsyslog killed and restarted, the forwarder killed: every event at least once, the checkpoint never ahead of what rsyslog acknowledged', { timeout: 240_000 }, async () => {
    const available = rsyslogAvailable();
    if (!available.ok) throw new Error(available.why);
    rsyslog = await startRsyslog({ relp: true });
    const r = rsyslog;
    const dir = setup(r.ports.relp!);
    const ids = Array.from({ length: TOTAL }, (_, i) => connectEventJson(i).id as string);
    const received = () => {
      const seen = new Set<string>();
      for (const m of r.messages()) {
        const id = /(?:^| )cs1=(\S+)/.exec(m.msg)?.[1];
        if (id !== undefined) seen.add(id);
      }
      return seen;
    };
    // What the checkpoint holds was acknowledged, and rsyslog acknowledges a message once it is written (its
    // inputs run their actions directly): every event before the committed line must be in its file.
    const expectCommittedReceived = (when: string) => {
      const committed = committedLines(dir);
      const seen = received();
      const missing = ids.slice(0, committed).filter((id) => !seen.has(id));
      expect(missing, `${when}: committed ${committed} lines, ${missing.length} of them not in rsyslog's file`).toEqual([]);
      return committed;
    };

    let child = start(dir);
    await until(() => received().size >= 8_000, '8,000 events in rsyslog');
    await r.kill('SIGKILL');
    const atRsyslogKill = expectCommittedReceived('rsyslog killed');
    await r.restart();
    await until(() => received().size >= 18_000, '18,000 events after the restart');
    child.kill('SIGKILL');
    await exited(child);
    const atForwarderKill = expectCommittedReceived('forwarder killed');
    expect(atForwarderKill).toBeGreaterThan(atRsyslogKill);

    child = start(dir);
    expect(await exited(child), child.stderrText()).toBe(0);
    expect(committedLines(dir)).toBe(TOTAL);
    const seen = received();
    expect(ids.filter((id) => !seen.has(id))).toEqual([]);
    // Messages were sent again (the batches unacknowledged at each kill), never lost.
    expect(r.messages().length).toBeGreaterThanOrEqual(TOTAL);
    expect(existsSync(join(dir, 'state/dead-letter/export-to-relay.dlq.jsonl'))).toBe(false);
  });
});
