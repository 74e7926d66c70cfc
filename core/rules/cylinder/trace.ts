/**
 * A cylinder's trace: its stored scans, each with the decision and the reasons, derived the
 * way `cylinder.scan_check` decided them (decideScan, cylinderCheck.ts) from the record as it
 * stood when the scan was received (the version written last at or before the receive time;
 * none: the code was not registered then). Pure.
 *
 * Why derived and not recorded: the scan check runs in the alert engine and its reply is not
 * stored; the readings are, and so are the record's versions (store/migrations.ts v7). The
 * derivation uses the scan check's current configuration (gatePoints, dueSoonDays, ...): a
 * scan made under other thresholds shows the decision they give today.
 */
import type { CylinderRecord, ScanDecision } from '../../alerts/types.js';
import type { CylinderVersion, StoredScan } from '../../cylinders/trace.js';
import { decideScan, type CheckReason, type ScanCheckConfig } from './cylinderCheck.js';

export interface TraceEntry extends StoredScan {
  decision: ScanDecision;
  /** every reason that applied (check order: `lost` is its own) */
  reasons: CheckReason[];
  /** the alerts the scan check raised for it (a repeat within the window updates the open one) */
  alerts: string[];
  /** when the record version it was judged by was written; null: no record then (unregistered) */
  recordFrom: number | null;
}

export interface CylinderTrace {
  code: string;
  /** the record as it is now; null when the code is not registered */
  record: CylinderRecord | null;
  /** the stations that scanned it, in the order of their first scan (device time) */
  stations: string[];
  /** oldest first (device time, then seq) */
  scans: TraceEntry[];
  /** older scans exist beyond the query's limit */
  truncated: boolean;
}

/** The version in force at `at`: the last one written at or before it (versions in any order). */
export function versionAt(versions: readonly CylinderVersion[], at: number): CylinderVersion | undefined {
  let best: CylinderVersion | undefined;
  for (const v of versions) if (v.from <= at && (!best || v.from >= best.from)) best = v;
  return best;
}

export function traceEntry(scan: StoredScan, versions: readonly CylinderVersion[], cfg: ScanCheckConfig): TraceEntry {
  const version = versionAt(versions, scan.receivedAt);
  const d = decideScan(version?.record, scan, scan.receivedAt, cfg);
  const alerts: string[] = d.alert ? [d.alert] : [];
  if (d.reasons.includes('inspection_due_soon')) alerts.push('cylinder.inspection_due');
  return { ...scan, decision: d.decision, reasons: d.reasons, alerts, recordFrom: version ? version.from : null };
}

/** The stations of the scans, each once, in the order of its first scan. */
export function stationsOf(scans: readonly StoredScan[]): string[] {
  return [...new Set(scans.map((s) => s.stationId))];
}

/**
 * The trace of `code` from its scans (as stored, any order; `truncated` when the store held
 * more than it gave) and its record versions; `record` is the current one.
 */
export function cylinderTrace(
  code: string,
  scans: readonly StoredScan[],
  versions: readonly CylinderVersion[],
  record: CylinderRecord | undefined,
  cfg: ScanCheckConfig,
  truncated = false,
): CylinderTrace {
  const ordered = [...scans].sort((a, b) => a.ts - b.ts || a.seq - b.seq);
  return {
    code,
    record: record ?? null,
    stations: stationsOf(ordered),
    scans: ordered.map((s) => traceEntry(s, versions, cfg)),
    truncated,
  };
}
