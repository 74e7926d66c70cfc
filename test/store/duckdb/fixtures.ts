/**
 * Shared by the DuckDB store suites (test/store/duckdb/*.test.ts): stores in temp dirs, closed
 * and removed after the file's tests, and row builders (readings of any channel decoded from
 * their JSON as ingest does, dead letters, devices).
 *
 * Importing this module registers the file's afterAll that closes every store opened through
 * `freshStore` and removes every temp dir made by `tempFile`.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll } from 'vitest';
import { decodePayload } from '../../../ingest/decode.js';
import type { Family } from '../../../core/schemas/index.js';
import { examplePayload } from '../../../core/schemas/examples.js';
import { DuckDbStore, type DuckDbOptions } from '../../../store/duckdbStore.js';
import type { DeadLetter, DeviceRecord, Reading } from '../../../store/types.js';

const dirs: string[] = [];
const stores: DuckDbStore[] = [];
afterAll(async () => {
  for (const s of stores) await s.close().catch(() => undefined);
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** A database file in a new temp dir, under a directory that does not exist yet. */
export function tempFile(): string {
  const d = mkdtempSync(path.join(tmpdir(), 'supervision-store-'));
  dirs.push(d);
  return path.join(d, 'nested', 'db.duckdb'); // open() creates the directory
}

/** An open store, closed after the file's tests. */
export async function freshStore(file = tempFile(), options?: DuckDbOptions): Promise<DuckDbStore> {
  const s = new DuckDbStore(file, options);
  await s.open();
  stores.push(s);
  return s;
}

export const T0 = Date.UTC(2026, 10, 23, 0, 0, 0);

let seq = 1000;
/** The next reading seq, unique within a test file. */
export const nextSeq = (): number => ++seq;

export function readingFrom(family: Family, channel: string, deviceId: string, payload: Record<string, unknown>, over: Partial<Reading> = {}): Reading {
  const d = decodePayload(family, channel, Buffer.from(JSON.stringify(payload)), 1 << 20);
  if (!d.ok) throw new Error(`${family}/${channel}: ${d.detail}`);
  return { seq: nextSeq(), family, channel, deviceId, msgId: d.msgId, ts: d.ts, receivedAt: d.ts + 5, qos: 1, data: d.data, extra: d.extra, ...over };
}

/** An elevator status reading. */
export function simple(deviceId: string, msgId: string, ts: number, over: Partial<Reading> = {}): Reading {
  return readingFrom('elevator', 'status', deviceId, examplePayload('elevator', 'status', msgId, ts), over);
}

export function letter(over: Partial<DeadLetter> = {}): DeadLetter {
  return {
    id: 1, receivedAt: T0, deviceId: 'dl-dev', clientId: 'dl-dev-abc', topic: 'kitchen/dl-dev/violation', qos: 1,
    reason: 'invalid_json', detail: 'payload is not valid UTF-8', issues: null, msgId: null,
    raw: new Uint8Array([0x00, 0xff, 0xfe, 0x80, 0x7b, 0x0a, 0x00]), rawSize: 7, remoteAddress: '127.0.0.1', ...over,
  };
}

export function device(id: string, over: Partial<DeviceRecord> = {}): DeviceRecord {
  return {
    id, family: 'elevator', name: `Lift ${id}`, location: { lat: 30.25, lng: 120.1667 }, district: '330106',
    meta: { registrationCode: 'R-1', arrivalDeadlineMin: 30 }, secretHash: 'ab'.repeat(32), createdAt: T0, updatedAt: T0 + 1, ...over,
  };
}
