import { z } from 'zod';
import { common, Ident } from './common.js';

/** Detection types (docs/protocol.md kitchen/violation; docs/domain.md §1). */
export const violationTypes = [
  'rat', 'no_chef_hat', 'no_mask', 'no_uniform', 'no_gloves', 'smoking', 'phone',
  'trash_uncovered', 'unattended_flame', 'board_mixed', 'containers_stacked',
  'raw_cooked_mixed', 'stranger',
] as const;
export type ViolationType = (typeof violationTypes)[number];

const unit = z.number().finite().min(0).max(1);

export const kitchenViolation = z.object({
  ...common,
  storeId: Ident,
  type: z.enum(violationTypes),
  confidence: unit,
  area: z.string().max(128).optional(),
  snapshotUrl: z.string().max(2048).optional(),
  bbox: z.tuple([unit, unit, unit, unit])
    .refine(([x1, y1, x2, y2]) => x1 <= x2 && y1 <= y2, 'bbox must be [x1,y1,x2,y2] with x1<=x2 and y1<=y2')
    .optional(),
});
export type KitchenViolation = z.output<typeof kitchenViolation>;
