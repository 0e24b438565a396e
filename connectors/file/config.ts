// Configuration schema of the `file` sink: appends one mapped record per line to a local file.
import { z } from 'zod';
import { filePath, nonEmptyString } from '../../src/config/types.ts';

export const fileSinkSchema = z.strictObject({
  type: z.literal('file'),
  /** The file to append to; relative to the configuration file. */
  path: filePath(),
  /** Registered mapping the records are written in. */
  mapping: nonEmptyString('a mapping name').default('canonical'),
  /** Flush to disk before a batch counts as delivered. */
  fsync: z.boolean().default(true),
});

export type FileSinkConfig = z.output<typeof fileSinkSchema>;
