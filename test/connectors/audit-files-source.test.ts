// The `audit-files` source on real files: positions, bad lines, rotation, truncation, generations, replay.
import { appendFile, copyFile, mkdir, mkdtemp, readFile, rename, rm, stat, truncate, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Position, Source, SourceRecord } from '../../src/contracts/source.ts';
import { silentLogger } from '../../src/logging.ts';
import { auditFilesSourceSchema } from '../../connectors/audit-files/config.ts';
import { createAuditFilesSource } from '../../connectors/audit-files/source.ts';
import {
  fingerprint,
  matchFiles,
  parseGeneration,
  serviceFromPath,
  type AuditFilesPosition,
  type FileState,
} from '../../connectors/audit-files/identity.ts';
import { LineSplitter, type LineEvent } from '../../src/util/lines.ts';

let root: string;
beforeAll(async () => {
  root = await mkdtemp(path.join(tmpdir(), 'fwd-audit-files-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

const freshDir = () => mkdtemp(path.join(root, 'case-'));

type AuditSource = ReturnType<typeof createAuditFilesSource>;

/** Paths must be absolute here: the schema resolves relative ones against the configuration's directory. */
function auditFiles(dir: string, paths: string[], options: Record<string, unknown> = {}): AuditSource {
  const config = auditFilesSourceSchema.parse({ type: 'audit-files', paths, pollInterval: 20, ...options });
  return createAuditFilesSource('test', config, { logger: silentLogger(), baseDir: dir });
}

/** One CADF record per line; `i` picks the id and the event time (one second apart from 08:00:00). */
function cadf(i: number, extra: Record<string, unknown> = {}): string {
  const t = new Date(Date.UTC(2026, 2, 14, 8, 0, 0) + i * 1000).toISOString();
  return `${JSON.stringify({
    id: `e-${i}`,
    eventTime: t,
    action: 'iam-identity.apikey.create',
    outcome: 'success',
    initiator: { id: 'iam-ServiceId-7c2a9e31', typeURI: 'service/security/account/serviceid' },
    target: { id: 'crn:v1:icp:private:iam-identity:::apikey:ApiKey-5d1e', typeURI: 'API key' },
    ...extra,
  })}\n`;
}
const lines = (from: number, count: number, extra: Record<string, unknown> = {}) =>
  Array.from({ length: count }, (_, k) => cadf(from + k, extra)).join('');
const range = (from: number, count: number) => Array.from({ length: count }, (_, k) => `e-${from + k}`);
const idOf = (r: SourceRecord) => (r.decoded.ok ? r.decoded.event.id : `invalid: ${r.decoded.error.reason}`);
const ids = (rs: readonly SourceRecord[]) => rs.map(idOf);
const pos = (r: SourceRecord) => r.position as AuditFilesPosition;

/** Polls `check` until it holds or the deadline passes. */
async function until(check: () => boolean, what: string, ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** A live read running in the background, collecting records. */
class Tail {
  readonly records: SourceRecord[] = [];
  error: unknown;
  private readonly controller = new AbortController();
  private readonly done: Promise<void>;
  constructor(source: Source, from?: Position) {
    this.done = (async () => {
      for await (const chunk of source.read(from, { signal: this.controller.signal })) this.records.push(...chunk);
    })().catch((e: unknown) => {
      this.error = e;
    });
  }
  get ids(): string[] {
    return ids(this.records);
  }
  async waitFor(count: number): Promise<void> {
    await until(() => this.records.length >= count || this.error !== undefined, `${count} records (have ${this.records.length})`);
    if (this.error !== undefined) throw this.error;
  }
  async stop(): Promise<SourceRecord[]> {
    this.controller.abort();
    await this.done;
    if (this.error !== undefined) throw this.error;
    return this.records;
  }
}

async function replay(source: Source, from: string, to: string, position?: Position): Promise<SourceRecord[]> {
  const out: SourceRecord[] = [];
  const signal = new AbortController().signal;
  for await (const chunk of source.read(position, { signal, range: { from, to } })) out.push(...chunk);
  return out;
}

const time = (i: number) => new Date(Date.UTC(2026, 2, 14, 8, 0, 0) + i * 1000).toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');

describe('lines and positions', () => {
  it('yields each line with its locator and a position naming the byte offset after it', async () => {
    const dir = await freshDir();
    const file = path.join(dir, 'pdp-audit.log');
    const text = `${cadf(1)}\n   \n${cadf(2)}${cadf(3).replace('\n', '\r\n')}`;
    await writeFile(file, text);
    const tail = new Tail(auditFiles(dir, [path.join(dir, '*-audit.log')]));
    await tail.waitFor(3);
    const records = await tail.stop();
    expect(ids(records)).toEqual(range(1, 3));
    expect(records.map((r) => r.locator)).toEqual([`${file}:1`, `${file}:4`, `${file}:5`]);
    expect(records.map((r) => pos(r).file.offset)).toEqual([
      Buffer.byteLength(cadf(1)),
      Buffer.byteLength(`${cadf(1)}\n   \n${cadf(2)}`),
      Buffer.byteLength(text),
    ]);
    const s = await stat(file);
    expect(pos(records[2]!).file).toMatchObject({ path: file, dev: s.dev, ino: s.ino, line: 5, fpLength: Buffer.byteLength(text) });
    expect(pos(records[2]!).file.fp).toBe(fingerprint(Buffer.from(text)));
    // The service comes from the file name.
    expect(records[0]!.decoded.ok && records[0]!.decoded.event.origin.service).toBe('pdp');
  });

  it('resumes just after the record of a position, then tails what is appended', async () => {
    const dir = await freshDir();
    const file = path.join(dir, 'a-audit.log');
    await writeFile(file, lines(1, 5));
    const first = new Tail(auditFiles(dir, [file]));
    await first.waitFor(5);
    const at = (await first.stop())[2]!.position;
    const source = auditFiles(dir, [file]);
    const second = new Tail(source, JSON.parse(JSON.stringify(at)) as Position);
    await second.waitFor(2);
    await appendFile(file, lines(6, 2));
    await second.waitFor(4);
    expect((await second.stop()).map(idOf)).toEqual(range(4, 4));
    expect(source.stats()).toMatchObject({ files_opened_total: 1, rotations_total: 0, truncations_total: 0 });
  });

  it('refuses a position of another kind', async () => {
    const dir = await freshDir();
    const tail = new Tail(auditFiles(dir, [path.join(dir, 'x.log')]), { file: 'x', offset: 1, line: 1 });
    await expect(tail.stop()).rejects.toMatchObject({ code: 'FWD_SOURCE_POSITION_INVALID' });
  });

  it('waits for the newline of a partial last line', async () => {
    const dir = await freshDir();
    const file = path.join(dir, 'a-audit.log');
    const second = cadf(2);
    await writeFile(file, cadf(1) + second.slice(0, 40));
    const tail = new Tail(auditFiles(dir, [file]));
    await tail.waitFor(1);
    await appendFile(file, second.slice(40, 80));
    await appendFile(file, second.slice(80));
    await tail.waitFor(2);
    expect((await tail.stop()).map(idOf)).toEqual(range(1, 2));
  });

  it('dead-letters too-long lines (one over 1 MiB too) with file, line and byte offset, and goes on after them', async () => {
    const dir = await freshDir();
    const small = path.join(dir, 'small-audit.log');
    const big = path.join(dir, 'big-audit.log');
    const long = `${'x'.repeat(5000)}\n`;
    await writeFile(small, cadf(1) + long + cadf(2));
    const huge = `${JSON.stringify({ padding: 'y'.repeat(1024 * 1024 + 100) })}\n`;
    await writeFile(big, cadf(3) + huge + cadf(4));

    const a = auditFiles(dir, [small], { maxLineBytes: 1024 });
    const tailA = new Tail(a);
    await tailA.waitFor(3);
    const ra = await tailA.stop();
    expect(ids(ra)[0]).toBe('e-1');
    expect(ids(ra)[2]).toBe('e-2');
    expect(ra[1]!.locator).toBe(`${small}:2`);
    expect(ra[1]!.decoded.ok).toBe(false);
    if (!ra[1]!.decoded.ok) expect(ra[1]!.decoded.error.reason).toContain(`byte offset ${Buffer.byteLength(cadf(1))}`);
    expect(pos(ra[1]!).file.offset).toBe(Buffer.byteLength(cadf(1) + long));
    expect(a.stats().lines_too_long_total).toBe(1);

    const b = auditFiles(dir, [big]);
    const tailB = new Tail(b);
    await tailB.waitFor(3);
    const rb = await tailB.stop();
    expect(ids(rb)[0]).toBe('e-3');
    expect(ids(rb)[2]).toBe('e-4');
    expect(rb[1]!.decoded.ok).toBe(false);
    if (!rb[1]!.decoded.ok) expect(rb[1]!.decoded.error.reason).toContain(`${big} line 2, byte offset ${Buffer.byteLength(cadf(3))}`);
    expect(b.stats().lines_too_long_total).toBe(1);
  });

  it('dead-letters invalid UTF-8, text that is not JSON and JSON that is not a CADF record, with the reason', async () => {
    const dir = await freshDir();
    const file = path.join(dir, 'a-audit.log');
    const badUtf8 = Buffer.concat([Buffer.from('{"id":"x","action":"'), Buffer.from([0xff, 0xfe, 0xc3]), Buffer.from('"}\n')]);
    await writeFile(
      file,
      Buffer.concat([Buffer.from(cadf(1)), badUtf8, Buffer.from('not json at all\n{"foo":1}\n[1,2]\n'), Buffer.from(cadf(2))]),
    );
    const tail = new Tail(auditFiles(dir, [file]));
    await tail.waitFor(6);
    const records = await tail.stop();
    expect(records.map((r) => r.decoded.ok)).toEqual([true, false, false, false, false, true]);
    const reasons = records.map((r) => (r.decoded.ok ? '' : r.decoded.error.reason));
    expect(reasons[1]).toMatch(/not valid UTF-8.*byte offset \d+/);
    expect(reasons[2]).toMatch(/not valid JSON.*line 3, byte offset/);
    expect(reasons[3]).toMatch(/event time is required.*line 4/);
    expect(reasons[4]).toMatch(/expected a CADF record object/);
    expect(records[2]!.rawText).toBe('not json at all');
    expect(ids(records).at(-1)).toBe('e-2');
  });
});

describe('identity helpers', () => {
  const state = (content: string, over: Partial<FileState> = {}): FileState => ({
    path: '/x',
    dev: 1,
    ino: 2,
    fp: fingerprint(Buffer.from(content)),
    fpLength: Buffer.byteLength(content),
    offset: 10,
    line: 1,
    ...over,
  });

  it('recognises an inode reused by a new file by its first bytes, and finds a copy by its fingerprint', async () => {
    const contents = ['new file, same inode', 'old content and more written after'];
    const prefix = async (i: number, n: number) => Buffer.from(contents[i]!).subarray(0, n);
    const candidates = [
      { path: '/x', dev: 1, ino: 2, gz: false, live: true },
      { path: '/x.1', dev: 1, ino: 3, gz: false, live: false },
    ];
    const matched = await matchFiles([state('old content')], candidates, prefix);
    expect(matched.has(0)).toBe(false);
    expect(matched.get(1)?.path).toBe('/x');
    // Same inode and same first bytes: the same file.
    const same = await matchFiles([state('new file')], candidates, prefix);
    expect([...same.keys()]).toEqual([0]);
    // A file now shorter than its fingerprint is not the same file.
    expect((await matchFiles([state('new file, same inode, longer')], candidates.slice(0, 1), prefix)).size).toBe(0);
  });

  it('parses generation names and the service of a file', () => {
    expect(parseGeneration('/l/a-audit.log.1')).toMatchObject({ base: '/l/a-audit.log', gz: false });
    expect(parseGeneration('/l/a-audit.log.2.gz')).toMatchObject({ base: '/l/a-audit.log', gz: true });
    expect(parseGeneration('/l/a-audit.log-20260314.gz')).toMatchObject({ base: '/l/a-audit.log', gz: true });
    expect(parseGeneration('/l/a-audit.log')).toBeUndefined();
    expect(parseGeneration('/l/a.log.12')!.age < parseGeneration('/l/a.log.2')!.age).toBe(true);
    expect(serviceFromPath('/var/log/audit/platform-identity-management-audit.log')).toBe('platform-identity-management');
    expect(serviceFromPath('/app/logs/audit/pdp-audit.log.1.gz')).toBe('pdp');
    expect(serviceFromPath('/x/other.log')).toBeUndefined();
  });

  it('splits lines holding at most maxLineBytes of an unfinished one', () => {
    const out: LineEvent[] = [];
    const s = new LineSplitter(8, 100);
    s.push(Buffer.from('abc\r\n0123456789'), (e) => out.push(e));
    s.push(Buffer.from('abcdef\nxy'), (e) => out.push(e));
    expect(out.map((e) => [e.kind, e.start, e.end, e.kind === 'line' ? e.body.toString() : ''])).toEqual([
      ['line', 100, 105, 'abc'],
      ['too-long', 105, 122, ''],
    ]);
    expect(s.lineOffset).toBe(122);
    expect(s.finish()).toMatchObject({ kind: 'line', start: 122, end: 124 });
  });

  it('starts a file whose inode matches the position but whose first bytes differ from the beginning', async () => {
    const dir = await freshDir();
    const file = path.join(dir, 'a-audit.log');
    await writeFile(file, lines(10, 3));
    const s = await stat(file);
    const old = cadf(1);
    const position: AuditFilesPosition = {
      v: 1,
      file: { path: file, dev: s.dev, ino: s.ino, fp: fingerprint(Buffer.from(old)), fpLength: Buffer.byteLength(old), offset: 200, line: 1 },
      others: [],
    };
    const tail = new Tail(auditFiles(dir, [file]), position);
    await tail.waitFor(3);
    expect((await tail.stop()).map(idOf)).toEqual(range(10, 3));
  });
});

describe('rotation while reading', () => {
  it('reads a renamed file to its end, including what is written to it after the rename, then the new file', async () => {
    const dir = await freshDir();
    const file = path.join(dir, 'a-audit.log');
    await writeFile(file, lines(1, 5));
    const source = auditFiles(dir, [file]);
    const tail = new Tail(source);
    await tail.waitFor(5);
    await rename(file, `${file}.1`);
    await appendFile(`${file}.1`, lines(6, 2));
    await writeFile(file, lines(8, 3));
    await tail.waitFor(10);
    const records = await tail.stop();
    expect([...ids(records)].sort()).toEqual([...range(1, 10)].sort());
    expect(records.filter((r) => idOf(r) === 'e-6')[0]!.locator).toBe(`${file}.1:6`);
    expect(source.stats().rotations_total).toBe(1);
  });

  it('keeps reading a file renamed while a chunk of it is pulled (the iterator is pulled, not pushed)', async () => {
    const dir = await freshDir();
    const file = path.join(dir, 'a-audit.log');
    await writeFile(file, lines(1, 3000));
    const controller = new AbortController();
    const it = auditFiles(dir, [file]).read(undefined, { signal: controller.signal })[Symbol.asyncIterator]();
    const got: SourceRecord[] = [...((await it.next()).value as SourceRecord[])];
    expect(got.length).toBeLessThan(3000);
    await rename(file, `${file}.1`);
    await writeFile(file, lines(5000, 2));
    while (got.length < 3002) got.push(...((await it.next()).value as SourceRecord[]));
    controller.abort();
    await it.return?.();
    expect(new Set(ids(got))).toEqual(new Set([...range(1, 3000), ...range(5000, 2)]));
  });

  it('finishes a file deleted while being read, from its descriptor', async () => {
    const dir = await freshDir();
    const file = path.join(dir, 'a-audit.log');
    await writeFile(file, lines(1, 3000));
    const controller = new AbortController();
    const it = auditFiles(dir, [file]).read(undefined, { signal: controller.signal })[Symbol.asyncIterator]();
    const got: SourceRecord[] = [...((await it.next()).value as SourceRecord[])];
    await unlink(file);
    while (got.length < 3000) got.push(...((await it.next()).value as SourceRecord[]));
    controller.abort();
    await it.return?.();
    expect(ids(got)).toEqual(range(1, 3000));
  });

  it('copytruncate: restarts at 0 without losing what was written before the truncation was noticed', async () => {
    const dir = await freshDir();
    const file = path.join(dir, 'a-audit.log');
    await writeFile(file, lines(1, 5));
    const source = auditFiles(dir, [file], { pollInterval: 200 });
    const tail = new Tail(source);
    await tail.waitFor(5);
    // Appended, copied and truncated at once: lines 6-7 may only be readable from the copy.
    await appendFile(file, lines(6, 2));
    await copyFile(file, `${file}.1`);
    await truncate(file, 0);
    await appendFile(file, lines(8, 2));
    await tail.waitFor(9);
    await until(() => (source.stats().truncations_total ?? 0) >= 1, 'the truncation');
    const records = await tail.stop();
    expect(new Set(ids(records))).toEqual(new Set(range(1, 9)));
    expect(source.stats().truncations_total).toBe(1);
  });

  it('copytruncate with the file rewritten past the old offset before the check', async () => {
    const dir = await freshDir();
    const file = path.join(dir, 'a-audit.log');
    await writeFile(file, lines(1, 3));
    const source = auditFiles(dir, [file], { pollInterval: 200 });
    const tail = new Tail(source);
    await tail.waitFor(3);
    await copyFile(file, `${file}.1`);
    await writeFile(file, lines(100, 6, { note: 'rewritten' }));
    await tail.waitFor(9);
    const records = await tail.stop();
    expect(records.every((r) => r.decoded.ok)).toBe(true);
    expect(new Set(ids(records))).toEqual(new Set([...range(1, 3), ...range(100, 6)]));
  });
});

describe('files and directories', () => {
  it('picks up a directory and a file created after start', async () => {
    const dir = await freshDir();
    const tail = new Tail(auditFiles(dir, [path.join(dir, 'later/*-audit.log')]));
    await mkdir(path.join(dir, 'later'));
    await writeFile(path.join(dir, 'later', 'pdp-audit.log'), lines(1, 2));
    await tail.waitFor(2);
    expect((await tail.stop()).map(idOf)).toEqual(range(1, 2));
  });

  it('interleaves files so one big file does not starve another, and resumes both from one position', async () => {
    const dir = await freshDir();
    const big = path.join(dir, 'big-audit.log');
    const small = path.join(dir, 'small-audit.log');
    await writeFile(big, lines(1, 4000));
    await writeFile(small, lines(10_001, 5));
    const tail = new Tail(auditFiles(dir, [path.join(dir, '*-audit.log')]));
    await tail.waitFor(4005);
    const records = await tail.stop();
    const firstSmall = records.findIndex((r) => idOf(r) === 'e-10001');
    expect(firstSmall).toBeLessThan(4000);
    // A record's position carries the state of the other file as of that record.
    const mid = records[firstSmall]!;
    const bigBefore = records.slice(0, firstSmall).filter((r) => pos(r).file.path === big).at(-1)!;
    expect(pos(mid).others.find((s) => s.path === big)?.offset).toBe(pos(bigBefore).file.offset);
    // Resuming from it reads exactly the rest of both files.
    const rest = new Tail(auditFiles(dir, [path.join(dir, '*-audit.log')]), mid.position);
    await rest.waitFor(4005 - firstSmall - 1);
    const after = await rest.stop();
    expect(new Set([...ids(records.slice(0, firstSmall + 1)), ...ids(after)]).size).toBe(4005);
    expect(after.length).toBe(4005 - firstSmall - 1);
  });
});

describe('rotated generations after a stop', () => {
  async function stoppedAt(dir: string, file: string, count: number, at: number): Promise<Position> {
    await writeFile(file, lines(1, count));
    const tail = new Tail(auditFiles(dir, [file]));
    await tail.waitFor(count);
    return (await tail.stop())[at - 1]!.position;
  }

  it('reads the rest of a renamed file from its .1 generation, then the new file; ignores generations never seen', async () => {
    const dir = await freshDir();
    const file = path.join(dir, 'a-audit.log');
    await writeFile(`${file}.2`, lines(900, 3));
    const position = await stoppedAt(dir, file, 5, 3);
    await rename(file, `${file}.1`);
    await writeFile(file, lines(6, 2));
    const source = auditFiles(dir, [file]);
    const tail = new Tail(source, position);
    await tail.waitFor(4);
    const records = await tail.stop();
    expect(new Set(ids(records))).toEqual(new Set(range(4, 4)));
    expect(source.stats()).toMatchObject({ rotated_generations_read_total: 1, rotations_total: 1 });
  });

  it('reads a generation newer than a known one whole (rotated twice while stopped)', async () => {
    const dir = await freshDir();
    const file = path.join(dir, 'a-audit.log');
    await writeFile(`${file}.3`, lines(900, 3));
    const position = await stoppedAt(dir, file, 5, 3);
    await rename(file, `${file}.2`);
    await writeFile(`${file}.1`, lines(6, 2));
    await writeFile(file, lines(8, 2));
    const source = auditFiles(dir, [file]);
    const tail = new Tail(source, position);
    await tail.waitFor(6);
    expect(new Set(ids(await tail.stop()))).toEqual(new Set(range(4, 6)));
    expect(source.stats().rotated_generations_read_total).toBe(2);
  });

  it('reads the rest from a .1.gz generation (offsets in decompressed bytes)', async () => {
    const dir = await freshDir();
    const file = path.join(dir, 'a-audit.log');
    const position = await stoppedAt(dir, file, 5, 3);
    await writeFile(`${file}.1.gz`, gzipSync(await readFile(file)));
    await unlink(file);
    await writeFile(file, lines(6, 2));
    const source = auditFiles(dir, [file]);
    const tail = new Tail(source, position);
    await tail.waitFor(4);
    const records = await tail.stop();
    expect(new Set(ids(records))).toEqual(new Set(range(4, 4)));
    expect(records.find((r) => idOf(r) === 'e-4')!.locator).toBe(`${file}.1.gz:4`);
    expect(source.stats().rotated_generations_read_total).toBe(1);
  });

  it('reads the rest from the copy of a file truncated while stopped', async () => {
    const dir = await freshDir();
    const file = path.join(dir, 'a-audit.log');
    const position = await stoppedAt(dir, file, 5, 3);
    await copyFile(file, `${file}.1`);
    await writeFile(file, lines(6, 2));
    const tail = new Tail(auditFiles(dir, [file]), position);
    await tail.waitFor(4);
    expect(new Set(ids(await tail.stop()))).toEqual(new Set(range(4, 4)));
  });

  it('a file first seen holding part of a line: its positions still identify it, so a copytruncate while stopped loses nothing', async () => {
    // Every line starts alike (`{"id":"e-`): a fingerprint of the few bytes written when the file was first
    // seen would match any later content, and the restart would skip that many bytes of the new file.
    const dir = await freshDir();
    const file = path.join(dir, 'a-audit.log');
    const first = cadf(1);
    await writeFile(file, first.slice(0, 8));
    const tail = new Tail(auditFiles(dir, [file]));
    await new Promise((r) => setTimeout(r, 100)); // the source has opened the file and fingerprinted 8 bytes
    await appendFile(file, first.slice(8) + lines(2, 4));
    await tail.waitFor(5);
    const records = await tail.stop();
    const position = records[4]!.position;
    expect((position as AuditFilesPosition).file.fpLength).toBeGreaterThanOrEqual(Math.min(1024, (position as AuditFilesPosition).file.offset));
    // Rotated by copytruncate while stopped; the service wrote more than was read before the restart.
    await copyFile(file, `${file}.1`);
    await writeFile(file, lines(6, 8));
    const again = new Tail(auditFiles(dir, [file]), position);
    await again.waitFor(8);
    await new Promise((r) => setTimeout(r, 100));
    expect(ids(await again.stop())).toEqual(range(6, 8));
  });

  it('copytruncate of a file first seen with part of a line, while the reader is held back: its copy is read', async () => {
    // The source is pulled, so a slow sink holds it back; meanwhile the file gets its lines and is rotated.
    const dir = await freshDir();
    const other = path.join(dir, 'other-audit.log');
    const file = path.join(dir, 'p-audit.log');
    await writeFile(other, lines(1000, 300));
    const first = cadf(1);
    await writeFile(file, first.slice(0, 8));
    const controller = new AbortController();
    const iterator = auditFiles(dir, [path.join(dir, '*-audit.log')])
      .read(undefined, { signal: controller.signal })
      [Symbol.asyncIterator]();
    const got: SourceRecord[] = [];
    const chunk = await iterator.next();
    got.push(...(chunk.value as SourceRecord[]));
    await appendFile(file, first.slice(8) + lines(2, 4));
    await copyFile(file, `${file}.1`);
    await truncate(file, 0);
    await appendFile(file, lines(6, 5));
    const expected = new Set([...range(1000, 300), ...range(1, 10)]);
    while (![...expected].every((id) => got.some((r) => idOf(r) === id))) {
      const next = await Promise.race([iterator.next(), new Promise<undefined>((r) => setTimeout(() => r(undefined), 5_000))]);
      if (next === undefined) break;
      got.push(...(next.value as SourceRecord[]));
    }
    controller.abort();
    await iterator.return?.();
    expect(range(1, 10).filter((id) => !got.some((r) => idOf(r) === id))).toEqual([]);
  });

  it('does not read generations with readRotated: false', async () => {
    const dir = await freshDir();
    const file = path.join(dir, 'a-audit.log');
    const position = await stoppedAt(dir, file, 5, 3);
    await rename(file, `${file}.1`);
    await writeFile(file, lines(6, 2));
    const tail = new Tail(auditFiles(dir, [file], { readRotated: false }), position);
    await tail.waitFor(2);
    expect(ids(await tail.stop())).toEqual(range(6, 2));
  });
});

describe('replay', () => {
  it('reads current and rotated files once, yields the records in the range, and ends', async () => {
    const dir = await freshDir();
    const file = path.join(dir, 'a-audit.log');
    await writeFile(`${file}.2.gz`, gzipSync(lines(1, 10)));
    await writeFile(`${file}.1`, lines(11, 10).slice(0, -1)); // last line without newline: complete in a generation
    await writeFile(file, `${lines(21, 10)}not json\n`);
    const source = auditFiles(dir, [file]);
    const records = await replay(source, time(5), time(25));
    expect(ids(records)).toEqual(range(5, 20));
    expect(source.progress?.()).toMatchObject({ unit: 'bytes' });
    expect(source.progress?.()?.done).toBe(source.progress?.()?.total);
    // Resuming a replay from one of its positions reads only the rest.
    const rest = await replay(auditFiles(dir, [file]), time(5), time(25), records[9]!.position);
    expect(ids(rest)).toEqual(range(15, 10));
  });
});
