/**
 * Shared by the dispenser rule suites (test/core/rules/dispenser/*.test.ts): the clock of the
 * tables (a China day) and the collector's messages (transactions, tank levels, tamper).
 */
import { reading, runRule } from '../helpers.js';
import type { Effect, Rule, RuleReading } from '../../../../core/alerts/types.js';

export const MIN = 60_000;
export const HOUR = 60 * MIN;
export const DAY = 24 * HOUR;
/** 2026-11-23 00:00 in China (UTC+8) */
export const D0 = Date.UTC(2026, 10, 22, 16, 0, 0);
/** 2026-11-23 10:00 in China */
export const T = D0 + 10 * HOUR;
/** `h` hours after 2026-11-23 00:00 in China */
export const at = (h: number): number => D0 + h * HOUR;

let nextSeq = 1;
function msg(channel: string, data: Record<string, unknown>, at: number = T, deviceId = 'col-1'): RuleReading {
  const seq = nextSeq++;
  return { seq, family: 'dispenser', channel, deviceId, msgId: `m-${seq}`, ts: at, receivedAt: at, data };
}

interface TxnOpts {
  stationId?: string; dispenserId?: string; nozzle?: number; grade?: string; volumeL?: number; amountYuan?: number; unitPrice?: number;
  totalizerL?: number; durationS?: number; pulses?: number; pulsesPerL?: number; tankId?: string; at?: number;
}
export function txn(o: TxnOpts = {}): RuleReading {
  const volumeL = o.volumeL ?? 20;
  const unitPrice = o.unitPrice ?? 7.5;
  const data: Record<string, unknown> = {
    stationId: o.stationId ?? 'ST-1', dispenserId: o.dispenserId ?? 'D1', nozzle: o.nozzle ?? 1, grade: o.grade ?? '92',
    volumeL, unitPrice, amountYuan: o.amountYuan ?? Math.round(volumeL * unitPrice * 100) / 100, totalizerL: o.totalizerL ?? 1000,
  };
  for (const k of ['durationS', 'pulses', 'pulsesPerL', 'tankId'] as const) if (o[k] !== undefined) data[k] = o[k];
  return msg('txn', data, o.at);
}
export const tank = (volumeL: number, at: number, o: { stationId?: string; tankId?: string; deviceId?: string } = {}): RuleReading =>
  msg('tank', { stationId: o.stationId ?? 'ST-1', tankId: o.tankId ?? 'T1', grade: '92', volumeL }, at, o.deviceId ?? 'col-1');
export const tamperMsg = (kind: string, dispenserId = 'D1'): RuleReading => msg('tamper', { stationId: 'ST-1', dispenserId, kind });

/** The effects of one reading from the rule's init state. */
export const one = <S, C extends object>(rule: Rule<S, C>, r: RuleReading, config: Partial<C> = {}): Effect[] => runRule(rule, [reading(r)], { config }).effects[0]!;
