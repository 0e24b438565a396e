// Types of the part of `fs-native-extensions` (Holepunch; open-file-description locks on Linux) the state lock uses.
declare module 'fs-native-extensions' {
  /** True when the lock is granted now; false when another open file description holds it. Throws other errors. */
  export function tryLock(fd: number, offset?: number, length?: number, options?: { shared?: boolean }): boolean;
  export function tryLock(fd: number, options?: { shared?: boolean }): boolean;
  /** Releases a lock held through `fd` (closing `fd` releases it too, and so does the end of the process). */
  export function unlock(fd: number, offset?: number, length?: number): void;
}
