/**
 * The alert engine adapter: feeds stored readings, clock ticks and connection events to the
 * pure rules, executes their effects (open/update/resolve alerts, 96333 rescue cases, scan
 * replies, store flags), evaluates handling deadlines, and persists everything.
 *
 * Durability: readings are stored before rules see them. Rule states, changed alerts and
 * cases are checkpointed together with the seq of the last reading they reflect; after a
 * crash the engine replays the stored readings after that seq, with each reading's receive
 * time as `now`, so a restart in the middle of a timer or cooldown gives the same alerts.
 */
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { CodedError } from '../core/codes.js';
import type { AlertOutcome, AlertOutcomeQuery, DeviceRecord, Reading, Store } from '../store/types.js';
import {
  acknowledge, addNote, alertKey, assign, autoResolve, deadlineEvents, isClosed, markFalsePositive, openAlert, refused, repeatAlert, repeats, resolve,
  type ActionResult, type Alert, type AlertDevice, type AlertStep, type TimelineAction, type TimelineEntry,
} from '../core/alerts/alert.js';
import { activeStatuses, closedStatuses, compareKeys, alertSortKey, matchesAlert, pageOf, type AlertFilter, type AlertKey, type AlertSort } from '../core/alerts/alertQuery.js';
import { evaluateDeadlines, type DeadlinePolicy } from '../core/alerts/deadlines.js';
import {
  evaluateRescue, isFinished, openRescueCase, recordStep, type RescueCase, type RescueEvent, type RescuePolicy, type RescueStatus,
} from '../core/alerts/rescueCase.js';
import type { CylinderRecord, Effect, RaiseAlert, ResolveAlert, ScanReply } from '../core/alerts/types.js';
import { RuleRunner, type AnyRule } from '../core/ruleRunner.js';
import { scanReplyTopic } from '../core/topic.js';
import { withTransientMaps } from '../core/rules/common/shardedMap.js';

export interface EngineOptions {
  rules: readonly AnyRule[];
  ruleOverrides: Record<string, Record<string, unknown>>;
  deadlinePolicy: DeadlinePolicy;
  rescuePolicy: RescuePolicy;
  /** rule id whose raises open a 96333 rescue case */
  rescueRule: string;
  tickMs: number;
  checkpointMs: number;
  /** scan replies for readings older than this (replayed after a crash) are not sent */
  replyMaxAgeMs: number;
}

export interface EngineDeps {
  store: Store;
  device(id: string): DeviceRecord | undefined;
  cylinder(code: string): CylinderRecord | undefined;
  /** MQTT publish on behalf of the platform */
  publish(topic: string, payload: string, qos: 0 | 1): void;
  log: Logger;
  now?: () => number;
}

/** An alert change carries the record and the timeline entries it appended (a delta, not the history). */
export type EngineEvent =
  | { type: 'alert'; change: 'opened' | 'updated' | 'closed'; alert: Alert; entries: TimelineEntry[] }
  | { type: 'rescueCase'; change: 'opened' | 'updated' | 'closed'; rescueCase: RescueCase; events: RescueEvent[] }
  | { type: 'storeFlag'; storeId: string; flagged: boolean; count: number; at: number };

export interface StoreFlag {
  storeId: string;
  flagged: boolean;
  count: number;
  at: number;
}

/** The outcome of the engine's checkpoints: alerts, cases and rule state reaching the store. */
export interface EnginePersistStatus {
  ok: boolean;
  consecutiveFailures: number;
  /** failed checkpoints since start */
  failures: number;
  lastError: string | null;
  /** when the current run of failures began */
  failingSince: number | null;
  lastSavedAt: number | null;
}

const FLAGS_KEY = '__storeFlags';

/** Timeline entries an action's answer carries (the newest): what the action added and a little before it. */
export const ACTION_TIMELINE = 20;

/** Readings replayed between two checkpoints at start: what the replay holds in memory is bounded. */
const REPLAY_BATCH = 5000;

/** A page of an alert list (listAlerts). */
export interface AlertPage {
  items: Alert[];
  /** the key of the last item when more follow, else null */
  next: AlertKey | null;
}

export interface AlertListQuery extends AlertFilter {
  sort: AlertSort;
  after: AlertKey | null;
  limit: number;
}

/** An alert with the newest part of its timeline (GET /api/alerts/:id). */
export interface AlertDetail extends Alert {
  timeline: TimelineEntry[];
  /** entries on the whole timeline; `timeline` holds the newest of them */
  timelineTotal: number;
}

export class AlertEngine {
  readonly runner: RuleRunner;
  private readonly now: () => number;
  /** open or acknowledged alerts, by dedupe key (newest) and by id */
  private readonly activeByKey = new Map<string, Alert>();
  private readonly activeById = new Map<string, Alert>();
  private readonly cases = new Map<string, RescueCase>();
  private readonly dirtyAlerts = new Map<string, Alert>();
  private readonly dirtyCases = new Map<string, RescueCase>();
  /** timeline entries not yet handed to a checkpoint */
  private pendingEntries: Array<{ alertId: string; entry: TimelineEntry }> = [];
  /** what the checkpoint in progress is writing: readable until it committed */
  private savingAlerts = new Map<string, Alert>();
  private savingCases = new Map<string, RescueCase>();
  private savingEntries: Array<{ alertId: string; entry: TimelineEntry }> = [];
  private flags: Record<string, StoreFlag> = {};
  private readonly listeners: Array<(e: EngineEvent) => void> = [];
  private lastSeq = 0;
  private savedSeq = -1;
  private startSeq = 0;
  private tickTimer: NodeJS.Timeout | null = null;
  private checkpointTimer: NodeJS.Timeout | null = null;
  private checkpointing: Promise<void> = Promise.resolve();
  private replaying = false;
  ruleErrors = 0;

  constructor(private readonly opts: EngineOptions, private readonly deps: EngineDeps) {
    this.now = deps.now ?? Date.now;
    this.runner = new RuleRunner(opts.rules, opts.ruleOverrides, {
      device: (id) => {
        const d = deps.device(id);
        return d ? { id: d.id, family: d.family, name: d.name, district: d.district, meta: d.meta } : undefined;
      },
      cylinder: (code) => deps.cylinder(code),
    }, ({ rule, error }) => {
      this.ruleErrors++;
      deps.log.error({ rule, err: error }, 'alert rule failed; its state is kept');
    });
  }

  on(listener: (e: EngineEvent) => void): void {
    this.listeners.push(listener);
  }

  async start(): Promise<void> {
    const { store } = this.deps;
    const saved = await store.loadEngineState();
    const { [FLAGS_KEY]: flags, ...ruleStates } = saved?.ruleStates ?? {};
    this.runner.load(ruleStates);
    this.flags = (flags as Record<string, StoreFlag> | undefined) ?? {};
    // First start on existing data: begin after what is stored (no replay of history).
    this.lastSeq = saved ? saved.lastSeq : (await store.lastSequences()).readingSeq;
    this.startSeq = this.lastSeq;
    for (const a of await store.loadActiveAlerts()) this.track(a);
    for (const c of await store.loadActiveRescueCases()) this.cases.set(c.id, c);
    await this.replay();
    // the service was not listening until now: rules that time silence start counting again
    const now = this.now();
    for (const rule of this.opts.rules) {
      if (rule.onResume) this.runner.update(rule.id, (s) => ({ state: rule.onResume!(s, now), effects: [] }));
    }
    this.tickTimer = setInterval(() => this.tick(), this.opts.tickMs);
    this.tickTimer.unref();
    this.checkpointTimer = setInterval(() => void this.checkpoint().catch((err) => this.deps.log.error({ err }, 'alert checkpoint failed')), this.opts.checkpointMs);
    this.checkpointTimer.unref();
  }

  /** A restart replays the readings after this seq (the last checkpoint's). */
  get replayFromSeq(): number {
    return this.savedSeq >= 0 ? this.savedSeq : this.startSeq;
  }

  async stop(): Promise<void> {
    if (this.tickTimer) clearInterval(this.tickTimer);
    if (this.checkpointTimer) clearInterval(this.checkpointTimer);
    this.tickTimer = this.checkpointTimer = null;
    await this.checkpoint();
  }

  /**
   * A reading accepted but not yet committed. The cylinder allow/refuse reply is due within
   * 200 ms (docs/protocol.md) and depends on the registry, not on the disk, so it leaves now; the
   * same scan is evaluated again after its commit for alerts, and that reply is not repeated.
   */
  handleAccepted(r: Reading): void {
    if (r.family !== 'cylinder' || r.channel !== 'scan') return;
    const now = this.now();
    for (const e of this.runner.peek(r, now)) {
      if (e.type !== 'scanReply') continue;
      this.sendScanReply(e);
      this.repliedEarly.add(e.deviceId + '\n' + e.msgId);
      // bounded: a reply whose commit never comes (store failure) must not stay forever
      if (this.repliedEarly.size > 100_000) this.repliedEarly.delete(this.repliedEarly.values().next().value!);
    }
  }

  /** Scans answered before their commit (device + msgId). */
  private readonly repliedEarly = new Set<string>();

  private sendScanReply(e: ScanReply): void {
    this.deps.publish(scanReplyTopic(e.deviceId), JSON.stringify({
      msgId: e.msgId, cylinderCode: e.cylinderCode, decision: e.decision, reasons: e.reasons, ts: new Date(e.at).toISOString(),
    }), 1);
  }

  /** Readings the store has committed (ingest's onStored). Synchronous: effects apply in order. */
  handleReadings(readings: readonly Reading[]): void {
    // one batch: rule state made while it runs is updated in place (shardedMap.ts explains why that is safe)
    withTransientMaps(() => {
      for (const r of readings) {
        if (r.seq <= this.lastSeq) continue;
        const now = this.replaying ? r.receivedAt : this.now();
        this.apply(this.runner.reading(r, now), now, r.receivedAt);
        this.lastSeq = r.seq;
      }
    });
  }

  handleConnection(deviceId: string, connected: boolean): void {
    const d = this.deps.device(deviceId);
    if (!d) return;
    const now = this.now();
    this.apply(this.runner.connection({ deviceId, connected }, d.family, now), now, now);
  }

  /** The clock: timer rules, handling deadlines, rescue deadlines. */
  tick(now: number = this.now()): void {
    this.apply(this.runner.tick(now), now, now);
    for (const a of [...this.activeById.values()]) {
      const { state, events } = evaluateDeadlines(a.deadlines, now, this.opts.deadlinePolicy);
      if (!events.length) continue;
      this.put(deadlineEvents(a, events as TimelineAction[], { deadlines: state }, now), 'updated');
    }
    for (const c of [...this.cases.values()]) {
      const { state, events } = evaluateRescue(c, now, this.opts.rescuePolicy);
      if (events.length) this.putCase(state, 'updated', events);
    }
  }

  // ---- queries (active state from memory, history from the store)

  activeAlerts(): Alert[] {
    return [...this.activeById.values()];
  }

  activeRescueCases(): RescueCase[] {
    return [...this.cases.values()];
  }

  storeFlags(): StoreFlag[] {
    return Object.values(this.flags).filter((f) => f.flagged).sort((a, b) => b.count - a.count || a.storeId.localeCompare(b.storeId));
  }

  /** The newest version of an alert the engine holds that the store may not have yet. */
  private unsavedAlert(id: string): Alert | undefined {
    return this.activeById.get(id) ?? this.dirtyAlerts.get(id) ?? this.savingAlerts.get(id);
  }

  async getAlert(id: string): Promise<Alert> {
    const a = this.unsavedAlert(id) ?? await this.deps.store.getAlert(id);
    // a checkpoint may have committed it while the store was read
    const b = this.unsavedAlert(id) ?? a;
    if (!b) throw new CodedError('alert_not_found', `no alert ${id}`);
    return b;
  }

  /** An alert and the newest `limit` entries of its timeline: the stored rows and those not yet stored. */
  async alertDetail(id: string, limit = 200, before?: number): Promise<AlertDetail> {
    const stored = await this.deps.store.alertTimeline(id, limit, before);
    const alert = await this.getAlert(id);
    const byN = new Map<number, TimelineEntry>();
    for (const e of stored) byN.set(e.n, e);
    for (const list of [this.savingEntries, this.pendingEntries]) {
      for (const { alertId, entry } of list) if (alertId === id && (before === undefined || entry.n < before)) byN.set(entry.n, entry);
    }
    const timeline = [...byN.values()].sort((x, y) => x.n - y.n).slice(-limit);
    return { ...alert, timeline, timelineTotal: alert.events };
  }

  /**
   * A page of alerts, read without waiting for a checkpoint: open and acknowledged ones from
   * the engine's active set (all of them are there), closed ones from the store, overlaid with
   * the closed versions the store does not have yet.
   */
  async listAlerts(q: AlertListQuery): Promise<AlertPage> {
    const statuses = q.status?.length ? q.status : [...activeStatuses, ...closedStatuses];
    const wantClosed = statuses.filter((s) => closedStatuses.includes(s));
    const unsaved = new Map<string, Alert>([...this.savingAlerts, ...this.dirtyAlerts]);
    // every alert the engine holds now: the store's version of any of them is older
    const known = new Set([...this.activeById.keys(), ...unsaved.keys()]);
    const memory: Alert[] = [];
    if (statuses.some((s) => activeStatuses.includes(s))) memory.push(...this.activeById.values());
    if (wantClosed.length) for (const a of unsaved.values()) if (isClosed(a)) memory.push(a);
    const mem = pageOf(memory, q, q.sort, q.after, q.limit);
    let stored: Alert[] = [];
    let storeMore = false;
    if (wantClosed.length) {
      // the store's rows of alerts held in memory are skipped: ask for that many more
      const ask = q.limit + 1 + unsaved.size;
      const rows = await this.deps.store.queryAlerts({ ...q, status: wantClosed, sort: q.sort, after: q.after, limit: ask });
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
    const stored = await this.deps.store.alertOutcomes(q);
    const filter: AlertFilter = { until: q.to, ...(q.family ? { family: q.family } : {}), ...(q.district ? { district: q.district } : {}) };
    const byId = new Map<string, AlertOutcome>();
    for (const o of stored) byId.set(o.id, o);
    for (const a of [...this.savingAlerts.values(), ...this.dirtyAlerts.values(), ...this.activeById.values()]) {
      if (a.firstSeen >= q.from && matchesAlert(a, filter)) byId.set(a.id, a);
    }
    return [...byId.values()];
  }

  /** Rescue cases, newest alarm first: the stored ones overlaid with those not yet written (no checkpoint waited for). */
  async listRescueCases(q: { elevatorId?: string; since?: number; limit: number }): Promise<RescueCase[]> {
    const unsaved = new Map<string, RescueCase>([...this.savingCases, ...this.dirtyCases, ...this.cases]);
    const stored = await this.deps.store.queryRescueCases({ ...q, limit: q.limit + unsaved.size });
    const byId = new Map<string, RescueCase>();
    for (const c of stored) byId.set(c.id, c);
    for (const c of unsaved.values()) byId.set(c.id, c);
    return [...byId.values()]
      .filter((c) => (!q.elevatorId || c.elevatorId === q.elevatorId) && (q.since === undefined || c.alarmAt >= q.since))
      .sort((a, b) => b.alarmAt - a.alarmAt || a.id.localeCompare(b.id))
      .slice(0, q.limit);
  }

  async getRescueCase(id: string): Promise<RescueCase> {
    const c = this.cases.get(id) ?? this.dirtyCases.get(id) ?? this.savingCases.get(id) ?? await this.deps.store.getRescueCase(id);
    if (!c) throw new CodedError('rescue_case_not_found', `no rescue case ${id}`);
    return c;
  }

  // ---- operator actions: applied, persisted, then answered

  async act(id: string, action: 'ack' | 'resolve' | 'assign' | 'note' | 'false_positive', by: string, opts: { note?: string; assignee?: string } = {}): Promise<AlertDetail> {
    const a = await this.getAlert(id);
    const now = this.now();
    let result: ActionResult;
    switch (action) {
      case 'ack': result = acknowledge(a, by, now, opts.note); break;
      case 'resolve': result = resolve(a, by, now, opts.note); break;
      case 'assign': result = assign(a, opts.assignee ?? '', by, now, opts.note); break;
      case 'note': result = addNote(a, opts.note ?? '', by, now); break;
      case 'false_positive': result = markFalsePositive(a, by, now, opts.note); break;
    }
    if (refused(result)) throw new CodedError(result.refused === 'note_limit' ? 'note_limit' : 'alert_conflict', result.message, { reason: result.refused });
    this.put(result, isClosed(result.alert) ? 'closed' : 'updated');
    if (action === 'false_positive' || action === 'resolve') this.closedFeedback(result.alert, action === 'false_positive', now);
    await this.checkpoint();
    return this.alertDetail(id, ACTION_TIMELINE);
  }

  async recordRescueStep(id: string, step: RescueStatus, by: string, at?: number, note?: string): Promise<RescueCase> {
    const c = await this.getRescueCase(id);
    const now = this.now();
    const r = recordStep(c, step, by, now, at ?? now, note);
    if ('refused' in r) throw new CodedError('rescue_step_refused', r.message, { reason: r.refused });
    this.putCase(r, isFinished(r) ? 'closed' : 'updated', []);
    // the trapped alert closes with its case
    const alert = this.activeById.get(r.alertId);
    if (alert && isFinished(r)) {
      const closed = resolve(alert, by, now, step === 'false_alarm' ? 'rescue case: false alarm' : 'rescue case closed');
      if (!refused(closed)) this.put(closed, 'closed');
    }
    await this.checkpoint();
    return r;
  }

  /** Persist rule states (as of lastSeq) with every changed alert and case, in one transaction. */
  checkpoint(): Promise<void> {
    const run = this.checkpointing.then(async () => {
      if (!this.dirtyAlerts.size && !this.dirtyCases.size && this.savedSeq === this.lastSeq && !this.stateTouched) return;
      // only the rule states that changed since the last save: an operator's note does not
      // rewrite every rule's state (states are immutable outside a batch, so identity tells)
      const ruleStates: Record<string, string> = {};
      const cut = new Map<string, unknown>();
      for (const [id, state] of Object.entries(this.runner.states)) {
        if (this.savedStates.get(id) === state) continue;
        ruleStates[id] = JSON.stringify(state);
        cut.set(id, state);
      }
      const flagsChanged = this.flagsChanged;
      if (flagsChanged) ruleStates[FLAGS_KEY] = JSON.stringify(this.flags);
      this.flagsChanged = false;
      // readable as "not yet stored" until the transaction committed (getAlert, listAlerts)
      this.savingAlerts = new Map(this.dirtyAlerts);
      this.savingCases = new Map(this.dirtyCases);
      this.savingEntries = this.pendingEntries;
      this.pendingEntries = [];
      const alerts = [...this.savingAlerts.values()];
      const cases = [...this.savingCases.values()];
      const timeline = this.savingEntries;
      const lastSeq = this.lastSeq;
      this.dirtyAlerts.clear();
      this.dirtyCases.clear();
      this.stateTouched = false;
      try {
        await this.deps.store.saveEngineCheckpoint({ lastSeq, ruleStates, alerts, timeline, cases });
        this.savingAlerts = new Map();
        this.savingCases = new Map();
        this.savingEntries = [];
        for (const [id, state] of cut) this.savedStates.set(id, state);
        this.savedSeq = lastSeq;
        this.persist = { ok: true, consecutiveFailures: 0, failures: this.persist.failures, lastError: null, failingSince: null, lastSavedAt: this.now() };
      } catch (err) {
        this.persist = {
          ok: false, consecutiveFailures: this.persist.consecutiveFailures + 1, failures: this.persist.failures + 1,
          lastError: (err as Error).message, failingSince: this.persist.failingSince ?? this.now(), lastSavedAt: this.persist.lastSavedAt,
        };
        // keep them dirty for the next attempt (newer versions win; entries keep their order)
        for (const a of alerts) if (!this.dirtyAlerts.has(a.id)) this.dirtyAlerts.set(a.id, a);
        for (const c of cases) if (!this.dirtyCases.has(c.id)) this.dirtyCases.set(c.id, c);
        this.pendingEntries = [...timeline, ...this.pendingEntries];
        if (flagsChanged) this.flagsChanged = true;
        this.savingAlerts = new Map();
        this.savingCases = new Map();
        this.savingEntries = [];
        this.stateTouched = true;
        throw err;
      }
    });
    // the chain goes on after a failure: the next checkpoint tries again (its caller saw this one fail)
    this.checkpointing = run.catch(() => undefined);
    return run;
  }

  private persist: EnginePersistStatus = { ok: true, consecutiveFailures: 0, failures: 0, lastError: null, failingSince: null, lastSavedAt: null };

  /** Whether the last checkpoint could be written (/healthz, /metrics). */
  persistStatus(): EnginePersistStatus {
    return { ...this.persist };
  }

  /** timer rules change state without readings; save them too */
  private stateTouched = false;
  /** each rule's state as last written (by identity), and whether the store flags changed since */
  private readonly savedStates = new Map<string, unknown>();
  private flagsChanged = true;

  private async replay(): Promise<void> {
    this.replaying = true;
    let lastTick = 0;
    try {
      for (;;) {
        const batch = await this.deps.store.readingsAfter(this.lastSeq, REPLAY_BATCH);
        if (!batch.length) break;
        // timers that fell due between two replayed readings fire in order, on the same
        // clock resolution as live operation (not once per reading: a replay can be long)
        for (const r of batch) {
          if (r.receivedAt - lastTick >= this.opts.tickMs) {
            this.tick(r.receivedAt);
            lastTick = r.receivedAt;
          }
          this.handleReadings([r]);
        }
        this.deps.log.info({ upTo: this.lastSeq, count: batch.length }, 'alert engine replayed stored readings');
        // a long backlog is replayed in bounded steps: each batch's alerts, timeline rows and
        // rule states are written before the next is read, so memory does not grow with it
        await this.checkpoint();
      }
    } finally {
      this.replaying = false;
    }
    await this.checkpoint();
  }

  private apply(effects: readonly Effect[], now: number, readingTime: number): void {
    if (effects.length) this.stateTouched = true;
    for (const e of effects) {
      switch (e.type) {
        case 'raise': this.raise(e); break;
        case 'resolve': this.resolveByKey(e); break;
        case 'scanReply':
          if (this.repliedEarly.delete(e.deviceId + '\n' + e.msgId)) break;
          if (now - readingTime <= this.opts.replyMaxAgeMs && (!this.replaying || this.now() - readingTime <= this.opts.replyMaxAgeMs)) this.sendScanReply(e);
          break;
        case 'flagStore':
          this.flags[e.storeId] = { storeId: e.storeId, flagged: e.flagged, count: e.count, at: e.at };
          this.flagsChanged = true;
          this.emit({ type: 'storeFlag', storeId: e.storeId, flagged: e.flagged, count: e.count, at: e.at });
          break;
      }
    }
  }

  private raise(e: RaiseAlert): void {
    const key = alertKey(e.rule, e.deviceId, e.condition);
    const existing = this.activeByKey.get(key);
    if (existing && repeats(existing, e)) {
      this.put(repeatAlert(existing, e), 'updated');
      return;
    }
    const opened = openAlert(randomUUID(), e, this.deviceSnapshot(e.deviceId), this.opts.deadlinePolicy);
    this.put(opened, 'opened');
    if (e.rule === this.opts.rescueRule) this.openCase(opened.alert, e.at);
  }

  private resolveByKey(e: ResolveAlert): void {
    const existing = this.activeByKey.get(alertKey(e.rule, e.deviceId, e.condition));
    if (existing) this.put(autoResolve(existing, e.reason, e.at), 'closed');
  }

  /** A trapped alert opens a 96333 rescue case, unless one is already running for that elevator. */
  private openCase(alert: Alert, at: number): void {
    for (const c of this.cases.values()) if (c.elevatorId === alert.device.id) return;
    const meta = alert.device.meta;
    const override = typeof meta.arrivalDeadlineMin === 'number' ? meta.arrivalDeadlineMin * 60_000 : this.opts.rescuePolicy.arrivalWithinMs;
    const unit = typeof meta.maintenanceUnit === 'string' ? meta.maintenanceUnit : null;
    this.putCase(openRescueCase(randomUUID(), alert.device.id, alert.id, at, unit, override), 'opened', []);
  }

  /** An operator closed an alert: rules that count alerts (repeat offenders) hear of it. */
  private closedFeedback(a: Alert, falsePositive: boolean, now: number): void {
    for (const rule of this.opts.rules) {
      if (!rule.onAlertClosed) continue;
      this.stateTouched = true;
      this.apply(this.runner.update(rule.id, (s, ctx) => rule.onAlertClosed!(s, { alert: a, falsePositive, at: now }, ctx)), now, now);
    }
  }

  private deviceSnapshot(id: string): AlertDevice {
    const d = this.deps.device(id);
    return { id, name: d?.name ?? null, district: d?.district ?? null, location: d?.location ?? null, meta: d?.meta ?? {} };
  }

  private track(a: Alert): void {
    this.activeById.set(a.id, a);
    const key = alertKey(a.rule, a.device.id, a.condition);
    const current = this.activeByKey.get(key);
    if (!current || current.lastSeen <= a.lastSeen) this.activeByKey.set(key, a);
  }

  private put({ alert: a, entries }: AlertStep, change: 'opened' | 'updated' | 'closed'): void {
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

  private putCase(c: RescueCase, change: 'opened' | 'updated' | 'closed', events: RescueEvent[]): void {
    if (isFinished(c)) this.cases.delete(c.id); else this.cases.set(c.id, c);
    this.dirtyCases.set(c.id, c);
    this.emit({ type: 'rescueCase', change, rescueCase: c, events });
  }

  private emit(e: EngineEvent): void {
    for (const l of this.listeners) {
      try { l(e); } catch (err) { this.deps.log.error({ err }, 'alert listener failed'); }
    }
  }
}
