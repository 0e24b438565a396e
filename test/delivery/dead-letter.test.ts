// Tests of the dead-letter store: durable appends as whole lines, torn tails tolerated, atomic replacement.
import { appendFile, mkdir, mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createDeadLetterStore } from '../../src/delivery/dead-letter.ts';
import type { DeadLetterEntry, InvalidDeadLetterLine, ListedDeadLetterEntry } from '../../src/delivery/dead-letter.ts';
import { ForwarderError } from '../../src/contracts/errors.ts';

let dir: string;
const clock = () => new Date('2026-02-03T04:05:06.789Z');

beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'fwd-dlq-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function collect(
  iterable: AsyncIterable<ListedDeadLetterEntry>,
): Promise<ListedDeadLetterEntry[]> {
  const out: ListedDeadLetterEntry[] = [];
  for await (const e of iterable) out.push(e);
  return out;
}

function listWithProblems(store: ReturnType<typeof createDeadLetterStore>) {
  const invalid: InvalidDeadLetterLine[] = [];
  return { entries: collect(store.list({ onInvalidLine: (i) => invalid.push(i) })), invalid };
}

describe('append, flush, list', () => {
  it('writes one JSON object per line, durably, in append order', async () => {
    const store = createDeadLetterStore(path.join(dir, 'dlq'), 'connect-to-splunk', { now: clock });
    expect(store.file).toBe(path.join(dir, 'dlq', 'connect-to-splunk.dlq.jsonl'));
    store.append({ sink: 'splunk', stage: 'decode', reason: 'not JSON', raw: '{"id":', locator: 'audit.jsonl:12', position: { offset: 99 } });
    store.append({
      route: 'connect-to-splunk',
      sink: 'splunk',
      stage: 'map',
      reason: 'no timestamp',
      path: 'time',
      eventId: 'ae1',
      event: { id: 'ae1', type: 'login' },
      position: { offset: 200 },
    });
    store.append({ sink: 'elastic', stage: 'sink', reason: 'mapper_parsing_exception', eventId: 'ae2', payload: '{"a":1}', time: '2026-01-01T00:00:00.000Z' });

    expect(await collect(store.list())).toEqual([]); // nothing on disk before flush
    expect(await store.count()).toBe(3);
    await store.flush();

    const text = await readFile(store.file, 'utf8');
    const lines = text.split('\n');
    expect(lines).toHaveLength(4);
    expect(lines[3]).toBe('');
    expect(lines[0]).toBe(
      '{"time":"2026-02-03T04:05:06.789Z","route":"connect-to-splunk","sink":"splunk","stage":"decode","reason":"not JSON",' +
        '"locator":"audit.jsonl:12","raw":"{\\"id\\":","position":{"offset":99}}',
    );
    const listed = await collect(store.list());
    expect(listed.map((e) => [e.line, e.stage, e.sink])).toEqual([
      [1, 'decode', 'splunk'],
      [2, 'map', 'splunk'],
      [3, 'sink', 'elastic'],
    ]);
    expect(listed[1]).toEqual({
      line: 2,
      time: '2026-02-03T04:05:06.789Z',
      route: 'connect-to-splunk',
      sink: 'splunk',
      stage: 'map',
      reason: 'no timestamp',
      path: 'time',
      eventId: 'ae1',
      event: { id: 'ae1', type: 'login' },
      position: { offset: 200 },
    });
    expect(listed[2]!.time).toBe('2026-01-01T00:00:00.000Z');
    expect(await store.count()).toBe(3);
    expect((await stat(store.file)).mode & 0o777).toBe(0o600);

    // a later flush appends; a flush with nothing buffered writes nothing
    store.append({ sink: 'splunk', stage: 'sink', reason: 'too large' });
    await store.flush();
    await store.flush();
    expect((await collect(store.list())).map((e) => e.line)).toEqual([1, 2, 3, 4]);
  });

  it('a missing file lists nothing', async () => {
    const store = createDeadLetterStore(dir, 'r1');
    expect(await collect(store.list())).toEqual([]);
    expect(await store.count()).toBe(0);
  });

  it('rejects malformed entries at append (a bug) and route names that could escape the directory', () => {
    const store = createDeadLetterStore(dir, 'r1');
    expect(() => store.append({ sink: 's', stage: 'elsewhere' as never, reason: 'x' })).toThrow(TypeError);
    expect(() => store.append({ sink: 's', stage: 'map', reason: 'x', event: { n: 1n } })).toThrow(TypeError);
    for (const route of ['../x', '..', 'a/b', '', 'a b']) {
      expect(() => createDeadLetterStore(dir, route)).toThrow(ForwarderError);
    }
  });
});

describe('a crash mid-write', () => {
  it('the torn last line is reported, not thrown, and later appends start on a fresh line', async () => {
    const store = createDeadLetterStore(dir, 'r1', { now: clock });
    store.append({ sink: 's', stage: 'map', reason: 'one' });
    store.append({ sink: 's', stage: 'map', reason: 'two' });
    await store.flush();
    await appendFile(store.file, '{"time":"2026-02-03T04:05:06.789Z","route":"r1","sink":"s","sta');

    const first = listWithProblems(store);
    expect((await first.entries).map((e) => e.reason)).toEqual(['one', 'two']);
    expect(first.invalid).toHaveLength(1);
    expect(first.invalid[0]).toMatchObject({ file: store.file, line: 3, torn: true });
    expect(await store.count()).toBe(2);

    store.append({ sink: 's', stage: 'map', reason: 'three' });
    await store.flush();
    const second = listWithProblems(store);
    const entries = await second.entries;
    expect(entries.map((e) => [e.line, e.reason])).toEqual([
      [1, 'one'],
      [2, 'two'],
      [4, 'three'],
    ]);
    expect(second.invalid.map((i) => [i.line, i.torn])).toEqual([[3, false]]);
  });

  it('a complete entry missing only its newline is still an entry; damage mid-file is reported', async () => {
    const store = createDeadLetterStore(dir, 'r1');
    await writeFile(
      store.file,
      '{"time":"t","route":"r1","sink":"s","stage":"map","reason":"a"}\nnot json\n\n{"time":"t","route":"r1","sink":"s","stage":"map","reason":"b"}',
    );
    const { entries, invalid } = listWithProblems(store);
    expect((await entries).map((e) => [e.line, e.reason])).toEqual([
      [1, 'a'],
      [4, 'b'],
    ]);
    expect(invalid.map((i) => [i.line, i.torn, i.text])).toEqual([[2, false, 'not json']]);
  });

  it('without a handler, an invalid line becomes a process warning', async () => {
    const store = createDeadLetterStore(dir, 'r1');
    await writeFile(store.file, '{"time":');
    const warnings: Error[] = [];
    const onWarning = (w: Error) => warnings.push(w);
    process.on('warning', onWarning);
    try {
      expect(await collect(store.list())).toEqual([]);
      await new Promise((r) => setImmediate(r));
    } finally {
      process.off('warning', onWarning);
    }
    expect(warnings.map((w) => (w as Error & { code?: string }).code)).toEqual(['FWD_DEADLETTER_INVALID_LINE']);
  });
});

describe('markResolved', () => {
  it('hides resolved entries from list() and count(), keeps them in the file, and survives a torn mark', async () => {
    const store = createDeadLetterStore(dir, 'r1', { now: clock });
    for (const r of ['a', 'b', 'c', 'd']) store.append({ sink: 's', stage: 'sink', reason: r, eventId: `e-${r}` });
    await store.flush();
    const before = await readFile(store.file, 'utf8');
    const listed = await collect(store.list());
    await store.markResolved(listed.filter((e) => e.reason === 'b' || e.reason === 'd'), 'redriven');
    expect((await collect(store.list())).map((e) => [e.line, e.reason])).toEqual([
      [1, 'a'],
      [3, 'c'],
    ]);
    expect(await store.count()).toBe(2);
    expect((await collect(store.list({ includeResolved: true }))).map((e) => e.reason)).toEqual(['a', 'b', 'c', 'd']);
    // The dead-letter file itself is never rewritten.
    expect(await readFile(store.file, 'utf8')).toBe(before);
    expect((await readdir(dir)).sort()).toEqual(['r1.dlq.jsonl', 'r1.dlq.resolved.jsonl']);
    const marks = (await readFile(path.join(dir, 'r1.dlq.resolved.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l));
    expect(marks).toEqual([
      expect.objectContaining({ line: 2, sink: 's', eventId: 'e-b', how: 'redriven' }),
      expect.objectContaining({ line: 4, sink: 's', eventId: 'e-d', how: 'redriven' }),
    ]);
    // A crash while marking leaves a torn last line: that entry simply counts as unresolved.
    await writeFile(path.join(dir, 'r1.dlq.resolved.jsonl'), '{"line":1,"time":"20', { flag: 'a' });
    expect(await store.count()).toBe(2);
  });

  it('appends made while entries are being resolved are kept (no rewrite, no race)', async () => {
    const store = createDeadLetterStore(dir, 'r1', { now: clock });
    store.append({ sink: 's', stage: 'sink', reason: 'old' });
    await store.flush();
    const listed = await collect(store.list());
    const other = createDeadLetterStore(dir, 'r1', { now: clock });
    other.append({ sink: 's', stage: 'sink', reason: 'new, from a running route' });
    await Promise.all([other.flush(), store.markResolved(listed, 'redriven')]);
    expect((await collect(store.list())).map((e) => e.reason)).toEqual(['new, from a running route']);
  });
});

describe('concurrency', () => {
  it('concurrent appenders and flushers, through two stores on one file, never interleave partial lines', async () => {
    const a = createDeadLetterStore(dir, 'r1');
    const b = createDeadLetterStore(dir, 'r1');
    const callers = 12;
    const perCaller = 150;
    const big = 'x'.repeat(70_000); // larger than a pipe buffer or a page
    await Promise.all(
      Array.from({ length: callers }, async (_, c) => {
        const store = c % 2 === 0 ? a : b;
        for (let i = 0; i < perCaller; i++) {
          store.append({ sink: `caller-${c}`, stage: 'sink', reason: `${i}`, ...(i % 25 === 0 ? { payload: big } : {}) });
          if (i % 7 === c % 7) await store.flush();
          if (i % 3 === 0) await Promise.resolve();
        }
        await store.flush();
      }),
    );
    const { entries, invalid } = listWithProblems(a);
    const all = await entries;
    expect(invalid).toEqual([]);
    expect(all).toHaveLength(callers * perCaller);
    for (let c = 0; c < callers; c++) {
      const mine = all.filter((e) => e.sink === `caller-${c}`).map((e) => Number(e.reason));
      expect(mine).toEqual(Array.from({ length: perCaller }, (_, i) => i));
    }
    const lines = (await readFile(a.file, 'utf8')).split('\n');
    expect(lines.pop()).toBe('');
    expect(lines.every((l) => l.startsWith('{"time":') && l.endsWith('}'))).toBe(true);
  });
});

describe('I/O errors', () => {
  it('are FWD_DEADLETTER_IO, and the entries stay buffered for the next flush', async () => {
    const target = path.join(dir, 'dlq');
    await writeFile(target, 'not a directory');
    const store = createDeadLetterStore(target, 'r1');
    store.append({ sink: 's', stage: 'map', reason: 'kept' });
    const error = await store.flush().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ForwarderError);
    expect((error as ForwarderError).code).toBe('FWD_DEADLETTER_IO');
    expect((error as ForwarderError).stage).toBe('deadletter');
    await rm(target);
    await mkdir(target);
    await store.flush();
    expect((await collect(store.list())).map((e) => e.reason)).toEqual(['kept']);
  });
});
