/**
 * The device registry: every device that may connect, with its metadata and secret hash.
 * Held in memory (authentication on every CONNECT must not touch the disk; 100k devices
 * are a few tens of MB) and written through to the store.
 */
import { CodedError } from '../service/codes.js';
import type { Family } from '../ingest/schemas/index.js';
import type { DeviceQuery, DeviceRecord, Store } from '../store/types.js';
import { deviceInput, type DeviceInput } from './deviceInput.js';
import { generateSecret, hashSecret, verifySecret } from './secrets.js';

export type OnConflict = 'error' | 'skip' | 'update';

export interface ImportResult {
  created: Array<{ id: string; family: Family; secret: string }>;
  updated: string[];
  skipped: string[];
}

export interface RowProblem {
  /** 1-based position in the import (for CSV: the data row, header excluded) */
  row: number;
  path: string;
  message: string;
}

export class DeviceRegistry {
  private readonly devices = new Map<string, DeviceRecord>();

  constructor(private readonly store: Store, private readonly now: () => number = Date.now) {}

  async start(): Promise<void> {
    this.devices.clear();
    for (const d of await this.store.loadDevices()) this.devices.set(d.id, d);
  }

  get size(): number {
    return this.devices.size;
  }

  get(id: string): DeviceRecord | undefined {
    return this.devices.get(id);
  }

  /** Check a device's credentials; the record when they match. */
  authenticate(id: string, secret: Uint8Array): DeviceRecord | null {
    const d = this.devices.get(id);
    return d && verifySecret(secret, d.secretHash) ? d : null;
  }

  list(q: DeviceQuery): { total: number; items: DeviceRecord[] } {
    const needle = q.q?.toLowerCase();
    const matches: DeviceRecord[] = [];
    for (const d of this.devices.values()) {
      if (q.family && d.family !== q.family) continue;
      if (q.district && !(d.district ?? '').startsWith(q.district)) continue;
      if (needle && !d.id.toLowerCase().includes(needle) && !(d.name ?? '').toLowerCase().includes(needle)) continue;
      matches.push(d);
    }
    matches.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    return { total: matches.length, items: matches.slice(q.offset, q.offset + q.limit) };
  }

  /** Register one device; the secret is returned here and never again. */
  async create(input: DeviceInput): Promise<{ device: DeviceRecord; secret: string }> {
    if (this.devices.has(input.id)) throw new CodedError('device_exists', `device ${input.id} is already registered`);
    const { record, secret } = this.newRecord(input);
    await this.store.insertDevices([record]);
    this.devices.set(record.id, record);
    return { device: record, secret };
  }

  /** Issue a new secret for a device; the old one stops working at once. */
  async rotateSecret(id: string): Promise<string> {
    const d = this.devices.get(id);
    if (!d) throw new CodedError('device_not_found', `no device ${id}`);
    const secret = generateSecret();
    const updated = { ...d, secretHash: hashSecret(secret), updatedAt: this.now() };
    await this.store.updateDevice(updated);
    this.devices.set(id, updated);
    return secret;
  }

  /**
   * Bulk import, all or nothing: every row is validated first and every problem reported
   * with its row number; nothing is written unless all rows are good.
   */
  async import(rows: readonly unknown[], onConflict: OnConflict): Promise<ImportResult> {
    const problems: RowProblem[] = [];
    const inputs: DeviceInput[] = [];
    const seen = new Map<string, number>();
    rows.forEach((row, i) => {
      const r = deviceInput.safeParse(row);
      if (!r.success) {
        for (const issue of r.error.issues) problems.push({ row: i + 1, path: issue.path.map(String).join('.') || '(row)', message: issue.message });
        return;
      }
      const first = seen.get(r.data.id);
      if (first !== undefined) {
        problems.push({ row: i + 1, path: 'id', message: `id ${r.data.id} appears again (first at row ${first})` });
        return;
      }
      seen.set(r.data.id, i + 1);
      const existing = this.devices.get(r.data.id);
      if (existing && onConflict === 'error') {
        problems.push({ row: i + 1, path: 'id', message: `device ${r.data.id} is already registered (use onConflict=skip or update)` });
      } else if (existing && onConflict === 'update' && existing.family !== r.data.family) {
        problems.push({ row: i + 1, path: 'family', message: `device ${r.data.id} is a ${existing.family} device; the family cannot change` });
      }
      inputs.push(r.data);
    });
    if (problems.length) {
      throw new CodedError('validation', `${problems.length} problem(s) in the import; nothing was imported`, problems);
    }

    const result: ImportResult = { created: [], updated: [], skipped: [] };
    const fresh: DeviceRecord[] = [];
    const changed: DeviceRecord[] = [];
    for (const input of inputs) {
      const existing = this.devices.get(input.id);
      if (!existing) {
        const { record, secret } = this.newRecord(input);
        fresh.push(record);
        result.created.push({ id: record.id, family: record.family, secret });
      } else if (onConflict === 'skip') {
        result.skipped.push(input.id);
      } else {
        changed.push({ ...existing, name: input.name ?? null, location: input.location ?? null, district: input.district ?? null, meta: input.meta, updatedAt: this.now() });
        result.updated.push(input.id);
      }
    }
    if (fresh.length) await this.store.insertDevices(fresh);
    for (const d of changed) await this.store.updateDevice(d);
    for (const d of [...fresh, ...changed]) this.devices.set(d.id, d);
    return result;
  }

  private newRecord(input: DeviceInput): { record: DeviceRecord; secret: string } {
    const secret = generateSecret();
    const now = this.now();
    return {
      secret,
      record: {
        id: input.id,
        family: input.family,
        name: input.name ?? null,
        location: input.location ?? null,
        district: input.district ?? null,
        meta: input.meta,
        secretHash: hashSecret(secret),
        createdAt: now,
        updatedAt: now,
      },
    };
  }
}
