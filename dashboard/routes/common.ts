/** Schema pieces and lookups shared by the routes. */
import { z } from 'zod';
import type { AlertService } from '../../alerts/alertService.js';
import { CodedError } from '../../core/codes.js';

/** The latest time a query may name: 9999-12-31T23:59:59.999Z (DuckDB timestamps go further; people do not). */
export const MAX_TIME_MS = 253_402_300_799_999;

const RFC3339 = /^\d{4}-\d{2}-\d{2}([Tt ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?([Zz]|[+-]\d{2}:\d{2})?)?$/;

/** A time in a query: epoch milliseconds or RFC 3339, from 1970 to the year 9999. */
export const TimeParam = z.string().trim().min(1).max(40).transform((s, ctx) => {
  const ms = /^\d{1,16}$/.test(s) ? Number(s) : RFC3339.test(s) ? Date.parse(s) : NaN;
  if (!Number.isSafeInteger(ms) || ms < 0 || ms > MAX_TIME_MS) {
    ctx.addIssue({ code: 'custom', message: 'expected epoch milliseconds or an RFC 3339 time between 1970 and 9999, e.g. 2026-11-23T08:00:00+08:00' });
    return z.NEVER;
  }
  return ms;
});

/** A whole number in a query: digits only (no 1e3, 0x10, spaces or fractions), within [min, max]. */
export const wholeParam = (min: number, max: number) => z.string().trim().regex(/^\d{1,10}$/, 'expected a whole number').transform(Number).pipe(z.number().int().min(min).max(max));

export const limitParam = (def: number, max: number) => wholeParam(1, max).default(def);

/** Rows to skip in a paged list. */
export const offsetParam = wholeParam(0, 10_000_000).default(0);

export const ErrorBody = z.object({
  error: z.object({ code: z.string(), message: z.string(), details: z.unknown().optional() }),
});

/** The code and parameters of a note the system wrote (core/alerts/systemNotes.ts), on timeline entries and store-list steps. */
export const SystemNoteOut = {
  code: z.string().optional().describe('a system note\'s code (core/alerts/systemNotes.ts); `note` is its English text'),
  params: z.record(z.string(), z.union([z.string(), z.number()])).optional().describe('the system note\'s parameters'),
};

export const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());

/** A text filter in a query: at most `max` characters, no control characters (NUL included). */
export const filterText = (max: number) => z.string().max(max).regex(/^[^\u0000-\u001f\u007f]*$/, 'no control characters');

/** The running alert engine, or 503 `unavailable` (a service started without one, e.g. in a store-only test). */
export function runningEngine(deps: { engine: AlertService | null }): AlertService {
  if (!deps.engine) throw new CodedError('unavailable', 'the alert engine is not running');
  return deps.engine;
}
