import { defineConfig } from 'vitest/config';

// Each test file gets its own database (a fresh PGlite instance, and a fresh PostgreSQL database when
// TEST_DATABASE_URL is set), so files run in parallel. PGlite's first start (initdb) takes a few seconds,
// hence the generous hook timeout.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
    maxWorkers: 2,
  },
});
