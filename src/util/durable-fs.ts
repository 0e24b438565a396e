// File-system primitives for state that must survive a crash: per-file serialisation, fsync of files and directories.
import { mkdir, open, readFile, stat } from 'node:fs/promises';
import path from 'node:path';

/** The `code` of a Node.js system error, if any. */
export function errno(e: unknown): string | undefined {
  return typeof e === 'object' && e !== null && 'code' in e ? String((e as { code: unknown }).code) : undefined;
}

/** Per file, operations run one after the other (module-wide, so that every store on one file agrees). */
const chains = new Map<string, Promise<unknown>>();

export function serialised<T>(file: string, op: () => Promise<T>): Promise<T> {
  const previous = chains.get(file) ?? Promise.resolve();
  const result = previous.then(op, op);
  const tail = result.then(
    () => undefined,
    () => undefined,
  );
  chains.set(file, tail);
  void tail.then(() => {
    if (chains.get(file) === tail) chains.delete(file);
  });
  return result;
}

/** fsyncs a file or a directory (a directory's fsync makes its entries — creations, renames — durable). */
export async function fsyncPath(p: string): Promise<void> {
  const handle = await open(p, 'r');
  try {
    await handle.sync();
  } catch (e) {
    // Some platforms (Windows) cannot fsync a directory; there the rename is as durable as it gets.
    if (!(process.platform === 'win32' && ['EPERM', 'EISDIR', 'EINVAL'].includes(errno(e) ?? ''))) throw e;
  } finally {
    await handle.close();
  }
}

/** Creates `dir` (mode 0700) with its parents and makes the new directory entries durable. */
export async function ensureDirectory(dir: string): Promise<void> {
  const created = await mkdir(dir, { recursive: true, mode: 0o700 });
  if (created === undefined) return;
  for (let d = path.dirname(dir); ; d = path.dirname(d)) {
    await fsyncPath(d);
    if (d === path.dirname(created) || d === path.dirname(d)) break;
  }
}

/** Whether `file` exists (any other error than ENOENT is thrown). */
export async function exists(file: string): Promise<boolean> {
  try {
    await stat(file);
    return true;
  } catch (e) {
    if (errno(e) === 'ENOENT') return false;
    throw e;
  }
}

/** The file's bytes, or undefined if it does not exist. */
export async function readIfExists(file: string): Promise<Buffer | undefined> {
  try {
    return await readFile(file);
  } catch (e) {
    if (errno(e) === 'ENOENT') return undefined;
    throw e;
  }
}
