/**
 * What every rule threshold means, in one place: per rule id, each key of the rule's
 * `defaults` with its unit, its allowed range and a zod schema refusing anything else, and the
 * rules between keys of one rule (a warning before its limit). `ALERT_OVERRIDES` is checked
 * against these (core/alerts/policy.ts) before the service starts; docs/configuration.md lists
 * them (`ruleConfigReference` writes that section; a test keeps it in sync).
 *
 * Units are in the key names (`…Ms`, `…S`, `…Minutes`, `…Days`, `…Years`, `…Kg`, `…L`,
 * `…LitresPerSecond`, `…Pct`, `…Fen`); a key without one is a count, a fraction, a class, a
 * severity, a list or a switch, which its `about` says. Timers that run on the engine's clock
 * (`tick`) must also be at least ALERT_TICK_MS: a shorter one is only checked at the next tick,
 * so it fires late (and `atFloorMs: 90` was meant as seconds).
 *
 * A new key in a rule's defaults without an entry here fails test/core/configSchemas.test.ts,
 * so no threshold goes unvalidated.
 */
import { serviceModes } from '../schemas/elevator.js';
import { scanPoints } from '../schemas/cylinder.js';
import { violationTypes } from '../schemas/kitchen.js';
import { DAY, HOUR, SECOND } from './common/util.js';
import { elevatorCodes } from './elevator/codes.js';

import { YEAR, alertWindow, numberSchema, boolean, confidence, key, listOf, mapOf, millis, notAfter, num, oneOf, quantity, rule, severity, specTable, whole, type ConfigKey, type RuleConfigSchema } from './configSpec.js';

export * from './configSpec.js';

// ---------------------------------------------------------------- shared keys

const trapTimer = (where: string): ConfigKey => millis(1, HOUR, { tick: true, about: `trapped-passenger timer ${where}` });
const trappedDetector = {
  atFloorMs: trapTimer('when stopped at a floor (in the door zone) with a passenger and the door closed'),
  outsideDoorZoneMs: trapTimer('when stopped outside a door zone (between floors) with a passenger'),
  ignoreModes: listOf(serviceModes.filter((m) => m !== 'normal'), 0,
    'service modes in which the status timer does not run (normal cannot be ignored: the timer would never run)'),
};
const trappedCross = [notAfter('outsideDoorZoneMs', 'atFloorMs', {
  strict: false, why: 'stopped between floors nobody can get out, so that is never waited for longer than a stop at a floor',
})];

const riskClassList = [1, 2, 3] as const;
const riskClass = oneOf(riskClassList, 'class', 'risk class (1 warns at once, 2 needs rectification, 3 is scored)');
const riskClasses = mapOf({ list: violationTypes, what: 'violation type' }, riskClass,
  'risk class per detection type; a type left out keeps the regulation\'s class');

const offline = rule({
  silenceMs: millis(1, 30 * DAY, { tick: true, optional: true, about: 'no message on any channel for this long raises' }),
  heartbeatIntervalS: whole('s', 1, DAY / SECOND, 'the devices\' heartbeat period (the silence is heartbeatIntervalS × missedHeartbeats)', {
    optional: true, tickMs: (v) => v * SECOND,
  }),
  missedHeartbeats: whole('count', 1, 100, 'heartbeats missed in a row before raising', { optional: true }),
  graceMs: millis(1, DAY, { tick: true, about: 'a closed connection not reopened within this raises' }),
  severity: severity(),
}, [{
  keys: ['silenceMs', 'heartbeatIntervalS', 'missedHeartbeats'],
  text: 'the silence threshold is silenceMs, or heartbeatIntervalS × missedHeartbeats: one of them is in the rule\'s defaults',
  check: (v) => (typeof v.silenceMs === 'number' || (typeof v.heartbeatIntervalS === 'number' && typeof v.missedHeartbeats === 'number')
    ? null : 'must be set, or heartbeatIntervalS and missedHeartbeats both'),
}]);

const fenPerYuan = 100;
const codeList = Object.values(elevatorCodes).filter((c) => c.severity !== null).map((c) => String(c.code));

// ---------------------------------------------------------------- per rule

/** The configuration of every rule, by rule id (core/rules/index.ts `allRules`). */
export const ruleConfigSchemas: Readonly<Record<string, RuleConfigSchema>> = {
  'kitchen.violation': rule({
    minConfidence: confidence('detections below this confidence raise nothing'),
    cooldownMs: alertWindow('a repeat of the same camera and type within this updates the open alert'),
    riskClasses,
    severityByClass: mapOf({ list: riskClassList.map(String), what: 'risk class' }, severity(),
      'alert severity per risk class; a class left out keeps its default'),
    maxAlertClass: oneOf(riskClassList, 'class', 'classes up to this one raise an alert; those above only count in the store score (kitchen.store_score); 3: every class raises one'),
  }),

  'kitchen.repeat_offender': rule({
    threshold: whole('count', 1, 1000, 'counted alerts within windowMs that flag the store'),
    windowMs: millis(1, YEAR, { about: 'the counting window' }),
    maxCountedClass: oneOf(riskClassList, 'class', 'classes up to this one count (2: classes 1 and 2)'),
    minConfidence: confidence('must equal kitchen.violation\'s (set both): detections below it raised no alert and do not count'),
    cooldownMs: alertWindow('must equal kitchen.violation\'s (set both): a repeat within it is the same alert, counted once'),
    riskClasses: { ...riskClasses, about: 'must equal kitchen.violation\'s (set both); a type left out keeps the regulation\'s class' },
    severity: severity(),
  }),

  'kitchen.store_score': rule({
    periodDays: whole('days', 1, 31, 'whole China-time days the score counts, today included'),
    weights: mapOf({ list: violationTypes, what: 'detection type' }, quantity('points', { min: 0, max: 100 }, 'points one counted detection takes off'),
      'points per counted detection of each type; a type left out keeps its default (1)'),
    maxAlertClass: oneOf(riskClassList, 'class', 'must equal kitchen.violation\'s (set both): classes above it are scored'),
    minConfidence: confidence('must equal kitchen.violation\'s (set both): detections below it do not count'),
    cooldownMs: alertWindow('must equal kitchen.violation\'s (set both): a repeat of the same camera and type within it counts once'),
    riskClasses: { ...riskClasses, about: 'must equal kitchen.violation\'s (set both); a type left out keeps the regulation\'s class' },
  }),

  'kitchen.camera_dark': offline,
  'elevator.offline': offline,
  'cylinder.offline': offline,
  'dispenser.offline': offline,

  'elevator.fault': rule({
    severityByCode: mapOf({ list: codeList, what: 'fault or event code' }, severity(),
      'alert severity per code; replaces the whole default map, and a code left out raises nothing (11 is elevator.trapped\'s, 40 resolves)'),
    repeatWindowMs: alertWindow('a repeat of the same code within this updates the open alert'),
  }),

  'elevator.trapped': rule({
    ...trappedDetector,
    severity: severity(),
    alertWindowMs: alertWindow('dedupe window of the raise (0: every incident its own alert and rescue case)'),
  }, trappedCross),

  'elevator.repeated_trapping': rule({
    ...trappedDetector,
    incidents: whole('count', 2, 100, 'trapped incidents on one elevator within windowMs that make it a hazard (one incident is elevator.trapped\'s own alert)'),
    windowMs: millis(1, YEAR, { about: 'the counting window' }),
    severity: severity(),
  }, trappedCross),

  'cylinder.scan_check': rule({
    utcOffsetMinutes: whole('min', -12 * 60, 14 * 60, 'offset of the local calendar from UTC (China: 480)'),
    maxServiceYears: whole('years', 1, 50, 'years in use at most, whatever the design life (GB 5842-2006: 12)'),
    lifeExtensionByInspection: boolean('true: an inspection on or after the design-life end lifts expired_life (up to maxServiceYears)'),
    inspectionIntervalYears: whole('years', 1, 20, 'only for a record without nextInspection: its last inspection (or manufacture) + this'),
    dueSoonDays: whole('days', 0, 365, 'an inspection due within this many days is inspection_due_soon (0: due today)'),
    overfillToleranceKg: quantity('kg', { min: 0, max: 5 }, 'netKg above the record\'s maxFillKg + this is overfilled'),
    gatePoints: listOf(scanPoints, 1, 'scan points where a problem refuses the scan'),
    refusedSeverity: severity('severity of cylinder.refused, and of cylinder.flagged (a problem cylinder let through at delivery or recovery)'),
    overfilledSeverity: severity('severity of cylinder.refused when overfilled'),
    refusedWindowMs: alertWindow('a repeat refusal (or flag) of the same cylinder for the same reasons within this updates the open alert'),
    inspectionDueSeverity: severity('severity of cylinder.inspection_due'),
    inspectionDueWindowMs: alertWindow(),
  }),

  'cylinder.no_pre_fill': rule({
    windowMs: millis(1, YEAR, { about: 'the pre-fill check must be at most this long before the fill (device time)' }),
    lateArrivalMs: millis(0, 30 * DAY, { about: 'pre-fill checks are remembered this much longer, for late uploads' }),
    severity: severity(),
    alertWindowMs: alertWindow(),
    maxTracked: whole('count', 1, 10_000_000, 'remembered (cylinder, station) checks at most'),
  }),

  'cylinder.cloned_code': rule({
    windowMs: millis(1, YEAR, { about: 'the same code at two stations within this (device time) raises' }),
    lateArrivalMs: millis(0, 30 * DAY, { about: 'scans are remembered this much longer, for late uploads' }),
    severity: severity(),
    alertWindowMs: alertWindow(),
    maxScansPerCode: whole('count', 1, 1000, 'scans remembered per code'),
    maxTrackedCodes: whole('count', 1, 10_000_000, 'codes remembered at most'),
  }),

  'dispenser.amount_mismatch': rule({
    toleranceFen: whole('fen', 0, 100 * fenPerYuan, '|amount − volume × price| above this many fen (0.01 yuan) raises'),
    severity: severity(),
    alertWindowMs: alertWindow(),
  }),

  'dispenser.totalizer': rule({
    toleranceL: quantity('L', { min: 0, max: 100 }, 'allowed |totaliser − (previous + volume)|'),
    gapSeverity: severity('severity of a gap (fuel moved without a reported transaction)'),
    rollbackSeverity: severity('severity of a totaliser that went backwards'),
    alertWindowMs: alertWindow(),
    forgetAfterMs: millis(1, YEAR, { about: 'a nozzle silent this long is forgotten (its next transaction only records)' }),
  }),

  'dispenser.flow': rule({
    maxLitresPerSecond: quantity('L/s', { min: 0, above: true, max: 10 }, 'average flow above this raises'),
    maxLitresPerSecondByGrade: mapOf({ pattern: /^.{1,16}$/u, what: 'fuel grade (1-16 characters)' },
      quantity('L/s', { min: 0, above: true, max: 10 }), 'per grade limits, e.g. {"0#diesel": 2.2}'),
    severity: severity(),
    alertWindowMs: alertWindow(),
  }),

  'dispenser.pulses': rule({
    maxDeviationPct: quantity('%', { min: 0, above: true, max: 10 }, 'largest |encoder volume − displayed volume|, in percent of the displayed volume'),
    severity: severity(),
    alertWindowMs: alertWindow(),
  }),

  'dispenser.tamper': rule({
    severity: severity(),
    alertWindowMs: alertWindow(),
  }),

  'dispenser.tank_reconciliation': rule({
    utcOffsetMinutes: whole('min', -12 * 60, 14 * 60, 'offset of the local calendar from UTC (China: 480)'),
    periodMs: key({
      schema: numberSchema({ int: true, min: SECOND, max: DAY }, `must be whole milliseconds from 1000 to ${DAY} (a day) that divide a day`)
        .refine((p) => DAY % p === 0, {
          error: `must be whole milliseconds from 1000 to ${DAY} (a day) that divide a day, so the periods start at local midnight (e.g. 28800000 for 8 h shifts)`,
        }),
      unit: 'ms',
      allowed: `1000 (1 s) to ${DAY} (1 day), dividing a day`,
      about: 'the reconciliation period',
    }),
    maxDifferencePct: quantity('%', { min: 0, above: true, max: 100 }, '|tank drop − metered| above this percentage of the metered volume raises'),
    minDifferenceL: quantity('L', { min: 0, max: 10_000 }, 'and the difference must be above this many litres (the gauge\'s resolution)'),
    deliveryMinRiseL: quantity('L', { min: 0, above: true, max: 100_000 }, 'a run of rising tank readings of at least this is a delivery'),
    closeGraceMs: millis(0, HOUR, { about: 'a quiet tank\'s period is closed this long after it ends, for messages in flight' }),
    severity: severity(),
    alertWindowMs: alertWindow(),
  }, [{
    keys: ['deliveryMinRiseL', 'minDifferenceL'],
    text: 'deliveryMinRiseL > minDifferenceL: a rise the gauge cannot tell from jitter is not a delivery',
    check: (v, ref) => (num(v.deliveryMinRiseL) > num(v.minDifferenceL) ? null
      : `must be more than ${ref('minDifferenceL')}: a rise the gauge cannot tell from jitter is not a delivery`),
  }]),
};

/**
 * The docs/configuration.md section of every rule's thresholds: `rules` are the registered
 * rules ({id, defaults}); each gets a table of the keys of its defaults.
 */
export function ruleConfigReference(rules: ReadonlyArray<{ id: string; defaults: unknown }>): string {
  const parts: string[] = [];
  for (const r of [...rules].sort((a, b) => a.id.localeCompare(b.id))) {
    const defaults = r.defaults as Record<string, unknown>;
    const spec = ruleConfigSchemas[r.id];
    parts.push(`#### \`rules.${r.id}\``, '', spec ? specTable(spec, Object.keys(defaults), defaults) : 'NO SCHEMA (core/rules/configSchemas.ts)', '');
  }
  return parts.join('\n').trimEnd();
}
