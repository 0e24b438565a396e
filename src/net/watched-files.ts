// Files re-read only when they change (certificates, tokens rotated by a sidecar), and secrets that follow their file.
import { createHash } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { trimSecretFile, type Secret } from '../config/types.ts';

/**
 * Files that are not read again until they change. The check is a `stat` (inode, size, mtime and ctime in
 * nanoseconds), so an SVID sidecar that renames new files into place or swaps a symlinked directory (the
 * Kubernetes projected-volume way) is seen at once. As a safety net against file systems with coarse
 * timestamps, the contents are compared again after `RECHECK_MS` even when the stats did not move.
 */
const RECHECK_MS = 60_000;

export interface FileSnapshot {
  /** The contents, in the order the paths were given. */
  readonly contents: readonly Buffer[];
  /** Records this snapshot as the one in use: later calls report a change only against it. */
  accept(): void;
}

export interface WatchedFiles {
  readonly paths: readonly string[];
  /**
   * The contents when they differ from the last accepted snapshot (always, before the first `accept`), else
   * undefined. Reads the files only when a `stat` moved (or the safety recheck is due). Throws the file
   * system's error (ENOENT …, with its `path`) when a file cannot be read.
   */
  changed(): Promise<FileSnapshot | undefined>;
}

const stampOf = (s: { ino: bigint; size: bigint; mtimeNs: bigint; ctimeNs: bigint }): string => `${s.ino}:${s.size}:${s.mtimeNs}:${s.ctimeNs}`;

export function watchFiles(paths: readonly string[], now: () => number = Date.now): WatchedFiles {
  let acceptedStamps: string | undefined;
  let acceptedDigest: string | undefined;
  let checkedAt = 0;

  return {
    paths,
    async changed() {
      // Stats are taken before the reads: a rewrite in between shows up as a change on the next call.
      const stamps = (await Promise.all(paths.map((p) => stat(p, { bigint: true })))).map(stampOf).join('|');
      if (stamps === acceptedStamps && now() - checkedAt < RECHECK_MS) return undefined;
      // Some read errors (EISDIR) do not carry the path: it is added, so the message can name the file.
      const contents = await Promise.all(paths.map((p) => readFile(p).catch((e: NodeJS.ErrnoException) => Promise.reject(Object.assign(e, { path: e.path ?? p })))));
      const hash = createHash('sha256');
      for (const c of contents) hash.update(createHash('sha256').update(c).digest());
      const digest = hash.digest('hex');
      const accept = () => {
        acceptedStamps = stamps;
        acceptedDigest = digest;
        checkedAt = now();
      };
      if (digest === acceptedDigest) {
        accept();
        return undefined;
      }
      return { contents, accept };
    },
  };
}

// ---- secrets from files ----

/** A secret (bearer token, HEC token) as it is now. */
export interface RotatingSecret {
  /**
   * The token to send, re-read from its file when the file changed (a token given inline never changes).
   * An unreadable or empty file keeps the previous token (a writer may be half-way); undefined when none is
   * configured. Never log the value.
   */
  current(): Promise<string | undefined>;
}

export function createRotatingSecret(secret: Secret | undefined): RotatingSecret {
  if (secret === undefined) return { current: () => Promise.resolve(undefined) };
  const file = secret.sourceFile;
  if (file === undefined) return { current: () => Promise.resolve(secret.reveal()) };
  const watched = watchFiles([file]);
  let token = secret.reveal();
  return {
    async current() {
      const snapshot = await watched.changed().catch(() => undefined);
      if (snapshot === undefined) return token;
      const value = trimSecretFile((snapshot.contents[0] as Buffer).toString('utf8'));
      if (value !== '') {
        token = value;
        snapshot.accept();
      }
      return token;
    },
  };
}
