/**
 * `cylinder.scan_check`: the allow/refuse answer to every cylinder scan (docs/protocol.md
 * cylinder/scan/reply), from the cylinder's record (一瓶一码一档, docs/domain.md §3), and the
 * alerts of a problem cylinder at every scan point. The check itself (reasons, date edges,
 * gate points) is cylinderCheck.ts.
 *
 * Exactly one `scanReply` per scan; its reasons are the protocol's (wireReasons: `lost` goes
 * out as `scrapped` until the protocol lists it).
 *
 * Alerts, each naming its reasons in the condition (`code|reason+reason`, the problem reasons
 * in check order) and in params.reasons:
 * - `cylinder.refused`: a problem at a gate point (pre_fill, fill, post_fill, outbound by
 *   default): the scan is refused. post_fill is the release gate: besides `overfilled`, a
 *   cylinder that must not be filled must not leave the filling hall; outbound is the
 *   station's exit, the last scan before a customer [default].
 * - `cylinder.flagged`: a problem at any other point (delivery, recovery): the scan is allowed,
 *   the handheld is warned through the reasons, and the bureau learns that an expired, lost or
 *   unregistered cylinder is in circulation [default] — delivered to or recovered from a
 *   customer, which until then happened silently.
 * Both are major [default], critical when overfilled [default: an overfilled LPG cylinder
 * lacks the vapour space the liquid needs to expand as it warms, and can rupture at a
 * customer's home, the worst outcome this domain has], and share the refusal's thresholds.
 * A due-soon inspection raises `cylinder.inspection_due` (info, condition = code).
 * None resolves by itself: each is an event the operator closes.
 */
import { scanPoints, type ScanPoint } from '../../schemas/index.js';
import { daysBetween, isoDate } from '../../cylinders/calendar.js';
import type { Effect, RaiseAlert, Rule, ScanReply } from '../../alerts/types.js';
import { noEffects, num, str } from '../common/util.js';
import { decideScan, scanCheckDefaults, wireReasons, type ScanCheckConfig } from './cylinderCheck.js';

export {
  checkCylinder, checkReasons, decideScan, informationalReasons, scanCheckDefaults, sortReasons, wireReasons,
  type CheckReason, type CylinderCheck, type ProblemAlert, type ScanCheckConfig, type ScanDecisionOf, type ScanReason,
} from './cylinderCheck.js';

export type ScanCheckState = Record<string, never>;

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
    const decided = decideScan(record, { stationId, point, netKg }, reading.receivedAt, cfg);
    const { check, blocking } = decided;

    const reply: ScanReply = {
      type: 'scanReply',
      deviceId: reading.deviceId,
      msgId: reading.msgId,
      cylinderCode: code,
      decision: decided.decision,
      reasons: wireReasons(check.reasons),
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

    if (decided.alert) {
      const overfilled = blocking.includes('overfilled');
      const why = blocking.join(', ');
      const alert: RaiseAlert = {
        type: 'raise',
        rule: decided.alert,
        family: 'cylinder',
        deviceId: reading.deviceId,
        condition: `${code}|${blocking.join('+')}`,
        severity: overfilled ? cfg.overfilledSeverity : cfg.refusedSeverity,
        windowMs: cfg.refusedWindowMs,
        summary: decided.gate
          ? `cylinder ${code} refused at ${point}, station ${stationId}: ${why}`
          : `cylinder ${code} scanned at ${point}, station ${stationId}, operator ${operatorId ?? '?'} (allowed, not a gate): ${why}`,
        params: { ...params, reasons: blocking.join(','), decision: decided.decision },
        evidence: { seqs: [reading.seq], values: { ...params, reasons: blocking.join(',') } },
        at: reading.receivedAt,
      };
      effects.push(alert);
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
