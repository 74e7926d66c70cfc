/**
 * A cylinder's trace (一瓶一码, traceable through the whole process, docs/domain.md §3): every
 * scan of its code, at every station and point, and the versions of its record. What the store
 * gives (store/types.ts CylinderRepository) and what the trace is derived from
 * (core/rules/cylinder/trace.ts). Data only.
 */
import type { CylinderRecord } from '../alerts/types.js';
import type { ScanPoint } from '../schemas/index.js';

/** One stored scan of a code: a `cylinder/scan` reading of any device. */
export interface StoredScan {
  seq: number;
  deviceId: string;
  msgId: string;
  /** device time: when it was scanned */
  ts: number;
  /** platform receive time: what the scan check judged the record at */
  receivedAt: number;
  stationId: string;
  point: ScanPoint;
  operatorId: string;
  netKg: number | null;
}

/**
 * A version of a cylinder's record, as written by an import at `from` (epoch ms). A record
 * already registered before the registry kept versions (schema 7) has one version from 0.
 */
export interface CylinderVersion {
  from: number;
  record: CylinderRecord;
}

/** The scans of one code with device time in [from, to], the newest `limit` of them. */
export interface ScanQuery {
  code: string;
  from?: number;
  to?: number;
  limit: number;
}
