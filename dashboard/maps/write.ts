/**
 * Writes the shipped schematic maps, dashboard/ui/maps/<city code>.json, one per plan in
 * cities.ts: `npx tsx dashboard/maps/write.ts` after changing a plan or schematic.ts.
 */
import { writeFileSync } from 'node:fs';
import { mapPlans, mapFileOf } from './cities.js';
import { buildSchematic } from './schematic.js';

for (const plan of mapPlans) {
  const file = mapFileOf(plan.code);
  writeFileSync(file, `${JSON.stringify(buildSchematic(plan))}\n`);
  process.stdout.write(`${file}\n`);
}
