// A refused record's dead letter holds its whole event, whether the batch kept the event or only the line it was read from.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { auditFilesSourceSchema } from '../../connectors/audit-files/config.ts';
import { createAuditFilesSource } from '../../connectors/audit-files/source.ts';
import { createJsonlSource } from '../../connectors/jsonl/source.ts';
import { jsonlSourceSchema } from '../../connectors/jsonl/config.ts';
import { silentLogger } from '../../src/logging.ts';
import { decodeLine } from '../../src/model/decode.ts';
import { connectEventLines } from '../support/generate.ts';
import { laneSetup } from '../support/lane-setup.ts';
import { scriptedSink } from '../support/scripted-sink.ts';

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

describe('dead letters of refused records', () => {
  it('from a line-based source (the batch kept the line): the event is decoded again, equal to the one mapped', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'af-origin-'));
    dirs.push(dir);
    const text = connectEventLines(0, 6);
    writeFileSync(join(dir, 'in.jsonl'), text);
    const config = jsonlSourceSchema.parse({ type: 'jsonl', paths: [join(dir, 'in.jsonl')], format: 'connect' });
    const source = createJsonlSource('in', config, { logger: silentLogger(), baseDir: dir });
    // The second record of each batch of 2 is refused.
    const sink = scriptedSink((batch) => ({ status: 'partial', failures: batch.records.length > 1 ? [{ index: 1, status: 'rejected', reason: 'refused by the test' }] : [] }));
    const { lane, dead } = laneSetup([], { source, sink });
    const r = await lane.run();
    expect(r.counters).toMatchObject({ read: 6, delivered: 3, rejected: 3 });
    const lines = text.split('\n');
    expect(dead.map((d) => d['eventId'])).toEqual([1, 3, 5].map((k) => (JSON.parse(lines[k]!) as { id: string }).id));
    for (const [n, k] of [1, 3, 5].entries()) {
      const expected = decodeLine(lines[k]!, 'connect');
      if (!expected.ok) throw new Error('test data');
      expect(dead[n]).toMatchObject({ stage: 'sink', code: 'FWD_SINK_REJECTED', reason: 'refused by the test' });
      expect(dead[n]!['event']).toEqual(expected.event);
      expect(typeof dead[n]!['payload']).toBe('string');
    }
  });

  it('from audit files (the batch kept the line): decoded again with its file\'s service, as when it was read', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'af-origin-'));
    dirs.push(dir);
    // No observer: the service comes from the file name (auth-pdp), not from the source's configuration.
    const lines = [0, 1, 2, 3].map((i) =>
      JSON.stringify({ id: `r-${i}`, eventTime: `2026-03-01T08:00:0${i}.000Z`, action: 'authenticate', outcome: 'success', initiator: { id: `u-${i}` } }),
    );
    writeFileSync(join(dir, 'auth-pdp-audit.log'), `${lines.join('\n')}\n`);
    const config = auditFilesSourceSchema.parse({ type: 'audit-files', paths: [join(dir, '*-audit.log')] });
    const source = createAuditFilesSource('in', config, { logger: silentLogger(), baseDir: dir });
    const sink = scriptedSink((batch) => ({ status: 'partial', failures: batch.records.length > 1 ? [{ index: 1, status: 'rejected', reason: 'refused by the test' }] : [] }));
    const { lane, dead } = laneSetup([], { source, sink, range: { from: '2026-03-01T00:00:00.000000Z', to: '2026-03-02T00:00:00.000000Z' } });
    const r = await lane.run();
    expect(r.counters).toMatchObject({ read: 4, delivered: 2, rejected: 2 });
    expect(dead.map((d) => d['eventId'])).toEqual(['r-1', 'r-3']);
    for (const [n, k] of [1, 3].entries()) {
      const expected = decodeLine(lines[k]!, 'cadf', { service: 'auth-pdp' });
      if (!expected.ok) throw new Error('test data');
      expect(dead[n]!['event']).toEqual(expected.event);
      expect((dead[n]!['event'] as { origin: { service?: string } }).origin.service).toBe('auth-pdp');
    }
  });
});
