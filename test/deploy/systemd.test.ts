// The systemd unit in deploy/systemd/: systemd-analyze verify and security, the check-before-start gate, and its example configuration.
import { spawnSync } from 'node:child_process';
import { accessSync, constants, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { connectors } from '../../connectors/index.ts';
import { mappingNames, mappingOptionKeys } from '../../mappings/index.ts';
import { parseConfig } from '../../src/config/loader.ts';

const ROOT = resolve(import.meta.dirname, '../..');
const UNIT = readFileSync(resolve(ROOT, 'deploy/systemd/audit-forwarder.service'), 'utf8');
const EXAMPLE = readFileSync(resolve(ROOT, 'deploy/systemd/config.example.yaml'), 'utf8');
const BINARY = '/usr/bin/audit-forwarder';
const CONFIG = '/etc/audit-forwarder/config.yaml';
const STATE = '/var/lib/audit-forwarder';
/** Measured 1.1 with systemd 252; the margin absorbs other versions' weights, not a weaker unit. */
const MAX_EXPOSURE = 1.5;

const SYSTEMD_ANALYZE = ['/usr/bin/systemd-analyze', '/bin/systemd-analyze'].find((p) => {
  try {
    accessSync(p, constants.X_OK);
    return true;
  } catch {
    return false;
  }
});
const NO_ANALYZE = SYSTEMD_ANALYZE === undefined;
if (NO_ANALYZE) console.warn('test/deploy/systemd.test.ts: systemd-analyze not found: the verify and security checks are skipped');

const work = mkdtempSync(join(tmpdir(), 'af-systemd-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** A stand-in for the forwarder that exits with $STUB_RC (0 by default). */
const stub = join(work, 'audit-forwarder');
writeFileSync(stub, '#!/bin/sh\nexit "${STUB_RC:-0}"\n', { mode: 0o755 });

/** The unit with the forwarder's path pointing at the stand-in (verify checks that every Exec binary exists). */
function unitCopy(name: string, text = UNIT): string {
  const path = join(work, name);
  writeFileSync(path, text.replaceAll(BINARY, stub));
  return path;
}

function analyze(...args: string[]) {
  const r = spawnSync(SYSTEMD_ANALYZE!, args, { encoding: 'utf8', env: { ...process.env, SYSTEMD_LOG_COLOR: '0', SYSTEMD_COLORS: '0', LC_ALL: 'C' } });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr.trim() };
}

/** Every value of a key in the [Service] section (a key may repeat). */
function serviceValues(key: string): string[] {
  const section = UNIT.slice(UNIT.indexOf('[Service]'), UNIT.indexOf('[Install]'));
  return [...section.matchAll(new RegExp(`^${key}=(.*)$`, 'gm'))].map((m) => m[1]!);
}

const seconds = (v: string): number => {
  const m = /^(\d+)(ms|s|min|m)?$/.exec(v.trim());
  if (m === null) throw new Error(`not a duration: ${v}`);
  const n = Number(m[1]);
  return m[2] === 'ms' ? n / 1000 : m[2] === 'min' || m[2] === 'm' ? n * 60 : n;
};

describe('deploy/systemd/audit-forwarder.service', () => {
  it.skipIf(NO_ANALYZE)('passes systemd-analyze verify without a warning', () => {
    const r = analyze('verify', '--man=no', '--generators=no', unitCopy('audit-forwarder.service'));
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
  });

  it.skipIf(NO_ANALYZE)('verify does report a broken copy (so a clean run means something)', () => {
    const broken = UNIT.replace('ProtectSystem=strict', 'ProtectSystem=strict\nProtectSytem=full');
    const r = analyze('verify', '--man=no', '--generators=no', unitCopy('broken.service', broken));
    expect(r.stderr).toMatch(/Unknown key.*ProtectSytem/);
  });

  it.skipIf(NO_ANALYZE)(`rates at most ${MAX_EXPOSURE} with systemd-analyze security --offline`, (ctx) => {
    const r = analyze('security', '--offline=yes', '--no-pager', unitCopy('audit-forwarder.service'));
    const m = /Overall exposure level for audit-forwarder\.service: (\d+(?:\.\d+)?)/.exec(r.stdout);
    // --offline came with systemd 250.
    if (m === null && /offline/i.test(r.stderr)) ctx.skip(`systemd-analyze security --offline is not supported here: ${r.stderr}`);
    expect(m, r.stdout + r.stderr).not.toBeNull();
    console.info(`systemd-analyze security: overall exposure ${m![1]}`);
    expect(Number(m![1])).toBeLessThanOrEqual(MAX_EXPOSURE);
  });

  it('runs as a dynamic user, with its state and configuration where the image and the docs say', () => {
    expect(serviceValues('DynamicUser')).toEqual(['yes']);
    expect(serviceValues('StateDirectory')).toEqual(['audit-forwarder']);
    expect(serviceValues('ConfigurationDirectory')).toEqual(['audit-forwarder']);
    expect(serviceValues('ExecStart')).toEqual([`${BINARY} run -c ${CONFIG}`]);
    expect(serviceValues('ExecReload')).toEqual(['/bin/kill -HUP $MAINPID']);
    expect(serviceValues('EnvironmentFile')).toEqual(['-/etc/audit-forwarder/env']);
    expect(serviceValues('Restart')).toEqual(['on-failure']);
    expect(serviceValues('MemoryDenyWriteExecute')).toEqual([]);
    expect(serviceValues('CapabilityBoundingSet')).toEqual(['']);
    expect(UNIT).toMatch(/^WantedBy=multi-user\.target$/m);
  });

  it('ExecStartPre lets the service start when check passes or only a destination failed (0, 1), not otherwise', () => {
    const [pre] = serviceValues('ExecStartPre');
    const m = /^\/bin\/sh -c '(.*)'$/.exec(pre ?? '');
    expect(m, pre).not.toBeNull();
    // systemd turns $$ into $ before running the command.
    const script = m![1]!.replaceAll('$$', '$').replaceAll(BINARY, stub);
    expect(script).toContain(`${stub} check -c ${CONFIG}`);
    const started = [0, 1, 2, 3, 4].map((rc) => spawnSync('/bin/sh', ['-c', script], { env: { ...process.env, STUB_RC: String(rc) } }).status === 0);
    expect(started).toEqual([true, true, false, false, false]);
  });
});

describe('deploy/systemd/config.example.yaml', () => {
  const config = parseConfig(EXAMPLE, CONFIG, {
    registry: connectors,
    mappingNames,
    mappingOptionKeys,
    env: { CONNECT_TOKEN: 'connect-token', SPLUNK_HEC_TOKEN: 'hec-token' },
  });

  it('is valid for the loader, with every variable it names set in the env file', () => {
    expect(Object.keys(config.routes).sort()).toEqual(['connect-to-splunk', 'ibm-audit-to-splunk']);
  });

  it('keeps checkpoints and dead letters under the StateDirectory, the only place the unit may write', () => {
    expect(config.checkpoints.directory.startsWith(`${STATE}/`)).toBe(true);
    expect(config.deadLetter.directory.startsWith(`${STATE}/`)).toBe(true);
  });

  it('stops within TimeoutStopSec: shutdownTimeout is below it', () => {
    const [stop] = serviceValues('TimeoutStopSec');
    expect(config.shutdownTimeoutMs / 1000).toBeLessThan(seconds(stop!));
  });
});
