import { defineConfig } from 'vitest/config';

// Ordinary tests: unit tests and integration tests against one shared local cluster (real
// PostgreSQL servers and a real Redis on their own ports, started by the global setup).
export default defineConfig({
  test: {
    include: ['test/unit/**/*.test.ts', 'test/integration/**/*.test.ts'],
    globalSetup: ['test/support/global-setup.ts'],
    pool: 'forks',
    fileParallelism: false,
    testTimeout: 120_000,
    hookTimeout: 180_000,
    teardownTimeout: 60_000,
  },
});
