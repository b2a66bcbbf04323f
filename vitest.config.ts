import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Builds dist/ once, for the tests that run the real entry point as a child process.
    globalSetup: ['test/global-setup.ts'],
    // Most tests wait on sockets and timers (countdowns, heartbeats), not on the CPU: more files
    // at once than cores keeps the suite short on a 2-core machine.
    maxWorkers: 4,
    // Bounds on a failure, not timings: generous, as a loaded 2-core machine starts processes slowly.
    testTimeout: 30_000,
    hookTimeout: 60_000,
  },
});
