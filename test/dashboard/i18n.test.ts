/**
 * The dashboard's single translation table (dashboard/ui/i18n.json) covers, in Chinese and
 * English, every rule id and alert rule name, status, severity, family, role, rescue step,
 * timeline action, elevator code, violation type and system note (with the note's parameters),
 * and agrees with the code's own names.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { allRules } from '../../core/rules/index.js';
import { elevatorCodes } from '../../core/rules/elevator/codes.js';
import { violationNames } from '../../core/rules/kitchen/violation.js';
import { rescueSteps, stepRefusalReasons } from '../../core/alerts/rescueCase.js';
import { drillMeasures, outcomes } from '../../core/alerts/onTime.js';
import { families } from '../../core/schemas/index.js';
import { scanReasons } from '../../core/schemas/cylinder.js';
import { tamperKinds } from '../../core/schemas/dispenser.js';
import { roles } from '../../core/roles.js';
import { auditActionCodes, auditTargets } from '../../core/audit.js';
import { systemNoteCodes, systemNoteTemplates } from '../../core/alerts/systemNotes.js';

const table = JSON.parse(readFileSync(new URL('../../dashboard/ui/i18n.json', import.meta.url), 'utf8')) as { zh: Record<string, string>; en: Record<string, string> };

const keys = [
  ...allRules.map((r) => `rule.${r.id}`),
  // rule names that alerts carry besides the rule ids (cylinder.scan_check raises these)
  'rule.cylinder.refused', 'rule.cylinder.inspection_due',
  ...['open', 'acknowledged', 'resolved', 'false_positive'].map((s) => `status.${s}`),
  ...['critical', 'major', 'minor', 'info'].map((s) => `severity.${s}`),
  ...families.map((f) => `family.${f}`),
  ...roles.map((r) => `role.${r}`),
  ...[...rescueSteps, 'false_alarm'].map((s) => `step.${s}`),
  // the 96333 console: why a step is refused (409 details.reason), how a case was reported, escalation reasons
  ...stepRefusalReasons.map((r) => `refusal.${r}`),
  ...['device', 'phone'].map((s) => `source.${s}`),
  ...['dispatch_breached', 'unit_ack_breached', 'arrival_warning', 'arrival_breached'].map((e) => `rescueEvent.${e}`),
  // the on-time rates: every figure and outcome the drill-down names
  ...drillMeasures.map((m) => `measure.${m}`),
  ...outcomes.map((o) => `outcome.${o}`),
  ...['opened', 'repeated', 'acknowledged', 'assigned', 'noted', 'resolved', 'auto_resolved', 'false_positive',
    'ack_warning', 'ack_breached', 'ack_reminder', 'resolve_warning', 'resolve_breached'].map((a) => `tl.${a}`),
  ...Object.keys(elevatorCodes).map((c) => `fault.${c}`),
  ...Object.keys(violationNames).map((v) => `violation.${v}`),
  ...scanReasons.map((r) => `reason.${r}`),
  ...tamperKinds.map((k) => `tamper.${k}`),
  // the audit log view (audit.js): every action it records and every kind of target
  ...auditActionCodes.map((a) => `auditAction.${a}`),
  ...auditTargets.map((k) => `auditTarget.${k}`),
  // the notes the system writes on timelines and store-list steps, by code (dashboard/ui/js/systemNote.js)
  ...systemNoteCodes.map((c) => `sysnote.${c}`),
];

describe('dashboard i18n table', () => {
  it.each(keys)('%s has Chinese and English', (key) => {
    expect(table.zh[key], `zh ${key}`).toMatch(/\S/);
    expect(table.en[key], `en ${key}`).toMatch(/\S/);
    expect(table.zh[key]).toMatch(/[\u4e00-\u9fff]/);
  });

  it('both languages have the same keys', () => {
    expect(Object.keys(table.zh).sort()).toEqual(Object.keys(table.en).sort());
  });

  it('elevator codes and violation types use the names of the code tables', () => {
    for (const c of Object.values(elevatorCodes)) expect([table.zh[`fault.${c.code}`], table.en[`fault.${c.code}`]]).toEqual([c.zh, c.en]);
    for (const [type, n] of Object.entries(violationNames)) expect([table.zh[`violation.${type}`], table.en[`violation.${type}`]]).toEqual([n.zh, n.en]);
  });

  it('a system note names the parameters of its code in both languages; the English is the catalog\'s', () => {
    const names = (text: string) => [...text.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();
    for (const code of systemNoteCodes) {
      const template = systemNoteTemplates[code];
      expect(table.en[`sysnote.${code}`], code).toBe(template);
      expect(names(table.zh[`sysnote.${code}`] ?? ''), code).toEqual(names(template));
    }
    // no text for a code the catalog does not have (a renamed code would leave one behind)
    const known = new Set<string>(systemNoteCodes);
    expect(Object.keys(table.en).filter((k) => k.startsWith('sysnote.') && !known.has(k.slice(8)))).toEqual([]);
  });

  it('every key the UI code asks for with t(...) exists', () => {
    const dir = new URL('../../dashboard/ui/js/', import.meta.url);
    // every module of the UI (the console and the statistics are split into several)
    const files = readdirSync(dir).filter((f) => f.endsWith('.js'));
    expect(files).toEqual(expect.arrayContaining(['main.js', 'dispatch.js', 'rescueCard.js', 'rescueActions.js', 'phoneReport.js', 'caseReport.js', 'stats.js', 'statsDrill.js']));
    for (const f of files) {
      const src = readFileSync(new URL(f, dir), 'utf8');
      for (const m of src.matchAll(/\bt\('([a-zA-Z]+\.[a-zA-Z_.]+)'/g)) expect(table.en[m[1]!], `${f}: ${m[1]}`).toBeDefined();
    }
  });
});
