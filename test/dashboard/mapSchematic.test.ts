/**
 * The shipped district maps (dashboard/maps/, dashboard/ui/maps/; docs/dashboard.md, The map):
 * each file is exactly what its plan builds (so a change to a plan or to the builder is
 * regenerated, never edited by hand), MAP_CITY's cities and the plans match, every district of
 * the plan is one feature whose polygon holds every anchor of that district and its label
 * point, no anchor lies in another district, and a city's file stays small (it is sent to every
 * wall).
 */
import { readFileSync, statSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { mapCities } from '../../core/mapCities.js';
import { mapFileOf, mapPlans } from '../../dashboard/maps/cities.js';
import { buildSchematic, type LngLat } from '../../dashboard/maps/schematic.js';

type Ring = Array<[number, number]>;
interface Feature { id: string; properties: { name: string; cp: LngLat }; geometry: { type: 'Polygon' | 'MultiPolygon'; coordinates: Ring[] | Ring[][] } }

const polygonsOf = (f: Feature): Ring[][] => (f.geometry.type === 'Polygon' ? [f.geometry.coordinates as Ring[]] : f.geometry.coordinates as Ring[][]);

function inRing(p: LngLat, r: Ring): boolean {
  let on = false;
  for (let i = 0, j = r.length - 1; i < r.length; j = i++) {
    const [ax, ay] = r[i]!;
    const [bx, by] = r[j]!;
    if ((ay > p[1]) !== (by > p[1]) && p[0] < ((bx - ax) * (p[1] - ay)) / (by - ay) + ax) on = !on;
  }
  return on;
}
const inFeature = (p: LngLat, f: Feature): boolean => polygonsOf(f).some(([outer, ...holes]) => inRing(p, outer!) && !holes.some((h) => inRing(p, h)));

describe('shipped district maps', () => {
  it('MAP_CITY accepts exactly the cities with a plan', () => {
    expect(mapPlans.map((p) => p.code).sort()).toEqual(Object.keys(mapCities).sort());
  });

  it.each(mapPlans.map((p) => [p.code, p] as const))('%s: the file is what the plan builds, under 64 KiB', (_code, plan) => {
    const file = mapFileOf(plan.code);
    expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual(JSON.parse(JSON.stringify(buildSchematic(plan))));
    expect(statSync(file).size).toBeLessThan(64 * 1024);
  });

  it.each(mapPlans.map((p) => [p.code, p] as const))('%s: one feature per district, holding its anchors and label and no other district\'s anchor', (_code, plan) => {
    const geo = buildSchematic(plan) as unknown as { features: Feature[] };
    expect(geo.features.map((f) => f.id)).toEqual(plan.districts.map((d) => d.code));
    for (const d of plan.districts) {
      const own = geo.features.find((f) => f.id === d.code)!;
      expect(own.properties.name).toBe(d.name);
      for (const a of [...d.anchors, d.label]) expect(inFeature(a, own), `${d.name} ${String(a)}`).toBe(true);
      for (const other of geo.features.filter((f) => f !== own)) {
        for (const a of d.anchors) expect(inFeature(a, other), `${d.name} ${String(a)} in ${other.properties.name}`).toBe(false);
      }
    }
  });
});
