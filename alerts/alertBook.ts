/**
 * The engine's book of alerts and rescue cases in memory: the active ones (open or
 * acknowledged alerts, running cases), and every change not yet in the store, first as dirty,
 * then as "saving" while a checkpoint writes it. Reads overlay it on the store (alertReads.ts).
 */
import { alertKey, isClosed, type Alert, type AlertStep, type TimelineEntry } from '../core/alerts/alert.js';
import { isFinished, type RescueCase, type RescueEvent } from '../core/alerts/rescueCase.js';
import type { Change, EngineEvent } from './engineTypes.js';

export interface TimelineRow {
  alertId: string;
  entry: TimelineEntry;
}

/** What one checkpoint writes, cut from the book (cut) and given back if it failed (restore). */
export interface BookCut {
  alerts: Alert[];
  cases: RescueCase[];
  timeline: TimelineRow[];
}

export class AlertBook {
  /** open or acknowledged alerts, by dedupe key (newest) and by id */
  private readonly activeByKey = new Map<string, Alert>();
  private readonly activeById = new Map<string, Alert>();
  private readonly cases = new Map<string, RescueCase>();
  private readonly dirtyAlerts = new Map<string, Alert>();
  private readonly dirtyCases = new Map<string, RescueCase>();
  /** timeline entries not yet handed to a checkpoint */
  private pendingEntries: TimelineRow[] = [];
  /** what the checkpoint in progress is writing: readable until it committed */
  private savingAlerts = new Map<string, Alert>();
  private savingCases = new Map<string, RescueCase>();
  private savingEntries: TimelineRow[] = [];

  constructor(private readonly emit: (e: EngineEvent) => void) {}

  /** The active alerts and cases as stored (at start). */
  load(alerts: readonly Alert[], cases: readonly RescueCase[]): void {
    for (const a of alerts) this.track(a);
    for (const c of cases) this.cases.set(c.id, c);
  }

  activeAlerts(): Alert[] {
    return [...this.activeById.values()];
  }

  activeCases(): RescueCase[] {
    return [...this.cases.values()];
  }

  activeAlert(id: string): Alert | undefined {
    return this.activeById.get(id);
  }

  /** The newest active alert of a rule's condition on a device. */
  activeByCondition(rule: string, deviceId: string, condition: string): Alert | undefined {
    return this.activeByKey.get(alertKey(rule, deviceId, condition));
  }

  /** The newest version of an alert held here that the store may not have yet. */
  unsavedAlert(id: string): Alert | undefined {
    return this.activeById.get(id) ?? this.dirtyAlerts.get(id) ?? this.savingAlerts.get(id);
  }

  unsavedCase(id: string): RescueCase | undefined {
    return this.cases.get(id) ?? this.dirtyCases.get(id) ?? this.savingCases.get(id);
  }

  /** Changed alerts not in the store yet (being written, or after that). */
  unsavedAlerts(): Map<string, Alert> {
    return new Map([...this.savingAlerts, ...this.dirtyAlerts]);
  }

  /** Every case held here: running, changed or being written (the newest version of each). */
  unsavedCases(): Map<string, RescueCase> {
    return new Map([...this.savingCases, ...this.dirtyCases, ...this.cases]);
  }

  /** Timeline entries of an alert not in the store yet, with n < `before` when given. */
  unsavedEntries(alertId: string, before?: number): TimelineEntry[] {
    const out: TimelineEntry[] = [];
    for (const list of [this.savingEntries, this.pendingEntries]) {
      for (const { alertId: id, entry } of list) if (id === alertId && (before === undefined || entry.n < before)) out.push(entry);
    }
    return out;
  }

  get dirty(): boolean {
    return this.dirtyAlerts.size > 0 || this.dirtyCases.size > 0;
  }

  put({ alert: a, entries }: AlertStep, change: Change): void {
    if (isClosed(a)) {
      this.activeById.delete(a.id);
      const key = alertKey(a.rule, a.device.id, a.condition);
      if (this.activeByKey.get(key)?.id === a.id) this.activeByKey.delete(key);
    } else {
      this.track(a);
    }
    this.dirtyAlerts.set(a.id, a);
    for (const entry of entries) this.pendingEntries.push({ alertId: a.id, entry });
    this.emit({ type: 'alert', change, alert: a, entries });
  }

  putCase(c: RescueCase, change: Change, events: RescueEvent[]): void {
    if (isFinished(c)) this.cases.delete(c.id); else this.cases.set(c.id, c);
    this.dirtyCases.set(c.id, c);
    this.emit({ type: 'rescueCase', change, rescueCase: c, events });
  }

  /** Hand every change to a checkpoint; they stay readable as "saving" until committed or restored. */
  cut(): BookCut {
    this.savingAlerts = new Map(this.dirtyAlerts);
    this.savingCases = new Map(this.dirtyCases);
    this.savingEntries = this.pendingEntries;
    this.pendingEntries = [];
    this.dirtyAlerts.clear();
    this.dirtyCases.clear();
    return { alerts: [...this.savingAlerts.values()], cases: [...this.savingCases.values()], timeline: this.savingEntries };
  }

  /** The checkpoint committed: the store has them now. */
  saved(): void {
    this.savingAlerts = new Map();
    this.savingCases = new Map();
    this.savingEntries = [];
  }

  /** The checkpoint failed: they are dirty again for the next (newer versions win; entries keep their order). */
  restore(cut: BookCut): void {
    for (const a of cut.alerts) if (!this.dirtyAlerts.has(a.id)) this.dirtyAlerts.set(a.id, a);
    for (const c of cut.cases) if (!this.dirtyCases.has(c.id)) this.dirtyCases.set(c.id, c);
    this.pendingEntries = [...cut.timeline, ...this.pendingEntries];
    this.saved();
  }

  private track(a: Alert): void {
    this.activeById.set(a.id, a);
    const key = alertKey(a.rule, a.device.id, a.condition);
    const current = this.activeByKey.get(key);
    if (!current || current.lastSeen <= a.lastSeen) this.activeByKey.set(key, a);
  }
}
