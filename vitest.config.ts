import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Builds dist/ once, for the tests that run the real entry point as a child process.
    globalSetup: ['test/global-setup.ts'],
    testTimeout: 15_000,
    hookTimeout: 60_000,
  },
});
