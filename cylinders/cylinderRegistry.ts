/**
 * The cylinder registry (一瓶一码一档): one record per cylinder, held in memory for the scan
 * check (a reply is due within 200 ms, docs/protocol.md) and written through to the store,
 * with every version of it. Imports (CSV or JSON, by API and CLI) are all or nothing, every
 * bad row reported. A code's trace: its scans at every station, each with the decision the
 * record of the time gave (core/rules/cylinder/trace.ts).
 */
import { CodedError } from '../core/codes.js';
import type { Store } from '../store/types.js';
import { parseCylinderRecord } from '../core/cylinders/cylinderRecord.js';
import type { CylinderRecord } from '../core/alerts/types.js';
import { cylinderTrace, type CylinderTrace, type ScanCheckConfig } from '../core/rules/cylinder/index.js';
import { readNamed } from '../cluster/readNamed.js';

export interface CylinderImportResult {
  created: number;
  updated: number;
  skipped: number;
}

export class CylinderRegistry {
  private readonly records = new Map<string, CylinderRecord>();
  private readonly writeListeners = new Set<(codes: readonly string[]) => void>();
  /** bumped by each of this node's writes to the map: a refresh that read across one reads again */
  private generation = 0;

  /** `now`: when an import's records take effect (their version's time) */
  constructor(private readonly store: Store, private readonly now: () => number = Date.now) {}

  async start(): Promise<void> {
    this.records.clear();
    for (const r of await this.store.cylinders.load()) this.records.set(r.code, r);
  }

  get size(): number {
    return this.records.size;
  }

  get(code: string): CylinderRecord | undefined {
    return this.records.get(code);
  }

  /** Codes this node imported, once the store committed them: cluster mode tells the other nodes (cluster/changeBus.ts). Returns the unsubscribe. */
  onWritten(listener: (codes: readonly string[]) => void): () => void {
    this.writeListeners.add(listener);
    return () => this.writeListeners.delete(listener);
  }

  /**
   * Another node changed these records ('all': which is unknown, messages may have been
   * missed): re-read them, so the scan check here decides on what was imported there. A code
   * gone from the store is dropped. `byCodes` reads some records (PgCylinders.loadByCodes);
   * without it every record is loaded and those are kept.
   */
  async refresh(codes: readonly string[] | 'all', byCodes?: (codes: readonly string[]) => Promise<CylinderRecord[]>): Promise<void> {
    if (codes !== 'all' && !codes.length) return;
    const fresh = await readNamed(codes, (r) => r.code, { all: () => this.store.cylinders.load(), ...(byCodes ? { some: byCodes } : {}) }, () => this.generation);
    const found = new Map(fresh.map((r) => [r.code, r]));
    for (const code of codes === 'all' ? [...this.records.keys()] : codes) if (!found.has(code)) this.records.delete(code);
    for (const r of fresh) this.records.set(r.code, r);
  }

  /** `stations`: only cylinders owned by or entrusted to one of them (a district-scoped account's, accounts/scope.ts). */
  list(q: { stationId?: string; stations?: ReadonlySet<string>; status?: string; q?: string; limit: number; offset: number }): { total: number; items: CylinderRecord[] } {
    const items = [...this.records.values()].filter((r) => (!q.stationId || r.ownerStationId === q.stationId || r.entrustedStationIds.includes(q.stationId))
      && (!q.stations || atStation(r, q.stations))
      && (!q.status || r.status === q.status) && (!q.q || r.code.includes(q.q)));
    items.sort((a, b) => (a.code < b.code ? -1 : 1));
    return { total: items.length, items: items.slice(q.offset, q.offset + q.limit) };
  }

  async import(rows: readonly unknown[], onConflict: 'error' | 'skip' | 'update'): Promise<CylinderImportResult> {
    const problems: Array<{ row: number; path: string; message: string }> = [];
    const parsed: CylinderRecord[] = [];
    const seen = new Map<string, number>();
    rows.forEach((row, i) => {
      const r = parseCylinderRecord(row);
      if (!r.ok) {
        for (const e of r.errors) problems.push({ row: i + 1, path: e.field || '(row)', message: e.message });
        return;
      }
      const first = seen.get(r.record.code);
      if (first !== undefined) {
        problems.push({ row: i + 1, path: 'code', message: `code ${r.record.code} appears again (first at row ${first})` });
        return;
      }
      seen.set(r.record.code, i + 1);
      if (this.records.has(r.record.code) && onConflict === 'error') {
        problems.push({ row: i + 1, path: 'code', message: `cylinder ${r.record.code} is already registered (use onConflict=skip or update)` });
      }
      parsed.push(r.record);
    });
    if (problems.length) throw new CodedError('validation', `${problems.length} problem(s) in the import; nothing was imported`, problems);
    const result: CylinderImportResult = { created: 0, updated: 0, skipped: 0 };
    const write: CylinderRecord[] = [];
    for (const r of parsed) {
      const exists = this.records.has(r.code);
      if (exists && onConflict === 'skip') { result.skipped++; continue; }
      if (exists) result.updated++; else result.created++;
      write.push(r);
    }
    if (write.length) await this.store.cylinders.upsert(write, this.now());
    for (const r of write) this.records.set(r.code, r);
    this.generation++;
    if (write.length) for (const l of this.writeListeners) l(write.map((r) => r.code));
    return result;
  }

  /**
   * The trace of `code`: its newest `limit` scans with device time in [from, to], by every
   * device at every station, oldest first, each judged by `cfg` (the scan check's configuration)
   * against the record version of its time. Null when the code has neither a record nor a scan.
   */
  async trace(code: string, q: { from?: number; to?: number; limit: number }, cfg: ScanCheckConfig): Promise<CylinderTrace | null> {
    // scans are readings: through the ingest journal the read waits until what was acknowledged
    // before it is in DuckDB (store/journal/journaledStore.ts), so such a scan is in its trace
    const [{ scans, more }, versions] = await Promise.all([this.store.cylinders.scans({ code, from: q.from, to: q.to, limit: q.limit }), this.store.cylinders.versions(code)]);
    const record = this.records.get(code);
    if (!record && scans.length === 0 && versions.length === 0) return null;
    return cylinderTrace(code, scans, versions, record, cfg, more);
  }
}

/** Is the cylinder owned by or entrusted to one of `stations`? */
export function atStation(r: Pick<CylinderRecord, 'ownerStationId' | 'entrustedStationIds'>, stations: ReadonlySet<string>): boolean {
  return stations.has(r.ownerStationId) || r.entrustedStationIds.some((s) => stations.has(s));
}
