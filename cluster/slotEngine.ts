/**
 * One slot's alert engine in cluster mode (docs/cluster.md, Rules with one owner per key): the
 * rules kept to the slot's keys (core/cluster/slotRules.ts), the slot's book of active alerts
 * and cases, its black-list entries, fed the slot's readings from the reading feed and ticked
 * by the node that owns the slot, checkpointed with the slot's feed position and fenced by the
 * epoch the node took the slot with (store/postgres/slotCheckpoints.ts).
 *
 * Built from the single-node engine's parts (alerts/): the effect executor, the book, the
 * store flags, the checkpointer and the clock, so a slot decides as the single engine does.
 * What differs:
 * - a reading's clock is its receive time (as the single engine's replay has it), so the node
 *   that takes a slot over and reads the same feed entries again decides the same, at the same
 *   times, and opens what the last owner opened under the same ids (alerts/effects.ts
 *   raisedAlertId): the wall and alerts/# subscribers see it once;
 * - the cylinder allow/refuse reply is not sent here: the node that took the scan answered it
 *   within its 200 ms from the registry (docs/protocol.md), before any feed;
 * - the rules run in this thread: a slot's part of the state is small, and the node owns many.
 *
 * Operators' actions are the single engine's (alerts/actions.ts), on the slot's book, read over
 * the shared store's alerts and persisted by the slot's checkpoint: once another node has taken
 * the slot, that checkpoint is refused and the action rejects with slot_fenced. Its change stays
 * in this book, unsaved: the slot is another node's now, and the host drops this engine, as it
 * does when a periodic checkpoint is fenced (cluster/slotEngines.ts).
 */
import type { Logger } from 'pino';
import type { Alert } from '../core/alerts/alert.js';
import type { DeadlinePolicy } from '../core/alerts/deadlines.js';
import type { PhoneReport, RescueCase, RescuePolicy, RescueStatus, StepDetails } from '../core/alerts/rescueCase.js';
import type { CylinderRecord } from '../core/alerts/types.js';
import type { DeviceRecord } from '../store/types.js';
import { rulesForSlot } from '../core/cluster/slotRules.js';
import type { AnyRule } from '../core/ruleRunner.js';
import type { BlackListEntry, PersonStage, StoreListPolicy } from '../core/stores/storeList.js';
import { AlertActions, type AlertAction } from '../alerts/actions.js';
import { AlertBook } from '../alerts/alertBook.js';
import { AlertReads, type AlertReadRepository } from '../alerts/alertReads.js';
import { Checkpointer } from '../alerts/checkpointer.js';
import { clockBook } from '../alerts/clock.js';
import { EffectExecutor } from '../alerts/effects.js';
import { deviceInfo } from '../alerts/engine.js';
import type { AlertDetail, EngineEvent, EnginePersistStatus } from '../alerts/engineTypes.js';
import { InThreadRules, type StoreScoreAnswer } from '../alerts/rulesCore.js';
import { FLAGS_KEY, StoreFlags } from '../alerts/storeFlags.js';
import type { SlotCheckpoint, SlotState } from '../store/postgres/slotCheckpoints.js';
import type { FeedDelivery } from './readingFeedConsumer.js';

export interface SlotEngineOptions {
  rules: readonly AnyRule[];
  ruleOverrides: Record<string, Record<string, unknown>>;
  deadlinePolicy: DeadlinePolicy;
  rescuePolicy: RescuePolicy;
  rescueRule: string;
  storeListPolicy?: StoreListPolicy;
}

export interface SlotEngineDeps {
  nodeId: string;
  /** the registry's record (rules see what deviceInfo gives them; an opened alert keeps a snapshot) */
  device(id: string): DeviceRecord | undefined;
  cylinder(code: string): CylinderRecord | undefined;
  /** the slot's checkpoint, fenced (PgSlotCheckpoints.save) */
  save(cp: SlotCheckpoint): Promise<void>;
  /** the shared store's alerts (what the slot has saved, and before it the single engine's): actions read alerts and cases the book does not hold */
  alerts: AlertReadRepository;
  emit(e: EngineEvent): void;
  log: Logger;
  now: () => number;
}

export class SlotEngine {
  private readonly rules: InThreadRules;
  private readonly book: AlertBook;
  private readonly flags = new StoreFlags();
  private readonly effects: EffectExecutor;
  private readonly checkpoints: Checkpointer;
  private readonly actions: AlertActions;
  /** the last feed entry the rules have seen; null before the first (nothing saved yet: START) */
  private position: string | null = null;
  ruleErrors = 0;

  constructor(readonly slot: number, readonly epoch: number, private readonly opts: SlotEngineOptions, private readonly deps: SlotEngineDeps) {
    this.rules = new InThreadRules(rulesForSlot(opts.rules, slot), opts.ruleOverrides, {
      device: (id) => {
        const d = deps.device(id);
        return d ? deviceInfo(d) : undefined;
      },
      cylinder: deps.cylinder,
      onEffects: (groups) => {
        for (const g of groups) if (this.effects.apply(g.effects, g.now, g.at)) this.checkpoints.stateTouched = true;
      },
      onRuleError: ({ rule, error }) => {
        this.ruleErrors++;
        deps.log.error({ rule, slot, err: error }, 'alert rule failed; its state is kept');
      },
    });
    this.book = new AlertBook(deps.emit);
    this.effects = new EffectExecutor({ ...opts, replyMaxAgeMs: 0 }, this.book, this.flags, {
      device: deps.device,
      // the scan's reply left from the node that took it (see above)
      publish: () => undefined,
      emit: deps.emit,
      now: deps.now,
    });
    this.checkpoints = new Checkpointer(this.book, this.rules, this.flags, {
      saveCheckpoint: (cp, mark) => deps.save({
        slot, epoch, nodeId: deps.nodeId, position: mark ?? '0-0', ruleStates: cp.ruleStates, alerts: cp.alerts, timeline: cp.timeline, cases: cp.cases,
      }),
    }, deps.now, () => this.position);
    this.actions = new AlertActions(opts, {
      book: this.book, reads: new AlertReads(this.book, { alerts: deps.alerts }), effects: this.effects, flags: this.flags,
      // the slot's rules keep their onAlertClosed (rulesForSlot routes it to the slot's keys)
      hearsClosed: opts.rules.some((rule) => rule.onAlertClosed),
      alertClosed: (e) => this.rules.alertClosed(e),
      touch: () => { this.checkpoints.stateTouched = true; },
      checkpoint: () => this.checkpoint(), now: deps.now,
    });
  }

  /** Resume from the slot's checkpoint (or from nothing); rules that time silence restart their clocks now (Rule.onResume). */
  async load(saved: SlotState): Promise<void> {
    const { [FLAGS_KEY]: flags, ...ruleStates } = saved.ruleStates;
    this.flags.load(flags);
    await this.rules.start(ruleStates);
    this.book.load(saved.alerts, saved.cases);
    this.position = saved.position;
    this.rules.resume(this.deps.now());
  }

  /** Where the slot's feed resumes: the last entry the rules have seen (or the checkpoint's). */
  get feedPosition(): string | null {
    return this.position;
  }

  /** A feed entry of the slot: its readings, each at its receive time (see above). */
  readings(d: FeedDelivery): void {
    this.rules.readings(d.readings, null, null);
    this.position = d.position;
    this.checkpoints.lastSeq++;
  }

  connection(deviceId: string, connected: boolean, family: string, now: number): void {
    this.rules.connection(deviceId, connected, family, now);
  }

  tick(now: number): void {
    this.rules.tick(now);
    if (clockBook(this.book, this.flags, this.effects, this.opts, now)) this.checkpoints.stateTouched = true;
  }

  activeAlerts(): Alert[] {
    return this.book.activeAlerts();
  }

  activeCases(): RescueCase[] {
    return this.book.activeCases();
  }

  /** The slot's stores' periodic scores now (kitchen.store_score), from the slot's part of the state, as AlertEngine.storeScores. */
  storeScores(storeIds: readonly string[]): Promise<StoreScoreAnswer> {
    return this.rules.storeScores(storeIds, this.deps.now());
  }

  /**
   * Whether this slot's book holds the alert: active, or changed and not yet saved (so not yet
   * under its slot in the store). Which engine an action goes to when the store cannot tell.
   */
  hasAlert(id: string): boolean {
    return this.book.unsavedAlert(id) !== undefined;
  }

  /** The same for a rescue case. */
  hasCase(id: string): boolean {
    return this.book.unsavedCase(id) !== undefined;
  }

  // ---- operator actions on the slot's alerts and cases: applied, checkpointed (fenced), then answered (alerts/actions.ts)

  act(id: string, action: AlertAction, by: string, opts: { note?: string; assignee?: string } = {}): Promise<AlertDetail> {
    return this.actions.act(id, action, by, opts);
  }

  rectify(id: string, stepKind: 'answer' | 'recheck_passed' | 'recheck_failed', by: string, note: string): Promise<AlertDetail> {
    return this.actions.rectify(id, stepKind, by, note);
  }

  recordRescueStep(id: string, step: RescueStatus, by: string, opts: { at?: number; note?: string; details?: StepDetails } = {}): Promise<RescueCase> {
    return this.actions.recordRescueStep(id, step, by, opts);
  }

  acknowledgeEscalation(id: string, level: number, by: string): Promise<RescueCase> {
    return this.actions.acknowledgeEscalation(id, level, by);
  }

  reportTrapping(elevatorId: string, report: PhoneReport, by: string): Promise<{ rescueCase: RescueCase; merged: boolean }> {
    return this.actions.reportTrapping(elevatorId, report, by);
  }

  advanceStore(storeId: string, stage: PersonStage, by: string, note: string): Promise<BlackListEntry> {
    return this.actions.advanceStore(storeId, stage, by, note);
  }

  /** Rule states, feed position and changed alerts and cases, in one fenced transaction (refused with slot_fenced once the slot is another's). */
  checkpoint(): Promise<void> {
    return this.checkpoints.checkpoint();
  }

  persistStatus(): EnginePersistStatus {
    return this.checkpoints.status();
  }
}
