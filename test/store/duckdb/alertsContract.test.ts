/**
 * The alerts repository in DuckDB (store/duckdb/alerts.ts) by the contract every store keeps
 * (test/store/contract/alerts.ts); DuckDB's own cases (its memory limit, the schema 9 upgrade)
 * are in alerts.test.ts.
 */
import { alertsContract, picked } from '../contract/alerts.js';
import { duckDbStores } from '../contract/stores.js';

const stores = duckDbStores((s) => ({ alerts: s.alerts, devices: s.devices }));
alertsContract('DuckDB', picked(stores, (s) => s.alerts), stores);
