/**
 * Builds a city's schematic district map (GeoJSON) for the wall (dashboard/ui/js/wallMap.js)
 * from a plan made of public facts only: the city's rough outline and, per district, a few
 * anchor points (its seat and the towns and streets it holds), never from surveyed boundary
 * data. No district boundary data set with a licence this project can ship was found (see
 * docs/dashboard.md, "The map"), so the map is drawn, not traced: every point of the outline
 * belongs to the district of its nearest anchor (a Voronoi diagram of the anchors), which puts
 * the districts in their places, with their neighbours and roughly their sizes, on a wall
 * that shows where the devices and alerts are; it is no survey, and says so.
 *
 * How: each anchor's cell is the bounding box cut by the half-plane closer to it than to every
 * other site (convex clipping, exact), the cells of a district are merged by cancelling the
 * edges they share, and the outline is made by ringing it with sites of no district just
 * outside and of the nearest district just inside, so that the cells meet along it. All in a
 * local plane (longitude scaled by the cosine of the latitude) so that "nearest" means metres.
 *
 * Regenerate the shipped files with `npx tsx dashboard/maps/write.ts` (test/dashboard/
 * mapSchematic.test.ts checks they are what this builds).
 */

export type LngLat = readonly [number, number];

export interface DistrictPlan {
  /** GB/T 2260 code */
  code: string;
  name: string;
  nameEn: string;
  /** where the district's name is written (ECharts reads `properties.cp`) */
  label: LngLat;
  /** the seat first, then towns and streets of the district */
  anchors: readonly LngLat[];
}

export interface CityPlan {
  code: string;
  name: string;
  nameEn: string;
  /** the city's outline, a closed ring without the repeated first point */
  outline: readonly LngLat[];
  districts: readonly DistrictPlan[];
}

type Pt = [number, number];
interface Site { p: Pt; owner: string | null }

/** spacing of the sites along the outline and their distance from it, in degrees of latitude */
const OUTLINE_STEP = 0.02;
const OUTLINE_OFFSET = 0.004;
/** output precision: 4 decimals of a degree, about 10 m */
const DECIMALS = 4;

export function buildSchematic(plan: CityPlan): { type: 'FeatureCollection'; schematic: string; features: object[] } {
  const k = Math.cos((meanLat(plan.outline) * Math.PI) / 180);
  const toPlane = ([lng, lat]: LngLat): Pt => [lng * k, lat];
  const toLngLat = ([x, y]: Pt): Pt => [round(x / k), round(y)];
  const outline = ccw(plan.outline.map(toPlane));
  const real: Site[] = plan.districts.flatMap((d) => d.anchors.map((a) => ({ p: toPlane(a), owner: d.code })));
  for (const s of real) {
    if (!inside(s.p, outline)) throw new Error(`an anchor of ${s.owner} lies outside the outline: ${String(toLngLat(s.p))}`);
  }
  const nearestOwner = (p: Pt): string => real.reduce((b, s) => (dist2(s.p, p) < dist2(b.p, p) ? s : b)).owner!;
  const ring: Site[] = [];
  for (let i = 0; i < outline.length; i++) {
    const a = outline[i]!;
    const b = outline[(i + 1) % outline.length]!;
    const len = Math.hypot(b[0] - a[0], b[1] - a[1]);
    // the outward normal of a counter-clockwise ring is on the right of each edge
    const n: Pt = [(b[1] - a[1]) / len, -(b[0] - a[0]) / len];
    const steps = Math.max(1, Math.round(len / OUTLINE_STEP));
    for (let j = 0; j < steps; j++) {
      const t = (j + 0.5) / steps;
      const p: Pt = [a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t];
      const inner: Pt = [p[0] - n[0] * OUTLINE_OFFSET, p[1] - n[1] * OUTLINE_OFFSET];
      ring.push({ p: inner, owner: nearestOwner(inner) }, { p: [p[0] + n[0] * OUTLINE_OFFSET, p[1] + n[1] * OUTLINE_OFFSET], owner: null });
    }
  }
  const sites = [...real, ...ring];
  const box = bbox(outline, 0.5);
  const snap = snapper();
  const edges = new Map<string, Map<string, number>>();
  for (const s of sites) {
    if (s.owner === null) continue;
    let cell: Pt[] = box;
    for (const o of sites) {
      if (o !== s && dist2(o.p, s.p) > 0) cell = clipCloser(cell, s.p, o.p);
    }
    const keys = cell.map((p) => snap(p));
    const own = edges.get(s.owner) ?? new Map<string, number>();
    edges.set(s.owner, own);
    for (let i = 0; i < keys.length; i++) addEdge(own, keys[i]!, keys[(i + 1) % keys.length]!);
  }
  const features = plan.districts.map((d) => {
    const rings = chain(edges.get(d.code)!).map((r) => dropCollinear(r.map((key) => snap.point(key))));
    const polygons = withHoles(rings.filter((r) => r.length >= 3)).map((poly) => poly.map((r) => closeRing(r.map(toLngLat))));
    const geometry = polygons.length === 1 ? { type: 'Polygon', coordinates: polygons[0] } : { type: 'MultiPolygon', coordinates: polygons };
    return { type: 'Feature', id: d.code, properties: { adcode: d.code, name: d.name, nameEn: d.nameEn, cp: d.label }, geometry };
  });
  return {
    type: 'FeatureCollection',
    schematic: `${plan.name} (${plan.code}): schematic district map built by dashboard/maps/schematic.ts from the city's rough outline and each district's seat, towns and streets (public facts); not surveyed boundaries. Part of this project, under its licence.`,
    features,
  };
}

function meanLat(pts: readonly LngLat[]): number {
  return pts.reduce((s, p) => s + p[1], 0) / pts.length;
}

function round(v: number): number {
  return Number(v.toFixed(DECIMALS));
}

function dist2(a: Pt, b: Pt): number {
  return (a[0] - b[0]) ** 2 + (a[1] - b[1]) ** 2;
}

function signedArea(r: readonly Pt[]): number {
  let s = 0;
  for (let i = 0; i < r.length; i++) {
    const a = r[i]!;
    const b = r[(i + 1) % r.length]!;
    s += a[0] * b[1] - b[0] * a[1];
  }
  return s / 2;
}

function ccw(r: Pt[]): Pt[] {
  return signedArea(r) >= 0 ? r : [...r].reverse();
}

function inside(p: Pt, r: readonly Pt[]): boolean {
  let on = false;
  for (let i = 0, j = r.length - 1; i < r.length; j = i++) {
    const a = r[i]!;
    const b = r[j]!;
    if ((a[1] > p[1]) !== (b[1] > p[1]) && p[0] < ((b[0] - a[0]) * (p[1] - a[1])) / (b[1] - a[1]) + a[0]) on = !on;
  }
  return on;
}

function bbox(r: readonly Pt[], margin: number): Pt[] {
  const xs = r.map((p) => p[0]);
  const ys = r.map((p) => p[1]);
  const [x0, x1, y0, y1] = [Math.min(...xs) - margin, Math.max(...xs) + margin, Math.min(...ys) - margin, Math.max(...ys) + margin];
  return [[x0, y0], [x1, y0], [x1, y1], [x0, y1]];
}

/** The part of convex polygon `poly` closer to `s` than to `o` (Sutherland-Hodgman with one half-plane). */
function clipCloser(poly: Pt[], s: Pt, o: Pt): Pt[] {
  const n: Pt = [o[0] - s[0], o[1] - s[1]];
  const c = (dist2(o, [0, 0]) - dist2(s, [0, 0])) / 2;
  // f(p) <= 0: p is at least as close to s
  const f = (p: Pt): number => p[0] * n[0] + p[1] * n[1] - c;
  const out: Pt[] = [];
  for (let i = 0; i < poly.length; i++) {
    const a = poly[i]!;
    const b = poly[(i + 1) % poly.length]!;
    const fa = f(a);
    const fb = f(b);
    if (fa <= 0) out.push(a);
    if ((fa < 0 && fb > 0) || (fa > 0 && fb < 0)) {
      const t = fa / (fa - fb);
      out.push([a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t]);
    }
  }
  return out;
}

/**
 * Vertices of neighbouring cells are the same point computed from different lines: they are
 * merged when within 1e-9 of a degree, so that shared edges have the same two keys.
 */
function snapper(): ((p: Pt) => string) & { point: (key: string) => Pt } {
  const SCALE = 1e9;
  const cells = new Map<string, Array<{ p: Pt; key: string }>>();
  const byKey = new Map<string, Pt>();
  const fn = (p: Pt): string => {
    const gx = Math.round(p[0] * SCALE);
    const gy = Math.round(p[1] * SCALE);
    for (let dx = -1; dx <= 1; dx++) {
      for (let dy = -1; dy <= 1; dy++) {
        const hit = cells.get(`${gx + dx},${gy + dy}`)?.find((c) => Math.abs(c.p[0] - p[0]) * SCALE <= 1 && Math.abs(c.p[1] - p[1]) * SCALE <= 1);
        if (hit) return hit.key;
      }
    }
    const key = `${gx},${gy}`;
    const list = cells.get(key) ?? [];
    const own = list.length ? `${key}#${list.length}` : key;
    list.push({ p, key: own });
    cells.set(key, list);
    byKey.set(own, p);
    return own;
  };
  return Object.assign(fn, { point: (key: string) => byKey.get(key)! });
}

/** An edge a->b, cancelling an edge b->a already there (shared by two cells of one district). */
function addEdge(edges: Map<string, number>, a: string, b: string): void {
  if (a === b) return;
  const back = `${b}|${a}`;
  const n = edges.get(back) ?? 0;
  if (n > 0) {
    if (n === 1) edges.delete(back); else edges.set(back, n - 1);
    return;
  }
  const fwd = `${a}|${b}`;
  edges.set(fwd, (edges.get(fwd) ?? 0) + 1);
}

/** The edges left after cancelling, chained into closed rings of vertex keys. */
function chain(edges: Map<string, number>): string[][] {
  const next = new Map<string, string[]>();
  for (const [e, n] of edges) {
    const [a, b] = e.split('|') as [string, string];
    for (let i = 0; i < n; i++) next.set(a, [...(next.get(a) ?? []), b]);
  }
  const rings: string[][] = [];
  for (const start of [...next.keys()]) {
    while (next.get(start)?.length) {
      const ring: string[] = [];
      let at = start;
      do {
        ring.push(at);
        const outs = next.get(at)!;
        at = outs.shift()!;
      } while (at !== start && next.get(at)?.length);
      rings.push(ring);
    }
  }
  return rings;
}

function dropCollinear(r: Pt[]): Pt[] {
  const out = r.filter((b, i) => {
    const a = r[(i + r.length - 1) % r.length]!;
    const c = r[(i + 1) % r.length]!;
    const cross = (b[0] - a[0]) * (c[1] - b[1]) - (b[1] - a[1]) * (c[0] - b[0]);
    return Math.abs(cross) > 1e-14;
  });
  return out.length >= 3 ? out : r;
}

/** Counter-clockwise rings are outer rings; each clockwise one is a hole of the outer ring holding it. */
function withHoles(rings: Pt[][]): Pt[][][] {
  const outer = rings.filter((r) => signedArea(r) > 0).map((r) => [r]);
  for (const hole of rings.filter((r) => signedArea(r) < 0)) {
    outer.find((poly) => inside(hole[0]!, poly[0]!))?.push(hole);
  }
  return outer;
}

function closeRing(r: Pt[]): Pt[] {
  return [...r, r[0]!];
}
