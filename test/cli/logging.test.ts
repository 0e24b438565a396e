// Logs of `run`: string levels, --log-level over the configuration, debug lines for sends and commits, pretty format.
import { afterAll, describe, expect, it } from 'vitest';
import { connectEventLines } from '../support/generate.ts';
import { cli, removeTempDirs, standardConfig, tempDir, write } from './cli-helpers.ts';

afterAll(removeTempDirs);

const jsonLines = (text: string) => text.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);

describe('run logs', () => {
  it('--log-level debug wins over logging.level: each batch sent and each commit is a line; levels are words', async () => {
    const dir = tempDir();
    write(dir, 'input.jsonl', connectEventLines(0, 20));
    const config = write(dir, 'config.yaml', standardConfig({})); // logging.level: warn, batches of 7
    const r = await cli(['--log-level', 'debug', 'run', '-c', config]);
    expect(r.code).toBe(0);
    const logs = jsonLines(r.stderr);
    expect(new Set(logs.map((l) => l['level']))).toEqual(new Set(['debug', 'info']));
    const sent = logs.filter((l) => l['msg'] === 'batch sent');
    expect(sent.map((l) => l['records'])).toEqual([7, 7, 6]);
    expect(sent.every((l) => l['route'] === 'r1' && l['sink'] === 'archive' && (l['bytes'] as number) > 0 && l['delivered'] === l['records'] && l['rejected'] === 0)).toBe(true);
    const commits = logs.filter((l) => l['msg'] === 'committed');
    expect(commits.at(-1)).toMatchObject({ route: 'r1', sink: 'archive', position: { line: 20 } });
    expect(logs.at(-1)).toMatchObject({ level: 'info', msg: 'run ended: all sources ended' });
  });

  it('the command line option after the sub-command works too; an unknown level is a usage error', async () => {
    const dir = tempDir();
    write(dir, 'input.jsonl', connectEventLines(0, 3));
    const config = write(dir, 'config.yaml', standardConfig({}));
    const r = await cli(['run', '-c', config, '--log-level', 'error']);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
    const bad = await cli(['run', '-c', config, '--log-level', 'loud']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--log-level <level>' argument 'loud' is invalid. Allowed choices are trace, debug, info, warn, error, fatal, silent/);
  });

  it('--log-format pretty: one readable line per entry, no JSON objects for the message', async () => {
    const dir = tempDir();
    write(dir, 'input.jsonl', connectEventLines(0, 5));
    const config = write(dir, 'config.yaml', standardConfig({}));
    const r = await cli(['run', '-c', config, '--log-level', 'info', '--log-format', 'pretty']);
    expect(r.code).toBe(0);
    const lines = r.stderr.trim().split('\n');
    expect(lines.at(-1)).toMatch(/^\[\d\d:\d\d:\d\d\.\d{3}\] INFO: run ended: all sources ended \{"lanes":1,"failed":0\}$/);
    expect(lines.some((l) => /^\[[\d:.]+\] INFO: r1 → archive: finished; read 5, delivered 5, skipped 0, rejected 0, dead-lettered 0 \{/.test(l))).toBe(true);
    expect(lines.every((l) => !l.startsWith('{'))).toBe(true);
  });
});
