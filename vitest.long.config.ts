// Test runner configuration of `npm run test:long`: soak and scale scenarios (the 1 GB file, million-event runs).
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/long/**/*.test.ts'],
    pool: 'forks',
    // One at a time: each of these uses the whole machine, and the timings they print mean something alone.
    fileParallelism: false,
    testTimeout: 30 * 60_000,
    hookTimeout: 60_000,
  },
});
