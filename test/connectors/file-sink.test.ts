// The `file` sink: conformance, appending, paths, real errno failures, and the cut-back after a torn write.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, readlink, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ConnectorContext } from '../../src/contracts/connector.ts';
import { deliverWithRetry } from '../../src/delivery/retry.ts';
import { silentLogger } from '../../src/logging.ts';
import { resolvingPathsAgainst } from '../../src/config/types.ts';
import { classifyFileError, FILE_ERROR_TABLE } from '../../connectors/file/classify.ts';
import { fileSinkSchema, type FileSinkConfig } from '../../connectors/file/config.ts';
import { createFileSink } from '../../connectors/file/sink.ts';
import { describeSinkConformance, testBatch } from '../support/sink-conformance.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const NODE = path.join(ROOT, 'node_modules', '.bin', 'node');
const WRITER = path.join(ROOT, 'test', 'support', 'file-sink-writer.ts');
const never = new AbortController().signal;

let root: string;
beforeAll(async () => {
  root = await mkdtemp(path.join(tmpdir(), 'fwd-file-sink-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

const context = (baseDir: string): ConnectorContext => ({ logger: silentLogger(), baseDir });
const config = (p: string, fsync = true): FileSinkConfig => ({ type: 'file', path: p, mapping: 'canonical', fsync });
const freshDir = () => mkdtemp(path.join(root, 'case-'));
const readOrEmpty = (p: string) => readFile(p).catch((e: NodeJS.ErrnoException) => (e.code === 'ENOENT' ? Buffer.alloc(0) : Promise.reject(e)));
const linesOf = (batches: ReturnType<typeof testBatch>[]) => batches.flatMap((b) => b.records.map((r) => `${r.payload}\n`)).join('');

// Failures: a disk that fills up and then frees cannot be arranged from outside for "the next send only"
// (no tiny tmpfs here), so `retryable` is not declared; the real ENOSPC of /dev/full with recovery, and the
// errno table itself, are tested below. As root, permissions never refuse, so the unusable destination is
// a path whose parent directory is a regular file.
describeSinkConformance('file', {
  holds: 'lines',
  failures: [],
  checkProbes: true,
  strength: 'acknowledged',
  refuses: 'never',
  async create() {
    const dir = await freshDir();
    const file = path.join(dir, 'out', 'audit.jsonl');
    return { sink: createFileSink('file', config(file), context(dir)), held: () => readOrEmpty(file) };
  },
  async createUnusable() {
    const dir = await freshDir();
    await writeFile(path.join(dir, 'blocker'), '');
    return { sink: createFileSink('file', config(path.join(dir, 'blocker', 'audit.jsonl')), context(dir)) };
  },
});

describe('classifyFileError', () => {
  it.each(Object.entries(FILE_ERROR_TABLE))('%s → %s', (code, kind) => {
    const error = Object.assign(new Error(`${code}: some failure`), { code });
    const outcome = classifyFileError(error, '/var/log/out.jsonl');
    if (kind === 'retryable') expect(outcome).toMatchObject({ status: 'retryable' });
    else expect(outcome).toMatchObject({ status: 'rejected', scope: 'sink' });
    expect(outcome).toMatchObject({ reason: expect.stringContaining('/var/log/out.jsonl') });
    expect(outcome).toMatchObject({ reason: expect.stringContaining(code) });
  });

  it('treats an errno it does not know as retryable (an operator may clear it)', () => {
    expect(classifyFileError(Object.assign(new Error('odd'), { code: 'EWHATEVER' }), '/x')).toMatchObject({ status: 'retryable' });
    expect(classifyFileError(new Error('no code'), '/x')).toMatchObject({ status: 'retryable' });
  });
});

describe('file sink', () => {
  it('appends after what the file already holds', async () => {
    const dir = await freshDir();
    const file = path.join(dir, 'audit.jsonl');
    await writeFile(file, 'earlier line\n');
    const sink = createFileSink('file', config(file), context(dir));
    const b = testBatch(1, 3);
    expect(await sink.send(b, never)).toEqual({ status: 'delivered' });
    await sink.close();
    expect(await readFile(file, 'utf8')).toBe(`earlier line\n${linesOf([b])}`);
  });

  it('cuts a torn last line left by a crash before appending, so no two records share a line', async () => {
    const dir = await freshDir();
    const file = path.join(dir, 'audit.jsonl');
    // What a process killed in the middle of a batch leaves: whole lines, then part of one.
    await writeFile(file, 'whole 1\nwhole 2\n{"id":"ae-torn","tim');
    const sink = createFileSink('file', config(file), context(dir));
    const b = testBatch(1, 2);
    expect(await sink.send(b, never)).toEqual({ status: 'delivered' });
    await sink.close();
    expect(await readFile(file, 'utf8')).toBe(`whole 1\nwhole 2\n${linesOf([b])}`);
    // A file with no newline at all is one torn line.
    await writeFile(file, 'torn');
    const again = createFileSink('file', config(file), context(dir));
    expect(await again.send(b, never)).toEqual({ status: 'delivered' });
    await again.close();
    expect(await readFile(file, 'utf8')).toBe(linesOf([b]));
  });

  it.each([true, false])('delivers whole lines with fsync: %s', async (fsync) => {
    // Whether the data reached the disk is not observable without pulling the power; only the bytes are.
    const dir = await freshDir();
    const file = path.join(dir, 'audit.jsonl');
    const sink = createFileSink('file', config(file, fsync), context(dir));
    const batches = [testBatch(1, 2), testBatch(2, 3)];
    for (const b of batches) expect(await sink.send(b, never)).toEqual({ status: 'delivered' });
    await sink.close();
    expect(await readFile(file, 'utf8')).toBe(linesOf(batches));
  });

  it('the fsync option defaults to true', () => {
    expect(fileSinkSchema.parse({ type: 'file', path: '/tmp/x.jsonl' }).fsync).toBe(true);
  });

  it('resolves a relative path against the configuration directory, not the working directory', async () => {
    const dir = await freshDir();
    const sink = createFileSink('file', config(path.join('nested', 'audit.jsonl')), context(dir));
    expect(await sink.send(testBatch(1, 1), never)).toEqual({ status: 'delivered' });
    await sink.close();
    expect(await readFile(path.join(dir, 'nested', 'audit.jsonl'), 'utf8')).toBe(linesOf([testBatch(1, 1)]));
    // Through the schema, as the loader parses it.
    const parsed = resolvingPathsAgainst(dir, () => fileSinkSchema.parse({ type: 'file', path: 'other.jsonl' }));
    expect(parsed.path).toBe(path.join(dir, 'other.jsonl'));
  });

  it.each([
    ['the path is a directory (EISDIR)', async (dir: string) => (await mkdir(path.join(dir, 'd')), path.join(dir, 'd'))],
    ['its parent is a regular file', async (dir: string) => (await writeFile(path.join(dir, 'f'), ''), path.join(dir, 'f', 'audit.jsonl'))],
    ['an ancestor is a regular file (ENOTDIR)', async (dir: string) => (await writeFile(path.join(dir, 'f'), ''), path.join(dir, 'f', 'sub', 'audit.jsonl'))],
  ])('refuses with scope sink when %s', async (_, setup) => {
    const dir = await freshDir();
    const sink = createFileSink('file', config(await setup(dir)), context(dir));
    expect(await sink.send(testBatch(1, 1), never)).toMatchObject({ status: 'rejected', scope: 'sink' });
    expect(await sink.check()).toMatchObject({ ok: false });
    await sink.close();
  });

  it.skipIf(!existsSync('/dev/full'))('a full disk (ENOSPC) is retryable, and once space is back the batch arrives once', async () => {
    // The file is a link to /dev/full, whose every write fails with ENOSPC; "freeing space" replaces the
    // link with a regular file.
    const dir = await freshDir();
    const file = path.join(dir, 'audit.jsonl');
    await symlink('/dev/full', file);
    const sink = createFileSink('file', config(file), context(dir));
    const b = testBatch(1, 3);
    expect(await sink.send(b, never)).toMatchObject({ status: 'retryable', reason: expect.stringContaining('ENOSPC') });
    const result = await deliverWithRetry(sink, b, never, {
      policy: { initialDelayMs: 1, maxDelayMs: 2 },
      onRetry: async () => {
        if ((await readlink(file).catch(() => undefined)) !== undefined) await rm(file);
      },
    });
    await sink.close();
    expect(result).toEqual({ delivered: 3, rejected: [] });
    expect(await readFile(file, 'utf8')).toBe(linesOf([b]));
  });

  it('a batch cut short mid-write is cut back to the last whole batch (real short write under a file size limit)', async () => {
    // Under RLIMIT_FSIZE the kernel writes up to the limit, then refuses with EFBIG: a torn batch.
    const dir = await freshDir();
    const file = path.join(dir, 'audit.jsonl');
    const { code, stdout, stderr } = await run('bash', ['-c', 'ulimit -f 4 && exec "$@"', 'bash', NODE, WRITER, file, '3000', '3000', '500']);
    expect(stderr).toBe('');
    expect(code).toBe(0);
    const outcomes = stdout.trim().split('\n').map((l) => JSON.parse(l) as unknown);
    expect(outcomes).toEqual([
      { status: 'delivered' },
      { status: 'rejected', scope: 'sink', reason: expect.stringContaining('EFBIG') },
      { status: 'delivered' },
    ]);
    expect(await readFile(file, 'utf8')).toBe(`${'a'.repeat(2999)}\n${'c'.repeat(499)}\n`);
  });

  it('check() and a send at the same time open the file once (no handle left behind after close)', async () => {
    const dir = await freshDir();
    const file = path.join(dir, 'audit.jsonl');
    const sink = createFileSink('file', config(file), context(dir));
    const [checked, sent] = await Promise.all([sink.check(), sink.send(testBatch(1, 2), never), sink.check()]);
    expect(checked.ok).toBe(true);
    expect(sent).toEqual({ status: 'delivered' });
    await sink.close();
    expect(await openHandlesTo(file)).toBe(0);
    expect(await readFile(file, 'utf8')).toBe(linesOf([testBatch(1, 2)]));
  });
});

/** File descriptors of this process open on `file`. */
async function openHandlesTo(file: string): Promise<number> {
  let n = 0;
  for (const fd of await readdir('/proc/self/fd')) {
    if ((await readlink(`/proc/self/fd/${fd}`).catch(() => '')) === file) n++;
  }
  return n;
}

function run(command: string, args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
    child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}
