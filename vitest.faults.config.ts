import { defineConfig } from 'vitest/config';

// `npm run test:faults`: failover, failback and fencing, each scenario on a fresh cluster of its
// own, killing real processes, one after another.
export default defineConfig({
  test: {
    include: ['test/faults/**/*.test.ts'],
    pool: 'forks',
    fileParallelism: false,
    testTimeout: 300_000,
    hookTimeout: 120_000,
  },
});
