/**
 * Calendar dates for cylinder records and scan checks.
 *
 * Convention (core/alerts/types.ts, CylinderRecord): a date is the epoch ms of that
 * calendar date's UTC midnight. Record dates are China local dates (the registry, the
 * stamping on the cylinder and the inspection certificate all use the local date), so an
 * instant is turned into a date in China Standard Time, UTC+8 (no daylight saving), unless a
 * rule is configured with another offset.
 *
 * Pure: no clock. `new Date(ms)` with an argument only reads calendar fields.
 */

export const DAY_MS = 86_400_000;

/** China Standard Time, UTC+8, in minutes. */
export const CHINA_UTC_OFFSET_MINUTES = 480;

/** The local calendar date of an instant, as the UTC midnight of that date (epoch ms). */
export function localDate(instantMs: number, utcOffsetMinutes: number = CHINA_UTC_OFFSET_MINUTES): number {
  return Math.floor((instantMs + utcOffsetMinutes * 60_000) / DAY_MS) * DAY_MS;
}

/**
 * `date` plus whole calendar years. 29 February plus years that land on a common year gives
 * 28 February, the earlier day: for life limits the stricter reading.
 */
export function addYears(dateMs: number, years: number): number {
  const d = new Date(dateMs);
  const y = d.getUTCFullYear() + years;
  const m = d.getUTCMonth();
  const lastDay = new Date(Date.UTC(y, m + 1, 0)).getUTCDate();
  return Date.UTC(y, m, Math.min(d.getUTCDate(), lastDay));
}

/** YYYY-MM-DD of a date (UTC midnight epoch ms). */
export function isoDate(dateMs: number): string {
  return new Date(dateMs).toISOString().slice(0, 10);
}

/** Whole days from date `a` to date `b` (both UTC midnights): negative when b is before a. */
export function daysBetween(a: number, b: number): number {
  return Math.round((b - a) / DAY_MS);
}
