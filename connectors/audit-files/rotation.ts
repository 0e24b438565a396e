// Rotation and truncation of the audit-files source: growing fingerprints, provisional files, the copy of a copytruncate, restarts.
//
// Hand-written because no maintained library does this part: tailing libraries on npm follow a path and
// reopen it, none resumes from a checkpoint that names files by identity (device, inode, first bytes), and
// the agents that do (Fluent Bit in_tail, Filebeat, Vector, the OpenTelemetry filelog receiver) are whole
// programs that have each lost or duplicated lines through copytruncate, inode reuse or compressed
// generations. The rules here are those of README.md and docs/sources/audit-files.md; the scenario tests
// (test/connectors/audit-files-source.test.ts, test/e2e/audit-files.test.ts) hold them.
import type { FileHandle } from 'node:fs/promises';
import { stat } from 'node:fs/promises';
import { fingerprint, sameContent, type FileCandidate, type FileState } from './identity.ts';
import { plainPrefix, prefixOf } from './readers.ts';
import type { FileTracker, TrackedFile } from './tracker.ts';

/** A rotated copy of a tracked file, opened. */
interface FoundCopy {
  readonly fh: FileHandle;
  readonly candidate: FileCandidate;
}

/**
 * True while a live file's first bytes are not yet an identity: no complete line and fewer than
 * `fingerprintBytes` (every CADF line starts alike, `{"id":"…`, so part of a first line matches the next
 * content too).
 */
export const isProvisional = (prefix: Buffer, fingerprintBytes: number): boolean => prefix.length < fingerprintBytes && !prefix.includes(0x0a);

/**
 * Marks `t` provisional (or not) from its first bytes. A provisional file remembers the generations of its
 * log (`dev:ino`) that exist now: one that appears later and starts with the same bytes is the copy of a
 * copytruncate that happened before the content could be told apart.
 */
export async function settleIdentity(k: FileTracker, t: TrackedFile, prefix: Buffer): Promise<void> {
  const provisional = !k.replay && t.live && !t.gz && isProvisional(prefix, k.config.fingerprintBytes);
  t.provisionalSince = provisional ? await k.discovery.generationIds(t.path) : undefined;
}

/**
 * Extends a fingerprint that covers less than `fingerprintBytes` once the file has grown (first bytes
 * unchanged). With `chunk` (bytes just read, not yet given to the splitter), also checks that the part of
 * them inside the file's first bytes is what the file holds there. False when the file no longer starts
 * as fingerprinted, or the chunk disagrees: it was rewritten under the reader.
 */
export async function growFingerprint(k: FileTracker, t: TrackedFile, chunk?: Buffer): Promise<boolean> {
  const fingerprintBytes = k.config.fingerprintBytes;
  if (t.gz || t.fpLength >= fingerprintBytes) return true;
  const prefix = await plainPrefix(t.fh, fingerprintBytes);
  if (prefix.length < t.fpLength || fingerprint(prefix.subarray(0, t.fpLength)) !== t.fp) return false;
  if (chunk !== undefined) {
    const start = t.splitter.offset;
    const end = Math.min(prefix.length, start + chunk.length);
    if (start < end && !prefix.subarray(start, end).equals(chunk.subarray(0, end - start))) return false;
  }
  if (prefix.length === t.fpLength) return true;
  t.fp = fingerprint(prefix);
  t.fpLength = prefix.length;
  t.state = { ...t.state, fp: t.fp, fpLength: t.fpLength };
  if (t.provisionalSince !== undefined && !isProvisional(prefix, fingerprintBytes)) t.provisionalSince = undefined;
  return true;
}

/**
 * Checks a plain file before `bytes` just read from it become records. A live file rewritten under the
 * reader (copytruncate) is restarted from its start, and false returned: these bytes, new content rather
 * than the continuation, are dropped (they are read again from the start).
 *
 * No position may pass bytes its fingerprint does not cover: a fingerprint of the few bytes a file held
 * when first seen (`{"id":"` is how every line starts) would also match the content written after a
 * copytruncate, and a restart would skip that many bytes of it. So a short fingerprint grows first (and
 * this chunk's bytes inside it must be the file's); a full one is compared.
 */
export async function checkBeforeRead(k: FileTracker, t: TrackedFile, bytes: Buffer): Promise<boolean> {
  const watched = !k.replay && t.live;
  if (await restartIfCopied(k, t)) return false;
  const same =
    t.fpLength < k.config.fingerprintBytes ? await growFingerprint(k, t, bytes) : !watched || (await sameContent(t, (n) => plainPrefix(t.fh, n)));
  if (watched && !same) {
    await restartTruncated(k, t);
    return false;
  }
  return true;
}

/** At a scan: a live plain file truncated (shorter than read, or other first bytes) restarts; else its fingerprint grows. */
export async function checkTruncation(k: FileTracker, t: TrackedFile): Promise<void> {
  if (await restartIfCopied(k, t)) return;
  const s = await t.fh.stat();
  const truncated = s.size < t.splitter.offset || !(await sameContent(t, (n) => plainPrefix(t.fh, n)));
  if (truncated) await restartTruncated(k, t);
  else await growFingerprint(k, t);
}

/**
 * The rotated copy of what `t` held as `old` (copytruncate), opened: an untracked generation of its log
 * starting with `old`'s fingerprinted bytes. A provisional file's first bytes (maybe none) match older
 * generations too: only one that appeared since it was first seen can be its copy.
 */
async function findCopyOf(k: FileTracker, t: TrackedFile, old: FileState): Promise<FoundCopy | undefined> {
  const before = t.provisionalSince;
  if (!k.config.readRotated || (old.fpLength === 0 && before === undefined)) return undefined;
  for (const path of await k.discovery.listGenerations([t.path], new Set())) {
    const fh = await k.discovery.open(path);
    if (fh === undefined) continue;
    const s = await fh.stat();
    const gz = path.endsWith('.gz');
    const fresh = before === undefined || !before.has(`${s.dev}:${s.ino}`);
    if (fresh && k.find(s.dev, s.ino) === undefined && (await sameContent(old, (n) => prefixOf(fh, gz, n)))) {
      return { fh, candidate: { path, dev: s.dev, ino: s.ino, gz, live: false } };
    }
    await fh.close().catch(() => undefined);
  }
  return undefined;
}

/** A provisional file copied and truncated before its first line was complete here: restarted, and true. */
async function restartIfCopied(k: FileTracker, t: TrackedFile): Promise<boolean> {
  if (t.provisionalSince === undefined) return false;
  const copy = await findCopyOf(k, t, t.state);
  if (copy !== undefined) await restartTruncated(k, t, copy);
  return copy !== undefined;
}

/**
 * Copytruncate noticed: the rest of what was read comes from the copy (`copy` when already found), then
 * the file restarts at 0.
 */
async function restartTruncated(k: FileTracker, t: TrackedFile, copy?: FoundCopy): Promise<void> {
  k.counters.truncations_total++;
  const old = t.state;
  const found = copy ?? (await findCopyOf(k, t, old));
  if (found !== undefined) {
    k.counters.rotated_generations_read_total++;
    await k.track(found.fh, found.candidate, old, t.context);
  } else {
    k.logger.warn({ path: t.path, offset: old.offset }, 'audit file truncated in place and no rotated copy of it found: lines written after the last one read may be lost');
  }
  // The same file with new content: read again from its start, on the same descriptor.
  k.rewind(t);
  const prefix = await plainPrefix(t.fh, k.config.fingerprintBytes);
  t.fp = fingerprint(prefix);
  t.fpLength = prefix.length;
  t.state = t.stateAt(0, 0);
  t.eof = false;
  await settleIdentity(k, t, prefix);
}

/** Names a file renamed away by the generation it became, for locators (identity does not depend on it). */
export async function followRename(k: FileTracker, t: TrackedFile): Promise<void> {
  for (const path of await k.discovery.listGenerations([t.path], new Set())) {
    const s = await stat(path).catch(() => undefined);
    if (s !== undefined && s.dev === t.dev && s.ino === t.ino) {
      t.path = path;
      t.state = { ...t.state, path };
      return;
    }
  }
}
