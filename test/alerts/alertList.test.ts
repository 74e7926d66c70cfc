/**
 * Alert lists and timelines read without waiting for a checkpoint (issue: the store under
 * growth): open alerts come from the engine's memory, closed ones from the store overlaid with
 * what the engine has not written yet, and a walk through the pages by cursor must return
 * exactly the alerts a full sort of everything would, each once, whatever was checkpointed.
 */
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import type { Alert } from '../../core/alerts/alert.js';
import { alertSortKey, compareKeys, matchesAlert, type AlertFilter, type AlertSort } from '../../core/alerts/alertQuery.js';
import { defaultDeadlinePolicy } from '../../core/alerts/deadlines.js';
import { defaultRescuePolicy } from '../../core/alerts/rescueCase.js';
import type { Rule, Severity } from '../../core/alerts/types.js';
import { resolveReason } from '../../core/alerts/systemNotes.js';
import { AlertEngine, type AlertListQuery } from '../../alerts/engine.js';
import { DuckDbStore } from '../../store/duckdbStore.js';
import type { DeviceRecord, Reading } from '../../store/types.js';
import { seededRng } from '../../simulators/fleet/rng.js';
import type { EngineEvents } from '../../alerts/engineTypes.js';
import { testBus } from '../helpers/bus.js';

const T0 = 1_795_392_000_000;
const severities: Severity[] = ['critical', 'major', 'minor', 'info'];

/** A test rule: a reading {cond, sev} raises that condition; {cond, clear: true} resolves it. */
const testRule: Rule<null, Record<string, never>> = {
  id: 'kitchen.test', family: 'kitchen', channels: ['violation'], defaults: {},
  init: () => null,
  onReading(state, r, _ctx, now) {
    const d = r.data as { cond: string; sev: Severity; clear?: boolean };
    if (d.clear) return { state, effects: [{ type: 'resolve', rule: 'kitchen.test', deviceId: r.deviceId, condition: d.cond, ...resolveReason('offline.message_received'), at: now }] };
    return {
      state,
      effects: [{
        type: 'raise', rule: 'kitchen.test', family: 'kitchen', deviceId: r.deviceId, condition: d.cond, severity: d.sev, windowMs: 60_000,
        summary: d.cond, params: {}, evidence: { seqs: [r.seq] }, at: now,
      }],
    };
  },
};


let store: DuckDbStore | null = null;
/** the engine's events; a listener that throws fails the test */
const bus = testBus<EngineEvents>();
afterEach(async () => { await store?.close(); store = null; });

async function engineAt(clock: { now: number }): Promise<AlertEngine> {
  store = new DuckDbStore(':memory:');
  await store.open();
  const device = (id: string): DeviceRecord => ({
    id, family: 'kitchen', name: id, location: null, district: id.endsWith('0') ? '330106' : '330205', meta: {}, secretHash: 'x', createdAt: T0, updatedAt: T0,
  });
  const engine = new AlertEngine({
    rules: [testRule], ruleOverrides: {}, deadlinePolicy: defaultDeadlinePolicy, rescuePolicy: defaultRescuePolicy, rescueRule: 'elevator.trapped',
    tickMs: 1_000_000, checkpointMs: 1_000_000, replyMaxAgeMs: 1000,
  }, { store, device, cylinder: () => undefined, publish: () => {}, events: bus, log: pino({ level: 'silent' }), now: () => clock.now });
  await engine.start();
  return engine;
}

let seq = 0;
const reading = (deviceId: string, data: Record<string, unknown>, at: number): Reading => ({
  seq: ++seq, family: 'kitchen', channel: 'violation', deviceId, msgId: `m${seq}`, ts: at, receivedAt: at, qos: 1, data, extra: null,
});

/** Every page of a list, following the cursor. */
async function walk(engine: AlertEngine, q: Omit<AlertListQuery, 'after'>, between?: () => Promise<void>): Promise<Alert[]> {
  const out: Alert[] = [];
  let after: AlertListQuery['after'] = null;
  for (let pages = 0; pages < 10_000; pages++) {
    const page = await engine.listAlerts({ ...q, after });
    out.push(...page.items);
    if (!page.next) return out;
    expect(page.items.length).toBeGreaterThan(0);
    after = page.next;
    await between?.();
  }
  throw new Error('the walk did not end');
}

describe('alert lists by cursor', () => {
  it('every sort and filter, whatever was checkpointed: the pages are the full sorted list, each alert once', async () => {
    const clock = { now: T0 };
    const engine = await engineAt(clock);
    const random = seededRng(7).next;
    const ids = new Set<string>();
    bus.on('alert', (e) => { ids.add(e.alert.id); });
    for (let i = 0; i < 400; i++) {
      clock.now += 1000 + Math.floor(random() * 5000);
      const dev = `cam-${Math.floor(random() * 40)}`;
      const cond = `c${Math.floor(random() * 6)}`;
      const clear = random() < 0.25;
      engine.handleReadings([reading(dev, { cond, sev: severities[Math.floor(random() * 4)]!, ...(clear ? { clear: true } : {}) }, clock.now)]);
      // people act on some, and the engine writes now and then: both halves of the list are exercised
      if (random() < 0.1 && ids.size) {
        const id = [...ids][Math.floor(random() * ids.size)]!;
        const a = await engine.getAlert(id);
        if (a.status === 'open') await engine.act(id, random() < 0.5 ? 'ack' : 'resolve', 'op1');
      }
      if (random() < 0.05) await engine.checkpoint();
    }
    const all = await Promise.all([...ids].map((id) => engine.getAlert(id)));
    expect(all.filter((a) => a.status === 'resolved').length).toBeGreaterThan(20);
    expect(all.filter((a) => a.status === 'open').length).toBeGreaterThan(20);
    const filters: AlertFilter[] = [
      {}, { status: ['open', 'acknowledged'] }, { status: ['resolved'] }, { status: ['open'], severity: ['critical'] },
      { severity: ['critical', 'major'] }, { district: '3302' }, { status: ['resolved', 'acknowledged'], district: '330106' },
      { since: T0 + 600_000 }, { until: T0 + 900_000 }, { deviceId: 'cam-3' },
    ];
    const closedIds = all.filter((a) => a.status === 'resolved').map((a) => a.id);
    for (const sort of ['lastSeen', 'firstSeen', 'priority'] as AlertSort[]) {
      for (const [i, f] of filters.entries()) {
        const expected = all.filter((a) => matchesAlert(a, f)).sort((x, y) => compareKeys(alertSortKey(x, sort), alertSortKey(y, sort))).map((a) => a.id);
        // notes on closed alerts being written while the list is read: their stored rows are older versions
        const writing = closedIds.slice(i * 2, i * 2 + 2).map((id) => engine.act(id, 'note', 'op1', { note: 'follow-up call' }));
        const got = (await walk(engine, { ...f, sort, limit: 7 })).map((a) => a.id);
        await Promise.all(writing);
        expect(got, `${sort} ${JSON.stringify(f)}`).toEqual(expected);
      }
    }
    // and the same once everything is stored
    await engine.checkpoint();
    const got = (await walk(engine, { sort: 'priority', limit: 11 })).map((a) => a.id);
    expect(got).toEqual(all.sort((x, y) => compareKeys(alertSortKey(x, 'priority'), alertSortKey(y, 'priority'))).map((a) => a.id));
  });

  it('walking the open alerts while others open and close: every alert open throughout is returned exactly once', async () => {
    const clock = { now: T0 };
    const engine = await engineAt(clock);
    for (let i = 0; i < 300; i++) {
      clock.now += 1000;
      engine.handleReadings([reading(`cam-${i}`, { cond: 'rat', sev: severities[i % 3]! }, clock.now)]);
    }
    await engine.checkpoint();
    const before = (await engine.listAlerts({ status: ['open', 'acknowledged'], sort: 'firstSeen', after: null, limit: 5000 })).items;
    expect(before).toHaveLength(300);
    let n = 300;
    const closed = new Set<string>();
    const got = await walk(engine, { status: ['open', 'acknowledged'], sort: 'firstSeen', limit: 13 }, async () => {
      // between two pages: a new alert, one closed by the rule, one acknowledged, sometimes a checkpoint
      clock.now += 1000;
      engine.handleReadings([reading(`cam-${n++}`, { cond: 'rat', sev: 'critical' }, clock.now)]);
      const victim = before[(n * 37) % before.length]!;
      engine.handleReadings([reading(victim.device.id, { cond: 'rat', clear: true }, clock.now)]);
      closed.add(victim.id);
      const acked = before[(n * 11) % before.length]!;
      if (!closed.has(acked.id) && (await engine.getAlert(acked.id)).status === 'open') await engine.act(acked.id, 'ack', 'op1');
      if (n % 3 === 0) await engine.checkpoint();
    });
    const ids = got.map((a) => a.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const a of before) if (!closed.has(a.id)) expect(ids).toContain(a.id);
  });
});

describe('alert timelines as rows', () => {
  it('the detail merges stored rows and entries not yet written, newest last; older ones page by position', async () => {
    const clock = { now: T0 };
    const engine = await engineAt(clock);
    engine.handleReadings([reading('cam-1', { cond: 'rat', sev: 'major' }, clock.now)]);
    const [{ id }] = (await engine.listAlerts({ sort: 'lastSeen', after: null, limit: 1 })).items as [Alert];
    for (let i = 0; i < 30; i++) {
      clock.now += 1000;
      await engine.act(id, 'note', 'op1', { note: `note ${i}` });
    }
    // repeats (system entries) after the last checkpoint: in memory only
    for (let i = 0; i < 5; i++) engine.handleReadings([reading('cam-1', { cond: 'rat', sev: 'major' }, clock.now += 1000)]);
    const d = await engine.alertDetail(id, 10);
    expect(d.timelineTotal).toBe(36);
    expect(d.timeline.map((e) => e.n)).toEqual([26, 27, 28, 29, 30, 31, 32, 33, 34, 35]);
    expect(d.timeline.slice(0, 5).map((e) => e.note)).toEqual(['note 25', 'note 26', 'note 27', 'note 28', 'note 29']);
    expect(d.timeline.slice(5).every((e) => e.action === 'repeated')).toBe(true);
    expect((await engine.alertDetail(id, 3, 2)).timeline.map((e) => [e.n, e.action])).toEqual([[0, 'opened'], [1, 'noted']]);
    await engine.checkpoint();
    expect((await store!.alerts.timeline(id, 1000)).map((e) => e.n)).toEqual([...Array(36).keys()]);
    // the stored record is the record alone: its size does not grow with the notes
    const doc = JSON.stringify(await store!.alerts.get(id));
    expect(doc).not.toContain('note 1');
    expect(doc.length).toBeLessThan(2000);
  });
});
