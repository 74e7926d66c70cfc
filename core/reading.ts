import type { Family } from './schemas/index.js';

/**
 * A validated reading: what ingest hands to the store and, once committed, to the alert
 * engine. `data` holds the channel's fields (msgId and ts removed).
 */
export interface Reading {
  seq: number;
  family: Family;
  channel: string;
  deviceId: string;
  msgId: string;
  /** device time, normalised to epoch ms */
  ts: number;
  /** platform receive time, epoch ms */
  receivedAt: number;
  qos: number;
  data: Record<string, unknown>;
  /** fields the device sent that the schema does not name, kept as JSON text (or null) */
  extra: string | null;
}
