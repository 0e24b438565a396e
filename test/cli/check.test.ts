// `audit-forwarder check` as a child process: configuration, checkpoints and sinks, with their exit codes.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startFakeHec } from '../support/fake-hec.ts';
import { connectEventLines } from '../support/generate.ts';
import { cli, linesOf, removeTempDirs, standardConfig, tempDir, write } from './cli-helpers.ts';

afterAll(removeTempDirs);

describe('audit-forwarder check', () => {
  it('valid configuration, writable sinks: exit 0 and one line per sink', async () => {
    const dir = tempDir();
    write(dir, 'input.jsonl', connectEventLines(0, 3));
    const config = write(
      dir,
      'config.yaml',
      `sources:
  src: { type: jsonl, paths: [input.jsonl], format: connect }
sinks:
  archive: { type: file, path: out/archive.jsonl, mapping: canonical }
  void: { type: discard }
routes:
  r1: { from: src, to: [archive, void] }
checkpoints: { directory: state/checkpoints }
deadLetter: { directory: state/dead-letter }
`,
    );
    const r = await cli(['check', '-c', config]);
    expect(r.code).toBe(0);
    const sinkLines = r.stdout.split('\n').filter((l) => l.startsWith('sink '));
    expect(sinkLines).toHaveLength(2);
    expect(sinkLines[0]).toMatch(/^sink archive \(file\): ok.*; delivered means acknowledged \(each batch is fsynced/);
    expect(sinkLines[1]).toMatch(/^sink void \(discard\): ok.*; delivered means best-effort/);
    expect(r.stdout).not.toContain('FAILED');
  });

  it('a file sink whose parent path is a regular file: exit 1, FAILED for that sink only', async () => {
    const dir = tempDir();
    write(dir, 'input.jsonl', connectEventLines(0, 3));
    write(dir, 'blocker', 'I am a file, not a directory\n');
    const config = write(dir, 'config.yaml', standardConfig({ sinks: { good: 'out/good.jsonl', bad: 'blocker/events.jsonl' } }));
    const r = await cli(['check', '-c', config]);
    expect(r.code).toBe(1);
    const sinkLines = r.stdout.split('\n').filter((l) => l.startsWith('sink '));
    expect(sinkLines).toHaveLength(2);
    expect(sinkLines.find((l) => l.startsWith('sink good '))).toMatch(/: ok: /);
    expect(sinkLines.find((l) => l.startsWith('sink bad '))).toMatch(/^sink bad \(file\): FAILED: .*blocker/);
    expect(readFileSync(join(dir, 'blocker'), 'utf8')).toBe('I am a file, not a directory\n');
  });

  it('invalid configuration: exit 3, every problem on stderr with its key path', async () => {
    const dir = tempDir();
    const config = write(
      dir,
      'config.yaml',
      `sources:
  src: { type: jsonl, paths: [input.jsonl], format: xml }
sinks:
  archive: { type: file, path: out/a.jsonl, mapping: splunk, colour: blue }
  other: { type: kafka }
routes:
  r1:
    from: nowhere
    to: [archive]
    batch: { maxEvents: 0 }
shutdownTimeout: forever
logging: { level: loud }
`,
    );
    const r = await cli(['check', '-c', config]);
    expect(r.code).toBe(3);
    expect(r.stdout).toBe('');
    const keyPaths = [
      'logging.level',
      'routes.r1.batch.maxEvents',
      'routes.r1.from',
      'shutdownTimeout',
      'sinks.archive.colour',
      'sinks.archive.mapping',
      'sinks.other.type',
      'sources.src.format',
    ];
    const errorLines = r.stderr
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => /^[a-zA-Z.\d[\]]+: /.test(l) && !l.startsWith('audit-forwarder:'));
    expect(errorLines.map((l) => l.slice(0, l.indexOf(': ')))).toEqual(keyPaths);
    expect(r.stderr).toContain('config.yaml');
  });

  it('an unreadable configuration file: exit 3', async () => {
    const dir = tempDir();
    const r = await cli(['check', '-c', join(dir, 'missing.yaml')]);
    expect(r.code).toBe(3);
    expect(r.stderr).toContain('missing.yaml');
  });

  it('a corrupt checkpoint: check reports it (exit 1), run refuses to start (exit 4) naming the file', async () => {
    const dir = tempDir();
    write(dir, 'input.jsonl', connectEventLines(0, 12));
    const config = write(dir, 'config.yaml', standardConfig({}));
    const first = await cli(['run', '-c', config]);
    expect(first.code).toBe(0);
    expect(linesOf(join(dir, 'out/archive.jsonl'))).toHaveLength(12);

    // Flip one byte: a digit of the stored offset becomes another digit.
    const file = join(dir, 'state/checkpoints/routes/r1.checkpoint.json');
    const bytes = readFileSync(file);
    const at = bytes.indexOf('"offset": ') + '"offset": '.length;
    bytes[at] = bytes[at] === 0x31 ? 0x32 : 0x31;
    writeFileSync(file, bytes);

    const [check, run] = await Promise.all([cli(['check', '-c', config]), cli(['run', '-c', config])]);
    expect(check.code).toBe(1);
    const routeLine = check.stdout.split('\n').find((l) => l.startsWith('route r1: '));
    expect(routeLine).toMatch(/^route r1: checkpoint FAILED: /);
    expect(routeLine).toContain(file);
    expect(check.stdout).toMatch(/^sink archive \(file\): ok/m);

    expect(run.code).toBe(4);
    expect(run.stderr).toContain(file);
    expect(run.stderr).toContain('checkpoint reset --route r1');
    // Nothing was forwarded again.
    expect(linesOf(join(dir, 'out/archive.jsonl'))).toHaveLength(12);
  });

  it('splunk-hec: the indexes of the routes are probed; a refused one fails the sink, the token never appears', async () => {
    const fake = await startFakeHec({ tokens: { 'hec-secret-token': { ack: true, indexes: ['audit'] } } });
    try {
      const dir = tempDir();
      write(dir, 'input.jsonl', connectEventLines(0, 3));
      const config = write(
        dir,
        'config.yaml',
        `sources:
  src: { type: jsonl, paths: [input.jsonl], format: connect }
sinks:
  splunk: { type: splunk-hec, url: "${fake.url}", token: "\${HEC_TOKEN}" }
routes:
  denied: { from: src, to: splunk, enabledEvents: [token_exchange], mappingOptions: { index: audit } }
  others: { from: src, to: splunk, disabledEvents: [token_exchange], mappingOptions: { index: main } }
checkpoints: { directory: state/checkpoints }
deadLetter: { directory: state/dead-letter }
`,
      );
      const r = await cli(['check', '-c', config], { env: { HEC_TOKEN: 'hec-secret-token' } });
      expect(r.code).toBe(1);
      const line = r.stdout.split('\n').find((l) => l.startsWith('sink splunk '));
      expect(line).toMatch(/^sink splunk \(splunk-hec\): FAILED: reachable, HEC is healthy; token valid; indexer acknowledgement on; index audit allowed; index not allowed: main/);
      expect(r.stdout + r.stderr).not.toContain('hec-secret-token');
      expect(fake.indexedCount()).toBe(0);
    } finally {
      await fake.close();
    }
  });
});
