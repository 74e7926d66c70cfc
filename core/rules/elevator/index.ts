/** Elevator rules (docs/domain.md §2), for the engine to register. docs/rules/elevator.md has one row each. */
import { elevatorOfflineRule } from '../common/offline.js';
import type { AnyRule } from '../common/util.js';
import { faultRule } from './fault.js';
import { repeatedTrappingRule } from './repeatedTrapping.js';
import { trappedRule } from './trapped.js';

export { elevatorOfflineRule } from '../common/offline.js';
export * from './codes.js';
export { FAULT_RULE_ID, faultDefaults, faultRule, type FaultConfig, type FaultState } from './fault.js';
export * from './trapped.js';
export {
  REPEATED_TRAPPING_RULE_ID, recordTrappedIncident, repeatedTrappingDefaults, repeatedTrappingRule,
  type RepeatedTrappingConfig, type RepeatedTrappingState, type TrappedIncident,
} from './repeatedTrapping.js';

export const elevatorRules: readonly AnyRule[] = [faultRule, trappedRule, repeatedTrappingRule, elevatorOfflineRule];
