/**
 * Shared rule pieces. The offline rules of all four families live in ./offline.ts;
 * kitchen.camera_dark and elevator.offline are registered by the kitchen and elevator
 * indexes, cylinder.offline and dispenser.offline by whoever registers those families
 * (`familyOfflineRules` lists them; register each rule once).
 */
import { cylinderOfflineRule, dispenserOfflineRule } from './offline.js';
import type { AnyRule } from './util.js';

export * from './dispatch.js';
export * from './offline.js';
export * from './shardedMap.js';
export * from './util.js';

export const familyOfflineRules: readonly AnyRule[] = [cylinderOfflineRule, dispenserOfflineRule];
