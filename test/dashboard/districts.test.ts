/**
 * District codes by name (dashboard/ui/js/districts.js; docs/dashboard.md, District names) as a
 * table: a district in Chinese and English, a street's 9-digit and a community's 12-digit code
 * as the district's name and the rest of the code, a city's prefix as the city, codes the table
 * does not have as themselves, nothing for none; and the table agrees with the names of every
 * shipped map (dashboard/ui/maps/), so the map and the lists never name a district twice over.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';

interface Districts {
  districtName: (code: string | null | undefined, lang?: 'zh' | 'en') => string;
  districtNames: Map<string, [string, string]>;
}
let d: Districts;

beforeAll(async () => {
  // i18n.js (for the current language) reads localStorage when imported
  const store: Record<string, string> = {};
  (globalThis as { localStorage?: unknown }).localStorage ??= { getItem: (k: string) => store[k] ?? null, setItem: (k: string, v: string) => { store[k] = v; } };
  (globalThis as { document?: unknown }).document ??= { documentElement: {}, title: '' };
  // a browser module (plain JS, no declarations): imported by URL so the compiler does not type it
  d = (await import(new URL('../../dashboard/ui/js/districts.js', import.meta.url).href)) as Districts;
});

describe('districtName', () => {
  it.each([
    ['330106', 'zh', '西湖区'],
    ['330106', 'en', 'Xihu'],
    ['330112', 'en', "Lin'an"],
    ['330113', 'zh', '临平区'],
    ['330182', 'zh', '建德市'],
    // a street (9 digits) and a community (12 digits): the district and the rest of the code
    ['330106901', 'zh', '西湖区 901'],
    ['330106901', 'en', 'Xihu 901'],
    ['330106001002', 'zh', '西湖区 001002'],
    // codes from before the 2021 reorganisation still read as places
    ['330104', 'zh', '江干区'],
    ['330103', 'en', 'Xiacheng'],
    // the city's own code and its 4-digit prefix (a district filter, a user's scope)
    ['330100', 'zh', '杭州市'],
    ['3301', 'en', 'Hangzhou'],
    // unknown: the code itself, in both languages
    ['310101', 'zh', '310101'],
    ['310101001', 'en', '310101001'],
    ['33', 'zh', '33'],
    ['33010x', 'zh', '33010x'],
    ['west', 'en', 'west'],
    // none: nothing (the views show their own dash)
    [null, 'zh', ''],
    [undefined, 'en', ''],
    ['', 'zh', ''],
  ] as const)('%j (%s) -> %j', (code, lang, want) => {
    expect(d.districtName(code, lang)).toBe(want);
  });

  it('takes a number as its digits', () => {
    expect(d.districtName(330106 as unknown as string, 'zh')).toBe('西湖区');
  });
});

describe('the name table and the shipped maps', () => {
  const dir = new URL('../../dashboard/ui/maps/', import.meta.url);
  const maps = readdirSync(dir).filter((f) => f.endsWith('.json'));

  it('there is a map, and every district of it is in the table with the same names', () => {
    expect(maps.length).toBeGreaterThan(0);
    for (const file of maps) {
      const geo = JSON.parse(readFileSync(new URL(file, dir), 'utf8')) as { features: Array<{ id: string; properties: { adcode: string; name: string; nameEn: string } }> };
      expect(geo.features.length, file).toBeGreaterThan(0);
      for (const f of geo.features) {
        expect(f.id).toBe(f.properties.adcode);
        expect(d.districtNames.get(f.id), `${file}: ${f.id}`).toEqual([f.properties.name, f.properties.nameEn]);
      }
    }
  });
});
