/**
 * ALERT_OVERRIDES through loadConfig (service/config.ts, core/alerts/policy.ts): checked by
 * meaning (units, ranges, the rules between keys after merging with the defaults), every
 * problem listed, a frozen result; a bad override makes the entry point exit 2.
 */
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { loadConfig } from '../../service/config.js';
import { configError, configFile, dir } from './configFixtures.js';

describe('ALERT_OVERRIDES, checked by meaning', () => {
  const load = (overrides: unknown, env: Record<string, string> = {}) => loadConfig({ ALERT_OVERRIDES: JSON.stringify(overrides), ...env });
  const trapped = (t: Record<string, unknown>) => ({ rules: { 'elevator.trapped': t } });

  // [what is broken, overrides, extra environment, the one problem]
  const refusals: Array<[string, unknown, Record<string, string>, string | RegExp]> = [
    // the rules between keys, each after merging with the defaults
    ['cross: trapped outsideDoorZoneMs after atFloorMs (both given)', trapped({ atFloorMs: 20_000, outsideDoorZoneMs: 30_000 }), {},
      'ALERT_OVERRIDES rules.elevator.trapped.outsideDoorZoneMs: 30000 must be at most rules.elevator.trapped.atFloorMs (20000): stopped between floors nobody can get out, so that is never waited for longer than a stop at a floor'],
    ['cross: trapped atFloorMs below the default outsideDoorZoneMs', trapped({ atFloorMs: 10_000 }), {},
      /^ALERT_OVERRIDES rules\.elevator\.trapped\.outsideDoorZoneMs: 15000 \(the default\) must be at most rules\.elevator\.trapped\.atFloorMs \(10000\)/],
    ['cross: repeated_trapping against the thresholds it takes from elevator.trapped',
      { rules: { 'elevator.trapped': { atFloorMs: 20_000, outsideDoorZoneMs: 10_000 }, 'elevator.repeated_trapping': { outsideDoorZoneMs: 30_000 } } }, {},
      /^ALERT_OVERRIDES rules\.elevator\.repeated_trapping\.outsideDoorZoneMs: 30000 must be at most rules\.elevator\.repeated_trapping\.atFloorMs \(20000, from rules\.elevator\.trapped\)/],
    ['cross: tank delivery rise not above the gauge resolution', { rules: { 'dispenser.tank_reconciliation': { deliveryMinRiseL: 10 } } }, {},
      /^ALERT_OVERRIDES rules\.dispenser\.tank_reconciliation\.deliveryMinRiseL: 10 must be more than rules\.dispenser\.tank_reconciliation\.minDifferenceL \(10, the default\)/],
    ['cross: ack deadline after the resolve deadline (both given)', { deadlines: { critical: { ackMin: 60, resolveMin: 30 } } }, {},
      'ALERT_OVERRIDES deadlines.critical.ackMin: 60 must be before deadlines.critical.resolveMin (30): an alert is acknowledged before it is resolved'],
    ['cross: ack deadline equal to the resolve deadline', { deadlines: { major: { ackMin: 1440 } } }, {},
      /^ALERT_OVERRIDES deadlines\.major\.ackMin: 1440 must be before deadlines\.major\.resolveMin \(1440, the default\)/],
    ['cross: resolve deadline before the default ack deadline', { deadlines: { minor: { resolveMin: 60 } } }, {},
      /^ALERT_OVERRIDES deadlines\.minor\.ackMin: 240 \(the default\) must be before deadlines\.minor\.resolveMin \(60\)/],
    ['cross: info deadlines against the fallback (4 h / 7 days)', { deadlines: { info: { ackMin: 20_000 } } }, {},
      /^ALERT_OVERRIDES deadlines\.info\.ackMin: 20000 must be before deadlines\.info\.resolveMin \(10080, the default\)/],
    ['cross: arrival warning after the arrival deadline (both given)', { rescue: { arrivalMin: 15, arrivalWarningMin: 20 } }, {},
      'ALERT_OVERRIDES rescue.arrivalWarningMin: 20 must be before rescue.arrivalMin (15): the warning comes before the deadline'],
    ['cross: arrival deadline before the default warning (the issue\'s case)', { rescue: { arrivalMin: 15 } }, {},
      'ALERT_OVERRIDES rescue.arrivalWarningMin: 20 (the default) must be before rescue.arrivalMin (15): the warning comes before the deadline'],
    ['cross: dispatch not before the arrival deadline', { rescue: { dispatchMin: 30 } }, {},
      'ALERT_OVERRIDES rescue.dispatchMin: 30 must be before rescue.arrivalMin (30, the default): a unit is dispatched before it can arrive'],
    // ranges, one of each kind
    ['range: a confidence given as a percentage', { rules: { 'kitchen.violation': { minConfidence: 40 } } }, {},
      'ALERT_OVERRIDES rules.kitchen.violation.minConfidence: 40 must be a confidence from 0 to 1 (a fraction, not a percentage)'],
    ['range: a negative confidence', { rules: { 'kitchen.repeat_offender': { minConfidence: -0.1 } } }, {}, /minConfidence: -0\.1 must be a confidence from 0 to 1/],
    ['range: a timer shorter than the tick (seconds meant; no second problem against the default outsideDoorZoneMs)', trapped({ atFloorMs: 90 }), {},
      /^ALERT_OVERRIDES rules\.elevator\.trapped\.atFloorMs: 90 must be at least ALERT_TICK_MS \(1000 ms\).*90 s is 90000/],
    ['range: a timer shorter than a lowered tick', { rules: { 'kitchen.camera_dark': { graceMs: 50 } } }, { ALERT_TICK_MS: '100' },
      /^ALERT_OVERRIDES rules\.kitchen\.camera_dark\.graceMs: 50 must be at least ALERT_TICK_MS \(100 ms\)/],
    ['range: milliseconds that are not whole', { rules: { 'cylinder.cloned_code': { windowMs: 1500.5 } } }, {}, /windowMs: 1500\.5 must be whole milliseconds from 1/],
    ['range: a time above its bound', trapped({ atFloorMs: 7_200_000 }), {}, /atFloorMs: 7200000 must be whole milliseconds from 1 to 3600000 \(1 h\)/],
    ['range: a negative alert window', { rules: { 'dispenser.tamper': { alertWindowMs: -1 } } }, {}, /alertWindowMs: -1 must be whole milliseconds from 0 to/],
    ['range: a period that does not divide a day', { rules: { 'dispenser.tank_reconciliation': { periodMs: 25_200_000 } } }, {}, /periodMs: 25200000 must be whole milliseconds .* that divide a day/],
    ['range: a count of zero', { rules: { 'kitchen.repeat_offender': { threshold: 0 } } }, {}, /threshold: 0 must be a whole number from 1 to 1000/],
    ['range: a fractional count', { rules: { 'elevator.offline': { missedHeartbeats: 2.5 } } }, {}, /missedHeartbeats: 2\.5 must be a whole number from 1 to 100/],
    ['range: whole seconds', { rules: { 'elevator.offline': { heartbeatIntervalS: 0.5 } } }, {}, /heartbeatIntervalS: 0\.5 must be whole seconds from 1 to 86400/],
    ['range: a percentage of zero', { rules: { 'dispenser.pulses': { maxDeviationPct: 0 } } }, {}, /maxDeviationPct: 0 must be % more than 0 and at most 10/],
    ['range: litres per second above the bound, per grade', { rules: { 'dispenser.flow': { maxLitresPerSecondByGrade: { '0#diesel': 50 } } } }, {},
      /maxLitresPerSecondByGrade\.0#diesel: 50 must be L\/s more than 0 and at most 10/],
    ['range: a severity outside the enum', { rules: { 'dispenser.tamper': { severity: 'high' } } }, {}, /severity: "high" must be one of critical, major, minor, info/],
    ['range: a risk class outside 1..3', { rules: { 'kitchen.violation': { riskClasses: { rat: 4 } } } }, {}, /riskClasses\.rat: 4 must be one of 1, 2, 3/],
    ['range: an unknown violation type', { rules: { 'kitchen.violation': { riskClasses: { dog: 1 } } } }, {}, /riskClasses\.dog: no such violation type/],
    ['range: a fault code elevator.fault does not raise', { rules: { 'elevator.fault': { severityByCode: { 11: 'critical' } } } }, {}, /severityByCode\.11: no such fault or event code/],
    ['range: an empty gate', { rules: { 'cylinder.scan_check': { gatePoints: [] } } }, {}, /gatePoints: \[\] must be a list of distinct values out of pre_fill/],
    ['range: ignoring normal mode', trapped({ ignoreModes: ['normal'] }), {}, /ignoreModes\.0: "normal" must be one of inspection, fire/],
    ['range: a wrongly typed value', trapped({ atFloorMs: '90s' }), {}, /atFloorMs: "90s" must be whole milliseconds/],
    ['range: minutes of zero', { rescue: { unitAckMin: 0 } }, {}, 'ALERT_OVERRIDES rescue.unitAckMin: 0 must be minutes, more than 0 and at most 525600 (365 days)'],
    ['range: minutes beyond a year', { deadlines: { reminderEveryMin: 600_000 } }, {}, /deadlines\.reminderEveryMin: 600000 must be minutes, more than 0 and at most 525600/],
    ['range: a deadline shorter than the tick', { deadlines: { critical: { ackMin: 0.01 } } }, {}, /^ALERT_OVERRIDES deadlines\.critical\.ackMin: 0\.01 must be at least ALERT_TICK_MS \(1000 ms\)/],
    ['range: warnAtFraction of 1', { deadlines: { warnAtFraction: 1 } }, {}, 'ALERT_OVERRIDES deadlines.warnAtFraction: 1 must be a fraction more than 0 and less than 1'],
    ['range: warnAtFraction of 0', { deadlines: { warnAtFraction: 0 } }, {}, /warnAtFraction: 0 must be a fraction more than 0 and less than 1/],
    ['range: an escalation prefix that is not a district code', { rescue: { escalation: { 'west lake': [{ name: '值班领导' }] } } }, {},
      /rescue\.escalation\.west lake: must be a district code prefix \(1 to 12 digits\) or \*/],
    ['range: an escalation contact without a name', { rescue: { escalation: { '*': [{ phone: '110' }] } } }, {}, /rescue\.escalation\.\*\.0\.name: undefined must be a name/],
    ['range: a default timer shorter than a long tick', {}, { ALERT_TICK_MS: '20000' },
      /^ALERT_TICK_MS=20000: must be at most the shortest timer, rules\.elevator\.trapped\.outsideDoorZoneMs \(15000 ms, the default\)/],
    // unknown names
    ['unknown rule id', { rules: { 'elevator.stuck': { atFloorMs: 90_000 } } }, {}, /^ALERT_OVERRIDES rules\.elevator\.stuck: no such rule \(rules: kitchen\.violation, /],
    ['unknown threshold of a rule (a unit in the wrong name)', trapped({ atFloorS: 90 }), {}, /^ALERT_OVERRIDES rules\.elevator\.trapped\.atFloorS: no such threshold \(atFloorMs, outsideDoorZoneMs, ignoreModes, severity, alertWindowMs\)$/],
    ['a threshold another rule of the family has', { rules: { 'kitchen.camera_dark': { heartbeatIntervalS: 60 } } }, {}, /kitchen\.camera_dark\.heartbeatIntervalS: no such threshold \(silenceMs, graceMs, severity\)/],
    ['unknown deadlines key', { deadlines: { urgent: { ackMin: 1 } } }, {}, /^ALERT_OVERRIDES deadlines\.urgent: no such key \(critical, major, minor, info, warnAtFraction, reminderEveryMin, rectification\)$/],
    ['unknown key of a severity', { deadlines: { critical: { ackS: 60 } } }, {}, /^ALERT_OVERRIDES deadlines\.critical\.ackS: no such key \(ackMin, resolveMin\)$/],
    ['rectification: the answer after the re-check', { deadlines: { rectification: { answerMin: 5000 } } }, {},
      'ALERT_OVERRIDES deadlines.rectification.answerMin: 5000 must be before deadlines.rectification.recheckMin (4320, the default): the store answers before the bureau re-checks'],
    ['rectification: an unknown key', { deadlines: { rectification: { answerS: 5 } } }, {}, 'ALERT_OVERRIDES deadlines.rectification.answerS: no such key (answerMin, recheckMin)'],
    ['unknown rescue key', { rescue: { arrivalMs: 1_800_000 } }, {}, /^ALERT_OVERRIDES rescue\.arrivalMs: no such key \(dispatchMin, /],
    ['unknown top-level key', { rule: {} }, {}, 'ALERT_OVERRIDES rule: no such key (rules, deadlines, rescue, storeList)'],
    ['not an object', [1, 2], {}, /^ALERT_OVERRIDES: \[1,2\] must be a JSON object/],
    ['a rule\'s thresholds not an object', { rules: { 'elevator.trapped': 90 } }, {}, /^ALERT_OVERRIDES rules\.elevator\.trapped: 90 must be an object of thresholds/],
  ];

  it.each(refusals)('refuses %s', (_what, overrides, env, problem) => {
    const e = configError(() => load(overrides, env));
    expect(e.problems, e.problems.join('\n')).toHaveLength(1);
    if (typeof problem === 'string') expect(e.problems[0]).toBe(problem);
    else expect(e.problems[0]).toMatch(problem);
  });

  // [what, overrides, extra environment]: values at the edges of their ranges
  const acceptances: Array<[string, unknown, Record<string, string>]> = [
    ['confidence 0 and 1', { rules: { 'kitchen.violation': { minConfidence: 0 }, 'kitchen.repeat_offender': { minConfidence: 1 } } }, {}],
    ['a timer equal to the tick', trapped({ atFloorMs: 1000, outsideDoorZoneMs: 1000 }), {}],
    ['a timer at its upper bound', trapped({ atFloorMs: 3_600_000 }), {}],
    ['outsideDoorZoneMs equal to atFloorMs', trapped({ atFloorMs: 60_000, outsideDoorZoneMs: 60_000 }), {}],
    ['compressed time with a short tick (the e2e test\'s thresholds)', trapped({ atFloorMs: 1500, outsideDoorZoneMs: 500 }), { ALERT_TICK_MS: '100' }],
    ['alert window 0', { rules: { 'dispenser.tamper': { alertWindowMs: 0 }, 'kitchen.violation': { cooldownMs: 0 } } }, {}],
    ['the shortest and longest tank periods', { rules: { 'dispenser.tank_reconciliation': { periodMs: 1000, closeGraceMs: 0 } } }, {}],
    ['a day as the period, 8 h shifts', { rules: { 'dispenser.tank_reconciliation': { periodMs: 28_800_000 } } }, {}],
    ['a delivery rise just above the gauge resolution', { rules: { 'dispenser.tank_reconciliation': { deliveryMinRiseL: 10.001 } } }, {}],
    ['counts at their bounds', { rules: { 'kitchen.repeat_offender': { threshold: 1 }, 'elevator.repeated_trapping': { incidents: 2 }, 'elevator.offline': { missedHeartbeats: 100 } } }, {}],
    ['an empty list of ignored modes, every scan point gated', { rules: { 'elevator.trapped': { ignoreModes: [] }, 'cylinder.scan_check': { gatePoints: ['pre_fill', 'fill', 'post_fill', 'outbound', 'delivery', 'recovery'] } } }, {}],
    ['partial maps', { rules: { 'kitchen.violation': { riskClasses: { phone: 2 }, severityByClass: { 3: 'info' } }, 'dispenser.flow': { maxLitresPerSecondByGrade: { '0#diesel': 2.2 } } } }, {}],
    ['ack just before resolve', { deadlines: { critical: { ackMin: 119.99 } } }, {}],
    ['deadlines for info, none for minor', { deadlines: { info: { ackMin: 60 }, minor: null } }, {}],
    ['warnAtFraction near its bounds', { deadlines: { warnAtFraction: 0.01 } }, {}],
    ['warnAtFraction near 1', { deadlines: { warnAtFraction: 0.99 } }, {}],
    ['the arrival warning a moment before the default deadline', { rescue: { arrivalWarningMin: 29.99 } }, {}],
    ['a dispatch deadline just before the arrival', { rescue: { dispatchMin: 14, arrivalMin: 15, arrivalWarningMin: 10 } }, {}],
    ['sub-minute rescue times with a short tick (the rescue tests\')', { rescue: { dispatchMin: 0.005, renotifyMin: 0.005, unitAckMin: 0.05 } }, { ALERT_TICK_MS: '50' }],
    ['a long tick that no default timer is shorter than', {}, { ALERT_TICK_MS: '15000' }],
  ];

  it.each(acceptances)('accepts %s', (_what, overrides, env) => {
    expect(() => load(overrides, env)).not.toThrow();
  });

  it('accepts the example of docs/rules.md', () => {
    const doc = readFileSync(new URL('../../docs/rules.md', import.meta.url), 'utf8');
    const section = doc.slice(doc.indexOf('## Changing a threshold'));
    const json = /```json\n([\s\S]*?)```/.exec(section)![1]!;
    const c = loadConfig({ ALERT_OVERRIDES: json });
    expect(c.alerts.overrides).toEqual(JSON.parse(json));
  });

  it('accepts every shipped scenario\'s overrides with its tick (simulators/scenarios)', () => {
    const scenarios = new URL('../../simulators/scenarios/', import.meta.url);
    const files = readdirSync(scenarios).filter((f) => f.endsWith('.yaml'));
    expect(files.length).toBeGreaterThan(0);
    for (const f of files) {
      const service = (parseYaml(readFileSync(new URL(f, scenarios), 'utf8')) as { service?: { alertOverrides?: unknown; alertTickMs?: number } }).service;
      if (!service?.alertOverrides) continue;
      expect(() => loadConfig({ ALERT_OVERRIDES: JSON.stringify(service.alertOverrides), ALERT_TICK_MS: String(service.alertTickMs ?? 1000) }), f).not.toThrow();
    }
  });

  it('lists every problem at once, the other settings\' too', () => {
    const e = configError(() => loadConfig({
      MQTT_PORT: 'eighty',
      ALERT_OVERRIDES: JSON.stringify({ rules: { 'kitchen.violation': { minConfidence: 40 }, 'elevator.trapped': { atFloorS: 90 } }, deadlines: { critical: { ackMin: 180 } }, rescue: { arrivalMin: 15 } }),
    }));
    expect(e.problems).toHaveLength(5);
    expect(e.problems[0]).toMatch(/^MQTT_PORT=/);
    expect(e.problems.slice(1).every((p) => p.startsWith('ALERT_OVERRIDES '))).toBe(true);
    expect(e.message).toContain('rescue.arrivalWarningMin');
  });

  it('reads the overrides from a file (@path), checked the same way', () => {
    const f = configFile(JSON.stringify({ rescue: { arrivalMin: 15, arrivalWarningMin: 10 } }));
    expect(loadConfig({ ALERT_OVERRIDES: `@${f}` }).alerts.overrides).toEqual({ rescue: { arrivalMin: 15, arrivalWarningMin: 10 } });
    const bad = configFile(JSON.stringify({ rescue: { arrivalMin: 15 } }));
    expect(configError(() => loadConfig({ ALERT_OVERRIDES: `@${bad}` })).problems[0]).toMatch(/^ALERT_OVERRIDES rescue\.arrivalWarningMin: 20 \(the default\) must be before rescue\.arrivalMin \(15\)/);
  });

  it('the result holds the validated overrides, frozen', () => {
    const c = load({
      rules: { 'elevator.trapped': { atFloorMs: 60_000, ignoreModes: ['fire'] } },
      deadlines: { info: null, critical: { ackMin: 3 } },
      rescue: { escalation: { 330106: [{ name: '  西湖区值班领导 ', phone: '0571-87000000' }] } },
    });
    expect(c.alerts.overrides).toEqual({
      rules: { 'elevator.trapped': { atFloorMs: 60_000, ignoreModes: ['fire'] } },
      deadlines: { info: null, critical: { ackMin: 3 } },
      rescue: { escalation: { 330106: [{ name: '西湖区值班领导', phone: '0571-87000000' }] } },
    });
    expect(Object.isFrozen(c.alerts.overrides.rules!['elevator.trapped']!.ignoreModes)).toBe(true);
    expect(Object.isFrozen(c.alerts.overrides.rescue!.escalation)).toBe(true);
  });
});

describe('the entry point refuses a bad override', () => {
  const root = fileURLToPath(new URL('../../', import.meta.url));

  /** service/main.ts from source (so the check is the one in this tree, not a stale build); its exit code and output. */
  function runMain(env: Record<string, string>): Promise<{ code: number | null; output: string }> {
    return new Promise((resolve, reject) => {
      const child = spawn(process.execPath, ['--import', 'tsx', 'service/main.ts'], { cwd: root, env: { ...process.env, LOG_LEVEL: 'warn', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
      let output = '';
      child.stdout.on('data', (d: Buffer) => { output += d.toString(); });
      child.stderr.on('data', (d: Buffer) => { output += d.toString(); });
      const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`timeout; output so far:\n${output}`)); }, 60_000);
      child.on('exit', (code) => { clearTimeout(timer); resolve({ code, output }); });
    });
  }

  it('exits 2 before starting anything, naming each key path and the rule it breaks', async () => {
    const dataDir = path.join(dir, 'never-created');
    const run = await runMain({
      DATA_DIR: dataDir, MQTT_PORT: '0', HTTP_PORT: '0',
      ALERT_OVERRIDES: JSON.stringify({ rules: { 'elevator.trapped': { atFloorMs: 90 } }, rescue: { arrivalMin: 15 } }),
    });
    expect(run.code, run.output).toBe(2);
    expect(run.output).toContain('Invalid configuration:');
    expect(run.output).toContain('ALERT_OVERRIDES rules.elevator.trapped.atFloorMs: 90 must be at least ALERT_TICK_MS (1000 ms)');
    expect(run.output).toContain('ALERT_OVERRIDES rescue.arrivalWarningMin: 20 (the default) must be before rescue.arrivalMin (15)');
    expect(existsSync(dataDir)).toBe(false);
  }, 90_000);
});
