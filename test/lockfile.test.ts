/**
 * `npm ci` refuses a lock file that lacks an entry for any optional dependency, even one for
 * another platform. The registry this project is developed against does not serve DuckDB's
 * darwin/win32/arm binaries, so a regenerated lock loses their entries and `npm ci` (the
 * README's first command) fails. This keeps them listed.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

const lock = JSON.parse(readFileSync('package-lock.json', 'utf8')) as { packages: Record<string, { optionalDependencies?: Record<string, string> }> };

describe('package-lock.json', () => {
  it('lists every optional dependency of every package, so npm ci works from a clean clone', () => {
    const missing: string[] = [];
    for (const [path, entry] of Object.entries(lock.packages)) {
      for (const dep of Object.keys(entry.optionalDependencies ?? {})) {
        const nested = `${path}/node_modules/${dep}`;
        if (!lock.packages[`node_modules/${dep}`] && !lock.packages[nested]) missing.push(`${dep} (wanted by ${path || 'the project'})`);
      }
    }
    expect(missing).toEqual([]);
  });
});
