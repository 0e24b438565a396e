// Configuration schema of the `audit-files` source: IBM platform CADF audit files, tailed through rotation.
import { z } from 'zod';
import { byteSize, duration, filePath, integer, maxNestingDepth, nonEmptyString } from '../../src/config/types.ts';
import { DEFAULT_MAX_LINE_BYTES } from '../../src/util/lines.ts';

/** Where the IBM authentication and authorization services write their audit records. */
export const DEFAULT_AUDIT_PATHS = ['/var/log/audit/*-audit.log', '/app/logs/audit/pdp-audit.log'] as const;

export const auditFilesSourceSchema = z.strictObject({
  type: z.literal('audit-files'),
  /** Glob patterns of the live files; files and directories that do not exist yet are picked up when they appear. */
  paths: z.array(filePath('a file path or glob pattern')).min(1).default([...DEFAULT_AUDIT_PATHS]),
  /** Also read rotated generations beside a live file (`<file>.1`, `<file>.1.gz`, `<file>-<date>`…) that the position says were not finished. */
  readRotated: z.boolean().default(true),
  /** How often files are checked when no change notification arrives (`fs.watch` loses events under load). */
  pollInterval: duration({ min: 10, max: 60_000 }).default(1_000),
  /** Bytes at the start of a file hashed into its identity, with device and inode (an inode reused by a new file is recognised as new). */
  fingerprintBytes: integer({ min: 16, max: 65_536 }).default(1_024),
  /** Longer lines are dead-lettered with their file and offset, and reading goes on after them. */
  maxLineBytes: byteSize({ min: 1024, max: 512 * 1024 * 1024 }).default(DEFAULT_MAX_LINE_BYTES),
  /** Records nesting deeper (objects and arrays, the record itself being 1) are dead-lettered with their path, and reading goes on. */
  maxNestingDepth: maxNestingDepth(),
  /** CADF service to record when a record names none; default: from the file name (`<service>-audit.log`). */
  service: nonEmptyString().optional(),
});

export type AuditFilesSourceConfig = z.output<typeof auditFilesSourceSchema>;
