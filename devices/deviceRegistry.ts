/**
 * The device registry: every device that may connect, with its metadata and secret hash.
 * Held in memory (authentication on every CONNECT must not touch the disk; 100k devices
 * are a few tens of MB) and written through to the store.
 */
import { CodedError } from '../core/codes.js';
import type { Family } from '../core/schemas/index.js';
import type { DeviceImportWriter, DeviceQuery, DeviceRecord, Store } from '../store/types.js';
import { deviceInput, type DeviceInput } from '../core/deviceInput.js';
import { generateSecret, hashSecret, verifySecret } from './secrets.js';
import { readNamed } from '../cluster/readNamed.js';

export type OnConflict = 'error' | 'skip' | 'update';

export interface ImportResult {
  created: Array<{ id: string; family: Family; secret: string }>;
  updated: string[];
  skipped: string[];
}

/** Rows validated, given secrets or staged per step of an import; the event loop runs between steps. */
export const IMPORT_CHUNK_ROWS = 1000;

export interface ImportProgress {
  phase: 'validating' | 'writing';
  /** rows validated so far */
  validated: number;
  /** rows through the write phase so far (created, updated or skipped): staged in the store's transaction, visible once it commits */
  written: number;
}

export interface ImportOptions {
  /** rows per step (default IMPORT_CHUNK_ROWS) */
  chunkRows?: number;
  /** at the start of each phase and after each step */
  onProgress?: (p: ImportProgress) => void;
  /** checked between steps: an aborted import writes nothing and throws the signal's reason */
  signal?: AbortSignal;
}

const yieldToEventLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

export interface RowProblem {
  /** 1-based position in the import (for CSV: the data row, header excluded) */
  row: number;
  path: string;
  message: string;
}

export class DeviceRegistry {
  private readonly devices = new Map<string, DeviceRecord>();
  private readonly listeners = new Set<(devices: readonly DeviceRecord[]) => void>();
  private readonly writeListeners = new Set<(ids: readonly string[]) => void>();
  /** bumped by each of this node's writes to the map: a refresh that read across one reads again */
  private generation = 0;

  constructor(private readonly store: Store, private readonly now: () => number = Date.now) {}

  async start(): Promise<void> {
    this.devices.clear();
    for (const d of await this.store.devices.load()) this.devices.set(d.id, d);
  }

  get size(): number {
    return this.devices.size;
  }

  get(id: string): DeviceRecord | undefined {
    return this.devices.get(id);
  }

  all(): IterableIterator<DeviceRecord> {
    return this.devices.values();
  }

  /** Devices registered or changed once they are in the registry (the rules' worker mirrors them); returns the unsubscribe. */
  onChange(listener: (devices: readonly DeviceRecord[]) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private changed(devices: readonly DeviceRecord[]): void {
    if (devices.length) for (const l of this.listeners) l(devices);
  }

  /**
   * Devices this node wrote, once the store committed them (registered, imported, a secret
   * rotated): cluster mode tells the other nodes (cluster/changeBus.ts). Returns the unsubscribe.
   */
  onWritten(listener: (ids: readonly string[]) => void): () => void {
    this.writeListeners.add(listener);
    return () => this.writeListeners.delete(listener);
  }

  private written(ids: readonly string[]): void {
    this.generation++;
    if (ids.length) for (const l of this.writeListeners) l(ids);
  }

  /**
   * Another node changed these devices ('all': which is unknown, messages may have been
   * missed): re-read them from the store. A device gone from the store is dropped, so it is
   * refused at its next CONNECT (a live connection stays until then, as after a rotated secret);
   * new and changed ones go to onChange's listeners (nothing tells them of a removal: the rules
   * never meet a device that cannot connect). `byIds` reads some devices (PgDevices.loadByIds);
   * without it every device is loaded and those are kept.
   */
  async refresh(ids: readonly string[] | 'all', byIds?: (ids: readonly string[]) => Promise<DeviceRecord[]>): Promise<void> {
    if (ids !== 'all' && !ids.length) return;
    const fresh = await readNamed(ids, (d) => d.id, { all: () => this.store.devices.load(), ...(byIds ? { some: byIds } : {}) }, () => this.generation);
    const found = new Map(fresh.map((d) => [d.id, d]));
    for (const id of ids === 'all' ? [...this.devices.keys()] : ids) if (!found.has(id)) this.devices.delete(id);
    const changed: DeviceRecord[] = [];
    for (const d of fresh) {
      const current = this.devices.get(d.id);
      if (current && sameDevice(current, d)) continue;
      this.devices.set(d.id, d);
      changed.push(d);
    }
    this.changed(changed);
  }

  /** Check a device's credentials; the record when they match. */
  authenticate(id: string, secret: Uint8Array): DeviceRecord | null {
    const d = this.devices.get(id);
    return d && verifySecret(secret, d.secretHash) ? d : null;
  }

  /**
   * The elevator whose 96333 rescue code (shown in the car) or registration code (注册代码)
   * is `code`: the device meta keys `rescueCode` and `registrationCode`. A scan of the
   * registry: a dispatcher's phone call, not a device's message, asks it.
   */
  findElevator(by: 'rescueCode' | 'registrationCode', code: string): DeviceRecord | undefined {
    for (const d of this.devices.values()) if (d.family === 'elevator' && d.meta[by] === code) return d;
    return undefined;
  }

  list(q: DeviceQuery): { total: number; items: DeviceRecord[] } {
    const needle = q.q?.toLowerCase();
    const matches: DeviceRecord[] = [];
    for (const d of this.devices.values()) {
      if (q.family && d.family !== q.family) continue;
      if (q.district && !(d.district ?? '').startsWith(q.district)) continue;
      if (needle && !d.id.toLowerCase().includes(needle) && !(d.name ?? '').toLowerCase().includes(needle) && !elevatorCodes(d).some((c) => c.toLowerCase().includes(needle))) continue;
      matches.push(d);
    }
    matches.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    return { total: matches.length, items: matches.slice(q.offset, q.offset + q.limit) };
  }

  /** Register one device; the secret is returned here and never again. */
  async create(input: DeviceInput): Promise<{ device: DeviceRecord; secret: string }> {
    if (this.devices.has(input.id)) throw new CodedError('device_exists', `device ${input.id} is already registered`);
    const { record, secret } = this.newRecord(input);
    await this.store.devices.insert([record]);
    this.devices.set(record.id, record);
    this.written([record.id]);
    this.changed([record]);
    return { device: record, secret };
  }

  /** Issue a new secret for a device; the old one stops working at once. */
  async rotateSecret(id: string): Promise<string> {
    const d = this.devices.get(id);
    if (!d) throw new CodedError('device_not_found', `no device ${id}`);
    const secret = generateSecret();
    const updated = { ...d, secretHash: hashSecret(secret), updatedAt: this.now() };
    await this.store.devices.update(updated);
    this.devices.set(id, updated);
    this.written([id]);
    return secret;
  }

  /**
   * Bulk import, all or nothing: every row is validated first and every problem reported
   * with its row number; nothing is written unless all rows are good, and then every new and
   * changed device is written in one store transaction (a failure writes nothing). The
   * registry takes the devices only once that committed.
   *
   * Validation, secrets and the store's staging go `chunkRows` rows at a time with the event
   * loop running between chunks, so a 100,000-row import never holds MQTT, PUBACKs or HTTP
   * for more than a few milliseconds (devices/importJobs.ts runs it as a background job).
   */
  async import(rows: readonly unknown[], onConflict: OnConflict, opts: ImportOptions = {}): Promise<ImportResult> {
    const chunkRows = Math.max(1, opts.chunkRows ?? IMPORT_CHUNK_ROWS);
    const progress = opts.onProgress ?? (() => undefined);
    const between = async (): Promise<void> => {
      await yieldToEventLoop();
      opts.signal?.throwIfAborted();
    };

    const problems: RowProblem[] = [];
    /** each valid row with the device it meets, as the registry had it when the row was checked */
    const inputs: Array<{ input: DeviceInput; existing: DeviceRecord | undefined }> = [];
    const seen = new Map<string, number>();
    progress({ phase: 'validating', validated: 0, written: 0 });
    for (let at = 0; at < rows.length; at += chunkRows) {
      if (at > 0) await between();
      const end = Math.min(rows.length, at + chunkRows);
      for (let i = at; i < end; i++) {
        const r = deviceInput.safeParse(rows[i]);
        if (!r.success) {
          for (const issue of r.error.issues) problems.push({ row: i + 1, path: issue.path.map(String).join('.') || '(row)', message: issue.message });
          continue;
        }
        const first = seen.get(r.data.id);
        if (first !== undefined) {
          problems.push({ row: i + 1, path: 'id', message: `id ${r.data.id} appears again (first at row ${first})` });
          continue;
        }
        seen.set(r.data.id, i + 1);
        const existing = this.devices.get(r.data.id);
        if (existing && onConflict === 'error') {
          problems.push({ row: i + 1, path: 'id', message: `device ${r.data.id} is already registered (use onConflict=skip or update)` });
        } else if (existing && onConflict === 'update' && existing.family !== r.data.family) {
          problems.push({ row: i + 1, path: 'family', message: `device ${r.data.id} is a ${existing.family} device; the family cannot change` });
        }
        inputs.push({ input: r.data, existing });
      }
      progress({ phase: 'validating', validated: end, written: 0 });
    }
    if (problems.length) {
      throw new CodedError('validation', `${problems.length} problem(s) in the import; nothing was imported`, problems);
    }

    progress({ phase: 'writing', validated: rows.length, written: 0 });
    const result: ImportResult = { created: [], updated: [], skipped: [] };
    const fresh: DeviceRecord[] = [];
    const changed: DeviceRecord[] = [];
    let writer: DeviceImportWriter | null = null;
    try {
      writer = await this.store.devices.beginImport();
      for (let at = 0; at < inputs.length; at += chunkRows) {
        await between();
        const end = Math.min(inputs.length, at + chunkRows);
        const freshChunk: DeviceRecord[] = [];
        const changedChunk: DeviceRecord[] = [];
        for (let i = at; i < end; i++) {
          const { input, existing } = inputs[i]!;
          if (!existing) {
            const { record, secret } = this.newRecord(input);
            freshChunk.push(record);
            result.created.push({ id: record.id, family: record.family, secret });
          } else if (onConflict === 'skip') {
            result.skipped.push(input.id);
          } else {
            changedChunk.push({ ...existing, name: input.name ?? null, location: input.location ?? null, district: input.district ?? null, meta: input.meta, updatedAt: this.now() });
            result.updated.push(input.id);
          }
        }
        if (freshChunk.length || changedChunk.length) await writer.stage(freshChunk, changedChunk);
        for (const d of freshChunk) fresh.push(d);
        for (const d of changedChunk) changed.push(d);
        progress({ phase: 'writing', validated: rows.length, written: end });
      }
      opts.signal?.throwIfAborted();
      await writer.commit();
    } catch (err) {
      await writer?.abort().catch(() => undefined);
      if (err instanceof CodedError || opts.signal?.aborted) throw err;
      throw new CodedError('unavailable', `writing the import to the store failed, nothing was imported: ${(err as Error).message}`);
    }
    // committed: from now on the broker authenticates the new devices
    for (const d of fresh) this.devices.set(d.id, d);
    for (const d of changed) {
      // only the imported fields: a secret rotated meanwhile stays
      const current = this.devices.get(d.id) ?? d;
      this.devices.set(d.id, { ...current, name: d.name, location: d.location, district: d.district, meta: d.meta, updatedAt: d.updatedAt });
    }
    this.written([...fresh, ...changed].map((d) => d.id));
    this.changed([...fresh, ...changed].map((d) => this.devices.get(d.id)!));
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

/** Whether a record read back is the one held (then its listeners need not hear of it). */
function sameDevice(a: DeviceRecord, b: DeviceRecord): boolean {
  const fields = (d: DeviceRecord): string => JSON.stringify([d.family, d.name, d.location?.lat, d.location?.lng, d.district, d.meta, d.secretHash, d.createdAt, d.updatedAt]);
  return fields(a) === fields(b);
}

/** An elevator's rescue and registration codes, for the device list's search. */
function elevatorCodes(d: DeviceRecord): string[] {
  const out: string[] = [];
  for (const key of ['rescueCode', 'registrationCode'] as const) if (typeof d.meta[key] === 'string') out.push(d.meta[key]);
  return out;
}
