import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // e2e files each run their own server; two cores, so at most two files at once
    maxWorkers: 2,
    pool: 'forks',
  },
});
