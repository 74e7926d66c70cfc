/**
 * LPG cylinder rules (docs/domain.md §3; docs/rules/cylinder.md).
 * cylinder.scan_check also emits the alerts `cylinder.refused` and `cylinder.inspection_due`.
 */
import type { AnyRule } from '../common/util.js';
import { clonedCode } from './clonedCode.js';
import { noPreFill } from './noPreFill.js';
import { scanCheck } from './scanCheck.js';

export { clonedCode, noPreFill, scanCheck };
export { checkCylinder, scanCheckDefaults, sortReasons, type ScanCheckConfig, type ScanReason } from './scanCheck.js';
export { noPreFillDefaults, type NoPreFillConfig } from './noPreFill.js';
export { clonedCodeDefaults, type ClonedCodeConfig } from './clonedCode.js';

export const cylinderRules: readonly AnyRule[] = [scanCheck, noPreFill, clonedCode];
