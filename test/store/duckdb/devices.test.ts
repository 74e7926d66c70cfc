/**
 * The device repository (store/duckdb/devices.ts) in a temp dir, by the contract every store
 * keeps (test/store/contract/devices.ts): the registry, a staged import, connection states.
 */
import { devicesContract } from '../contract/devices.js';
import { duckDbStores } from '../contract/stores.js';

devicesContract('DuckDB', duckDbStores((s) => s.devices));
