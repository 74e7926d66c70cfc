/**
 * cylinder.scan_check at every scan point (docs/rules/cylinder.md): a problem cylinder raises
 * an alert wherever it is scanned — `cylinder.refused` (and a refuse) at a gate point,
 * `cylinder.flagged` (allowed) elsewhere — each naming its reasons; `lost` is its own reason in
 * the check and the alerts, and goes out on the wire as the protocol allows. Tables of
 * (record, point, clock) -> reply and alerts, the clock injected as the receive time.
 */
import { describe, expect, it } from 'vitest';
import { brief, raises } from './helpers.js';
import { DAY, T, checkOne, date, record, replies, type ScanOpts } from './cylinderFixtures.js';
import { cylinderScanReply, scanPoints, scanReasons, type ScanPoint } from '../../../core/schemas/index.js';
import type { CylinderRecord } from '../../../core/alerts/types.js';
import { checkReasons, decideScan, scanCheckDefaults, wireReasons, type CheckReason } from '../../../core/rules/cylinder/index.js';

const netKgAt = (point: ScanPoint): number | undefined => (point === 'post_fill' ? 14 : undefined);

/** Each kind of problem cylinder: its record (none: unregistered) and the condition it raises. */
const problems: Array<[kind: string, rec: CylinderRecord | undefined, condition: string]> = [
  ['unregistered', undefined, 'LPG-1|unregistered'],
  ['scrapped', record({ status: 'scrapped' }), 'LPG-1|scrapped'],
  ['lost', record({ status: 'lost' }), 'LPG-1|lost'],
  ['past its design life', record({ mfgDate: date('2018-11-22') }), 'LPG-1|expired_life'],
  ['inspection overdue', record({ nextInspection: date('2026-11-22') }), 'LPG-1|inspection_overdue'],
  ['past 12 years', record({ mfgDate: date('2014-11-22'), designLifeYears: 15 }), 'LPG-1|scrapped'],
];

describe('a problem cylinder at every point: refused at a gate, flagged elsewhere (defaults)', () => {
  const gates: readonly ScanPoint[] = ['pre_fill', 'fill', 'post_fill', 'outbound'];
  it('the default gates: the filling hall and the station exit', () => {
    expect(scanCheckDefaults.gatePoints).toEqual(gates);
  });

  const rows = problems.flatMap(([kind, rec, condition]) => scanPoints.map((point) => [kind, point, rec, condition] as const));
  it.each(rows)('%s at %s', (_kind, point, rec, condition) => {
    const gate = gates.includes(point);
    const effects = checkOne(rec, { point, netKg: netKgAt(point) });
    expect(replies(effects)).toHaveLength(1);
    expect(replies(effects)[0]!.decision).toBe(gate ? 'refuse' : 'allow');
    expect(brief(effects)).toEqual([[gate ? 'cylinder.refused' : 'cylinder.flagged', condition, 'major']]);
    const alert = raises(effects)[0]!;
    expect(alert.params).toMatchObject({ point, decision: gate ? 'refuse' : 'allow', reasons: condition.split('|')[1]!.split('+').join(',') });
    expect(alert.summary).toContain(condition.split('|')[1]!);
  });

  it.each(scanPoints.map((p) => [p] as const))('a valid cylinder at %s: allowed, no alert', (point) => {
    const effects = checkOne(record(), { point, netKg: netKgAt(point) });
    expect(replies(effects)[0]).toMatchObject({ decision: 'allow', reasons: [] });
    expect(raises(effects)).toEqual([]);
  });

  it.each([['delivery'], ['recovery']] as const)('due soon at %s is information only: inspection_due, no flag', (point) => {
    expect(brief(checkOne(record({ nextInspection: date('2026-12-01') }), { point }))).toEqual([['cylinder.inspection_due', 'LPG-1', 'info']]);
  });

  it('a flag names the station, the point and the operator, and carries the scan as evidence', () => {
    const effects = checkOne(record({ status: 'lost' }), { point: 'recovery', stationId: 'ST-2', operatorId: 'OP-9', deviceId: 'hand-4' });
    expect(raises(effects)).toEqual([expect.objectContaining({
      rule: 'cylinder.flagged', deviceId: 'hand-4', condition: 'LPG-1|lost', windowMs: DAY, at: T,
      summary: 'cylinder LPG-1 scanned at recovery, station ST-2, operator OP-9 (allowed, not a gate): lost',
      params: expect.objectContaining({ stationId: 'ST-2', point: 'recovery', operatorId: 'OP-9', status: 'lost', reasons: 'lost' }),
    })]);
  });

  it('an overfilled cylinder at delivery is flagged critical; several reasons in check order', () => {
    expect(brief(checkOne(record(), { point: 'delivery', netKg: 16 }))).toEqual([['cylinder.flagged', 'LPG-1|overfilled', 'critical']]);
    expect(brief(checkOne(record({ status: 'lost', nextInspection: date('2026-01-01') }), { point: 'delivery', stationId: 'ST-9' })))
      .toEqual([['cylinder.flagged', 'LPG-1|lost+inspection_overdue+not_owner', 'major']]);
  });

  it('flags share the refusal thresholds (refusedSeverity, refusedWindowMs)', () => {
    const [flag] = raises(checkOne(undefined, { point: 'delivery' }, { refusedSeverity: 'minor', refusedWindowMs: 3_600_000 }));
    expect(flag).toMatchObject({ rule: 'cylinder.flagged', severity: 'minor', windowMs: 3_600_000 });
  });
});

describe('the clock: the scan day is the receive time in China, wherever the scan happens', () => {
  // nextInspection 2026-11-22: allowed that whole China day, overdue from its midnight (16:00 UTC)
  const rec = record({ nextInspection: date('2026-11-22') });
  it.each<[string, number, ScanPoint, 'allow' | 'refuse', string[]]>([
    ['23:59:59.999 on the inspection day, outbound', Date.UTC(2026, 10, 22, 15, 59, 59, 999), 'outbound', 'allow', ['cylinder.inspection_due']],
    ['00:00 the next day, outbound', Date.UTC(2026, 10, 22, 16, 0, 0), 'outbound', 'refuse', ['cylinder.refused']],
    ['23:59:59.999 on the inspection day, delivery', Date.UTC(2026, 10, 22, 15, 59, 59, 999), 'delivery', 'allow', ['cylinder.inspection_due']],
    ['00:00 the next day, delivery', Date.UTC(2026, 10, 22, 16, 0, 0), 'delivery', 'allow', ['cylinder.flagged']],
  ])('%s: %s, %j', (_name, rx, point, decision, alerts) => {
    // a handheld's clock a day behind changes nothing: the platform's receive time decides
    const effects = checkOne(rec, { point, rx, ts: rx - DAY }, {}, rx + 30);
    expect(replies(effects)[0]).toMatchObject({ decision, at: rx + 30 });
    expect(raises(effects).map((r) => r.rule)).toEqual(alerts);
    expect(raises(effects).every((r) => r.at === rx)).toBe(true);
  });
});

describe('lost is its own reason', () => {
  it('check order puts lost after scrapped; every check reason but lost is a protocol reason', () => {
    expect(checkReasons.indexOf('lost')).toBe(checkReasons.indexOf('scrapped') + 1);
    expect(checkReasons.filter((r) => !(scanReasons as readonly string[]).includes(r))).toEqual((scanReasons as readonly string[]).includes('lost') ? [] : ['lost']);
  });

  it.each<[string, CheckReason[], string[]]>([
    ['lost alone', ['lost'], ['scrapped']],
    ['lost and scrapped: one reason on the wire', ['scrapped', 'lost'], ['scrapped']],
    ['lost with others, protocol order', ['lost', 'inspection_overdue', 'not_owner'], ['scrapped', 'inspection_overdue', 'not_owner']],
    ['no lost: as given', ['unregistered'], ['unregistered']],
    ['nothing', [], []],
  ])('wire reasons: %s', (_name, reasons, wire) => {
    // until the protocol lists `lost` (core/schemas/cylinder.ts), it goes out as `scrapped`
    const expected = (scanReasons as readonly string[]).includes('lost') ? scanReasons.filter((r) => (reasons as string[]).includes(r)) : wire;
    expect(wireReasons(reasons)).toEqual(expected);
  });

  it('the reply for a lost cylinder validates against the protocol, at every point', () => {
    for (const point of scanPoints) {
      const reply = replies(checkOne(record({ status: 'lost' }), { point, netKg: netKgAt(point) } as ScanOpts))[0]!;
      const wire = { msgId: reply.msgId, cylinderCode: reply.cylinderCode, decision: reply.decision, reasons: reply.reasons, ts: new Date(reply.at).toISOString() };
      expect(cylinderScanReply.safeParse(wire).success, point).toBe(true);
      expect(reply.reasons).toEqual(wireReasons(['lost']));
    }
  });

  it('a lost cylinder is never reported as scrapped in an alert', () => {
    for (const point of scanPoints) {
      for (const a of raises(checkOne(record({ status: 'lost' }), { point, netKg: netKgAt(point) }))) {
        expect(a.condition).toBe('LPG-1|lost');
        expect(a.params.reasons).toBe('lost');
      }
    }
  });

  it('a status this build does not know is refused as scrapped, never allowed', () => {
    const odd = { ...record(), status: 'retired' } as unknown as CylinderRecord;
    expect(decideScan(odd, { stationId: 'ST-1', point: 'fill', netKg: null }, T, scanCheckDefaults)).toMatchObject({ decision: 'refuse', reasons: ['scrapped'] });
  });
});

describe('decideScan: (record, point) -> decision, reasons, alert', () => {
  it.each<[string, CylinderRecord | undefined, ScanPoint, 'allow' | 'refuse', CheckReason[], string | null]>([
    ['valid at fill', record(), 'fill', 'allow', [], null],
    ['due soon at fill', record({ nextInspection: date('2026-11-30') }), 'fill', 'allow', ['inspection_due_soon'], null],
    ['lost at outbound', record({ status: 'lost' }), 'outbound', 'refuse', ['lost'], 'cylinder.refused'],
    ['lost at recovery', record({ status: 'lost' }), 'recovery', 'allow', ['lost'], 'cylinder.flagged'],
    ['unregistered at delivery', undefined, 'delivery', 'allow', ['unregistered'], 'cylinder.flagged'],
    ['foreign at pre_fill', record({ ownerStationId: 'ST-5', entrustedStationIds: [] }), 'pre_fill', 'refuse', ['not_owner'], 'cylinder.refused'],
  ])('%s', (_name, rec, point, decision, reasons, alert) => {
    const d = decideScan(rec, { stationId: 'ST-1', point, netKg: null }, T, scanCheckDefaults);
    expect(d).toMatchObject({ decision, reasons, alert, gate: scanCheckDefaults.gatePoints.includes(point) });
  });
});
