// `check` of the audit-files source (each pattern's directory, its files), and the warning a read gives, once, for a pattern that matches nothing.
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { auditFilesSourceSchema } from '../../connectors/audit-files/config.ts';
import { createAuditFilesSource } from '../../connectors/audit-files/source.ts';
import { silentLogger } from '../../src/logging.ts';

const root = mkdtempSync(join(tmpdir(), 'af-audit-check-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** Run as root, the mode bits do not stop a read: the cases that need them cannot be made. */
const isRoot = process.getuid?.() === 0;

let n = 0;
/** A fresh directory under the test's root. */
function freshDir(): string {
  const dir = join(root, `case-${++n}`);
  mkdirSync(dir);
  return dir;
}

/** The check of a source reading `paths` (relative to `dir`). */
async function check(dir: string, paths: readonly string[]) {
  const config = auditFilesSourceSchema.parse({ type: 'audit-files', paths: paths.map((p) => join(dir, p)) });
  const source = createAuditFilesSource('audit', config, { logger: silentLogger(), baseDir: dir });
  try {
    return await source.check!();
  } finally {
    await source.close();
  }
}

describe('audit-files source check', () => {
  it('files matched and readable: ok, with how many', async () => {
    const dir = freshDir();
    writeFileSync(join(dir, 'iam-audit.log'), '');
    writeFileSync(join(dir, 'pdp-audit.log'), '');
    expect(await check(dir, ['*-audit.log'])).toEqual({ ok: true, findings: [{ level: 'ok', detail: `${dir}/*-audit.log: 2 files, readable` }] });
  });

  it('a pattern that matches nothing yet: a warning, and still ok', async () => {
    const dir = freshDir();
    expect(await check(dir, ['*-audit.log', 'pdp-audit.log'])).toEqual({
      ok: true,
      findings: [
        { level: 'warning', detail: `${dir}/*-audit.log: no file matches it yet (files are read when they appear)` },
        { level: 'warning', detail: `${dir}/pdp-audit.log: no file matches it yet (files are read when they appear)` },
      ],
    });
  });

  it('a directory that does not exist, or is a file: a failure for that pattern only', async () => {
    const dir = freshDir();
    writeFileSync(join(dir, 'logs'), 'a file where a directory was expected\n');
    writeFileSync(join(dir, 'iam-audit.log'), '');
    const result = await check(dir, ['missing/*-audit.log', 'logs/*-audit.log', '*-audit.log']);
    expect(result).toEqual({
      ok: false,
      findings: [
        { level: 'failure', detail: `${dir}/missing/*-audit.log: directory ${dir}/missing does not exist` },
        { level: 'failure', detail: `${dir}/logs/*-audit.log: ${dir}/logs is not a directory` },
        { level: 'ok', detail: `${dir}/*-audit.log: 1 file, readable` },
      ],
    });
  });

  it.skipIf(isRoot)('a directory this user cannot read: a failure (not run as root, where the mode bits do not stop a read)', async () => {
    const dir = freshDir();
    mkdirSync(join(dir, 'closed'));
    chmodSync(join(dir, 'closed'), 0o000);
    try {
      const result = await check(dir, ['closed/*-audit.log']);
      expect(result.ok).toBe(false);
      expect(result.findings).toEqual([{ level: 'failure', detail: `${dir}/closed/*-audit.log: directory ${dir}/closed cannot be read by this user (EACCES)` }]);
    } finally {
      chmodSync(join(dir, 'closed'), 0o755);
    }
  });

  it.skipIf(isRoot)('a file this user cannot read: a failure naming it (not run as root, where the mode bits do not stop a read)', async () => {
    const dir = freshDir();
    writeFileSync(join(dir, 'iam-audit.log'), '');
    writeFileSync(join(dir, 'pdp-audit.log'), '');
    chmodSync(join(dir, 'pdp-audit.log'), 0o000);
    const result = await check(dir, ['*-audit.log']);
    expect(result).toEqual({ ok: false, findings: [{ level: 'failure', detail: `${dir}/*-audit.log: cannot be read by this user: ${dir}/pdp-audit.log (EACCES)` }] });
  });
});

describe('audit-files source read: a pattern that matches nothing', () => {
  it('is said once per configured source, however many lanes read it, naming the patterns', async () => {
    const dir = freshDir();
    writeFileSync(join(dir, 'iam-audit.log'), '');
    const lines: Record<string, unknown>[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
        done();
      },
    });
    const logger = pino({ level: 'warn' }, sink);
    const config = auditFilesSourceSchema.parse({ type: 'audit-files', paths: [join(dir, '*-audit.log'), join(dir, 'pdp/*.log')], pollInterval: '10ms' });
    // Two lanes of one route: two sources made of the same configuration, each reading until it has looked once.
    for (let lane = 0; lane < 2; lane++) {
      const source = createAuditFilesSource('audit', config, { logger, baseDir: dir });
      const stop = new AbortController();
      const reading = source.read(undefined, { signal: stop.signal })[Symbol.asyncIterator]();
      stop.abort();
      await reading.next();
      await source.close();
    }
    const warnings = lines.filter((l) => l['source'] === 'audit' && Array.isArray(l['patterns']));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]!['patterns']).toEqual([`${dir}/pdp/*.log`]);
    expect(warnings[0]!['level']).toBe(40);
  });
});
