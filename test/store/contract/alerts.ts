/**
 * The alerts repository's contract (store/types.ts AlertRepository), for every store: engine
 * checkpoints written in one piece and read back after a reopen (records updated in place,
 * timelines appended, cases, rule states, the last seq); lists in core/alerts/alertQuery.ts's
 * filters and orders, paged by key across ties exactly as `pageOf` pages the engine's memory;
 * timelines by position; the on-time statistics' outcomes; rescue cases by their filters; and
 * text that quotes, escapes, breaks lines or holds U+0000 coming back as it was written.
 *
 * The records are made by the core's own steps (openAlert, acknowledge, recordStep, ...), so
 * what is stored is what the engine stores.
 */
import { describe, expect, it } from 'vitest';
import {
  acknowledge, addNote, assign, autoResolve, markFalsePositive, openAlert, refused, repeatAlert, resolve, type ActionResult, type Alert, type AlertStep,
} from '../../../core/alerts/alert.js';
import { alertSortKey, alertSorts, pageOf, type AlertFilter, type AlertSort } from '../../../core/alerts/alertQuery.js';
import { defaultDeadlinePolicy } from '../../../core/alerts/deadlines.js';
import { openRescueCase, recordStep, type RescueCase, type RescueStatus } from '../../../core/alerts/rescueCase.js';
import { systemNote } from '../../../core/alerts/systemNotes.js';
import type { Severity } from '../../../core/alerts/types.js';
import type { Family } from '../../../core/schemas/index.js';
import type { AlertRepository, DeviceRepository, EngineCheckpoint } from '../../../store/types.js';
import { T0, device } from '../duckdb/fixtures.js';
import type { Open, Opened } from './harness.js';

const MIN = 60_000;

interface Raise { id: string; at?: number; severity?: Severity; family?: Family; rule?: string; deviceId?: string; district?: string | null; summary?: string; name?: string }

/** An alert as the core opens it (deadlines of the default policy), with its first entry. */
export function opened(o: Raise): AlertStep {
  const family = o.family ?? 'kitchen';
  const deviceId = o.deviceId ?? `dev-${o.id}`;
  return openAlert(o.id, {
    type: 'raise', rule: o.rule ?? `${family}.test`, family, deviceId, condition: 'c', severity: o.severity ?? 'major', windowMs: 600_000,
    summary: o.summary ?? `test ${o.id}`, params: { n: 1 }, evidence: { seqs: [1], values: { v: 'x' } }, at: o.at ?? T0,
  }, { id: deviceId, name: o.name ?? null, district: o.district === undefined ? '330106' : o.district, location: null, meta: { storeId: 'S-1' } }, defaultDeadlinePolicy);
}

/** An action that must not be refused. */
const done = (r: ActionResult): AlertStep => {
  if (refused(r)) throw new Error(r.message);
  return r;
};

/**
 * The checkpoint the engine cuts after these steps: each changed record once, as it stands
 * after its last step, and every entry the steps appended.
 */
export const checkpointOf = (steps: readonly AlertStep[], over: Partial<EngineCheckpoint> = {}): EngineCheckpoint => ({
  lastSeq: 1, ruleStates: {}, cases: [], alerts: [...new Map(steps.map((s) => [s.alert.id, s.alert])).values()],
  timeline: steps.flatMap((s) => s.entries.map((entry) => ({ alertId: s.alert.id, entry }))), ...over,
});

function step(c: RescueCase, status: RescueStatus, at: number, note?: string): RescueCase {
  const r = recordStep(c, status, 'disp1', at, at, note);
  if ('refused' in r) throw new Error(r.message);
  return r;
}

const caseOf = (id: string, elevatorId: string, alarmAt: number, district: string | null): RescueCase =>
  openRescueCase(id, elevatorId, `a-${id}`, alarmAt, { maintenanceUnit: 'Unit 7', arrivalWithinMs: 30 * MIN, district, source: 'device', by: 'system' });

/**
 * 24 alerts over every status, severity, two families and rules, six devices, five districts
 * (one none), first seen in threes at the same moment (ties the id must decide), ids not in
 * time order, some repeated later.
 */
function fleet(): Alert[] {
  const severities: Severity[] = ['critical', 'major', 'minor', 'info'];
  const districts = ['330106', '330205', null, '330108', '3302051'];
  return Array.from({ length: 24 }, (_, i) => {
    const family: Family = i % 3 === 0 ? 'elevator' : 'kitchen';
    const at = T0 + Math.floor(i / 3) * MIN;
    const o = opened({
      id: `a-${String((i * 7) % 24).padStart(2, '0')}`, at, severity: severities[i % 4]!, family, rule: `${family}.${i % 2 ? 'other' : 'test'}`,
      deviceId: `cam-${i % 6}`, district: districts[i % 5]!,
    }).alert;
    switch ((i >> 1) % 4) {
      case 0: return o;
      case 1: return done(acknowledge(o, 'op1', at + MIN)).alert;
      case 2: return done(resolve(o, 'op1', at + 2 * MIN)).alert;
      default: return family === 'kitchen' ? done(markFalsePositive(o, 'op1', at + MIN)).alert
        : repeatAlert(o, { type: 'raise', rule: o.rule, family, deviceId: o.device.id, condition: 'c', severity: 'critical', windowMs: 600_000, summary: 's', params: {}, evidence: { seqs: [2] }, at: at + 5 * MIN }).alert;
    }
  });
}

/** What the engine's memory would list: the whole order by the core's keys. */
const expected = (all: readonly Alert[], f: AlertFilter, sort: AlertSort): string[] => pageOf(all, f, sort, null, all.length).items.map((a) => a.id);

/** Every page of a list, following the last key of each. */
async function walk(repo: AlertRepository, f: AlertFilter, sort: AlertSort, limit: number): Promise<string[]> {
  const out: string[] = [];
  let after: Alert | null = null;
  for (let pages = 0; pages < 100; pages++) {
    const page = await repo.query({ ...f, sort, limit, after: after ? alertSortKey(after, sort) : null });
    out.push(...page.map((a) => a.id));
    if (page.length < limit) return out;
    after = page.at(-1)!;
  }
  throw new Error('the walk did not end');
}

/** Another repository of the same store, following reopens. */
export function picked<R, S>(open: Open<R>, pick: (r: R) => S): Open<S> {
  const wrap = (o: Opened<R>): Opened<S> => ({ repo: pick(o.repo), close: () => o.close(), reopen: async () => wrap(await o.reopen()) });
  return async () => wrap(await open());
}

/** Text a person or a device may send: quotes, backslashes, emoji, line breaks, a tab, U+0000, U+E000. */
export const hostile = 'He said "rat" \\ it\'s O\'\'Brien\'s; 🐀 鼠\nline 2\r\n\ttab \u0000 nul \uE000 \\u0000 end';

export function alertsContract(store: string, open: Open<AlertRepository>, withDevices?: Open<{ alerts: AlertRepository; devices: DeviceRepository }>): void {
  describe(`alerts repository (${store})`, () => {
    it('empty: no engine state, nothing active, unknown ids are null, an unknown timeline is empty', async () => {
      const s = (await open()).repo;
      expect(await s.loadEngineState()).toBeNull();
      expect(await s.loadActive()).toEqual([]);
      expect(await s.loadActiveCases()).toEqual([]);
      expect(await s.query({ limit: 10 })).toEqual([]);
      expect(await s.get('a-1')).toBeNull();
      expect(await s.getCase('c-1')).toBeNull();
      expect(await s.timeline('a-1', 10)).toEqual([]);
    });

    it('checkpoints: records, appended timelines, cases, rule states and the last seq survive a reopen', async () => {
      const s = await open();
      const a1 = opened({ id: 'a-1', at: T0 });
      const a2 = opened({ id: 'a-2', at: T0 + 1000, family: 'elevator', rule: 'elevator.trapped', severity: 'critical' });
      const c1 = caseOf('c-1', 'dev-a-2', T0 + 1000, '330106');
      await s.repo.saveCheckpoint(checkpointOf([a1, a2], { lastSeq: 10, ruleStates: { 'kitchen.test': JSON.stringify({ seen: 1, names: ['x'] }) }, cases: [c1] }));
      const a1b = done(acknowledge(a1.alert, 'op1', T0 + 2000, 'on my way'));
      const a1c = done(addNote(a1b.alert, 'called the store', 'op2', T0 + 3000));
      const c1b = step(c1, 'dispatched', T0 + 2000);
      // the second checkpoint names a1 once, with both steps' entries, as the engine does
      await s.repo.saveCheckpoint({ lastSeq: 20, ruleStates: { 'elevator.trapped': JSON.stringify({ n: 2 }) }, alerts: [a1c.alert],
        timeline: [...a1b.entries, ...a1c.entries].map((entry) => ({ alertId: 'a-1', entry })), cases: [c1b] });
      await s.close();

      const again = await s.reopen();
      const r = again.repo;
      expect(await r.loadEngineState()).toEqual({ lastSeq: 20, ruleStates: { 'kitchen.test': { seen: 1, names: ['x'] }, 'elevator.trapped': { n: 2 } } });
      expect(await r.get('a-1')).toEqual(a1c.alert);
      expect(await r.get('a-2')).toEqual(a2.alert);
      expect(await r.timeline('a-1', 10)).toEqual([...a1.entries, ...a1b.entries, ...a1c.entries]);
      expect(await r.timeline('a-2', 10)).toEqual(a2.entries);
      expect(await r.getCase('c-1')).toEqual(c1b);
      expect(await r.loadActive()).toEqual([a1c.alert, a2.alert]);
      expect(await r.loadActiveCases()).toEqual([c1b]);

      // closing: out of the active sets, still found by id
      const a1d = done(resolve(a1c.alert, 'op1', T0 + 4000));
      const c1c = step(c1b, 'false_alarm', T0 + 4000, 'nobody inside');
      await r.saveCheckpoint(checkpointOf([a1d], { lastSeq: 21, cases: [c1c] }));
      expect(await r.loadActive()).toEqual([a2.alert]);
      expect(await r.loadActiveCases()).toEqual([]);
      expect(await r.getCase('c-1')).toEqual(c1c);
      expect((await r.timeline('a-1', 10)).map((e) => [e.n, e.action, e.by])).toEqual([
        [0, 'opened', 'system'], [1, 'acknowledged', 'op1'], [2, 'noted', 'op2'], [3, 'resolved', 'op1'],
      ]);
      expect((await r.loadEngineState())?.lastSeq).toBe(21);
      await again.close();
    });

    it('a second checkpoint updates a record in place: its columns as well as its document', async () => {
      const s = (await open()).repo;
      const a = opened({ id: 'a-1', at: T0, severity: 'major' });
      await s.saveCheckpoint(checkpointOf([a]));
      const worse = repeatAlert(a.alert, { type: 'raise', rule: a.alert.rule, family: 'kitchen', deviceId: a.alert.device.id, condition: 'c', severity: 'critical',
        windowMs: 600_000, summary: 'again', params: { n: 2 }, evidence: { seqs: [2] }, at: T0 + 5 * MIN });
      await s.saveCheckpoint(checkpointOf([worse], { lastSeq: 2 }));
      expect(await s.query({ limit: 10 })).toEqual([worse.alert]);
      expect(await s.query({ severity: ['critical'], limit: 10 })).toEqual([worse.alert]);
      expect(await s.query({ severity: ['major'], limit: 10 })).toEqual([]);
      expect(await s.query({ since: T0 + 5 * MIN, limit: 10 })).toEqual([worse.alert]);
      const closed = done(resolve(worse.alert, 'op1', T0 + 6 * MIN));
      await s.saveCheckpoint(checkpointOf([closed], { lastSeq: 3 }));
      expect((await s.query({ status: ['resolved'], limit: 10 })).map((x) => x.id)).toEqual(['a-1']);
      expect(await s.query({ status: ['open', 'acknowledged'], limit: 10 })).toEqual([]);
      expect(await s.loadActive()).toEqual([]);
      expect((await s.outcomes({ from: T0, to: T0 + 1, limit: 10 }))[0]).toMatchObject({
        status: 'resolved', severity: 'critical', closedBy: 'op1', deadlines: { acknowledgedAt: T0 + 6 * MIN, resolvedAt: T0 + 6 * MIN },
      });
    });

    it('an entry stored already (same alert and n) is kept as first written', async () => {
      const s = (await open()).repo;
      const a = opened({ id: 'a-1' });
      await s.saveCheckpoint(checkpointOf([a]));
      await s.saveCheckpoint(checkpointOf([], { timeline: [{ alertId: 'a-1', entry: { n: 0, at: T0 + 9, by: 'op9', action: 'noted', note: 'late copy' } }] }));
      expect(await s.timeline('a-1', 10)).toEqual(a.entries);
    });

    describe('lists: each filter, each sort, paged by key', () => {
      const all = fleet();
      const filters: Array<[string, AlertFilter]> = [
        ['nothing', {}], ['active', { status: ['open', 'acknowledged'] }], ['closed', { status: ['resolved', 'false_positive'] }],
        ['family', { family: 'elevator' }], ['severity', { severity: ['critical', 'info'] }], ['device', { deviceId: 'cam-1' }],
        ['rule', { rule: 'kitchen.other' }], ['district prefix', { district: '3302' }], ['whole district', { district: '330106' }],
        ['since (last seen)', { since: T0 + 4 * MIN }], ['until (first seen)', { until: T0 + 3 * MIN }],
        ['together', { status: ['open', 'acknowledged'], severity: ['critical', 'major', 'minor'], district: '3301' }],
      ];
      const loaded = (async () => {
        const s = (await open()).repo;
        await s.saveCheckpoint(checkpointOf(all.map((alert) => ({ alert, entries: [] }))));
        return s;
      });
      let repo: Promise<AlertRepository> | null = null;
      const store = (): Promise<AlertRepository> => (repo ??= loaded());

      it.each(filters.flatMap(([name, f]) => alertSorts.map((sort) => [name, sort, f] as const)))('%s, by %s: the order of the core\'s keys', async (_name, sort, f) => {
        const want = expected(all, f, sort);
        if (Object.keys(f).length) expect(want.length).toBeGreaterThan(0);
        if (Object.keys(f).length) expect(want.length).toBeLessThan(all.length);
        expect((await (await store()).query({ ...f, sort, limit: 100 })).map((a) => a.id)).toEqual(want);
      });

      it.each(alertSorts)('by %s, pages of 5 then of 3 across ties: every alert once, in order', async (sort) => {
        const s = await store();
        expect(await walk(s, {}, sort, 5)).toEqual(expected(all, {}, sort));
        expect(await walk(s, { status: ['open', 'acknowledged'] }, sort, 3)).toEqual(expected(all, { status: ['open', 'acknowledged'] }, sort));
      });

      it('the default sort is lastSeen; the limit cuts the list', async () => {
        const s = await store();
        expect((await s.query({ limit: 4 })).map((a) => a.id)).toEqual(expected(all, {}, 'lastSeen').slice(0, 4));
        expect(await s.query({ limit: 0 })).toEqual([]);
      });

      it('a key of no stored alert: the list goes on after it; after the last, nothing', async () => {
        const s = await store();
        const order = expected(all, {}, 'firstSeen');
        const third = all.find((a) => a.id === order[2])!;
        expect((await s.query({ sort: 'firstSeen', after: [-third.firstSeen, `${third.id}-`], limit: 100 })).map((a) => a.id)).toEqual(order.slice(3));
        const last = all.find((a) => a.id === order.at(-1))!;
        expect(await s.query({ sort: 'firstSeen', after: alertSortKey(last, 'firstSeen'), limit: 100 })).toEqual([]);
      });
    });

    it('timelines: the newest entries before a position, in order; system notes with their code and parameters', async () => {
      const s = (await open()).repo;
      const steps = [opened({ id: 'a-1', family: 'elevator', rule: 'elevator.fault' })];
      for (let i = 1; i <= 10; i++) steps.push(done(addNote(steps.at(-1)!.alert, `note ${i}`, 'op1', T0 + i * 1000)));
      steps.push(autoResolve(steps.at(-1)!.alert, systemNote('fault.back_to_normal', { event: 40, seq: 12 }), T0 + 20_000));
      await s.saveCheckpoint(checkpointOf(steps.slice(0, 6)));
      await s.saveCheckpoint(checkpointOf(steps.slice(6)));
      const n = async (limit: number, before?: number) => (await s.timeline('a-1', limit, before)).map((e) => e.n);
      expect(await n(5)).toEqual([7, 8, 9, 10, 11]);
      expect(await n(5, 7)).toEqual([2, 3, 4, 5, 6]);
      expect(await n(100, 3)).toEqual([0, 1, 2]);
      expect(await n(100, 0)).toEqual([]);
      expect(await n(100)).toEqual([...Array(12).keys()]);
      expect((await s.timeline('a-1', 1)).at(0)).toEqual({
        n: 11, at: T0 + 20_000, by: 'system', action: 'auto_resolved', code: 'fault.back_to_normal', params: { event: 40, seq: 12 }, note: 'event 40 back to normal (seq 12)',
      });
      expect((await s.timeline('a-1', 1, 1)).at(0)).toEqual({ n: 0, at: T0, by: 'system', action: 'opened' });
    });

    it('outcomes: alerts first seen in [from, to), by family and district, as the rates need them', async () => {
      const s = (await open()).repo;
      const early = opened({ id: 'o-0', at: T0 - 1 });
      const acked = done(acknowledge(opened({ id: 'o-1', at: T0, severity: 'critical' }).alert, 'op1', T0 + MIN));
      const closed = done(resolve(acked.alert, 'op2', T0 + 3 * MIN));
      const bySystem = autoResolve(opened({ id: 'o-2', at: T0 + 5 * MIN, family: 'elevator', district: '330205' }).alert, systemNote('offline.reconnected'), T0 + 6 * MIN);
      const noDistrict = opened({ id: 'o-3', at: T0 + 7 * MIN, severity: 'info', district: null });
      const late = opened({ id: 'o-4', at: T0 + 10 * MIN });
      await s.saveCheckpoint(checkpointOf([early, closed, bySystem, noDistrict, late]));
      const ids = async (q: Partial<Parameters<AlertRepository['outcomes']>[0]>) => (await s.outcomes({ from: T0, to: T0 + 10 * MIN, limit: 10, ...q })).map((o) => o.id);
      expect(await ids({})).toEqual(['o-1', 'o-2', 'o-3']);
      expect(await ids({ family: 'elevator' })).toEqual(['o-2']);
      expect(await ids({ district: '3302' })).toEqual(['o-2']);
      expect(await ids({ district: '330106', family: 'kitchen' })).toEqual(['o-1']);
      expect(await ids({ limit: 2 })).toEqual(['o-1', 'o-2']);
      expect(await ids({ from: T0 - 1, to: T0 })).toEqual(['o-0']);
      const [one, two, three] = await s.outcomes({ from: T0, to: T0 + 10 * MIN, limit: 10 });
      const d = closed.alert.deadlines;
      expect(one).toEqual({
        id: 'o-1', family: 'kitchen', rule: 'kitchen.test', severity: 'critical', status: 'resolved', firstSeen: T0, device: { id: 'dev-o-1', district: '330106' },
        closedBy: 'op2', deadlines: { ackBy: d.ackBy, resolveBy: d.resolveBy, acknowledgedAt: T0 + MIN, resolvedAt: T0 + 3 * MIN },
      });
      expect(two).toMatchObject({ status: 'resolved', closedBy: 'system', device: { district: '330205' }, deadlines: { acknowledgedAt: null, resolvedAt: T0 + 6 * MIN } });
      expect(three).toMatchObject({ severity: 'info', closedBy: null, device: { id: 'dev-o-3', district: null }, deadlines: { ackBy: null, resolveBy: null } });
    });

    it('rescue cases by status, elevator, district and alarm time, newest first; the active ones oldest first', async () => {
      const s = (await open()).repo;
      const c1 = caseOf('c-1', 'e-1', T0, '330106');
      const c2 = step(caseOf('c-2', 'e-2', T0 + MIN, '330205'), 'dispatched', T0 + MIN + 1000);
      const c3 = step(caseOf('c-3', 'e-1', T0 + 2 * MIN, null), 'false_alarm', T0 + 2 * MIN + 1000, 'a test call');
      let c4 = caseOf('c-4', 'e-3', T0 + 3 * MIN, '330106');
      for (const [i, st] of (['dispatched', 'arrived', 'released', 'closed'] as const).entries()) c4 = step(c4, st, T0 + 3 * MIN + (i + 1) * 1000);
      await s.saveCheckpoint(checkpointOf([], { cases: [c3, c1, c4, c2] }));
      const ids = async (q: Partial<Parameters<AlertRepository['queryCases']>[0]>) => (await s.queryCases({ limit: 10, ...q })).map((c) => c.id);
      expect(await ids({})).toEqual(['c-4', 'c-3', 'c-2', 'c-1']);
      expect(await ids({ status: ['alarmed', 'dispatched'] })).toEqual(['c-2', 'c-1']);
      expect(await ids({ status: ['closed'] })).toEqual(['c-4']);
      expect(await ids({ elevatorId: 'e-1' })).toEqual(['c-3', 'c-1']);
      expect(await ids({ district: '330106' })).toEqual(['c-4', 'c-1']);
      expect(await ids({ district: '3302' })).toEqual(['c-2']);
      // no district of its own and no registered elevator: only the empty prefix takes it
      expect(await ids({ district: '' })).toEqual(['c-4', 'c-3', 'c-2', 'c-1']);
      expect(await ids({ since: T0 + MIN })).toEqual(['c-4', 'c-3', 'c-2']);
      expect(await ids({ until: T0 + 2 * MIN })).toEqual(['c-2', 'c-1']);
      expect(await ids({ since: T0 + MIN, until: T0 + 3 * MIN, elevatorId: 'e-1' })).toEqual(['c-3']);
      expect(await ids({ limit: 2 })).toEqual(['c-4', 'c-3']);
      expect(await s.loadActiveCases()).toEqual([c1, c2]);
      expect(await s.getCase('c-4')).toEqual(c4);
    });

    it.skipIf(!withDevices)('a case without a district of its own is in its elevator\'s, as registered now', async () => {
      const s = (await withDevices!()).repo;
      await s.devices.insert([device('e-1', { district: '330205' }), device('e-2', { district: '330106' })]);
      await s.alerts.saveCheckpoint(checkpointOf([], { cases: [caseOf('c-1', 'e-1', T0, '330106'), caseOf('c-2', 'e-1', T0 + 1, null), caseOf('c-3', 'e-9', T0 + 2, null)] }));
      const ids = async (district: string) => (await s.alerts.queryCases({ district, limit: 10 })).map((c) => c.id);
      expect(await ids('3302')).toEqual(['c-2']);
      expect(await ids('330106')).toEqual(['c-1']);
      await s.devices.update(device('e-1', { district: '330106' }));
      expect(await ids('330106')).toEqual(['c-2', 'c-1']);
    });

    it('text with quotes, backslashes, emoji, line breaks and U+0000 comes back as written', async () => {
      const s = await open();
      const a = opened({ id: 'a-1', summary: hostile, name: hostile, family: 'elevator', rule: 'elevator.trapped' });
      const assigned = done(assign(a.alert, `unit ${hostile}`, 'op1', T0 + 1000, hostile));
      const noted = done(addNote(assigned.alert, hostile, 'op1', T0 + 2000));
      const closed = autoResolve(noted.alert, systemNote('rescue.false_alarm', { note: hostile }), T0 + 3000);
      const c = step({ ...caseOf('c-1', 'dev-a-1', T0, '330106'), reports: [{ note: hostile, floor: 'B1 "\u0000"' }] }, 'false_alarm', T0 + 3000, hostile);
      await s.repo.saveCheckpoint(checkpointOf([a, assigned, noted, closed], { cases: [c], ruleStates: { 'elevator.trapped': JSON.stringify({ last: hostile }) } }));
      await s.close();
      const r = (await s.reopen()).repo;
      expect(await r.get('a-1')).toEqual(closed.alert);
      expect(await r.timeline('a-1', 10)).toEqual([a, assigned, noted, closed].flatMap((x) => x.entries));
      expect((await r.timeline('a-1', 10)).at(-1)!.note).toContain('\u0000 nul');
      expect(await r.getCase('c-1')).toEqual(c);
      expect((await r.loadEngineState())?.ruleStates).toEqual({ 'elevator.trapped': { last: hostile } });
      expect((await r.query({ limit: 10 }))[0]!.summary).toBe(hostile);
    });

    it('an id or a filter holding U+0000 finds nothing, without failing', async () => {
      const s = (await open()).repo;
      await s.saveCheckpoint(checkpointOf([opened({ id: 'a-1' })]));
      expect(await s.get('a-1\u0000')).toBeNull();
      expect(await s.getCase('\u0000')).toBeNull();
      expect(await s.timeline('a-1\u0000', 10)).toEqual([]);
      expect(await s.query({ deviceId: 'dev-a-1\u0000', limit: 10 })).toEqual([]);
      expect(await s.queryCases({ elevatorId: '\u0000', limit: 10 })).toEqual([]);
      // a key past "a-1\0" is past "a-1": nothing of the one alert
      expect(await s.query({ sort: 'firstSeen', after: [-T0, 'a-1\u0000'], limit: 10 })).toEqual([]);
      expect((await s.query({ sort: 'firstSeen', after: [-T0, 'a-0\u0000'], limit: 10 })).map((a) => a.id)).toEqual(['a-1']);
    });
  });
}
