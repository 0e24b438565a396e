// The ledger writer on real files: durable appends that continue the chain across reopens, torn tails, corruption refused, rolling.
import { generateKeyPairSync } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { appendFile, mkdtemp, readdir, readFile, rm, stat, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ForwarderError } from '../../src/contracts/errors.ts';
import type { ForwarderErrorCode } from '../../src/contracts/errors.ts';
import { formatEntry, GENESIS_HASH } from '../../src/ledger/entry.ts';
import type { LedgerEntryInput } from '../../src/ledger/entry.ts';
import { listLedgerFiles, openLedgerWriter } from '../../src/ledger/ledger-file.ts';
import type { LedgerTornTail } from '../../src/ledger/ledger-file.ts';
import { readLedger } from '../../src/ledger/read.ts';

const DAY1 = '2026-03-01';
const DAY2 = '2026-03-02';
const DAY3 = '2026-03-03';

/** The entry of minute `n` (of event time) of `sink`, written at `closedDay`. */
function input(n: number, over: Partial<LedgerEntryInput> & { closedDay?: string } = {}): LedgerEntryInput {
  const { closedDay = DAY1, ...rest } = over;
  const mm = String(n % 60).padStart(2, '0');
  const hh = String(Math.floor(n / 60) % 24).padStart(2, '0');
  return {
    route: 'r1',
    sink: 'splunk',
    window: { from: `${DAY1}T${hh}:${mm}:00.000000Z`, to: `${DAY1}T${hh}:${mm}:59.999999Z` },
    part: 0,
    late: false,
    counts: { read: n, selected: n, delivered: n, skipped: 0, rejected: 0, dead_lettered: 0 },
    digest: n.toString(16).padStart(64, '0'),
    closedAt: `${closedDay}T23:59:00.000000Z`,
    ...rest,
  };
}

async function expectCode(p: Promise<unknown>, code: ForwarderErrorCode): Promise<ForwarderError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(ForwarderError);
    expect((e as ForwarderError).code, (e as Error).message).toBe(code);
    return e as ForwarderError;
  }
  throw new Error(`expected ${code}, got success`);
}

let root: string;
let dir: string;
let current: string;
let keys: { privateKey: KeyObject; publicKey: KeyObject };

beforeEach(async () => {
  root = await mkdtemp(path.join(tmpdir(), 'fwd-ledger-'));
  dir = path.join(root, 'state', 'ledger');
  current = path.join(dir, 'r1.jsonl');
  keys = generateKeyPairSync('ed25519');
});

afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

/** Reads the ledger back: it must verify (signed by `keys` unless `signed` is false). */
async function verified(signed = true): Promise<Awaited<ReturnType<typeof readLedger>>> {
  const result = await readLedger(dir, 'r1', { publicKey: keys.publicKey, requireSignatures: signed });
  expect(result.problems).toEqual([]);
  expect(result.tampered).toBe(false);
  expect(result.entries.map((e) => e.seq)).toEqual(result.entries.map((_e, i) => i + 1));
  return result;
}

const lines = async (file: string): Promise<string[]> => (await readFile(file, 'utf8')).split('\n').filter((l) => l !== '');

describe('openLedgerWriter / append', () => {
  it('appends durably and continues seq and prev after a reopen', async () => {
    const w = await openLedgerWriter(dir, 'r1', { signingKey: keys.privateKey });
    expect(w.lastSeq).toBe(0);
    expect(w.lastHash).toBe(GENESIS_HASH);
    expect(w.file).toBe(current);
    const a = await w.append(input(1));
    const b = await w.append(input(2));
    expect(a).toMatchObject({ written: true, entry: { seq: 1, prev: GENESIS_HASH } });
    expect(b.entry).toMatchObject({ seq: 2, prev: a.entry.hash });
    expect(w.lastSeq).toBe(2);
    expect(w.lastHash).toBe(b.entry.hash);
    await w.close();
    await expect(w.append(input(3))).rejects.toThrow(/closed/);

    const w2 = await openLedgerWriter(dir, 'r1', { signingKey: keys.privateKey });
    expect(w2.lastSeq).toBe(2);
    expect(w2.lastHash).toBe(b.entry.hash);
    const c = await w2.append(input(3));
    expect(c.entry).toMatchObject({ seq: 3, prev: b.entry.hash });
    await w2.close();
    const result = await verified();
    expect(result.entries).toEqual([a.entry, b.entry, c.entry]);
    expect(result.files).toEqual([current]);
    expect(await lines(current)).toHaveLength(3);
  });

  it('serialises appends of several sinks sharing the writer', async () => {
    const w = await openLedgerWriter(dir, 'r1', { signingKey: keys.privateKey });
    const sinks = ['splunk', 'elastic', 'syslog'];
    const results = await Promise.all(Array.from({ length: 30 }, (_v, i) => w.append(input(Math.floor(i / 3), { sink: sinks[i % 3]! }))));
    expect(results.map((r) => r.entry.seq)).toEqual(Array.from({ length: 30 }, (_v, i) => i + 1));
    await w.close();
    expect((await verified()).entries).toHaveLength(30);
  });

  it('creates the directory 0700 and the files 0600', async () => {
    const w = await openLedgerWriter(dir, 'r1', { maxBytes: 600 });
    for (let i = 0; i < 4; i++) await w.append(input(i));
    await w.close();
    expect((await stat(dir)).mode & 0o777).toBe(0o700);
    const files = await listLedgerFiles(dir, 'r1');
    expect(files.length).toBeGreaterThan(1);
    for (const f of files) expect((await stat(f)).mode & 0o777, f).toBe(0o600);
  });

  it('writes nothing for an entry derived again with the same content; writes and reports a conflicting one', async () => {
    const w = await openLedgerWriter(dir, 'r1');
    const first = await w.append(input(1));
    await w.append(input(2));
    const before = await readFile(current, 'utf8');
    const again = await w.append(input(1, { closedAt: `${DAY1}T23:59:30.000000Z` }));
    expect(again).toEqual({ entry: first.entry, written: false });
    expect(await readFile(current, 'utf8')).toBe(before);
    expect(w.lastSeq).toBe(2);

    // After a reopen too (the crash case).
    await w.close();
    const w2 = await openLedgerWriter(dir, 'r1');
    expect(await w2.append(input(1))).toEqual({ entry: first.entry, written: false });
    // The same window of another sink, or a late part, is another entry.
    expect((await w2.append(input(1, { sink: 'elastic' }))).written).toBe(true);
    expect((await w2.append(input(1, { part: 1, late: true }))).written).toBe(true);
    const conflicting = await w2.append(input(1, { counts: { ...input(1).counts, delivered: 0, rejected: 1 } }));
    expect(conflicting.written).toBe(true);
    expect(conflicting.conflictsWith).toEqual(first.entry);
    await w2.close();
    const result = await readLedger(dir, 'r1');
    expect(result.problems).toMatchObject([{ kind: 'conflict', line: 5, file: current }]);
    expect(result.entries.map((e) => e.seq)).toEqual([1, 2, 3, 4]);
  });

  it('refuses input of another route or that breaks the format, writing nothing', async () => {
    const w = await openLedgerWriter(dir, 'r1');
    await w.append(input(1));
    await expect(w.append(input(2, { route: 'r2' }))).rejects.toThrow(TypeError);
    await expect(w.append(input(2, { digest: 'nope' }))).rejects.toThrow(TypeError);
    expect(w.lastSeq).toBe(1);
    expect((await w.append(input(2))).entry.seq).toBe(2);
    await w.close();
    expect(await lines(current)).toHaveLength(2);
  });

  it('says FWD_LEDGER_IO, naming the file, when the ledger cannot be opened', async () => {
    await writeFile(path.join(root, 'state'), 'a file where the directory should be');
    const e = await expectCode(openLedgerWriter(dir, 'r1'), 'FWD_LEDGER_IO');
    expect(e.message).toContain(current);
  });

  it('refuses a route name that cannot name ledger files', async () => {
    for (const bad of ['', '../x', 'a/b', '..', 'r1.2026-03-01', 'r1.2026-03-01.2']) {
      await expectCode(openLedgerWriter(dir, bad), 'FWD_CONFIG_INVALID');
    }
  });
});

describe('torn tail', () => {
  it('sets the partial line aside, cuts the file back to its last line, and goes on', async () => {
    const w = await openLedgerWriter(dir, 'r1', { signingKey: keys.privateKey });
    const a = await w.append(input(1));
    const b = await w.append(input(2));
    await w.close();
    const whole = await readFile(current, 'utf8');
    // A crash in the middle of writing entry 3.
    const third = formatEntry(input(3), 3, b.entry.hash, keys.privateKey).line;
    const partial = third.slice(0, Math.floor(third.length / 2));
    await appendFile(current, partial);
    const crashed = await readLedger(dir, 'r1', { publicKey: keys.publicKey });
    expect(crashed.tampered).toBe(false);
    expect(crashed.problems).toMatchObject([{ kind: 'torn', line: 3, file: current }]);
    expect(crashed.entries).toEqual([a.entry, b.entry]);

    const torn: LedgerTornTail[] = [];
    const now = () => new Date('2026-03-01T12:34:56.789Z');
    const w2 = await openLedgerWriter(dir, 'r1', { signingKey: keys.privateKey, now, onTornTail: (t) => torn.push(t) });
    const evidence = `${current}.torn-20260301T123456.789Z`;
    expect(torn).toEqual([{ file: current, evidence, bytes: Buffer.byteLength(partial) }]);
    expect(await readFile(evidence, 'utf8')).toBe(partial);
    expect((await stat(evidence)).mode & 0o777).toBe(0o600);
    expect(await readFile(current, 'utf8')).toBe(whole);
    expect(w2.lastSeq).toBe(2);
    expect((await w2.append(input(3))).entry.seq).toBe(3);
    // Ed25519 signatures are deterministic: the entry written again is byte for byte the one that was cut short.
    expect(`${(await lines(current))[2]}\n`).toBe(third);
    await w2.close();
    expect((await verified()).entries).toHaveLength(3);
    // The evidence file is not part of the ledger.
    expect(await listLedgerFiles(dir, 'r1')).toEqual([current]);
  });

  it('handles a torn first line (the file cut back to empty) and a second crash on the same second', async () => {
    const now = () => new Date('2026-03-01T00:00:00.000Z');
    const warned: LedgerTornTail[] = [];
    const w0 = await openLedgerWriter(dir, 'r1');
    await w0.close();
    await writeFile(current, '{"v":1,"seq":1,"rou', { mode: 0o600 });
    const w = await openLedgerWriter(dir, 'r1', { now, onTornTail: (t) => warned.push(t) });
    expect(w.lastSeq).toBe(0);
    expect(await readFile(current, 'utf8')).toBe('');
    await w.close();
    await writeFile(current, '{"v":1', { mode: 0o600 });
    const w2 = await openLedgerWriter(dir, 'r1', { now, onTornTail: (t) => warned.push(t) });
    expect(warned.map((t) => path.basename(t.evidence))).toEqual(['r1.jsonl.torn-20260301T000000.000Z', 'r1.jsonl.torn-20260301T000000.000Z-1']);
    expect((await w2.append(input(1))).entry).toMatchObject({ seq: 1, prev: GENESIS_HASH });
    await w2.close();
    await verified(false);
  });
});

describe('a ledger that was altered', () => {
  async function threeEntries(): Promise<string[]> {
    const w = await openLedgerWriter(dir, 'r1');
    for (let i = 1; i <= 3; i++) await w.append(input(i));
    await w.close();
    return lines(current);
  }

  it('refuses to open when the last complete line does not verify, naming file and line', async () => {
    const l = await threeEntries();
    await writeFile(current, `${[l[0], l[1], l[2]!.replace('"delivered":3', '"delivered":4')].join('\n')}\n`);
    const e = await expectCode(openLedgerWriter(dir, 'r1'), 'FWD_LEDGER_CORRUPT');
    expect(e.message).toContain(`${current} line 3`);
    expect(e.message).toMatch(/altered/);
    expect(e.stage).toBe('ledger');
  });

  it('refuses to open when a middle line does not parse, or the chain is broken', async () => {
    const l = await threeEntries();
    await writeFile(current, `${[l[0], '{"v":1}', l[2]].join('\n')}\n`);
    expect((await expectCode(openLedgerWriter(dir, 'r1'), 'FWD_LEDGER_CORRUPT')).message).toContain(`${current} line 2`);
    await writeFile(current, `${[l[0], l[2]].join('\n')}\n`);
    expect((await expectCode(openLedgerWriter(dir, 'r1'), 'FWD_LEDGER_CORRUPT')).message).toContain(`${current} line 2`);
    await writeFile(current, `${[l[1], l[2]].join('\n')}\n`);
    // Without its first line and without a rolled file before it, the file looks like one whose older files
    // retention removed: that is allowed. Without the first line and with the genesis link it is not.
    const w = await openLedgerWriter(dir, 'r1');
    expect(w.lastSeq).toBe(3);
    await w.close();
    await writeFile(current, `${[l[0], l[0]].join('\n')}\n`);
    expect((await expectCode(openLedgerWriter(dir, 'r1'), 'FWD_LEDGER_CORRUPT')).message).toContain(`${current} line 2`);
    await writeFile(current, `${l[0]!.replace(/"hash":"[0-9a-f]{64}"/, `"hash":"${'1'.repeat(64)}"`)}\n`);
    await expectCode(openLedgerWriter(dir, 'r1'), 'FWD_LEDGER_CORRUPT');
  });

  it('refuses to open when the current file does not follow the newest rolled file', async () => {
    const w = await openLedgerWriter(dir, 'r1');
    await w.append(input(1, { closedDay: DAY1 }));
    await w.append(input(2, { closedDay: DAY1 }));
    await w.append(input(3, { closedDay: DAY2 }));
    await w.append(input(4, { closedDay: DAY3 }));
    await w.close();
    const rolled = path.join(dir, `r1.${DAY2}.jsonl`);
    await unlink(rolled);
    const e = await expectCode(openLedgerWriter(dir, 'r1'), 'FWD_LEDGER_CORRUPT');
    expect(e.message).toContain(`${current} line 1`);
    expect(e.message).toContain(`r1.${DAY1}.jsonl`);
  });
});

describe('rolling', () => {
  it('rolls by the UTC day of closedAt, keeping one verifiable chain across files', async () => {
    const w = await openLedgerWriter(dir, 'r1', { signingKey: keys.privateKey });
    await w.append(input(1, { closedDay: DAY1 }));
    await w.append(input(2, { closedDay: DAY1 }));
    await w.append(input(3, { closedDay: DAY2 }));
    await w.append(input(4, { closedDay: DAY2 }));
    const last = await w.append(input(5, { closedDay: DAY3 }));
    await w.close();
    const expectedFiles = [`r1.${DAY1}.jsonl`, `r1.${DAY2}.jsonl`, 'r1.jsonl'].map((f) => path.join(dir, f));
    const result = await verified();
    expect(result.files).toEqual(expectedFiles);
    expect(result.entries.map((e) => e.seq)).toEqual([1, 2, 3, 4, 5]);
    for (const [i, n] of [2, 2, 1].entries()) expect(await lines(expectedFiles[i]!)).toHaveLength(n);
    for (const f of expectedFiles) expect((await stat(f)).mode & 0o777).toBe(0o600);

    // Reopen: the chain goes on from the current file; with the current file gone, from the newest rolled file.
    const w2 = await openLedgerWriter(dir, 'r1', { signingKey: keys.privateKey });
    expect([w2.lastSeq, w2.lastHash]).toEqual([5, last.entry.hash]);
    await w2.close();
    await unlink(current);
    const w3 = await openLedgerWriter(dir, 'r1', { signingKey: keys.privateKey });
    expect(w3.lastSeq).toBe(4);
    expect((await w3.append(input(6, { closedDay: DAY3 }))).entry.seq).toBe(5);
    await w3.close();
    await verified();
  });

  it('rolls by size, numbering the files of one day, each within maxBytes', async () => {
    const lineBytes = Buffer.byteLength(formatEntry(input(10), 10, GENESIS_HASH, keys.privateKey).line);
    const maxBytes = lineBytes * 3 + 10;
    const w = await openLedgerWriter(dir, 'r1', { signingKey: keys.privateKey, maxBytes });
    for (let i = 10; i < 20; i++) await w.append(input(i));
    await w.close();
    const names = ['r1.2026-03-01.jsonl', 'r1.2026-03-01.2.jsonl', 'r1.2026-03-01.3.jsonl', 'r1.jsonl'];
    const result = await verified();
    expect(result.files.map((f) => path.basename(f))).toEqual(names);
    expect(result.entries).toHaveLength(10);
    for (const f of result.files) expect((await stat(f)).size).toBeLessThanOrEqual(maxBytes);
    expect((await readdir(dir)).sort()).toEqual([...names].sort());
  });

  it('writes an entry larger than maxBytes alone in its file', async () => {
    const w = await openLedgerWriter(dir, 'r1', { maxBytes: 10 });
    for (let i = 0; i < 3; i++) await w.append(input(i));
    await w.close();
    const result = await verified(false);
    expect(result.files.map((f) => path.basename(f))).toEqual(['r1.2026-03-01.jsonl', 'r1.2026-03-01.2.jsonl', 'r1.jsonl']);
  });

  it('keeps the names in chain order when closedAt goes back a day (clock set back)', async () => {
    const w = await openLedgerWriter(dir, 'r1');
    await w.append(input(1, { closedDay: DAY2 }));
    await w.append(input(2, { closedDay: DAY1 }));
    await w.append(input(3, { closedDay: DAY3 }));
    await w.close();
    const result = await verified(false);
    expect(result.files.map((f) => path.basename(f))).toEqual([`r1.${DAY2}.jsonl`, `r1.${DAY2}.2.jsonl`, 'r1.jsonl']);
  });
});

describe('appendAll', () => {
  it('writes a group as one chain with the entries append would write, skips what is already there, and rolls by day inside a group', async () => {
    const w = await openLedgerWriter(dir, 'r1', { signingKey: keys.privateKey });
    await w.append(input(1));
    const results = await w.appendAll([input(1), input(2), input(3), input(4, { closedDay: DAY2 }), input(5, { closedDay: DAY2 })]);
    expect(results.map((r) => [r.entry.seq, r.written])).toEqual([
      [1, false],
      [2, true],
      [3, true],
      [4, true],
      [5, true],
    ]);
    expect(w.lastSeq).toBe(5);
    await w.close();
    const read = await verified();
    expect(read.entries.map((e) => e.seq)).toEqual([1, 2, 3, 4, 5]);
    expect(read.files.length).toBe(2);
    // Reopened, it continues the chain; re-deriving the group writes nothing.
    const again = await openLedgerWriter(dir, 'r1', { signingKey: keys.privateKey });
    expect((await again.appendAll([input(4, { closedDay: DAY2 }), input(5, { closedDay: DAY2 })])).every((r) => !r.written)).toBe(true);
    await again.close();
    expect((await verified()).entries.length).toBe(5);
  });
});
