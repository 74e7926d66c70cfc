/**
 * The cities whose district map ships with the dashboard, by GB/T 2260 code: what MAP_CITY
 * (service/config.ts) may name. Each has a plan in dashboard/maps/ and a GeoJSON file in
 * dashboard/ui/maps/ (test/dashboard/mapSchematic.test.ts checks both ways).
 */
export const mapCities: Readonly<Record<string, { readonly name: string; readonly nameEn: string }>> = Object.freeze({
  '330100': Object.freeze({ name: '杭州市', nameEn: 'Hangzhou' }),
});

export const isMapCity = (code: string): boolean => Object.hasOwn(mapCities, code);
