/**
 * GET /api/map (dashboard/routes/map.ts): the city MAP_CITY names, its GeoJSON's URL, served
 * with the UI's files to anyone (the page loads it as it loads i18n.json) and bounded to the
 * city, and its districts' names; every signed-in role may read it, nobody without a token.
 */
import { describe, expect, it } from 'vitest';
import { apiFor, expectError, routeService } from '../../helpers/api.js';
import type { TestService } from '../../helpers/service.js';

let ts: TestService;
let opToken: string;
let dispToken: string;
const api = apiFor(() => ts);
routeService({}, (s) => ({ ts, opToken, dispToken } = s));

describe('GET /api/map', () => {
  it('names Hangzhou by default, its GeoJSON and its districts, for every role', async () => {
    for (const token of [ts.adminToken, opToken, dispToken]) {
      const res = await api('GET', '/api/map', { token });
      expect(res.statusCode, res.body).toBe(200);
      expect(res.data).toMatchObject({ city: '330100', name: '杭州市', nameEn: 'Hangzhou', geojson: '/maps/330100.json' });
      expect(res.data.districts).toContainEqual({ code: '330106', name: '西湖区', nameEn: 'Xihu' });
      expect(res.data.districts).toHaveLength(13);
    }
    expectError(await api('GET', '/api/map', { token: null }), 401, 'unauthorized');
  });

  it('the GeoJSON is served as a UI file: the city only, with every district', async () => {
    const res = await ts.service.http.inject({ method: 'GET', url: '/maps/330100.json' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/json/);
    expect(res.rawPayload.length).toBeLessThan(64 * 1024);
    const geo = res.json() as { type: string; features: Array<{ id: string }> };
    expect(geo.type).toBe('FeatureCollection');
    expect(geo.features.map((f) => f.id)).toContain('330113');
    expect(geo.features.every((f) => f.id.startsWith('3301'))).toBe(true);
  });
});
