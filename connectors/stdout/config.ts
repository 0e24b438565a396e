// Configuration schema of the `stdout` sink: one mapped record per line on standard output.
import { z } from 'zod';
import { nonEmptyString } from '../../src/config/types.ts';

export const stdoutSinkSchema = z.strictObject({
  type: z.literal('stdout'),
  /** Registered mapping the records are written in. */
  mapping: nonEmptyString('a mapping name').default('canonical'),
});

export type StdoutSinkConfig = z.output<typeof stdoutSinkSchema>;
