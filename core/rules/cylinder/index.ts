/**
 * LPG cylinder rules (docs/domain.md §3; docs/rules/cylinder.md).
 * cylinder.scan_check also emits the alerts `cylinder.refused`, `cylinder.flagged` and
 * `cylinder.inspection_due`; trace.ts derives a stored scan's decision the same way.
 */
import type { AnyRule } from '../common/util.js';
import { clonedCode } from './clonedCode.js';
import { noPreFill } from './noPreFill.js';
import { scanCheck } from './scanCheck.js';

export { clonedCode, noPreFill, scanCheck };
export {
  checkCylinder, checkReasons, decideScan, scanCheckDefaults, sortReasons, wireReasons,
  type CheckReason, type ProblemAlert, type ScanCheckConfig, type ScanDecisionOf, type ScanReason,
} from './cylinderCheck.js';
export { cylinderTrace, stationsOf, traceEntry, versionAt, type CylinderTrace, type TraceEntry } from './trace.js';
export { noPreFillDefaults, type NoPreFillConfig } from './noPreFill.js';
export { clonedCodeDefaults, type ClonedCodeConfig } from './clonedCode.js';

export const cylinderRules: readonly AnyRule[] = [scanCheck, noPreFill, clonedCode];
