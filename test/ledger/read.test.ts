// readLedger finds every kind of alteration — a changed byte, a removed or moved entry, a forged or missing signature, a conflict — and names the first bad entry.
import { createHash, generateKeyPairSync } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ForwarderError } from '../../src/contracts/errors.ts';
import { GENESIS_HASH } from '../../src/ledger/entry.ts';
import type { LedgerEntry, LedgerEntryInput } from '../../src/ledger/entry.ts';
import { openLedgerWriter } from '../../src/ledger/ledger-file.ts';
import { readLedger } from '../../src/ledger/read.ts';

function input(n: number, over: Partial<LedgerEntryInput> = {}): LedgerEntryInput {
  const mm = String(n).padStart(2, '0');
  return {
    route: 'r1',
    sink: n % 2 === 0 ? 'splunk' : 'elastic',
    window: { from: `2026-03-01T10:${mm}:00.000000Z`, to: `2026-03-01T10:${mm}:59.999999Z` },
    part: 0,
    late: false,
    counts: { read: 100 + n, selected: 90 + n, delivered: 80 + n, skipped: 10, rejected: 0, dead_lettered: 0 },
    digest: createHash('sha256').update(String(n)).digest('hex'),
    closedAt: `2026-03-01T10:${mm}:30.000000Z`,
    ...over,
  };
}

let dir: string;
let file: string;
let keys: { privateKey: KeyObject; publicKey: KeyObject };
/** The five entries of the ledger each test starts from. */
let written: LedgerEntry[];

beforeEach(async () => {
  dir = path.join(await mkdtemp(path.join(tmpdir(), 'fwd-ledger-read-')), 'ledger');
  file = path.join(dir, 'r1.jsonl');
  keys = generateKeyPairSync('ed25519');
  const w = await openLedgerWriter(dir, 'r1', { signingKey: keys.privateKey });
  written = [];
  for (let n = 1; n <= 5; n++) written.push((await w.append(input(n))).entry);
  await w.close();
});

afterEach(async () => {
  await rm(path.dirname(dir), { recursive: true, force: true });
});

const read = (options: Parameters<typeof readLedger>[2] = { publicKey: keys.publicKey, requireSignatures: true }) => readLedger(dir, 'r1', options);
const fileLines = async (): Promise<string[]> => (await readFile(file, 'utf8')).split('\n').slice(0, -1);
const writeLines = (lines: readonly string[]): Promise<void> => writeFile(file, `${lines.join('\n')}\n`);

describe('readLedger on an intact ledger', () => {
  it('returns every entry in chain order, no problem', async () => {
    const result = await read();
    expect(result).toEqual({ files: [file], entries: written, problems: [], tampered: false });
  });

  it('returns an empty result for a ledger that does not exist', async () => {
    expect(await readLedger(path.join(dir, 'nowhere'), 'r1')).toEqual({ files: [], entries: [], problems: [], tampered: false });
    expect(await readLedger(dir, 'r2')).toEqual({ files: [], entries: [], problems: [], tampered: false });
  });

  it('says FWD_LEDGER_IO, naming the file, when a file cannot be read', async () => {
    await rm(file);
    await mkdir(file);
    const e = await readLedger(dir, 'r1').then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(e).toBeInstanceOf(ForwarderError);
    expect((e as ForwarderError).code).toBe('FWD_LEDGER_IO');
    expect((e as ForwarderError).message).toContain(file);
  });

  it('wants the public key to require signatures, and a valid route', async () => {
    await expect(readLedger(dir, 'r1', { requireSignatures: true })).rejects.toThrow(TypeError);
    await expect(readLedger(dir, '../r1')).rejects.toBeInstanceOf(ForwarderError);
  });
});

describe('readLedger finds the alteration and names the first bad entry', () => {
  it('a flipped byte anywhere in a middle entry (every byte of line 3, its line break included)', async () => {
    const original = await readFile(file);
    const lines = await fileLines();
    const start = Buffer.byteLength(`${lines[0]}\n${lines[1]}\n`);
    const end = start + Buffer.byteLength(lines[2]!) + 1;
    const kinds = new Set<string>();
    for (let at = start; at < end; at++) {
      const altered = Buffer.from(original);
      altered[at] = altered[at]! ^ 0x01;
      await writeFile(file, altered);
      const result = await read();
      const where = `byte ${at - start} of line 3 (${JSON.stringify(String.fromCharCode(original[at]!))})`;
      expect(result.tampered, where).toBe(true);
      expect(result.firstBad, where).toMatchObject({ file, line: 3 });
      expect(result.entries, where).toEqual(written.slice(0, 2));
      kinds.add(result.firstBad!.kind);
    }
    // Depending on the byte: the line no longer parses, its body no longer hashes to its hash, or its signature fails.
    expect([...kinds].sort()).toEqual(['hash', 'parse', 'signature']);
  });

  it('a flipped byte in the body is found without the public key too', async () => {
    const lines = await fileLines();
    lines[2] = lines[2]!.replace('"delivered":83', '"delivered":84');
    await writeLines(lines);
    const result = await readLedger(dir, 'r1');
    expect(result.firstBad).toMatchObject({ file, line: 3, kind: 'hash' });
    expect(result.problems).toHaveLength(1);
  });

  it('a removed middle entry', async () => {
    const lines = await fileLines();
    await writeLines([lines[0]!, lines[1]!, lines[3]!, lines[4]!]);
    const result = await read();
    expect(result.tampered).toBe(true);
    expect(result.firstBad).toMatchObject({ file, line: 3, kind: 'chain' });
    expect(result.firstBad!.detail).toContain('seq 4');
    expect(result.problems).toHaveLength(1);
    expect(result.entries).toEqual(written.slice(0, 2));
  });

  it('two entries swapped', async () => {
    const lines = await fileLines();
    await writeLines([lines[0]!, lines[2]!, lines[1]!, lines[3]!, lines[4]!]);
    const result = await read();
    expect(result.firstBad).toMatchObject({ file, line: 2, kind: 'chain' });
    expect(result.problems.map((p) => [p.line, p.kind])).toEqual([
      [2, 'chain'],
      [3, 'chain'],
      [4, 'chain'],
    ]);
    expect(result.entries).toEqual(written.slice(0, 1));
  });

  it('the last entry removed is not seen by the chain alone (the writer and the heartbeats know the last seq)', async () => {
    const lines = await fileLines();
    await writeLines(lines.slice(0, 4));
    const result = await read();
    expect(result.tampered).toBe(false);
    expect(result.entries).toEqual(written.slice(0, 4));
  });

  it('a dropped signature, when signatures are required', async () => {
    const lines = await fileLines();
    lines[2] = lines[2]!.replace(/,"sig":"[^"]*"/, '');
    await writeLines(lines);
    const result = await read();
    expect(result.firstBad).toMatchObject({ file, line: 3, kind: 'unsigned' });
    expect(result.entries).toEqual(written.slice(0, 2));
    // Not required: the entry (hash and chain intact) stands.
    expect((await read({ publicKey: keys.publicKey })).problems).toEqual([]);
  });

  it('a rewritten entry with its hash recomputed: the chain breaks after it, the signature on it', async () => {
    const lines = await fileLines();
    const body = `${lines[2]!.slice(0, lines[2]!.indexOf(',"hash"')).replace('"delivered":83', '"delivered":84')}}`;
    lines[2] = `${body.slice(0, -1)},"hash":"${createHash('sha256').update(body).digest('hex')}"${/,"sig":"[^"]*"/.exec(lines[2]!)![0]}}`;
    await writeLines(lines);
    expect((await read()).problems.map((p) => [p.line, p.kind])).toEqual([
      [3, 'signature'],
      [4, 'chain'],
    ]);
    expect((await readLedger(dir, 'r1')).firstBad).toMatchObject({ line: 4, kind: 'chain' });
  });

  it('the wrong public key', async () => {
    const result = await read({ publicKey: generateKeyPairSync('ed25519').publicKey, requireSignatures: true });
    expect(result.firstBad).toMatchObject({ file, line: 1, kind: 'signature' });
    expect(result.problems).toHaveLength(5);
    expect(result.entries).toEqual([]);
  });

  it('a seq changed consistently (hash recomputed, signature not checked)', async () => {
    const lines = await fileLines();
    const body = `${lines[4]!.slice(0, lines[4]!.indexOf(',"hash"')).replace('"seq":5', '"seq":6')}}`;
    lines[4] = `${body.slice(0, -1)},"hash":"${createHash('sha256').update(body).digest('hex')}"}`;
    await writeLines(lines);
    expect((await readLedger(dir, 'r1')).firstBad).toMatchObject({ line: 5, kind: 'seq' });
  });

  it('a conflict: the same window and part said twice with other counts', async () => {
    const w = await openLedgerWriter(dir, 'r1', { signingKey: keys.privateKey });
    const same = await w.append(input(2, { closedAt: '2026-03-01T11:00:00.000000Z' }));
    expect(same.written).toBe(false);
    const conflicting = await w.append(input(2, { counts: { ...input(2).counts, delivered: 1 } }));
    const after = await w.append(input(6));
    await w.close();
    const result = await read();
    expect(result.problems).toMatchObject([{ file, line: 6, kind: 'conflict' }]);
    expect(result.problems[0]!.detail).toContain(`seq ${conflicting.entry.seq}`);
    expect(result.problems[0]!.detail).toContain('seq 2');
    expect(result.tampered).toBe(true);
    expect(result.firstBad).toMatchObject({ line: 6, kind: 'conflict' });
    // The chain is intact: entries go on after it, without the conflicting one.
    expect(result.entries).toEqual([...written, after.entry]);
  });

  it('the same entry written twice (after a crash, in another file) is no problem; only the first is kept', async () => {
    // maxBytes 1: every append rolls the current file first, so the writer no longer sees entry 3.
    const w = await openLedgerWriter(dir, 'r1', { signingKey: keys.privateKey, maxBytes: 1 });
    const sixth = await w.append(input(6));
    const again = await w.append(input(3, { closedAt: '2026-03-01T12:00:00.000000Z' }));
    await w.close();
    expect(again).toMatchObject({ written: true, entry: { seq: 7 } });
    const result = await read();
    expect(result.files).toHaveLength(3);
    expect(result.problems).toEqual([]);
    expect(result.entries).toEqual([...written, sixth.entry]);
  });

  it('a torn last line of the current file is a crash, not tampering; in a rolled file it is', async () => {
    const original = await readFile(file, 'utf8');
    await writeFile(file, original.slice(0, -40));
    let result = await read();
    expect(result.tampered).toBe(false);
    expect(result.firstBad).toBeUndefined();
    expect(result.problems).toMatchObject([{ file, line: 5, kind: 'torn' }]);
    expect(result.entries).toEqual(written.slice(0, 4));

    // Roll the intact file away, then tear its last line.
    await writeFile(file, original);
    const w = await openLedgerWriter(dir, 'r1', { signingKey: keys.privateKey, maxBytes: 1 });
    await w.append(input(6));
    await w.close();
    const rolled = path.join(dir, 'r1.2026-03-01.jsonl');
    await writeFile(rolled, original.slice(0, -1));
    result = await read();
    expect(result.files).toEqual([rolled, file]);
    expect(result.tampered).toBe(true);
    expect(result.firstBad).toMatchObject({ file: rolled, line: 5, kind: 'torn' });
  });

  it('a rolled file removed: in the middle the chain breaks; the oldest gone is retention (startsAfter)', async () => {
    const w = await openLedgerWriter(dir, 'r1', { signingKey: keys.privateKey, maxBytes: 1 });
    await w.append(input(6));
    await w.append(input(7));
    await w.close();
    const names = ['r1.2026-03-01.jsonl', 'r1.2026-03-01.2.jsonl', 'r1.jsonl'].map((n) => path.join(dir, n));
    expect((await read()).files).toEqual(names);

    await unlink(names[0]!);
    let result = await read();
    expect(result.problems).toEqual([]);
    expect(result.startsAfter).toBe(written[4]!.hash);
    expect(result.entries.map((e) => e.seq)).toEqual([6, 7]);

    const w2 = await openLedgerWriter(dir, 'r1', { signingKey: keys.privateKey, maxBytes: 1 });
    await w2.append(input(8));
    await w2.close();
    // Now r1.2026-03-01.2.jsonl (6), r1.2026-03-01.3.jsonl (7), r1.jsonl (8): remove the middle one.
    await unlink(path.join(dir, 'r1.2026-03-01.3.jsonl'));
    result = await read();
    expect(result.files).toEqual([names[1], names[2]]);
    expect(result.firstBad).toMatchObject({ file: names[2], line: 1, kind: 'chain' });
    expect(result.entries.map((e) => e.seq)).toEqual([6]);
  });

  it('an entry of another route, or seq 1 not starting from the genesis hash', async () => {
    const other = path.join(path.dirname(dir), 'other');
    const w = await openLedgerWriter(other, 'r2');
    await w.append(input(1, { route: 'r2' }));
    await w.close();
    const lines = await fileLines();
    await writeLines([(await readFile(path.join(other, 'r2.jsonl'), 'utf8')).trimEnd(), ...lines.slice(1)]);
    const result = await read({});
    expect(result.problems.map((p) => [p.line, p.kind])).toEqual([
      [1, 'parse'],
      [2, 'chain'],
    ]);
    expect(result.startsAfter).toBeUndefined();
    expect(written[0]!.prev).toBe(GENESIS_HASH);
  });
});
