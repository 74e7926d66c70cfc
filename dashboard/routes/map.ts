/**
 * The wall's map (docs/dashboard.md, The map): which city MAP_CITY names, where its district
 * map (GeoJSON, served with the UI's files) is, and its districts' names. The file is read once
 * here, so a city whose map is missing stops start-up rather than the wall.
 */
import { readFileSync } from 'node:fs';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { mapCities } from '../../core/mapCities.js';
import { mapFileOf } from '../maps/cities.js';

const District = z.object({ code: z.string(), name: z.string(), nameEn: z.string() });
const MapOut = z.object({
  city: z.string(),
  name: z.string(),
  nameEn: z.string(),
  /** the GeoJSON FeatureCollection of the city's districts (feature id and properties.adcode: the code) */
  geojson: z.string(),
  districts: z.array(District),
});

interface Feature { id?: string; properties?: { adcode?: string; name?: string; nameEn?: string } }

export const mapRoutes: FastifyPluginAsyncZod = async (app) => {
  const city = app.deps.config.map.city;
  const collection = JSON.parse(readFileSync(mapFileOf(city), 'utf8')) as { features?: Feature[] };
  const districts = (collection.features ?? []).map((f) => ({
    code: String(f.properties?.adcode ?? f.id ?? ''), name: f.properties?.name ?? '', nameEn: f.properties?.nameEn ?? '',
  }));
  const answer = { city, name: mapCities[city]!.name, nameEn: mapCities[city]!.nameEn, geojson: `/maps/${city}.json`, districts };

  app.get('/map', {
    schema: {
      tags: ['dashboard'],
      summary: 'The city the wall\'s map shows (MAP_CITY), the URL of its district map (GeoJSON) and its districts\' names',
      response: { 200: MapOut },
    },
    preHandler: app.requires('readDevices'),
  }, async () => answer);
};
