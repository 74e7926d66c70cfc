/**
 * The operators' reads of alerts and cases, without waiting for a checkpoint: what the book
 * holds (active, or changed and not yet stored) overlaid on what the store has.
 */
import { CodedError } from '../core/codes.js';
import { isClosed, type Alert, type TimelineEntry } from '../core/alerts/alert.js';
import { activeStatuses, alertSortKey, closedStatuses, compareKeys, matchesAlert, pageOf, type AlertFilter } from '../core/alerts/alertQuery.js';
import type { RescueCase } from '../core/alerts/rescueCase.js';
import type { AlertOutcome, AlertOutcomeQuery, AlertRepository } from '../store/types.js';
import type { AlertBook } from './alertBook.js';
import type { AlertDetail, AlertListQuery, AlertPage } from './engineTypes.js';

/** Which rescue cases a list asks for: newest alarm first, at most `limit`. */
export interface RescueCaseListQuery {
  elevatorId?: string;
  /** district prefix: the case's, else its elevator's as registered now (accounts/scope.ts caseDistrict) */
  district?: string;
  since?: number;
  /** alarmed before (exclusive) */
  until?: number;
  limit: number;
}

/** The read side of the store's alerts: all the reads use of it. */
export type AlertReadRepository = Pick<AlertRepository, 'get' | 'timeline' | 'query' | 'outcomes' | 'queryCases' | 'getCase'>;

/**
 * A Store, or just its alerts' reads: each slot's engine in cluster mode (cluster/slotEngine.ts)
 * has the shared store's alerts repository and no Store of its own.
 */
export interface AlertReadStore {
  alerts: AlertReadRepository;
}

/**
 * What the reads take from memory: the engine's book, or in cluster mode a view of every node's
 * active alerts and cases (cluster/clusterAlerts.ts: the replica, whose records are newer than
 * the store's).
 */
export type AlertBookView = Pick<AlertBook, 'activeAlerts' | 'activeCases' | 'unsavedAlert' | 'unsavedAlerts' | 'unsavedCase' | 'unsavedCases' | 'unsavedEntries'>;

export class AlertReads {
  constructor(private readonly book: AlertBookView, private readonly store: AlertReadStore) {}

  async getAlert(id: string): Promise<Alert> {
    const a = this.book.unsavedAlert(id) ?? await this.store.alerts.get(id);
    // a checkpoint may have committed it while the store was read
    const b = this.book.unsavedAlert(id) ?? a;
    if (!b) throw new CodedError('alert_not_found', `no alert ${id}`);
    return b;
  }

  /** An alert and the newest `limit` entries of its timeline: the stored rows and those not yet stored. */
  async alertDetail(id: string, limit = 200, before?: number): Promise<AlertDetail> {
    const stored = await this.store.alerts.timeline(id, limit, before);
    const alert = await this.getAlert(id);
    const byN = new Map<number, TimelineEntry>();
    for (const e of stored) byN.set(e.n, e);
    for (const e of this.book.unsavedEntries(id, before)) byN.set(e.n, e);
    const timeline = [...byN.values()].sort((x, y) => x.n - y.n).slice(-limit);
    // alerts written before the link was kept: their case names them
    const rescueCaseId = alert.rescueCaseId ?? this.book.activeCases().find((c) => c.alertId === id)?.id ?? null;
    return { ...alert, rescueCaseId, timeline, timelineTotal: alert.events };
  }

  /**
   * A page of alerts: open and acknowledged ones from the book's active set (all of them are
   * there), closed ones from the store, overlaid with the closed versions the store does not
   * have yet.
   */
  async listAlerts(q: AlertListQuery): Promise<AlertPage> {
    const statuses = q.status?.length ? q.status : [...activeStatuses, ...closedStatuses];
    const wantClosed = statuses.filter((s) => closedStatuses.includes(s));
    const unsaved = this.book.unsavedAlerts();
    const active = this.book.activeAlerts();
    // every alert the engine holds now: the store's version of any of them is older
    const known = new Set([...active.map((a) => a.id), ...unsaved.keys()]);
    const memory: Alert[] = [];
    if (statuses.some((s) => activeStatuses.includes(s))) memory.push(...active);
    if (wantClosed.length) for (const a of unsaved.values()) if (isClosed(a)) memory.push(a);
    const mem = pageOf(memory, q, q.sort, q.after, q.limit);
    let stored: Alert[] = [];
    let storeMore = false;
    if (wantClosed.length) {
      // the store's rows of alerts held in memory are skipped: ask for that many more
      const ask = q.limit + 1 + unsaved.size;
      const rows = await this.store.alerts.query({ ...q, status: wantClosed, sort: q.sort, after: q.after, limit: ask });
      storeMore = rows.length === ask;
      stored = rows.filter((a) => !known.has(a.id));
    }
    const merged = [...mem.items, ...stored].map((a) => ({ a, k: alertSortKey(a, q.sort) })).sort((x, y) => compareKeys(x.k, y.k));
    const items = merged.slice(0, q.limit);
    const more = merged.length > q.limit || mem.more || storeMore;
    return { items: items.map((x) => x.a), next: more && items.length ? items.at(-1)!.k : null };
  }

  /** The alerts first seen in a period as the on-time statistics need them, current to this moment. */
  async alertOutcomes(q: AlertOutcomeQuery): Promise<AlertOutcome[]> {
    const stored = await this.store.alerts.outcomes(q);
    const filter: AlertFilter = { until: q.to, ...(q.family ? { family: q.family } : {}), ...(q.district ? { district: q.district } : {}) };
    const byId = new Map<string, AlertOutcome>();
    for (const o of stored) byId.set(o.id, o);
    for (const a of [...this.book.unsavedAlerts().values(), ...this.book.activeAlerts()]) {
      if (a.firstSeen >= q.from && matchesAlert(a, filter)) byId.set(a.id, a);
    }
    return [...byId.values()];
  }

  /**
   * Rescue cases, newest alarm first: the stored ones overlaid with those not yet written. The
   * district is filtered in the query; a case not yet written has the district it opened with.
   */
  async listRescueCases(q: RescueCaseListQuery): Promise<RescueCase[]> {
    const unsaved = this.book.unsavedCases();
    const stored = await this.store.alerts.queryCases({ ...q, limit: q.limit + unsaved.size });
    const byId = new Map<string, RescueCase>();
    for (const c of stored) byId.set(c.id, c);
    for (const c of unsaved.values()) byId.set(c.id, c);
    return [...byId.values()]
      .filter((c) => (!q.elevatorId || c.elevatorId === q.elevatorId) && (q.since === undefined || c.alarmAt >= q.since) && (q.until === undefined || c.alarmAt < q.until)
        && (q.district === undefined || (c.district ?? '').startsWith(q.district)))
      .sort((a, b) => b.alarmAt - a.alarmAt || a.id.localeCompare(b.id))
      .slice(0, q.limit);
  }

  async getRescueCase(id: string): Promise<RescueCase> {
    const c = this.book.unsavedCase(id) ?? await this.store.alerts.getCase(id);
    if (!c) throw new CodedError('rescue_case_not_found', `no rescue case ${id}`);
    return c;
  }
}
