// What a file-system error means for delivery: the file sink's response → outcome table.
import type { SendOutcome } from '../../src/contracts/outcome.ts';

/**
 * errno → outcome. Conditions an operator can clear without restarting (disk full, I/O hiccup) are
 * retryable; a path that can never be written as configured stops the route (errno(3), open(2), write(2)).
 */
export const FILE_ERROR_TABLE: Readonly<Record<string, 'retryable' | 'sink'>> = {
  ENOSPC: 'retryable',
  EDQUOT: 'retryable',
  EIO: 'retryable',
  EAGAIN: 'retryable',
  EINTR: 'retryable',
  EMFILE: 'retryable',
  ENFILE: 'retryable',
  EBADF: 'retryable',
  EACCES: 'sink',
  EPERM: 'sink',
  EROFS: 'sink',
  EISDIR: 'sink',
  ENOTDIR: 'sink',
  // mkdir(2) of the file's directory: a regular file already has that name.
  EEXIST: 'sink',
  ENAMETOOLONG: 'sink',
  ELOOP: 'sink',
  EFBIG: 'sink',
};

export function classifyFileError(error: NodeJS.ErrnoException, path: string): SendOutcome {
  const reason = `${path}: ${error.code ?? ''} ${error.message}`.trim();
  const kind = FILE_ERROR_TABLE[error.code ?? ''] ?? 'retryable';
  return kind === 'retryable' ? { status: 'retryable', reason } : { status: 'rejected', scope: 'sink', reason };
}
