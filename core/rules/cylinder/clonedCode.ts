/**
 * `cylinder.cloned_code`: the same cylinder code scanned at two different stations within
 * 1 h [default, docs/domain.md §3]. One cylinder cannot be in two places at once; a code
 * seen at two stations that close in time was copied onto another cylinder (often one
 * without a valid record, to get it through the filling gate).
 *
 * Window: |device time of the two scans| <= windowMs, inclusive (exactly 1 h raises,
 * 1 h + 1 ms does not), in either arrival order, so a handheld upload that arrives late is
 * compared too. Every scan point counts. When several other stations are within the window,
 * the nearest scan in time is the evidence and the others are listed in a parameter.
 *
 * Not exempted [open question]: an owner station and the station it entrusts filling to
 * are different stations; if they are less than an hour apart, a cylinder really driven from
 * one to the other is reported. Lower windowMs per deployment if that happens.
 *
 * State: per code, the recent scans (at most maxScansPerCode, newest kept), kept windowMs +
 * lateArrivalMs of platform time; at most maxTrackedCodes codes; in a sharded map
 * (common/shardedMap.ts) so a scan copies one small shard. Critical; condition = code;
 * evidence = both stations and both scan seqs. Resolved by the operator.
 */
import type { Rule, Severity } from '../../alerts/types.js';
import { emptyMap, mapEntries, mapGet, mapSet, mapUpdate, type ShardedMap } from '../common/shardedMap.js';
import { DAY, HOUR, noEffects } from '../common/util.js';
import { SWEEP_EVERY_MS, expiredKeys, scanOf, stateKey } from './scanWindow.js';

export interface ClonedCodeConfig {
  /** two stations within this (device time) raise [default, docs/domain.md §3: 1 h] */
  windowMs: number;
  /** scans are remembered this much longer, for late uploads [default] */
  lateArrivalMs: number;
  severity: Severity;
  /** repeats for the same code on the same scanner within this update the open alert */
  alertWindowMs: number;
  /** bound per code [default; a cylinder is scanned ~6 times per fill cycle] */
  maxScansPerCode: number;
  /** bound on codes remembered [default: above a city's 162k cylinders] */
  maxTrackedCodes: number;
}

export const clonedCodeDefaults: ClonedCodeConfig = {
  windowMs: HOUR,
  lateArrivalMs: HOUR,
  severity: 'critical',
  alertWindowMs: DAY,
  maxScansPerCode: 16,
  maxTrackedCodes: 200_000,
};

export interface SeenScan {
  stationId: string;
  /** device time */
  ts: number;
  seq: number;
  /** platform receive time, for retention */
  rx: number;
  deviceId: string;
  point: string;
}

export interface ClonedCodeState {
  /** by stateKey(code): recent scans in arrival order (never empty) */
  codes: ShardedMap<SeenScan[]>;
  /** platform time of the last full sweep */
  sweptAt: number;
}

function fresh(scans: readonly SeenScan[], clock: number, retainMs: number): SeenScan[] {
  return scans.filter((s) => clock - s.rx <= retainMs);
}

function sweep(state: ClonedCodeState, clock: number, cfg: ClonedCodeConfig): ClonedCodeState {
  if (clock - state.sweptAt < SWEEP_EVERY_MS) return state;
  const retain = cfg.windowMs + cfg.lateArrivalMs;
  const entries = mapEntries(state.codes);
  // a code whose newest scan expired goes; one with some expired scans keeps the rest
  const drop = expiredKeys(entries, (scans) => scans[scans.length - 1]!.rx, clock, retain, cfg.maxTrackedCodes);
  const dropped = new Set(drop);
  const trimmed = entries
    .filter(([k, scans]) => !dropped.has(k) && clock - scans[0]!.rx > retain)
    .map(([k, scans]) => [k, fresh(scans, clock, retain)] as const);
  return { codes: mapUpdate(state.codes, [...drop.map((k) => [k, undefined] as const), ...trimmed]), sweptAt: clock };
}

export const clonedCode: Rule<ClonedCodeState, ClonedCodeConfig> = {
  id: 'cylinder.cloned_code',
  family: 'cylinder',
  channels: ['scan'],
  defaults: clonedCodeDefaults,
  init: () => ({ codes: emptyMap(), sweptAt: 0 }),

  onReading(state0, reading, ctx) {
    const cfg = ctx.config;
    const scan = scanOf(reading);
    if (!scan) return noEffects(state0);
    const state = sweep(state0, scan.rx, cfg);
    const key = stateKey(scan.code);
    const before = fresh(mapGet(state.codes, key) ?? [], scan.rx, cfg.windowMs + cfg.lateArrivalMs);

    const others = before.filter((s) => s.stationId !== scan.stationId && Math.abs(scan.ts - s.ts) <= cfg.windowMs);
    const seen: SeenScan = { stationId: scan.stationId, ts: scan.ts, seq: scan.seq, rx: scan.rx, deviceId: scan.deviceId, point: scan.point };
    const scans = [...before, seen].slice(-cfg.maxScansPerCode);
    const next: ClonedCodeState = { ...state, codes: mapSet(state.codes, key, scans) };
    if (others.length === 0) return { state: next, effects: [] };

    const nearest = others.reduce((a, b) => (Math.abs(scan.ts - b.ts) < Math.abs(scan.ts - a.ts) ? b : a));
    const [first, second] = nearest.ts <= scan.ts ? [nearest, seen] : [seen, nearest];
    const gapMs = Math.abs(scan.ts - nearest.ts);
    const gapMin = Math.round(gapMs / 60_000);
    const stations = [...new Set(others.map((o) => o.stationId))];
    return {
      state: next,
      effects: [{
        type: 'raise',
        rule: clonedCode.id,
        family: 'cylinder',
        deviceId: scan.deviceId,
        condition: scan.code,
        severity: cfg.severity,
        windowMs: cfg.alertWindowMs,
        summary: `cylinder code ${scan.code} scanned at stations ${first.stationId} and ${second.stationId} ${gapMin} min apart`,
        params: {
          cylinderCode: scan.code,
          stationA: first.stationId, seqA: first.seq, atA: first.ts, deviceA: first.deviceId, pointA: first.point,
          stationB: second.stationId, seqB: second.seq, atB: second.ts, deviceB: second.deviceId, pointB: second.point,
          gapMs,
          otherStations: stations.join(','),
        },
        evidence: {
          seqs: [first.seq, second.seq],
          values: { stationA: first.stationId, seqA: first.seq, stationB: second.stationId, seqB: second.seq, gapMinutes: gapMin },
        },
        at: scan.rx,
      }],
    };
  },

  onTick(state, ctx, now) {
    return { state: sweep(state, now, ctx.config), effects: [] };
  },
};
