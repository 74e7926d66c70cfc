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
import { CodedError } from '../service/codes.js';
import type { DeviceRecord, Reading, Store } from '../store/types.js';
import {
  acknowledge, addNote, alertKey, assign, autoResolve, isClosed, markFalsePositive, openAlert, refused, repeatAlert, repeats, resolve,
  type ActionResult, type Alert, type AlertDevice, type TimelineAction,
} from './domain/alert.js';
import { evaluateDeadlines, type DeadlinePolicy } from './domain/deadlines.js';
import {
  evaluateRescue, isFinished, openRescueCase, recordStep, type RescueCase, type RescueEvent, type RescuePolicy, type RescueStatus,
} from './domain/rescueCase.js';
import type { CylinderRecord, Effect, RaiseAlert, ResolveAlert, ScanReply } from './domain/types.js';
import { RuleRunner, type AnyRule } from './ruleRunner.js';
import { withTransientMaps } from './rules/common/shardedMap.js';

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

export type EngineEvent =
  | { type: 'alert'; change: 'opened' | 'updated' | 'closed'; alert: Alert }
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

export class AlertEngine {
  readonly runner: RuleRunner;
  private readonly now: () => number;
  /** open or acknowledged alerts, by dedupe key (newest) and by id */
  private readonly activeByKey = new Map<string, Alert>();
  private readonly activeById = new Map<string, Alert>();
  private readonly cases = new Map<string, RescueCase>();
  private readonly dirtyAlerts = new Map<string, Alert>();
  private readonly dirtyCases = new Map<string, RescueCase>();
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
    for (const hook of this.resumeHooks) this.runner.update(hook.ruleId, (s) => ({ state: hook.apply(s, now), effects: [] }));
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
   * 200 ms (PROTOCOL.md) and depends on the registry, not on the disk, so it leaves now; the
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
    this.deps.publish(`cylinder/${e.deviceId}/scan/reply`, JSON.stringify({
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
      const timeline = events.map((action) => ({ at: now, by: 'system', action: action as TimelineAction }));
      this.put({ ...a, deadlines: state, timeline: [...a.timeline, ...timeline], updatedAt: now }, 'updated');
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

  async getAlert(id: string): Promise<Alert> {
    const a = this.activeById.get(id) ?? this.dirtyAlerts.get(id) ?? await this.deps.store.getAlert(id);
    if (!a) throw new CodedError('alert_not_found', `no alert ${id}`);
    return a;
  }

  async getRescueCase(id: string): Promise<RescueCase> {
    const c = this.cases.get(id) ?? this.dirtyCases.get(id) ?? await this.deps.store.getRescueCase(id);
    if (!c) throw new CodedError('rescue_case_not_found', `no rescue case ${id}`);
    return c;
  }

  // ---- operator actions: applied, persisted, then answered

  async act(id: string, action: 'ack' | 'resolve' | 'assign' | 'note' | 'false_positive', by: string, opts: { note?: string; assignee?: string } = {}): Promise<Alert> {
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
    if (refused(result)) throw new CodedError('alert_conflict', result.message, { reason: result.refused });
    this.put(result, isClosed(result) ? 'closed' : 'updated');
    if (action === 'false_positive' || action === 'resolve') this.closedFeedback(result, action === 'false_positive', now);
    await this.checkpoint();
    return result;
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
    this.checkpointing = this.checkpointing.then(async () => {
      if (!this.dirtyAlerts.size && !this.dirtyCases.size && this.savedSeq === this.lastSeq && !this.stateTouched) return;
      const ruleStates: Record<string, string> = {};
      for (const [id, state] of Object.entries(this.runner.states)) ruleStates[id] = JSON.stringify(state);
      ruleStates[FLAGS_KEY] = JSON.stringify(this.flags);
      const alerts = [...this.dirtyAlerts.values()];
      const cases = [...this.dirtyCases.values()];
      const lastSeq = this.lastSeq;
      this.dirtyAlerts.clear();
      this.dirtyCases.clear();
      this.stateTouched = false;
      try {
        await this.deps.store.saveEngineCheckpoint({ lastSeq, ruleStates, alerts, cases });
        this.savedSeq = lastSeq;
        this.persist = { ok: true, consecutiveFailures: 0, failures: this.persist.failures, lastError: null, failingSince: null, lastSavedAt: this.now() };
      } catch (err) {
        this.persist = {
          ok: false, consecutiveFailures: this.persist.consecutiveFailures + 1, failures: this.persist.failures + 1,
          lastError: (err as Error).message, failingSince: this.persist.failingSince ?? this.now(), lastSavedAt: this.persist.lastSavedAt,
        };
        // keep them dirty for the next attempt (newer versions win)
        for (const a of alerts) if (!this.dirtyAlerts.has(a.id)) this.dirtyAlerts.set(a.id, a);
        for (const c of cases) if (!this.dirtyCases.has(c.id)) this.dirtyCases.set(c.id, c);
        this.stateTouched = true;
        throw err;
      }
    });
    return this.checkpointing;
  }

  private persist: EnginePersistStatus = { ok: true, consecutiveFailures: 0, failures: 0, lastError: null, failingSince: null, lastSavedAt: null };

  /** Whether the last checkpoint could be written (/healthz, /metrics). */
  persistStatus(): EnginePersistStatus {
    return { ...this.persist };
  }

  /** timer rules change state without readings; save them too */
  private stateTouched = false;

  private async replay(): Promise<void> {
    this.replaying = true;
    let lastTick = 0;
    try {
      for (;;) {
        const batch = await this.deps.store.readingsAfter(this.lastSeq, 5000);
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
    const alert = openAlert(randomUUID(), e, this.deviceSnapshot(e.deviceId), this.opts.deadlinePolicy);
    this.put(alert, 'opened');
    if (e.rule === this.opts.rescueRule) this.openCase(alert, e.at);
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
    for (const hook of this.closedHooks) {
      this.apply(this.runner.update(hook.ruleId, (s) => hook.apply(s, { alert: a, falsePositive, at: now })), now, now);
    }
  }

  /** Set by the composition root: rules whose timers restart when the service starts listening again. */
  resumeHooks: Array<{ ruleId: string; apply: (state: unknown, now: number) => unknown }> = [];

  /** Set by the composition root: which rules hear of operator closes, and how. */
  closedHooks: Array<{ ruleId: string; apply: (state: unknown, e: { alert: Alert; falsePositive: boolean; at: number }) => { state: unknown; effects: Effect[] } }> = [];

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

  private put(a: Alert, change: 'opened' | 'updated' | 'closed'): void {
    if (isClosed(a)) {
      this.activeById.delete(a.id);
      const key = alertKey(a.rule, a.device.id, a.condition);
      if (this.activeByKey.get(key)?.id === a.id) this.activeByKey.delete(key);
    } else {
      this.track(a);
    }
    this.dirtyAlerts.set(a.id, a);
    this.emit({ type: 'alert', change, alert: a });
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
