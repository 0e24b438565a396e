// File identity of the audit-files source: device + inode + fingerprint, pairing by identity, rotated generation names, positions.
import { createHash } from 'node:crypto';
import { basename } from 'node:path';

/**
 * The committed state of one file: who it is (device, inode, and the sha256 of its first `fpLength`
 * bytes — decompressed bytes for a `.gz` generation), where it was last seen, and how far it was read
 * (`offset`: bytes just after the last line whose record was yielded; `line`: lines before `offset`).
 */
export type FileState = {
  readonly path: string;
  readonly dev: number;
  readonly ino: number;
  readonly fp: string;
  readonly fpLength: number;
  readonly offset: number;
  readonly line: number;
  readonly gz?: true;
};

/**
 * Position of an audit-files record: the state of its own file just after it, and the states of every
 * other file tracked at that moment. `others` is shared by all the records of a chunk, so a position
 * costs one small object per record whatever the number of files.
 */
export type AuditFilesPosition = {
  readonly v: 1;
  readonly file: FileState;
  readonly others: FileState[];
};

/** Every file state a position carries. */
export function positionFiles(p: AuditFilesPosition): FileState[] {
  return [p.file, ...p.others];
}

const isCount = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;

function isFileState(v: unknown): v is FileState {
  if (typeof v !== 'object' || v === null) return false;
  const o = v as Record<string, unknown>;
  return (
    typeof o.path === 'string' &&
    isCount(o.dev) &&
    isCount(o.ino) &&
    typeof o.fp === 'string' &&
    /^[0-9a-f]{64}$/.test(o.fp) &&
    isCount(o.fpLength) &&
    isCount(o.offset) &&
    isCount(o.line) &&
    (o.gz === undefined || o.gz === true)
  );
}

export function isAuditFilesPosition(v: unknown): v is AuditFilesPosition {
  if (typeof v !== 'object' || v === null) return false;
  const o = v as Record<string, unknown>;
  return o.v === 1 && isFileState(o.file) && Array.isArray(o.others) && o.others.every(isFileState);
}

/** sha256 (hex) of the bytes a fingerprint covers. */
export function fingerprint(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** A file seen on disk that might be a tracked one. */
export interface FileCandidate {
  readonly path: string;
  readonly dev: number;
  readonly ino: number;
  readonly gz: boolean;
  /** Matched by a live pattern (otherwise a rotated generation beside one). */
  readonly live: boolean;
}

/**
 * Whether `candidate` holds the file `state` describes, judged by its content: its first
 * `state.fpLength` bytes exist and hash to `state.fp`. `prefix` reads a candidate's first bytes.
 */
export async function sameContent(state: Pick<FileState, 'fp' | 'fpLength'>, prefix: (length: number) => Promise<Buffer>): Promise<boolean> {
  const bytes = await prefix(state.fpLength);
  return bytes.length === state.fpLength && fingerprint(bytes) === state.fp;
}

/** A file seen on disk with its first bytes: as many as the longest fingerprint it is compared with, fewer when it is shorter. */
export interface PrefixedCandidate extends FileCandidate {
  readonly prefix: Buffer;
}

/** Bytes of each candidate that pairing with `states` compares: the longest fingerprint's. */
export function prefixLength(states: readonly FileState[]): number {
  let n = 0;
  for (const s of states) if (s.fpLength > n) n = s.fpLength;
  return n;
}

/**
 * Pairs the files of a position with the files on disk.
 * 1. Same device + inode and same fingerprint: the same file, wherever it now is (a rename rotation).
 *    Same device + inode but other first bytes: the inode was reused by a new file — not a match.
 * 2. A state still unmatched is looked for by fingerprint alone among the remaining candidates: a copy of
 *    the file (copytruncate) or its compressed generation. A state with an empty fingerprint matches
 *    nothing this way.
 * Each candidate matches at most one state. Returns, per candidate index, the state it continues.
 * Pure: each candidate's `prefix` holds at least `prefixLength(states)` bytes unless the file is shorter.
 */
export function pairFiles(states: readonly FileState[], candidates: readonly PrefixedCandidate[]): Map<number, FileState> {
  const hashes = new Map<string, string>();
  const startsAs = (s: FileState, i: number): boolean => {
    const prefix = candidates[i]!.prefix;
    if (prefix.length < s.fpLength) return false;
    const key = `${i}:${s.fpLength}`;
    let fp = hashes.get(key);
    if (fp === undefined) hashes.set(key, (fp = fingerprint(prefix.subarray(0, s.fpLength))));
    return fp === s.fp;
  };
  const matched = new Map<number, FileState>();
  const unmatched: FileState[] = [];
  for (const s of states) {
    const i = candidates.findIndex((c, k) => !matched.has(k) && c.dev === s.dev && c.ino === s.ino);
    if (i !== -1 && startsAs(s, i)) matched.set(i, s);
    else unmatched.push(s);
  }
  for (const s of unmatched) {
    if (s.fpLength === 0) continue;
    for (let i = 0; i < candidates.length; i++) {
      if (!matched.has(i) && startsAs(s, i)) {
        matched.set(i, s);
        break;
      }
    }
  }
  return matched;
}

/** `pairFiles`, reading each candidate's first bytes with `prefix`. */
export async function matchFiles(
  states: readonly FileState[],
  candidates: readonly FileCandidate[],
  prefix: (candidate: number, length: number) => Promise<Buffer>,
): Promise<Map<number, FileState>> {
  const length = prefixLength(states);
  const prefixed: PrefixedCandidate[] = [];
  for (let i = 0; i < candidates.length; i++) {
    prefixed.push({ ...candidates[i]!, prefix: states.length === 0 ? Buffer.alloc(0) : await prefix(i, length) });
  }
  return pairFiles(states, prefixed);
}

/** A rotated generation's name: `<base>.<n>[.gz]` or `<base>-<date…>[.gz]`. */
export interface Generation {
  readonly base: string;
  readonly gz: boolean;
  /** Sorts generations oldest first (dated ones by date, then numbered ones from the highest number). */
  readonly age: string;
}

const NUMBERED = /^(.+)\.(\d{1,6})(\.gz)?$/;
const DATED = /^(.+)-(\d{8}[0-9A-Za-z_.:-]*?)(\.gz)?$/;

/** Parses a rotated generation's path, or undefined when it is not one. */
export function parseGeneration(path: string): Generation | undefined {
  const n = NUMBERED.exec(path);
  if (n !== null) return { base: n[1]!, gz: n[3] !== undefined, age: `1:${String(999_999 - Number(n[2])).padStart(6, '0')}` };
  const d = DATED.exec(path);
  if (d !== null) return { base: d[1]!, gz: d[3] !== undefined, age: `0:${d[2]!}` };
  return undefined;
}

/**
 * The CADF service that wrote a file, from its name: `<service>-audit.log` (and its generations) →
 * `<service>`; undefined for other names.
 */
export function serviceFromPath(path: string): string | undefined {
  const m = /^(.+?)-audit\.log(?:[.-].*)?$/.exec(basename(path));
  return m === null ? undefined : m[1];
}
