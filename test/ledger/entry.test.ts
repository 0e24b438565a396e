// Ledger entry lines: the exact body bytes, hash and signature, strict parsing back, and the key files.
import { createHash, generateKeyPairSync } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ForwarderError } from '../../src/contracts/errors.ts';
import {
  entryKey,
  formatEntry,
  GENESIS_HASH,
  LEDGER_FORMAT_VERSION,
  loadPublicKey,
  loadSigningKey,
  parseEntryLine,
  sameEntryContent,
  verifySignature,
} from '../../src/ledger/entry.ts';
import type { LedgerEntryInput } from '../../src/ledger/entry.ts';

const DIGEST = 'ab'.repeat(32);

function input(over: Partial<LedgerEntryInput> = {}): LedgerEntryInput {
  return {
    route: 'r1',
    sink: 'splunk',
    window: { from: '2026-03-01T10:00:00.000000Z', to: '2026-03-01T10:01:00.000000Z' },
    part: 0,
    late: false,
    counts: { read: 12, selected: 10, delivered: 8, skipped: 2, rejected: 1, dead_lettered: 1 },
    digest: DIGEST,
    closedAt: '2026-03-01T10:02:03.456789Z',
    ...over,
  };
}

const sha256 = (s: string): string => createHash('sha256').update(s, 'utf8').digest('hex');

let ed: { privateKey: KeyObject; publicKey: KeyObject };
beforeEach(() => {
  ed = generateKeyPairSync('ed25519');
});

describe('formatEntry', () => {
  it('writes the body with the members in the fixed order, no whitespace, then hash', () => {
    const { line, entry } = formatEntry(input(), 1, GENESIS_HASH);
    const body =
      '{"v":1,"seq":1,"route":"r1","sink":"splunk","window":{"from":"2026-03-01T10:00:00.000000Z","to":"2026-03-01T10:01:00.000000Z"},' +
      '"part":0,"late":false,"counts":{"read":12,"selected":10,"delivered":8,"skipped":2,"rejected":1,"dead_lettered":1},' +
      `"digest":"${DIGEST}","closedAt":"2026-03-01T10:02:03.456789Z","prev":"${GENESIS_HASH}"}`;
    expect(line).toBe(`${body.slice(0, -1)},"hash":"${sha256(body)}"}\n`);
    expect(entry).toEqual({ v: LEDGER_FORMAT_VERSION, seq: 1, ...input(), prev: GENESIS_HASH, hash: sha256(body) });
    expect(Object.keys(entry)).toEqual(['v', 'seq', 'route', 'sink', 'window', 'part', 'late', 'counts', 'digest', 'closedAt', 'prev', 'hash']);
    expect(JSON.parse(line)).toEqual(entry);
  });

  it('signs the body bytes with Ed25519 when given a key', () => {
    const { line, entry } = formatEntry(input({ sink: 'sïnk "quoted" ☃' }), 7, 'cd'.repeat(32), ed.privateKey);
    expect(line).toMatch(/,"hash":"[0-9a-f]{64}","sig":"[A-Za-z0-9+/]{86}=="}\n$/);
    const parsed = parseEntryLine(line);
    expect(parsed.ok).toBe(true);
    if (!parsed.ok) return;
    expect(parsed.entry).toEqual(entry);
    expect(sha256(parsed.body)).toBe(entry.hash);
    expect(verifySignature(parsed.body, entry.sig!, ed.publicKey)).toBe(true);
    expect(verifySignature(parsed.body, entry.sig!, ed.privateKey)).toBe(true);
    expect(verifySignature(parsed.body.replace('"seq":7', '"seq":8'), entry.sig!, ed.publicKey)).toBe(false);
    expect(verifySignature(parsed.body, entry.sig!, generateKeyPairSync('ed25519').publicKey)).toBe(false);
    expect(verifySignature(parsed.body, 'not base64', ed.publicKey)).toBe(false);
  });

  it('refuses input that breaks the format (a bug in the caller)', () => {
    const bad: Array<[string, () => unknown]> = [
      ['digest', () => formatEntry(input({ digest: DIGEST.toUpperCase() }), 1, GENESIS_HASH)],
      ['digest length', () => formatEntry(input({ digest: 'ab' }), 1, GENESIS_HASH)],
      ['late without part', () => formatEntry(input({ late: true }), 1, GENESIS_HASH)],
      ['part without late', () => formatEntry(input({ part: 2 }), 1, GENESIS_HASH)],
      ['part negative', () => formatEntry(input({ part: -1, late: false }), 1, GENESIS_HASH)],
      ['time form', () => formatEntry(input({ window: { from: '2026-03-01T10:00:00Z', to: '2026-03-01T10:01:00.000000Z' } }), 1, GENESIS_HASH)],
      ['window reversed', () => formatEntry(input({ window: { from: '2026-03-01T10:01:00.000000Z', to: '2026-03-01T10:00:00.000000Z' } }), 1, GENESIS_HASH)],
      ['closedAt', () => formatEntry(input({ closedAt: 'yesterday' }), 1, GENESIS_HASH)],
      ['count', () => formatEntry(input({ counts: { ...input().counts, delivered: 1.5 } }), 1, GENESIS_HASH)],
      ['count negative', () => formatEntry(input({ counts: { ...input().counts, rejected: -1 } }), 1, GENESIS_HASH)],
      ['route', () => formatEntry(input({ route: 'r/1' }), 1, GENESIS_HASH)],
      ['sink', () => formatEntry(input({ sink: '' }), 1, GENESIS_HASH)],
      ['seq', () => formatEntry(input(), 0, GENESIS_HASH)],
      ['prev', () => formatEntry(input(), 2, 'xyz')],
      ['signer public', () => formatEntry(input(), 1, GENESIS_HASH, ed.publicKey)],
      ['signer rsa', () => formatEntry(input(), 1, GENESIS_HASH, generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey)],
    ];
    for (const [what, f] of bad) expect(f, what).toThrow(TypeError);
    expect(() => formatEntry(input({ part: 3, late: true }), 1, GENESIS_HASH)).not.toThrow();
  });

  it('does not keep the caller objects', () => {
    const counts = { ...input().counts };
    const { entry } = formatEntry(input({ counts }), 1, GENESIS_HASH);
    counts.read = 999;
    expect(entry.counts.read).toBe(12);
  });
});

describe('parseEntryLine', () => {
  const good = (): string => formatEntry(input(), 3, 'ef'.repeat(32), ed.privateKey).line;

  it('round-trips, with or without its line break', () => {
    const { line, entry } = formatEntry(input({ part: 1, late: true }), 3, 'ef'.repeat(32));
    for (const l of [line, line.slice(0, -1)]) {
      const parsed = parseEntryLine(l);
      expect(parsed).toEqual({ ok: true, entry, body: expect.any(String) });
      if (parsed.ok) expect(parsed.body).toBe(`${line.slice(0, line.indexOf(',"hash"'))}}`);
    }
  });

  it('says "hash" when a value of the body was changed', () => {
    const line = good().replace('"delivered":8', '"delivered":9');
    expect(parseEntryLine(line)).toMatchObject({ ok: false, kind: 'hash' });
    const stated = good().replace(/"hash":"(.)/, (_m, c: string) => `"hash":"${c === 'a' ? 'b' : 'a'}`);
    expect(parseEntryLine(stated)).toMatchObject({ ok: false, kind: 'hash' });
  });

  it('refuses every other spelling of the same entry, even with a matching hash', () => {
    const rehash = (body: string, extra = ''): string => `${body.slice(0, -1)},"hash":"${sha256(body)}"${extra}}`;
    const { line } = formatEntry(input(), 3, 'ef'.repeat(32));
    const body = `${line.slice(0, line.indexOf(',"hash"'))}}`;
    const variants = [
      body.replace('"seq":3', '"seq": 3'),
      body.replace('"seq":3', '"seq":3.0'),
      body.replace('"sink":"splunk"', '"sink":"spl\\u0075nk"'),
      body.replace('"v":1,"seq":3', '"seq":3,"v":1'),
      body.replace(',"part":0', ',"part":0,"extra":1'),
      body.replace('"part":0,"late":false', '"part":0,"late":true'),
      body.replace('"v":1', '"v":2'),
      body.replace('"route":"r1"', '"route":"r 1"'),
      body.replace('"dead_lettered":1}', '"dead_lettered":1,"x":0}'),
      body.replace(`"digest":"${DIGEST}"`, `"digest":"${DIGEST.toUpperCase()}"`),
    ];
    for (const v of variants) {
      expect(v).not.toBe(body);
      const r = parseEntryLine(rehash(v));
      expect(r, v).toMatchObject({ ok: false, kind: 'parse' });
    }
    expect(parseEntryLine(`${rehash(body)} `)).toMatchObject({ ok: false, kind: 'parse' });
    expect(parseEntryLine(rehash(` ${body}`))).toMatchObject({ ok: false, kind: 'parse' });
    expect(parseEntryLine(` ${rehash(body)}`)).toMatchObject({ ok: false, kind: 'hash' });
    expect(parseEntryLine(rehash(body, ',"sig":"abc"'))).toMatchObject({ ok: false, kind: 'parse' });
    expect(parseEntryLine(rehash(body))).toMatchObject({ ok: true });
  });

  it('refuses a signature in non-canonical base64 (unused bits set)', () => {
    const line = good();
    const m = /"sig":"([^"]*)"/.exec(line)!;
    const sig = m[1]!;
    // The last digit before "==" carries 2 bits of the signature and 4 unused ones.
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
    const last = alphabet.indexOf(sig[85]!);
    const altered = `${sig.slice(0, 85)}${alphabet[last ^ 1]}==`;
    expect(Buffer.from(altered, 'base64').equals(Buffer.from(sig, 'base64'))).toBe(true);
    expect(parseEntryLine(line.replace(sig, altered))).toMatchObject({ ok: false, kind: 'parse' });
  });

  it('refuses what is not a line of an entry', () => {
    for (const bad of ['', '\n', 'null', '[]', '{}', 'not json', `${good()}\n`, good().replace(',"hash"', ' ,"hash"')]) {
      expect(parseEntryLine(bad), JSON.stringify(bad)).toMatchObject({ ok: false });
    }
  });
});

describe('entryKey and sameEntryContent', () => {
  it('key on route, sink, window start and part; compare late, counts and digest', () => {
    expect(entryKey(input())).toBe(entryKey(input({ closedAt: '2026-03-02T00:00:00.000000Z' })));
    expect(entryKey(input())).not.toBe(entryKey(input({ part: 1, late: true })));
    expect(entryKey(input())).not.toBe(entryKey(input({ sink: 'other' })));
    expect(sameEntryContent(input(), input({ closedAt: '2026-03-02T00:00:00.000000Z' }))).toBe(true);
    expect(sameEntryContent(input(), input({ digest: 'cd'.repeat(32) }))).toBe(false);
    expect(sameEntryContent(input(), input({ counts: { ...input().counts, skipped: 3 } }))).toBe(false);
  });
});

describe('key files', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'fwd-ledger-keys-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const caught = (f: () => unknown): ForwarderError => {
    try {
      f();
    } catch (e) {
      expect(e).toBeInstanceOf(ForwarderError);
      return e as ForwarderError;
    }
    throw new Error('expected a ForwarderError');
  };

  it('loads an Ed25519 PKCS#8 private key and its SPKI public key (or the public half of the private key)', async () => {
    const priv = path.join(dir, 'key.pem');
    const pub = path.join(dir, 'pub.pem');
    await writeFile(priv, ed.privateKey.export({ type: 'pkcs8', format: 'pem' }));
    await writeFile(pub, ed.publicKey.export({ type: 'spki', format: 'pem' }));
    const signer = loadSigningKey(priv);
    expect(signer.type).toBe('private');
    const { line } = formatEntry(input(), 1, GENESIS_HASH, signer);
    const parsed = parseEntryLine(line);
    if (!parsed.ok) throw new Error(parsed.reason);
    expect(verifySignature(parsed.body, parsed.entry.sig!, loadPublicKey(pub))).toBe(true);
    const derived = loadPublicKey(priv);
    expect(derived.type).toBe('public');
    expect(verifySignature(parsed.body, parsed.entry.sig!, derived)).toBe(true);
  });

  it('names the file when it cannot be read or holds no Ed25519 key', async () => {
    const missing = path.join(dir, 'missing.pem');
    let e = caught(() => loadSigningKey(missing));
    expect(e.code).toBe('FWD_LEDGER_IO');
    expect(e.message).toContain(missing);
    e = caught(() => loadPublicKey(missing));
    expect(e.code).toBe('FWD_LEDGER_IO');

    const pub = path.join(dir, 'pub.pem');
    await writeFile(pub, ed.publicKey.export({ type: 'spki', format: 'pem' }));
    e = caught(() => loadSigningKey(pub));
    expect(e.code).toBe('FWD_CONFIG_INVALID');
    expect(e.message).toContain(pub);
    expect(e.message).toContain('public key');

    const rsa = path.join(dir, 'rsa.pem');
    const rsaKeys = generateKeyPairSync('rsa', { modulusLength: 1024 });
    await writeFile(rsa, rsaKeys.privateKey.export({ type: 'pkcs8', format: 'pem' }));
    e = caught(() => loadSigningKey(rsa));
    expect(e.code).toBe('FWD_CONFIG_INVALID');
    expect(e.message).toMatch(/rsa key, not an Ed25519 key/);
    e = caught(() => loadPublicKey(rsa));
    expect(e.code).toBe('FWD_CONFIG_INVALID');

    const junk = path.join(dir, 'junk.pem');
    await writeFile(junk, 'hello\n');
    for (const f of [loadSigningKey, loadPublicKey]) {
      e = caught(() => f(junk));
      expect(e.code).toBe('FWD_CONFIG_INVALID');
      expect(e.message).toContain(junk);
    }
  });
});
