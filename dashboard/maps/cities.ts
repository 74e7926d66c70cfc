/**
 * The cities whose district map ships with the dashboard (MAP_CITY, service/config.ts; the wall's
 * map, docs/dashboard.md "The map"): each one's plan and the GeoJSON file served to the browser.
 */
import path from 'node:path';
import { mapCities } from '../../core/mapCities.js';
import { uiRoot } from '../ui/serve.js';
import { hangzhou } from './hangzhou.js';
import type { CityPlan } from './schematic.js';

export const mapPlans: readonly CityPlan[] = [hangzhou];

/** The shipped GeoJSON of a city: dashboard/ui/maps/<code>.json beside the UI (uiRoot: also when running from dist/). */
export function mapFileOf(code: string): string {
  return path.join(uiRoot(), 'maps', `${code}.json`);
}

// every city MAP_CITY accepts has a plan, and the other way round
for (const code of Object.keys(mapCities)) {
  if (!mapPlans.some((p) => p.code === code)) throw new Error(`core/mapCities.ts names ${code} but dashboard/maps has no plan for it`);
}
