// Configuration schema of the `jsonl` source: JSON Lines files of Connect events or IBM CADF records.
import { z } from 'zod';
import { byteSize, duration, filePath, maxNestingDepth, nonEmptyString } from '../../src/config/types.ts';
import { DEFAULT_MAX_LINE_BYTES } from '../../src/util/lines.ts';

export const jsonlSourceSchema = z.strictObject({
  type: z.literal('jsonl'),
  /** Files to read, glob patterns allowed (`./samples/*.jsonl`); relative to the configuration file. */
  paths: z.array(filePath('a file path or glob pattern')).min(1),
  /** What the lines hold; `auto` tells Connect events and CADF records apart line by line. */
  format: z.enum(['connect', 'cadf', 'auto']).default('auto'),
  /** Keep reading as files grow (and new files match), instead of stopping at the end. */
  follow: z.boolean().default(false),
  /** How often to look for new data when following. */
  pollInterval: duration({ min: 10, max: 3_600_000 }).default(1_000),
  /** Longer lines are not decoded (they go to the dead-letter file). */
  maxLineBytes: byteSize({ min: 1024, max: 512 * 1024 * 1024 }).default(DEFAULT_MAX_LINE_BYTES),
  /** Records nesting deeper (objects and arrays, the record itself being 1) are not decoded (they go to the dead-letter file). */
  maxNestingDepth: maxNestingDepth(),
  /** CADF service name to record when a record carries none. */
  service: nonEmptyString().optional(),
});

export type JsonlSourceConfig = z.output<typeof jsonlSourceSchema>;
