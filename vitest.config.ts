// Test runner configuration of `npm test`: all suites under test/ but the long ones, run in forked processes.
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    exclude: ['test/long/**', '**/node_modules/**'],
    pool: 'forks',
    // Two files at a time even on two cores: most of the suite waits on child processes, sockets and PostgreSQL
    // (vitest's default, one fewer than the cores, would run them one by one).
    maxWorkers: 2,
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
