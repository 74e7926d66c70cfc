/**
 * The device registry and connection states in PostgreSQL, with the semantics of
 * store/duckdb/devices.ts: load in id order (byte order: the column is COLLATE "C"), a batch
 * insert all or nothing, an update of an unknown id a no-op, connection states upserted.
 * Batches go in as one statement of array parameters (database.ts, unnest).
 */
import type { Family } from '../../core/schemas/index.js';
import { connectionStateOf } from '../rows.js';
import type { ConnectionState, DeviceImportWriter, DeviceRecord, DeviceRepository } from '../types.js';
import { ms, msOrNull, num, strOrNull, unnest, type HeldConnection, type PostgresDatabase, type Row, type Sql } from './database.js';

const DEVICE_COLUMNS = 'id, family, name, lat, lng, district, meta, secret_hash, created_at, updated_at';

const DEVICE_TYPES = ['text', 'text', 'text', 'float8', 'float8', 'text', 'text', 'text', 'int8', 'int8'];
/** Rows of DEVICE_COLUMNS from one array parameter per column, $1 to $10. */
const UNNEST_DEVICES = unnest(DEVICE_TYPES);
/** The same with the import's is_update flags, $11 (beginImport's staging rows). */
const UNNEST_STAGED = unnest([...DEVICE_TYPES, 'boolean']);

/** The import's staging table: a temporary table of the import's own connection (beginImport). */
const STAGE_TABLE = 'device_import_stage';
/** ... named in its session's own schema, so no permanent table of the name is ever meant */
const STAGE = `pg_temp.${STAGE_TABLE}`;

export class PgDevices implements DeviceRepository {
  /** the connection of the device import being written, 'starting' while it is set up */
  private importing: HeldConnection | 'starting' | null = null;

  constructor(private readonly db: PostgresDatabase) {}

  async insert(devices: readonly DeviceRecord[]): Promise<void> {
    if (!devices.length) return;
    // one statement: a duplicate id (in the batch or stored) fails all of it
    await this.db.run(`INSERT INTO devices (${DEVICE_COLUMNS}) SELECT * FROM ${UNNEST_DEVICES}`, deviceColumns(devices));
  }

  async update(d: DeviceRecord): Promise<void> {
    const [id, ...rest] = deviceParams(d);
    await this.db.run(`UPDATE devices SET family = $2, name = $3, lat = $4, lng = $5, district = $6, meta = $7, secret_hash = $8,
      created_at = $9, updated_at = $10 WHERE id = $1`, [id, ...rest]);
  }

  /**
   * A bulk device write (DeviceRegistry.import) in steps, as in DuckDB: each `stage` appends a
   * chunk to a temporary table (not WAL-logged, seen by no other session), and `commit` moves
   * every staged row into `devices` in one transaction of two statements; a failure rolls the
   * whole write back. A temporary table belongs to its session, so the import holds one pooled
   * connection from begin to commit or abort (no transaction stays open meanwhile: nothing is
   * locked between chunks). Ended either way, the table is dropped before the connection goes
   * back to the pool; a connection that cannot drop it is closed instead.
   */
  async beginImport(): Promise<DeviceImportWriter> {
    // one at a time per store; an import whose connection the store's close() took is over
    if (this.importing === 'starting' || this.importing?.live()) throw new Error('a device import is already being written');
    this.importing = 'starting';
    let held: HeldConnection | null = null;
    try {
      held = await this.db.hold();
      await held.sql.query(`CREATE TEMP TABLE ${STAGE_TABLE} (id TEXT, family TEXT, name TEXT, lat DOUBLE PRECISION,
        lng DOUBLE PRECISION, district TEXT, meta TEXT, secret_hash TEXT, created_at BIGINT, updated_at BIGINT, is_update BOOLEAN)`);
    } catch (err) {
      held?.release(asError(err));
      this.importing = null;
      throw err;
    }
    const h = held;
    this.importing = h;
    /** The import's connection, or an error once it is over (its connection may serve another job). */
    const sql = (): Sql => {
      if (!h.live()) throw new Error('the device import is over');
      return h.sql;
    };
    const finish = async (): Promise<void> => {
      if (this.importing === h) this.importing = null;
      if (!h.live()) return;
      try {
        await h.sql.query(`DROP TABLE ${STAGE}`);
        h.release();
      } catch (err) {
        h.release(asError(err));
      }
    };
    return {
      stage: async (created, updated) => {
        const rows = [...created, ...updated];
        if (!rows.length) return;
        await sql().query(`INSERT INTO ${STAGE} SELECT * FROM ${UNNEST_STAGED}`, [...deviceColumns(rows), rows.map((_, i) => i >= created.length)]);
      },
      commit: async () => {
        try {
          const c = sql();
          await c.query('BEGIN');
          try {
            await c.query(`INSERT INTO devices (${DEVICE_COLUMNS}) SELECT ${DEVICE_COLUMNS} FROM ${STAGE} WHERE NOT is_update`);
            // only the imported fields: a secret rotated meanwhile stays
            await c.query(`UPDATE devices SET name = s.name, lat = s.lat, lng = s.lng, district = s.district, meta = s.meta, updated_at = s.updated_at
              FROM ${STAGE} s WHERE s.is_update AND devices.id = s.id`);
            await c.query('COMMIT');
          } catch (err) {
            await c.query('ROLLBACK').catch(() => undefined);
            throw err;
          }
        } finally {
          await finish();
        }
      },
      abort: finish,
    };
  }

  async load(): Promise<DeviceRecord[]> {
    const rows = await this.db.rows(`SELECT ${DEVICE_COLUMNS} FROM devices ORDER BY id`);
    return rows.map(toDevice);
  }

  /** These devices as stored (those that are), for a node told another changed them (cluster/changeBus.ts). */
  async loadByIds(ids: readonly string[]): Promise<DeviceRecord[]> {
    const rows = await this.db.rows(`SELECT ${DEVICE_COLUMNS} FROM devices WHERE id = ANY($1::text[]) ORDER BY id`, [[...ids]]);
    return rows.map(toDevice);
  }

  async saveConnectionStates(batch: readonly ConnectionState[]): Promise<void> {
    if (!batch.length) return;
    // PostgreSQL refuses an upsert that meets one key twice; the caller's batches come from a
    // set of device ids, so this only guards: the later state of a device wins. (DuckDB's
    // INSERT OR REPLACE keeps the first one there, silently.)
    const states = [...new Map(batch.map((s) => [s.deviceId, s])).values()];
    // one upsert for the whole batch: a reconnect storm dirties every device at once
    await this.db.run(`INSERT INTO device_state (device_id, connected, last_seen, last_connected_at, last_disconnected_at, remote_address)
      SELECT * FROM ${unnest(['text', 'boolean', 'int8', 'int8', 'int8', 'text'])}
      ON CONFLICT (device_id) DO UPDATE SET connected = excluded.connected, last_seen = excluded.last_seen,
        last_connected_at = excluded.last_connected_at, last_disconnected_at = excluded.last_disconnected_at, remote_address = excluded.remote_address`, [
      states.map((s) => s.deviceId), states.map((s) => s.connected), states.map((s) => msOrNull(s.lastSeen)),
      states.map((s) => msOrNull(s.lastConnectedAt)), states.map((s) => msOrNull(s.lastDisconnectedAt)), states.map((s) => s.remoteAddress),
    ]);
  }

  async loadConnectionStates(): Promise<ConnectionState[]> {
    const rows = await this.db.rows('SELECT device_id, connected, last_seen, last_connected_at, last_disconnected_at, remote_address FROM device_state');
    return rows.map(connectionStateOf);
  }
}

function toDevice(r: Row): DeviceRecord {
  return {
    id: String(r.id),
    family: String(r.family) as Family,
    name: strOrNull(r.name),
    location: r.lat === null || r.lng === null ? null : { lat: Number(r.lat), lng: Number(r.lng) },
    district: strOrNull(r.district),
    meta: r.meta ? JSON.parse(String(r.meta)) as Record<string, unknown> : {},
    secretHash: String(r.secret_hash),
    createdAt: num(r.created_at),
    updatedAt: num(r.updated_at),
  };
}

/** One device as the values of DEVICE_COLUMNS, in order. */
function deviceParams(d: DeviceRecord): unknown[] {
  return [d.id, d.family, d.name, d.location?.lat ?? null, d.location?.lng ?? null, d.district, JSON.stringify(d.meta), d.secretHash, ms(d.createdAt), ms(d.updatedAt)];
}

/** Devices as one array per column of DEVICE_COLUMNS (UNNEST_DEVICES's parameters). */
function deviceColumns(devices: readonly DeviceRecord[]): unknown[][] {
  const columns: unknown[][] = Array.from({ length: 10 }, () => []);
  for (const d of devices) deviceParams(d).forEach((v, i) => columns[i]!.push(v));
  return columns;
}

function asError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}
