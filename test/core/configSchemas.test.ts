/**
 * The rules' configuration schemas (core/rules/configSchemas.ts): every rule has one, every
 * key of every rule's defaults has an entry (a new threshold cannot go unvalidated), the
 * defaults pass them, and docs/configuration.md lists every key with its unit, default and
 * range exactly as the schemas say (UPDATE_DOCS=1 rewrites that section).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { alertOverridesReference } from '../../core/alerts/policyReference.js';
import { deadlineDefaults, deadlineOptionsSpec, deadlinePolicy, rescueDefaults, rescuePolicy, rescueSpec, ruleOverrides, severityDeadlineSpec } from '../../core/alerts/policy.js';
import { ConfigError } from '../../core/configError.js';
import { checkSpec, duration, ruleConfigSchemas } from '../../core/rules/configSchemas.js';
import { allRules } from '../../core/rules/index.js';

const rules = allRules.map((r) => ({ id: r.id, rule: r, defaults: r.defaults as Record<string, unknown> }));

describe('a schema for every rule and every key', () => {
  it.each(rules.map((r) => [r.id, r] as const))('%s has a config schema', (id) => {
    expect(ruleConfigSchemas[id], `core/rules/configSchemas.ts has no entry for ${id}`).toBeDefined();
  });

  it('has no schema for a rule that is not registered', () => {
    expect(Object.keys(ruleConfigSchemas).filter((id) => !rules.some((r) => r.id === id))).toEqual([]);
  });

  it.each(rules.map((r) => [r.id, r] as const))('%s: every key of its defaults has an entry, and every required entry is in its defaults', (id, r) => {
    const spec = ruleConfigSchemas[id]!;
    const missing = Object.keys(r.defaults).filter((k) => !spec.keys[k]);
    expect(missing, `${id}: keys of the defaults without a schema entry (add them to core/rules/configSchemas.ts)`).toEqual([]);
    const stale = Object.entries(spec.keys).filter(([k, s]) => !s.optional && !Object.hasOwn(r.defaults, k)).map(([k]) => k);
    expect(stale, `${id}: schema entries for keys the rule does not have`).toEqual([]);
  });

  it.each(rules.map((r) => [r.id, r] as const))('%s: its defaults pass its schema, key by key and as a whole', (id, r) => {
    const spec = ruleConfigSchemas[id]!;
    const whole = spec.schema.safeParse(r.defaults);
    expect(whole.success, JSON.stringify(whole.error?.issues)).toBe(true);
    // every default given as an override, at the default tick: nothing to refuse
    expect(checkSpec(spec, `rules.${id}.`, r.defaults, r.defaults, { tickMs: 1000 }).problems).toEqual([]);
    // and the rule's own checks agree
    expect(r.rule.checkConfig?.(r.defaults) ?? []).toEqual([]);
  });

  it.each(rules.map((r) => [r.id, r] as const))('%s: each key has a unit and an allowed range for the docs', (id, r) => {
    for (const k of Object.keys(r.defaults)) {
      const s = ruleConfigSchemas[id]!.keys[k]!;
      expect(s.unit, `${id}.${k}`).not.toBe('');
      expect(s.allowed, `${id}.${k}`).not.toBe('');
    }
  });

  it('a key whose name ends in a unit is measured in it', () => {
    const suffixes: Array<[RegExp, string]> = [[/Ms$/, 'ms'], [/S$/, 's'], [/Minutes$/, 'min'], [/Days$/, 'days'], [/Years$/, 'years'], [/Kg$/, 'kg'], [/Fen$/, 'fen'], [/Pct$/, '%'], [/LitresPerSecond$/, 'L/s'], [/[a-z]L$/, 'L']];
    for (const r of rules) {
      for (const k of Object.keys(r.defaults)) {
        const unit = suffixes.find(([re]) => re.test(k))?.[1];
        if (unit) expect(ruleConfigSchemas[r.id]!.keys[k]!.unit, `${r.id}.${k}`).toBe(unit);
      }
    }
  });

  it('the deadline and rescue defaults pass their own specs', () => {
    const d = deadlineDefaults();
    for (const [severity, v] of Object.entries(d.bySeverity)) {
      if (v) expect(checkSpec(severityDeadlineSpec, `deadlines.${severity}.`, v, v, { tickMs: 1000 }).problems).toEqual([]);
    }
    expect(checkSpec(deadlineOptionsSpec, 'deadlines.', d.options, d.options, { tickMs: 1000 }).problems).toEqual([]);
    expect(checkSpec(rescueSpec, 'rescue.', rescueDefaults, rescueDefaults, { tickMs: 1000 }).problems).toEqual([]);
  });
});

describe('the zod schema of a rule refuses by meaning', () => {
  const trapped = ruleConfigSchemas['elevator.trapped']!.schema;
  const base = allRules.find((r) => r.id === 'elevator.trapped')!.defaults as Record<string, unknown>;

  it.each([
    ['an unknown key', { ...base, atFloorS: 90 }],
    ['a time that is not whole milliseconds', { ...base, atFloorMs: 90.5 }],
    ['a time above its bound', { ...base, atFloorMs: 2 * 3_600_000 }],
    ['a severity not in the enum', { ...base, severity: 'urgent' }],
    ['a mode that would switch the timer off', { ...base, ignoreModes: ['normal'] }],
    ['a repeated mode', { ...base, ignoreModes: ['fire', 'fire'] }],
    ['a cross-field rule broken', { ...base, outsideDoorZoneMs: 120_000 }],
  ])('%s', (_what, value) => {
    expect(trapped.safeParse(value).success).toBe(false);
  });

  it('the cross-field issue names the key and the other one', () => {
    const r = trapped.safeParse({ ...base, outsideDoorZoneMs: 120_000 });
    expect(r.error?.issues).toEqual([expect.objectContaining({ path: ['outsideDoorZoneMs'], message: expect.stringMatching(/^must be at most atFloorMs \(90000\)/) })]);
  });
});

describe('the policies refuse what the configuration refuses', () => {
  it('ruleOverrides, deadlinePolicy and rescuePolicy throw a ConfigError naming the key and the rule', () => {
    expect(() => ruleOverrides(allRules, { rules: { 'kitchen.violation': { minConfidence: 40 } } })).toThrow(ConfigError);
    expect(() => deadlinePolicy({ deadlines: { major: { ackMin: 2000 } } })).toThrow(/deadlines\.major\.ackMin: 2000 must be before deadlines\.major\.resolveMin \(1440, the default\)/);
    expect(() => rescuePolicy({ rescue: { arrivalWarningMin: 20, arrivalMin: 15 } })).toThrow(/rescue\.arrivalWarningMin: 20 must be before rescue\.arrivalMin \(15\)/);
  });

  it('and build what it accepts', () => {
    expect(deadlinePolicy({ deadlines: { critical: { ackMin: 3, resolveMin: 60 } } }).bySeverity.critical).toEqual({ ackMs: 180_000, resolveMs: 3_600_000 });
    // rectification (class-2 kitchen detections): the answer and the re-check, merged with 120 / 4320 min
    expect(deadlinePolicy({ deadlines: { rectification: { answerMin: 60 } } } as never).rectification).toEqual({ ackMs: 3_600_000, resolveMs: 259_200_000 });
    expect(deadlinePolicy({}).rectification).toBeUndefined();
    expect(() => deadlinePolicy({ deadlines: { rectification: { recheckMin: 100 } } } as never)).toThrow(/deadlines\.rectification\.\w+: .*must be before/);
    expect(rescuePolicy({ rescue: { arrivalMin: 15, arrivalWarningMin: 10 } })).toMatchObject({ arrivalWithinMs: 900_000, arrivalWarningAtMs: 600_000 });
  });
});

describe('docs/configuration.md', () => {
  const file = new URL('../../docs/configuration.md', import.meta.url);
  const start = '<!-- ALERT_OVERRIDES reference: generated, do not edit by hand -->';
  const end = '<!-- end of the ALERT_OVERRIDES reference -->';
  const generated = alertOverridesReference(allRules);

  if (process.env.UPDATE_DOCS === '1') {
    const doc = readFileSync(file, 'utf8');
    const [head, rest] = [doc.slice(0, doc.indexOf(start)), doc.slice(doc.indexOf(end))];
    if (doc.includes(start) && doc.includes(end)) writeFileSync(file, `${head}${start}\n\n${generated}\n\n${rest}`);
  }
  const doc = readFileSync(file, 'utf8');

  it('holds the generated reference of every ALERT_OVERRIDES key (UPDATE_DOCS=1 npx vitest run test/core/configSchemas.test.ts rewrites it)', () => {
    expect(doc).toContain(start);
    expect(doc).toContain(end);
    const section = doc.slice(doc.indexOf(start) + start.length, doc.indexOf(end)).trim();
    expect(section).toBe(generated);
  });

  it.each(rules.map((r) => [r.id, r] as const))('names every key of %s with its unit and default', (id, r) => {
    const section = doc.slice(doc.indexOf(`#### \`rules.${id}\``));
    const table = section.slice(0, section.indexOf('\n#### ') < 0 ? undefined : section.indexOf('\n#### '));
    for (const [k, v] of Object.entries(r.defaults)) {
      const row = table.split('\n').find((l) => l.startsWith(`| ${k} |`));
      expect(row, `docs/configuration.md: no row for rules.${id}.${k}`).toBeDefined();
      expect(row).toContain(`| ${ruleConfigSchemas[id]!.keys[k]!.unit} |`);
      expect(row).toContain(JSON.stringify(v).replace(/\|/g, '\\|'));
    }
  });

  it('names every deadline and rescue key', () => {
    for (const k of [...Object.keys(severityDeadlineSpec.keys), ...Object.keys(deadlineOptionsSpec.keys), ...Object.keys(rescueSpec.keys)]) {
      expect(doc, k).toMatch(new RegExp(`^\\| (\\w+\\.)?${k} \\|`, 'm'));
    }
  });

  it('durations read as people say them', () => {
    expect([duration(90_000), duration(3_600_000), duration(86_400_000), duration(7 * 86_400_000), duration(1500)]).toEqual(['90 s', '1 h', '1 day', '7 days', '1500 ms']);
  });
});
