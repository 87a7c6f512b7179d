import { defineConfig } from 'vitest/config';

// Test files that start real etcd clusters or sshd take seconds, not
// milliseconds; two workers match the 2-core machines this runs on.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts', 'test/**/*.test.tsx'],
    globalSetup: ['test/helpers/global-setup.ts'],
    pool: 'forks',
    maxWorkers: 2,
    testTimeout: 60_000,
    hookTimeout: 120_000,
    teardownTimeout: 30_000,
  },
});
