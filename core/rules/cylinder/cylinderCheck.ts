/**
 * The check behind every cylinder scan (一瓶一码一档, docs/domain.md §3): the reasons a record
 * gives against a scan, and the decision at the scan's point. Pure; `cylinder.scan_check`
 * (scanCheck.ts) answers and alerts with it, and the trace (trace.ts) derives each stored
 * scan's decision with it the same way.
 *
 * Reasons, in this order:
 * - `unregistered`: no record for the code [reg, TSG 23-2021: only registered cylinders are filled].
 * - `scrapped`: status `scrapped`, or the scan day is after mfgDate + maxServiceYears
 *   [reg, GB 5842-2006 as summarised: at most 12 years in use].
 * - `lost`: status `lost` (the owner reported it missing) [default: its own reason, so a lost
 *   cylinder that turns up is reported as found, not as scrapped].
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
 * Decision: at a gate point (pre_fill, fill, post_fill, outbound by default) any reason but
 * inspection_due_soon refuses, and `cylinder.refused` is raised. At the other points
 * (delivery, recovery) the scan is allowed and the reasons are listed, and a problem raises
 * `cylinder.flagged`: the cylinder is with a delivery worker or a customer, refusing it
 * there would leave it where it is, but the bureau must know it is in circulation.
 */
import { scanReasons, type ScanPoint } from '../../schemas/index.js';
import { addYears, daysBetween, localDate } from '../../cylinders/calendar.js';
import type { CylinderRecord, ScanDecision, Severity } from '../../alerts/types.js';
import { DAY } from '../common/util.js';

/** A reason of the protocol's reply (core/schemas/cylinder.ts `scanReasons`). */
export type ScanReason = (typeof scanReasons)[number];

/** Every reason the check gives, in the order it lists them: the protocol's, and `lost` (see wireReasons). */
export const checkReasons = [
  'unregistered', 'scrapped', 'lost', 'expired_life', 'inspection_overdue', 'not_owner', 'overfilled', 'inspection_due_soon',
] as const satisfies ReadonlyArray<ScanReason | 'lost'>;

export type CheckReason = (typeof checkReasons)[number];

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
  /** points where a problem refuses the scan [default]; at the others it raises cylinder.flagged */
  gatePoints: ScanPoint[];
  /** severity of cylinder.refused and cylinder.flagged */
  refusedSeverity: Severity;
  /** ... when overfilled is a reason */
  overfilledSeverity: Severity;
  /** a repeat of the same cylinder for the same reasons within this updates the open cylinder.refused / cylinder.flagged */
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
  // outbound: the station's exit, the last scan under its control before a customer [default]
  gatePoints: ['pre_fill', 'fill', 'post_fill', 'outbound'],
  refusedSeverity: 'major',
  overfilledSeverity: 'critical',
  refusedWindowMs: DAY,
  inspectionDueSeverity: 'info',
  inspectionDueWindowMs: DAY,
};

/** Record facts a check looked at, for replies, alert params and tests. */
export interface CylinderCheck {
  reasons: CheckReason[];
  scanDay: number;
  /** null when unregistered */
  nextInspection: number | null;
  lifeEnd: number | null;
  scrapDate: number | null;
  limitKg: number | null;
}

const grams = (kg: number): number => Math.round(kg * 1000);

/** Canonical order of reasons: `checkReasons`. */
export function sortReasons(reasons: Iterable<CheckReason>): CheckReason[] {
  const set = new Set(reasons);
  return checkReasons.filter((r) => set.has(r));
}

/**
 * The reasons as the reply carries them: the protocol's reason list (core/schemas/cylinder.ts)
 * is what devices and simulators validate a reply against. A reason it does not list yet is
 * sent as the protocol reason that covered it before (`lost` as `scrapped`: a record out of
 * service); once the protocol lists it, it is sent as itself. Alerts and the trace always
 * name the check's own reasons.
 */
export function wireReasons(reasons: readonly CheckReason[]): ScanReason[] {
  const known = scanReasons as readonly string[];
  const out = new Set<ScanReason>();
  for (const r of reasons) {
    if (known.includes(r)) out.add(r as ScanReason);
    else if (r === 'lost') out.add('scrapped');
  }
  return scanReasons.filter((r) => out.has(r));
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
  const reasons = new Set<CheckReason>();

  const scrapDate = addYears(record.mfgDate, cfg.maxServiceYears);
  if (record.status === 'scrapped' || scanDay > scrapDate) reasons.add('scrapped');
  if (record.status === 'lost') reasons.add('lost');
  // a status this build does not know is out of service: refused as scrapped, never allowed
  if (record.status !== 'in_service' && record.status !== 'lost') reasons.add('scrapped');

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
export const informationalReasons: readonly CheckReason[] = ['inspection_due_soon'];

/** The alert a problem scan raises: a refusal at a gate, a flag elsewhere. */
export type ProblemAlert = 'cylinder.refused' | 'cylinder.flagged';

export interface ScanDecisionOf {
  decision: ScanDecision;
  /** every reason that applies (check order) */
  reasons: CheckReason[];
  /** the reasons that make it a problem: all but the informational ones */
  blocking: CheckReason[];
  /** whether the point is a gate (configurable: gatePoints) */
  gate: boolean;
  /** the alert it raises besides cylinder.inspection_due, or null */
  alert: ProblemAlert | null;
  check: CylinderCheck;
}

/** The decision for one scan at `point`, received at `receivedAt`, against `record`. */
export function decideScan(
  record: CylinderRecord | undefined,
  scan: { stationId: string; point: ScanPoint; netKg: number | null },
  receivedAt: number,
  cfg: ScanCheckConfig,
): ScanDecisionOf {
  const check = checkCylinder(record, scan, receivedAt, cfg);
  const blocking = check.reasons.filter((r) => !informationalReasons.includes(r));
  const gate = cfg.gatePoints.includes(scan.point);
  const problem = blocking.length > 0;
  return {
    decision: gate && problem ? 'refuse' : 'allow',
    reasons: check.reasons,
    blocking,
    gate,
    alert: problem ? (gate ? 'cylinder.refused' : 'cylinder.flagged') : null,
    check,
  };
}
