import { z } from 'zod';

/** platform -> device `{family}/{id}/error` (docs/protocol.md). `reason` is a code from core/codes.ts. */
export const deviceError = z.object({
  msgId: z.string().optional(),
  topic: z.string(),
  reason: z.string(),
  detail: z.string(),
  issues: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
  ts: z.iso.datetime({ offset: true }),
});
export type DeviceError = z.output<typeof deviceError>;
