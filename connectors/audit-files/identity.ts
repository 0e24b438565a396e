// File identity of the audit-files source: device + inode + fingerprint, rotated generation names, positions.
import { createHash } from 'node:crypto';
import type { FileHandle } from 'node:fs/promises';
import { basename } from 'node:path';
import { pipeline, Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';

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

/** The first `length` bytes of an open plain file (fewer when it is shorter). */
export async function plainPrefix(fh: FileHandle, length: number): Promise<Buffer> {
  const buf = Buffer.alloc(length);
  let got = 0;
  while (got < length) {
    const { bytesRead } = await fh.read(buf, got, length - got, got);
    if (bytesRead === 0) break;
    got += bytesRead;
  }
  return buf.subarray(0, got);
}

/** The raw bytes of an open file from its start, read through the handle (which stays open). */
async function* rawChunks(fh: FileHandle): AsyncGenerator<Buffer> {
  let pos = 0;
  for (;;) {
    const buf = Buffer.allocUnsafe(64 * 1024);
    const { bytesRead } = await fh.read(buf, 0, buf.length, pos);
    if (bytesRead === 0) return;
    pos += bytesRead;
    yield buf.subarray(0, bytesRead);
  }
}

/**
 * The decompressed content of an open gzip file, as a stream (errors, such as a corrupt or half-written
 * archive, surface when iterating it). Destroying it leaves the handle open.
 */
export function gunzipStream(fh: FileHandle): Readable {
  return pipeline(Readable.from(rawChunks(fh), { objectMode: false }), createGunzip({ chunkSize: 64 * 1024 }), () => undefined);
}

/** The first `length` decompressed bytes of an open gzip file (fewer when shorter or corrupt). */
export async function gzipPrefix(fh: FileHandle, length: number): Promise<Buffer> {
  const parts: Buffer[] = [];
  let got = 0;
  const stream = gunzipStream(fh);
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      parts.push(chunk);
      got += chunk.length;
      if (got >= length) break;
    }
  } catch {
    // A corrupt or half-written archive: its prefix is what could be decompressed.
  } finally {
    stream.destroy();
  }
  return Buffer.concat(parts).subarray(0, length);
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

/**
 * Pairs the files of a position with the files on disk.
 * 1. Same device + inode and same fingerprint: the same file, wherever it now is (a rename rotation).
 *    Same device + inode but other first bytes: the inode was reused by a new file — not a match.
 * 2. A state still unmatched is looked for by fingerprint alone among the remaining candidates: a copy of
 *    the file (copytruncate) or its compressed generation. A state with an empty fingerprint matches
 *    nothing this way.
 * Each candidate matches at most one state. Returns, per candidate index, the state it continues.
 */
export async function matchFiles(
  states: readonly FileState[],
  candidates: readonly FileCandidate[],
  prefix: (candidate: number, length: number) => Promise<Buffer>,
): Promise<Map<number, FileState>> {
  const matched = new Map<number, FileState>();
  const unmatched: FileState[] = [];
  for (const s of states) {
    const i = candidates.findIndex((c, k) => !matched.has(k) && c.dev === s.dev && c.ino === s.ino);
    if (i !== -1 && (await sameContent(s, (n) => prefix(i, n)))) matched.set(i, s);
    else unmatched.push(s);
  }
  for (const s of unmatched) {
    if (s.fpLength === 0) continue;
    for (let i = 0; i < candidates.length; i++) {
      if (matched.has(i)) continue;
      if (await sameContent(s, (n) => prefix(i, n))) {
        matched.set(i, s);
        break;
      }
    }
  }
  return matched;
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
