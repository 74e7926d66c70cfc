/** The service's settings (key and value) in DuckDB. */
import type { SettingRepository } from '../types.js';
import type { DuckDbDatabase } from './database.js';
import { all } from './sql.js';

export class DuckDbSettings implements SettingRepository {
  constructor(private readonly db: DuckDbDatabase) {}

  get(key: string): Promise<string | null> {
    return this.db.read(async (c) => {
      const rows = await all(c, 'SELECT value FROM settings WHERE key = ?', [key]);
      return rows[0] ? String(rows[0].value) : null;
    });
  }

  set(key: string, value: string): Promise<void> {
    return this.db.controlTx(async (c) => {
      await c.run('INSERT OR REPLACE INTO settings (key, value) VALUES (?, ?)', [key, value]);
    });
  }
}
