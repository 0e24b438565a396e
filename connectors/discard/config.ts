// Configuration schema of the `discard` sink: accepts every batch and drops it, for benchmarks and dry runs.
import { z } from 'zod';
import { nonEmptyString } from '../../src/config/types.ts';

export const discardSinkSchema = z.strictObject({
  type: z.literal('discard'),
  /** Registered mapping the records are mapped with (mapping still runs, so its cost is measured). */
  mapping: nonEmptyString('a mapping name').default('canonical'),
});

export type DiscardSinkConfig = z.output<typeof discardSinkSchema>;
