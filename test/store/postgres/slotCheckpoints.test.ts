/**
 * The slot checkpoint of cluster mode on a real PostgreSQL (store/postgres/slotCheckpoints.ts):
 * what a slot's owner saves (feed position, rule states, alerts with their timelines, cases) is
 * what its successor loads, and only that slot's active records; a save by a node whose epoch
 * is no longer the slot's is refused with `slot_fenced` and writes nothing; text with U+0000
 * comes back as written; the single node's checkpoint (PgAlerts) neither sees nor clears the
 * slot column.
 *
 * One server and one database for the file (the slots keep the tests apart), so it stays a few
 * seconds; the records are made by the core's steps through the alerts contract's helpers.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { acknowledge, addNote, refused, resolve, type ActionResult, type AlertStep } from '../../../core/alerts/alert.js';
import { openRescueCase, recordStep, type RescueCase } from '../../../core/alerts/rescueCase.js';
import { CodedError } from '../../../core/codes.js';
import { PgAlerts } from '../../../store/postgres/alerts.js';
import type { PostgresDatabase } from '../../../store/postgres/database.js';
import { PgSlotCheckpoints, type SlotCheckpoint } from '../../../store/postgres/slotCheckpoints.js';
import { checkpointOf, hostile, opened } from '../contract/alerts.js';
import { onPostgres } from '../contract/stores.js';
import { T0 } from '../duckdb/fixtures.js';

interface Repos { slots: PgSlotCheckpoints; alerts: PgAlerts; db: PostgresDatabase }

/** An action that must not be refused. */
const done = (r: ActionResult): AlertStep => {
  if (refused(r)) throw new Error(r.message);
  return r;
};

const caseOf = (id: string, alarmAt: number): RescueCase =>
  openRescueCase(id, `lift-${id}`, `a-${id}`, alarmAt, { maintenanceUnit: 'Unit 7', arrivalWithinMs: 30 * 60_000, district: '330106', source: 'device', by: 'system' });

/** A slot owner's checkpoint of these steps (each record as after its last step, every entry appended). */
function slotCheckpoint(slot: number, epoch: number, steps: readonly AlertStep[], over: Partial<SlotCheckpoint> = {}): SlotCheckpoint {
  const { alerts, timeline } = checkpointOf(steps);
  return { slot, epoch, nodeId: 'node-a', position: '1733620000000-0', ruleStates: {}, alerts, timeline, cases: [], ...over };
}

onPostgres((db): Repos => ({ slots: new PgSlotCheckpoints(db), alerts: new PgAlerts(db), db }), (store, open) => {
  describe(`slot checkpoints (${store})`, () => {
    let r: Repos;
    beforeAll(async () => { r = (await open()).repo; });

    /** A node takes the slot as cluster/slotOwnership.ts does: the next epoch, 1 at first. */
    const take = async (slot: number, node = 'node-a'): Promise<number> => Number((await r.db.rows(`INSERT INTO slot_epochs (slot, epoch, node_id, since)
      VALUES ($1, 1, $2, $3) ON CONFLICT (slot) DO UPDATE SET epoch = slot_epochs.epoch + 1, node_id = excluded.node_id RETURNING epoch`, [slot, node, T0]))[0]!.epoch);

    it('a slot never saved loads empty', async () => {
      expect(await r.slots.load(3)).toEqual({ epoch: null, position: null, ruleStates: {}, alerts: [], cases: [] });
    });

    it.each([0, 17, 255])('slot %i: position, rule states, alerts with their timelines and cases round-trip', async (slot) => {
      const epoch = await take(slot);
      const a1 = opened({ id: `s${slot}-a1`, at: T0 });
      const a2 = opened({ id: `s${slot}-a2`, at: T0 + 1000, family: 'elevator', rule: 'elevator.trapped', severity: 'critical' });
      const c1 = caseOf(`s${slot}-c1`, T0 + 1000);
      await r.slots.save(slotCheckpoint(slot, epoch, [a1, a2], { position: `1733620000000-${slot}`, cases: [c1],
        ruleStates: { 'kitchen.test': JSON.stringify({ seen: 1, names: ['x'] }), 'elevator.trapped': JSON.stringify({ n: 1 }) } }), T0 + 1000);

      // the next checkpoint: one record changed (its new entries only), one state key; the other key is kept
      const a1b = done(acknowledge(a1.alert, 'op1', T0 + 2000, 'on my way'));
      const c1b = recordStep(c1, 'dispatched', 'disp1', T0 + 2000);
      if ('refused' in c1b) throw new Error(c1b.message);
      await r.slots.save(slotCheckpoint(slot, epoch, [a1b], { position: `1733620000500-${slot}`, cases: [c1b],
        ruleStates: { 'elevator.trapped': JSON.stringify({ n: 2 }) } }), T0 + 2000);

      expect(await r.slots.load(slot)).toEqual({
        epoch, position: `1733620000500-${slot}`, ruleStates: { 'kitchen.test': { seen: 1, names: ['x'] }, 'elevator.trapped': { n: 2 } },
        alerts: [a1b.alert, a2.alert], cases: [c1b],
      });
      expect(await r.alerts.timeline(a1.alert.id, 10)).toEqual([...a1.entries, ...a1b.entries]);
      expect((await r.db.rows('SELECT node_id, saved_at FROM slot_checkpoints WHERE slot = $1', [slot]))[0]).toEqual({ node_id: 'node-a', saved_at: String(T0 + 2000) });
    });

    it("a slot's load holds only its own active records: not another slot's, not a single node's, not closed ones", async () => {
      const [ea, eb] = [await take(40), await take(41)];
      const mine = opened({ id: 'iso-a1', at: T0 });
      const closing = opened({ id: 'iso-a2', at: T0 + 1 });
      const closed = done(resolve(closing.alert, 'op1', T0 + 5));
      const openCase = caseOf('iso-c1', T0);
      const falseAlarm = recordStep(caseOf('iso-c2', T0), 'false_alarm', 'disp1', T0 + 5, T0 + 5, 'nobody inside');
      if ('refused' in falseAlarm) throw new Error(falseAlarm.message);
      await r.slots.save(slotCheckpoint(40, ea, [mine, closing, closed], { cases: [openCase, falseAlarm] }), T0);
      await r.slots.save(slotCheckpoint(41, eb, [opened({ id: 'iso-b1', at: T0 })], { cases: [caseOf('iso-c3', T0)] }), T0);
      await r.alerts.saveCheckpoint(checkpointOf([opened({ id: 'iso-single', at: T0 })], { cases: [caseOf('iso-c4', T0)] }));

      const a = await r.slots.load(40);
      expect(a.alerts.map((x) => x.id)).toEqual(['iso-a1']);
      expect(a.cases.map((x) => x.id)).toEqual(['iso-c1']);
      expect((await r.slots.load(41)).alerts.map((x) => x.id)).toEqual(['iso-b1']);
      // the closed records are stored all the same, and the single node's view lists every active one
      expect(await r.alerts.get('iso-a2')).toEqual(closed.alert);
      expect(await r.alerts.getCase('iso-c2')).toEqual(falseAlarm);
      expect((await r.alerts.loadActive()).map((x) => x.id)).toEqual(expect.arrayContaining(['iso-a1', 'iso-b1', 'iso-single']));
    });

    /** [case, slot, the epoch the refused save claims, from the owner's] */
    const fencings: Array<[string, number, (slot: number, own: number) => Promise<number>]> = [
      ['another node took the slot since (epoch bumped)', 60, async (slot, own) => { await take(slot, 'node-b'); return own; }],
      ['the epoch claimed is not the slot\'s', 61, async (_slot, own) => own + 1],
    ];
    it.each(fencings)('fenced when %s: refused with slot_fenced, nothing written', async (_case, slot, stale) => {
      // a first save by the rightful owner, to see that nothing of the refused one lands
      const ownerEpoch = await take(slot, 'node-a');
      const kept = opened({ id: `f${slot}-a1`, at: T0 });
      await r.slots.save(slotCheckpoint(slot, ownerEpoch, [kept], { position: '1-1', ruleStates: { 'kitchen.test': '{"n":1}' } }), T0);
      const before = await r.slots.load(slot);

      const epoch = await stale(slot, ownerEpoch);
      const current = Number((await r.db.rows('SELECT epoch FROM slot_epochs WHERE slot = $1', [slot]))[0]!.epoch);
      const late = done(addNote(kept.alert, 'late note', 'op1', T0 + 9));
      const err = await r.slots.save(slotCheckpoint(slot, epoch, [late, opened({ id: `f${slot}-new`, at: T0 })], {
        position: '9-9', ruleStates: { 'kitchen.test': '{"n":2}', 'other.rule': '{}' }, cases: [caseOf(`f${slot}-c`, T0)],
      }), T0 + 9).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(CodedError);
      expect(err).toMatchObject({ code: 'slot_fenced', details: { slot, epoch, current } });
      expect((err as Error).message).toContain(`slot ${slot}`);

      expect(await r.slots.load(slot)).toEqual(before);
      expect(await r.alerts.get(`f${slot}-new`)).toBeNull();
      expect(await r.alerts.getCase(`f${slot}-c`)).toBeNull();
      expect(await r.alerts.timeline(kept.alert.id, 10)).toEqual(kept.entries);
    });

    it('fenced when the slot was never taken: no slot_epochs row, nothing written', async () => {
      const err = await r.slots.save(slotCheckpoint(70, 1, [opened({ id: 'never-a1' })], { ruleStates: { r: '1' } }), T0).catch((e: unknown) => e);
      expect(err).toMatchObject({ code: 'slot_fenced', details: { slot: 70, epoch: 1, current: null } });
      expect(await r.slots.load(70)).toEqual({ epoch: null, position: null, ruleStates: {}, alerts: [], cases: [] });
      expect(await r.alerts.get('never-a1')).toBeNull();
    });

    it('a save that waits on a taking in progress is fenced once the taking commits', async () => {
      const epoch = await take(75);
      const taking = await r.db.hold();
      try {
        await taking.sql.query('BEGIN');
        await taking.sql.query('UPDATE slot_epochs SET epoch = epoch + 1 WHERE slot = $1', [75]);
        const save = r.slots.save(slotCheckpoint(75, epoch, [opened({ id: 'race-a1' })]), T0).catch((e: unknown) => e);
        // the save's FOR UPDATE waits on the taking's row lock
        await expect.poll(async () => (await r.db.rows("SELECT count(*)::int AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock'"))[0]!.n).toBe(1);
        await taking.sql.query('COMMIT');
        expect(await save).toMatchObject({ code: 'slot_fenced', details: { slot: 75, epoch, current: epoch + 1 } });
      } finally {
        taking.release();
      }
      expect(await r.alerts.get('race-a1')).toBeNull();
    });

    it('text with U+0000 round-trips: a note, a rule state key and value, the position', async () => {
      const epoch = await take(80);
      const a = opened({ id: 'nul-a1', at: T0 });
      const noted = done(addNote(a.alert, hostile, 'op1', T0 + 1));
      await r.slots.save(slotCheckpoint(80, epoch, [a, noted], { position: `p${hostile}`, ruleStates: { [hostile]: JSON.stringify({ note: hostile }) } }), T0);
      const loaded = await r.slots.load(80);
      expect(loaded.ruleStates).toEqual({ [hostile]: { note: hostile } });
      expect(loaded.position).toBe(`p${hostile}`);
      expect(loaded.alerts).toEqual([noted.alert]);
      expect((await r.alerts.timeline('nul-a1', 10)).at(-1)).toMatchObject({ action: 'noted', note: hostile, by: 'op1' });
    });

    it("the single node's checkpoint leaves a record's slot as it is; a slot owner's write sets it", async () => {
      const epoch = await take(90);
      const a = opened({ id: 'mix-a1', at: T0 });
      await r.slots.save(slotCheckpoint(90, epoch, [a]), T0);
      const acked = done(acknowledge(a.alert, 'op1', T0 + 1));
      await r.alerts.saveCheckpoint(checkpointOf([acked], { lastSeq: 5 }));
      expect((await r.slots.load(90)).alerts).toEqual([acked.alert]);
      expect((await r.alerts.loadEngineState())?.lastSeq).toBe(5);

      const single = opened({ id: 'mix-a2', at: T0 + 2 });
      await r.alerts.saveCheckpoint(checkpointOf([single], { lastSeq: 6 }));
      expect((await r.slots.load(90)).alerts.map((x) => x.id)).toEqual(['mix-a1']);
      await r.slots.save(slotCheckpoint(90, epoch, [single]), T0 + 3);
      expect((await r.slots.load(90)).alerts.map((x) => x.id)).toEqual(['mix-a1', 'mix-a2']);
    });

    it.each([-1, 256, 1.5])('slot %s is refused before any statement', async (slot) => {
      await expect(r.slots.load(slot)).rejects.toThrow(RangeError);
      await expect(r.slots.save(slotCheckpoint(slot, 1, []), T0)).rejects.toThrow(RangeError);
    });
  });
});
