// The commands of docs/completeness.md ("The ledger file format") run as written: sed, sha256sum, base64 and openssl verify a ledger the forwarder wrote.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { eventHash, WindowDigest } from '../../src/ledger/digest.ts';
import { loadPublicKey, loadSigningKey } from '../../src/ledger/entry.ts';
import type { LedgerEntry, LedgerEntryInput } from '../../src/ledger/entry.ts';
import { openLedgerWriter } from '../../src/ledger/ledger-file.ts';
import { readLedger } from '../../src/ledger/read.ts';

const DOC = readFileSync(path.resolve(import.meta.dirname, '../../docs/completeness.md'), 'utf8');

/** Exactly as in the doc: verify the hash and the signature of line 2 of r1.jsonl. */
const VERIFY_ENTRY = `sed -n 2p r1.jsonl | sed -E 's/,"hash":"[0-9a-f]{64}"(,"sig":"[^"]*")?}$/}/' | tr -d '\\n' > body.bin
sha256sum body.bin | cut -d' ' -f1
sed -n 2p r1.jsonl | sed -E 's/.*,"hash":"([0-9a-f]{64})".*/\\1/'
sed -n 2p r1.jsonl | sed -E 's/.*,"sig":"([^"]*)"}$/\\1/' | base64 -d > sig.bin
openssl pkeyutl -verify -pubin -inkey ledger-pub.pem -rawin -in body.bin -sigfile sig.bin`;

/** Exactly as in the doc: check seq and prev along the chain of two files. */
const VERIFY_CHAIN = `cat r1.2026-03-01.jsonl r1.jsonl | sed -E 's/.*"seq":([0-9]+),.*"prev":"([0-9a-f]{64})","hash":"([0-9a-f]{64})".*/\\1 \\2 \\3/' | awk 'NR > 1 && ($1 != seq + 1 || $2 != hash) { print "chain broken at entry " NR } { seq = $1; hash = $3 }'`;

/** Exactly as in the doc: the digest of two events. */
const DIGEST_EXAMPLE = `{ printf '%s\\0%s' 'evt-1' '{"id":"evt-1","type":"login"}' | sha256sum
  printf '%s\\0%s' 'evt-2' '{"id":"evt-2","type":"logout"}' | sha256sum
} | python3 -c 'import sys; print(format(sum(int(l.split()[0], 16) for l in sys.stdin) % 2**256, "064x"))'`;

const EXAMPLE_EVENTS: ReadonlyArray<readonly [string, string]> = [
  ['evt-1', '{"id":"evt-1","type":"login"}'],
  ['evt-2', '{"id":"evt-2","type":"logout"}'],
];

function hasCommand(cmd: string, args: string[]): boolean {
  const r = spawnSync(cmd, args, { stdio: 'ignore' });
  return r.error === undefined && r.status === 0;
}

function input(n: number, closedDay: string): LedgerEntryInput {
  const d = new WindowDigest();
  for (let i = 0; i < n; i++) d.add(eventHash(`evt-${n}-${i}`, `{"n":${i}}`));
  return {
    route: 'r1',
    sink: 'splunk',
    window: { from: `2026-03-01T10:0${n}:00.000000Z`, to: `2026-03-01T10:0${n + 1}:00.000000Z` },
    part: 0,
    late: false,
    counts: { read: n, selected: n, delivered: n, skipped: 0, rejected: 0, dead_lettered: 0 },
    digest: d.toHex(),
    closedAt: `${closedDay}T10:10:00.000000Z`,
  };
}

let dir: string;
let entries: LedgerEntry[];
const sh = (script: string): string => execFileSync('sh', ['-c', script], { cwd: dir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'fwd-ledger-tools-'));
  // The signing key as an operator makes it.
  execFileSync('openssl', ['genpkey', '-algorithm', 'ed25519', '-out', 'ledger-key.pem'], { cwd: dir, stdio: 'ignore' });
  execFileSync('openssl', ['pkey', '-in', 'ledger-key.pem', '-pubout', '-out', 'ledger-pub.pem'], { cwd: dir, stdio: 'ignore' });
  const w = await openLedgerWriter(dir, 'r1', { signingKey: loadSigningKey(path.join(dir, 'ledger-key.pem')) });
  entries = [];
  for (const [n, day] of [
    [1, '2026-03-01'],
    [2, '2026-03-01'],
    [3, '2026-03-02'],
    [4, '2026-03-02'],
  ] as const) {
    entries.push((await w.append(input(n, day))).entry);
  }
  await w.close();
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('docs/completeness.md: the ledger verified with standard tools', () => {
  it('shows the commands this test runs, word for word', () => {
    expect(DOC).toContain('## The ledger file format');
    for (const script of [VERIFY_ENTRY, VERIFY_CHAIN, DIGEST_EXAMPLE]) expect(DOC).toContain(`\`\`\`sh\n${script}\n\`\`\``);
  });

  it('the files are the ones the doc names, and the library verifies them', async () => {
    const result = await readLedger(dir, 'r1', { publicKey: loadPublicKey(path.join(dir, 'ledger-pub.pem')), requireSignatures: true });
    expect(result.problems).toEqual([]);
    expect(result.files.map((f) => path.basename(f))).toEqual(['r1.2026-03-01.jsonl', 'r1.jsonl']);
    expect(result.entries).toEqual(entries);
  });

  it('sed + sha256sum recover the body and its hash; openssl verifies the signature', () => {
    const out = sh(VERIFY_ENTRY).trim().split('\n');
    const entry = entries[3]!;
    expect(out).toEqual([entry.hash, entry.hash, 'Signature Verified Successfully']);
    // body.bin is exactly the body: the line up to ,"hash" plus }.
    const line = readFileSync(path.join(dir, 'r1.jsonl'), 'utf8').split('\n')[1]!;
    expect(readFileSync(path.join(dir, 'body.bin'), 'utf8')).toBe(`${line.slice(0, line.indexOf(',"hash"'))}}`);
    expect(readFileSync(path.join(dir, 'sig.bin'))).toHaveLength(64);
  });

  it('the same commands show an altered entry: hashes differ, openssl refuses', async () => {
    const file = path.join(dir, 'r1.jsonl');
    const text = await readFile(file, 'utf8');
    await writeFile(file, text.replace('"delivered":4', '"delivered":5'));
    const r = spawnSync('sh', ['-c', VERIFY_ENTRY], { cwd: dir, encoding: 'utf8' });
    expect(r.status).toBe(1);
    const [computed, stated] = r.stdout.trim().split('\n');
    expect(stated).toBe(entries[3]!.hash);
    expect(computed).toMatch(/^[0-9a-f]{64}$/);
    expect(computed).not.toBe(stated);
    expect(`${r.stdout}${r.stderr}`).toContain('Signature Verification Failure');
  });

  it('sed + awk check the chain across the files, and name the entry where it breaks', async () => {
    expect(sh(VERIFY_CHAIN)).toBe('');
    const file = path.join(dir, 'r1.jsonl');
    const lines = (await readFile(file, 'utf8')).split('\n');
    // Remove entry 3 (the first line of r1.jsonl): entry 4 is now the 3rd and does not link.
    await writeFile(file, lines.slice(1).join('\n'));
    expect(sh(VERIFY_CHAIN)).toBe('chain broken at entry 3\n');
  });

  it('the worked example of the digest is what eventHash and WindowDigest compute', () => {
    const d = new WindowDigest();
    for (const [id, record] of EXAMPLE_EVENTS) {
      const h = Buffer.from(eventHash(id, record)).toString('hex');
      expect(DOC).toContain(`\`${h}\``);
      expect(sh(`printf '%s\\0%s' '${id}' '${record}' | sha256sum | cut -d' ' -f1`).trim()).toBe(h);
      d.add(eventHash(id, record));
    }
    expect(DOC).toContain(`digest is \`${d.toHex()}\``);
  });

  it.skipIf(!hasCommand('python3', ['-c', '']))('the digest example recomputes the digest (python3)', () => {
    const d = new WindowDigest();
    for (const [id, record] of EXAMPLE_EVENTS) d.add(eventHash(id, record));
    expect(sh(DIGEST_EXAMPLE).trim()).toBe(d.toHex());
  });
});
