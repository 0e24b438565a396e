// Lock files of the checkpoint store: an exclusive open-file-description lock on `<checkpoint file>.lock`.
//
// Why `fs-native-extensions`: its `tryLock` takes an OFD lock (F_OFD_SETLK on Linux, flock on macOS,
// LockFileEx on Windows), which the kernel drops when the descriptor closes or the process dies, SIGKILL
// included. A pid file or a mkdir lock survives a SIGKILL and then needs guesses about staleness (is that pid
// still ours, or reused?); a classic fcntl lock is dropped when the process closes *any* descriptor of the
// file and does not exclude a second holder in the same process.
import { constants } from 'node:fs';
import { open } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { hostname } from 'node:os';
import { tryLock } from 'fs-native-extensions';
import { isJsonObject } from '../model/json.ts';

/** What a holder writes into its lock file once the lock is granted. */
export interface LockHolderInfo {
  readonly pid: number;
  readonly command: string;
  /** RFC 3339 time the lock was granted. */
  readonly since: string;
  readonly host: string;
}

export interface HeldLock {
  /** Idempotent; closing the descriptor is what releases the lock. */
  release(): Promise<void>;
}

export type LockAttempt =
  | { readonly granted: true; readonly lock: HeldLock }
  /** `holder` is undefined when the file cannot be read or parsed (e.g. the holder is still writing it). */
  | { readonly granted: false; readonly holder: LockHolderInfo | undefined };

/**
 * Tries once, without waiting, to lock `file` (created 0600 if missing; its directory must exist).
 * Throws the file system's error when the file cannot be opened or the lock cannot be taken at all.
 */
export async function tryLockFile(file: string, command: string): Promise<LockAttempt> {
  // No O_TRUNC: the file may belong to a live holder. Node opens with O_CLOEXEC, so a child process we spawn
  // does not inherit the descriptor (and with it the lock, past our death).
  const handle = await open(file, constants.O_RDWR | constants.O_CREAT, 0o600);
  let granted: boolean;
  try {
    granted = tryLock(handle.fd);
  } catch (e) {
    await handle.close();
    throw e;
  }
  if (!granted) {
    // Closing our descriptor drops only our own (absent) lock: the holder's is another open file description.
    const holder = await readHolder(handle).finally(() => handle.close());
    return { granted: false, holder };
  }
  try {
    const info: LockHolderInfo = { pid: process.pid, command, since: new Date().toISOString(), host: hostname() };
    await handle.truncate(0);
    await handle.write(`${JSON.stringify(info)}\n`, 0, 'utf8');
  } catch (e) {
    await handle.close();
    throw e;
  }
  return { granted: true, lock: heldLock(handle) };
}

function heldLock(handle: FileHandle): HeldLock {
  let released: Promise<void> | undefined;
  return {
    release() {
      // Emptied first, so that a clean stop leaves no holder's details behind to mislead a reader of the file.
      released ??= handle
        .truncate(0)
        .catch(() => undefined)
        .then(() => handle.close())
        .catch(() => undefined);
      return released;
    },
  };
}

async function readHolder(handle: FileHandle): Promise<LockHolderInfo | undefined> {
  try {
    const { buffer, bytesRead } = await handle.read({ buffer: Buffer.alloc(4096), position: 0 });
    const doc: unknown = JSON.parse(buffer.subarray(0, bytesRead).toString('utf8'));
    if (!isJsonObject(doc)) return undefined;
    const { pid, command, since, host } = doc;
    if (typeof pid !== 'number' || !Number.isSafeInteger(pid) || typeof command !== 'string' || typeof since !== 'string') return undefined;
    return { pid, command, since, host: typeof host === 'string' ? host : 'unknown' };
  } catch {
    return undefined;
  }
}
