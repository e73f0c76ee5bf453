import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // generous: CLI tests run many processes one after another, slow on a loaded two-core machine
    testTimeout: 180_000,
    hookTimeout: 120_000,
    // e2e files each run their own server; two cores, so at most two files at once
    maxWorkers: 2,
    pool: 'forks',
  },
});
