/**
 * Operators' actions on one slot's engine in cluster mode (cluster/slotEngine.ts, through
 * alerts/actions.ts as the single engine has them), without PostgreSQL: the slot's checkpoints
 * go to an in-memory `save` that records them, and the alerts repository the actions read is
 * built from what was saved. A trapped alert is raised from a feed delivery of the slot; each
 * action is applied, saved with the slot's checkpoint and answered; an unknown id, a refused
 * action and a fenced save reject with their codes.
 */
import pino from 'pino';
import { beforeEach, describe, expect, it } from 'vitest';
import type { Alert, TimelineEntry } from '../../core/alerts/alert.js';
import { deadlinePolicy, rescuePolicy, ruleOverrides } from '../../core/alerts/policy.js';
import type { RescueCase } from '../../core/alerts/rescueCase.js';
import { slotOf } from '../../core/cluster/slots.js';
import { CodedError } from '../../core/codes.js';
import type { Reading } from '../../core/reading.js';
import { allRules, RESCUE_RULE } from '../../core/rules/index.js';
import { examplePayload } from '../../core/schemas/examples.js';
import type { AlertReadRepository } from '../../alerts/alertReads.js';
import type { EngineEvent } from '../../alerts/engineTypes.js';
import { SlotEngine } from '../../cluster/slotEngine.js';
import type { FeedDelivery } from '../../cluster/readingFeedConsumer.js';
import type { SlotCheckpoint } from '../../store/postgres/slotCheckpoints.js';
import type { DeviceRecord } from '../../store/types.js';

const T0 = Date.UTC(2026, 11, 8, 2, 0, 0);
const MIN = 60_000;
const ELEVATOR = 'elev-7';
// the trapped rule routes by the elevator: its slot is the one this engine owns
const SLOT = slotOf(ELEVATOR);
const EPOCH = 3;
const log = pino({ level: 'silent' });
const device = (id: string): DeviceRecord | undefined => (id.startsWith('elev-')
  ? { id, family: 'elevator', name: null, district: '330106', location: null, meta: {}, secretHash: '', createdAt: 0, updatedAt: 0 } as unknown as DeviceRecord
  : undefined);

/** An elevator fault with data code 11 (passengers trapped): raises elevator.trapped, which opens a rescue case. */
const trapped = (seq: number, at: number): Reading => ({
  seq, family: 'elevator', channel: 'fault', deviceId: ELEVATOR, msgId: `m-${seq}`, ts: at, receivedAt: at, qos: 1,
  data: { ...examplePayload('elevator', 'fault', `m-${seq}`, at), code: 11, floor: 3 }, extra: null,
} as unknown as Reading);

const delivery = (seq: number, at: number): FeedDelivery => ({ slot: SLOT, position: `${at}-${seq}`, node: 'ingest-1', firstSeq: seq, lastSeq: seq, readings: [trapped(seq, at)] });

/** The slot's checkpoints as saved (or refused with `fence`), and the shared store's alerts as they make them. */
function memoryStore() {
  const saved: SlotCheckpoint[] = [];
  const alerts = new Map<string, Alert>();
  const timelines = new Map<string, TimelineEntry[]>();
  const cases = new Map<string, RescueCase>();
  const store = {
    saved,
    /** set: every save is refused with it, writing nothing (another node took the slot) */
    fence: null as CodedError | null,
    save(cp: SlotCheckpoint): Promise<void> {
      if (store.fence) return Promise.reject(store.fence);
      saved.push(cp);
      for (const a of cp.alerts) alerts.set(a.id, a);
      for (const { alertId, entry } of cp.timeline) timelines.set(alertId, [...(timelines.get(alertId) ?? []), entry]);
      for (const c of cp.cases) cases.set(c.id, c);
      return Promise.resolve();
    },
    alerts: {
      get: (id) => Promise.resolve(alerts.get(id) ?? null),
      timeline: (id, limit, before) => Promise.resolve((timelines.get(id) ?? []).filter((e) => before === undefined || e.n < before).slice(-limit)),
      getCase: (id) => Promise.resolve(cases.get(id) ?? null),
      // the actions read one alert or case by id; lists are the host's reads, not exercised here
      query: () => Promise.reject(new Error('alert lists are not read by the actions')),
      outcomes: () => Promise.reject(new Error('alert outcomes are not read by the actions')),
      queryCases: () => Promise.reject(new Error('case lists are not read by the actions')),
    } satisfies AlertReadRepository,
  };
  return store;
}

let now = T0;
let store: ReturnType<typeof memoryStore>;
let events: EngineEvent[];
let engine: SlotEngine;
let alertId: string;
let caseId: string;

beforeEach(async () => {
  now = T0;
  store = memoryStore();
  events = [];
  engine = new SlotEngine(SLOT, EPOCH, {
    rules: allRules, ruleOverrides: ruleOverrides(allRules, {}), deadlinePolicy: deadlinePolicy({}), rescuePolicy: rescuePolicy({}), rescueRule: RESCUE_RULE,
  }, {
    nodeId: 'node-a', device, cylinder: () => undefined, save: (cp) => store.save(cp), alerts: store.alerts,
    emit: (e) => events.push(e), log, now: () => now,
  });
  await engine.load({ epoch: null, position: null, ruleStates: {}, alerts: [], cases: [] });
  engine.readings(delivery(1, T0));
  const [alert] = engine.activeAlerts();
  expect(alert).toMatchObject({ rule: 'elevator.trapped', status: 'open', device: { id: ELEVATOR } });
  expect(engine.activeCases()).toEqual([expect.objectContaining({ alertId: alert!.id, status: 'alarmed' })]);
  alertId = alert!.id;
  caseId = alert!.rescueCaseId!;
  // the host finds the engine of an alert not yet saved under its slot by its book
  expect([engine.hasAlert(alertId), engine.hasCase(caseId), engine.hasAlert('no-such-alert'), engine.hasCase(alertId)]).toEqual([true, true, false, false]);
  now = T0 + MIN;
});

/** The newest version of an alert or case the slot has saved. */
const savedAlert = (id: string): Alert | undefined => store.saved.flatMap((cp) => cp.alerts).filter((a) => a.id === id).at(-1);
const savedCase = (id: string): RescueCase | undefined => store.saved.flatMap((cp) => cp.cases).filter((c) => c.id === id).at(-1);
const savedEntries = (id: string): TimelineEntry[] => store.saved.flatMap((cp) => cp.timeline).filter((t) => t.alertId === id).map((t) => t.entry);

describe('operator actions on a slot\'s engine', () => {
  const rows: Array<{
    name: string;
    run(): Promise<unknown>;
    alert: Partial<Alert>;
    /** the newest timeline entry the action saved */
    entry: Partial<TimelineEntry>;
    caseStatus: RescueCase['status'];
    active: boolean;
  }> = [
    {
      name: 'ack by a dispatcher: the alert acknowledged',
      run: () => engine.act(alertId, 'ack', 'disp1', { note: 'on it' }),
      alert: { status: 'acknowledged' }, entry: { action: 'acknowledged', by: 'disp1', note: 'on it' }, caseStatus: 'alarmed', active: true,
    },
    {
      name: 'the case dispatched: its trapped alert acknowledged by the dispatcher',
      run: () => engine.recordRescueStep(caseId, 'dispatched', 'disp1', { details: { unit: 'unit-9' } }),
      alert: { status: 'acknowledged' }, entry: { action: 'acknowledged', by: 'disp1', code: 'rescue.dispatched' }, caseStatus: 'dispatched', active: true,
    },
    {
      name: 'the case closed: its trapped alert resolved',
      run: async () => {
        for (const step of ['dispatched', 'arrived', 'released', 'closed'] as const) await engine.recordRescueStep(caseId, step, 'disp1');
      },
      alert: { status: 'resolved' }, entry: { by: 'disp1', code: 'rescue.closed' }, caseStatus: 'closed', active: false,
    },
    {
      name: 'a note',
      run: () => engine.act(alertId, 'note', 'disp1', { note: 'caller calm, 2 passengers' }),
      alert: { status: 'open', notes: 1 }, entry: { action: 'noted', by: 'disp1', note: 'caller calm, 2 passengers' }, caseStatus: 'alarmed', active: true,
    },
  ];

  it.each(rows)('$name; saved with the slot\'s checkpoint', async ({ run, alert, entry, caseStatus, active }) => {
    await run();
    // the checkpoint is the slot's, at its feed position, with the change
    expect(store.saved.at(-1)).toMatchObject({ slot: SLOT, epoch: EPOCH, nodeId: 'node-a', position: `${T0}-1` });
    expect(savedAlert(alertId)).toMatchObject(alert);
    expect(savedEntries(alertId).at(-1)).toMatchObject(entry);
    expect(savedCase(caseId)?.status).toBe(caseStatus);
    expect(engine.activeAlerts().some((a) => a.id === alertId)).toBe(active);
    expect(engine.persistStatus().ok).toBe(true);
    // the wall heard of it as the single engine's would tell it
    expect(events.filter((e) => e.type === 'alert' && e.alert.id === alertId).at(-1)).toMatchObject({ alert });
  });

  it('answers an alert action with the alert and its timeline, read back from the shared store once saved', async () => {
    await engine.act(alertId, 'resolve', 'disp1', { note: 'released by the unit' });
    // no longer in the book: the note reads the resolved alert from what the slot saved
    expect(engine.activeAlerts()).toEqual([]);
    const detail = await engine.act(alertId, 'note', 'disp1', { note: 'follow-up call' });
    expect(detail).toMatchObject({ id: alertId, status: 'resolved', rescueCaseId: caseId });
    // resolving an open alert acknowledges it first (core/alerts/alert.ts resolve)
    expect(detail.timeline.map((e) => e.action)).toEqual(['opened', 'acknowledged', 'resolved', 'noted']);
  });

  const refusals: Array<{ name: string; run(): Promise<unknown>; code: string; reason?: string }> = [
    { name: 'an action on an unknown alert', run: () => engine.act('no-such-alert', 'ack', 'disp1'), code: 'alert_not_found' },
    { name: 'a step of an unknown case', run: () => engine.recordRescueStep('no-such-case', 'dispatched', 'disp1'), code: 'rescue_case_not_found' },
    {
      name: 'an ack of an acknowledged alert',
      run: async () => { await engine.act(alertId, 'ack', 'disp1'); await engine.act(alertId, 'ack', 'disp2'); },
      code: 'alert_conflict', reason: 'already_acknowledged',
    },
    { name: 'a step skipped', run: () => engine.recordRescueStep(caseId, 'arrived', 'disp1'), code: 'rescue_step_refused', reason: 'step_skipped' },
  ];

  it.each(refusals)('$name: rejected with $code', async ({ run, code, reason }) => {
    const err = await run().then(() => null, (e: unknown) => e);
    expect(err).toBeInstanceOf(CodedError);
    expect(err).toMatchObject({ code, ...(reason ? { details: { reason } } : {}) });
  });

  it('an action whose checkpoint is fenced rejects with slot_fenced, the change kept unsaved', async () => {
    const before = store.saved.length;
    store.fence = new CodedError('slot_fenced', `checkpoint of slot ${SLOT} refused: another node owns it`, { slot: SLOT, epoch: EPOCH, current: EPOCH + 1 });
    const err = await engine.act(alertId, 'ack', 'disp1').then(() => null, (e: unknown) => e);
    expect(err).toBe(store.fence);
    expect(store.saved).toHaveLength(before);
    expect(engine.persistStatus()).toMatchObject({ ok: false, consecutiveFailures: 1 });
    // the book still holds the change for a checkpoint that could be written
    expect(engine.activeAlerts()).toEqual([expect.objectContaining({ id: alertId, status: 'acknowledged' })]);
  });
});
