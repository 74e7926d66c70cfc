/**
 * Runs a planned fleet against a live service: registers it (bulk import in chunks, the
 * cylinder registry too), connects every device with its own credentials (MQTT.js, one
 * client per device), steps every device's behaviour generator on a tick, and plays a
 * scenario's script. The behaviour itself is in behaviour.ts (pure).
 */
import mqtt, { type MqttClient } from 'mqtt';
import type { ApiClient } from '../apiClient.js';
import { cylinderScanReply, deviceError, replyChannels, type Family } from '../../core/schemas/index.js';
import {
  dispenserNormalTxn, dispenserTamper, lifeCycle, dispenserTankLeak, dispenserTxnFault, elevatorFault, kitchenViolation, releaseElevator, scanCylinder,
  stepDevice, topicOf, trapElevator, type CylinderState, type DeviceState, type DispenserState, type ElevatorState, type KitchenState, type OutMsg,
  type PoolCylinder,
} from './behaviour.js';
import { deviceImportRows, type FleetPlan } from './fleet.js';
import { deviceRng, seededRng, type Rng } from './rng.js';
import { resolveDevice, type Scenario, type ScenarioStep } from './scenario.js';

export interface FleetStats {
  devices: number;
  connected: number;
  published: number;
  acked: number;
  publishErrors: number;
  errorReplies: number;
  scanReplies: { allow: number; refuse: number };
  stepsDone: number;
}

interface LiveDevice {
  id: string;
  family: Family;
  secret: string;
  state: DeviceState;
  rng: Rng;
  client: MqttClient | null;
  /** connected but sending nothing (a camera gone dark) until this time */
  silentUntil: number;
  /** disconnected on purpose until this time (Infinity: until an `online` step) */
  offlineUntil: number;
}

export interface RunnerOptions {
  mqttUrl: string;
  qos: 0 | 1;
  tickMs: number;
  log: (line: string) => void;
  /** how many devices connect at the same time */
  connectConcurrency?: number;
  /** registered, never connected (until an `online` step): the scenario's `neverConnect` */
  neverConnect?: ReadonlySet<string>;
}

const CHUNK = 2000;

/** Register the fleet: devices by bulk import in chunks (existing ones get a fresh secret), then the cylinder registry. */
export async function registerFleet(api: ApiClient, plan: FleetPlan, log: (l: string) => void): Promise<Map<string, string>> {
  const secrets = new Map<string, string>();
  const rows = deviceImportRows(plan);
  let skipped: string[] = [];
  for (let i = 0; i < rows.length; i += CHUNK) {
    const r = await api.importDevices({ json: rows.slice(i, i + CHUNK) }, 'skip');
    for (const c of r.created) secrets.set(c.id, c.secret);
    skipped = skipped.concat(r.skipped);
  }
  // devices registered by an earlier run: a new secret, as the simulator never saw the old one
  for (let i = 0; i < skipped.length; i += 32) {
    await Promise.all(skipped.slice(i, i + 32).map(async (id) => { secrets.set(id, (await api.rotateSecret(id)).secret); }));
  }
  log(`registered ${rows.length} devices (${rows.length - skipped.length} new, ${skipped.length} already known: secrets rotated)`);
  if (plan.cylinders.length) {
    let created = 0;
    let updated = 0;
    for (let i = 0; i < plan.cylinders.length; i += 5 * CHUNK) {
      const r = await api.importCylinders({ json: plan.cylinders.slice(i, i + 5 * CHUNK) }, 'update');
      created += r.created;
      updated += r.updated;
    }
    const bad = plan.cylinders.filter((c) => c.status !== 'in_service').length;
    log(`cylinder registry: ${plan.cylinders.length} records (${created} new, ${updated} updated; ${bad} scrapped or lost)`);
  }
  return secrets;
}

function connectClient(url: string, id: string, secret: string): Promise<MqttClient> {
  return new Promise((resolve, reject) => {
    const client = mqtt.connect(url, { username: id, password: secret, clientId: id, reconnectPeriod: 0, connectTimeout: 10_000, keepalive: 60 });
    client.once('connect', () => resolve(client));
    client.once('error', (err) => { client.end(true); reject(err); });
  });
}

export class FleetRunner {
  readonly stats: FleetStats;
  private readonly devices = new Map<string, LiveDevice>();
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;
  private readonly scriptRng: Rng;

  constructor(private readonly plan: FleetPlan, secrets: Map<string, string>, private readonly opts: RunnerOptions) {
    for (const d of plan.devices) {
      const secret = secrets.get(d.id);
      if (!secret) throw new Error(`no secret for ${d.id}`);
      this.devices.set(d.id, { id: d.id, family: d.family, secret, state: d.initial, rng: deviceRng(plan.config.seed, d.id), client: null, silentUntil: 0, offlineUntil: opts.neverConnect?.has(d.id) ? Infinity : 0 });
    }
    this.scriptRng = seededRng(plan.config.seed ^ 0x5eed);
    this.stats = { devices: this.devices.size, connected: 0, published: 0, acked: 0, publishErrors: 0, errorReplies: 0, scanReplies: { allow: 0, refuse: 0 }, stepsDone: 0 };
  }

  /** Connect every device but those never to connect (bounded concurrency); resolves when all are up, rejects on the first refusal. */
  async connectAll(): Promise<void> {
    const list = [...this.devices.values()].filter((d) => d.offlineUntil === 0);
    const conc = this.opts.connectConcurrency ?? 64;
    let next = 0;
    await Promise.all(Array.from({ length: Math.min(conc, list.length) }, async () => {
      while (next < list.length) await this.connect(list[next++]!);
    }));
    this.opts.log(`connected ${this.stats.connected} devices to ${this.opts.mqttUrl}${list.length < this.devices.size ? ` (${this.devices.size - list.length} registered, never connected)` : ''}`);
  }

  private async connect(d: LiveDevice): Promise<void> {
    let client: MqttClient;
    try {
      client = await connectClient(this.opts.mqttUrl, d.id, d.secret);
    } catch (e) {
      throw new Error(`${d.id}: cannot connect to ${this.opts.mqttUrl}: ${(e as Error).message}`);
    }
    if (this.stopped) {
      await client.endAsync().catch(() => undefined);
      return;
    }
    d.client = client;
    this.stats.connected++;
    client.on('close', () => {
      if (d.client === client) { d.client = null; this.stats.connected--; }
    });
    client.on('message', (topic, payload) => {
      let body: unknown;
      try { body = JSON.parse(payload.toString('utf8')); } catch { body = null; }
      if (topic.endsWith('/scan/reply')) {
        const r = cylinderScanReply.safeParse(body);
        if (r.success) this.stats.scanReplies[r.data.decision]++;
      } else if (deviceError.safeParse(body).success) {
        this.stats.errorReplies++;
      }
    });
    await client.subscribeAsync(replyChannels[d.family].map((c) => topicOf(d.family, d.id, c)), { qos: 1 });
  }

  private publish(d: LiveDevice, messages: OutMsg[]): void {
    const client = d.client;
    if (!client) return;
    for (const m of messages) this.publishRaw(d, topicOf(d.family, d.id, m.channel), JSON.stringify(m.payload));
  }

  private publishRaw(d: LiveDevice, topic: string, body: string): void {
    const client = d.client;
    if (!client) return;
    this.stats.published++;
    client.publish(topic, body, { qos: this.opts.qos }, (err) => {
      if (err) this.stats.publishErrors++;
      else if (this.opts.qos === 1) this.stats.acked++;
    });
  }

  /** One tick: every live device takes a behaviour step. */
  tick(now = Date.now()): void {
    for (const d of this.devices.values()) {
      if (d.offlineUntil > now || !d.client) continue;
      if (d.silentUntil > now) continue;
      const r = stepDevice(d.state, d.rng, now);
      d.state = r.state;
      this.publish(d, r.messages);
    }
    // devices whose outage ended come back
    for (const d of this.devices.values()) {
      if (d.offlineUntil && d.offlineUntil <= now && !d.client) {
        d.offlineUntil = 0;
        void this.connect(d).catch((e: Error) => this.opts.log(`reconnect ${d.id}: ${e.message}`));
      }
    }
  }

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => this.tick(), this.opts.tickMs);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await Promise.all([...this.devices.values()].map(async (d) => {
      const c = d.client;
      d.client = null;
      if (c) await c.endAsync().catch(() => undefined);
    }));
    this.stats.connected = 0;
  }

  private dev(ref: string, where: string): LiveDevice {
    return this.devices.get(resolveDevice(this.plan, ref, where))!;
  }

  private pickCylinder(d: LiveDevice, ref: PoolRef, where: string): PoolCylinder {
    const s = d.state as CylinderState;
    if (typeof ref === 'object') return s.pool.find((c) => c.code === ref.code) ?? { code: ref.code, kind: 'ok', maxFillKg: 14.5 };
    if (ref === 'unregistered') return { code: `${this.plan.config.prefix}-LPG-UNREG-${this.scriptRng.int(1, 999_999)}`, kind: 'ok', maxFillKg: 14.5 };
    const candidates = s.pool.filter((c) => c.kind === ref);
    if (!candidates.length) throw new Error(`${where}: station ${s.stationId} has no ${ref} cylinder in its pool (raise fleet.cylinder.shares or cylindersPerStation)`);
    return this.scriptRng.pick(candidates);
  }

  /** Play one scripted step now. */
  async runStep(st: ScenarioStep, index: number, now = Date.now()): Promise<void> {
    const where = `steps[${index}]`;
    const rng = this.scriptRng;
    this.stats.stepsDone++;
    const apply = <S extends DeviceState>(d: LiveDevice, r: { state: S; messages: OutMsg[] }): void => {
      d.state = r.state;
      this.publish(d, r.messages);
    };
    switch (st.do) {
      case 'violation': {
        const d = this.dev(st.device, where);
        for (let i = 0; i < st.count; i++) {
          if (i > 0 && st.everyS > 0) await sleep((st.everyS * 1000) / this.plan.config.timeScale);
          apply(d, kitchenViolation(d.state as KitchenState, d.rng, Date.now(), st.type, st.confidence));
        }
        return;
      }
      case 'trap': {
        const d = this.dev(st.device, where);
        apply(d, trapElevator(d.state as ElevatorState, now, st.by, st.doorZone));
        return;
      }
      case 'release': {
        const d = this.dev(st.device, where);
        apply(d, releaseElevator(d.state as ElevatorState, now));
        return;
      }
      case 'fault': {
        const d = this.dev(st.device, where);
        apply(d, elevatorFault(d.state as ElevatorState, now, st.code, st.detail));
        return;
      }
      case 'scan': {
        const d = this.dev(st.device, where);
        const cyl = this.pickCylinder(d, st.cylinder, where);
        apply(d, scanCylinder(d.state as CylinderState, rng, now, cyl, st.point, st.netKg));
        return;
      }
      case 'lifecycle': {
        const d = this.dev(st.device, where);
        const cyl = this.pickCylinder(d, st.cylinder, where);
        for (const point of lifeCycle) apply(d, scanCylinder(d.state as CylinderState, rng, Date.now(), cyl, point));
        return;
      }
      case 'clonedScan': {
        const a = this.dev(st.devices[0], where);
        const b = this.dev(st.devices[1], where);
        const cyl = this.pickCylinder(a, st.cylinder, where);
        if ((a.state as CylinderState).stationId === (b.state as CylinderState).stationId) throw new Error(`${where}: ${a.id} and ${b.id} are at the same station; a cloned code needs two stations`);
        apply(a, scanCylinder(a.state as CylinderState, rng, now, cyl, st.point));
        apply(b, scanCylinder(b.state as CylinderState, rng, now, cyl, st.point));
        return;
      }
      case 'fillWithoutPreFill': {
        const d = this.dev(st.device, where);
        apply(d, scanCylinder(d.state as CylinderState, rng, now, this.pickCylinder(d, st.cylinder, where), 'fill'));
        return;
      }
      case 'overfill': {
        const d = this.dev(st.device, where);
        const cyl = this.pickCylinder(d, st.cylinder, where);
        apply(d, scanCylinder(d.state as CylinderState, rng, now, cyl, 'pre_fill'));
        apply(d, scanCylinder(d.state as CylinderState, rng, now, cyl, 'fill'));
        apply(d, scanCylinder(d.state as CylinderState, rng, now, cyl, 'post_fill', Math.round((cyl.maxFillKg + st.extraKg) * 100) / 100));
        return;
      }
      case 'txnFault': {
        const d = this.dev(st.device, where);
        // a first transaction only records the totaliser: one honest sale before the fault
        apply(d, dispenserNormalTxn(d.state as DispenserState, d.rng, now, st.nozzle));
        apply(d, dispenserTxnFault(d.state as DispenserState, d.rng, now, st.fault, st.nozzle));
        return;
      }
      case 'tamper': {
        const d = this.dev(st.device, where);
        apply(d, dispenserTamper(d.state as DispenserState, now, st.kind, st.dispenser));
        return;
      }
      case 'tankLeak': {
        const d = this.dev(st.device, where);
        d.state = dispenserTankLeak(d.state as DispenserState, st.litres, st.tank);
        return;
      }
      case 'silence': {
        const d = this.dev(st.device, where);
        d.silentUntil = st.forS ? now + (st.forS * 1000) / this.plan.config.timeScale : Infinity;
        return;
      }
      case 'offline': {
        const d = this.dev(st.device, where);
        await this.takeOffline(d, st.forS ? now + (st.forS * 1000) / this.plan.config.timeScale : Infinity);
        return;
      }
      case 'online': {
        const d = this.dev(st.device, where);
        d.silentUntil = 0;
        d.offlineUntil = 0;
        if (!d.client) await this.connect(d);
        return;
      }
      case 'disconnect': {
        const pool = [...this.devices.values()].filter((d) => (!st.family || d.family === st.family) && d.client);
        const n = Math.round(pool.length * st.share);
        const chosen = [...pool].sort((x, y) => hash(x.id, this.plan.config.seed) - hash(y.id, this.plan.config.seed)).slice(0, n);
        const until = st.forS ? now + (st.forS * 1000) / this.plan.config.timeScale : Infinity;
        await Promise.all(chosen.map((d) => this.takeOffline(d, until)));
        this.opts.log(`disconnected ${chosen.length} of ${pool.length} ${st.family ?? ''} devices`.replace(/ {2}/, ' '));
        return;
      }
      case 'badPayloads': {
        const d = this.dev(st.device, where);
        for (let i = 0; i < st.count; i++) {
          const kind = st.kind === 'mixed' ? (['invalid_json', 'schema', 'unknown_channel'] as const)[i % 3]! : st.kind;
          const msgId = `bad-${Date.now().toString(36)}-${i}`;
          if (kind === 'invalid_json') this.publishRaw(d, topicOf(d.family, d.id, 'heartbeat'), `{"msgId":"${msgId}", "ts": `);
          else if (kind === 'schema') this.publishRaw(d, topicOf(d.family, d.id, 'heartbeat'), JSON.stringify({ msgId, ts: 'yesterday', rssi: 12 }));
          else this.publishRaw(d, topicOf(d.family, d.id, 'selfie'), JSON.stringify({ msgId, ts: Date.now() }));
        }
        return;
      }
    }
  }

  private async takeOffline(d: LiveDevice, until: number): Promise<void> {
    d.offlineUntil = until;
    const c = d.client;
    d.client = null;
    if (c) {
      this.stats.connected--;
      // a device losing power: the TCP connection drops without DISCONNECT
      c.end(true);
    }
  }

  /** Device ids of the fleet (for filtering alerts to this run). */
  ids(): Set<string> {
    return new Set(this.devices.keys());
  }
}

type PoolRef = 'ok' | 'due_soon' | 'expired' | 'overdue' | 'foreign' | 'scrapped' | 'lost' | 'unregistered' | { code: string };

function hash(id: string, seed: number): number {
  let h = seed >>> 0;
  for (let i = 0; i < id.length; i++) h = Math.imul(h ^ id.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Play a scenario: steps at their `at` (divided by the time scale), the fleet ticking
 * between them, until durationS. Resolves when the script is over (the fleet keeps running).
 */
export async function playScenario(runner: FleetRunner, scenario: Scenario, timeScale: number, log: (l: string) => void, signal?: AbortSignal): Promise<void> {
  const start = Date.now();
  const steps = scenario.steps.map((s, i) => ({ s, i })).sort((a, b) => a.s.at - b.s.at);
  const pending: Array<Promise<void>> = [];
  // a failed step is reported after the script (a rejection nobody awaits yet would crash the process)
  const failures: Error[] = [];
  for (const { s, i } of steps) {
    const due = start + (s.at * 1000) / timeScale;
    while (Date.now() < due) {
      if (signal?.aborted) return;
      await sleep(Math.min(200, due - Date.now()));
    }
    log(`t+${((Date.now() - start) / 1000).toFixed(1)}s  ${describeStep(s)}`);
    pending.push(runner.runStep(s, i).catch((e: Error) => { log(`  step failed: ${e.message}`); failures.push(e); }));
  }
  await Promise.all(pending);
  if (failures.length) throw failures[0]!;
  const end = start + (scenario.durationS * 1000) / timeScale;
  while (Date.now() < end && !signal?.aborted) await sleep(Math.min(200, end - Date.now()));
}

export function describeStep(s: ScenarioStep): string {
  const { at: _at, do: kind, ...rest } = s;
  return `${kind} ${Object.entries(rest).map(([k, v]) => `${k}=${typeof v === 'object' ? JSON.stringify(v) : String(v)}`).join(' ')}`;
}

export { type PoolRef };
