import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // socket tests start real services on free ports; keep files in parallel but bounded (2 cores)
    maxWorkers: 2,
    reporters: ['default'],
  },
});
