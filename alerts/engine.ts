/**
 * The alert engine: drives the pure rules with stored readings, clock ticks and connection
 * events, and applies operators' actions. Its parts, each in a file of its own:
 * - the book of alerts and cases in memory (alertBook.ts) and the reads over it (alertReads.ts),
 * - the effect executor (effects.ts): alerts, 96333 rescue cases, scan replies, store flags,
 * - checkpoints (checkpointer.ts) and the replay after a restart (replay.ts),
 * - operators' actions (actions.ts), shared with each slot's engine in cluster mode.
 *
 * Durability: readings are stored before rules see them. Rule states, changed alerts and
 * cases are checkpointed together with the seq of the last reading they reflect; after a
 * crash the engine replays the stored readings after that seq, with each reading's receive
 * time as `now`, so a restart in the middle of a timer or cooldown gives the same alerts.
 */
import type { Logger } from 'pino';
import type { Emitter } from '../core/eventBus.js';
import type { AlertOutcome, AlertOutcomeQuery, DeviceRecord, Reading, Store } from '../store/types.js';
import type { Alert } from '../core/alerts/alert.js';
import type { DeadlinePolicy } from '../core/alerts/deadlines.js';
import type { PhoneReport, RescueCase, RescuePolicy, RescueStatus, StepDetails } from '../core/alerts/rescueCase.js';
import type { CylinderRecord, DeviceInfo, Effect } from '../core/alerts/types.js';
import type { AnyRule } from '../core/ruleRunner.js';
import { AlertActions, type AlertAction } from './actions.js';
import { AlertBook } from './alertBook.js';
import { AlertReads, type RescueCaseListQuery } from './alertReads.js';
import { Checkpointer } from './checkpointer.js';
import { EffectExecutor } from './effects.js';
import type { AlertDetail, AlertListQuery, AlertPage, EngineEvent, EngineEvents, EnginePersistStatus, StoreFlag } from './engineTypes.js';
import { FLAGS_KEY, StoreFlags } from './storeFlags.js';
import { type BlackListEntry, type PersonStage, type StoreListPolicy } from '../core/stores/storeList.js';
import { replayStored } from './replay.js';
import { clockBook } from './clock.js';
import { WorkerRules } from './ruleThread/workerRules.js';
import { InThreadRules, type RulesCore, type RulesCoreDeps, type StoreScoreAnswer } from './rulesCore.js';

export type { AlertDetail, AlertListQuery, AlertPage, EngineEvent, EngineEvents, EnginePersistStatus, StoreFlag } from './engineTypes.js';
export { ACTION_TIMELINE } from './actions.js';

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
  /** the black list's clean period (default 30 days) */
  storeListPolicy?: StoreListPolicy;
  /** run the rules in a worker thread of their own (alerts/ruleThread/; ENGINE_WORKER); default: in this thread */
  ruleThread?: boolean;
}

export interface EngineDeps {
  store: Store;
  device(id: string): DeviceRecord | undefined;
  /** every registered device: the rules' worker keeps a mirror of what rules may know of them (devicesChanged keeps it current) */
  devices?(): Iterable<DeviceRecord>;
  cylinder(code: string): CylinderRecord | undefined;
  /** MQTT publish on behalf of the platform */
  publish(topic: string, payload: string, qos: 0 | 1): void;
  /** where alert, rescue-case and store-flag changes go (the /ws hub, MQTT alerts/#, webhooks) */
  events: Emitter<EngineEvents>;
  log: Logger;
  now?: () => number;
  /**
   * The rules' worker thread stopped on its own (out of memory, a bug): no rule runs from then
   * on, so the composition root stops the service (a supervisor restarts it; the replay from
   * the last checkpoint makes the rules whole again) rather than run without alarms.
   */
  onRulesStopped?(err: Error): void;
}

/** What rules may know of a device: no secret hash crosses to the rules' worker. */
export const deviceInfo = (d: DeviceRecord): DeviceInfo => ({ id: d.id, family: d.family, name: d.name, district: d.district, meta: d.meta });

export class AlertEngine {
  private readonly rules: RulesCore;
  private readonly now: () => number;
  private readonly book: AlertBook;
  private readonly reads: AlertReads;
  private readonly flags = new StoreFlags();
  private readonly effects: EffectExecutor;
  private readonly checkpoints: Checkpointer;
  private readonly actions: AlertActions;
  private tickTimer: NodeJS.Timeout | null = null;
  private checkpointTimer: NodeJS.Timeout | null = null;
  ruleErrors = 0;

  constructor(private readonly opts: EngineOptions, private readonly deps: EngineDeps) {
    this.now = deps.now ?? Date.now;
    const rulesDeps: RulesCoreDeps = {
      device: (id) => {
        const d = deps.device(id);
        return d ? deviceInfo(d) : undefined;
      },
      cylinder: (code) => deps.cylinder(code),
      onEffects: (groups) => {
        for (const g of groups) this.apply(g.effects, g.now, g.at);
      },
      onRuleError: ({ rule, error }) => {
        this.ruleErrors++;
        deps.log.error({ rule, err: error }, 'alert rule failed; its state is kept');
      },
    };
    this.rules = opts.ruleThread
      ? new WorkerRules(opts.rules, opts.ruleOverrides, rulesDeps, {
        onStopped: (err) => {
          deps.log.fatal({ err, component: 'rules' }, 'the rules\' worker thread stopped: no rule runs until the service is restarted (it replays from the last checkpoint)');
          deps.onRulesStopped?.(err);
        },
      })
      : new InThreadRules(opts.rules, opts.ruleOverrides, rulesDeps);
    const emit = (e: EngineEvent): void => this.emit(e);
    this.book = new AlertBook(emit);
    this.reads = new AlertReads(this.book, deps.store);
    this.effects = new EffectExecutor(opts, this.book, this.flags, { device: deps.device, publish: deps.publish, emit, now: this.now });
    this.checkpoints = new Checkpointer(this.book, this.rules, this.flags, deps.store.alerts, this.now);
    this.actions = new AlertActions(opts, {
      book: this.book, reads: this.reads, effects: this.effects, flags: this.flags,
      hearsClosed: opts.rules.some((rule) => rule.onAlertClosed),
      alertClosed: (e) => this.rules.alertClosed(e),
      touch: () => { this.checkpoints.stateTouched = true; },
      checkpoint: () => this.checkpoint(), now: this.now,
    });
  }

  async start(): Promise<void> {
    const { store } = this.deps;
    const saved = await store.alerts.loadEngineState();
    const { [FLAGS_KEY]: flags, ...ruleStates } = saved?.ruleStates ?? {};
    this.flags.load(flags);
    // First start on existing data: begin after what is stored (no replay of history).
    this.checkpoints.begin(saved ? saved.lastSeq : (await store.readings.lastSequences()).readingSeq);
    const devices = this.deps.devices ? [...this.deps.devices()].map(deviceInfo) : [];
    await this.rules.start(ruleStates, this.checkpoints.lastSeq, devices);
    this.book.load(await store.alerts.loadActive(), await store.alerts.loadActiveCases());
    await this.replay();
    // the service was not listening until now: rules that time silence start counting again
    this.rules.resume(this.now());
    this.tickTimer = setInterval(() => this.tick(), this.opts.tickMs);
    this.tickTimer.unref();
    this.checkpointTimer = setInterval(() => void this.checkpoint().catch((err) => this.deps.log.error({ err }, 'alert checkpoint failed')), this.opts.checkpointMs);
    this.checkpointTimer.unref();
  }

  /** A restart replays the readings after this seq (the last checkpoint's). */
  get replayFromSeq(): number {
    return this.checkpoints.replayFromSeq;
  }

  async stop(): Promise<void> {
    if (this.tickTimer) clearInterval(this.tickTimer);
    if (this.checkpointTimer) clearInterval(this.checkpointTimer);
    this.tickTimer = this.checkpointTimer = null;
    try {
      await this.checkpoint();
    } finally {
      await this.rules.stop();
    }
  }

  // ---- inputs

  /**
   * A reading accepted but not yet committed. The cylinder allow/refuse reply is due within
   * 200 ms (docs/protocol.md) and depends on the registry, not on the disk, so it leaves now; the
   * same scan is evaluated again after its commit for alerts, and that reply is not repeated.
   */
  handleAccepted(r: Reading): void {
    if (r.family !== 'cylinder' || r.channel !== 'scan') return;
    for (const e of this.rules.peek(r, this.now())) if (e.type === 'scanReply') this.effects.replyEarly(e);
  }

  /**
   * Readings the store has committed (ingest's stored readings), with the journal's frame of
   * them when there is one (the rules' worker decodes it). In this thread the effects apply
   * before this returns; from the worker, in the same order, as its answers arrive.
   */
  handleReadings(readings: readonly Reading[], frame: Uint8Array | null = null): void {
    const cp = this.checkpoints;
    if (!readings.length || readings[readings.length - 1]!.seq <= cp.lastSeq) return;
    // a replay may overlap what was already seen; then the frame (which holds them all) is not used
    const fresh = readings[0]!.seq > cp.lastSeq ? readings : readings.filter((r) => r.seq > cp.lastSeq);
    this.rules.readings(fresh, fresh === readings ? frame : null, this.effects.replaying ? null : this.now());
    cp.lastSeq = fresh[fresh.length - 1]!.seq;
  }

  /** Devices registered or changed (DeviceRegistry.onChange): what the rules know of them. */
  devicesChanged(devices: readonly DeviceRecord[]): void {
    this.rules.devicesChanged(devices.map(deviceInfo));
  }

  handleConnection(deviceId: string, connected: boolean): void {
    const d = this.deps.device(deviceId);
    if (!d) return;
    const now = this.now();
    this.rules.connection(deviceId, connected, d.family, now);
  }

  /** The clock: timer rules, handling deadlines, rescue deadlines, the black list's clean period. */
  tick(now: number = this.now()): void {
    this.rules.tick(now);
    if (clockBook(this.book, this.flags, this.effects, this.opts, now)) this.checkpoints.stateTouched = true;
  }

  // ---- queries (active state from memory, history from the store: alertReads.ts)

  activeAlerts(): Alert[] {
    return this.book.activeAlerts();
  }

  activeRescueCases(): RescueCase[] {
    return this.book.activeCases();
  }

  storeFlags(): StoreFlag[] {
    return this.flags.list();
  }

  /** Every black-list entry, on the list or off it, with its steps (newest flag first). */
  blackList(): BlackListEntry[] {
    return this.flags.all();
  }

  /** Each store's periodic score (kitchen.store_score) now; `storeIds` adds stores without a counted detection (100). */
  storeScores(storeIds: Iterable<string>): Promise<StoreScoreAnswer> {
    return this.rules.storeScores([...storeIds], this.now());
  }

  /** A person's step on a store's black-list entry (notified, rectified, re-checked, lifted), with a note. */
  advanceStore(storeId: string, stage: PersonStage, by: string, note: string): Promise<BlackListEntry> {
    return this.actions.advanceStore(storeId, stage, by, note);
  }

  getAlert(id: string): Promise<Alert> {
    return this.reads.getAlert(id);
  }

  alertDetail(id: string, limit = 200, before?: number): Promise<AlertDetail> {
    return this.reads.alertDetail(id, limit, before);
  }

  listAlerts(q: AlertListQuery): Promise<AlertPage> {
    return this.reads.listAlerts(q);
  }

  alertOutcomes(q: AlertOutcomeQuery): Promise<AlertOutcome[]> {
    return this.reads.alertOutcomes(q);
  }

  listRescueCases(q: RescueCaseListQuery): Promise<RescueCase[]> {
    return this.reads.listRescueCases(q);
  }

  getRescueCase(id: string): Promise<RescueCase> {
    return this.reads.getRescueCase(id);
  }

  // ---- operator actions: applied, persisted, then answered (alerts/actions.ts)

  act(id: string, action: AlertAction, by: string, opts: { note?: string; assignee?: string } = {}): Promise<AlertDetail> {
    return this.actions.act(id, action, by, opts);
  }

  /** A step of a class-2 detection's rectification (core/alerts/rectification.ts): the store's answer, or the re-check. */
  rectify(id: string, stepKind: 'answer' | 'recheck_passed' | 'recheck_failed', by: string, note: string): Promise<AlertDetail> {
    return this.actions.rectify(id, stepKind, by, note);
  }

  /** A step of a rescue case; the case's trapped alerts follow it (alerts/actions.ts). */
  recordRescueStep(id: string, step: RescueStatus, by: string, opts: { at?: number; note?: string; details?: StepDetails } = {}): Promise<RescueCase> {
    return this.actions.recordRescueStep(id, step, by, opts);
  }

  /** An escalation acknowledged (its notifications stop), by the person it reached or someone for them. */
  acknowledgeEscalation(id: string, level: number, by: string): Promise<RescueCase> {
    return this.actions.acknowledgeEscalation(id, level, by);
  }

  /** A trapping reported by phone (POST /api/rescue-cases): a new trapped alert and case, or joined to the incident's running case. */
  reportTrapping(elevatorId: string, report: PhoneReport, by: string): Promise<{ rescueCase: RescueCase; merged: boolean }> {
    return this.actions.reportTrapping(elevatorId, report, by);
  }

  /** Tests only: the rules' worker ends as one that failed would (nothing in this thread's mode). */
  async stopRulesWorkerForTest(): Promise<void> {
    if (this.rules instanceof WorkerRules) await this.rules.terminateForTest();
  }

  /** Persist rule states (as of the last reading seen) with every changed alert and case, in one transaction. */
  checkpoint(): Promise<void> {
    return this.checkpoints.checkpoint();
  }

  /** Whether the last checkpoint could be written (/healthz, /metrics). */
  persistStatus(): EnginePersistStatus {
    return this.checkpoints.status();
  }

  private replay(): Promise<void> {
    return replayStored({
      store: this.deps.store, log: this.deps.log, tickMs: this.opts.tickMs,
      lastSeq: () => this.checkpoints.lastSeq,
      readings: (batch) => this.handleReadings(batch),
      tick: (now) => this.tick(now),
      checkpoint: () => this.checkpoint(), settled: () => this.rules.settled(),
      replaying: (on) => { this.effects.replaying = on; },
    });
  }

  private apply(effects: readonly Effect[], now: number, readingTime: number): void {
    if (this.effects.apply(effects, now, readingTime)) this.checkpoints.stateTouched = true;
  }

  private emit(e: EngineEvent): void {
    switch (e.type) {
      case 'alert': this.deps.events.emit('alert', e); break;
      case 'rescueCase': this.deps.events.emit('rescueCase', e); break;
      case 'storeFlag': this.deps.events.emit('storeFlag', e); break;
    }
  }
}
