/** The settings repository (store/duckdb/settings.ts) in a temp dir: a key-value table. */
import { beforeAll, describe, expect, it } from 'vitest';
import type { DuckDbStore } from '../../../store/duckdbStore.js';
import { freshStore } from './fixtures.js';

describe('settings', () => {
  let s: DuckDbStore;
  beforeAll(async () => { s = await freshStore(); });

  it('settings: unknown is null, set, overwrite', async () => {
    expect(await s.settings.get('token_key')).toBeNull();
    await s.settings.set('token_key', 'v1');
    expect(await s.settings.get('token_key')).toBe('v1');
    await s.settings.set('token_key', 'v2');
    expect(await s.settings.get('token_key')).toBe('v2');
    await s.settings.set('other', '');
    expect(await s.settings.get('other')).toBe('');
  });
});
