/**
 * LPG cylinder rules (core/rules/cylinder, docs/rules/cylinder.md) as tables:
 * (initial state, input, now, registry) -> expected effects, with every threshold edge
 * (just under / at / just over) and every reason code; a reply for every scan point; state
 * that survives JSON.stringify/parse; inputs never mutated.
 */
import { describe, expect, it } from 'vitest';
import { brief, raises, reading, runRule, tick } from './helpers.js';
import { DAY, HOUR, MIN, T, checkOne, date, record, replies, scan, type ScanOpts } from './cylinderFixtures.js';
import { cylinderScanReply, scanPoints, scanReasons, type ScanPoint } from '../../../core/schemas/index.js';
import { addYears, isoDate, localDate } from '../../../core/cylinders/calendar.js';
import type { CylinderRecord } from '../../../core/alerts/types.js';
import type { RuleInput } from '../../../core/rules/common/dispatch.js';
import { mapEntries } from '../../../core/rules/common/shardedMap.js';
import {
  checkCylinder, clonedCode, cylinderRules, decideScan, noPreFill, scanCheck, scanCheckDefaults, wireReasons, type CheckReason, type ScanCheckConfig,
} from '../../../core/rules/cylinder/index.js';

const run = runRule;

describe('calendar (record dates are China local dates at UTC midnight)', () => {
  it.each([
    ['2026-11-22T15:59:59.999Z', '2026-11-22'],
    ['2026-11-22T16:00:00.000Z', '2026-11-23'],
    ['2026-11-23T15:59:59.999Z', '2026-11-23'],
  ])('instant %s is the local date %s', (instant, day) => {
    expect(isoDate(localDate(Date.parse(instant)))).toBe(day);
  });

  it.each([
    ['2018-11-23', 8, '2026-11-23'],
    ['2016-02-29', 8, '2024-02-29'],
    ['2016-02-29', 10, '2026-02-28'],
    ['2014-12-31', 12, '2026-12-31'],
  ])('%s + %i years = %s (29 Feb -> 28 Feb in common years)', (from, years, to) => {
    expect(isoDate(addYears(date(from), years))).toBe(to);
  });
});

describe('cylinder.scan_check: reasons and decision at pre_fill (scan day 2026-11-23)', () => {
  type Row = [name: string, rec: CylinderRecord | undefined, opts: ScanOpts, config: Partial<ScanCheckConfig>, decision: 'allow' | 'refuse', reasons: CheckReason[]];
  const rows: Row[] = [
    ['a valid cylinder at its owner', record(), {}, {}, 'allow', []],
    ['at an entrusted station', record(), { stationId: 'ST-2' }, {}, 'allow', []],
    ['unregistered code', undefined, {}, {}, 'refuse', ['unregistered']],
    ['status scrapped', record({ status: 'scrapped' }), {}, {}, 'refuse', ['scrapped']],
    ['status lost: its own reason', record({ status: 'lost' }), {}, {}, 'refuse', ['lost']],
    ['status lost and past 12 years: both', record({ status: 'lost', mfgDate: date('2014-11-22'), designLifeYears: 15 }), {}, {}, 'refuse', ['scrapped', 'lost']],
    ['not owner nor entrusted', record(), { stationId: 'ST-9' }, {}, 'refuse', ['not_owner']],
    // inspection: nextInspection before the scan day is overdue; on the day it is due soon
    ['inspection the day before the scan day: overdue', record({ nextInspection: date('2026-11-22') }), {}, {}, 'refuse', ['inspection_overdue']],
    ['inspection on the scan day: allowed, due soon', record({ nextInspection: date('2026-11-23') }), {}, {}, 'allow', ['inspection_due_soon']],
    ['inspection the day after: due soon', record({ nextInspection: date('2026-11-24') }), {}, {}, 'allow', ['inspection_due_soon']],
    ['inspection in 30 days: due soon', record({ nextInspection: date('2026-12-23') }), {}, {}, 'allow', ['inspection_due_soon']],
    ['inspection in 31 days: nothing', record({ nextInspection: date('2026-12-24') }), {}, {}, 'allow', []],
    ['dueSoonDays 7: 8 days is nothing', record({ nextInspection: date('2026-12-01') }), {}, { dueSoonDays: 7 }, 'allow', []],
    // no nextInspection: (lastInspection or mfgDate) + 4 years
    ['no nextInspection, last 2022-11-23 + 4 y = scan day', record({ lastInspection: date('2022-11-23'), nextInspection: null }), {}, {}, 'allow', ['inspection_due_soon']],
    ['no nextInspection, last 2022-11-22 + 4 y: overdue', record({ lastInspection: date('2022-11-22'), nextInspection: null }), {}, {}, 'refuse', ['inspection_overdue']],
    ['no inspection dates, mfg + 4 y overdue', record({ mfgDate: date('2022-01-01'), lastInspection: null, nextInspection: null }), {}, {}, 'refuse', ['inspection_overdue']],
    // design life 8 years: the 8th anniversary is the last day allowed
    ['design life ends tomorrow', record({ mfgDate: date('2018-11-24') }), {}, {}, 'allow', []],
    ['design life ends on the scan day', record({ mfgDate: date('2018-11-23') }), {}, {}, 'allow', []],
    ['design life ended yesterday: expired by one day', record({ mfgDate: date('2018-11-22') }), {}, {}, 'refuse', ['expired_life']],
    ['designLifeYears from the record (10)', record({ mfgDate: date('2016-11-22'), designLifeYears: 10 }), {}, {}, 'refuse', ['expired_life']],
    ['life extension off: an inspection after the design life does not help', record({ mfgDate: date('2017-01-01'), lastInspection: date('2025-01-02') }), {}, {}, 'refuse', ['expired_life']],
    ['life extension on: inspected on/after the design-life end', record({ mfgDate: date('2017-01-01'), lastInspection: date('2025-01-01') }), {}, { lifeExtensionByInspection: true }, 'allow', []],
    ['life extension on: inspected before the design-life end', record({ mfgDate: date('2017-01-01'), lastInspection: date('2024-12-31') }), {}, { lifeExtensionByInspection: true }, 'refuse', ['expired_life']],
    // 12 years in use at most (a 15-year design life isolates the scrap age)
    ['12 years tomorrow', record({ mfgDate: date('2014-11-24'), designLifeYears: 15 }), {}, {}, 'allow', []],
    ['12 years on the scan day', record({ mfgDate: date('2014-11-23'), designLifeYears: 15 }), {}, {}, 'allow', []],
    ['12 years and a day: scrapped', record({ mfgDate: date('2014-11-22'), designLifeYears: 15 }), {}, {}, 'refuse', ['scrapped']],
    ['12 years and a day with 8-year life: both', record({ mfgDate: date('2014-11-22') }), {}, {}, 'refuse', ['scrapped', 'expired_life']],
    ['life extension never passes 12 years', record({ mfgDate: date('2014-11-22'), lastInspection: date('2023-01-01') }), {}, { lifeExtensionByInspection: true }, 'refuse', ['scrapped']],
    ['maxServiceYears 10', record({ mfgDate: date('2016-11-22'), designLifeYears: 15 }), {}, { maxServiceYears: 10 }, 'refuse', ['scrapped']],
    ['every registry reason at once, in check order', record({ status: 'lost', mfgDate: date('2010-01-01'), nextInspection: date('2020-01-01') }), { stationId: 'ST-9' }, {}, 'refuse',
      ['scrapped', 'lost', 'expired_life', 'inspection_overdue', 'not_owner']],
    ['due soon and not owner: refused for not_owner, due soon listed', record({ nextInspection: date('2026-12-01') }), { stationId: 'ST-9' }, {}, 'refuse', ['not_owner', 'inspection_due_soon']],
    ['overfilled residual at pre_fill is refused too', record(), { netKg: 15.2 }, {}, 'refuse', ['overfilled']],
  ];

  it.each(rows)('%s', (_name, rec, opts, config, decision, reasons) => {
    const effects = checkOne(rec, opts, config);
    const [reply, ...more] = replies(effects);
    expect(more).toEqual([]);
    // the reply carries the protocol's reasons (wireReasons); the check names its own
    expect(reply).toMatchObject({ decision, reasons: wireReasons(reasons) });
    const cfg = { ...scanCheckDefaults, ...config };
    expect(decideScan(rec, { stationId: opts.stationId ?? 'ST-1', point: 'pre_fill', netKg: opts.netKg ?? null }, T, cfg).reasons).toEqual(reasons);
  });

  it('the scan day is the China local date of the receive time, not the device clock', () => {
    const rec = record({ nextInspection: date('2026-11-22') });
    // 2026-11-22 23:59:59.999 in China: the inspection day itself, allowed
    expect(replies(checkOne(rec, { rx: Date.UTC(2026, 10, 22, 15, 59, 59, 999) }))[0]!.decision).toBe('allow');
    // 2026-11-23 00:00 in China: overdue
    expect(replies(checkOne(rec, { rx: Date.UTC(2026, 10, 22, 16, 0, 0) }))[0]!.decision).toBe('refuse');
    // a scanner clock set back a year does not help
    expect(replies(checkOne(rec, { ts: T - 365 * DAY, rx: T }))[0]!.reasons).toEqual(['inspection_overdue']);
    // another offset: at 23:00 UTC on 11-22 it is still 11-22 in UTC
    expect(replies(checkOne(rec, { rx: Date.UTC(2026, 10, 22, 23, 0, 0) }, { utcOffsetMinutes: 0 }))[0]!.decision).toBe('allow');
  });
});

describe('cylinder.scan_check: post_fill mass (YSP15: 14.5 + 0.5 kg)', () => {
  it.each<[number, 'allow' | 'refuse', CheckReason[]]>([
    [14.5, 'allow', []],
    [14.99, 'allow', []],
    [15.0, 'allow', []],
    [15.001, 'refuse', ['overfilled']],
    [15.01, 'refuse', ['overfilled']],
    [0, 'allow', []],
  ])('netKg %d -> %s', (netKg, decision, reasons) => {
    const effects = checkOne(record(), { point: 'post_fill', netKg });
    expect(replies(effects)[0]).toMatchObject({ decision, reasons });
    expect(brief(effects)).toEqual(decision === 'refuse' ? [['cylinder.refused', 'LPG-1|overfilled', 'critical']] : []);
  });

  it.each<[number, number, 'allow' | 'refuse']>([
    [14.9, 15.4, 'allow'], [14.9, 15.41, 'refuse'], [49.5, 50.0, 'allow'], [49.5, 50.01, 'refuse'],
  ])('maxFillKg %d: netKg %d -> %s', (maxFillKg, netKg, decision) => {
    expect(replies(checkOne(record({ maxFillKg }), { point: 'post_fill', netKg }))[0]!.decision).toBe(decision);
  });

  it('overfillToleranceKg is configurable', () => {
    expect(replies(checkOne(record(), { point: 'post_fill', netKg: 14.6 }, { overfillToleranceKg: 0 }))[0]!.decision).toBe('refuse');
    expect(replies(checkOne(record(), { point: 'post_fill', netKg: 14.5 }, { overfillToleranceKg: 0 }))[0]!.decision).toBe('allow');
  });

  it('post_fill is a gate: a registry problem blocks release too', () => {
    const effects = checkOne(record({ status: 'scrapped' }), { point: 'post_fill', netKg: 14.5 });
    expect(replies(effects)[0]).toMatchObject({ decision: 'refuse', reasons: ['scrapped'] });
    expect(brief(effects)).toEqual([['cylinder.refused', 'LPG-1|scrapped', 'major']]);
  });

  it('overfilled with another reason: critical, both in the condition', () => {
    const effects = checkOne(record(), { point: 'post_fill', netKg: 16, stationId: 'ST-9' });
    expect(brief(effects)).toEqual([['cylinder.refused', 'LPG-1|not_owner+overfilled', 'critical']]);
  });
});

describe('cylinder.scan_check: a reply for every scan point', () => {
  const gates: ScanPoint[] = ['pre_fill', 'fill', 'post_fill', 'outbound'];
  it.each(scanPoints.map((p) => [p] as const))('%s: one reply with the scan msgId, device and code', (point) => {
    const r = scan({ point, netKg: point === 'post_fill' ? 14 : undefined, deviceId: 'scanner-9', msgId: 'scan-77', code: 'LPG-1' });
    const effects = run(scanCheck, [reading(r, T + 40)], { registry: [record()] }).effects[0]!;
    expect(replies(effects)).toEqual([{
      type: 'scanReply', deviceId: 'scanner-9', msgId: 'scan-77', cylinderCode: 'LPG-1', decision: 'allow', reasons: [], at: T + 40,
    }]);
    expect(raises(effects)).toEqual([]);
  });

  it.each(scanPoints.map((p) => [p, gates.includes(p)] as const))('%s with registry problems: refused = %s, problems listed either way', (point, gate) => {
    const rec = record({ nextInspection: date('2026-01-01') });
    const effects = checkOne(rec, { point, netKg: point === 'post_fill' ? 14 : undefined, stationId: 'ST-9' });
    expect(replies(effects)).toHaveLength(1);
    expect(replies(effects)[0]).toMatchObject({ decision: gate ? 'refuse' : 'allow', reasons: ['inspection_overdue', 'not_owner'] });
    // a refusal at a gate, a flag elsewhere: a problem raises an alert at every point
    expect(brief(effects)).toEqual([[gate ? 'cylinder.refused' : 'cylinder.flagged', 'LPG-1|inspection_overdue+not_owner', 'major']]);
  });

  it.each(scanPoints.map((p) => [p] as const))('%s with an unregistered code', (point) => {
    const effects = checkOne(undefined, { point, netKg: point === 'post_fill' ? 14 : undefined });
    expect(replies(effects)[0]).toMatchObject({ decision: gates.includes(point) ? 'refuse' : 'allow', reasons: ['unregistered'] });
  });

  it('gatePoints is configurable (delivery as a gate, outbound not)', () => {
    const config: Partial<ScanCheckConfig> = { gatePoints: ['pre_fill', 'fill', 'delivery'] };
    const delivery = checkOne(record({ status: 'scrapped' }), { point: 'delivery' }, config);
    expect(replies(delivery)[0]!.decision).toBe('refuse');
    expect(brief(delivery)).toEqual([['cylinder.refused', 'LPG-1|scrapped', 'major']]);
    const outbound = checkOne(record({ status: 'scrapped' }), { point: 'outbound' }, config);
    expect(replies(outbound)[0]!.decision).toBe('allow');
    expect(brief(outbound)).toEqual([['cylinder.flagged', 'LPG-1|scrapped', 'major']]);
  });

  it('every reply validates against the protocol reply schema (reason codes included)', () => {
    const recs = [undefined, record(), record({ status: 'lost', mfgDate: date('2010-01-01'), nextInspection: date('2020-01-01') }), record({ nextInspection: date('2026-12-01') })];
    const seen = new Set<string>();
    for (const rec of recs) {
      for (const point of scanPoints) {
        for (const netKg of [14, 20]) {
          const reply = replies(checkOne(rec, { point, netKg, stationId: 'ST-9' }))[0]!;
          reply.reasons.forEach((r) => seen.add(r));
          const wire = { msgId: reply.msgId, cylinderCode: reply.cylinderCode, decision: reply.decision, reasons: reply.reasons, ts: new Date(reply.at).toISOString() };
          expect(cylinderScanReply.safeParse(wire).success).toBe(true);
        }
      }
    }
    // every registry/mass reason code is produced somewhere above
    expect([...seen].sort()).toEqual(['expired_life', 'inspection_due_soon', 'inspection_overdue', 'lost', 'not_owner', 'overfilled', 'scrapped', 'unregistered']);
    expect(scanReasons).toEqual(expect.arrayContaining([...seen]));
  });
});

describe('cylinder.scan_check: alerts', () => {
  it('a refusal raises cylinder.refused (major) with the reasons, evidence and a 1-day window', () => {
    const r = scan({ stationId: 'ST-9', deviceId: 'scanner-3' });
    const effects = run(scanCheck, [reading(r)], { registry: [record({ nextInspection: date('2026-01-01') })] }).effects[0]!;
    expect(raises(effects)).toEqual([expect.objectContaining({
      type: 'raise', rule: 'cylinder.refused', family: 'cylinder', deviceId: 'scanner-3', condition: 'LPG-1|inspection_overdue+not_owner',
      severity: 'major', windowMs: DAY, at: T, evidence: expect.objectContaining({ seqs: [r.seq] }),
      params: expect.objectContaining({ cylinderCode: 'LPG-1', stationId: 'ST-9', point: 'pre_fill', reasons: 'inspection_overdue,not_owner', nextInspection: '2026-01-01' }),
    })]);
  });

  it('unregistered: condition code|unregistered', () => {
    expect(brief(checkOne(undefined))).toEqual([['cylinder.refused', 'LPG-1|unregistered', 'major']]);
  });

  it.each([
    ['2026-11-23', 0], ['2026-12-23', 30],
  ])('inspection due %s raises cylinder.inspection_due (info, condition = code, window 1 day), %i days left', (next, days) => {
    const effects = checkOne(record({ nextInspection: date(next) }), { point: 'delivery' });
    expect(raises(effects)).toEqual([expect.objectContaining({
      rule: 'cylinder.inspection_due', condition: 'LPG-1', severity: 'info', windowMs: DAY, params: expect.objectContaining({ daysLeft: days, nextInspection: next }),
    })]);
  });

  it('a refusal and a due-soon inspection: both alerts, reply first', () => {
    const effects = checkOne(record({ nextInspection: date('2026-12-01') }), { stationId: 'ST-9' });
    expect(effects.map((e) => (e.type === 'raise' ? e.rule : e.type))).toEqual(['scanReply', 'cylinder.refused', 'cylinder.inspection_due']);
  });

  it('severities are configurable', () => {
    expect(brief(checkOne(record({ status: 'lost' }), {}, { refusedSeverity: 'critical' }))).toEqual([['cylinder.refused', 'LPG-1|lost', 'critical']]);
  });

  it('checkCylinder exposes the limit dates it used', () => {
    const c = checkCylinder(record({ mfgDate: date('2018-11-23') }), { stationId: 'ST-1', netKg: null }, T, scanCheckDefaults);
    expect([isoDate(c.scanDay), isoDate(c.lifeEnd!), isoDate(c.scrapDate!), c.limitKg]).toEqual(['2026-11-23', '2026-11-23', '2030-11-23', 15]);
  });
});

describe('cylinder.no_pre_fill (2 h before the fill, same cylinder and station)', () => {
  type Row = [name: string, raised: boolean, pre: ScanOpts | null, fill: ScanOpts];
  const rows: Row[] = [
    ['pre_fill 1 min before', false, { ts: T - MIN }, { point: 'fill' }],
    ['pre_fill 2 h - 1 ms before', false, { ts: T - 2 * HOUR + 1 }, { point: 'fill' }],
    ['pre_fill exactly 2 h before', false, { ts: T - 2 * HOUR }, { point: 'fill' }],
    ['pre_fill 2 h + 1 ms before', true, { ts: T - 2 * HOUR - 1 }, { point: 'fill' }],
    ['no pre_fill at all', true, null, { point: 'fill' }],
    ['pre_fill at another station', true, { ts: T - MIN, stationId: 'ST-2' }, { point: 'fill' }],
    ['pre_fill of another cylinder', true, { ts: T - MIN, code: 'LPG-2' }, { point: 'fill' }],
    ['pre_fill received first but its clock reads 30 s later (skew)', false, { ts: T + 30_000, rx: T - MIN }, { point: 'fill' }],
    ['a post_fill scan is not a fill', false, null, { point: 'post_fill', netKg: 14 }],
    ['an outbound scan is not a fill', false, null, { point: 'outbound' }],
  ];
  it.each(rows)('%s -> raised: %s', (_name, raised, pre, fill) => {
    const inputs = [...(pre ? [reading(scan({ point: 'pre_fill', ...pre }))] : []), reading(scan({ ...fill, rx: T }))];
    const { effects } = run(noPreFill, inputs);
    expect(brief(effects.at(-1)!)).toEqual(raised ? [['cylinder.no_pre_fill', 'LPG-1', 'major']] : []);
  });

  it('the alert carries the fill and the stale check as evidence', () => {
    const pre = scan({ point: 'pre_fill', ts: T - 3 * HOUR });
    const fill = scan({ point: 'fill', deviceId: 'scanner-2' });
    const { effects } = run(noPreFill, [reading(pre), reading(fill)]);
    expect(raises(effects[1]!)).toEqual([expect.objectContaining({
      deviceId: 'scanner-2', windowMs: DAY, at: T, evidence: expect.objectContaining({ seqs: [pre.seq, fill.seq] }),
      params: expect.objectContaining({ stationId: 'ST-1', lastPreFillAt: T - 3 * HOUR, windowMs: 2 * HOUR }),
    })]);
  });

  it('windowMs is configurable', () => {
    const { effects } = run(noPreFill, [reading(scan({ point: 'pre_fill', ts: T - 31 * MIN })), reading(scan({ point: 'fill' }))], { config: { windowMs: 30 * MIN } });
    expect(raises(effects[1]!)).toHaveLength(1);
  });

  it('a late-uploaded older pre_fill does not replace a newer one', () => {
    const { effects } = run(noPreFill, [
      reading(scan({ point: 'pre_fill', ts: T - MIN })),
      reading(scan({ point: 'pre_fill', ts: T - 5 * HOUR, rx: T })),
      reading(scan({ point: 'fill', ts: T, rx: T + 1 })),
    ]);
    expect(raises(effects[2]!)).toEqual([]);
  });

  it('state is bounded: a tick after the retention empties it; maxTracked caps it', () => {
    const inputs = ['A', 'B', 'C'].map((c, i) => reading(scan({ point: 'pre_fill', code: c, ts: T + i, rx: T + i })));
    const swept = run(noPreFill, [...inputs, tick(T + 3 * HOUR + 3)]).state;
    expect(mapEntries(swept.checks)).toEqual([]);
    const capped = run(noPreFill, [...inputs, tick(T + 2 * MIN)], { config: { maxTracked: 2 } }).state;
    expect(mapEntries(capped.checks).map(([k]) => k).sort()).toEqual(['["B","ST-1"]', '["C","ST-1"]']);
  });
});

describe('cylinder.cloned_code (two stations within 1 h)', () => {
  type Row = [name: string, raised: boolean, a: ScanOpts, b: ScanOpts];
  const rows: Row[] = [
    ['two stations 10 min apart', true, { stationId: 'ST-1', ts: T }, { stationId: 'ST-5', ts: T + 10 * MIN }],
    ['1 h - 1 ms apart', true, { stationId: 'ST-1', ts: T }, { stationId: 'ST-5', ts: T + HOUR - 1 }],
    ['exactly 1 h apart', true, { stationId: 'ST-1', ts: T }, { stationId: 'ST-5', ts: T + HOUR }],
    ['1 h + 1 ms apart', false, { stationId: 'ST-1', ts: T }, { stationId: 'ST-5', ts: T + HOUR + 1 }],
    ['same station twice', false, { stationId: 'ST-1', ts: T }, { stationId: 'ST-1', ts: T + MIN }],
    ['two stations, different codes', false, { stationId: 'ST-1', ts: T }, { stationId: 'ST-5', code: 'LPG-2', ts: T + MIN }],
    ['arriving in reverse order (the later scan first)', true, { stationId: 'ST-5', ts: T + 30 * MIN }, { stationId: 'ST-1', ts: T, rx: T + 31 * MIN }],
    ['a handheld upload 90 min late, scanned 30 min after', true, { stationId: 'ST-1', ts: T }, { stationId: 'ST-5', point: 'delivery', ts: T + 30 * MIN, rx: T + 90 * MIN }],
  ];
  it.each(rows)('%s -> raised: %s', (_name, raised, a, b) => {
    const { effects } = run(clonedCode, [reading(scan(a)), reading(scan(b))]);
    expect(effects[0]).toEqual([]);
    expect(brief(effects[1]!)).toEqual(raised ? [['cylinder.cloned_code', b.code ?? 'LPG-1', 'critical']] : []);
  });

  it('evidence: both stations and both scan seqs, in time order', () => {
    const a = scan({ stationId: 'ST-1', ts: T, deviceId: 'scanner-1' });
    const b = scan({ stationId: 'ST-5', ts: T + 20 * MIN, deviceId: 'scanner-5', point: 'fill' });
    const { effects } = run(clonedCode, [reading(a), reading(b)]);
    expect(raises(effects[1]!)[0]).toMatchObject({
      deviceId: 'scanner-5', condition: 'LPG-1', windowMs: DAY, at: T + 20 * MIN,
      evidence: { seqs: [a.seq, b.seq], values: { stationA: 'ST-1', seqA: a.seq, stationB: 'ST-5', seqB: b.seq, gapMinutes: 20 } },
      params: { stationA: 'ST-1', stationB: 'ST-5', deviceA: 'scanner-1', deviceB: 'scanner-5', pointB: 'fill', gapMs: 20 * MIN, otherStations: 'ST-1' },
    });
  });

  it('several other stations: the nearest is the evidence, all are listed', () => {
    const { effects } = run(clonedCode, [
      reading(scan({ stationId: 'ST-1', ts: T })), reading(scan({ stationId: 'ST-2', ts: T + 40 * MIN })), reading(scan({ stationId: 'ST-3', ts: T + 50 * MIN })),
    ]);
    expect(raises(effects[2]!)[0]!.params).toMatchObject({ stationA: 'ST-2', stationB: 'ST-3', otherStations: 'ST-1,ST-2' });
  });

  it('state is bounded: retention, per-code cap, tick sweep', () => {
    const many = Array.from({ length: 20 }, (_, i) => reading(scan({ stationId: 'ST-1', ts: T + i, rx: T + i })));
    const { state } = run(clonedCode, many);
    expect(mapEntries(state.codes)[0]![1]).toHaveLength(16);
    const swept = run(clonedCode, [tick(T + 2 * HOUR + 20)], { state }).state;
    expect(mapEntries(swept.codes)).toEqual([]);
    // a scan older than the retention (by receive time) is forgotten even without a tick
    const { effects } = run(clonedCode, [reading(scan({ stationId: 'ST-1', ts: T, rx: T })), reading(scan({ stationId: 'ST-5', ts: T + 1, rx: T + 2 * HOUR + 1 }))]);
    expect(effects[1]).toEqual([]);
  });
});

describe('cylinder state across restarts (JSON round trip) and purity', () => {
  const registry = [record(), record({ code: 'LPG-2', status: 'scrapped' })];
  const day = (h: number): number => T + h * HOUR;
  const inputs: RuleInput[] = [
    reading(scan({ point: 'pre_fill', ts: day(0) })),
    reading(scan({ point: 'fill', ts: day(1) })),
    reading(scan({ point: 'fill', code: 'LPG-2', ts: day(1.5) })),
    tick(day(1.6)),
    reading(scan({ point: 'post_fill', netKg: 15.5, ts: day(1.7) })),
    reading(scan({ point: 'delivery', stationId: 'ST-2', ts: day(1.9) })),
    reading(scan({ point: 'fill', ts: day(3.5) })),
    tick(day(6)),
    reading(scan({ point: 'recovery', stationId: 'ST-9', ts: day(6.5) })),
    reading(scan({ point: 'pre_fill', stationId: 'ST-1', ts: day(7) })),
  ];

  it.each(cylinderRules.map((r) => [r.id, r] as const))('%s: same effects with the state stored and reloaded before every input', (_id, rule) => {
    const plain = run(rule, inputs, { registry });
    const reloaded = run(rule, inputs, { registry, roundTrip: true });
    expect(reloaded.effects).toEqual(plain.effects);
    expect(JSON.parse(JSON.stringify(reloaded.state))).toEqual(JSON.parse(JSON.stringify(plain.state)));
    expect(plain.effects.flat().length).toBeGreaterThan(0);
  });

  it('rule ids, families and channels', () => {
    expect(cylinderRules.map((r) => [r.id, r.family, [...r.channels]])).toEqual([
      ['cylinder.scan_check', 'cylinder', ['scan']], ['cylinder.no_pre_fill', 'cylinder', ['scan']], ['cylinder.cloned_code', 'cylinder', ['scan']],
    ]);
  });

  it('a code named __proto__ is an ordinary key', () => {
    const { effects } = run(clonedCode, [reading(scan({ code: '__proto__', stationId: 'ST-1' })), reading(scan({ code: '__proto__', stationId: 'ST-5', ts: T + 1 }))], { roundTrip: true });
    expect(brief(effects[1]!)).toEqual([['cylinder.cloned_code', '__proto__', 'critical']]);
  });
});
