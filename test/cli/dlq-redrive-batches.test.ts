// `dlq redrive` sends through a lane: 1,000 dead letters to Splunk HEC (with indexer acknowledgement) in a few batched requests.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { decodeLine } from '../../src/model/decode.ts';
import { startFakeHec, type FakeHec } from '../support/fake-hec.ts';
import { connectEventJson } from '../support/generate.ts';
import { cli, jsonLinesOf, removeTempDirs, tempDir, write } from './cli-helpers.ts';

const fakes: FakeHec[] = [];
afterAll(async () => {
  for (const f of fakes) await f.close();
  removeTempDirs();
});

/** A sink-stage dead letter for the i-th synthetic event, as the lane writes one. */
function entry(i: number): string {
  const decoded = decodeLine(JSON.stringify(connectEventJson(i)), 'connect');
  if (!decoded.ok) throw new Error('the generated event does not decode');
  const { event } = decoded;
  return `${JSON.stringify({ time: '2026-03-02T10:00:00.000Z', route: 'r1', sink: 'splunk', stage: 'sink', code: 'FWD_SINK_REJECTED', reason: 'HEC busy too long', eventId: event.id, event })}\n`;
}

describe('audit-forwarder dlq redrive', () => {
  it('1,000 dead letters go in batches of the route (a handful of requests), each acknowledged; a refused one stays', async () => {
    const hec = await startFakeHec({ ackDelayMs: 20 });
    fakes.push(hec);
    const dir = tempDir();
    write(dir, 'input.jsonl', '');
    const config = write(
      dir,
      'config.yaml',
      `sources:
  src: { type: jsonl, paths: [input.jsonl], format: connect }
sinks:
  splunk: { type: splunk-hec, url: ${hec.url}, token: "\${HEC_TOKEN}", ack: { pollInterval: 20ms } }
routes:
  r1: { from: src, to: [splunk], batch: { maxEvents: 250 }, maxInFlight: 4, retry: { initialDelay: 10ms, maxDelay: 100ms } }
checkpoints: { directory: state/checkpoints }
deadLetter: { directory: state/dead-letter }
logging: { level: warn }
`,
    );
    mkdirSync(join(dir, 'state/dead-letter'), { recursive: true });
    let text = '';
    for (let i = 0; i < 1000; i++) text += entry(i);
    writeFileSync(join(dir, 'state/dead-letter/r1.dlq.jsonl'), text);
    const refused = connectEventJson(617).id as string;
    hec.refuseEvent(refused);

    const r = await cli(['dlq', 'redrive', '-c', config, '--route', 'r1'], { env: { HEC_TOKEN: 'test-token' }, timeoutMs: 60_000 });
    expect(r.stdout).toContain('redriven 999, still dead-lettered 1');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^line 618: kept: not delivered: /m);
    const indexed = new Set(hec.eventIds());
    expect(indexed.size).toBe(999);
    expect(indexed.has(refused)).toBe(false);
    // 4 batches of 250; the one holding the refused event is split down to it (about log2(250) more requests).
    const posts = hec.requests().filter((q) => q.method === 'POST' && q.path.endsWith('/event'));
    expect(posts.length).toBeLessThanOrEqual(4 + 2 * 9);
    expect(jsonLinesOf(join(dir, 'state/dead-letter/r1.dlq.resolved.jsonl'))).toHaveLength(999);
  }, 90_000);
});
