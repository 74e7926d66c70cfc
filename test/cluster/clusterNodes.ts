/**
 * Parts for tests of cluster nodes as real processes (test/cluster/killNode.test.ts): a node
 * (`node dist/service/main.js` with cluster settings) on its own DATA_DIR and ports, its
 * /metrics gauges, and a device that sends QoS 1 readings at a steady pace and retries each
 * until acknowledged, reconnecting as a real one does (after ~200 ms with jitter).
 */
import type net from 'node:net';
import { connectRaw, encodeConnect, encodePublish } from '../../simulators/load/rawMqtt.js';
import { startServiceProcess, type ServiceProcess } from '../reliability/serviceProcess.js';

export interface NodeSpec {
  nodeId: string;
  dataDir: string;
  mqttPort: number;
  httpPort: number;
  /** the settings every node shares (REDIS_URL, DATABASE_URL, ...) */
  env: Record<string, string>;
}

export function startNode(n: NodeSpec): Promise<ServiceProcess> {
  return startServiceProcess({
    httpPort: n.httpPort,
    env: { ...n.env, NODE_ID: n.nodeId, DATA_DIR: n.dataDir, MQTT_PORT: String(n.mqttPort), HTTP_PORT: String(n.httpPort), MQTT_HOST: '127.0.0.1', HTTP_HOST: '127.0.0.1' },
  });
}

/** SIGKILL, and wait until it is gone. */
export async function killNode(p: ServiceProcess): Promise<void> {
  if (p.child.exitCode !== null || p.child.signalCode !== null) return;
  p.child.kill('SIGKILL');
  await p.exited;
}

/** A gauge's value from a node's /metrics, or undefined (not there, or the node does not answer). */
export async function gauge(httpPort: number, name: string): Promise<number | undefined> {
  try {
    const text = await (await fetch(`http://127.0.0.1:${httpPort}/metrics`)).text();
    const m = new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(text);
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

/** Poll until `probe` gives a truthy value; throws naming `what` past `ms`. */
export async function within<T>(ms: number, what: string, probe: () => T | undefined | null | false | Promise<T | undefined | null | false>): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v) return v;
    if (Date.now() > end) throw new Error(`not within ${ms} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export interface PacedDeviceOptions {
  port: number;
  id: string;
  secret: string;
  topic: string;
  /** one new reading this often */
  everyMs: number;
  payload(msgId: string): Buffer;
}

/**
 * A device sending one QoS 1 reading every `everyMs` with a new msgId, and everything not yet
 * acknowledged again, with the same msgId, after each reconnect (as a real device's outbox).
 */
export class PacedDevice {
  /** msgIds acknowledged */
  readonly acked = new Set<string>();
  /** msgIds made so far, in order */
  readonly made: string[] = [];
  connects = 0;
  /** when the current connection got its CONNACK; 0 while disconnected */
  connectedAt = 0;
  /** when the last connection was lost */
  lostAt = 0;
  private readonly outbox = new Map<string, Buffer>();
  private inflight = new Map<number, string>();
  private packetId = 0;
  private socket: net.Socket | null = null;
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;
  private drained: (() => void) | null = null;

  constructor(readonly o: PacedDeviceOptions) {}

  start(): void {
    this.timer = setInterval(() => this.make(), this.o.everyMs);
    void this.connect();
  }

  /** No new readings; resolves once everything made is acknowledged. */
  finish(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    return this.outbox.size === 0 ? Promise.resolve() : new Promise((r) => { this.drained = r; });
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.socket?.destroy();
  }

  get connected(): boolean {
    return this.connectedAt > 0;
  }

  private make(): void {
    const msgId = `${this.o.id}-${this.made.length}`;
    this.made.push(msgId);
    this.outbox.set(msgId, this.o.payload(msgId));
    if (this.socket) this.send([msgId]);
  }

  private send(msgIds: string[]): void {
    const out: Buffer[] = [];
    for (const msgId of msgIds) {
      this.packetId = (this.packetId % 65535) + 1;
      this.inflight.set(this.packetId, msgId);
      out.push(encodePublish(this.o.topic, this.outbox.get(msgId)!, 1, this.packetId));
    }
    if (out.length) this.socket!.write(Buffer.concat(out));
  }

  private async connect(): Promise<void> {
    while (!this.stopped) {
      try {
        // a connection HAProxy holds while it looks for a node: given up after 3 s (only before
        // its CONNACK: connectRaw destroys the socket whenever the signal aborts)
        const attempt = new AbortController();
        const giveUp = setTimeout(() => attempt.abort(), 3000);
        const socket = await connectRaw(this.o.port, '127.0.0.1', encodeConnect(this.o.id, this.o.id, this.o.secret, 30), (id) => this.onAck(id),
          undefined, undefined, attempt.signal).finally(() => clearTimeout(giveUp));
        if (this.stopped) { socket.destroy(); return; }
        this.connects++;
        this.connectedAt = Date.now();
        this.socket = socket;
        socket.on('error', () => undefined);
        socket.on('close', () => this.onClose(socket));
        // everything not acknowledged, oldest first, the same msgIds
        this.send([...this.outbox.keys()]);
        return;
      } catch {
        await new Promise((r) => setTimeout(r, 200 + Math.random() * 100));
      }
    }
  }

  private onClose(socket: net.Socket): void {
    if (this.socket !== socket) return;
    this.socket = null;
    this.connectedAt = 0;
    this.lostAt = Date.now();
    this.inflight.clear();
    if (!this.stopped) setTimeout(() => void this.connect(), 200 + Math.random() * 100);
  }

  private onAck(packetId: number): void {
    const msgId = this.inflight.get(packetId);
    if (msgId === undefined) return;
    this.inflight.delete(packetId);
    this.outbox.delete(msgId);
    this.acked.add(msgId);
    if (this.outbox.size === 0 && this.drained) this.drained();
  }
}
