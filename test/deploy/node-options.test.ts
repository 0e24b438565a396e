// The V8 options the packaged launches give node are the ones the process benchmark measured as `hec packaged`
// (bench/support.ts PACKAGED_NODE_OPTIONS): the container image sets them in NODE_OPTIONS, and so does the systemd unit.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PACKAGED_NODE_OPTIONS } from '../../bench/support.ts';

const ROOT = resolve(import.meta.dirname, '../..');
const read = (p: string) => readFileSync(resolve(ROOT, p), 'utf8');

describe('packaged node options', () => {
  it('the image sets NODE_OPTIONS to the benchmarked options', () => {
    expect(read('deploy/docker/Dockerfile')).toMatch(new RegExp(`^ENV NODE_OPTIONS=${PACKAGED_NODE_OPTIONS.join(' ')}$`, 'm'));
  });
  it('the systemd unit sets NODE_OPTIONS to the benchmarked options, before its EnvironmentFile (which may replace them)', () => {
    const unit = read('deploy/systemd/audit-forwarder.service');
    const env = unit.indexOf(`Environment=NODE_OPTIONS=${PACKAGED_NODE_OPTIONS.join(' ')}\n`);
    expect(env).toBeGreaterThan(0);
    expect(unit.indexOf('EnvironmentFile=')).toBeGreaterThan(env);
  });
});
