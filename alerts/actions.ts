/**
 * Operators' actions on alerts, rescue cases and black-list entries: applied to a book,
 * persisted by a checkpoint, then answered. One piece for the single-node engine
 * (alerts/engine.ts) and each slot's engine in cluster mode (cluster/slotEngine.ts), so an
 * action is decided the same way whichever engine holds the alert; the engine gives it its
 * parts and its checkpoint (a slot's is fenced: a refused save rejects the action with
 * slot_fenced, as it is).
 *
 * An action changes the book before its checkpoint: when that checkpoint fails, the change
 * stays in the book as unsaved (the next checkpoint writes it) and the caller sees the error.
 */
import { CodedError } from '../core/codes.js';
import {
  acknowledge, addNote, assign, isClosed, markFalsePositive, refused, resolve, type ActionResult, type Alert,
} from '../core/alerts/alert.js';
import type { DeadlinePolicy } from '../core/alerts/deadlines.js';
import { recordRecheck, recordStoreAnswer } from '../core/alerts/rectification.js';
import {
  acknowledgeEscalation, isFinished, phoneTrapping, recordStep, type PhoneReport, type RescueCase, type RescuePolicy, type RescueStatus, type StepDetails,
} from '../core/alerts/rescueCase.js';
import { systemNote } from '../core/alerts/systemNotes.js';
import type { AlertClosed } from '../core/alerts/types.js';
import type { BlackListEntry, PersonStage } from '../core/stores/storeList.js';
import type { AlertBook } from './alertBook.js';
import type { AlertReads } from './alertReads.js';
import type { EffectExecutor } from './effects.js';
import type { AlertDetail } from './engineTypes.js';
import type { StoreFlags } from './storeFlags.js';

/** Timeline entries an action's answer carries (the newest): what the action added and a little before it. */
export const ACTION_TIMELINE = 20;

export type AlertAction = 'ack' | 'resolve' | 'assign' | 'note' | 'false_positive';

export interface ActionPolicies {
  deadlinePolicy: DeadlinePolicy;
  rescuePolicy: RescuePolicy;
  /** rule id whose raises open a 96333 rescue case (a phone report raises as it) */
  rescueRule: string;
}

export interface ActionDeps {
  book: AlertBook;
  reads: Pick<AlertReads, 'getAlert' | 'getRescueCase' | 'alertDetail'>;
  effects: Pick<EffectExecutor, 'emitEntry' | 'reportTrapping'>;
  flags: Pick<StoreFlags, 'advance'>;
  /** whether any rule hears of closed alerts (Rule.onAlertClosed): without one, a close touches no rule state */
  hearsClosed: boolean;
  /** the rules hear an operator closed an alert (RulesCore.alertClosed) */
  alertClosed(e: AlertClosed): void;
  /** rule or flag state changed without a reading: the next checkpoint must write it (Checkpointer.stateTouched) */
  touch(): void;
  checkpoint(): Promise<void>;
  now(): number;
}

export class AlertActions {
  constructor(private readonly opts: ActionPolicies, private readonly deps: ActionDeps) {}

  async act(id: string, action: AlertAction, by: string, opts: { note?: string; assignee?: string } = {}): Promise<AlertDetail> {
    const { book, reads } = this.deps;
    const a = await reads.getAlert(id);
    const now = this.deps.now();
    let result: ActionResult;
    switch (action) {
      case 'ack': result = acknowledge(a, by, now, opts.note); break;
      case 'resolve': result = resolve(a, by, now, opts.note); break;
      case 'assign': result = assign(a, opts.assignee ?? '', by, now, opts.note); break;
      case 'note': result = addNote(a, opts.note ?? '', by, now); break;
      case 'false_positive': result = markFalsePositive(a, by, now, opts.note); break;
    }
    if (refused(result)) throw new CodedError(result.refused === 'note_limit' ? 'note_limit' : 'alert_conflict', result.message, { reason: result.refused });
    book.put(result, isClosed(result.alert) ? 'closed' : 'updated');
    if (action === 'false_positive' || action === 'resolve') this.closedFeedback(result.alert, action === 'false_positive', now);
    await this.deps.checkpoint();
    return reads.alertDetail(id, ACTION_TIMELINE);
  }

  /** A step of a class-2 detection's rectification (core/alerts/rectification.ts): the store's answer, or the re-check. */
  async rectify(id: string, stepKind: 'answer' | 'recheck_passed' | 'recheck_failed', by: string, note: string): Promise<AlertDetail> {
    const { book, reads } = this.deps;
    const a = await reads.getAlert(id);
    const now = this.deps.now();
    const result = stepKind === 'answer' ? recordStoreAnswer(a, by, now, note) : recordRecheck(a, by, now, stepKind === 'recheck_passed', note, this.opts.deadlinePolicy);
    if (refused(result)) throw new CodedError('alert_conflict', result.message, { reason: result.refused });
    book.put(result, isClosed(result.alert) ? 'closed' : 'updated');
    if (isClosed(result.alert)) this.closedFeedback(result.alert, false, now);
    await this.deps.checkpoint();
    return reads.alertDetail(id, ACTION_TIMELINE);
  }

  /**
   * Record a step of a rescue case (core/alerts/rescueCase.ts: order, reasons, details). The
   * case's trapped alerts follow it: the dispatch acknowledges them (by that dispatcher, at the
   * dispatch's time: the centre has taken the alarm), the end of the case resolves them.
   */
  async recordRescueStep(id: string, step: RescueStatus, by: string, opts: { at?: number; note?: string; details?: StepDetails } = {}): Promise<RescueCase> {
    const { book } = this.deps;
    const c = await this.deps.reads.getRescueCase(id);
    const now = this.deps.now();
    const at = opts.at ?? now;
    const r = recordStep(c, step, by, now, at, opts.note, opts.details, this.opts.rescuePolicy);
    if ('refused' in r) throw new CodedError('rescue_step_refused', r.message, { reason: r.refused });
    book.putCase(r, isFinished(r) ? 'closed' : 'updated', []);
    for (const alert of book.activeAlerts().filter((a) => a.id === r.alertId || a.rescueCaseId === r.id)) {
      if (isFinished(r)) {
        const closed = resolve(alert, by, now, step === 'false_alarm' ? systemNote('rescue.false_alarm', { note: r.steps.at(-1)!.note ?? '' }) : systemNote('rescue.closed'));
        if (!refused(closed)) book.put(closed, 'closed');
      } else if (step === 'dispatched' && alert.status === 'open') {
        const acked = acknowledge(alert, by, at, systemNote('rescue.dispatched'));
        if (!refused(acked)) book.put(acked, 'updated');
      }
    }
    await this.deps.checkpoint();
    return r;
  }

  /** An escalation acknowledged (its notifications stop), by the person it reached or someone for them. */
  async acknowledgeEscalation(id: string, level: number, by: string): Promise<RescueCase> {
    const c = await this.deps.reads.getRescueCase(id);
    const r = acknowledgeEscalation(c, level, by, this.deps.now());
    if ('refused' in r) throw new CodedError('escalation_refused', r.message, { reason: r.refused });
    this.deps.book.putCase(r, 'updated', []);
    await this.deps.checkpoint();
    return r;
  }

  /**
   * A trapping reported by phone (POST /api/rescue-cases): the trapped alert and its case, as
   * the terminal's alarm opens them, `source: phone`; or, when the same incident already has a
   * running case (terminal or an earlier call, within the merge window), the report joins it.
   */
  async reportTrapping(elevatorId: string, report: PhoneReport, by: string): Promise<{ rescueCase: RescueCase; merged: boolean }> {
    const now = this.deps.now();
    const r = this.deps.effects.reportTrapping(phoneTrapping(this.opts.rescueRule, elevatorId, report, now), { source: 'phone', by, report });
    this.deps.touch();
    await this.deps.checkpoint();
    return r;
  }

  /** A person's step on a store's black-list entry (notified, rectified, re-checked, lifted), with a note. */
  async advanceStore(storeId: string, stage: PersonStage, by: string, note: string): Promise<BlackListEntry> {
    const r = this.deps.flags.advance(storeId, stage, by, note, this.deps.now());
    if ('refused' in r) throw new CodedError('store_list_refused', r.message, { reason: r.refused });
    this.deps.touch();
    this.deps.effects.emitEntry(r);
    await this.deps.checkpoint();
    return r;
  }

  /** An operator closed an alert: rules that count alerts (repeat offenders) hear of it. */
  private closedFeedback(a: Alert, falsePositive: boolean, now: number): void {
    if (!this.deps.hearsClosed) return;
    this.deps.touch();
    this.deps.alertClosed({ alert: a, falsePositive, at: now });
  }
}
