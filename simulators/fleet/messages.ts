/**
 * What the behaviour of every family shares (behaviour.ts): the state each device has, a
 * step's result, and the messages themselves (unique msgIds, `ts`, heartbeats).
 */
import type { Rng } from './rng.js';

export interface OutMsg {
  channel: string;
  payload: Record<string, unknown>;
}

export interface Step<S> {
  state: S;
  messages: OutMsg[];
}

export interface Base {
  id: string;
  /** makes msgIds unique per run (the platform dedupes (device, msgId) for 10 minutes) */
  msgPrefix: string;
  seq: number;
  heartbeatMs: number;
  nextHeartbeatAt: number;
  bootAt: number;
  /** >1 compresses time: every interval is divided by it */
  timeScale: number;
}

function nextId<S extends Base>(s: S): [S, string] {
  const seq = s.seq + 1;
  return [{ ...s, seq }, `${s.msgPrefix}-${seq}`];
}

export function message<S extends Base>(s: S, now: number, channel: string, body: Record<string, unknown>): [S, OutMsg] {
  const [next, msgId] = nextId(s);
  return [next, { channel, payload: { msgId, ts: Math.round(now), ...body } }];
}

export function heartbeat<S extends Base>(s: S, rng: Rng, now: number, out: OutMsg[]): S {
  if (now < s.nextHeartbeatAt) return s;
  const [next, msg] = message(s, now, 'heartbeat', {
    fw: '2.3.1', rssi: -rng.int(45, 95), uptimeS: Math.max(0, Math.round((now - s.bootAt) / 1000)),
  });
  out.push(msg);
  // jitter so that a whole fleet does not beat in step
  return { ...next, nextHeartbeatAt: now + s.heartbeatMs * rng.range(0.9, 1.0) };
}

export const round2 = (x: number): number => Math.round(x * 100) / 100;
