// `audit-forwarder map` as a child process: good lines mapped on stdout, bad ones reported on stderr by line.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { connectEventLines } from '../support/generate.ts';
import { CLI, NODE, ROOT, cli } from './cli-helpers.ts';

const demo = (name: string): Record<string, unknown>[] =>
  readFileSync(join(ROOT, 'examples/demo', name), 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as Record<string, unknown>);

const connect = demo('connect-events.jsonl');
const cadf = demo('cadf-audit.log').filter((r) => typeof r['id'] === 'string');

function without(record: Record<string, unknown>, key: string): Record<string, unknown> {
  const copy = { ...record };
  delete copy[key];
  return copy;
}

const stderrLines = (s: string): string[] => s.split('\n').filter((l) => l !== '');

describe('audit-forwarder map', () => {
  it('maps the good lines of a mixed Connect/CADF stream, reports each bad one by line number, exit 2', async () => {
    const lines = [
      JSON.stringify(connect[0]), // 1 good
      JSON.stringify(cadf[0]), // 2 good
      'this is not JSON', // 3 bad
      JSON.stringify(without(connect[1]!, 'occurredAt')), // 4 bad
      '', // 5 blank: ignored, still counted
      JSON.stringify(connect[2]), // 6 good
      JSON.stringify(without(cadf[1]!, 'action')), // 7 bad
      JSON.stringify(cadf[2]), // 8 good
    ];
    const good = [connect[0]!, cadf[0]!, connect[2]!, cadf[2]!];
    const r = await cli(['map', '--to', 'canonical'], { input: `${lines.join('\n')}\n` });

    expect(r.code).toBe(2);
    const out = r.stdout.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(out.map((e) => e['id'])).toEqual(good.map((g) => g['id']));
    // The canonical record keeps the input record as read.
    expect(out.map((e) => e['raw'])).toEqual(good);
    expect(out.map((e) => (e['origin'] as { kind: string }).kind)).toEqual(['cofide-connect', 'ibm-cadf', 'cofide-connect', 'ibm-cadf']);
    for (const e of out) expect(e['time']).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/);

    const errors = stderrLines(r.stderr);
    expect(errors).toHaveLength(3);
    expect(errors[0]).toMatch(/^line 3: not valid JSON/);
    expect(errors[1]).toMatch(/^line 4: occurredAt: \S/);
    expect(errors[2]).toMatch(/^line 7: action: \S/);
  });

  it('exits 0 when every line is good, CRLF line ends included', async () => {
    const input = `${[connect[3], cadf[3], connect[4]].map((r) => JSON.stringify(r)).join('\r\n')}\r\n`;
    const r = await cli(['map', '--to', 'canonical', '--input', 'auto'], { input });
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
    const ids = r.stdout.split('\n').filter((l) => l !== '').map((l) => (JSON.parse(l) as { id: string }).id);
    expect(ids).toEqual([connect[3]!['id'], cadf[3]!['id'], connect[4]!['id']]);
  });

  it('--input connect: a CADF line is an error for that line only', async () => {
    const input = `${JSON.stringify(connect[5])}\n${JSON.stringify(cadf[4])}\n${JSON.stringify(connect[6])}\n`;
    const r = await cli(['map', '--to', 'canonical', '--input', 'connect'], { input });
    expect(r.code).toBe(2);
    const ids = r.stdout.split('\n').filter((l) => l !== '').map((l) => (JSON.parse(l) as { id: string }).id);
    expect(ids).toEqual([connect[5]!['id'], connect[6]!['id']]);
    const errors = stderrLines(r.stderr);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(/^line 2: \S/);
  });

  it('usage errors: unknown --to lists the formats, unknown --input, missing --to; all exit 2', async () => {
    const [to, input, missing] = await Promise.all([
      cli(['map', '--to', 'splunk-hec-v9'], { input: `${JSON.stringify(connect[0])}\n` }),
      cli(['map', '--to', 'canonical', '--input', 'xml']),
      cli(['map']),
    ]);
    expect(to.code).toBe(2);
    expect(to.stdout).toBe('');
    expect(to.stderr).toContain('splunk-hec-v9');
    expect(to.stderr).toContain('canonical');
    expect(input.code).toBe(2);
    expect(input.stderr).toContain('connect, cadf or auto');
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('--to');
  });

  it('stops quietly when its reader goes away (map … | head): no crash, exit 0', async () => {
    const child = spawn(NODE, [CLI, 'map', '--to', 'canonical'], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.stdin.on('error', () => undefined);
    child.stdin.end(connectEventLines(0, 3000));
    const closed = new Promise<number | null>((r) => child.on('close', (code) => r(code)));
    await new Promise((r) => child.stdout.once('data', r));
    child.stdout.destroy();
    expect(await closed).toBe(0);
    expect(stderr).toBe('');
  });
});
