// One process per checkpoint, through the CLI: `checkpoint reset` and `replay --restart` while another process holds the key.
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { connectEventLines } from '../support/generate.ts';
import { holdCheckpointLock } from '../support/lock-holder.ts';
import type { LockHolderProcess } from '../support/lock-holder.ts';
import { cli, linesOf, removeTempDirs, standardConfig, tempDir, write } from './cli-helpers.ts';

afterAll(removeTempDirs);
const holders: LockHolderProcess[] = [];
afterEach(async () => {
  await Promise.all(holders.splice(0).map((h) => h.crash()));
});

/** A process, other than the CLI's, that holds the checkpoint `key` of the configuration in `dir`. */
async function hold(dir: string, key: string, command: string): Promise<LockHolderProcess> {
  const holder = await holdCheckpointLock(join(dir, 'state/checkpoints'), key, command);
  holders.push(holder);
  return holder;
}

function setup() {
  const dir = tempDir();
  write(dir, 'input.jsonl', connectEventLines(0, 20));
  const config = write(dir, 'config.yaml', standardConfig({}));
  return { dir, config, out: join(dir, 'out/archive.jsonl') };
}

describe('audit-forwarder checkpoint reset, while another process holds the route', () => {
  it('is refused with exit 2 naming the holder, leaves the checkpoint alone, and works once the holder died', async () => {
    const { dir, config } = setup();
    expect((await cli(['run', '-c', config])).code).toBe(0);
    const routes = join(dir, 'state/checkpoints/routes');
    const checkpoint = join(routes, 'r1.checkpoint.json');
    const before = readFileSync(checkpoint);

    const daemon = await hold(dir, 'routes/r1', 'audit-forwarder run -c config.yaml');
    const names = readdirSync(routes).sort();
    const [refused, show] = await Promise.all([
      cli(['checkpoint', 'reset', '-c', config, '--route', 'r1']),
      cli(['checkpoint', 'show', '-c', config, '--route', 'r1']),
    ]);
    expect(refused.code).toBe(2);
    expect(refused.stdout).toBe('');
    expect(refused.stderr).toContain(`pid ${daemon.pid}`);
    expect(refused.stderr).toContain('"audit-forwarder run -c config.yaml"');
    expect(readFileSync(checkpoint)).toEqual(before);
    expect(readdirSync(routes).sort()).toEqual(names);
    // Reading needs no lock.
    expect(show.code).toBe(0);
    expect(show.stdout).toContain('"key": "routes/r1"');

    await daemon.crash();
    const reset = await cli(['checkpoint', 'reset', '-c', config, '--route', 'r1']);
    expect(reset.code).toBe(0);
    expect(reset.stdout).toContain('routes/r1: reset');
    expect(existsSync(checkpoint)).toBe(false);
  });
});

describe('audit-forwarder replay --restart, beside a live run', () => {
  const FROM = '2026-03-01T00:00:00Z';
  const TO = '2026-03-01T00:01:00Z';
  const SLUG = '20260301T000000Z--20260301T000100Z';

  it('runs while the live route is held, and is refused (exit 2) while another run of the same replay holds its key', async () => {
    const { dir, config, out } = setup();
    const replay = ['replay', '-c', config, '--route', 'r1', '--from', FROM, '--to', TO];
    const replayCheckpoint = join(dir, `state/checkpoints/replays/r1/${SLUG}.checkpoint.json`);
    await hold(dir, 'routes/r1', 'audit-forwarder run');

    const first = await cli(replay);
    expect(first.code).toBe(0);
    expect(linesOf(out)).toHaveLength(20);
    const before = readFileSync(replayCheckpoint);

    const other = await hold(dir, `replays/r1/${SLUG}`, 'audit-forwarder replay');
    const refused = await cli([...replay, '--restart']);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain(`pid ${other.pid}`);
    expect(readFileSync(replayCheckpoint)).toEqual(before);
    expect(linesOf(out)).toHaveLength(20);

    await other.crash();
    const restarted = await cli([...replay, '--restart']);
    expect(restarted.code).toBe(0);
    expect(linesOf(out)).toHaveLength(40);
  });
});
