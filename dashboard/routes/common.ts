/** Schema pieces shared by the routes. */
import { z } from 'zod';

/** A time in a query: epoch milliseconds or RFC 3339. */
export const TimeParam = z.string().trim().min(1).transform((s, ctx) => {
  const ms = /^\d+$/.test(s) ? Number(s) : Date.parse(s);
  if (!Number.isFinite(ms)) {
    ctx.addIssue({ code: 'custom', message: 'expected epoch milliseconds or an RFC 3339 time, e.g. 2026-11-23T08:00:00+08:00' });
    return z.NEVER;
  }
  return ms;
});

export const limitParam = (def: number, max: number) => z.coerce.number().int().min(1).max(max).default(def);

export const ErrorBody = z.object({
  error: z.object({ code: z.string(), message: z.string(), details: z.unknown().optional() }),
});

export const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());
