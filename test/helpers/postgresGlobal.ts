/**
 * Global setup of the API suites' run against PostgreSQL (the project `postgres` of vitest.config.ts): one real
 * server for the run (test/helpers/postgresServer.ts), its admin URL handed to the test files
 * (`inject('postgresAdminUrl')`); each service a test starts gets a database of its own
 * (test/helpers/service.ts).
 */
import type { TestProject } from 'vitest/node';
import { PostgresServer, postgresPrograms } from './postgresServer.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** postgres://postgres@127.0.0.1:<port>/postgres: where the per-service databases are made */
    postgresAdminUrl: string;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const found = postgresPrograms();
  // vitest.config.ts leaves the project out when PostgreSQL is missing; this is not reached then
  if (!found.ok) throw new Error(found.reason);
  const server = await PostgresServer.start(found.paths);
  project.provide('postgresAdminUrl', server.url.replace(/\/supervision$/, '/postgres'));
  return () => server.dispose();
}
