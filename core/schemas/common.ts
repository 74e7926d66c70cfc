import { z } from 'zod';

/** Device families and their channels, as in docs/protocol.md (Topics). */
export const families = ['kitchen', 'elevator', 'cylinder', 'dispenser'] as const;
export type Family = (typeof families)[number];

/** deviceId pattern from docs/protocol.md: `[A-Za-z0-9_-]{1,64}`. */
export const deviceIdPattern = /^[A-Za-z0-9_-]{1,64}$/;
export const DeviceId = z.string().regex(deviceIdPattern, 'must match [A-Za-z0-9_-]{1,64}');

/** A short identifier sent by a device (store, station, operator, tank...). */
export const Ident = z.string().min(1).max(64);

// Device time bounds. A clock that says 1970 or 2200 is broken; rejecting it with a clear
// reason is better than storing a reading nobody can find in a time window.
const MIN_TS = Date.UTC(2000, 0, 1);
const MAX_TS = Date.UTC(2100, 0, 1);

/**
 * `ts`: RFC 3339 with an offset, or integer epoch milliseconds (docs/protocol.md, Payloads).
 * Normalised to epoch milliseconds. Epoch *seconds* is a common firmware mistake; the
 * message says so instead of a bare range error.
 */
export const Timestamp = z.union([
  z.iso.datetime({ offset: true, local: false }).transform((s) => Date.parse(s)),
  z.number().int(),
]).transform((ms, ctx) => {
  if (!Number.isFinite(ms) || ms < MIN_TS || ms >= MAX_TS) {
    const hint = ms >= MIN_TS / 1000 && ms < MAX_TS / 1000 ? ' (this looks like epoch seconds; send milliseconds)' : '';
    ctx.addIssue({ code: 'custom', message: `timestamp out of range 2000-01-01..2100-01-01${hint}` });
    return z.NEVER;
  }
  return ms;
});

/** Fields every device -> platform payload carries. */
export const common = {
  msgId: z.string().min(1).max(64),
  ts: Timestamp,
};

export const finite = () => z.number().finite();
export const nonNegative = () => z.number().finite().min(0);
