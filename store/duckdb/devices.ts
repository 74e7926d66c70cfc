/** The device registry and connection states in DuckDB. */
import type { DuckDBAppender, DuckDBValue } from '@duckdb/node-api';
import type { Family } from '../../core/schemas/index.js';
import { connectionStateOf } from '../rows.js';
import type { ConnectionState, DeviceImportWriter, DeviceRecord, DeviceRepository } from '../types.js';
import type { DuckDbDatabase } from './database.js';
import { all, appendNullable, appendTs } from './sql.js';

/** The control connection's temporary table of a device import (beginImport). */
const DEVICE_IMPORT_STAGE = 'device_import_stage';

export class DuckDbDevices implements DeviceRepository {
  /** a device import's staging table exists (beginImport) */
  private importOpen = false;

  constructor(private readonly db: DuckDbDatabase) {}

  /** The connection closed: its temporary table went with it. */
  closed(): void {
    this.importOpen = false;
  }

  insert(devices: readonly DeviceRecord[]): Promise<void> {
    return this.db.controlTx(async (c) => {
      const stmt = await c.prepare(`INSERT INTO devices (id, family, name, lat, lng, district, meta, secret_hash, created_at, updated_at)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, epoch_ms(?::BIGINT), epoch_ms(?::BIGINT))`);
      for (const d of devices) {
        stmt.bind(deviceParams(d));
        await stmt.run();
      }
    });
  }

  update(d: DeviceRecord): Promise<void> {
    return this.db.controlTx(async (c) => {
      await c.run(`UPDATE devices SET family = ?, name = ?, lat = ?, lng = ?, district = ?, meta = ?, secret_hash = ?,
        created_at = epoch_ms(?::BIGINT), updated_at = epoch_ms(?::BIGINT) WHERE id = ?`, [...deviceParams(d).slice(1), d.id]);
    });
  }

  /**
   * A bulk device write (DeviceRegistry.import) that never holds the event loop or the
   * control queue for long: each `stage` appends one chunk to a temporary table of the control
   * connection as a short job of its own (other control writes and checkpoints go on between
   * chunks; a temporary table is not logged), and `commit` moves every staged row into
   * `devices` in one transaction of two statements that DuckDB runs off the event loop
   * (~130 ms for 100,000 rows on this machine). A failure rolls the whole write back.
   */
  async beginImport(): Promise<DeviceImportWriter> {
    if (this.importOpen) throw new Error('a device import is already being written');
    this.importOpen = true;
    const drop = (): Promise<void> => this.db.controlIfOpen(async (c) => {
      this.importOpen = false;
      // a store closed meanwhile took its temporary table with the connection
      if (c) await c.run(`DROP TABLE IF EXISTS temp.${DEVICE_IMPORT_STAGE}`);
    });
    try {
      await this.db.control((c) => c.run(`CREATE OR REPLACE TEMP TABLE ${DEVICE_IMPORT_STAGE} (id VARCHAR, family VARCHAR,
        name VARCHAR, lat DOUBLE, lng DOUBLE, district VARCHAR, meta VARCHAR, secret_hash VARCHAR, created_at TIMESTAMP, updated_at TIMESTAMP, is_update BOOLEAN)`));
    } catch (err) {
      this.importOpen = false;
      throw err;
    }
    return {
      stage: (created, updated) => this.db.control(async (c) => {
        const a = await c.createAppender(DEVICE_IMPORT_STAGE, null, 'temp');
        try {
          for (const d of created) appendStagedDevice(a, d, false);
          for (const d of updated) appendStagedDevice(a, d, true);
          a.flushSync();
        } finally {
          a.closeSync();
        }
      }),
      commit: async () => {
        try {
          await this.db.controlTx(async (c) => {
            await c.run(`INSERT INTO devices SELECT id, family, name, lat, lng, district, meta, secret_hash, created_at, updated_at
              FROM temp.${DEVICE_IMPORT_STAGE} WHERE NOT is_update`);
            await c.run(`UPDATE devices SET name = s.name, lat = s.lat, lng = s.lng, district = s.district, meta = s.meta, updated_at = s.updated_at
              FROM temp.${DEVICE_IMPORT_STAGE} s WHERE s.is_update AND devices.id = s.id`);
          });
        } finally {
          await drop().catch(() => undefined);
        }
      },
      abort: drop,
    };
  }

  load(): Promise<DeviceRecord[]> {
    return this.db.read(async (c) => {
      const rows = await all(c, `SELECT id, family, name, lat, lng, district, meta, secret_hash,
        epoch_ms(created_at)::DOUBLE AS created_at, epoch_ms(updated_at)::DOUBLE AS updated_at FROM devices ORDER BY id`);
      return rows.map((r) => ({
        id: String(r.id),
        family: String(r.family) as Family,
        name: r.name === null ? null : String(r.name),
        location: r.lat === null || r.lng === null ? null : { lat: Number(r.lat), lng: Number(r.lng) },
        district: r.district === null ? null : String(r.district),
        meta: r.meta ? JSON.parse(String(r.meta)) as Record<string, unknown> : {},
        secretHash: String(r.secret_hash),
        createdAt: Number(r.created_at),
        updatedAt: Number(r.updated_at),
      }));
    });
  }

  saveConnectionStates(states: readonly ConnectionState[]): Promise<void> {
    if (!states.length) return Promise.resolve();
    return this.db.controlTx(async (c) => {
      // Stage with an appender, then one upsert: a reconnect storm dirties every device at once.
      const a = await c.createAppender('device_state_stage');
      try {
        for (const s of states) {
          a.appendVarchar(s.deviceId);
          a.appendBoolean(s.connected);
          appendTs(a, s.lastSeen);
          appendTs(a, s.lastConnectedAt);
          appendTs(a, s.lastDisconnectedAt);
          if (s.remoteAddress === null) a.appendNull(); else a.appendVarchar(s.remoteAddress);
          a.endRow();
        }
        a.flushSync();
      } finally {
        a.closeSync();
      }
      await c.run('INSERT OR REPLACE INTO device_state SELECT * FROM device_state_stage');
      await c.run('DELETE FROM device_state_stage');
    });
  }

  loadConnectionStates(): Promise<ConnectionState[]> {
    return this.db.read(async (c) => {
      const rows = await all(c, `SELECT device_id, connected, epoch_ms(last_seen)::DOUBLE AS last_seen,
        epoch_ms(last_connected_at)::DOUBLE AS last_connected_at, epoch_ms(last_disconnected_at)::DOUBLE AS last_disconnected_at,
        remote_address FROM device_state`);
      return rows.map(connectionStateOf);
    });
  }
}

function appendStagedDevice(a: DuckDBAppender, d: DeviceRecord, isUpdate: boolean): void {
  a.appendVarchar(d.id);
  a.appendVarchar(d.family);
  appendNullable(a, d.name);
  if (d.location) { a.appendDouble(d.location.lat); a.appendDouble(d.location.lng); } else { a.appendNull(); a.appendNull(); }
  appendNullable(a, d.district);
  a.appendVarchar(JSON.stringify(d.meta));
  a.appendVarchar(d.secretHash);
  appendTs(a, d.createdAt);
  appendTs(a, d.updatedAt);
  a.appendBoolean(isUpdate);
  a.endRow();
}

function deviceParams(d: DeviceRecord): DuckDBValue[] {
  return [d.id, d.family, d.name, d.location?.lat ?? null, d.location?.lng ?? null, d.district, JSON.stringify(d.meta), d.secretHash, d.createdAt, d.updatedAt];
}
