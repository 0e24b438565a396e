// Ledger reader: every file of a route's ledger, in chain order, verified entry by entry (hash, chain, seq, signature, conflicts).
import type { KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { ForwarderError, isForwarderError } from '../contracts/errors.ts';
import { errno, serialised } from '../util/durable-fs.ts';
import { entryKey, GENESIS_HASH, parseEntryLine, sameEntryContent, verifySignature } from './entry.ts';
import type { LedgerEntry } from './entry.ts';
import { checkLedgerRoute, currentLedgerFile, decodeLedgerLine, listLedgerFiles, splitLedgerLines } from './ledger-file.ts';

/*
 * What each problem means:
 *   torn       a last line without its `\n`. In the current file: a write cut short by a crash (not tampering;
 *              the writer sets it aside when it next opens the ledger). In a rolled file: tampering.
 *   parse      a line that is not an entry as the writer writes it (JSON, members, values, canonical form,
 *              UTF-8), or an entry of another route.
 *   hash       the line's body does not hash to its `hash`: a byte of it was changed.
 *   chain      `prev` is not the `hash` of the entry before it: an entry was removed, inserted or moved
 *              (or, for the first entry, seq 1 does not start from the genesis hash).
 *   seq        `prev` links but `seq` is not one more than the entry before it's.
 *   signature  `sig` does not verify with the public key.
 *   unsigned   no `sig` although signatures are required.
 *   conflict   a second entry for the same (route, sink, window.from, part) with other counts or digest. The
 *              same entry written twice (derived again after a crash) is no problem; only the first is kept.
 * Entries are collected until the first problem that breaks the chain (all but `conflict` and a torn last
 * line of the current file); problems after it are still reported, each line checked against the one before.
 */

export type LedgerProblemKind = 'torn' | 'parse' | 'hash' | 'chain' | 'seq' | 'signature' | 'unsigned' | 'conflict';

export interface LedgerProblem {
  readonly file: string;
  /** 1-based line number in `file`. */
  readonly line: number;
  readonly kind: LedgerProblemKind;
  readonly detail: string;
}

export interface LedgerReadResult {
  /** In chain order. */
  readonly files: readonly string[];
  /** Every entry that verified, in chain order (stop collecting at the first tamper problem). */
  readonly entries: readonly LedgerEntry[];
  readonly problems: readonly LedgerProblem[];
  /** True when there is a problem other than a torn last line of the current file (a crash, not tampering). */
  readonly tampered: boolean;
  /** The first bad entry, for the report: file, line, kind. */
  readonly firstBad?: LedgerProblem;
  /** prev of the first entry present when it is not GENESIS_HASH (older files were removed, e.g. by retention). */
  readonly startsAfter?: string;
}

export interface ReadLedgerOptions {
  /** Verify every `sig` with this Ed25519 key (see `loadPublicKey`); without it signatures are not checked. */
  readonly publicKey?: KeyObject;
  /** Report every entry without `sig` (`unsigned`). Needs `publicKey`. */
  readonly requireSignatures?: boolean;
}

/**
 * Reads and verifies the whole ledger of `route` in `dir`: every file, every line. A missing ledger (no files,
 * no directory) is an empty result, not an error. In this process it runs between appends of the route's
 * writer (never sees half an append). Throws `FWD_LEDGER_IO` when a file cannot be read, `FWD_CONFIG_INVALID`
 * for a route name that cannot name ledger files, `TypeError` for `requireSignatures` without `publicKey`.
 */
export async function readLedger(dir: string, route: string, options: ReadLedgerOptions = {}): Promise<LedgerReadResult> {
  checkLedgerRoute(route);
  const { publicKey, requireSignatures = false } = options;
  if (requireSignatures && publicKey === undefined) throw new TypeError('readLedger: requireSignatures needs the publicKey to verify them with');
  if (publicKey !== undefined && publicKey.asymmetricKeyType !== 'ed25519') throw new TypeError('readLedger: the public key must be an Ed25519 key (see loadPublicKey)');
  const root = path.resolve(dir);
  const current = currentLedgerFile(root, route);
  return serialised(current, () => readNow(root, route, current, publicKey, requireSignatures));
}

async function readNow(root: string, route: string, current: string, publicKey: KeyObject | undefined, requireSignatures: boolean): Promise<LedgerReadResult> {
  const listed = await listLedgerFiles(root, route);
  const files: string[] = [];
  const entries: LedgerEntry[] = [];
  const problems: LedgerProblem[] = [];
  const byKey = new Map<string, { entry: LedgerEntry; file: string; line: number }>();
  /** The entry on the line before, to check the link of the next one against; undefined after a line that is not an entry. */
  let before: { entry: LedgerEntry; file: string; line: number } | undefined;
  /** No line of the chain seen yet. */
  let atStart = true;
  let collecting = true;
  let startsAfter: string | undefined;

  for (const file of listed) {
    let bytes: Buffer;
    try {
      bytes = await readFile(file);
    } catch (e) {
      if (errno(e) === 'ENOENT') continue; // removed since listed (retention): as if it had not been there
      throw readError(file, e);
    }
    files.push(file);
    const { lines, torn } = splitLedgerLines(bytes);
    for (let i = 0; i < lines.length; i++) {
      const line = i + 1;
      const found: LedgerProblem[] = [];
      const problem = (kind: LedgerProblemKind, detail: string): void => {
        found.push({ file, line, kind, detail });
      };
      const text = decodeLedgerLine(lines[i]!);
      const parsed = text === undefined ? undefined : parseEntryLine(text);
      if (parsed === undefined || !parsed.ok) {
        problem(parsed?.kind ?? 'parse', parsed?.reason ?? 'the line is not valid UTF-8');
        problems.push(...found);
        collecting = false;
        before = undefined;
        atStart = false;
        continue;
      }
      const entry = parsed.entry;
      if (entry.route !== route) problem('parse', `the entry belongs to route "${entry.route}", not "${route}"`);
      if (before !== undefined) {
        const b = before.entry;
        const where = `${before.file === file ? '' : `${path.basename(before.file)} `}line ${before.line}`;
        if (entry.prev !== b.hash) {
          problem('chain', `seq ${entry.seq}: its prev ${entry.prev} is not the hash of the entry before it (seq ${b.seq}, ${where}): an entry was removed, inserted or moved`);
        } else if (entry.seq !== b.seq + 1) {
          problem('seq', `seq ${entry.seq} does not follow seq ${b.seq} of the entry before it (${where}) although prev links`);
        }
      } else if (atStart) {
        if (entry.seq === 1 && entry.prev !== GENESIS_HASH) problem('chain', `seq 1 with prev ${entry.prev}: the chain starts from the genesis hash (64 zeros)`);
        else if (entry.seq !== 1 && entry.prev === GENESIS_HASH) problem('seq', `seq ${entry.seq} follows the genesis hash: the first entry of a chain is seq 1`);
        else if (entry.seq !== 1) startsAfter = entry.prev;
      }
      if (publicKey !== undefined) {
        if (entry.sig !== undefined) {
          if (!verifySignature(parsed.body, entry.sig, publicKey)) problem('signature', `seq ${entry.seq}: the signature does not verify with the public key`);
        } else if (requireSignatures) {
          problem('unsigned', `seq ${entry.seq} has no signature, and signatures are required`);
        }
      }
      atStart = false;
      before = { entry, file, line };
      if (found.length > 0) {
        problems.push(...found);
        collecting = false;
        continue;
      }
      if (!collecting) continue;
      const key = entryKey(entry);
      const first = byKey.get(key);
      if (first === undefined) {
        byKey.set(key, { entry, file, line });
        entries.push(entry);
      } else if (!sameEntryContent(first.entry, entry)) {
        problems.push({
          file,
          line,
          kind: 'conflict',
          detail:
            `seq ${entry.seq} (sink "${entry.sink}", window from ${entry.window.from}, part ${entry.part}) says other counts or ` +
            `digest than seq ${first.entry.seq} (${path.basename(first.file)} line ${first.line}) for the same window`,
        });
      }
    }
    if (torn !== undefined) {
      const crash = file === current;
      problems.push({
        file,
        line: lines.length + 1,
        kind: 'torn',
        detail: crash
          ? 'the last line has no line break: a write cut short by a crash (the writer sets it aside when it next opens the ledger)'
          : 'a rolled file ends with a line without its line break: rolled files are only ever complete',
      });
      if (!crash) {
        collecting = false;
        before = undefined;
      }
    }
  }

  const isTamper = (p: LedgerProblem): boolean => !(p.kind === 'torn' && p.file === current);
  const firstBad = problems.find(isTamper);
  return {
    files,
    entries,
    problems,
    tampered: firstBad !== undefined,
    ...(firstBad !== undefined ? { firstBad } : {}),
    ...(startsAfter !== undefined ? { startsAfter } : {}),
  };
}

function readError(file: string, cause: unknown): ForwarderError {
  if (isForwarderError(cause)) return cause;
  const detail = cause instanceof Error ? cause.message : String(cause);
  return new ForwarderError('FWD_LEDGER_IO', `Cannot read ledger file ${file}: ${detail}`, { stage: 'ledger', disposition: 'permanent', cause });
}
