// The regular files that a list of paths and glob patterns matches now, sorted.
import { glob, stat } from 'node:fs/promises';
import { resolve } from 'node:path';

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
