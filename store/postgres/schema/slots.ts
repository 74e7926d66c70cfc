/**
 * Migration 9: the engine's checkpoint per slot of rule keys (store/postgres/slotCheckpoints.ts).
 *
 * In cluster mode each of the 256 slots is evaluated by the one node holding it (docs/cluster.md
 * "Slot ownership"), and a rule's state is split into the parts of the slots its keys fall in
 * ("Rule state by slot"). A node that takes a slot loads just that slot's part and resumes its
 * feed from where the previous owner stopped; one that gives it up saves just that part. So:
 *
 *  - `slot_checkpoints`: per slot, the epoch of the taking that wrote it (slot_epochs, migration
 *    8), the owner's position in the slot's Redis stream (an id like "1733620000000-42", TEXT:
 *    two 64-bit numbers, compared by Redis, never here) and who saved it when;
 *  - `slot_rule_states`: per slot and key, the part of a rule's state as JSON text (TEXT, not
 *    JSONB, as migrations.ts says), written key by key, so a checkpoint writes only what changed;
 *  - `alerts.slot`, `rescue_cases.slot`: the slot whose owner raised the record, NULL for what a
 *    single node writes (engine_state's checkpoint). A new owner loads the slot's active records
 *    only, by the partial indexes below: the WHERE clauses of alerts_active and
 *    rescue_cases_active (schema/alerts.ts), so PostgreSQL can use them for the same queries,
 *    led by the slot. A nullable column without a default is added without rewriting the table.
 */
import type { Migration } from '../migrations.js';

export const slotsMigration: Migration = {
  version: 9,
  name: 'slot_checkpoints',
  statements: [
    'ALTER TABLE alerts ADD COLUMN slot SMALLINT',
    'ALTER TABLE rescue_cases ADD COLUMN slot SMALLINT',
    "CREATE INDEX alerts_slot_active ON alerts (slot, last_seen, id) WHERE status IN ('open', 'acknowledged')",
    "CREATE INDEX rescue_cases_slot_active ON rescue_cases (slot, alarm_at, id) WHERE status NOT IN ('closed', 'false_alarm')",
    'CREATE TABLE slot_checkpoints (slot INTEGER PRIMARY KEY, epoch BIGINT NOT NULL, position TEXT NOT NULL, node_id TEXT NOT NULL, saved_at BIGINT NOT NULL)',
    'CREATE TABLE slot_rule_states (slot INTEGER NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL, PRIMARY KEY (slot, key))',
  ],
};
