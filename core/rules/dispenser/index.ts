/** Fuel dispenser anti-cheating rules (docs/domain.md §4; docs/rules/dispenser.md). */
import type { AnyRule } from '../common/util.js';
import { amountMismatch } from './amountMismatch.js';
import { flow } from './flow.js';
import { pulses } from './pulses.js';
import { tamper } from './tamper.js';
import { tankReconciliation } from './tankReconciliation.js';
import { totalizer } from './totalizer.js';

export { amountMismatch, flow, pulses, tamper, tankReconciliation, totalizer };
export { amountMismatchDefaults, amountFen, expectedFen, type AmountMismatchConfig } from './amountMismatch.js';
export { totalizerDefaults, type TotalizerConfig } from './totalizer.js';
export { flowDefaults, type FlowConfig } from './flow.js';
export { pulsesDefaults, type PulsesConfig } from './pulses.js';
export { tamperDefaults, type TamperConfig } from './tamper.js';
export { balanceOf, tankReconciliationDefaults, type TankReconciliationConfig } from './tankReconciliation.js';

export const dispenserRules: readonly AnyRule[] = [amountMismatch, totalizer, flow, pulses, tamper, tankReconciliation];
