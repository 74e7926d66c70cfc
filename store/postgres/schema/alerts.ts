/**
 * Migration 5: alerts with their timelines, rescue cases and the rule engine's states
 * (store/postgres/alerts.ts). Being written: the tables come with the repository.
 */
import type { Migration } from '../migrations.js';

export const alertsMigration: Migration = {
  version: 5,
  name: 'alerts',
  statements: [],
};
