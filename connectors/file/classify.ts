// What a file-system error means for delivery: the file sink's response → outcome table.
import type { SendOutcome } from '../../src/contracts/outcome.ts';
import { FS_ERRORS } from '../../src/util/fs-errors.ts';

/**
 * errno → outcome, from the shared file-system table (src/util/fs-errors.ts): conditions an operator can clear
 * without restarting (disk full, I/O hiccup) are retryable; a path that can never be written as configured
 * stops the route.
 */
export const FILE_ERROR_TABLE: Readonly<Record<string, 'retryable' | 'sink'>> = Object.fromEntries(
  Object.entries(FS_ERRORS).map(([code, m]) => [code, m.retryable ? 'retryable' : 'sink']),
);

export function classifyFileError(error: NodeJS.ErrnoException, path: string): SendOutcome {
  const reason = `${path}: ${error.code ?? ''} ${error.message}`.trim();
  const kind = FILE_ERROR_TABLE[error.code ?? ''] ?? 'retryable';
  if (kind === 'retryable') return { status: 'retryable', reason };
  return { status: 'rejected', scope: 'sink', reason: `${reason} (${FS_ERRORS[error.code!]!.meaning})` };
}
