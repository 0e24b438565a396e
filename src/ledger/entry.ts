// Ledger entries: the exact bytes of one line of the completeness ledger, its hash, its Ed25519 signature, and strict parsing back.
import { createHash, createPrivateKey, createPublicKey, sign, verify } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { ForwarderError } from '../contracts/errors.ts';
import { isCanonicalTime } from '../model/time.ts';
import { errno } from '../util/durable-fs.ts';

/*
 * One line of the ledger is its **body** — the entry's JSON text, members in a fixed order, no whitespace —
 * with the body's final `}` replaced by `,"hash":"<hex>"}` or `,"hash":"<hex>","sig":"<base64>"}`, then `\n`.
 * `hash` is the hex SHA-256 of the body's UTF-8 bytes and `sig` the Ed25519 signature of the same bytes, so
 * an auditor recovers the body by cutting that suffix off (one `sed`) and checks both with sha256sum and
 * openssl (docs/completeness.md, "The ledger file format"). Each body holds `prev`, the hash of the entry
 * before it: changing, removing or moving an entry breaks the chain from there on.
 */

export const LEDGER_FORMAT_VERSION = 1;
export const GENESIS_HASH = '0'.repeat(64);

export interface LedgerCounts {
  readonly read: number;
  readonly selected: number;
  readonly delivered: number;
  readonly skipped: number;
  readonly rejected: number;
  readonly dead_lettered: number;
}

/** What the engine supplies for one entry. */
export interface LedgerEntryInput {
  readonly route: string;
  readonly sink: string;
  /** Event-time window, canonical RFC 3339 UTC with 6 fraction digits; `from` inclusive, `to` exclusive. */
  readonly window: { readonly from: string; readonly to: string };
  /** 0 for the window's entry; 1, 2 … for later entries of late events in a window already closed. */
  readonly part: number;
  /** True exactly when `part` > 0. */
  readonly late: boolean;
  readonly counts: LedgerCounts;
  /** WindowDigest hex (64 lowercase hex digits) of the delivered events. */
  readonly digest: string;
  /** Canonical time the entry was written. */
  readonly closedAt: string;
}

export interface LedgerEntry extends LedgerEntryInput {
  readonly v: 1;
  /** 1 for the first entry of the chain, then +1 per entry, across rolled files. */
  readonly seq: number;
  /** `hash` of the previous entry; GENESIS_HASH for seq 1. */
  readonly prev: string;
  /** Lowercase hex SHA-256 of the body. */
  readonly hash: string;
  /** Base64 Ed25519 signature of the body, when the ledger is signed. */
  readonly sig?: string;
}

/** Why a line is not a valid entry: `parse` for its form, `hash` when its body does not hash to its `hash`. */
export type EntryLineProblemKind = 'parse' | 'hash';

export type ParsedEntryLine =
  | { readonly ok: true; readonly entry: LedgerEntry; readonly body: string }
  | { readonly ok: false; readonly reason: string; readonly kind: EntryLineProblemKind };

const HEX64 = /^[0-9a-f]{64}$/;
/** An Ed25519 signature is 64 bytes: 88 base64 characters, the last two `=`. */
const SIGNATURE = /^[A-Za-z0-9+/]{86}==$/;
const ROUTE = /^[A-Za-z0-9_.-]+$/;
/** The suffix after the body, anchored at the end of the line (the body's `}` is cut off with it). */
const SUFFIX = /,"hash":"([0-9a-f]{64})"(?:,"sig":"([^"]*)")?\}$/;
const COUNT_KEYS = ['read', 'selected', 'delivered', 'skipped', 'rejected', 'dead_lettered'] as const;
const ENTRY_KEYS = ['v', 'seq', 'route', 'sink', 'window', 'part', 'late', 'counts', 'digest', 'closedAt', 'prev', 'hash'] as const;

/**
 * Formats entry number `seq` following the entry whose hash is `prev`, signed with `signer` (an Ed25519
 * private key) when given. Returns the line to append (with its `\n`) and the entry it holds.
 * Throws `TypeError` when the input breaks a rule of the format (a bug in the caller, not a data problem).
 */
export function formatEntry(input: LedgerEntryInput, seq: number, prev: string, signer?: KeyObject): { line: string; entry: LedgerEntry } {
  const problem = inputProblem(input) ?? chainProblem(seq, prev);
  if (problem !== undefined) throw new TypeError(`ledger entry: ${problem}`);
  if (signer !== undefined && (signer.type !== 'private' || signer.asymmetricKeyType !== 'ed25519')) {
    throw new TypeError(`ledger entry: the signing key must be an Ed25519 private key, got a ${signer.asymmetricKeyType ?? 'secret'} ${signer.type} key`);
  }
  const body = bodyText(input, seq, prev);
  const bytes = Buffer.from(body, 'utf8');
  const hash = createHash('sha256').update(bytes).digest('hex');
  const sig = signer === undefined ? undefined : sign(null, bytes, signer).toString('base64');
  const entry = entryOf(input, seq, prev, hash, sig);
  return { line: `${lineOf(body, hash, sig)}\n`, entry };
}

/**
 * Parses one line of a ledger file (without its `\n`; one trailing `\n` is tolerated). Strict: the line must
 * be exactly what `formatEntry` writes — members in order, no whitespace, valid values — and its body (the
 * line's bytes before `,"hash"`, plus `}`) must hash to its `hash`. The signature is not checked here (see
 * `verifySignature`). Never throws.
 */
export function parseEntryLine(line: string): ParsedEntryLine {
  const bad = (reason: string, kind: EntryLineProblemKind = 'parse'): ParsedEntryLine => ({ ok: false, reason, kind });
  if (typeof line !== 'string') return bad('not a string');
  const text = line.endsWith('\n') ? line.slice(0, -1) : line;
  if (text.length === 0) return bad('the line is empty');
  if (text.includes('\n')) return bad('the line holds a line break');
  const suffix = SUFFIX.exec(text);
  if (suffix === null) return bad('the line does not end with ,"hash":"<64 hex digits>"} (optionally followed by ,"sig":"…")');
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    return bad(`not valid JSON (${(e as Error).message})`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return bad('not a JSON object');
  const obj = value as Record<string, unknown>;
  const keys = Object.keys(obj);
  const expectedKeys: readonly string[] = 'sig' in obj ? [...ENTRY_KEYS, 'sig'] : ENTRY_KEYS;
  if (keys.length !== expectedKeys.length || keys.some((k, i) => k !== expectedKeys[i])) {
    return bad(`its members are ${keys.join(',')}, expected ${expectedKeys.join(',')} in this order`);
  }
  const body = `${text.slice(0, suffix.index)}}`;
  const hash = obj['hash'] as string;
  const computed = createHash('sha256').update(body, 'utf8').digest('hex');
  if (computed !== hash) return bad(`its body hashes to ${computed}, not to its "hash" ${String(hash)}`, 'hash');

  if (obj['v'] !== LEDGER_FORMAT_VERSION) return bad(`format version ${JSON.stringify(obj['v'])} is not ${LEDGER_FORMAT_VERSION}, the version this build reads`);
  const window = obj['window'];
  const counts = obj['counts'];
  if (typeof window !== 'object' || window === null || Array.isArray(window)) return bad('"window" is not an object');
  if (typeof counts !== 'object' || counts === null || Array.isArray(counts)) return bad('"counts" is not an object');
  const w = window as Record<string, unknown>;
  const c = counts as Record<string, unknown>;
  if (Object.keys(w).join(',') !== 'from,to') return bad('"window" must have exactly "from" and "to", in this order');
  if (Object.keys(c).join(',') !== COUNT_KEYS.join(',')) return bad(`"counts" must have exactly ${COUNT_KEYS.join(', ')}, in this order`);
  const input = {
    route: obj['route'],
    sink: obj['sink'],
    window: { from: w['from'], to: w['to'] },
    part: obj['part'],
    late: obj['late'],
    counts: Object.fromEntries(COUNT_KEYS.map((k) => [k, c[k]])),
    digest: obj['digest'],
    closedAt: obj['closedAt'],
  } as unknown as LedgerEntryInput;
  const problem = inputProblem(input) ?? chainProblem(obj['seq'], obj['prev']);
  if (problem !== undefined) return bad(problem);
  const sig = obj['sig'];
  // Canonical base64 too: the unused low bits of the last digit are zero (no other spelling of one signature).
  if (sig !== undefined && (typeof sig !== 'string' || !SIGNATURE.test(sig) || Buffer.from(sig, 'base64').toString('base64') !== sig)) {
    return bad('"sig" is not the base64 of a 64-byte Ed25519 signature');
  }
  const seq = obj['seq'] as number;
  const prev = obj['prev'] as string;
  // Byte for byte what formatEntry writes: no other spelling of the same values (escapes, number forms) passes.
  const expectedBody = bodyText(input, seq, prev);
  if (expectedBody !== body) return bad('the entry is not written in the canonical form (spelling of a value, escapes or spacing differ)');
  if (lineOf(body, hash, sig as string | undefined) !== text) return bad('the "hash" and "sig" members are not written in the canonical form');
  return { ok: true, entry: entryOf(input, seq, prev, hash, sig as string | undefined), body };
}

/**
 * Whether `sig` (base64) is a valid Ed25519 signature of `body` (the entry's body text, as `parseEntryLine`
 * returns it) by `publicKey` (a private key is accepted too: its public half is used). Never throws.
 */
export function verifySignature(body: string, sig: string, publicKey: KeyObject): boolean {
  try {
    if (typeof sig !== 'string' || !SIGNATURE.test(sig) || publicKey.asymmetricKeyType !== 'ed25519') return false;
    const signature = Buffer.from(sig, 'base64');
    if (signature.toString('base64') !== sig) return false;
    return verify(null, Buffer.from(body, 'utf8'), publicKey, signature);
  } catch {
    return false;
  }
}

/**
 * Reads the Ed25519 private key that signs ledger entries from a PEM file (PKCS#8, `-----BEGIN PRIVATE KEY-----`,
 * as `openssl genpkey -algorithm ed25519` writes it; not encrypted). Throws `FWD_LEDGER_IO` when the file cannot
 * be read and `FWD_CONFIG_INVALID` when it holds no such key, naming the file either way.
 */
export function loadSigningKey(file: string): KeyObject {
  const pem = readKeyFile(file, 'ledger signing key');
  let key: KeyObject;
  try {
    key = createPrivateKey({ key: pem, format: 'pem' });
  } catch (e) {
    const publicOnly = /-----BEGIN PUBLIC KEY-----/.test(pem);
    const encrypted = /ENCRYPTED/.test(pem);
    throw keyError(
      file,
      'ledger signing key',
      publicOnly
        ? 'it holds a public key; signing needs the private key (the public key is what auditors verify with)'
        : encrypted
          ? 'it is encrypted; give an unencrypted PKCS#8 PEM key (protect it with file permissions, mode 0600)'
          : `it is not a PEM private key (${(e as Error).message})`,
      e,
    );
  }
  if (key.asymmetricKeyType !== 'ed25519') {
    throw keyError(file, 'ledger signing key', `it holds a ${String(key.asymmetricKeyType)} key, not an Ed25519 key`);
  }
  return key;
}

/**
 * Reads the Ed25519 public key that verifies ledger signatures from a PEM file: a public key (SPKI,
 * `-----BEGIN PUBLIC KEY-----`, as `openssl pkey -pubout` writes it), or the private key, whose public half is
 * taken. Throws `FWD_LEDGER_IO` when the file cannot be read and `FWD_CONFIG_INVALID` when it holds no such key.
 */
export function loadPublicKey(file: string): KeyObject {
  const pem = readKeyFile(file, 'ledger public key');
  let key: KeyObject;
  try {
    key = /-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(pem) ? createPublicKey(createPrivateKey({ key: pem, format: 'pem' })) : createPublicKey({ key: pem, format: 'pem' });
  } catch (e) {
    throw keyError(file, 'ledger public key', `it is not a PEM public or private key (${(e as Error).message})`, e);
  }
  if (key.asymmetricKeyType !== 'ed25519') {
    throw keyError(file, 'ledger public key', `it holds a ${String(key.asymmetricKeyType)} key, not an Ed25519 key`);
  }
  return key;
}

/** The key under which an entry is unique: route, sink, window start and part (`\u0000`-separated). */
export function entryKey(entry: Pick<LedgerEntryInput, 'route' | 'sink' | 'window' | 'part'>): string {
  return `${entry.route}\u0000${entry.sink}\u0000${entry.window.from}\u0000${String(entry.part)}`;
}

/**
 * Whether two entries with the same `entryKey` say the same thing (late, counts, digest): the second is then
 * the same entry derived again (after a crash), not a conflicting claim.
 */
export function sameEntryContent(a: LedgerEntryInput, b: LedgerEntryInput): boolean {
  return a.late === b.late && a.digest === b.digest && COUNT_KEYS.every((k) => a.counts[k] === b.counts[k]);
}

/** The UTC day (`YYYY-MM-DD`) of a canonical time: the leading ten characters. */
export function utcDay(time: string): string {
  return time.slice(0, 10);
}

// ---------------------------------------------------------------------------------------------------------

function bodyText(input: LedgerEntryInput, seq: number, prev: string): string {
  const c = input.counts;
  const s = JSON.stringify;
  return (
    `{"v":${LEDGER_FORMAT_VERSION},"seq":${seq},"route":${s(input.route)},"sink":${s(input.sink)},` +
    `"window":{"from":${s(input.window.from)},"to":${s(input.window.to)}},"part":${input.part},"late":${input.late},` +
    `"counts":{"read":${c.read},"selected":${c.selected},"delivered":${c.delivered},"skipped":${c.skipped},` +
    `"rejected":${c.rejected},"dead_lettered":${c.dead_lettered}},"digest":${s(input.digest)},` +
    `"closedAt":${s(input.closedAt)},"prev":${s(prev)}}`
  );
}

function lineOf(body: string, hash: string, sig: string | undefined): string {
  return `${body.slice(0, -1)},"hash":"${hash}"${sig === undefined ? '' : `,"sig":"${sig}"`}}`;
}

/** A fresh object with the members in file order (never the caller's objects, which it may go on changing). */
function entryOf(input: LedgerEntryInput, seq: number, prev: string, hash: string, sig: string | undefined): LedgerEntry {
  const c = input.counts;
  return {
    v: LEDGER_FORMAT_VERSION,
    seq,
    route: input.route,
    sink: input.sink,
    window: { from: input.window.from, to: input.window.to },
    part: input.part,
    late: input.late,
    counts: { read: c.read, selected: c.selected, delivered: c.delivered, skipped: c.skipped, rejected: c.rejected, dead_lettered: c.dead_lettered },
    digest: input.digest,
    closedAt: input.closedAt,
    prev,
    hash,
    ...(sig === undefined ? {} : { sig }),
  };
}

const isCount = (n: unknown): n is number => typeof n === 'number' && Number.isSafeInteger(n) && n >= 0;

/** Why `input` is not a valid entry input, or undefined. */
function inputProblem(input: LedgerEntryInput): string | undefined {
  if (typeof input !== 'object' || input === null) return 'the entry is not an object';
  const { route, sink, window, part, late, counts, digest, closedAt } = input as unknown as Record<string, unknown>;
  if (typeof route !== 'string' || !ROUTE.test(route)) return `"route" ${JSON.stringify(route)} is not a route name (letters, digits, '.', '_', '-')`;
  if (typeof sink !== 'string' || sink.length === 0) return '"sink" is not a non-empty string';
  if (typeof window !== 'object' || window === null) return '"window" is not an object';
  const { from, to } = window as Record<string, unknown>;
  if (!isCanonicalTime(from)) return `"window.from" ${JSON.stringify(from)} is not a canonical time (YYYY-MM-DDTHH:MM:SS.ffffffZ)`;
  if (!isCanonicalTime(to)) return `"window.to" ${JSON.stringify(to)} is not a canonical time (YYYY-MM-DDTHH:MM:SS.ffffffZ)`;
  if (!((from as string) < (to as string))) return `the window is empty or reversed (from ${String(from)}, to ${String(to)})`;
  if (!isCount(part)) return `"part" ${JSON.stringify(part)} is not a non-negative integer`;
  if (typeof late !== 'boolean') return '"late" is not a boolean';
  if (late !== (part > 0)) return `"late" is ${String(late)} with part ${String(part)} (late is true exactly when part > 0)`;
  if (typeof counts !== 'object' || counts === null) return '"counts" is not an object';
  for (const k of COUNT_KEYS) {
    const n = (counts as Record<string, unknown>)[k];
    if (!isCount(n)) return `"counts.${k}" ${JSON.stringify(n)} is not a non-negative integer`;
  }
  if (typeof digest !== 'string' || !HEX64.test(digest)) return `"digest" ${JSON.stringify(digest)} is not 64 lowercase hex digits`;
  if (!isCanonicalTime(closedAt)) return `"closedAt" ${JSON.stringify(closedAt)} is not a canonical time (YYYY-MM-DDTHH:MM:SS.ffffffZ)`;
  return undefined;
}

function chainProblem(seq: unknown, prev: unknown): string | undefined {
  if (typeof seq !== 'number' || !Number.isSafeInteger(seq) || seq < 1) return `"seq" ${JSON.stringify(seq)} is not a positive integer`;
  if (typeof prev !== 'string' || !HEX64.test(prev)) return `"prev" ${JSON.stringify(prev)} is not 64 lowercase hex digits`;
  return undefined;
}

function readKeyFile(file: string, what: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (e) {
    const detail = errno(e) === 'ENOENT' ? 'the file does not exist' : errno(e) === 'EACCES' ? 'permission denied (the forwarder\'s user must be able to read it)' : (e as Error).message;
    throw new ForwarderError('FWD_LEDGER_IO', `Cannot read the ${what} file ${file}: ${detail}.`, { stage: 'ledger', disposition: 'fatal', cause: e });
  }
}

function keyError(file: string, what: string, problem: string, cause?: unknown): ForwarderError {
  return new ForwarderError(
    'FWD_CONFIG_INVALID',
    `The ${what} file ${file} is not usable: ${problem}. Create a key with \`openssl genpkey -algorithm ed25519 -out ledger-key.pem\` ` +
      `and its public key with \`openssl pkey -in ledger-key.pem -pubout -out ledger-pub.pem\`.`,
    { stage: 'config', disposition: 'fatal', ...(cause === undefined ? {} : { cause }) },
  );
}
