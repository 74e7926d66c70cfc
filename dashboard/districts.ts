/**
 * Where the things without a district of their own lie, read from the device registry, for the
 * district scope of accounts (accounts/scope.ts; docs/api.md, District scope): a store lies in
 * its kitchen cameras' district, a filling station in its code scanners', a rescue case in its
 * elevator's.
 */
import { caseDistrict, inScope, scopeOf, type ScopedUser } from '../accounts/scope.js';
import type { DeviceRegistry } from '../devices/deviceRegistry.js';

type Registry = Pick<DeviceRegistry, 'list' | 'get'>;

/**
 * A store's district: that of its first kitchen camera in registry order (as the store lists
 * name it, dashboard/routes/storeLists.ts); null when no camera names the store.
 */
export function storeDistrictOf(registry: Registry, storeId: string): string | null {
  for (const d of registry.list({ family: 'kitchen', limit: Number.MAX_SAFE_INTEGER, offset: 0 }).items) {
    if (d.meta.storeId === storeId) return d.district;
  }
  return null;
}

/** The stores whose district (storeDistrictOf) lies in the user's scope; null when the user sees the whole city. */
export function storesInScope(registry: Registry, user: ScopedUser): Set<string> | null {
  if (scopeOf(user) === null) return null;
  const first = new Map<string, string | null>();
  for (const d of registry.list({ family: 'kitchen', limit: Number.MAX_SAFE_INTEGER, offset: 0 }).items) {
    const id = d.meta.storeId;
    if (typeof id === 'string' && id && !first.has(id)) first.set(id, d.district);
  }
  return new Set([...first].filter(([, district]) => inScope(user, district)).map(([id]) => id));
}

/** The filling stations with a code scanner in the user's scope; null when the user sees the whole city. */
export function stationsInScope(registry: Registry, user: ScopedUser): Set<string> | null {
  if (scopeOf(user) === null) return null;
  const out = new Set<string>();
  for (const d of registry.list({ family: 'cylinder', limit: Number.MAX_SAFE_INTEGER, offset: 0 }).items) {
    const id = d.meta.stationId;
    if (typeof id === 'string' && id && inScope(user, d.district)) out.add(id);
  }
  return out;
}

/** A rescue case's district: the one kept on it, else its elevator's as registered now. */
export function rescueCaseDistrict(registry: Registry, c: { elevatorId: string; district?: string | null }): string | null {
  return caseDistrict(c, (id) => registry.get(id)?.district);
}
