// The `jsonl` source on real files: positions that resume exactly, files in path order, globs, odd lines, follow mode.
import { appendFile, mkdir, mkdtemp, rm, stat, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isForwarderError } from '../../src/contracts/errors.ts';
import type { Position, Source, SourceRecord } from '../../src/contracts/source.ts';
import { silentLogger } from '../../src/logging.ts';
import { jsonlSourceSchema } from '../../connectors/jsonl/config.ts';
import { createJsonlSource, type JsonlPosition } from '../../connectors/jsonl/source.ts';
import { connectEventJson, connectEventLines } from '../support/generate.ts';

let root: string;
beforeAll(async () => {
  root = await mkdtemp(path.join(tmpdir(), 'fwd-jsonl-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

const freshDir = () => mkdtemp(path.join(root, 'case-'));
const never = () => new AbortController().signal;

function jsonl(dir: string, paths: string[], options: Record<string, unknown> = {}): Source {
  const config = jsonlSourceSchema.parse({ type: 'jsonl', paths, format: 'connect', ...options });
  return createJsonlSource('test', config, { logger: silentLogger(), baseDir: dir });
}

async function readAll(source: Source, from?: Position): Promise<SourceRecord[]> {
  const out: SourceRecord[] = [];
  for await (const chunk of source.read(from, { signal: never() })) out.push(...chunk);
  return out;
}

const idOf = (r: SourceRecord) => (r.decoded.ok ? r.decoded.event.id : `invalid: ${r.decoded.error.reason}`);
const connectId = (i: number) => connectEventJson(i)['id'] as string;
const connectIds = (from: number, count: number) => Array.from({ length: count }, (_, k) => connectId(from + k));

function cadfLine(i: number): string {
  return JSON.stringify({
    id: `cadf-${i}`,
    eventTime: `2026-03-14T08:00:${String(i % 60).padStart(2, '0')}.250Z`,
    action: 'iam-identity.apikey.create',
    outcome: 'success',
    severity: 'normal',
    'initiator.id': 'iam-ServiceId-7c2a9e31',
    'initiator.typeURI': 'service/security/account/serviceid',
    'target.id': 'crn:v1:icp:private:iam-identity:::apikey:ApiKey-5d1e',
    'target.typeURI': 'API key',
  });
}

/** Byte offset just after each line of `text` (lines end with \n). */
function lineEnds(text: string): number[] {
  const ends: number[] = [];
  let at = 0;
  for (const line of text.split('\n').slice(0, -1)) {
    at += Buffer.byteLength(line) + 1;
    ends.push(at);
  }
  return ends;
}

/** Pulls records from a live read until `n` have arrived, failing after `ms` instead of hanging. */
function puller(source: Source, signal: AbortSignal, from?: Position) {
  const iterator = source.read(from, { signal })[Symbol.asyncIterator]();
  const got: SourceRecord[] = [];
  return {
    got,
    iterator,
    async until(n: number, ms = 5000): Promise<SourceRecord[]> {
      const deadline = Date.now() + ms;
      while (got.length < n) {
        const left = deadline - Date.now();
        const next = await Promise.race([iterator.next(), new Promise<'late'>((r) => setTimeout(() => r('late'), Math.max(left, 0)).unref())]);
        if (next === 'late') throw new Error(`only ${got.length} of ${n} records arrived within ${ms} ms`);
        if (next.done === true) throw new Error(`the read ended after ${got.length} of ${n} records`);
        got.push(...next.value);
      }
      return got;
    },
  };
}

/**
 * Asserts that a pull is still pending after several poll intervals: the reader has reached the end and is
 * waiting there. Nothing observable says "it is polling now", so this is the one bounded wait of the file.
 */
async function stillWaiting(pull: Promise<unknown>, ms = 60): Promise<void> {
  pull.catch(() => undefined);
  const first = await Promise.race([pull.then(() => 'arrived'), new Promise((r) => setTimeout(() => r('waiting'), ms))]);
  expect(first).toBe('waiting');
}

describe('jsonl source: positions', () => {
  it('reads every line with its position (file, byte offset after the line, line number) and locator', async () => {
    const dir = await freshDir();
    const file = path.join(dir, 'a.jsonl');
    const text = connectEventLines(0, 12);
    await writeFile(file, text);
    const records = await readAll(jsonl(dir, [file]));
    expect(records.map(idOf)).toEqual(connectIds(0, 12));
    const ends = lineEnds(text);
    const lines = text.split('\n');
    records.forEach((r, k) => {
      expect(r.position).toEqual({ file, offset: ends[k], line: k + 1 });
      expect(r.locator).toBe(`${file}:${k + 1}`);
      expect(r.bytes).toBe(Buffer.byteLength(lines[k]!));
      expect(r.rawText).toBe(lines[k]); // the line, kept by the engine instead of the event while in flight
    });
  });

  it('resumes from the position of any record with exactly the records after it', async () => {
    const dir = await freshDir();
    const file = path.join(dir, 'a.jsonl');
    await writeFile(file, connectEventLines(0, 8));
    const source = jsonl(dir, [file]);
    const all = await readAll(source);
    for (let k = 0; k < all.length; k++) {
      const rest = await readAll(source, JSON.parse(JSON.stringify(all[k]!.position)) as Position);
      expect(rest.map(idOf)).toEqual(connectIds(k + 1, 7 - k));
      expect(rest.map((r) => r.position)).toEqual(all.slice(k + 1).map((r) => r.position));
    }
  });

  it('reads several files in path order and resumes across them', async () => {
    const dir = await freshDir();
    const files = ['c.jsonl', 'a.jsonl', 'b.jsonl'].map((f) => path.join(dir, f));
    await writeFile(path.join(dir, 'a.jsonl'), connectEventLines(0, 3));
    await writeFile(path.join(dir, 'b.jsonl'), connectEventLines(3, 2));
    await writeFile(path.join(dir, 'c.jsonl'), connectEventLines(5, 4));
    const source = jsonl(dir, files);
    const all = await readAll(source);
    expect(all.map(idOf)).toEqual(connectIds(0, 9));
    expect(all.map((r) => path.basename((r.position as JsonlPosition).file))).toEqual([...'aaabbcccc'].map((c) => `${c}.jsonl`));
    for (let k = 0; k < all.length; k++) {
      expect((await readAll(source, all[k]!.position)).map(idOf)).toEqual(connectIds(k + 1, 8 - k));
    }
  });

  it('refuses a position beyond the end of its file (FWD_SOURCE_POSITION_INVALID)', async () => {
    const dir = await freshDir();
    const file = path.join(dir, 'a.jsonl');
    const text = connectEventLines(0, 2);
    await writeFile(file, text);
    const beyond: JsonlPosition = { file, offset: Buffer.byteLength(text) + 1, line: 3 };
    await expect(readAll(jsonl(dir, [file]), beyond)).rejects.toSatisfy((e) => isForwarderError(e, 'FWD_SOURCE_POSITION_INVALID'));
    await expect(readAll(jsonl(dir, [file]), 42)).rejects.toSatisfy((e) => isForwarderError(e, 'FWD_SOURCE_POSITION_INVALID'));
    // At the very end is fine: nothing more to read.
    expect(await readAll(jsonl(dir, [file]), { file, offset: Buffer.byteLength(text), line: 2 })).toEqual([]);
  });

  it('goes on with the later files when the file of the position is gone', async () => {
    const dir = await freshDir();
    const pattern = path.join(dir, '*.jsonl');
    await writeFile(path.join(dir, 'a.jsonl'), connectEventLines(0, 2));
    await writeFile(path.join(dir, 'b.jsonl'), connectEventLines(2, 2));
    await writeFile(path.join(dir, 'c.jsonl'), connectEventLines(4, 2));
    const source = jsonl(dir, [pattern]);
    const all = await readAll(source);
    await unlink(path.join(dir, 'b.jsonl'));
    const rest = await readAll(source, all[2]!.position);
    expect(rest.map(idOf)).toEqual(connectIds(4, 2));
  });
});

describe('jsonl source: files and patterns', () => {
  it('expands glob patterns (files only, each once, in path order) relative to the configuration directory', async () => {
    const dir = await freshDir();
    await mkdir(path.join(dir, 'sub', 'dir.jsonl'), { recursive: true });
    await writeFile(path.join(dir, 'b.jsonl'), connectEventLines(1, 1));
    await writeFile(path.join(dir, 'a.jsonl'), connectEventLines(0, 1));
    await writeFile(path.join(dir, 'c.log'), connectEventLines(9, 1));
    await writeFile(path.join(dir, 'sub', 'd.jsonl'), connectEventLines(2, 1));
    // Relative paths as written (the schema would resolve them against the working directory here).
    const defaults = jsonlSourceSchema.parse({ type: 'jsonl', paths: ['/'], format: 'connect' });
    const relative = (paths: string[]) => createJsonlSource('test', { ...defaults, paths }, { logger: silentLogger(), baseDir: dir });
    expect((await readAll(relative(['*.jsonl']))).map(idOf)).toEqual(connectIds(0, 2));
    expect((await readAll(relative(['**/*.jsonl']))).map(idOf)).toEqual(connectIds(0, 3));
    expect((await readAll(relative(['{b,a}.jsonl', 'a.jsonl', 'c.*']))).map(idOf)).toEqual([...connectIds(0, 2), connectId(9)]);
    expect(await readAll(relative(['nothing-*.jsonl']))).toEqual([]);
  });

  it('identity() changes when the paths or the format change, and only then', () => {
    const make = (paths: string[], format: string, follow = false) => jsonl('/etc', paths, { format, follow }).identity();
    expect(make(['/data/*.jsonl'], 'connect')).toEqual(make(['/data/*.jsonl'], 'connect', true));
    expect(make(['/data/*.jsonl'], 'connect')).not.toEqual(make(['/data/a.jsonl'], 'connect'));
    expect(make(['/data/*.jsonl'], 'connect')).not.toEqual(make(['/data/*.jsonl', '/more/*.jsonl'], 'connect'));
    expect(make(['/data/*.jsonl'], 'connect')).not.toEqual(make(['/data/*.jsonl'], 'cadf'));
    expect(make(['/data/*.jsonl'], 'auto')).not.toEqual(make(['/data/*.jsonl'], 'cadf'));
  });

  it('progress() counts bytes read against the total, also when resuming', async () => {
    const dir = await freshDir();
    await writeFile(path.join(dir, 'a.jsonl'), connectEventLines(0, 5));
    await writeFile(path.join(dir, 'b.jsonl'), connectEventLines(5, 5));
    const total = (await stat(path.join(dir, 'a.jsonl'))).size + (await stat(path.join(dir, 'b.jsonl'))).size;
    const source = jsonl(dir, [path.join(dir, '*.jsonl')]);
    expect(source.progress?.()).toBeUndefined();
    const all = await readAll(source);
    expect(source.progress?.()).toEqual({ done: total, total, unit: 'bytes' });
    await readAll(source, all[6]!.position);
    expect(source.progress?.()).toEqual({ done: total, total, unit: 'bytes' });
  });
});

describe('jsonl source: lines', () => {
  it('a final line without a newline is a record when not following', async () => {
    const dir = await freshDir();
    const file = path.join(dir, 'a.jsonl');
    const text = connectEventLines(0, 3).slice(0, -1);
    await writeFile(file, text);
    const records = await readAll(jsonl(dir, [file]));
    expect(records.map(idOf)).toEqual(connectIds(0, 3));
    expect(records[2]!.position).toEqual({ file, offset: Buffer.byteLength(text), line: 3 });
  });

  it('reads CRLF line ends, Connect and CADF lines alike, with offsets that count the CR', async () => {
    const dir = await freshDir();
    const file = path.join(dir, 'a.jsonl');
    const lines = [connectEventLines(0, 1).trim(), cadfLine(1), connectEventLines(2, 1).trim(), cadfLine(3)];
    const text = lines.map((l) => `${l}\r\n`).join('');
    await writeFile(file, text);
    const records = await readAll(jsonl(dir, [file], { format: 'auto' }));
    expect(records.map(idOf)).toEqual([connectId(0), 'cadf-1', connectId(2), 'cadf-3']);
    expect(records.map((r) => (r.position as JsonlPosition).offset)).toEqual(lineEnds(text));
    expect(records.map((r) => r.bytes)).toEqual(lines.map((l) => Buffer.byteLength(l)));
    expect((await readAll(jsonl(dir, [file], { format: 'auto' }), records[1]!.position)).map(idOf)).toEqual([connectId(2), 'cadf-3']);
  });

  it('reads CADF files with format cadf', async () => {
    const dir = await freshDir();
    const file = path.join(dir, 'audit.log');
    await writeFile(file, `${cadfLine(1)}\n${cadfLine(2)}\n`);
    const records = await readAll(jsonl(dir, [file], { format: 'cadf', service: 'auth-idp' }));
    expect(records.map(idOf)).toEqual(['cadf-1', 'cadf-2']);
    expect(records[0]!.decoded).toMatchObject({ ok: true, event: { origin: { kind: 'ibm-cadf', service: 'auth-idp' } } });
  });

  it('skips blank lines, but counts them in line numbers', async () => {
    const dir = await freshDir();
    const file = path.join(dir, 'a.jsonl');
    const [l0, l1] = connectEventLines(0, 2).split('\n');
    await writeFile(file, `\n${l0}\n\r\n\n${l1}\n\n`);
    const records = await readAll(jsonl(dir, [file]));
    expect(records.map(idOf)).toEqual(connectIds(0, 2));
    expect(records.map((r) => (r.position as JsonlPosition).line)).toEqual([2, 5]);
  });

  it('a line longer than maxLineBytes is an invalid record naming its offset, and reading goes on after it', async () => {
    const dir = await freshDir();
    const file = path.join(dir, 'a.jsonl');
    const before = connectEventLines(0, 2);
    const long = `{"pad":"${'x'.repeat(3000)}"}`;
    const after = connectEventLines(2, 2);
    await writeFile(file, `${before}${long}\n${after}`);
    const records = await readAll(jsonl(dir, [file], { maxLineBytes: 1024 }));
    expect(records).toHaveLength(5);
    expect(records.map(idOf).filter((_, k) => k !== 2)).toEqual(connectIds(0, 4));
    const offset = Buffer.byteLength(before);
    expect(records[2]!.decoded).toMatchObject({ ok: false, error: { reason: expect.stringContaining(`byte offset ${offset}`) } });
    expect(records[2]!.position).toEqual({ file, offset: offset + long.length + 1, line: 3 });
    expect(records[2]!.locator).toBe(`${file}:3`);
  });

  it.each([
    ['the 1 MiB read buffer, with the default limit', {}, 3 * 1024 * 1024],
    ['the 1 MiB read buffer, with a small limit', { maxLineBytes: 1024 }, 3 * 1024 * 1024],
    ['the limit, as the last line without a newline', { maxLineBytes: 1024 }, 5000],
  ])('a line longer than %s is one invalid record', async (what, options, size) => {
    const dir = await freshDir();
    const file = path.join(dir, 'a.jsonl');
    const before = connectEventLines(0, 1);
    const long = 'y'.repeat(size);
    const atEnd = what.includes('last line');
    await writeFile(file, atEnd ? `${before}${long}` : `${before}${long}\n${connectEventLines(1, 1)}`);
    const records = await readAll(jsonl(dir, [file], options));
    expect(records.map(idOf).filter((_, k) => k !== 1)).toEqual(connectIds(0, atEnd ? 1 : 2));
    expect(records[1]!.decoded).toMatchObject({ ok: false, error: { reason: expect.stringContaining(`byte offset ${before.length}`) } });
    expect(records[1]!.position).toEqual({ file, offset: before.length + size + (atEnd ? 0 : 1), line: 2 });
  });

  it('decodes a line longer than the 1 MiB read buffer when the limit allows it', async () => {
    const dir = await freshDir();
    const file = path.join(dir, 'a.jsonl');
    const big = JSON.stringify({ ...connectEventJson(0), message: 'm'.repeat(1_500_000) });
    const text = `${big}\n${connectEventLines(1, 1)}`;
    await writeFile(file, text);
    const records = await readAll(jsonl(dir, [file], { maxLineBytes: 2 * 1024 * 1024 }));
    expect(records.map(idOf)).toEqual(connectIds(0, 2));
    expect(records.map((r) => (r.position as JsonlPosition).offset)).toEqual(lineEnds(text));
  });

  it('a line that is not valid UTF-8 is an invalid record with its raw text, and reading goes on', async () => {
    const dir = await freshDir();
    const file = path.join(dir, 'a.jsonl');
    const [l0, l1] = connectEventLines(0, 2).split('\n');
    await writeFile(file, Buffer.concat([Buffer.from(`${l0}\n{"id":"`), Buffer.from([0xc3, 0x28, 0xff]), Buffer.from(`"}\n${l1}\n`)]));
    const records = await readAll(jsonl(dir, [file]));
    expect(records).toHaveLength(3);
    expect(records[1]!.decoded).toMatchObject({ ok: false, error: { reason: expect.stringMatching(/UTF-8.*byte offset \d+/) } });
    expect(records[1]!.rawText).toEqual(expect.any(String));
    expect(idOf(records[2]!)).toBe(connectId(1));
  });

  it('a line that is not JSON is an invalid record with the parse error and its raw text', async () => {
    const dir = await freshDir();
    const file = path.join(dir, 'a.jsonl');
    const [l0] = connectEventLines(0, 1).split('\n');
    await writeFile(file, `${l0}\nnot json at all\n{"truncated":\n`);
    const records = await readAll(jsonl(dir, [file]));
    expect(records.slice(1).map((r) => r.decoded)).toEqual([
      { ok: false, error: { path: '', reason: expect.stringMatching(/^not valid JSON: /) } },
      { ok: false, error: { path: '', reason: expect.stringMatching(/^not valid JSON: /) } },
    ]);
    expect(records.slice(1).map((r) => r.rawText)).toEqual(['not json at all', '{"truncated":']);
  });
});

describe('jsonl source: follow', () => {
  it('waits for the newline of a final line, then yields it as one record', async () => {
    const dir = await freshDir();
    const file = path.join(dir, 'a.jsonl');
    const text = connectEventLines(0, 3);
    const cut = text.length - 40;
    await writeFile(file, text.slice(0, cut));
    const stop = new AbortController();
    const source = jsonl(dir, [file], { follow: true, pollInterval: 10 });
    const reader = puller(source, stop.signal);
    await reader.until(2);
    const next = reader.until(3);
    await stillWaiting(next);
    await appendFile(file, text.slice(cut));
    expect((await next).map(idOf)).toEqual(connectIds(0, 3));
    expect(reader.got[2]!.position).toEqual({ file, offset: text.length, line: 3 });
    stop.abort();
  });

  it('picks up appended lines and new files matching the pattern', async () => {
    const dir = await freshDir();
    const pattern = path.join(dir, '*.jsonl');
    await writeFile(path.join(dir, 'a.jsonl'), connectEventLines(0, 2));
    const stop = new AbortController();
    const reader = puller(jsonl(dir, [pattern], { follow: true, pollInterval: 10 }), stop.signal);
    await reader.until(2);
    // Each change is made while the reader is waiting at the end, not before it gets there.
    let next = reader.until(4);
    await stillWaiting(next);
    await appendFile(path.join(dir, 'a.jsonl'), connectEventLines(2, 2));
    await next;
    next = reader.until(5);
    await stillWaiting(next);
    await writeFile(path.join(dir, 'b.jsonl'), connectEventLines(4, 1));
    await next;
    next = reader.until(6);
    await stillWaiting(next);
    await writeFile(path.join(dir, 'ignored.txt'), connectEventLines(99, 1));
    await appendFile(path.join(dir, 'b.jsonl'), connectEventLines(5, 1));
    await next;
    expect(reader.got.map(idOf)).toEqual(connectIds(0, 6));
    stop.abort();
  });

  it('waits for files to appear when none matches yet', async () => {
    const dir = await freshDir();
    const stop = new AbortController();
    const reader = puller(jsonl(dir, [path.join(dir, 'later', '*.jsonl')], { follow: true, pollInterval: 10 }), stop.signal);
    const first = reader.until(1);
    await mkdir(path.join(dir, 'later'));
    await writeFile(path.join(dir, 'later', 'x.jsonl'), connectEventLines(0, 1));
    expect((await first).map(idOf)).toEqual(connectIds(0, 1));
    stop.abort();
  });

  it('aborting the signal ends the iteration promptly, however long the poll interval', async () => {
    const dir = await freshDir();
    const file = path.join(dir, 'a.jsonl');
    await writeFile(file, connectEventLines(0, 1));
    const stop = new AbortController();
    const reader = puller(jsonl(dir, [file], { follow: true, pollInterval: 3_600_000 }), stop.signal);
    await reader.until(1);
    const next = reader.iterator.next();
    const started = Date.now();
    stop.abort();
    expect(await next).toEqual({ done: true, value: undefined });
    expect(Date.now() - started).toBeLessThan(1000);
  });
});
