/**
 * The load generator's two publishing loops over connected raw clients (client.ts):
 *
 * - paced: a target rate over the whole fleet, round robin over the clients, by elapsed time
 *   (a late timer sends more, so the rate holds), each tick's packets written once per client.
 *   QoS 1 keeps at most `window` unacknowledged per client; a client that cannot take a message
 *   (window full, too much unwritten, not connected) either drops it (`blocked: 'drop'`: the
 *   achieved rate is what the broker sustains, never a queue growing in our memory) or passes
 *   it to the next client (`'next'`: the message stays owed);
 * - burst: fixed lists of packets, as fast as the broker acknowledges them (QoS 1, a window
 *   per client, each PUBACK releasing the next) or as fast as the socket drains (QoS 0, then a
 *   PINGREQ: its PINGRESP says every packet before it was read).
 */
import { performance } from 'node:perf_hooks';
import type { RawClient } from './client.js';
import { PINGREQ } from './rawMqtt.js';

export interface PacedOptions<T> {
  clients: ReadonlyArray<RawClient<T>>;
  /** messages per second over all clients */
  rate: number;
  qos: 0 | 1;
  /** QoS 1: unacknowledged packets per client at most */
  window: number;
  tickMs: number;
  /** a client that cannot take its message: drop it (counted in `skipped`), or try the next client */
  blocked: 'drop' | 'next';
  /** a client holding more unwritten bytes than this is blocked (default: no limit) */
  maxBufferedBytes?: number;
  /** the packet of client k's next message, `clients[k].seq` already counting it; `ts` is Date.now() of the tick */
  packet: (k: number, pid: number, ts: string) => Buffer;
  /** the latency of each PUBACK (ms) */
  onLatency?: (ms: number) => void;
}

export interface PacedLoad {
  /** messages written */
  readonly sent: number;
  /** PUBACKs received */
  readonly acked: number;
  /** messages a client could not take because its window or buffer was full (`'drop'`: also those of clients not connected) */
  readonly skipped: number;
  /** QoS 1 messages sent and not acknowledged yet */
  readonly inflight: number;
  stop(): void;
}

export function startPaced<T>(o: PacedOptions<T>): PacedLoad {
  const { clients, rate, qos, window, packet } = o;
  const n = clients.length;
  const maxBuffered = o.maxBufferedBytes ?? Infinity;
  let sent = 0;
  let acked = 0;
  let skipped = 0;
  /** messages of the schedule done with: sent, and dropped ones when `blocked` is 'drop' */
  let consumed = 0;
  let rr = 0;
  for (const c of clients) c.onAck = (ms) => { acked++; o.onLatency?.(ms); };
  const started = performance.now();
  const timer = setInterval(() => {
    const due = Math.floor((rate * (performance.now() - started)) / 1000) - consumed;
    if (due <= 0 || !n) return;
    const ts = String(Date.now());
    const touched: Array<RawClient<T>> = [];
    // 'next': after a whole round of blocked clients the rest stays owed until the next tick
    for (let k = 0, tries = 0; k < due && tries < n; ) {
      const i = rr;
      const c = clients[i]!;
      rr = (rr + 1) % n;
      const full = (qos === 1 && c.inflight.size >= window) || (c.socket !== null && c.socket.writableLength > maxBuffered);
      if (full || !c.socket) {
        if (full) skipped++;
        if (o.blocked === 'drop') { if (!full) skipped++; consumed++; k++; } else tries++;
        continue;
      }
      tries = 0;
      const pid = qos === 1 ? c.takePid() : 0;
      c.seq++;
      if (!c.queued) touched.push(c);
      c.push(packet(i, pid, ts), pid);
      sent++;
      consumed++;
      k++;
    }
    for (const c of touched) c.flush();
  }, o.tickMs);
  return {
    get sent() { return sent; },
    get acked() { return acked; },
    get skipped() { return skipped; },
    get inflight() { let x = 0; for (const c of clients) x += c.inflight.size; return x; },
    stop: () => clearInterval(timer),
  };
}

/** The packet id of a client's i-th packet in a burst (0-based): build QoS 1 burst packets with it. */
export const burstPid = (i: number): number => (i % 65535) + 1;

export interface BurstOptions<T> {
  clients: ReadonlyArray<RawClient<T>>;
  /** each client's packets in order, built before the clock starts; QoS 1 packet i carries burstPid(i) */
  packets: ReadonlyArray<readonly Buffer[]>;
  qos: 0 | 1;
  /** QoS 1: unacknowledged packets per client at most */
  window: number;
  onLatency?: (ms: number) => void;
}

/** Send every packet; resolves with the ms from the first write to the last PUBACK (QoS 1) or PINGRESP (QoS 0). */
export async function runBurst<T>(o: BurstOptions<T>): Promise<number> {
  const { clients, packets, qos, window } = o;
  const total = qos === 1 ? packets.reduce((a, p) => a + p.length, 0) : clients.length;
  let done = 0;
  let finish!: () => void;
  const finished = new Promise<void>((r) => { finish = r; });
  if (!total) finish();
  const senders = clients.map((c, k) => {
    const mine = packets[k]!;
    const socket = c.socket;
    if (!socket) throw new Error(`${c.id}: not connected`);
    let next = 0;
    if (qos === 1) {
      const sendOne = (): void => { const i = next++; c.write(mine[i]!, burstPid(i)); };
      c.onAck = (ms) => {
        o.onLatency?.(ms);
        if (++done === total) finish();
        if (next < mine.length) sendOne();
      };
      return () => { socket.cork(); for (let w = 0; w < window && next < mine.length; w++) sendOne(); socket.uncork(); };
    }
    c.onPong = () => { if (++done === total) finish(); };
    const write = (): void => {
      while (next < mine.length) {
        if (!socket.write(mine[next++]!)) { socket.once('drain', write); return; }
      }
      socket.write(PINGREQ);
    };
    return write;
  });
  const t0 = performance.now();
  for (const s of senders) s();
  await finished;
  return performance.now() - t0;
}
