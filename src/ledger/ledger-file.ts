// Ledger writer: one append-only, hash-chained JSON Lines file per route, fsynced before the checkpoint that drops its windows, rolled by day and size.
import type { KeyObject } from 'node:crypto';
import { open, readdir, readFile, rename, stat } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { ForwarderError, isForwarderError } from '../contracts/errors.ts';
import { ensureDirectory, errno, fsyncPath, serialised, exists, readIfExists } from '../util/durable-fs.ts';
import { entryKey, formatEntry, GENESIS_HASH, parseEntryLine, sameEntryContent, utcDay } from './entry.ts';
import type { LedgerEntry, LedgerEntryInput } from './entry.ts';

/*
 * Files, in `dir` (the engine passes `<checkpoint directory>/ledger`), per route:
 *   <route>.jsonl                     the current file, the only one appended to;
 *   <route>.<YYYY-MM-DD>.jsonl        a rolled file, named after the UTC day of its first entry's closedAt;
 *   <route>.<YYYY-MM-DD>.<n>.jsonl    the n-th file rolled on the same day (n = 2, 3 …);
 *   <route>.jsonl.torn-<time>         the partial last line a crash left, moved aside as evidence.
 * Rolled files sort by name (day, then n) in chain order, the current file last; the chain (seq, prev) runs
 * on across them. A file is rolled, by rename, before an append whose entry's closedAt falls on another UTC
 * day than the current file's first entry, or that would take the file past `maxBytes`.
 *
 * Durability: every append is one write of whole lines (one, or the group of `appendAll`: the windows one commit
 * closed), then fsync; the directory is fsynced when the
 * current file is created and after a roll. A crash can only leave a last line without its `\n`: on open it
 * is copied aside, cut off and the chain goes on (the engine derives that entry again). Anything else that
 * does not verify — a line that does not parse, a hash that does not match, a broken chain — refuses the
 * open: an entry appended after a bad one would vouch for it.
 */

export const DEFAULT_LEDGER_MAX_BYTES = 64 * 1024 * 1024;

export interface LedgerWriterOptions {
  /** Ed25519 private key (see `loadSigningKey`): each entry then carries `sig`. */
  readonly signingKey?: KeyObject;
  /** Roll the current file when an append would take it past this many bytes; default 64 MiB. */
  readonly maxBytes?: number;
  /** Clock for the name of a torn-tail evidence file. */
  readonly now?: () => Date;
  /** Told when open found and set aside a torn last line; by default a process warning is emitted. */
  readonly onTornTail?: (torn: LedgerTornTail) => void;
}

/** A partial last line found on open (a write cut short by a crash), copied to `evidence` and cut off. */
export interface LedgerTornTail {
  readonly file: string;
  readonly evidence: string;
  /** Number of bytes cut off. */
  readonly bytes: number;
}

export interface LedgerAppendResult {
  readonly entry: LedgerEntry;
  readonly written: boolean;
  /**
   * When the current file already held an entry with the same (route, sink, window.from, part) but other
   * counts or digest: that entry. The new one is written all the same (the ledger keeps both claims, and
   * `readLedger` reports a `conflict`); the engine should log it.
   */
  readonly conflictsWith?: LedgerEntry;
}

export interface LedgerWriter {
  /**
   * Appends one entry durably (write + fsync) and resolves with it; or, when the current file already holds an
   * entry with the same (route, sink, window.from, part) and the same late/counts/digest, writes nothing and
   * resolves with that one (an entry re-derived after a crash).
   * Appends run one at a time, in call order. Throws `TypeError` for an input that breaks the format (a bug)
   * and `FWD_LEDGER_IO` when the file cannot be written; after a failed write the file is cut back to its last
   * entry and the next append may succeed (if that cut fails too, every later append throws: reopen).
   */
  append(input: LedgerEntryInput): Promise<LedgerAppendResult>;
  /**
   * Appends several entries, in order, as `append` would, but with one write and one fsync for all those that go
   * into the same file (a commit can close hundreds of windows at once: one fsync each would stall the route).
   * On a failure nothing of the group is kept (the file is cut back to its last entry) and it throws as `append`.
   */
  appendAll(inputs: readonly LedgerEntryInput[]): Promise<LedgerAppendResult[]>;
  /** Hash of the last entry (GENESIS_HASH when none). */
  readonly lastHash: string;
  readonly lastSeq: number;
  /** The current file, `<dir>/<route>.jsonl`. */
  readonly file: string;
  /** Waits for the appends already called; later appends throw. */
  close(): Promise<void>;
}

/**
 * Opens the ledger of `route` in `dir` (created, mode 0700, if missing) for appending: validates the whole
 * current file, sets a torn last line aside (see `LedgerWriterOptions.onTornTail`), and continues the chain
 * from the last entry of the current file or, when it is empty or missing, of the newest rolled file.
 * One writer per route at a time: close it before opening another (across processes, the route's checkpoint
 * lock keeps a second forwarder out).
 * Throws `FWD_LEDGER_CORRUPT` (naming file and line) when an entry does not verify, `FWD_LEDGER_IO` when the
 * files cannot be read or written, `FWD_CONFIG_INVALID` for a route name that cannot name ledger files.
 */
export async function openLedgerWriter(dir: string, route: string, options: LedgerWriterOptions = {}): Promise<LedgerWriter> {
  checkLedgerRoute(route);
  const maxBytes = options.maxBytes ?? DEFAULT_LEDGER_MAX_BYTES;
  if (!Number.isSafeInteger(maxBytes) || maxBytes < 1) throw new TypeError(`ledger maxBytes must be a positive integer, got ${String(maxBytes)}`);
  const signingKey = options.signingKey;
  if (signingKey !== undefined && (signingKey.type !== 'private' || signingKey.asymmetricKeyType !== 'ed25519')) {
    throw new TypeError('the ledger signing key must be an Ed25519 private key (see loadSigningKey)');
  }
  const now = options.now ?? (() => new Date());
  const onTornTail = options.onTornTail ?? warnTornTail;
  const root = path.resolve(dir);
  const file = currentLedgerFile(root, route);
  const state = await serialised(file, () => recover(root, route, file, now, onTornTail));
  let closed = false;
  let broken: ForwarderError | undefined;

  const roll = async (): Promise<void> => {
    const target = rollTarget(await listRolled(root, route), state.firstDay!, root, route);
    if (await exists(target)) throw new Error(`${target} exists already`);
    await rename(file, target);
    state.size = 0;
    state.firstDay = undefined;
    state.lines = 0;
    state.byKey.clear();
    state.dirDirty = false;
    await fsyncPath(root);
  };

  /** Writes whole lines at the end of the current file and fsyncs it (and the directory when the file is new). */
  const writeGroup = async (bytes: Buffer, what: string): Promise<void> => {
    let handle: FileHandle | undefined;
    try {
      try {
        handle = await open(file, 'ax', 0o600);
        state.dirDirty = true;
      } catch (e) {
        if (errno(e) !== 'EEXIST') throw e;
        handle = await open(file, 'a', 0o600);
      }
      try {
        await writeAll(handle, bytes);
        await handle.sync();
      } catch (e) {
        try {
          await handle.truncate(state.size);
          await handle.sync();
        } catch (cut) {
          broken = ioError(`cut back ledger file ${file} after a failed append (reopen the ledger; ${(e as Error).message})`, cut, 'permanent');
          throw broken;
        }
        throw e;
      }
      if (state.dirDirty) {
        await fsyncPath(root);
        state.dirDirty = false;
      }
    } catch (e) {
      if (e === broken) throw e;
      throw ioError(`append ${what} to ledger file ${file}`, e, 'retryable');
    } finally {
      await handle?.close().catch(() => undefined);
    }
  };

  const appendGroup = async (inputs: readonly LedgerEntryInput[]): Promise<LedgerAppendResult[]> => {
    if (closed) throw new ForwarderError('FWD_LEDGER_IO', `The ledger writer of route "${route}" (${file}) is closed.`, { stage: 'ledger', disposition: 'permanent' });
    if (broken !== undefined) throw broken;
    const results: LedgerAppendResult[] = [];
    let pending: Buffer[] = [];
    let pendingBytes = 0;
    // What the pending lines will change once written: applied only after their write.
    let seq = state.lastSeq;
    let hash = state.lastHash;
    let firstDay = state.firstDay;
    const added: LedgerEntry[] = [];
    const commit = async (): Promise<void> => {
      if (pending.length === 0) return;
      await writeGroup(Buffer.concat(pending, pendingBytes), `entries ${added[0]!.seq}–${added[added.length - 1]!.seq}`);
      state.size += pendingBytes;
      state.lines += pending.length;
      state.firstDay = firstDay;
      state.lastSeq = seq;
      state.lastHash = hash;
      for (const e of added) if (!state.byKey.has(entryKey(e))) state.byKey.set(entryKey(e), e);
      pending = [];
      pendingBytes = 0;
      added.length = 0;
    };
    const pendingByKey = new Map<string, LedgerEntry>();
    for (const input of inputs) {
      if (input.route !== route) throw new TypeError(`ledger entry of route ${JSON.stringify(input.route)} given to the writer of route "${route}"`);
      const { line, entry } = formatEntry(input, seq + 1, hash, signingKey);
      const key = entryKey(entry);
      const existing = pendingByKey.get(key) ?? state.byKey.get(key);
      if (existing !== undefined && sameEntryContent(existing, entry)) {
        results.push({ entry: existing, written: false });
        continue;
      }
      const bytes = Buffer.from(line, 'utf8');
      const size = state.size + pendingBytes;
      if (size > 0 && (firstDay !== utcDay(entry.closedAt) || size + bytes.length > maxBytes)) {
        await commit();
        try {
          if (state.size > 0) await roll();
        } catch (e) {
          throw ioError(`roll ledger file ${file} (before appending entry ${entry.seq})`, e, 'retryable');
        }
        firstDay = undefined;
      }
      pending.push(bytes);
      pendingBytes += bytes.length;
      added.push(entry);
      pendingByKey.set(key, entry);
      seq = entry.seq;
      hash = entry.hash;
      firstDay ??= utcDay(entry.closedAt);
      results.push(existing === undefined ? { entry, written: true } : { entry, written: true, conflictsWith: existing });
    }
    await commit();
    return results;
  };

  return {
    file,
    get lastHash() {
      return state.lastHash;
    },
    get lastSeq() {
      return state.lastSeq;
    },
    append: (input) => serialised(file, async () => (await appendGroup([input]))[0]!),
    appendAll: (inputs) => serialised(file, () => appendGroup(inputs)),
    close: () =>
      serialised(file, async () => {
        closed = true;
      }),
  };
}

/** `<dir>/<route>.jsonl`: the file a route's ledger appends to. */
export function currentLedgerFile(dir: string, route: string): string {
  return path.join(path.resolve(dir), `${route}.jsonl`);
}

/**
 * The ledger files of `route` in `dir` that exist, in chain order: rolled files by day, then number, then
 * the current file. Empty when there are none (or no directory). Throws `FWD_LEDGER_IO` when it cannot list.
 */
export async function listLedgerFiles(dir: string, route: string): Promise<string[]> {
  checkLedgerRoute(route);
  const root = path.resolve(dir);
  const rolled = await listRolled(root, route).catch((e: unknown) => {
    throw ioError(`list the ledger directory ${root}`, e, 'permanent');
  });
  const files = rolled.map((r) => path.join(root, r.name));
  const current = currentLedgerFile(root, route);
  if (await exists(current).catch(() => true)) files.push(current);
  return files;
}

/**
 * Throws `FWD_CONFIG_INVALID` for a route name that cannot name ledger files: only letters, digits, `.`, `_`
 * and `-`, no `..`, and not ending like a rolled file's date (`.2026-01-02`, `.2026-01-02.3`).
 */
export function checkLedgerRoute(route: string): void {
  const problem =
    typeof route !== 'string' || !/^[A-Za-z0-9._-]+$/.test(route) || route === '.' || route.includes('..')
      ? "only letters, digits, '.', '_' and '-', no '..'"
      : /\.\d{4}-\d{2}-\d{2}(?:\.\d+)?$/.test(route)
        ? 'it may not end like the date of a rolled ledger file (.YYYY-MM-DD or .YYYY-MM-DD.N)'
        : undefined;
  if (problem !== undefined) {
    throw new ForwarderError('FWD_CONFIG_INVALID', `Invalid route name ${JSON.stringify(route)} for a ledger file: ${problem}.`, {
      stage: 'config',
      disposition: 'fatal',
    });
  }
}

/**
 * The lines of a ledger file: each complete line without its `\n`, and the bytes after the last `\n` (a torn
 * last line) when the file does not end with one.
 */
export function splitLedgerLines(bytes: Uint8Array): { lines: Buffer[]; torn?: Buffer } {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const lines: Buffer[] = [];
  let start = 0;
  for (let nl = buf.indexOf(NEWLINE, start); nl !== -1; nl = buf.indexOf(NEWLINE, start)) {
    lines.push(buf.subarray(start, nl));
    start = nl + 1;
  }
  return start < buf.length ? { lines, torn: buf.subarray(start) } : { lines };
}

/** The text of one line; undefined when it is not valid UTF-8. */
export function decodeLedgerLine(bytes: Uint8Array): string | undefined {
  try {
    return utf8.decode(bytes);
  } catch {
    return undefined;
  }
}

// ---------------------------------------------------------------------------------------------------------

const NEWLINE = 0x0a;
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

interface WriterState {
  lastSeq: number;
  lastHash: string;
  /** Bytes in the current file. */
  size: number;
  lines: number;
  /** UTC day of the current file's first entry; undefined while it has none. */
  firstDay: string | undefined;
  /** The current file's entries by entryKey (the first one of each key). */
  readonly byKey: Map<string, LedgerEntry>;
  /** The current file was created and the directory not yet fsynced. */
  dirDirty: boolean;
}

interface Rolled {
  readonly name: string;
  readonly day: string;
  /** 1 for `<route>.<day>.jsonl`, n for `<route>.<day>.<n>.jsonl`. */
  readonly n: number;
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** The rolled files of `route`, sorted oldest first. ENOENT (no directory) is none. */
async function listRolled(root: string, route: string): Promise<Rolled[]> {
  let names: string[];
  try {
    names = await readdir(root);
  } catch (e) {
    if (errno(e) === 'ENOENT') return [];
    throw e;
  }
  const pattern = new RegExp(`^${escapeRegExp(route)}\\.(\\d{4}-\\d{2}-\\d{2})(?:\\.([1-9]\\d{0,8}))?\\.jsonl$`);
  const rolled: Rolled[] = [];
  for (const name of names) {
    const m = pattern.exec(name);
    if (m !== null) rolled.push({ name, day: m[1]!, n: m[2] === undefined ? 1 : Number(m[2]) });
  }
  return rolled.sort((a, b) => (a.day < b.day ? -1 : a.day > b.day ? 1 : a.n - b.n));
}

/**
 * The name for the current file when it is rolled: after the day of its first entry, numbered when that day
 * has a file already. Never sorts before an existing rolled file (a clock set back keeps the later day's name).
 */
function rollTarget(rolled: readonly Rolled[], firstDay: string, root: string, route: string): string {
  const newest = rolled[rolled.length - 1];
  let day = firstDay;
  let n = 1;
  if (newest !== undefined && newest.day >= day) {
    day = newest.day;
    n = newest.n + 1;
  }
  return path.join(root, n === 1 ? `${route}.${day}.jsonl` : `${route}.${day}.${n}.jsonl`);
}



async function unusedName(base: string): Promise<string> {
  for (let i = 0; ; i++) {
    const candidate = i === 0 ? base : `${base}-${i}`;
    if (!(await exists(candidate))) return candidate;
  }
}

async function writeAll(handle: FileHandle, data: Buffer): Promise<void> {
  for (let offset = 0; offset < data.length; ) {
    const { bytesWritten } = await handle.write(data, offset, data.length - offset, null);
    offset += bytesWritten;
  }
}

function ioError(action: string, cause: unknown, disposition: 'retryable' | 'permanent' | 'fatal'): ForwarderError {
  if (isForwarderError(cause)) return cause;
  const detail = cause instanceof Error ? cause.message : String(cause);
  return new ForwarderError('FWD_LEDGER_IO', `Cannot ${action}: ${detail}`, { stage: 'ledger', disposition, cause });
}

function corrupt(root: string, route: string, file: string, line: number, problem: string): ForwarderError {
  return new ForwarderError(
    'FWD_LEDGER_CORRUPT',
    `Ledger file ${file} line ${line}: ${problem}. The ledger was altered or damaged after it was written, so the ` +
      `forwarder does not append to it (an entry after a bad one would vouch for it). Keep the files as evidence ` +
      `and inspect them (docs/completeness.md, "The ledger file format"); to go on with a new chain, move the ` +
      `ledger files of route "${route}" (${path.join(root, `${route}.*jsonl`)}) out of ${root}.`,
    { stage: 'ledger', disposition: 'fatal' },
  );
}

function warnTornTail(torn: LedgerTornTail): void {
  process.emitWarning(
    `ledger file ${torn.file} ended with a partial line (${torn.bytes} bytes, a write cut short by a crash); ` +
      `it was moved to ${torn.evidence} and the entry will be written again`,
    { code: 'FWD_LEDGER_TORN_TAIL' },
  );
}

/** Validates the current file (setting a torn tail aside) and finds the chain's tail. */
async function recover(root: string, route: string, file: string, now: () => Date, onTornTail: (t: LedgerTornTail) => void): Promise<WriterState> {
  let bytes: Buffer | undefined;
  try {
    await ensureDirectory(root);
    bytes = await readIfExists(file);
    if (bytes !== undefined && bytes.length > 0 && bytes[bytes.length - 1] !== NEWLINE) {
      const keep = bytes.lastIndexOf(NEWLINE) + 1;
      const evidence = await unusedName(`${file}.torn-${now().toISOString().replace(/[-:]/g, '')}`);
      await writeNew(evidence, bytes.subarray(keep));
      const handle = await open(file, 'r+');
      try {
        await handle.truncate(keep);
        await handle.sync();
      } finally {
        await handle.close();
      }
      await fsyncPath(root);
      onTornTail({ file, evidence, bytes: bytes.length - keep });
      bytes = bytes.subarray(0, keep);
    }
  } catch (e) {
    throw ioError(`open ledger file ${file}`, e, 'fatal');
  }

  const state: WriterState = { lastSeq: 0, lastHash: GENESIS_HASH, size: bytes?.length ?? 0, lines: 0, firstDay: undefined, byKey: new Map(), dirDirty: false };
  let first: LedgerEntry | undefined;
  let last: LedgerEntry | undefined;
  for (const lineBytes of splitLedgerLines(bytes ?? Buffer.alloc(0)).lines) {
    const n = ++state.lines;
    const text = decodeLedgerLine(lineBytes);
    if (text === undefined) throw corrupt(root, route, file, n, 'the line is not valid UTF-8');
    const parsed = parseEntryLine(text);
    if (!parsed.ok) throw corrupt(root, route, file, n, parsed.reason);
    const entry = parsed.entry;
    if (entry.route !== route) throw corrupt(root, route, file, n, `the entry belongs to route "${entry.route}", not "${route}"`);
    if (last !== undefined && entry.prev !== last.hash) {
      throw corrupt(root, route, file, n, `its prev ${entry.prev} is not the hash of the line before it (${last.hash})`);
    }
    if (last !== undefined && entry.seq !== last.seq + 1) throw corrupt(root, route, file, n, `its seq ${entry.seq} does not follow seq ${last.seq} of the line before it`);
    if (!state.byKey.has(entryKey(entry))) state.byKey.set(entryKey(entry), entry);
    first ??= entry;
    last = entry;
  }

  // The newest rolled file's last entry: where the chain continues from, or what the current file follows.
  let rolledTail: { entry: LedgerEntry; file: string } | undefined;
  let rolledFile: string | undefined;
  try {
    const rolled = await listRolled(root, route);
    const newest = rolled[rolled.length - 1];
    if (newest !== undefined) {
      rolledFile = path.join(root, newest.name);
      const data = await readFile(rolledFile);
      const { lines, torn } = splitLedgerLines(data);
      if (torn !== undefined) throw corrupt(root, route, rolledFile, lines.length + 1, 'the rolled file does not end with a line break');
      const lastLine = lines[lines.length - 1];
      if (lastLine !== undefined) {
        const text = decodeLedgerLine(lastLine);
        const parsed = text === undefined ? undefined : parseEntryLine(text);
        if (parsed === undefined || !parsed.ok) throw corrupt(root, route, rolledFile, lines.length, parsed?.reason ?? 'the line is not valid UTF-8');
        rolledTail = { entry: parsed.entry, file: rolledFile };
      }
    }
  } catch (e) {
    throw ioError(`read ledger file ${rolledFile ?? root}`, e, 'fatal');
  }

  if (first !== undefined && rolledTail !== undefined) {
    const t = rolledTail.entry;
    if (first.prev !== t.hash || first.seq !== t.seq + 1) {
      throw corrupt(root, route, file, 1, `the entry (seq ${first.seq}) does not follow the last entry of ${rolledTail.file} (seq ${t.seq}, hash ${t.hash})`);
    }
  } else if (first !== undefined && (first.seq === 1) !== (first.prev === GENESIS_HASH)) {
    throw corrupt(root, route, file, 1, `seq ${first.seq} with prev ${first.prev}: only seq 1 follows the genesis hash (64 zeros)`);
  }
  const tail = last ?? rolledTail?.entry;
  if (tail !== undefined) {
    state.lastSeq = tail.seq;
    state.lastHash = tail.hash;
  }
  if (first !== undefined) state.firstDay = utcDay(first.closedAt);
  return state;
}

async function writeNew(file: string, data: Uint8Array): Promise<void> {
  const handle = await open(file, 'wx', 0o600);
  try {
    await handle.writeFile(data);
    await handle.sync();
  } finally {
    await handle.close();
  }
}
