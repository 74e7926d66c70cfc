/**
 * The reference of every ALERT_OVERRIDES key as Markdown (docs/configuration.md, between its
 * markers; a test keeps the document equal to it), from the same specs the checks run on.
 */
import { ruleConfigReference, specTable, type ConfigKey } from '../rules/configSchemas.js';
import {
  FALLBACK_DEADLINE, deadlineDefaults, deadlineOptionsSpec, rectificationSpec, rescueDefaults, rescueSpec, severities, severityDeadlineSpec, storeListDefaults, storeListSpec,
} from './policy.js';

const MIN = 60_000;

/**
 * The reference of every ALERT_OVERRIDES key (docs/configuration.md, between its markers; a
 * test keeps it equal to this): each rule's thresholds, the deadlines and the rescue times,
 * with unit, default, allowed values and the rules between keys.
 */
export function alertOverridesReference(rules: ReadonlyArray<{ id: string; defaults: unknown }>): string {
  const d = deadlineDefaults();
  const perSeverity: Record<string, ConfigKey> = {};
  const severityDefaults: Record<string, unknown> = {};
  for (const severity of severities) {
    for (const [k, spec] of Object.entries(severityDeadlineSpec.keys)) {
      perSeverity[`${severity}.${k}`] = spec;
      severityDefaults[`${severity}.${k}`] = d.bySeverity[severity]?.[k as 'ackMin' | 'resolveMin'];
    }
  }
  const deadlineKeys = { keys: { ...perSeverity, ...deadlineOptionsSpec.keys }, cross: severityDeadlineSpec.cross.map((c) => ({ ...c, keys: c.keys.map((k) => `critical.${k}`), text: `per severity, ${c.text}` })) };
  return [
    '### `deadlines`',
    '',
    `A severity set to \`null\` has no deadlines; \`info\` has none by default, and an object gives it ${FALLBACK_DEADLINE.ackMs / MIN} / ${FALLBACK_DEADLINE.resolveMs / MIN} minutes before its own keys apply.`,
    '',
    specTable(deadlineKeys, Object.keys(deadlineKeys.keys), { ...severityDefaults, ...d.options }),
    '',
    '#### `deadlines.rectification`',
    '',
    'Class-2 kitchen detections (docs/rules/kitchen.md, Rectification): the answer is the alert\'s acknowledge deadline, the re-check its resolve deadline.',
    '',
    specTable(rectificationSpec, Object.keys(rectificationSpec.keys), d.rectification),
    '',
    '### `rescue`',
    '',
    specTable(rescueSpec, Object.keys(rescueSpec.keys), rescueDefaults),
    '',
    '### `storeList`',
    '',
    specTable(storeListSpec, Object.keys(storeListSpec.keys), storeListDefaults),
    '',
    '### `rules`',
    '',
    ruleConfigReference(rules),
  ].join('\n');
}
