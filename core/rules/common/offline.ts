/**
 * Device liveness, one rule per family: a device that sends nothing on any channel for a
 * while, or whose MQTT connection closed and did not come back within a grace period, raises
 * `{family}.offline` (`kitchen.camera_dark` for kitchen cameras). The first later message or
 * reconnect resolves it.
 *
 * Why it matters: a kitchen camera going dark is itself an evasion and its offline status is
 * monitored [reg, Yunnan DB53/T 1173]; an elevator terminal offline for 3 missed heartbeats
 * is alerted (docs/domain.md §2). Thresholds for cylinders and dispensers are [default].
 *
 * Time: `lastSeen` is the platform receive time (`receivedAt`) of the newest reading, and the
 * engine's clock (`now`) for connection events and ticks. Both are the platform's clock, so a
 * device with a wrong clock, or one sending a backlog of old readings, is judged by when the
 * platform last heard from it, which is what "offline" means.
 *
 * Only devices the rule has seen (a reading or a connection event) are tracked: a device
 * registered but never installed is not reported. State holds one small record per seen
 * device of the family, so it is bounded by the fleet.
 */
import type { Family } from '../../schemas/index.js';
import { channelSchemas } from '../../schemas/index.js';
import type { Effect, RaiseAlert, Rule, RuleContext, Severity } from '../../alerts/types.js';
import { resolveReason } from '../../alerts/systemNotes.js';
import { emptyMap, mapForEach, mapGet, mapSet, mapUpdate, type ShardedMap } from './shardedMap.js';
import { MINUTE, SECOND, reached } from './util.js';

export interface OfflineConfig {
  /** silence (no message on any channel) before raising; when absent: heartbeatIntervalS x missedHeartbeats */
  silenceMs?: number;
  /** the devices' heartbeat period, for families whose rule is stated in missed heartbeats */
  heartbeatIntervalS?: number;
  missedHeartbeats?: number;
  /** a closed connection not reopened within this raises (before the silence threshold) */
  graceMs: number;
  severity: Severity;
}

export type OfflineReason = 'silent' | 'disconnected';

export interface DeviceLiveness {
  /** platform time of the newest message or (re)connect */
  lastSeen: number;
  /** seq of the newest reading, for the alert's evidence */
  lastSeq: number | null;
  connected: boolean;
  disconnectedAt: number | null;
  /** why the open offline alert was raised; null when none is open */
  alerted: OfflineReason | null;
}

export interface OfflineState {
  /** per device id */
  devices: ShardedMap<DeviceLiveness>;
  /**
   * when the platform (re)started listening after an outage (`resumeAfterOutage`); silence
   * and disconnect timers run from no earlier than this. 0: never set.
   */
  listeningSince: number;
}

/** The silence threshold in ms, from `silenceMs` or heartbeatIntervalS x missedHeartbeats. */
export function silenceMsOf(cfg: OfflineConfig): number {
  if (typeof cfg.silenceMs === 'number') return cfg.silenceMs;
  if (typeof cfg.heartbeatIntervalS === 'number' && typeof cfg.missedHeartbeats === 'number') {
    return cfg.heartbeatIntervalS * cfg.missedHeartbeats * SECOND;
  }
  throw new Error('offline rule config needs silenceMs, or heartbeatIntervalS and missedHeartbeats');
}

/** The default grace for a closed connection: 2 min [default], long enough for a router or broker restart. */
export const DEFAULT_GRACE_MS = 2 * MINUTE;

export function offlineRule(family: Family, ruleId: string, defaults: OfflineConfig): Rule<OfflineState, OfflineConfig> {
  // any channel counts as a sign of life, not only heartbeats: a camera busy sending violations is not dark
  const channels = Object.keys(channelSchemas[family]);

  /** Connection events come for every device; only this family's (per the registry) concern this rule. */
  const ours = (ctx: RuleContext<OfflineConfig>, deviceId: string): boolean => ctx.device(deviceId)?.family === family;

  const raise = (deviceId: string, d: DeviceLiveness, reason: OfflineReason, cfg: OfflineConfig, at: number): RaiseAlert => {
    const silenceMs = silenceMsOf(cfg);
    const silentForMs = at - d.lastSeen;
    const summary = reason === 'silent'
      ? `${family} device ${deviceId} silent for ${Math.round(silentForMs / SECOND)} s (threshold ${Math.round(silenceMs / SECOND)} s)`
      : `${family} device ${deviceId} disconnected for ${Math.round((at - (d.disconnectedAt ?? at)) / SECOND)} s (grace ${Math.round(cfg.graceMs / SECOND)} s)`;
    return {
      type: 'raise',
      rule: ruleId,
      family,
      deviceId,
      condition: '',
      severity: cfg.severity,
      // one alert per outage: we raise once and resolve before raising again
      windowMs: 0,
      summary,
      params: {
        reason,
        lastSeenAt: d.lastSeen,
        silentForMs,
        disconnectedAt: d.disconnectedAt,
        thresholdMs: reason === 'silent' ? silenceMs : cfg.graceMs,
      },
      evidence: { seqs: d.lastSeq === null ? [] : [d.lastSeq], values: { lastSeenAt: d.lastSeen, silentForS: Math.round(silentForMs / SECOND) } },
      at,
    };
  };

  const resolve = (deviceId: string, code: 'offline.message_received' | 'offline.reconnected', at: number): Effect =>
    ({ type: 'resolve', rule: ruleId, deviceId, condition: '', ...resolveReason(code), at });

  return {
    id: ruleId,
    family,
    channels,
    defaults,
    init: () => ({ devices: emptyMap(), listeningSince: 0 }),

    onReading(state, reading) {
      if (reading.family !== family) return { state, effects: [] };
      const prev = mapGet(state.devices, reading.deviceId);
      const at = reading.receivedAt;
      // received before a connection close the rule already knows of (the engine processed it
      // late): it is news about the past, not a sign the device came back
      const beforeClose = !!prev && !prev.connected && prev.disconnectedAt !== null && at < prev.disconnectedAt;
      const next: DeviceLiveness = {
        // a late-processed older reading never moves lastSeen back
        lastSeen: prev ? Math.max(prev.lastSeen, at) : at,
        lastSeq: prev && prev.lastSeen > at ? prev.lastSeq : reading.seq,
        // otherwise a message arrives over a live connection
        connected: !beforeClose,
        disconnectedAt: beforeClose ? prev.disconnectedAt : null,
        alerted: beforeClose ? prev.alerted : null,
      };
      const effects = !beforeClose && prev?.alerted ? [resolve(reading.deviceId, 'offline.message_received', at)] : [];
      // a literal, not a spread: this runs for every reading of every device (P1 profile)
      return { state: { devices: mapSet(state.devices, reading.deviceId, next), listeningSince: state.listeningSince }, effects };
    },

    onConnection(state, event, ctx, now) {
      if (!ours(ctx, event.deviceId)) return { state, effects: [] };
      const prev = mapGet(state.devices, event.deviceId);
      if (event.connected) {
        const next: DeviceLiveness = {
          // a reconnect is a sign of life: the silence timer restarts from it
          lastSeen: prev ? Math.max(prev.lastSeen, now) : now,
          lastSeq: prev?.lastSeq ?? null,
          connected: true,
          disconnectedAt: null,
          alerted: null,
        };
        const effects = prev?.alerted ? [resolve(event.deviceId, 'offline.reconnected', now)] : [];
        return { state: { ...state, devices: mapSet(state.devices, event.deviceId, next) }, effects };
      }
      const next: DeviceLiveness = {
        lastSeen: prev?.lastSeen ?? now,
        lastSeq: prev?.lastSeq ?? null,
        connected: false,
        // a second close without an open in between keeps the first close time
        disconnectedAt: prev && !prev.connected && prev.disconnectedAt !== null ? prev.disconnectedAt : now,
        alerted: prev?.alerted ?? null,
      };
      return { state: { ...state, devices: mapSet(state.devices, event.deviceId, next) }, effects: [] };
    },

    onTick(state, ctx, now) {
      const cfg = ctx.config;
      const silenceMs = silenceMsOf(cfg);
      const updates: Array<[string, DeviceLiveness]> = [];
      const effects: Effect[] = [];
      const since = state.listeningSince ?? 0;
      mapForEach(state.devices, (deviceId, d) => {
        if (d.alerted) return;
        // the disconnect grace is checked first: it is the more specific reason and usually the earlier one
        const reason: OfflineReason | null = !d.connected && d.disconnectedAt !== null && reached(now, Math.max(d.disconnectedAt, since), cfg.graceMs)
          ? 'disconnected'
          : reached(now, Math.max(d.lastSeen, since), silenceMs) ? 'silent' : null;
        if (!reason) return;
        effects.push(raise(deviceId, d, reason, cfg, now));
        updates.push([deviceId, { ...d, alerted: reason }]);
      });
      return { state: updates.length ? { ...state, devices: mapUpdate(state.devices, updates) } : state, effects };
    },

    onResume: (state, now) => resumeAfterOutage(state, now),
  };
}

/**
 * The platform was down (not listening) and is back: devices could not be heard meanwhile,
 * so their silence and disconnect timers restart at `now` instead of all firing at the first
 * tick. The engine calls this once after its replay when the gap since its last checkpoint is
 * longer than it trusts (its choice); replay itself needs no call, as it re-runs history.
 */
export function resumeAfterOutage(state: OfflineState, now: number): OfflineState {
  return { ...state, listeningSince: Math.max(state.listeningSince ?? 0, now) };
}

/** Kitchen camera dark: 30 min without any message [reg, Yunnan DB53/T 1173; default 30 min]. */
export const cameraDarkRule = offlineRule('kitchen', 'kitchen.camera_dark', {
  silenceMs: 30 * MINUTE,
  graceMs: DEFAULT_GRACE_MS,
  severity: 'major',
});

/** Elevator terminal offline: 3 missed heartbeats of 60 s (docs/domain.md §2; the 60 s period is [default]). */
export const elevatorOfflineRule = offlineRule('elevator', 'elevator.offline', {
  heartbeatIntervalS: 60,
  missedHeartbeats: 3,
  graceMs: DEFAULT_GRACE_MS,
  severity: 'major',
});

/** Cylinder scanner offline: 10 min [default]. */
export const cylinderOfflineRule = offlineRule('cylinder', 'cylinder.offline', {
  silenceMs: 10 * MINUTE,
  graceMs: DEFAULT_GRACE_MS,
  severity: 'major',
});

/** Fuel-station collector offline: 10 min [default]. */
export const dispenserOfflineRule = offlineRule('dispenser', 'dispenser.offline', {
  silenceMs: 10 * MINUTE,
  graceMs: DEFAULT_GRACE_MS,
  severity: 'major',
});
