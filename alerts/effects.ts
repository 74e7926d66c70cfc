/**
 * Executes the rules' effects: raise (open or repeat an alert; a trapped-passenger alert opens
 * a 96333 rescue case), resolve, the cylinder scan reply, store flags. The alert and case life
 * cycles themselves are pure (core/alerts/); this only applies them to the book.
 */
import { createHash, randomUUID } from 'node:crypto';
import { autoResolve, openAlert, repeatAlert, repeats, type Alert, type AlertDevice } from '../core/alerts/alert.js';
import { addReport, caseToMerge, escalationChain, type PhoneReport, type RescueCase, type RescueSource } from '../core/alerts/rescueCase.js';
import type { DeadlinePolicy } from '../core/alerts/deadlines.js';
import { systemNoteOf } from '../core/alerts/systemNotes.js';
import { openRescueCase, type RescuePolicy } from '../core/alerts/rescueCase.js';

/** Where a raise came from: a rule on a device's readings, or a person (a phone call to 96333). */
export interface RaiseOrigin {
  source: RescueSource;
  by: string;
  report?: PhoneReport;
}

const FROM_DEVICE: RaiseOrigin = { source: 'device', by: 'system' };
import type { Effect, RaiseAlert, ResolveAlert, ScanReply } from '../core/alerts/types.js';
import { scanReplyTopic } from '../core/topic.js';
import type { DeviceRecord } from '../store/types.js';
import type { AlertBook } from './alertBook.js';
import type { EngineEvent } from './engineTypes.js';
import { flagOf, type StoreFlags } from './storeFlags.js';
import type { BlackListEntry } from '../core/stores/storeList.js';

export interface EffectOptions {
  deadlinePolicy: DeadlinePolicy;
  rescuePolicy: RescuePolicy;
  /** rule id whose raises open a 96333 rescue case */
  rescueRule: string;
  /** scan replies for readings older than this (replayed after a crash) are not sent */
  replyMaxAgeMs: number;
}

export interface EffectDeps {
  device(id: string): DeviceRecord | undefined;
  /** MQTT publish on behalf of the platform */
  publish(topic: string, payload: string, qos: 0 | 1): void;
  emit(e: EngineEvent): void;
  now: () => number;
}

/** Scans answered before their commit that are remembered, at most. */
const REPLIED_EARLY_MAX = 100_000;

export class EffectExecutor {
  /** Scans answered before their commit (device + msgId). */
  private readonly repliedEarly = new Set<string>();
  /** true while the engine replays stored readings after a restart */
  replaying = false;

  constructor(private readonly opts: EffectOptions, private readonly book: AlertBook, private readonly flags: StoreFlags, private readonly deps: EffectDeps) {}

  /**
   * Apply effects in order; `now` is the engine's clock for them, `readingTime` when the
   * reading that caused them was received. Returns whether there were any.
   */
  apply(effects: readonly Effect[], now: number, readingTime: number): boolean {
    for (const e of effects) {
      switch (e.type) {
        case 'raise': this.raise(e); break;
        case 'resolve': this.resolve(e); break;
        case 'scanReply':
          if (this.repliedEarly.delete(e.deviceId + '\n' + e.msgId)) break;
          if (now - readingTime <= this.opts.replyMaxAgeMs && (!this.replaying || this.deps.now() - readingTime <= this.opts.replyMaxAgeMs)) this.sendScanReply(e);
          break;
        case 'flagStore': {
          const entry = this.flags.flag(e.storeId, e.flagged, e.count, e.at);
          if (entry) this.emitEntry(entry);
          break;
        }
      }
    }
    return effects.length > 0;
  }

  /** A black-list entry changed: pushed as a store flag (the /ws hub, webhooks). */
  emitEntry(entry: BlackListEntry): void {
    this.deps.emit({ type: 'storeFlag', ...flagOf(entry), entry });
  }

  /**
   * A scan reply sent before its reading's commit (the 200 ms contract, docs/protocol.md): the
   * same scan is evaluated again after its commit, and that reply is not repeated.
   */
  replyEarly(e: ScanReply): void {
    this.sendScanReply(e);
    this.repliedEarly.add(e.deviceId + '\n' + e.msgId);
    // bounded: a reply whose commit never comes (store failure) must not stay forever
    if (this.repliedEarly.size > REPLIED_EARLY_MAX) this.repliedEarly.delete(this.repliedEarly.values().next().value!);
  }

  private sendScanReply(e: ScanReply): void {
    this.deps.publish(scanReplyTopic(e.deviceId), JSON.stringify({
      msgId: e.msgId, cylinderCode: e.cylinderCode, decision: e.decision, reasons: e.reasons, ts: new Date(e.at).toISOString(),
    }), 1);
  }

  private raise(e: RaiseAlert): void {
    const existing = this.book.activeByCondition(e.rule, e.deviceId, e.condition);
    if (existing && repeats(existing, e)) {
      this.book.put(repeatAlert(existing, e), 'updated');
      return;
    }
    this.open(e, FROM_DEVICE);
  }

  /**
   * A trapping reported by phone: joins the incident's running case (caseToMerge: no second
   * dispatch), or opens the trapped alert and its case as the terminal's alarm would.
   */
  reportTrapping(e: RaiseAlert, origin: RaiseOrigin): { rescueCase: RescueCase; merged: boolean } {
    const running = caseToMerge(this.book.activeCases(), e.deviceId, e.at, this.opts.rescuePolicy.mergeWindowMs);
    if (running) {
      const merged = origin.report ? addReport(running, origin.report, e.at) : running;
      this.book.putCase(merged, 'updated', []);
      return { rescueCase: merged, merged: true };
    }
    return { rescueCase: this.open(e, origin)!, merged: false };
  }

  /**
   * Open an alert. A trapped-passenger alert belongs to a 96333 rescue case: the running case
   * of the same incident (caseToMerge), or a new one, any number per elevator over time.
   */
  private open(e: RaiseAlert, origin: RaiseOrigin): RescueCase | null {
    const device = this.deviceSnapshot(e.deviceId);
    const alertId = origin.source === 'device' ? raisedAlertId(e) : randomUUID();
    if (e.rule !== this.opts.rescueRule) {
      this.book.put(openAlert(alertId, e, device, this.opts.deadlinePolicy), 'opened');
      return null;
    }
    const running = caseToMerge(this.book.activeCases(), e.deviceId, e.at, this.opts.rescuePolicy.mergeWindowMs);
    const caseId = running?.id ?? (origin.source === 'device' ? derivedId('case', alertId) : randomUUID());
    const opened = openAlert(alertId, e, device, this.opts.deadlinePolicy);
    this.book.put({ ...opened, alert: { ...opened.alert, rescueCaseId: caseId } }, 'opened');
    if (running) return running;
    const c = this.newCase(caseId, opened.alert, e.at, origin);
    this.book.putCase(c, 'opened', []);
    return c;
  }

  private resolve(e: ResolveAlert): void {
    const existing = this.book.activeByCondition(e.rule, e.deviceId, e.condition);
    if (existing) this.book.put(autoResolve(existing, systemNoteOf(e.code, e.params), e.at), 'closed');
  }

  /** The case of a trapped alert: the elevator's deadline override and maintenance unit from its metadata. */
  private newCase(id: string, alert: Alert, at: number, origin: RaiseOrigin): RescueCase {
    const meta = alert.device.meta;
    const arrivalWithinMs = typeof meta.arrivalDeadlineMin === 'number' ? meta.arrivalDeadlineMin * 60_000 : this.opts.rescuePolicy.arrivalWithinMs;
    const maintenanceUnit = typeof meta.maintenanceUnit === 'string' ? meta.maintenanceUnit : null;
    return openRescueCase(id, alert.device.id, alert.id, at, {
      maintenanceUnit, arrivalWithinMs, district: alert.device.district, source: origin.source, by: origin.by, ...(origin.report ? { report: origin.report } : {}),
      escalationChain: escalationChain(this.opts.rescuePolicy, alert.device.district),
    });
  }

  private deviceSnapshot(id: string): AlertDevice {
    const d = this.deps.device(id);
    return { id, name: d?.name ?? null, district: d?.district ?? null, location: d?.location ?? null, meta: d?.meta ?? {} };
  }
}

/**
 * An id derived from its parts: UUID-shaped (version 8, RFC 9562 §5.8: custom), from SHA-256,
 * so ids read and sort as before.
 */
export function derivedId(...parts: string[]): string {
  const h = createHash('sha256').update(parts.join('\u0000')).digest();
  h[6] = (h[6]! & 0x0f) | 0x80;
  h[8] = (h[8]! & 0x3f) | 0x80;
  const x = h.subarray(0, 16).toString('hex');
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20)}`;
}

/**
 * The id of an alert a rule opens: a function of the rule, the device, the condition and the
 * time of the input that opened it, so evaluating the same readings again (the replay after a
 * restart, a slot taken over by another node in cluster mode, docs/cluster.md) opens the same
 * alert under the same id, and whoever already has it (the wall, an alerts/# subscriber, the
 * store's upsert) sees it once. A person's report (a phone call) is not replayed: random.
 */
export const raisedAlertId = (e: RaiseAlert): string => derivedId('alert', e.rule, e.deviceId, e.condition, String(e.at));
