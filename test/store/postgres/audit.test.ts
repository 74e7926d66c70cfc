/** The audit repository in PostgreSQL (store/postgres/audit.ts), by the contract every store keeps (test/store/contract/audit.ts). */
import { PgAudit } from '../../../store/postgres/audit.js';
import { auditContract } from '../contract/audit.js';
import { onPostgres } from '../contract/stores.js';

onPostgres((db) => new PgAudit(db), auditContract);
