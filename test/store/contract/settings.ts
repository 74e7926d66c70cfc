/** The settings repository's contract (store/types.ts SettingRepository), for every store: a key-value table. */
import { beforeAll, describe, expect, it } from 'vitest';
import type { SettingRepository } from '../../../store/types.js';
import type { Open } from './harness.js';

export function settingsContract(store: string, open: Open<SettingRepository>): void {
  describe(`settings (${store})`, () => {
    let settings: SettingRepository;
    beforeAll(async () => { settings = (await open()).repo; });

    it('settings: unknown is null, set, overwrite', async () => {
      expect(await settings.get('token_key')).toBeNull();
      await settings.set('token_key', 'v1');
      expect(await settings.get('token_key')).toBe('v1');
      await settings.set('token_key', 'v2');
      expect(await settings.get('token_key')).toBe('v2');
      await settings.set('other', '');
      expect(await settings.get('other')).toBe('');
    });

    it('keeps a value across a reopen', async () => {
      const first = await open();
      await first.repo.set('position', '{"seq":42}');
      await first.close();
      const again = await first.reopen();
      expect(await again.repo.get('position')).toBe('{"seq":42}');
    });
  });
}
