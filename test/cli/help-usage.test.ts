// The CLI's help texts, its usage errors, and that secrets in a configuration never reach its output.
import { afterAll, describe, expect, it } from 'vitest';
import { connectEventLines } from '../support/generate.ts';
import { cli, removeTempDirs, standardConfig, tempDir, write } from './cli-helpers.ts';

afterAll(removeTempDirs);

const COMMANDS = [
  [],
  ['run'],
  ['replay'],
  ['check'],
  ['map'],
  ['checkpoint'],
  ['checkpoint', 'show'],
  ['checkpoint', 'reset'],
  ['checkpoint', 'set'],
  ['dlq'],
  ['dlq', 'list'],
  ['dlq', 'redrive'],
  ['setup'],
];

describe('help', () => {
  it('every command and sub-command prints help with an example, exit 0', async () => {
    const results = await Promise.all(COMMANDS.map((c) => cli([...c, '--help'])));
    results.forEach((r, i) => {
      const what = `audit-forwarder ${COMMANDS[i]!.join(' ')} --help`;
      expect(r.code, what).toBe(0);
      expect(r.stdout, what).toMatch(/^Usage: audit-forwarder/);
      expect(r.stdout, what).toContain('Example:\n  $ audit-forwarder ');
    });
  });

  it('the top-level help lists every exit code; `help <command>` works too', async () => {
    const [top, helpReplay, helpDlqList] = await Promise.all([cli(['--help']), cli(['help', 'replay']), cli(['dlq', 'help', 'list'])]);
    expect(top.code).toBe(0);
    expect(top.stdout).toContain('Exit codes:');
    for (const code of [0, 1, 2, 3, 4]) expect(top.stdout).toMatch(new RegExp(`^ +${code} +\\S`, 'm'));
    for (const name of ['run', 'replay', 'check', 'map', 'checkpoint', 'dlq', 'setup']) expect(top.stdout).toMatch(new RegExp(`^ +${name}\\b`, 'm'));
    expect(helpReplay.code).toBe(0);
    expect(helpReplay.stdout).toContain('--dry-run');
    expect(helpReplay.stdout).toContain('Example:');
    expect(helpDlqList.code).toBe(0);
    expect(helpDlqList.stdout).toContain('Usage: audit-forwarder dlq list');
  });
});

describe('usage errors', () => {
  it('an unknown command, an unknown option, a missing command or required option: exit 2', async () => {
    const cases = [
      ['forward'],
      [],
      ['checkpoint'],
      ['checkpoint', 'delete', '-c', 'x.yaml'],
      ['dlq'],
      ['run'],
      ['run', '-c', 'config.yaml', '--follow'],
      ['dlq', 'list', '-c', 'config.yaml'],
    ];
    const results = await Promise.all(cases.map((c) => cli(c)));
    results.forEach((r, i) => {
      expect(r.code, `audit-forwarder ${cases[i]!.join(' ')}\n${r.stderr}`).toBe(2);
      expect(r.stderr).not.toBe('');
    });
    expect(results[0]!.stderr).toContain("unknown command 'forward'");
    expect(results[5]!.stderr).toContain('--config');
    expect(results[6]!.stderr).toContain('--follow');
  });

  it('--version prints the version, exit 0', async () => {
    const r = await cli(['--version']);
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);
  });
});

describe('secrets', () => {
  const SECRET = 's3cr3t-value';
  const env = { HEC_TOKEN: SECRET };
  const noSecret = (r: { stdout: string; stderr: string }) => {
    expect(r.stdout).not.toContain(SECRET);
    expect(r.stderr).not.toContain(SECRET);
  };

  it('an invalid configuration never echoes a secret, from a variable or written in the file, whatever the command', async () => {
    const dir = tempDir();
    write(dir, 'input.jsonl', connectEventLines(0, 2));
    const config = write(
      dir,
      'config.yaml',
      `sources:
  src: { type: jsonl, paths: [input.jsonl], format: connect, token: "\${HEC_TOKEN}" }
sinks:
  archive: { type: file, path: out/a.jsonl, mapping: "\${HEC_TOKEN}", hecToken: "${SECRET}" }
routes:
  r1: { from: "\${HEC_TOKEN}", to: [archive] }
`,
    );
    const results = await Promise.all([
      cli(['check', '-c', config], { env }),
      cli(['run', '-c', config], { env }),
      cli(['replay', '-c', config, '--route', 'r1', '--from', '2026-01-01', '--to', '2026-01-02'], { env }),
      cli(['checkpoint', 'show', '-c', config], { env }),
      cli(['dlq', 'list', '-c', config, '--route', 'r1'], { env }),
    ]);
    for (const r of results) {
      expect(r.code).toBe(3);
      noSecret(r);
    }
    const lines = results[0]!.stderr.split('\n').map((l) => l.trim());
    expect(lines).toContain('routes.r1.from: expected a source name (one of: src), got a value');
    expect(lines).toContain('sinks.archive.mapping: expected one of canonical, cef, ecs, otlp-json, splunk-hec, got a value');
    expect(lines.some((l) => l.startsWith('sinks.archive.hecToken: unknown key'))).toBe(true);
    expect(lines.some((l) => l.startsWith('sources.src.token: unknown key'))).toBe(true);
  });

  it('a YAML syntax error on a line holding a secret reports the position, not the line', async () => {
    const dir = tempDir();
    const config = write(dir, 'config.yaml', `sinks:\n  archive: { type: file, token: "${SECRET}" ]\n`);
    const [check, run] = await Promise.all([cli(['check', '-c', config]), cli(['run', '-c', config])]);
    for (const r of [check, run]) {
      expect(r.code).toBe(3);
      expect(r.stderr).toMatch(/line 2, column \d+/);
      noSecret(r);
    }
  });

  it('a valid configuration holding a secret value: check and run do not print it', async () => {
    const dir = tempDir();
    write(dir, 'input.jsonl', connectEventLines(0, 3));
    const text = standardConfig({}).replace('format: connect }', 'format: connect, service: "${HEC_TOKEN}" }');
    expect(text).toContain('${HEC_TOKEN}');
    const config = write(dir, 'config.yaml', text);
    const check = await cli(['check', '-c', config], { env });
    const run = await cli(['run', '-c', config], { env });
    expect(check.code).toBe(0);
    expect(run.code).toBe(0);
    noSecret(check);
    noSecret(run);
  });
});
