// Tests of the file checkpoint store: round trip, corruption is a loud stop, atomic replacement, key safety.
import { spawnSync } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { checkpointFilePath, checkpointKeyProblem, createFileCheckpointStore, fingerprintOf } from '../../src/checkpoint/file-store.ts';
import type { Checkpoint, CheckpointStore } from '../../src/contracts/checkpoint-store.ts';
import { ForwarderError } from '../../src/contracts/errors.ts';
import type { ForwarderErrorCode } from '../../src/contracts/errors.ts';
import { canonicalJson } from '../../src/model/json.ts';

const FP = fingerprintOf({ source: { type: 'jsonl', paths: ['/var/log/audit/*.jsonl'] } });

function checkpoint(n: number, key = 'routes/r1', fingerprint = FP): Checkpoint {
  return {
    version: 1,
    key,
    fingerprint,
    sinks: {
      splunk: { position: { file: 'audit-1.jsonl', offset: n * 100 }, records: n, savedAt: '2026-01-02T03:04:05.000Z' },
      elastic: { position: { file: 'audit-1.jsonl', offset: n * 90 }, records: n - 1, savedAt: '2026-01-02T03:04:06.000Z' },
    },
  };
}

async function caught(p: Promise<unknown>): Promise<ForwarderError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(ForwarderError);
    return e as ForwarderError;
  }
  throw new Error('expected a ForwarderError, got success');
}

async function expectCode(p: Promise<unknown>, code: ForwarderErrorCode): Promise<ForwarderError> {
  const e = await caught(p);
  expect(e.code, e.message).toBe(code);
  return e;
}

/** A pid that certainly belongs to no running process: a child that has exited and been reaped. */
function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', '']);
  return r.pid!;
}

let dir: string;
let store: CheckpointStore;
let file: string;

beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'fwd-ckpt-'));
  store = createFileCheckpointStore(dir);
  file = checkpointFilePath(dir, 'routes/r1');
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('round trip', () => {
  it('loads what was saved, in a readable, checksummed file', async () => {
    expect(await store.load('routes/r1', FP)).toBeUndefined();
    const cp = { ...checkpoint(3), meta: { chunks: [{ from: 'a', to: 'b', read: 5 }] } };
    await store.save(cp);
    expect(await store.load('routes/r1', FP)).toEqual(cp);
    expect(await store.inspect('routes/r1')).toEqual(cp);

    expect(file).toBe(path.join(dir, 'routes', 'r1.checkpoint.json'));
    const text = await readFile(file, 'utf8');
    expect(text.split('\n').length).toBeGreaterThan(10); // pretty-printed for `cat`
    const doc = JSON.parse(text) as Record<string, unknown>;
    expect(doc['format']).toBe('audit-forwarder-checkpoint');
    expect(doc['version']).toBe(1);
    expect(doc['key']).toBe('routes/r1');
    const { checksum, ...rest } = doc;
    const { createHash } = await import('node:crypto');
    expect(checksum).toBe(`sha256:${createHash('sha256').update(canonicalJson(rest)).digest('hex')}`);

    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect((await stat(path.join(dir, 'routes'))).mode & 0o777).toBe(0o700);
  });

  it('keeps the previous checkpoint as .prev and lists keys', async () => {
    await store.save(checkpoint(1));
    await store.save(checkpoint(2));
    await store.save(checkpoint(1, 'replays/r1/20260101T000000Z--20260201T000000Z'));
    const prev = JSON.parse(await readFile(`${file}.prev`, 'utf8')) as { sinks: { splunk: { records: number } } };
    expect(prev.sinks.splunk.records).toBe(1);
    expect(await store.list()).toEqual(['replays/r1/20260101T000000Z--20260201T000000Z', 'routes/r1']);
    expect(await store.load('replays/r1/20260101T000000Z--20260201T000000Z', FP)).toEqual(
      checkpoint(1, 'replays/r1/20260101T000000Z--20260201T000000Z'),
    );
  });

  it('fingerprintOf hashes the canonical JSON: key order does not matter', () => {
    expect(fingerprintOf({ a: 1, b: [1, 2] })).toBe(fingerprintOf({ b: [1, 2], a: 1 }));
    expect(fingerprintOf({ a: 1 })).not.toBe(fingerprintOf({ a: 2 }));
    expect(fingerprintOf({ a: 1 })).toMatch(/^sha256:[0-9a-f]{64}$/);
  });
});

describe('source changed', () => {
  it('refuses a checkpoint written for another source, and says how to start over', async () => {
    await store.save(checkpoint(1));
    const now = fingerprintOf({ source: { type: 'jsonl', paths: ['/elsewhere/*.jsonl'] } });
    const e = await expectCode(store.load('routes/r1', now), 'FWD_CHECKPOINT_SOURCE_CHANGED');
    expect(e.disposition).toBe('fatal');
    expect(e.stage).toBe('checkpoint');
    expect(e.message).toContain('route "r1"');
    expect(e.message).toContain(FP.slice(0, 19));
    expect(e.message).toContain(now.slice(0, 19));
    expect(e.message).toContain('audit-forwarder checkpoint reset --route r1');
    // inspect does not check the fingerprint
    expect(await store.inspect('routes/r1')).toEqual(checkpoint(1));
  });
});

describe('corruption is a loud, explained stop', () => {
  async function expectCorrupt(withPrev: boolean): Promise<ForwarderError> {
    const e = await expectCode(store.load('routes/r1', FP), 'FWD_CHECKPOINT_CORRUPT');
    expect(e.disposition).toBe('fatal');
    expect(e.stage).toBe('checkpoint');
    expect(e.message).toContain(file);
    expect(e.message).toContain('audit-forwarder checkpoint reset --route r1');
    if (withPrev) {
      expect(e.message).toContain(`mv ${file}.prev ${file}`);
      expect(e.message).toContain('position {"file":"audit-1.jsonl","offset":100}');
    } else {
      expect(e.message).not.toContain('mv ');
    }
    return e;
  }

  async function twoSaves(): Promise<Buffer> {
    await store.save(checkpoint(1));
    await store.save(checkpoint(2));
    return readFile(file);
  }

  it('a truncated file (several lengths)', async () => {
    const good = await twoSaves();
    for (const length of [0, 1, 10, Math.floor(good.length / 2), good.length - 3, good.length - 2]) {
      await writeFile(file, good.subarray(0, length));
      const e = await expectCorrupt(true);
      expect(e.message).toMatch(/truncated|not valid JSON/);
    }
  });

  it('a single flipped bit, anywhere in the file', async () => {
    const good = await twoSaves();
    let tried = 0;
    for (let i = 0; i < good.length; i++) {
      const damaged = Buffer.from(good);
      damaged[i] = damaged[i]! ^ (1 << (i % 8));
      await writeFile(file, damaged);
      await expectCorrupt(true);
      tried++;
    }
    expect(tried).toBe(good.length);
    // and with every bit of one byte in the middle of the positions
    const mid = good.indexOf('offset') + 9;
    for (let bit = 0; bit < 8; bit++) {
      const damaged = Buffer.from(good);
      damaged[mid] = damaged[mid]! ^ (1 << bit);
      await writeFile(file, damaged);
      await expectCorrupt(true);
    }
  });

  it('not JSON at all', async () => {
    await twoSaves();
    await writeFile(file, 'offset=42\n');
    const e = await expectCorrupt(true);
    expect(e.message).toContain('not valid JSON');
  });

  it('a checksum mismatch is named as such', async () => {
    await twoSaves();
    const doc = JSON.parse(await readFile(file, 'utf8')) as { sinks: { splunk: { records: number } } };
    doc.sinks.splunk.records = 999; // a hand edit
    await writeFile(file, JSON.stringify(doc, null, 2));
    const e = await expectCorrupt(true);
    expect(e.message).toContain('checksum mismatch');
  });

  it('a file of another key (copied) or another format', async () => {
    await store.save(checkpoint(1, 'routes/other'));
    await twoSaves();
    await copyFile(checkpointFilePath(dir, 'routes/other'), file);
    const e = await expectCorrupt(true);
    expect(e.message).toContain('routes/other');

    await writeFile(file, JSON.stringify({ format: 'something-else', version: 1 }));
    const f = await expectCorrupt(true);
    expect(f.message).toContain('format marker');
  });

  it('says when there is no usable previous copy', async () => {
    await store.save(checkpoint(1));
    await writeFile(file, '{"format":"audit-forwarder-checkpoint"');
    const e = await expectCorrupt(false);
    expect(e.message).toContain('no previous copy');

    await store.save(checkpoint(2)); // over a corrupt file: .prev is not created from it
    await writeFile(file, 'garbage');
    await writeFile(`${file}.prev`, 'more garbage');
    const f = await expectCorrupt(false);
    expect(f.message).toContain('not usable either');
  });

  it('a missing file whose .prev exists is not treated as a fresh start', async () => {
    await twoSaves();
    await rm(file);
    await expectCorrupt(true);
  });

  it('saving over a corrupt file keeps .prev intact and the bad file for diagnosis', async () => {
    await twoSaves();
    const prevBefore = await readFile(`${file}.prev`, 'utf8');
    await writeFile(file, 'garbage');
    await store.save(checkpoint(3));
    expect(await readFile(`${file}.prev`, 'utf8')).toBe(prevBefore);
    const names = await readdir(path.dirname(file));
    const corrupt = names.filter((n) => n.startsWith('r1.checkpoint.json.corrupt-'));
    expect(corrupt).toHaveLength(1);
    expect(await readFile(path.join(path.dirname(file), corrupt[0]!), 'utf8')).toBe('garbage');
    expect(await store.load('routes/r1', FP)).toEqual(checkpoint(3));
  });

  it('a newer format version (checksum valid) is unsupported, not corrupt', async () => {
    await store.save(checkpoint(1));
    const { checksum: _, ...body } = JSON.parse(await readFile(file, 'utf8')) as Record<string, unknown>;
    const newer = { ...body, version: 2, extra: true };
    const { createHash } = await import('node:crypto');
    const sum = `sha256:${createHash('sha256').update(canonicalJson(newer)).digest('hex')}`;
    await writeFile(file, JSON.stringify({ ...newer, checksum: sum }, null, 2));
    const e = await expectCode(store.load('routes/r1', FP), 'FWD_CHECKPOINT_UNSUPPORTED_VERSION');
    expect(e.message).toContain('version 2');
    await writeFile(file, JSON.stringify({ ...newer, checksum: 'blake9:abc' }, null, 2));
    await expectCode(store.load('routes/r1', FP), 'FWD_CHECKPOINT_UNSUPPORTED_VERSION');
  });
});

describe('reset', () => {
  it('moves the checkpoint (and .prev) aside and reports whether there was one', async () => {
    await store.save(checkpoint(1));
    await store.save(checkpoint(2));
    const before = await readFile(file, 'utf8');
    expect(await store.reset('routes/r1')).toBe(true);
    expect(await store.load('routes/r1', FP)).toBeUndefined();
    expect(await store.list()).toEqual([]);
    const names = await readdir(path.dirname(file));
    const kept = names.filter((n) => /^r1\.checkpoint\.json\.reset-\d{8}T\d{6}\.\d{3}Z$/.test(n));
    expect(kept).toHaveLength(1);
    expect(await readFile(path.join(path.dirname(file), kept[0]!), 'utf8')).toBe(before);
    expect(names.some((n) => n.startsWith('r1.checkpoint.json.prev.reset-'))).toBe(true);
    expect(await store.reset('routes/r1')).toBe(false);

    await store.save(checkpoint(5));
    expect(await store.load('routes/r1', FP)).toEqual(checkpoint(5));
  });

  it('works on a corrupt checkpoint', async () => {
    await store.save(checkpoint(1));
    await writeFile(file, 'garbage');
    expect(await store.reset('routes/r1')).toBe(true);
    expect(await store.load('routes/r1', FP)).toBeUndefined();
  });
});

describe('keys', () => {
  const bad = [
    'routes/../x',
    'routes/..',
    'routes/.',
    '../routes/x',
    'routes/a/b',
    'routes/',
    'routes',
    'routes/a b',
    'routes/a\u0000',
    'replays/r/..',
    'replays/../x',
    'replays/r',
    '/etc/passwd',
    'routes/a/../../../etc',
    'other/x',
    'routes/a\\b',
  ];

  it.each(bad)('rejects %j everywhere, touching no file', async (key) => {
    expect(checkpointKeyProblem(key)).toBeDefined();
    await expectCode(store.load(key, FP), 'FWD_CONFIG_INVALID');
    await expectCode(store.inspect(key), 'FWD_CONFIG_INVALID');
    await expectCode(store.reset(key), 'FWD_CONFIG_INVALID');
    await expectCode(store.save(checkpoint(1, key)), 'FWD_CONFIG_INVALID');
    expect(await readdir(dir)).toEqual([]);
  });

  it('accepts route and replay keys', () => {
    expect(checkpointKeyProblem('routes/connect-to_splunk.v2')).toBeUndefined();
    expect(checkpointKeyProblem('replays/r1/20260101T000000Z--20260201T000000.5Z')).toBeUndefined();
  });
});

describe('crash leftovers', () => {
  it('ignores and removes the temp file a crash between write and rename leaves', async () => {
    await store.save(checkpoint(1));
    const half = (await readFile(file)).subarray(0, 100);
    const stale = [`${file}.tmp-${deadPid()}-0a1b2c3d4e5f`, `${file}.tmp-${process.pid}-abcdef`];
    for (const s of stale) await writeFile(s, half);
    expect(await store.load('routes/r1', FP)).toEqual(checkpoint(1));
    expect(await readdir(path.dirname(file))).toEqual(['r1.checkpoint.json']);
  });

  it('only stale temp files: no checkpoint', async () => {
    await mkdir(path.dirname(file), { recursive: true });
    await writeFile(`${file}.tmp-${deadPid()}-abc123`, '{"format":');
    expect(await store.load('routes/r1', FP)).toBeUndefined();
    expect(await readdir(path.dirname(file))).toEqual([]);
  });

  it('leaves the temp file of a live process alone (another process may be saving)', async () => {
    await store.save(checkpoint(1));
    const live = `${file}.tmp-${process.ppid}-abc123`;
    await writeFile(live, '{');
    expect(await store.load('routes/r1', FP)).toEqual(checkpoint(1));
    expect(await readdir(path.dirname(file))).toContain(path.basename(live));
  });
});

describe('concurrency', () => {
  it('serialises concurrent saves of one key: the last call wins', async () => {
    const saves = Array.from({ length: 60 }, (_, i) => store.save(checkpoint(i + 1)));
    await Promise.all(saves);
    expect(await store.load('routes/r1', FP)).toEqual(checkpoint(60));
    const prev = JSON.parse(await readFile(`${file}.prev`, 'utf8')) as { sinks: { splunk: { records: number } } };
    expect(prev.sinks.splunk.records).toBe(59);
    expect((await readdir(path.dirname(file))).sort()).toEqual(['r1.checkpoint.json', 'r1.checkpoint.json.prev']);
  });

  it('two stores on one directory agree, and a save captures the checkpoint as it was when called', async () => {
    const other = createFileCheckpointStore(dir);
    const mutable = { ...checkpoint(1), sinks: { ...checkpoint(1).sinks } };
    const all: Promise<void>[] = [];
    for (let i = 1; i <= 30; i++) {
      all.push((i % 2 === 0 ? store : other).save(mutable));
      mutable.sinks = checkpoint(i + 1).sinks; // changed after the call: not what call i writes
    }
    await Promise.all(all);
    expect(await store.load('routes/r1', FP)).toEqual(checkpoint(30));
  });
});

describe('I/O errors', () => {
  it('are FWD_CHECKPOINT_IO', async () => {
    const notADir = path.join(dir, 'plain-file');
    await writeFile(notADir, 'x');
    const broken = createFileCheckpointStore(notADir);
    await expectCode(broken.save(checkpoint(1)), 'FWD_CHECKPOINT_IO');
    await expectCode(broken.load('routes/r1', FP), 'FWD_CHECKPOINT_IO');
  });
});
