import { defineConfig } from 'vitest/config';
import { postgresPrograms } from './test/helpers/postgresServer.js';

// "One suite, two stores" at the API: the route suites (and InfluxDB forwarding's) run a second
// time, as the project `postgres`, with every service they start on cluster mode's shared
// PostgreSQL store instead of DuckDB (TEST_STORE=postgres, test/helpers/service.ts), on a real
// server started for the run (test/helpers/postgresGlobal.ts). One run for both, so the two
// workers stay busy to the end. Without PostgreSQL's programs that project is left out, and
// says why (a failure under REQUIRE_EXTERNAL=1, where postgresPrograms throws).
const postgres = postgresPrograms();
if (!postgres.ok) console.warn(`API suites on PostgreSQL skipped: ${postgres.reason}`);

export default defineConfig({
  test: {
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // socket tests start real services on free ports; keep files in parallel but bounded (2 cores)
    maxWorkers: 2,
    reporters: ['default'],
    projects: [
      { extends: true, test: { name: 'duckdb', include: ['test/**/*.test.ts'] } },
      ...(postgres.ok ? [{
        extends: true as const,
        test: {
          name: 'postgres',
          // the API, and InfluxDB forwarding from the shared readings (each node forwards what it stored)
          include: ['test/dashboard/routes/**/*.test.ts', 'test/store/influx/forwarding.test.ts'],
          // how a 50,000-row file is built in slices between event-loop turns is the same code over
          // either store (~45 s here); the rows it reads are the alert queries exports.test.ts runs on both
          exclude: ['test/dashboard/routes/exportSlices.test.ts'],
          globalSetup: ['test/helpers/postgresGlobal.ts'],
          env: { TEST_STORE: 'postgres' },
        },
      }] : []),
    ],
  },
});
