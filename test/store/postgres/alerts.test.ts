/**
 * The alerts repository in PostgreSQL (store/postgres/alerts.ts) by the contract every store
 * keeps (test/store/contract/alerts.ts), and a checkpoint as large as the engine cuts after a
 * storm: 5,000 changed alerts written, then all of them updated in place.
 */
import { describe, expect, it } from 'vitest';
import { PgAlerts } from '../../../store/postgres/alerts.js';
import { PgDevices } from '../../../store/postgres/devices.js';
import { alertsContract, checkpointOf, opened, picked } from '../contract/alerts.js';
import { onPostgres } from '../contract/stores.js';
import { T0 } from '../duckdb/fixtures.js';

onPostgres((db) => ({ alerts: new PgAlerts(db), devices: new PgDevices(db) }), (store, open) => {
  const alerts = picked(open, (s) => s.alerts);
  alertsContract(store, alerts, open);

  describe(`bulk checkpoints (${store})`, () => {
    it('one checkpoint of 5,000 changed alerts, twice: inserted, then updated in place', async () => {
      const s = (await alerts()).repo;
      const steps = Array.from({ length: 5000 }, (_v, i) => opened({ id: `a-${String(i).padStart(4, '0')}`, at: T0 + i, deviceId: `cam-${i}`, summary: 'x'.repeat(300) }));
      await s.saveCheckpoint(checkpointOf(steps));
      await s.saveCheckpoint(checkpointOf([], { lastSeq: 2, alerts: steps.map((x) => ({ ...x.alert, count: 2, lastSeen: x.alert.lastSeen + 1 })) }));
      const all = await s.query({ limit: 10_000 });
      expect(all).toHaveLength(5000);
      expect(all.every((a) => a.count === 2)).toBe(true);
      // lastSeen order, newest first: the update reached the column too
      expect(all.slice(0, 2).map((a) => [a.id, a.lastSeen])).toEqual([['a-4999', T0 + 5000], ['a-4998', T0 + 4999]]);
      expect(await s.timeline('a-4999', 10)).toEqual([{ n: 0, at: T0 + 4999, by: 'system', action: 'opened' }]);
      expect(await s.loadActive()).toHaveLength(5000);
    }, 60_000);
  });
});
