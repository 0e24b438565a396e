// The production install: `npm pack` (which builds dist/ through prepack), the tarball installed into a clean
// folder without dev dependencies, then `--version`, `map` and the demo run from there with the pinned Node 24;
// and the command's refusal of a Node.js older than 22 (the system's node, when it is one).
import { spawn, execFileSync } from 'node:child_process';
import { copyFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, openSync, closeSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NODE, ROOT } from '../support/cli-child.ts';

const OLD_NODE = '/usr/bin/node';
/** The system's node version when it is older than 22 (the case the bin must refuse), else why that case is skipped. */
const oldNode = ((): { version: string } | { skip: string } => {
  if (!existsSync(OLD_NODE)) return { skip: `no ${OLD_NODE} on this machine` };
  let version: string;
  try {
    version = execFileSync(OLD_NODE, ['--version'], { encoding: 'utf8' }).trim().replace(/^v/, '');
  } catch (error) {
    return { skip: `${OLD_NODE} --version failed: ${(error as Error).message}` };
  }
  return Number(version.split('.')[0]) < 22 ? { version } : { skip: `${OLD_NODE} is ${version}, not older than 22` };
})();

const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { name: string; version: string };

/**
 * The environment of the npm children: the caller's, without what `npm test` puts in it for its own script
 * (npm_config_local_prefix and the like would point the install at this checkout). Registry, cache and proxy
 * settings are kept: the install uses the real registry and cache.
 */
function npmEnv(): NodeJS.ProcessEnv {
  const keep = /^npm_config_(cache|registry|userconfig|globalconfig|strict_ssl|cafile|proxy|https_proxy|noproxy|no_proxy)$/i;
  return Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^npm_/i.test(k) || keep.test(k)));
}

interface Ran {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs a command to its exit (stdin from a file, or none), keeping its output. */
function run(command: string, args: readonly string[], options: { cwd?: string; env?: NodeJS.ProcessEnv; stdinFile?: string } = {}): Promise<Ran> {
  const stdin = options.stdinFile === undefined ? 'ignore' : openSync(options.stdinFile, 'r');
  return new Promise<Ran>((resolve, reject) => {
    const child = spawn(command, args, { cwd: options.cwd ?? ROOT, env: options.env ?? process.env, stdio: [stdin, 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  }).finally(() => {
    if (typeof stdin === 'number') closeSync(stdin);
  });
}

/** Fails with the command's output when it did not exit 0. */
function ok(r: Ran, what: string): Ran {
  if (r.code !== 0) throw new Error(`${what} exited ${r.code}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`);
  return r;
}

let temp: string;
/** The installed command (its bin script) inside the clean install folder. */
let bin: string;
let installed: string;

beforeAll(async () => {
  temp = mkdtempSync(join(tmpdir(), 'af-install-'));
  const packs = join(temp, 'pack');
  const prefix = join(temp, 'install');
  mkdirSync(packs);
  mkdirSync(prefix);
  // npm pack runs prepack (npm run build) first; --json names the tarball.
  const packed = ok(await run('npm', ['pack', '--json', '--pack-destination', packs], { env: npmEnv() }), 'npm pack');
  const [info] = JSON.parse(packed.stdout.slice(packed.stdout.indexOf('['))) as { filename: string }[];
  const tarball = join(packs, info!.filename);
  // A folder of its own (its package.json keeps npm from looking further up for a project).
  writeFileSync(join(prefix, 'package.json'), JSON.stringify({ name: 'install-test', private: true }));
  ok(
    await run('npm', ['install', '--prefix', prefix, '--omit=dev', '--no-audit', '--no-fund', '--ignore-scripts=false', tarball], { cwd: prefix, env: npmEnv() }),
    'npm install of the tarball',
  );
  installed = join(prefix, 'node_modules', pkg.name);
  bin = join(installed, 'bin/audit-forwarder.js');
}, 240_000);

afterAll(() => {
  if (temp !== undefined && process.env.KEEP_TEMP === undefined) rmSync(temp, { recursive: true, force: true });
});

describe('the packed and installed command', () => {
  it('is installed with its compiled code and no dev dependency', () => {
    expect(existsSync(join(installed, 'dist/src/cli/main.js'))).toBe(true);
    expect(existsSync(join(installed, 'dist/connectors/elasticsearch/ecs-fields.json'))).toBe(true);
    expect(readdirSync(join(installed, 'dist/connectors/connect/gen'), { recursive: true }).some((f) => String(f).endsWith('_pb.js'))).toBe(true);
    expect(readdirSync(join(installed, 'dist/connectors/otlp/gen'), { recursive: true }).some((f) => String(f).endsWith('_pb.js'))).toBe(true);
    const modules = join(temp, 'install/node_modules');
    for (const dev of ['typescript', 'vitest', 'node', '@types/node', 'fast-check']) expect(existsSync(join(modules, dev)), dev).toBe(false);
    // No TypeScript source is shipped: the package runs the compiled code only.
    expect(existsSync(join(installed, 'src'))).toBe(false);
  });

  it('--version', async () => {
    const r = ok(await run(NODE, [bin, '--version']), '--version');
    expect(r.stdout.trim()).toBe(pkg.version);
  });

  it('map --to ecs maps the demo events', async () => {
    const r = await run(NODE, [bin, 'map', '--to', 'ecs'], { stdinFile: join(ROOT, 'examples/demo/connect-events.jsonl') });
    // The demo file holds one malformed line on purpose: map says so with exit code 2 and maps the rest.
    expect([0, 2], r.stderr).toContain(r.code);
    const first = JSON.parse(r.stdout.split('\n')[0]!) as { ecs?: { version?: string }; '@timestamp'?: string; event?: { action?: string } };
    expect(first.ecs?.version).toMatch(/^\d+\.\d+/);
    expect(first['@timestamp']).toBeTypeOf('string');
    expect(first.event?.action).toBeTypeOf('string');
  });

  it('runs the demo shipped in the package, delivering its events', async () => {
    // The demo's paths are relative to its config file and write ../../var/demo: a copy in a temp tree keeps that there.
    const work = join(temp, 'work');
    cpSync(join(installed, 'examples/demo'), join(work, 'examples/demo'), { recursive: true });
    const r = await run(NODE, [bin, 'run', '-c', join(work, 'examples/demo/config.yaml')], { cwd: work });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/delivered [1-9]\d*/);
    const out = join(work, 'var/demo/out/connect-canonical.jsonl');
    expect(readFileSync(out, 'utf8').trim().split('\n').length).toBeGreaterThan(0);
  });

  it.skipIf('skip' in oldNode)(`refuses a Node.js older than 22 (${'skip' in oldNode ? oldNode.skip : OLD_NODE}) with exit code 2`, async () => {
    const version = (oldNode as { version: string }).version;
    const r = await run(OLD_NODE, [bin, '--version']);
    expect(r.code).toBe(2);
    // ≥ the package's engines.node: "22" today, "22.19.0" if that is raised.
    expect(r.stderr).toMatch(new RegExp(`^audit-forwarder: needs Node\\.js ≥ 22(\\.\\d+)* \\(found ${version.replaceAll('.', '\\.')}\\)\n$`));
    expect(r.stdout).toBe('');
  });
});

describe('the bin script in a checkout that was not built', () => {
  it('asks for `npm run build` instead of failing with a stack trace', async () => {
    const checkout = join(temp, 'unbuilt');
    mkdirSync(join(checkout, 'bin'), { recursive: true });
    copyFileSync(join(ROOT, 'bin/audit-forwarder.js'), join(checkout, 'bin/audit-forwarder.js'));
    copyFileSync(join(ROOT, 'package.json'), join(checkout, 'package.json'));
    const r = await run(NODE, [join(checkout, 'bin/audit-forwarder.js'), '--version'], { cwd: checkout });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('run `npm run build`');
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });
});
