/**
 * Migration 7: the cylinder registry and the versions of its records
 * (store/postgres/cylinders.ts). Being written: the tables come with the repository.
 */
import type { Migration } from '../migrations.js';

export const cylindersMigration: Migration = {
  version: 7,
  name: 'cylinders',
  statements: [],
};
