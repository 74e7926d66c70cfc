/**
 * Topic ACL (docs/protocol.md, Topics and what a device may do): a device publishes only
 * under its own `{family}/{id}/` on its family's channels and subscribes only to its own
 * reply topics.
 * Pure functions of (identity, topic).
 */
import type { DeviceCode } from './codes.js';
import { replyChannels, type Family } from './schemas/index.js';
import type { Role } from './roles.js';
import { parseDeviceTopic, type DeviceTopic } from './topic.js';

/**
 * Who is on the connection. `anonymous` exists only in open mode; `user` is a dashboard
 * account used by an integration to subscribe to alerts (docs/protocol.md: alerts/{family}/{rule},
 * only clients granted that permission).
 */
export type Identity =
  | { kind: 'device'; deviceId: string; family: Family }
  /** district: the account's scope (accounts/scope.ts); a scoped account subscribes to no alert topic */
  | { kind: 'user'; username: string; role: Role; district?: string | null }
  | { kind: 'anonymous' };

export type PublishDecision =
  | { ok: true; topic: DeviceTopic }
  | { ok: false; reason: Extract<DeviceCode, 'topic_invalid' | 'topic_not_allowed'>; detail: string; topic: DeviceTopic | null };

export function checkPublish(who: Identity, topic: string): PublishDecision {
  if (who.kind === 'user') {
    return { ok: false, reason: 'topic_not_allowed', detail: `user ${who.username} may subscribe to alerts but not publish`, topic: null };
  }
  const t = parseDeviceTopic(topic);
  if (!t) {
    return { ok: false, reason: 'topic_invalid', detail: `topic "${truncate(topic)}" is not {family}/{deviceId}/{channel}`, topic: null };
  }
  if (who.kind === 'device' && (t.deviceId !== who.deviceId || t.family !== who.family)) {
    return { ok: false, reason: 'topic_not_allowed', detail: `device ${who.deviceId} (${who.family}) may publish only under ${who.family}/${who.deviceId}/`, topic: null };
  }
  if (replyChannels[t.family].includes(t.channel)) {
    return { ok: false, reason: 'topic_not_allowed', detail: `${t.channel} is a platform -> device channel`, topic: t };
  }
  return { ok: true, topic: t };
}

/**
 * Devices may subscribe to exactly their own reply topics, no wildcards. Users may subscribe
 * under `alerts/` (wildcards allowed there); dispatchers only to elevator alerts.
 */
export function checkSubscribe(who: Identity, filter: string): boolean {
  // alert topics carry no district: a district-scoped account would get the whole city's (docs/security.md, District scope)
  if (who.kind === 'user') return !who.district && checkAlertSubscribe(who.role, filter);
  if (filter.includes('#') || filter.includes('+')) return false;
  const t = parseDeviceTopic(filter);
  if (!t || !replyChannels[t.family].includes(t.channel)) return false;
  if (who.kind === 'anonymous') return true;
  return t.deviceId === who.deviceId && t.family === who.family;
}

function truncate(s: string): string {
  return s.length > 120 ? s.slice(0, 120) + '…' : s;
}

function checkAlertSubscribe(role: Role, filter: string): boolean {
  const levels = filter.split('/');
  if (levels[0] !== 'alerts' || levels.length < 2 || levels.length > 3) return false;
  if (levels.some((l, i) => l.includes('#') && (l !== '#' || i !== levels.length - 1))) return false;
  if (levels.some((l) => l.includes('+') && l !== '+')) return false;
  const family = levels[1]!;
  if (role === 'dispatcher') return family === 'elevator';
  return family === '#' || family === '+' || isFamilyName(family);
}

function isFamilyName(s: string): boolean {
  return s === 'kitchen' || s === 'elevator' || s === 'cylinder' || s === 'dispenser';
}
