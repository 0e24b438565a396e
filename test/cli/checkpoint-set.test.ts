// `audit-forwarder checkpoint set` through the CLI: what it writes for a connect route, and when it refuses (no server needed: it only computes a position).
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createFileCheckpointStore, fingerprintOf } from '../../src/checkpoint/file-store.ts';
import { connectEventLines } from '../support/generate.ts';
import { cli, removeTempDirs, standardConfig, tempDir, write } from './cli-helpers.ts';

afterAll(removeTempDirs);

/** The fingerprint `run` expects for a connect source naming the store `store`. */
const connectFingerprint = (store = 'connect') => fingerprintOf({ source: { type: 'connect', store } });

/** A connect route `r1` to two file sinks. Nothing listens on the URL: `checkpoint set` never connects. */
function connectConfig(dir: string, options: { store?: string; sinks?: readonly string[] } = {}): string {
  const sinks = options.sinks ?? ['archive', 'copy'];
  return write(
    dir,
    'config.yaml',
    `sources:
  connect:
    type: connect
    ${options.store === undefined ? '' : `store: ${options.store}`}
    api: { url: "https://127.0.0.1:9" }
sinks:
${sinks.map((s) => `  ${s}: { type: file, path: out/${s}.jsonl, mapping: canonical }`).join('\n')}
routes:
  r1: { from: connect, to: [${sinks.join(', ')}] }
checkpoints: { directory: state/checkpoints }
deadLetter: { directory: state/dead-letter }
logging: { level: warn }
`,
  );
}

const checkpointFile = (dir: string) => join(dir, 'state/checkpoints/routes/r1.checkpoint.json');
const inspect = (dir: string) => createFileCheckpointStore(join(dir, 'state/checkpoints')).inspect('routes/r1');

describe('audit-forwarder checkpoint set on a connect route', () => {
  it('writes, for every sink, the position of "everything from <time> on" under the current fingerprint, printing the previous one', async () => {
    const dir = tempDir();
    const config = connectConfig(dir);
    const before = Date.now();
    const first = await cli(['checkpoint', 'set', '-c', config, '--route', 'r1', '--at', '2026-03-01T01:00:00+01:00']);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toContain('routes/r1: previous checkpoint: none\n');
    expect(first.stdout).toContain('everything from 2026-03-01T00:00:00.000000Z on');

    const cp = await inspect(dir);
    expect(cp!.fingerprint).toBe(connectFingerprint());
    expect(Object.keys(cp!.sinks).sort()).toEqual(['archive', 'copy']);
    for (const sp of Object.values(cp!.sinks)) {
      expect(sp.records).toBe(0);
      expect(Date.parse(sp.savedAt)).toBeGreaterThanOrEqual(before - 1000);
      expect(sp.position).toMatchObject({ v: 1, at: '2026-03-01T00:00:00.000000Z', ids: [], seen: { from: '2026-03-01T00:00:00.000000Z', b: [] } });
    }

    // Again, to a date: the previous position is printed and kept as `.prev`.
    const firstText = readFileSync(checkpointFile(dir));
    const second = await cli(['checkpoint', 'set', '-c', config, '--route', 'r1', '--at', '2026-04-02']);
    expect(second.code, second.stderr).toBe(0);
    expect(second.stdout).toContain(`previous checkpoint (written for this source, fingerprint ${connectFingerprint()})`);
    expect(second.stdout).toContain('"at":"2026-03-01T00:00:00.000000Z"');
    expect(second.stdout).toContain('"at":"2026-04-02T00:00:00.000000Z"');
    expect(readFileSync(`${checkpointFile(dir)}.prev`)).toEqual(firstText);
    expect((await inspect(dir))!.sinks['archive']!.position).toMatchObject({ at: '2026-04-02T00:00:00.000000Z' });
  });

  it('replaces a checkpoint of another store with one of the configured store, dropping sinks the route no longer has', async () => {
    const dir = tempDir();
    expect((await cli(['checkpoint', 'set', '-c', connectConfig(dir, { sinks: ['archive', 'old'] }), '--route', 'r1', '--at', '2026-03-01'])).code).toBe(0);
    const config = connectConfig(dir, { store: 'another', sinks: ['archive'] });
    const refused = await cli(['check', '-c', config]);
    expect(refused.code).toBe(1);
    expect(refused.stdout).toContain('checkpoint set --route r1 --at <time>');

    const set = await cli(['checkpoint', 'set', '-c', config, '--route', 'r1', '--at', '2026-03-02']);
    expect(set.code, set.stderr).toBe(0);
    expect(set.stdout).toContain('written for another source');
    expect(set.stdout).toContain('sink old: dropped');
    const cp = await inspect(dir);
    expect(cp!.fingerprint).toBe(connectFingerprint('another'));
    expect(Object.keys(cp!.sinks)).toEqual(['archive']);
    expect((await cli(['check', '-c', config])).stdout).toContain('route r1: checkpoint valid');
  });

  it('replaces a corrupt checkpoint, keeping the damaged file', async () => {
    const dir = tempDir();
    const config = connectConfig(dir);
    expect((await cli(['checkpoint', 'set', '-c', config, '--route', 'r1', '--at', '2026-03-01'])).code).toBe(0);
    writeFileSync(checkpointFile(dir), '{"format":"audit-forwarder-checkpoint", "trunc');
    const set = await cli(['checkpoint', 'set', '-c', config, '--route', 'r1', '--at', '2026-03-02']);
    expect(set.code, set.stderr).toBe(0);
    expect(set.stdout).toContain('previous checkpoint: unusable (FWD_CHECKPOINT_CORRUPT');
    expect((await inspect(dir))!.sinks['archive']!.position).toMatchObject({ at: '2026-03-02T00:00:00.000000Z' });
    expect(readdirSync(join(dir, 'state/checkpoints/routes')).some((n) => n.startsWith('r1.checkpoint.json.corrupt-'))).toBe(true);
  });

  it('--at that is not a time, or missing: exit 2, nothing written', async () => {
    const dir = tempDir();
    const config = connectConfig(dir);
    const results = await Promise.all([
      cli(['checkpoint', 'set', '-c', config, '--route', 'r1', '--at', 'yesterday']),
      cli(['checkpoint', 'set', '-c', config, '--route', 'r1', '--at', '2026-03-01T00:00:00']),
      cli(['checkpoint', 'set', '-c', config, '--route', 'r1']),
    ]);
    for (const r of results) {
      expect(r.code, r.stderr).toBe(2);
      expect(r.stdout).toBe('');
    }
    expect(results[0]!.stderr).toContain('--at "yesterday"');
    expect(results[2]!.stderr).toContain("required option '--at <time>' not specified");
    expect(existsSync(checkpointFile(dir))).toBe(false);
  });
});

describe('audit-forwarder checkpoint set on a source not read by time', () => {
  it('a jsonl route: exit 2, use checkpoint reset; its checkpoint is untouched', async () => {
    const dir = tempDir();
    write(dir, 'input.jsonl', connectEventLines(0, 5));
    const config = write(dir, 'config.yaml', standardConfig({}));
    expect((await cli(['run', '-c', config])).code).toBe(0);
    const before = readFileSync(checkpointFile(dir));
    const r = await cli(['checkpoint', 'set', '-c', config, '--route', 'r1', '--at', '2026-03-01']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('the jsonl source of route r1 cannot be positioned by time; use checkpoint reset');
    expect(readFileSync(checkpointFile(dir))).toEqual(before);
  });
});
