/**
 * One device's raw MQTT connection for the load generator: a connect attempt with a deadline
 * (a device that gets no CONNACK closes its socket and may try again, as MQTT.js does on
 * connectTimeout), packet ids, the QoS 1 packets in flight with their send time, PUBACK
 * latency, and writes batched per tick. What to publish and when is the caller's: the paced
 * and ack-driven generators (generator.ts), the heartbeating devices (heartbeats.ts), the
 * load mode CLI (load.ts) and the benchmarks.
 */
import type net from 'node:net';
import { performance } from 'node:perf_hooks';
import { connectRaw, encodeConnect } from './rawMqtt.js';

/** A device to connect as: client id and username `id`; no `secret` connects anonymously (Mosquitto, the peer). */
export interface RawDevice { id: string; secret?: string }

export interface ConnectOptions {
  port: number;
  /** default 127.0.0.1 */
  host?: string;
  /** CONNECT keep alive in seconds, 0 = none (default 60) */
  keepaliveS?: number;
  /** an attempt without CONNACK in this time is abandoned and its socket closed (default 15 s) */
  timeoutMs?: number;
}

export const CONNECT_TIMEOUT_MS = 15_000;

/** The DUP flag of a PUBLISH's first byte: a QoS 1 packet sent again. */
export const PUBLISH_DUP = 0x08;

export class RawClient<T = never> {
  /** the open connection, null before the first CONNACK and after a close */
  socket: net.Socket | null = null;
  /** messages this device generated (the publisher's counter: msgIds are built from it) */
  seq = 0;
  /** QoS 1 packets in flight: packet id -> performance.now() when written */
  readonly inflight = new Map<number, number>();
  /** what the publisher attached to a packet in flight (to send it again after a drop) */
  readonly held = new Map<number, T>();
  /** a PUBACK of a packet in flight: its latency in ms and what was attached to it */
  onAck: (ms: number, held: T | undefined) => void = () => undefined;
  /** a PINGRESP */
  onPong: () => void = () => undefined;
  /** the open connection closed (by either side) */
  onClose: () => void = () => undefined;
  private nextPid = 1;
  private out: Buffer[] = [];

  constructor(readonly device: RawDevice, readonly localAddress?: string) {}

  get id(): string { return this.device.id; }

  /** packets push() queued for the next flush() */
  get queued(): number { return this.out.length; }

  /** One attempt: resolves with the socket on CONNACK 0, rejects on an error, a refusal or the deadline. */
  async connect(o: ConnectOptions): Promise<net.Socket> {
    const { id, secret } = this.device;
    const timeoutMs = o.timeoutMs ?? CONNECT_TIMEOUT_MS;
    const abandon = new AbortController();
    let timer: NodeJS.Timeout | undefined;
    const attempt = connectRaw(o.port, o.host ?? '127.0.0.1', encodeConnect(id, secret ? id : undefined, secret, o.keepaliveS ?? 60),
      (pid) => this.acked(pid), this.localAddress, () => this.onPong(), abandon.signal);
    try {
      const socket = await Promise.race([attempt, new Promise<never>((_, reject) => {
        timer = setTimeout(() => { reject(new Error(`no CONNACK within ${timeoutMs} ms`)); abandon.abort(); }, timeoutMs);
      })]);
      this.socket = socket;
      socket.on('close', () => {
        if (this.socket !== socket) return;
        this.socket = null;
        this.onClose();
      });
      return socket;
    } catch (e) {
      // a CONNACK after the deadline: close that socket too
      attempt.then((s) => s.destroy(), () => undefined);
      throw e;
    } finally {
      clearTimeout(timer);
    }
  }

  /** The packet id for the next QoS 1 packet: 1..65535, wrapping. */
  takePid(): number {
    const pid = this.nextPid;
    this.nextPid = pid >= 65535 ? 1 : pid + 1;
    return pid;
  }

  /** Queue a packet for flush(); with a packet id (QoS 1) it is in flight from now on. */
  push(packet: Buffer, pid = 0, held?: T): void {
    if (pid) this.track(pid, held);
    this.out.push(packet);
  }

  /** Write what push() queued in one write (dropped when the connection is gone). */
  flush(): void {
    const out = this.out;
    if (!out.length) return;
    this.out = [];
    this.socket?.write(out.length === 1 ? out[0]! : Buffer.concat(out));
  }

  /** Write one packet now; with a packet id (QoS 1) it is in flight from now on. Returns socket.write's answer. */
  write(packet: Buffer, pid = 0, held?: T): boolean {
    if (pid) this.track(pid, held);
    return this.socket?.write(packet) ?? false;
  }

  /** Forget every packet in flight (the connection dropped), returning what was attached to them. */
  takeInflight(): T[] {
    const held = [...this.held.values()];
    this.inflight.clear();
    this.held.clear();
    return held;
  }

  /** Close the connection without calling onClose. */
  destroy(): void {
    const s = this.socket;
    this.socket = null;
    s?.destroy();
  }

  private track(pid: number, held: T | undefined): void {
    this.inflight.set(pid, performance.now());
    if (held !== undefined) this.held.set(pid, held);
  }

  private acked(pid: number): void {
    const at = this.inflight.get(pid);
    if (at === undefined) return;
    this.inflight.delete(pid);
    let h: T | undefined;
    if (this.held.size) {
      h = this.held.get(pid);
      this.held.delete(pid);
    }
    this.onAck(performance.now() - at, h);
  }
}
