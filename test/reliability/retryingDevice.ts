/**
 * A device that sends a fixed list of QoS 1 readings and retries each until it is acknowledged:
 * a window of PUBLISHes in flight; when the connection drops (the service was killed), it
 * reconnects every `retryMs` and sends again everything not acknowledged, with the same msgId
 * (as real devices do). Built on the load generator's cheap raw client
 * (simulators/load/rawMqtt.ts).
 */
import type net from 'node:net';
import { connectRaw, encodeConnect, encodePublish } from '../../simulators/load/rawMqtt.js';

export interface RetryingDeviceOptions {
  port: number;
  id: string;
  secret: string;
  topic: string;
  /** payloads in order; msgId inside each must be unique per device */
  payloads: Buffer[];
  window: number;
  retryMs: number;
}

export class RetryingDevice {
  /** indexes of acknowledged payloads */
  readonly acked = new Set<number>();
  connects = 0;
  private next = 0;
  /** packet id -> payload index, for the current connection */
  private inflight = new Map<number, number>();
  /** payload indexes sent on a dropped connection and not acknowledged */
  private resend: number[] = [];
  private packetId = 0;
  private socket: net.Socket | null = null;
  private stopped = false;
  private finished!: () => void;
  readonly done: Promise<void>;

  constructor(readonly o: RetryingDeviceOptions) {
    this.done = new Promise((r) => { this.finished = r; });
  }

  start(): void {
    void this.connect();
  }

  stop(): void {
    this.stopped = true;
    this.socket?.destroy();
  }

  private async connect(): Promise<void> {
    while (!this.stopped) {
      try {
        const socket = await connectRaw(this.o.port, '127.0.0.1', encodeConnect(this.o.id, this.o.id, this.o.secret), (id) => this.onAck(id));
        this.connects++;
        this.socket = socket;
        socket.on('close', () => this.onClose(socket));
        this.pump();
        return;
      } catch {
        await new Promise((r) => setTimeout(r, this.o.retryMs));
      }
    }
  }

  private onClose(socket: net.Socket): void {
    if (this.socket !== socket) return;
    this.socket = null;
    this.resend.push(...this.inflight.values());
    this.inflight.clear();
    if (!this.stopped && this.acked.size < this.o.payloads.length) setTimeout(() => void this.connect(), this.o.retryMs);
  }

  private onAck(packetId: number): void {
    const idx = this.inflight.get(packetId);
    if (idx === undefined) return;
    this.inflight.delete(packetId);
    this.acked.add(idx);
    if (this.acked.size === this.o.payloads.length) { this.finished(); return; }
    // refill in bursts: aedes reads a client's next chunk only when the current one is done,
    // so one packet per chunk would mean one reading per device per commit
    if (this.inflight.size <= this.o.window / 2) this.pump();
  }

  private pump(): void {
    const socket = this.socket;
    if (!socket) return;
    const out: Buffer[] = [];
    while (this.inflight.size < this.o.window) {
      let idx = this.resend.shift();
      if (idx === undefined) {
        if (this.next >= this.o.payloads.length) break;
        idx = this.next++;
      }
      if (this.acked.has(idx)) continue;
      this.packetId = (this.packetId % 65535) + 1;
      this.inflight.set(this.packetId, idx);
      out.push(encodePublish(this.o.topic, this.o.payloads[idx]!, 1, this.packetId));
    }
    if (out.length) socket.write(Buffer.concat(out));
  }
}
