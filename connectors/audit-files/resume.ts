// Resuming the audit-files source from a checkpoint: which file each state of the position continues and from where.
//
// `planResume` is pure (given the candidates' first bytes and sizes); `restore` reads the candidates and
// follows the plan. Hand-written for the reasons rotation.ts gives.
import type { FileHandle } from 'node:fs/promises';
import { pairFiles, parseGeneration, positionFiles, prefixLength, type AuditFilesPosition, type FileState, type PrefixedCandidate } from './identity.ts';
import { prefixOf } from './readers.ts';
import type { FileTracker, Start } from './tracker.ts';

/** A file on disk when a read starts: a live file or a rotated generation, with its first bytes and size. */
export interface ResumeCandidate extends PrefixedCandidate {
  /** Bytes on disk now (compressed ones for a `.gz` generation, whose offsets are not compared with it). */
  readonly size: number;
}

/** A candidate to read, and from where. */
export interface ResumedFile {
  /** Index of the candidate. */
  readonly index: number;
  readonly start: Start;
  /** What it continues: the path of a state of the position, `new file`, or `generation written since`. */
  readonly as: string;
  /** A state's file found shorter than what was read, yet with the same first bytes: truncated and rewritten alike, read from 0. */
  readonly truncated: boolean;
  /** It continues a state that had another path (a rename rotation, a copy, a compressed generation). */
  readonly renamed: boolean;
}

export interface ResumePlan {
  /** The candidates to read, in candidate order (the others predate what was read: they are closed). */
  readonly files: readonly ResumedFile[];
  /** States of the position that no candidate continues: any part of them not yet read is gone. */
  readonly lost: readonly FileState[];
}

/**
 * Pairs the files of a position with the files on disk (`pairFiles`) and says which to read, and from
 * where. `candidates` are the rotated generations (oldest first) then the live files; `replay` reads every
 * candidate. Rules:
 * - A candidate that continues a state is read from the state's offset; from 0 when it is a plain file now
 *   shorter than that offset (truncated, then rewritten with the same first bytes).
 * - A live file that continues none is a new file, read whole.
 * - A generation that continues none is read whole when it is newer than one that continues a state of its
 *   log (the live file rotated again while the forwarder was stopped), or when no file of its log continues
 *   any state (every file the position knew rotated away at least twice: anything already read would have
 *   matched by identity, so this adds history and never repeats it). Otherwise it predates what was read.
 */
export function planResume(states: readonly FileState[], candidates: readonly ResumeCandidate[], replay: boolean): ResumePlan {
  const matched = pairFiles(states, candidates);
  const found = new Set(matched.values());
  const oldestKnown = new Map<string, string>();
  for (const i of matched.keys()) {
    const g = candidates[i]!.live ? undefined : parseGeneration(candidates[i]!.path);
    if (g === undefined) continue;
    const known = oldestKnown.get(g.base);
    if (known === undefined || g.age < known) oldestKnown.set(g.base, g.age);
  }
  const lostLogs = new Set(states.filter((st) => !found.has(st)).map((st) => parseGeneration(st.path)?.base ?? st.path));
  for (const base of oldestKnown.keys()) lostLogs.delete(base);
  const newerThanKnown = (c: ResumeCandidate): boolean => {
    const g = c.live ? undefined : parseGeneration(c.path);
    if (g === undefined) return false;
    const oldest = oldestKnown.get(g.base);
    return oldest !== undefined ? g.age > oldest : lostLogs.has(g.base);
  };
  const files: ResumedFile[] = [];
  for (let i = 0; i < candidates.length; i++) {
    const c = candidates[i]!;
    const s = matched.get(i);
    if (s !== undefined) {
      const truncated = !c.gz && c.size < s.offset;
      files.push({ index: i, start: truncated ? { offset: 0, line: 0 } : s, as: s.path, truncated, renamed: c.path !== s.path });
    } else if (c.live || replay || newerThanKnown(c)) {
      files.push({ index: i, start: { offset: 0, line: 0 }, as: c.live ? 'new file' : 'generation written since', truncated: false, renamed: false });
    }
  }
  return { files, lost: states.filter((s) => !found.has(s)) };
}

/** Opens the files a read starts with (live files, then generations when needed) and follows them from `position`. */
export async function restore(k: FileTracker, position: AuditFilesPosition | undefined): Promise<void> {
  const discovery = k.discovery;
  const livePaths = await discovery.listLive();
  const states = position === undefined ? [] : positionFiles(position);
  // Generations are only ever read when a position says they are unfinished, or by a replay.
  const gens = k.config.readRotated && (k.replay || states.length > 0) ? await discovery.listGenerations(discovery.patterns, new Set(livePaths)) : [];
  const opened: Array<{ path: string; live: boolean; fh: FileHandle }> = [];
  for (const [path, live] of [...gens.map((p) => [p, false] as const), ...livePaths.map((p) => [p, true] as const)]) {
    const fh = await discovery.open(path);
    if (fh !== undefined) opened.push({ path, live, fh });
  }
  const length = prefixLength(states);
  const candidates: ResumeCandidate[] = [];
  for (const { path, live, fh } of opened) {
    const gz = path.endsWith('.gz');
    // Only a position's files need comparing: without one, no first bytes are read here.
    const prefix = states.length === 0 ? Buffer.alloc(0) : await prefixOf(fh, gz, length);
    const s = await fh.stat();
    candidates.push({ path, dev: s.dev, ino: s.ino, gz, live, size: s.size, prefix });
  }
  const plan = planResume(states, candidates, k.replay);
  const resumed: Array<{ path: string; from: number; as: string }> = [];
  let next = 0;
  for (let i = 0; i < candidates.length; i++) {
    const c = candidates[i]!;
    const fh = opened[i]!.fh;
    const file = plan.files[next];
    if (file?.index !== i) {
      // An older generation the position does not know: it predates what was read (see README).
      await fh.close().catch(() => undefined);
      continue;
    }
    next++;
    if (file.truncated) k.counters.truncations_total++;
    if (file.renamed) k.counters.rotations_total++;
    if (!c.live) k.counters.rotated_generations_read_total++;
    resumed.push({ path: c.path, from: file.start.offset, as: file.as });
    await k.track(fh, c, file.start, k.contexts.forPath(c.path));
  }
  if (states.length > 0) k.logger.info({ files: resumed }, 'audit files resumed from the checkpoint');
  if (plan.lost.length > 0) {
    k.logger.info({ files: plan.lost.map((s) => ({ path: s.path, offset: s.offset })) }, 'files of the checkpoint are no longer on disk; any part of them not yet read cannot be read');
  }
}
