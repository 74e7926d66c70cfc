/**
 * `dispenser.totalizer`: each nozzle's lifetime totaliser must advance by exactly the volume
 * of each transaction [default, docs/domain.md §4; rolled-back totalisers are a known cheat].
 *
 * Per (stationId, dispenserId, nozzle) the last totalizerL is kept. On the next transaction,
 * in whole mL:
 * - `rollback` (critical): the totaliser went backwards, below the previous value by more
 *   than toleranceL. Someone reset or replaced the counter to hide volume.
 * - `gap` (major): otherwise, |totalizer - (previous + volume)| > toleranceL [default 0.01 L,
 *   the totaliser's display resolution]. Fuel moved without a reported transaction (or a
 *   transaction reported volume the counter did not see).
 * Exactly 0.01 L off is tolerated, 0.011 L is not. The first transaction of a nozzle only
 * records. After an alert the new value becomes the reference, so one jump alerts once.
 * Keyed by station, not collector device, so a swapped collector does not reset the check.
 * Transactions are taken in arrival order (a collector sends a nozzle's transactions in
 * order over one MQTT session).
 *
 * condition = `dispenserId/nozzle/gap` or `.../rollback`. State: one entry per nozzle in a
 * sharded map (common/shardedMap.ts; a province has ~100k nozzles), forgotten after
 * forgetAfterMs without a transaction. Resolved by the operator.
 */
import type { Rule, Severity } from '../../alerts/types.js';
import { emptyMap, mapEntries, mapGet, mapSet, mapUpdate, type ShardedMap } from '../common/shardedMap.js';
import { DAY, noEffects } from '../common/util.js';
import { milli, nozzleCondition, stateKey, txnOf } from './txn.js';

export interface TotalizerConfig {
  /** allowed |totaliser - (previous + volume)| [default, docs/domain.md §4: 0.01 L] */
  toleranceL: number;
  gapSeverity: Severity;
  rollbackSeverity: Severity;
  alertWindowMs: number;
  /** a nozzle silent this long is forgotten (its next transaction only records) [default] */
  forgetAfterMs: number;
}

export const totalizerDefaults: TotalizerConfig = {
  toleranceL: 0.01,
  gapSeverity: 'major',
  rollbackSeverity: 'critical',
  alertWindowMs: DAY,
  forgetAfterMs: 90 * DAY,
};

export interface NozzleTotal {
  /** last totaliser, mL */
  totMl: number;
  seq: number;
  /** device time of that transaction */
  ts: number;
  /** platform receive time, for forgetting */
  rx: number;
}

export interface TotalizerState {
  /** by stateKey(stationId, dispenserId, nozzle) */
  nozzles: ShardedMap<NozzleTotal>;
  sweptAt: number;
}

export const totalizer: Rule<TotalizerState, TotalizerConfig> = {
  id: 'dispenser.totalizer',
  family: 'dispenser',
  channels: ['txn'],
  defaults: totalizerDefaults,
  init: () => ({ nozzles: emptyMap(), sweptAt: 0 }),

  onReading(state, reading, ctx) {
    const t = txnOf(reading);
    if (!t) return noEffects(state);
    const cfg = ctx.config;
    const key = stateKey(t.stationId, t.dispenserId, t.nozzle);
    const prev = mapGet(state.nozzles, key);
    const totMl = milli(t.totalizerL);
    const next: TotalizerState = { ...state, nozzles: mapSet(state.nozzles, key, { totMl, seq: reading.seq, ts: reading.ts, rx: reading.receivedAt }) };
    if (!prev || reading.receivedAt - prev.rx > cfg.forgetAfterMs) return { state: next, effects: [] };

    const tolMl = milli(cfg.toleranceL);
    const volMl = milli(t.volumeL);
    const expectedMl = prev.totMl + volMl;
    const kind = prev.totMl - totMl > tolMl ? 'rollback' : Math.abs(totMl - expectedMl) > tolMl ? 'gap' : null;
    if (kind === null) return { state: next, effects: [] };

    const values = {
      stationId: t.stationId, dispenserId: t.dispenserId, nozzle: t.nozzle, kind,
      previousTotalizerL: prev.totMl / 1000, volumeL: t.volumeL, expectedTotalizerL: expectedMl / 1000,
      totalizerL: t.totalizerL, differenceL: (totMl - expectedMl) / 1000, previousSeq: prev.seq,
    };
    return {
      state: next,
      effects: [{
        type: 'raise',
        rule: totalizer.id,
        family: 'dispenser',
        deviceId: reading.deviceId,
        condition: `${nozzleCondition(t)}/${kind}`,
        severity: kind === 'rollback' ? cfg.rollbackSeverity : cfg.gapSeverity,
        windowMs: cfg.alertWindowMs,
        summary: kind === 'rollback'
          ? `dispenser ${t.dispenserId} nozzle ${t.nozzle}: totaliser went back from ${values.previousTotalizerL} L to ${t.totalizerL} L`
          : `dispenser ${t.dispenserId} nozzle ${t.nozzle}: totaliser ${t.totalizerL} L, expected ${values.expectedTotalizerL} L (${values.differenceL > 0 ? '+' : ''}${values.differenceL} L)`,
        params: values,
        evidence: { seqs: [prev.seq, reading.seq], values },
        at: reading.receivedAt,
      }],
    };
  },

  onTick(state, ctx, now) {
    if (now - state.sweptAt < DAY) return noEffects(state);
    const forget = mapEntries(state.nozzles).filter(([, n]) => now - n.rx > ctx.config.forgetAfterMs).map(([k]) => [k, undefined] as const);
    return { state: { nozzles: mapUpdate(state.nozzles, forget), sweptAt: now }, effects: [] };
  },
};
