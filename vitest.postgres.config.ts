/**
 * "One suite, two stores" at the API: the route suites (and InfluxDB forwarding's) run again
 * with every service they start on cluster mode's shared PostgreSQL store instead of DuckDB (TEST_STORE=postgres,
 * test/helpers/service.ts), on a real server started for the run (test/helpers/postgresGlobal.ts).
 * Without PostgreSQL's programs it runs nothing and says why (a failure under REQUIRE_EXTERNAL=1).
 */
import { defineConfig } from 'vitest/config';
import { postgresPrograms } from './test/helpers/postgresServer.js';
import base from './vitest.config.js';

const found = postgresPrograms();
if (!found.ok) console.warn(`API suites on PostgreSQL skipped: ${found.reason}`);
process.env.TEST_STORE = 'postgres';

export default defineConfig({
  test: {
    ...base.test,
    // the API, and InfluxDB forwarding from the shared readings (each node forwards what it stored)
    include: found.ok ? ['test/dashboard/routes/**/*.test.ts', 'test/store/influx/forwarding.test.ts'] : [],
    // how a 50,000-row file is built in slices between event-loop turns is the same code over
    // either store (~45 s here); the rows it reads are the alert queries exports.test.ts runs on both
    exclude: ['test/dashboard/routes/exportSlices.test.ts'],
    passWithNoTests: !found.ok,
    globalSetup: found.ok ? ['test/helpers/postgresGlobal.ts'] : [],
    env: { TEST_STORE: 'postgres' },
  },
});
