/**
 * Typed columns per (family, channel). One table per channel (heartbeats of all families share
 * one), so queries and aggregations work on real columns rather than JSON.
 */
import type { Family } from '../core/schemas/index.js';

export type ColumnType = 'VARCHAR' | 'DOUBLE' | 'INTEGER' | 'BIGINT' | 'BOOLEAN';

export interface Column {
  /** SQL column name */
  name: string;
  type: ColumnType;
  /** payload field the value comes from */
  field: string;
  /** for array fields (bbox): index into the array */
  index?: number;
}

export interface ReadingTable {
  table: string;
  columns: Column[];
}

const col = (name: string, type: ColumnType, field: string, index?: number): Column =>
  index === undefined ? { name, type, field } : { name, type, field, index };

const heartbeat: ReadingTable = {
  table: 'r_heartbeat',
  columns: [col('fw', 'VARCHAR', 'fw'), col('rssi', 'DOUBLE', 'rssi'), col('uptime_s', 'DOUBLE', 'uptimeS'), col('battery_pct', 'DOUBLE', 'batteryPct')],
};

export const readingTables: Record<Family, Record<string, ReadingTable>> = {
  kitchen: {
    heartbeat,
    violation: {
      table: 'r_kitchen_violation',
      columns: [
        col('store_id', 'VARCHAR', 'storeId'), col('type', 'VARCHAR', 'type'), col('confidence', 'DOUBLE', 'confidence'),
        col('area', 'VARCHAR', 'area'), col('snapshot_url', 'VARCHAR', 'snapshotUrl'),
        col('bbox_x1', 'DOUBLE', 'bbox', 0), col('bbox_y1', 'DOUBLE', 'bbox', 1), col('bbox_x2', 'DOUBLE', 'bbox', 2), col('bbox_y2', 'DOUBLE', 'bbox', 3),
      ],
    },
  },
  elevator: {
    heartbeat,
    status: {
      table: 'r_elevator_status',
      columns: [
        col('floor', 'INTEGER', 'floor'), col('door_zone', 'BOOLEAN', 'doorZone'), col('door_closed', 'BOOLEAN', 'doorClosed'),
        col('moving', 'BOOLEAN', 'moving'), col('direction', 'VARCHAR', 'direction'), col('speed_mps', 'DOUBLE', 'speedMps'),
        col('passenger_present', 'BOOLEAN', 'passengerPresent'), col('service_mode', 'VARCHAR', 'serviceMode'), col('power_ok', 'BOOLEAN', 'powerOk'),
      ],
    },
    fault: {
      table: 'r_elevator_fault',
      columns: [col('code', 'INTEGER', 'code'), col('floor', 'INTEGER', 'floor'), col('detail', 'VARCHAR', 'detail')],
    },
  },
  cylinder: {
    heartbeat,
    scan: {
      table: 'r_cylinder_scan',
      columns: [
        col('cylinder_code', 'VARCHAR', 'cylinderCode'), col('station_id', 'VARCHAR', 'stationId'), col('point', 'VARCHAR', 'point'),
        col('operator_id', 'VARCHAR', 'operatorId'), col('net_kg', 'DOUBLE', 'netKg'), col('residual_pressure_mpa', 'DOUBLE', 'residualPressureMpa'),
      ],
    },
  },
  dispenser: {
    heartbeat,
    txn: {
      table: 'r_dispenser_txn',
      columns: [
        col('station_id', 'VARCHAR', 'stationId'), col('dispenser_id', 'VARCHAR', 'dispenserId'), col('nozzle', 'INTEGER', 'nozzle'),
        col('grade', 'VARCHAR', 'grade'), col('volume_l', 'DOUBLE', 'volumeL'), col('amount_yuan', 'DOUBLE', 'amountYuan'),
        col('unit_price', 'DOUBLE', 'unitPrice'), col('totalizer_l', 'DOUBLE', 'totalizerL'), col('duration_s', 'DOUBLE', 'durationS'),
        col('pulses', 'BIGINT', 'pulses'), col('pulses_per_l', 'DOUBLE', 'pulsesPerL'), col('tank_id', 'VARCHAR', 'tankId'),
      ],
    },
    tank: {
      table: 'r_dispenser_tank',
      columns: [
        col('station_id', 'VARCHAR', 'stationId'), col('tank_id', 'VARCHAR', 'tankId'), col('grade', 'VARCHAR', 'grade'),
        col('volume_l', 'DOUBLE', 'volumeL'), col('temp_c', 'DOUBLE', 'tempC'), col('water_mm', 'DOUBLE', 'waterMm'),
      ],
    },
    tamper: {
      table: 'r_dispenser_tamper',
      columns: [col('station_id', 'VARCHAR', 'stationId'), col('dispenser_id', 'VARCHAR', 'dispenserId'), col('kind', 'VARCHAR', 'kind')],
    },
  },
};

/** A batch's readings per table, each table's in arrival order (both stores write a batch table by table). */
export function readingsByTable<R extends { family: Family; channel: string }>(readings: readonly R[]): Map<ReadingTable, R[]> {
  const byTable = new Map<ReadingTable, R[]>();
  for (const r of readings) {
    const t = readingTables[r.family][r.channel];
    if (!t) throw new Error(`no table for ${r.family}/${r.channel}`);
    let rows = byTable.get(t);
    if (!rows) { rows = []; byTable.set(t, rows); }
    rows.push(r);
  }
  return byTable;
}

/** Each distinct table once (the heartbeat table is shared). */
export const allReadingTables: ReadingTable[] = [...new Map(
  Object.values(readingTables).flatMap((byChannel) => Object.values(byChannel)).map((t) => [t.table, t]),
).values()];

/** Columns every reading table starts with, in appender order. */
export const commonColumnsSql = `seq BIGINT NOT NULL, device_id VARCHAR NOT NULL, msg_id VARCHAR NOT NULL, ts TIMESTAMP NOT NULL, received_at TIMESTAMP NOT NULL, qos TINYINT NOT NULL`;
