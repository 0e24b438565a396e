// What a file-system error (errno) means, as data: retry later, or stop and tell the operator what to fix.
import { errno } from './durable-fs.ts';

export interface FsErrorMeaning {
  /** True when the condition can clear by itself or by an operator without a restart (I/O hiccup, disk full, NFS). */
  readonly retryable: boolean;
  /** What it means, in a few words an operator can act on. */
  readonly meaning: string;
}

/**
 * errno → meaning (errno(3), open(2), read(2), write(2), nfs(5)). Conditions that clear (an I/O error, too many
 * open files, a stale NFS handle, a full disk) are retried without limit; a path that can never be used as
 * configured is not. Codes not listed are treated as retryable: they are environmental, and each retry is logged.
 */
export const FS_ERRORS: Readonly<Record<string, FsErrorMeaning>> = {
  EIO: { retryable: true, meaning: 'input/output error from the device or file system' },
  EAGAIN: { retryable: true, meaning: 'resource temporarily unavailable' },
  EWOULDBLOCK: { retryable: true, meaning: 'resource temporarily unavailable' },
  EINTR: { retryable: true, meaning: 'interrupted system call' },
  EMFILE: { retryable: true, meaning: 'too many open files in this process (raise the open-files limit, ulimit -n)' },
  ENFILE: { retryable: true, meaning: 'too many open files on the system' },
  EBADF: { retryable: true, meaning: 'the file descriptor was closed under the reader' },
  ESTALE: { retryable: true, meaning: 'stale NFS file handle (the file was replaced on the server)' },
  EBUSY: { retryable: true, meaning: 'device or resource busy' },
  ENOMEM: { retryable: true, meaning: 'out of kernel memory' },
  ETIMEDOUT: { retryable: true, meaning: 'the file system did not answer in time (network file system?)' },
  ENOLCK: { retryable: true, meaning: 'no locks available (network file system lock service?)' },
  ENOSPC: { retryable: true, meaning: 'no space left on the device' },
  EDQUOT: { retryable: true, meaning: 'disk quota exceeded' },
  EACCES: { retryable: false, meaning: "permission denied: give the forwarder's user access to the file and execute access to its directories" },
  EPERM: { retryable: false, meaning: "operation not permitted for the forwarder's user" },
  EROFS: { retryable: false, meaning: 'read-only file system' },
  EISDIR: { retryable: false, meaning: 'the path is a directory, not a file' },
  ENOTDIR: { retryable: false, meaning: 'a part of the path is a file, not a directory' },
  // mkdir(2) of a file's directory: a regular file already has that name.
  EEXIST: { retryable: false, meaning: 'a file already exists where a directory is needed' },
  ENAMETOOLONG: { retryable: false, meaning: 'the path is too long' },
  ELOOP: { retryable: false, meaning: 'too many symbolic links in the path' },
  EFBIG: { retryable: false, meaning: 'the file is larger than the file system allows' },
};

/** The meaning of an errno error; undefined when `e` carries no errno code (then it is not a file-system error). */
export function fsErrorMeaning(e: unknown): (FsErrorMeaning & { readonly code: string }) | undefined {
  const code = errno(e);
  if (code === undefined || !/^E[A-Z0-9]+$/.test(code)) return undefined;
  return { code, ...(FS_ERRORS[code] ?? { retryable: true, meaning: 'file-system error' }) };
}
