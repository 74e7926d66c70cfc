import { z } from 'zod';
import { common, Ident } from './common.js';

/** Scan points of the cylinder life cycle (docs/domain.md §3). */
export const scanPoints = ['pre_fill', 'fill', 'post_fill', 'outbound', 'delivery', 'recovery'] as const;
export type ScanPoint = (typeof scanPoints)[number];

export const cylinderScan = z.object({
  ...common,
  cylinderCode: Ident,
  stationId: Ident,
  point: z.enum(scanPoints),
  operatorId: Ident,
  netKg: z.number().finite().min(0).max(1000).optional(),
  residualPressureMpa: z.number().finite().min(0).max(100).optional(),
}).superRefine((v, ctx) => {
  // docs/protocol.md: netKg is required at post_fill (the overfill check needs it).
  if (v.point === 'post_fill' && v.netKg === undefined) {
    ctx.addIssue({ code: 'custom', path: ['netKg'], message: 'netKg is required when point is post_fill' });
  }
});
export type CylinderScan = z.output<typeof cylinderScan>;

/** Reasons a scan may be refused or flagged (docs/protocol.md, Cylinder scan reply). */
export const scanReasons = [
  'unregistered', 'scrapped', 'lost', 'expired_life', 'inspection_overdue', 'not_owner', 'overfilled',
  'inspection_due_soon', 'no_pre_fill_check', 'cloned_code',
] as const;

/** platform -> device reply; validated before it is sent, and by simulators on receipt. */
export const cylinderScanReply = z.object({
  msgId: z.string().min(1).max(64),
  cylinderCode: Ident,
  decision: z.enum(['allow', 'refuse']),
  reasons: z.array(z.enum(scanReasons)),
  ts: z.iso.datetime({ offset: true }),
});
export type CylinderScanReply = z.output<typeof cylinderScanReply>;
