/** The service's settings (key and value) in PostgreSQL, as store/duckdb/settings.ts: set overwrites. */
import type { SettingRepository } from '../types.js';
import type { PostgresDatabase } from './database.js';

export class PgSettings implements SettingRepository {
  constructor(private readonly db: PostgresDatabase) {}

  async get(key: string): Promise<string | null> {
    const rows = await this.db.rows('SELECT value FROM settings WHERE key = $1', [key]);
    return rows[0] ? String(rows[0].value) : null;
  }

  async set(key: string, value: string): Promise<void> {
    // an upsert, atomic where DuckDB's INSERT OR REPLACE is: two nodes setting a key race to the last write, not to an error
    await this.db.run('INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value', [key, value]);
  }
}
