/**
 * Every alert rule of docs/domain.md §1-§4, one list per family (docs/rules.md indexes their docs).
 */
import type { AnyRule } from '../ruleRunner.js';
import { familyOfflineRules } from './common/index.js';
import { cylinderRules } from './cylinder/index.js';
import { dispenserRules } from './dispenser/index.js';
import { elevatorRules } from './elevator/index.js';
import { kitchenRules } from './kitchen/index.js';

export const allRules: readonly AnyRule[] = [...kitchenRules, ...elevatorRules, ...cylinderRules, ...dispenserRules, ...familyOfflineRules];

/** The rule whose alerts open a 96333 rescue case. */
export const RESCUE_RULE = 'elevator.trapped';
