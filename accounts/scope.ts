/**
 * District scope of an account (docs/security.md, District scope; the table of what each route
 * shows a scoped account is in docs/api.md, District scope): an operator or dispatcher may be
 * limited to a GB/T 2260 administrative code prefix ("330106": 西湖区) and then sees and handles
 * only what lies there; `null` is the whole city. Admins are never scoped. Pure.
 *
 * What lies where: an alert by its device's district as it was when the alert opened
 * (`alert.device.district`), a device by its district, a rescue case by its elevator's district
 * (the one kept on the case, else the elevator's as registered now), a store by its kitchen
 * cameras', a cylinder by the filling stations it belongs to. Anything without a district is
 * outside every scope.
 */
import { z } from 'zod';
import type { Role } from '../core/roles.js';

/** A GB/T 2260 code prefix: 2 to 12 digits ("33" a province, "3301" a city, "330106" a district). */
export const DistrictCode = z.string().regex(/^\d{2,12}$/, 'a GB/T 2260 administrative code prefix: 2 to 12 digits');

/** The part of a user (or a request's principal) the scope is read from. */
export interface ScopedUser {
  role: Role;
  district: string | null;
}

/** The prefix an account is limited to; null for the whole city (admins always). */
export function scopeOf(user: ScopedUser): string | null {
  return user.role === 'admin' ? null : user.district;
}

/** Does `district` (of a device, alert, case, store) lie within the scope of `user`? */
export function inScope(user: ScopedUser, district: string | null | undefined): boolean {
  const scope = scopeOf(user);
  return scope === null || (typeof district === 'string' && district.startsWith(scope));
}

/**
 * A list's district filter (a prefix the caller asked for, or none) narrowed to the scope, so
 * the filter goes into the query and pages and counts stay whole: the narrower prefix;
 * `undefined` for no filter at all; `false` when the two exclude each other (nothing matches).
 */
export function scopedDistrict(user: ScopedUser, asked: string | undefined): string | undefined | false {
  const scope = scopeOf(user);
  const want = asked === '' ? undefined : asked;
  if (scope === null) return want;
  if (want === undefined || want.startsWith(scope)) return want ?? scope;
  return scope.startsWith(want) ? scope : false;
}

/** A rescue case's district: the one kept on the case, else its elevator's as registered now. */
export function caseDistrict(c: { elevatorId: string; district?: string | null }, elevatorDistrict: (id: string) => string | null | undefined): string | null {
  return c.district ?? elevatorDistrict(c.elevatorId) ?? null;
}
