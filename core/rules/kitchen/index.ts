/** Kitchen-camera rules (docs/domain.md §1), for the engine to register. docs/rules/kitchen.md has one row each. */
import { cameraDarkRule } from '../common/offline.js';
import type { AnyRule } from '../common/util.js';
import { repeatOffenderRule } from './repeatOffender.js';
import { storeScoreRule } from './storeScore.js';
import { violationRule } from './violation.js';

export { cameraDarkRule } from '../common/offline.js';
export * from './repeatOffender.js';
export * from './storeScore.js';
export * from './violation.js';

export const kitchenRules: readonly AnyRule[] = [violationRule, repeatOffenderRule, storeScoreRule, cameraDarkRule];
