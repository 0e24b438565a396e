// The regular files that a list of paths and glob patterns matches now, sorted; and what `check` and `run` say about them.
import { constants, type Stats } from 'node:fs';
import { access, glob, open, stat } from 'node:fs/promises';
import { dirname, resolve, sep } from 'node:path';
import type { SourceCheckFinding } from '../contracts/source.ts';
import type { Logger } from '../logging.ts';
import { errno } from './durable-fs.ts';

const GLOB_CHARS = /[*?[\]{}]/;

/** Absolute patterns in, absolute paths of existing regular files out (a missing literal path is simply absent). */
export async function matchFiles(patterns: readonly string[]): Promise<string[]> {
  const found = new Set<string>();
  for (const pattern of patterns) {
    if (!GLOB_CHARS.test(pattern)) {
      const s = await stat(pattern).catch(() => undefined);
      if (s?.isFile()) found.add(pattern);
      continue;
    }
    for await (const f of glob(pattern)) {
      const s = await stat(f).catch(() => undefined);
      if (s?.isFile()) found.add(resolve(f));
    }
  }
  return [...found].sort();
}

/** The directory an absolute pattern's files live in, or the deepest one above its first wildcard. */
export function patternDir(pattern: string): string {
  if (!GLOB_CHARS.test(pattern)) return dirname(pattern);
  const segments = pattern.split(sep);
  const k = segments.findIndex((s) => GLOB_CHARS.test(s));
  return segments.slice(0, k).join(sep) || sep;
}

/** The patterns that match no regular file now, in the order given. */
async function unmatchedPatterns(patterns: readonly string[]): Promise<string[]> {
  const out: string[] = [];
  for (const p of patterns) if ((await matchFiles([p])).length === 0) out.push(p);
  return out;
}

const errorText = (e: unknown): string => errno(e) ?? String(e);

/** Whether the source waits for files that do not exist yet (tails) or reads what is there and ends. */
export interface PatternReading {
  readonly live: boolean;
}

/** What a pattern that matches no file means for the source. */
const noMatch = (reading: PatternReading, what = 'it'): string =>
  reading.live ? `no file matches ${what} yet (files are read when they appear)` : `no file matches ${what}: nothing to read`;

/** A failure of the pattern's directory, or undefined when it is a directory this user may list. */
async function directoryProblem(dir: string): Promise<string | undefined> {
  let s: Stats;
  try {
    s = await stat(dir);
  } catch (e) {
    return errno(e) === 'ENOENT' ? `directory ${dir} does not exist` : `directory ${dir} cannot be examined (${errorText(e)})`;
  }
  if (!s.isDirectory()) return `${dir} is not a directory`;
  try {
    await access(dir, constants.R_OK | constants.X_OK);
  } catch (e) {
    return `directory ${dir} cannot be read by this user (${errorText(e)})`;
  }
  return undefined;
}

/**
 * What `check` says about the patterns of a file source, one finding per pattern: a `failure` when the
 * pattern's directory (`patternDir`) does not exist, is not a directory or cannot be listed, or when files it
 * matches cannot be opened for reading (each named); a `warning` when it matches no file; else `ok` with the
 * number of files. Run as root, every file is readable whatever its mode.
 */
export async function checkFilePatterns(patterns: readonly string[], reading: PatternReading): Promise<SourceCheckFinding[]> {
  const findings: SourceCheckFinding[] = [];
  for (const pattern of patterns) {
    const problem = await directoryProblem(patternDir(pattern));
    if (problem !== undefined) {
      findings.push({ level: 'failure', detail: `${pattern}: ${problem}` });
      continue;
    }
    const files = await matchFiles([pattern]);
    if (files.length === 0) {
      findings.push({ level: 'warning', detail: `${pattern}: ${noMatch(reading)}` });
      continue;
    }
    const unreadable: string[] = [];
    for (const file of files) {
      try {
        await (await open(file, 'r')).close();
      } catch (e) {
        unreadable.push(`${file} (${errorText(e)})`);
      }
    }
    if (unreadable.length > 0) findings.push({ level: 'failure', detail: `${pattern}: cannot be read by this user: ${unreadable.join(', ')}` });
    else findings.push({ level: 'ok', detail: `${pattern}: ${files.length === 1 ? '1 file' : `${files.length} files`}, readable` });
  }
  return findings;
}

/** Configured sources already warned about, by their configuration object (shared by the lanes of every route reading it). */
const warned = new WeakSet<object>();

/**
 * Logs one warning naming the patterns that match no file now, once per configured source: every lane of every
 * route reading a source is made from the same configuration object, so the source says it once (and again
 * after a reload, which parses a new configuration).
 */
export async function warnUnmatchedOnce(config: object, patterns: readonly string[], reading: PatternReading, logger: Logger, source: string): Promise<void> {
  if (warned.has(config)) return;
  warned.add(config);
  const unmatched = await unmatchedPatterns(patterns);
  if (unmatched.length > 0) logger.warn({ source, patterns: unmatched }, `source ${source}: ${noMatch(reading, unmatched.length === 1 ? 'this pattern' : 'these patterns')}`);
}
