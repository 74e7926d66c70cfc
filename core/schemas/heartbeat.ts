import { z } from 'zod';
import { common } from './common.js';

/** any/heartbeat: liveness; every other field is optional (docs/protocol.md). */
export const heartbeat = z.object({
  ...common,
  fw: z.string().max(64).optional(),
  rssi: z.number().finite().min(-200).max(0).optional(),
  uptimeS: z.number().finite().min(0).optional(),
  batteryPct: z.number().finite().min(0).max(100).optional(),
});
export type Heartbeat = z.output<typeof heartbeat>;
