/**
 * The cylinder trace (core/rules/cylinder/trace.ts): each stored scan judged as the scan check
 * judged it, by the record version in force at its receive time. Tables of record transitions
 * (registered later, reported lost and found, handed to another station, scrapped) against
 * scans at several stations, with the clock of each scan given.
 */
import { describe, expect, it } from 'vitest';
import { DAY, HOUR, T, record } from './cylinderFixtures.js';
import { reading, runRule } from './helpers.js';
import type { CylinderRecord, ScanReply } from '../../../core/alerts/types.js';
import type { CylinderVersion, StoredScan } from '../../../core/cylinders/trace.js';
import type { ScanPoint } from '../../../core/schemas/index.js';
import { cylinderTrace, scanCheck, scanCheckDefaults, stationsOf, traceEntry, versionAt, wireReasons } from '../../../core/rules/cylinder/index.js';

let seq = 100;
function stored(point: ScanPoint, stationId: string, rx: number, over: Partial<StoredScan> = {}): StoredScan {
  return { seq: ++seq, deviceId: `scan-${stationId}`, msgId: `m${seq}`, ts: rx - 1000, receivedAt: rx, stationId, point, operatorId: 'OP-1', netKg: point === 'post_fill' ? 14 : null, ...over };
}
const v = (from: number, over: Partial<CylinderRecord> = {}): CylinderVersion => ({ from, record: record(over) });

describe('versionAt: the record in force at a receive time', () => {
  const versions = [v(T, { status: 'lost' }), v(0), v(T + DAY)];
  it.each<[string, number, number | null]>([
    ['before every version: none (not registered then)', -1, null],
    ['at 0 (registered before versions were kept)', 0, 0],
    ['just before a change', T - 1, 0],
    ['exactly at the change: the new version', T, T],
    ['after the last', T + 2 * DAY, T + DAY],
  ])('%s', (_name, at, from) => {
    expect(versionAt(versions, at)?.from ?? null).toBe(from);
  });

  it('two versions written in the same ms: the later in the list wins', () => {
    expect(versionAt([v(T, { status: 'lost' }), v(T, { status: 'in_service' })], T)!.record.status).toBe('in_service');
  });
});

describe('transitions: each scan judged by the record of its time', () => {
  type Row = [name: string, versions: CylinderVersion[], scan: StoredScan, decision: 'allow' | 'refuse', reasons: string[], alerts: string[], recordFrom: number | null];
  const rows: Row[] = [
    ['scanned before it was registered: unregistered', [v(T)], stored('pre_fill', 'ST-1', T - 1), 'refuse', ['unregistered'], ['cylinder.refused'], null],
    ['scanned once registered', [v(T)], stored('pre_fill', 'ST-1', T), 'allow', [], [], T],
    ['in service, then reported lost: a delivery before the report', [v(0), v(T, { status: 'lost' })], stored('delivery', 'ST-1', T - HOUR), 'allow', [], [], 0],
    ['... a recovery after it: flagged lost', [v(0), v(T, { status: 'lost' })], stored('recovery', 'ST-2', T + HOUR), 'allow', ['lost'], ['cylinder.flagged'], T],
    ['... refused at pre_fill while lost', [v(0), v(T, { status: 'lost' })], stored('pre_fill', 'ST-1', T + HOUR), 'refuse', ['lost'], ['cylinder.refused'], T],
    ['found again (in service): allowed', [v(0), v(T, { status: 'lost' }), v(T + DAY)], stored('pre_fill', 'ST-1', T + 2 * DAY), 'allow', [], [], T + DAY],
    ['handed to ST-3: a fill at ST-1 before the transfer', [v(0), v(T, { ownerStationId: 'ST-3', entrustedStationIds: [] })], stored('fill', 'ST-1', T - 1), 'allow', [], [], 0],
    ['... at ST-3 after it', [v(0), v(T, { ownerStationId: 'ST-3', entrustedStationIds: [] })], stored('fill', 'ST-3', T), 'allow', [], [], T],
    ['... at ST-1 after it: not its owner any more', [v(0), v(T, { ownerStationId: 'ST-3', entrustedStationIds: [] })], stored('fill', 'ST-1', T), 'refuse', ['not_owner'], ['cylinder.refused'], T],
    ['scrapped later: an outbound before is allowed', [v(0), v(T, { status: 'scrapped' })], stored('outbound', 'ST-1', T - 1), 'allow', [], [], 0],
    ['... an outbound after is refused', [v(0), v(T, { status: 'scrapped' })], stored('outbound', 'ST-1', T + 1), 'refuse', ['scrapped'], ['cylinder.refused'], T],
  ];

  it.each(rows)('%s', (_name, versions, scan, decision, reasons, alerts, recordFrom) => {
    expect(traceEntry(scan, versions, scanCheckDefaults)).toMatchObject({ ...scan, decision, reasons, alerts, recordFrom });
  });

  it('a trace entry decides as the live scan check did with the record of that time', () => {
    const rec = record({ status: 'lost', nextInspection: Date.UTC(2026, 11, 1) });
    for (const point of ['pre_fill', 'outbound', 'delivery', 'recovery'] as const) {
      const s = stored(point, 'ST-9', T);
      const live = runRule(scanCheck, [reading({ seq: s.seq, family: 'cylinder', channel: 'scan', deviceId: s.deviceId, msgId: s.msgId, ts: s.ts, receivedAt: s.receivedAt,
        data: { cylinderCode: 'LPG-1', stationId: s.stationId, point, operatorId: s.operatorId } })], { registry: [rec] }).effects[0]!;
      const reply = live.find((e): e is ScanReply => e.type === 'scanReply')!;
      const entry = traceEntry(s, [{ from: 0, record: rec }], scanCheckDefaults);
      expect(entry.decision).toBe(reply.decision);
      expect(wireReasons(entry.reasons)).toEqual(reply.reasons);
      expect(entry.alerts).toEqual(live.flatMap((e) => (e.type === 'raise' ? [e.rule] : [])));
    }
  });

  it('the trace uses the given configuration (gatePoints)', () => {
    const s = stored('delivery', 'ST-1', T);
    expect(traceEntry(s, [v(0, { status: 'lost' })], { ...scanCheckDefaults, gatePoints: ['delivery'] })).toMatchObject({ decision: 'refuse', alerts: ['cylinder.refused'] });
  });
});

describe('cylinderTrace: one code across stations', () => {
  // filled at ST-1, delivered, recovered at ST-2 (the next cycle's station), refilled there
  const cycle = [
    stored('pre_fill', 'ST-1', T), stored('fill', 'ST-1', T + 60_000), stored('post_fill', 'ST-1', T + 120_000), stored('outbound', 'ST-1', T + 180_000),
    stored('delivery', 'ST-1', T + HOUR), stored('recovery', 'ST-2', T + 20 * DAY), stored('pre_fill', 'ST-2', T + 20 * DAY + 60_000),
  ];

  it('scans oldest first by device time then seq, whatever order the store gave them; stations in order of first scan', () => {
    const t = cylinderTrace('LPG-1', [...cycle].reverse(), [v(0)], record(), scanCheckDefaults);
    expect(t.scans.map((s) => s.seq)).toEqual(cycle.map((s) => s.seq));
    expect(t.stations).toEqual(['ST-1', 'ST-2']);
    expect(stationsOf(cycle)).toEqual(['ST-1', 'ST-2']);
    expect(t).toMatchObject({ code: 'LPG-1', record: record(), truncated: false });
  });

  it('each scan keeps its station, point, operator, decision and time; at ST-2, neither owner nor entrusted: flagged at recovery, refused at pre_fill', () => {
    const t = cylinderTrace('LPG-1', cycle, [v(0, { entrustedStationIds: [] })], record({ entrustedStationIds: [] }), scanCheckDefaults);
    expect(t.scans.map((s) => [s.stationId, s.point, s.operatorId, s.decision, s.receivedAt])).toEqual(cycle.map((s) =>
      [s.stationId, s.point, 'OP-1', s.stationId === 'ST-2' && s.point === 'pre_fill' ? 'refuse' : 'allow', s.receivedAt]));
    expect(t.scans.filter((s) => s.reasons.includes('not_owner')).map((s) => s.point)).toEqual(['recovery', 'pre_fill']);
    expect(t.scans.find((s) => s.point === 'recovery')!.alerts).toEqual(['cylinder.flagged']);
  });

  it('an unregistered code with scans: record null, every scan unregistered; truncated is passed on', () => {
    const t = cylinderTrace('LPG-X', cycle.slice(0, 2), [], undefined, scanCheckDefaults, true);
    expect(t).toMatchObject({ record: null, truncated: true });
    expect(t.scans.map((s) => [s.decision, s.reasons, s.recordFrom])).toEqual([['refuse', ['unregistered'], null], ['refuse', ['unregistered'], null]]);
  });
});
