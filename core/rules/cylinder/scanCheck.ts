/**
 * `cylinder.scan_check`: the allow/refuse answer to every cylinder scan (docs/protocol.md
 * cylinder/scan/reply), from the cylinder's record (一瓶一码一档, docs/domain.md §3).
 *
 * Exactly one `scanReply` per scan. Reasons, in the order of `scanReasons`:
 * - `unregistered`: no record for the code [reg, TSG 23-2021: only registered cylinders are filled].
 * - `scrapped`: status `scrapped` or `lost`, or the scan day is after mfgDate + maxServiceYears
 *   [reg, GB 5842-2006 as summarised: at most 12 years in use].
 * - `expired_life`: the scan day is after mfgDate + designLifeYears [reg, TSG 23-2021: no
 *   filling past the design service life; GB 5842-2006: 8 years].
 * - `inspection_overdue`: nextInspection is before the scan day [reg, TSG 23-2021].
 * - `not_owner`: the scanning station is neither the owner nor entrusted [reg, TSG 23-2021:
 *   a station fills only its own or entrusted cylinders].
 * - `overfilled`: netKg > maxFillKg + overfillToleranceKg [reg, docs/domain.md §3: YSP15 14.5 +/- 0.5 kg].
 * - `inspection_due_soon`: next inspection within dueSoonDays, informational [default].
 *
 * Date edges: a limit date is the last day allowed, like an inspection due date: on the
 * 8th (12th) anniversary of manufacture the cylinder is still allowed, the next day it is
 * not; on its nextInspection day it is allowed (and due soon), the next day it is overdue.
 * "The scan day" is the China local date (utcOffsetMinutes) of the platform receive time:
 * the answer is a live gate, so a scanner whose clock is set back cannot make an expired
 * cylinder look valid.
 *
 * Decision: at the gate points (pre_fill, fill, post_fill) any reason but
 * inspection_due_soon refuses. post_fill is the release gate: besides `overfilled`, a
 * cylinder that must not be filled must not leave the station either. At the other points
 * (outbound, delivery, recovery) the scan is always allowed and the problems are listed as
 * reasons, so the handheld can warn the delivery worker; nothing is blocked there because
 * nothing is being filled (configurable: gatePoints).
 *
 * Alerts: every refusal raises `cylinder.refused` (condition `code|reason+reason`, the
 * blocking reasons; major [default], critical when overfilled [default]: an overfilled LPG
 * cylinder lacks the vapour space the liquid needs to expand as it warms, and can rupture
 * at a customer's home, the worst outcome this domain has).
 * A due-soon inspection raises `cylinder.inspection_due` (info, condition = code).
 * Neither resolves by itself: a refusal is an event the operator closes.
 */
import { scanPoints, scanReasons, type ScanPoint } from '../../schemas/index.js';
import { addYears, daysBetween, isoDate, localDate } from '../../cylinders/calendar.js';
import type { CylinderRecord, Effect, RaiseAlert, Rule, ScanReply, Severity } from '../../alerts/types.js';
import { DAY, noEffects, num, str } from '../common/util.js';

export type ScanReason = (typeof scanReasons)[number];

export interface ScanCheckConfig {
  /** offset of the local calendar used for "the scan day" and record dates: China, UTC+8 [default] */
  utcOffsetMinutes: number;
  /** [reg, GB 5842-2006] at most 12 years in use, whatever the design life */
  maxServiceYears: number;
  /**
   * [reg, as summarised by city bureaus for GB 5842-2006 cylinders] a cylinder past its design
   * life that passed a periodic inspection on or after that date may be used up to
   * maxServiceYears. false [default]: past design life is always `expired_life`, as the
   * platform brief states; true: such an inspection lifts `expired_life`.
   */
  lifeExtensionByInspection: boolean;
  /** used only when a record has no nextInspection: (lastInspection or mfgDate) + this [practice: LPG cylinders every 4 years] */
  inspectionIntervalYears: number;
  /** inspection due within this many days (0 = due today) is `inspection_due_soon` [default, docs/domain.md §3] */
  dueSoonDays: number;
  /** netKg above maxFillKg + this is `overfilled` [reg, docs/domain.md §3: YSP15 14.5 +/- 0.5 kg] */
  overfillToleranceKg: number;
  /** points where a problem refuses the scan [default] */
  gatePoints: ScanPoint[];
  refusedSeverity: Severity;
  overfilledSeverity: Severity;
  /** a repeat refusal of the same cylinder for the same reasons within this updates the open alert */
  refusedWindowMs: number;
  inspectionDueSeverity: Severity;
  inspectionDueWindowMs: number;
}

export const scanCheckDefaults: ScanCheckConfig = {
  utcOffsetMinutes: 480,
  maxServiceYears: 12,
  lifeExtensionByInspection: false,
  inspectionIntervalYears: 4,
  dueSoonDays: 30,
  overfillToleranceKg: 0.5,
  gatePoints: ['pre_fill', 'fill', 'post_fill'],
  refusedSeverity: 'major',
  overfilledSeverity: 'critical',
  refusedWindowMs: DAY,
  inspectionDueSeverity: 'info',
  inspectionDueWindowMs: DAY,
};

export type ScanCheckState = Record<string, never>;

/** Record facts a check looked at, for replies, alert params and tests. */
export interface CylinderCheck {
  reasons: ScanReason[];
  scanDay: number;
  /** null when unregistered */
  nextInspection: number | null;
  lifeEnd: number | null;
  scrapDate: number | null;
  limitKg: number | null;
}

const grams = (kg: number): number => Math.round(kg * 1000);

/** Canonical order of reasons: the order of `scanReasons` (docs/protocol.md). */
export function sortReasons(reasons: Iterable<ScanReason>): ScanReason[] {
  const set = new Set(reasons);
  return scanReasons.filter((r) => set.has(r));
}

/**
 * The registry and mass checks for one scan. `scanAt` is an instant (epoch ms); record dates
 * are UTC midnights of China local dates (core/cylinders/calendar.ts).
 */
export function checkCylinder(
  record: CylinderRecord | undefined,
  scan: { stationId: string; netKg: number | null },
  scanAt: number,
  cfg: ScanCheckConfig,
): CylinderCheck {
  const scanDay = localDate(scanAt, cfg.utcOffsetMinutes);
  if (!record) return { reasons: ['unregistered'], scanDay, nextInspection: null, lifeEnd: null, scrapDate: null, limitKg: null };
  const reasons = new Set<ScanReason>();

  const scrapDate = addYears(record.mfgDate, cfg.maxServiceYears);
  if (record.status !== 'in_service' || scanDay > scrapDate) reasons.add('scrapped');

  const lifeEnd = addYears(record.mfgDate, record.designLifeYears);
  const extended = cfg.lifeExtensionByInspection && record.lastInspection !== null && record.lastInspection >= lifeEnd;
  if (scanDay > lifeEnd && !extended) reasons.add('expired_life');

  const nextInspection = record.nextInspection ?? addYears(record.lastInspection ?? record.mfgDate, cfg.inspectionIntervalYears);
  if (nextInspection < scanDay) reasons.add('inspection_overdue');
  else if (daysBetween(scanDay, nextInspection) <= cfg.dueSoonDays) reasons.add('inspection_due_soon');

  if (scan.stationId !== record.ownerStationId && !record.entrustedStationIds.includes(scan.stationId)) reasons.add('not_owner');

  const limitKg = (grams(record.maxFillKg) + grams(cfg.overfillToleranceKg)) / 1000;
  // compared in whole grams: 15.0 is at the YSP15 limit, 15.001 is over, whatever the float error
  if (scan.netKg !== null && grams(scan.netKg) > grams(record.maxFillKg) + grams(cfg.overfillToleranceKg)) reasons.add('overfilled');

  return { reasons: sortReasons(reasons), scanDay, nextInspection, lifeEnd, scrapDate, limitKg };
}

/** Reasons that refuse a scan at a gate point: all but the informational ones. */
export const informationalReasons: readonly ScanReason[] = ['inspection_due_soon'];

export const scanCheck: Rule<ScanCheckState, ScanCheckConfig> = {
  id: 'cylinder.scan_check',
  family: 'cylinder',
  channels: ['scan'],
  defaults: scanCheckDefaults,
  init: () => ({}),

  onReading(state, reading, ctx, now) {
    const d = reading.data;
    const code = str(d, 'cylinderCode');
    const stationId = str(d, 'stationId');
    const point = str(d, 'point') as ScanPoint | null;
    if (code === null || stationId === null || point === null || !scanPoints.includes(point)) return noEffects(state);
    const cfg = ctx.config;
    const netKg = num(d, 'netKg');
    const operatorId = str(d, 'operatorId');
    const record = ctx.cylinder(code);
    const check = checkCylinder(record, { stationId, netKg }, reading.receivedAt, cfg);
    const blocking = check.reasons.filter((r) => !informationalReasons.includes(r));
    const refuse = cfg.gatePoints.includes(point) && blocking.length > 0;

    const reply: ScanReply = {
      type: 'scanReply',
      deviceId: reading.deviceId,
      msgId: reading.msgId,
      cylinderCode: code,
      decision: refuse ? 'refuse' : 'allow',
      reasons: check.reasons,
      at: now,
    };
    const effects: Effect[] = [reply];

    const params = {
      cylinderCode: code,
      stationId,
      point,
      operatorId,
      model: record?.model ?? null,
      ownerStationId: record?.ownerStationId ?? null,
      status: record?.status ?? null,
      netKg,
      limitKg: check.limitKg,
      scanDay: isoDate(check.scanDay),
      nextInspection: check.nextInspection === null ? null : isoDate(check.nextInspection),
      lifeEnd: check.lifeEnd === null ? null : isoDate(check.lifeEnd),
      scrapDate: check.scrapDate === null ? null : isoDate(check.scrapDate),
    };

    if (refuse) {
      const overfilled = blocking.includes('overfilled');
      const refused: RaiseAlert = {
        type: 'raise',
        rule: 'cylinder.refused',
        family: 'cylinder',
        deviceId: reading.deviceId,
        condition: `${code}|${blocking.join('+')}`,
        severity: overfilled ? cfg.overfilledSeverity : cfg.refusedSeverity,
        windowMs: cfg.refusedWindowMs,
        summary: `cylinder ${code} refused at ${point}, station ${stationId}: ${blocking.join(', ')}`,
        params: { ...params, reasons: blocking.join(',') },
        evidence: { seqs: [reading.seq], values: { ...params, reasons: blocking.join(',') } },
        at: reading.receivedAt,
      };
      effects.push(refused);
    }

    if (check.reasons.includes('inspection_due_soon') && check.nextInspection !== null) {
      const days = daysBetween(check.scanDay, check.nextInspection);
      effects.push({
        type: 'raise',
        rule: 'cylinder.inspection_due',
        family: 'cylinder',
        deviceId: reading.deviceId,
        condition: code,
        severity: cfg.inspectionDueSeverity,
        windowMs: cfg.inspectionDueWindowMs,
        summary: `cylinder ${code} periodic inspection due ${params.nextInspection} (in ${days} days)`,
        params: { ...params, daysLeft: days },
        evidence: { seqs: [reading.seq], values: { nextInspection: params.nextInspection, daysLeft: days } },
        at: reading.receivedAt,
      });
    }
    return { state, effects };
  },
};
