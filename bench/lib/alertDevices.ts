/**
 * The devices bench:api (P7) raises its alerts with, the way the field does: elevator
 * terminals and kitchen cameras registered by bulk import (with district and store), connected
 * over the load generator's raw client (simulators/load/client.ts) and heartbeating every 30 s
 * so none goes offline, publishing fault codes and detections, each a distinct condition and
 * so a distinct alert, at a paced rate.
 */
import { violationTypes } from '../../core/schemas/kitchen.js';
import { riskClasses, violationDefaults } from '../../core/rules/kitchen/violation.js';

/** The detection types that raise an alert at the default settings (class 3 is scored, not alerted). */
export const alertingTypes = violationTypes.filter((t) => riskClasses[t] <= violationDefaults.maxAlertClass);
import { seededRng } from '../../simulators/fleet/rng.js';
import { RawClient } from '../../simulators/load/client.js';
import { connectAll } from '../../simulators/load/connect.js';
import { encodePublish } from '../../simulators/load/rawMqtt.js';
import { importDevices, waitFor } from './harness.js';

/** Each a distinct elevator.fault alert (docs/rules/elevator.md): 11 is elevator.trapped's, 40 resolves. */
const ELEVATOR_CODES = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 12, 13, 14, 15, 41, 42, 43, 44, 45, 46, 47];
const DISTRICTS = ['330102', '330105', '330106', '330108', '330109', '330110', '330111', '330112'];
const CAMERAS_PER_STORE = 4;
const HEARTBEAT_MS = 30_000;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface ProbeDevice { id: string; family: 'elevator' | 'kitchen'; store?: string; client: RawClient }

/** Register the devices that raise the alerts (bulk import, with district and store). */
export async function registerProbes(httpPort: number, token: string, elevators: number, cameras: number): Promise<ProbeDevice[]> {
  const storeOf = (i: number) => `bench-api-S${Math.floor(i / CAMERAS_PER_STORE)}`;
  const rows: Array<{ id: string; family: string; district?: string; meta?: { storeId: string } }> = [
    ...Array.from({ length: elevators }, (_, i) => ({ id: `bench-api-elev-${i}`, family: 'elevator', district: DISTRICTS[i % DISTRICTS.length] })),
    ...Array.from({ length: cameras }, (_, i) => ({ id: `bench-api-cam-${i}`, family: 'kitchen', district: DISTRICTS[Math.floor(i / CAMERAS_PER_STORE) % DISTRICTS.length], meta: { storeId: storeOf(i) } })),
  ];
  const stores = new Map(rows.map((r) => [r.id, r.meta?.storeId]));
  const out: ProbeDevice[] = [];
  for (let i = 0; i < rows.length; i += 5000) {
    for (const c of (await importDevices(httpPort, token, rows.slice(i, i + 5000))).created) {
      const store = stores.get(c.id);
      out.push({ id: c.id, family: c.id.startsWith('bench-api-cam-') ? 'kitchen' : 'elevator', client: new RawClient(c), ...(store ? { store } : {}) });
    }
  }
  if (out.length !== rows.length) throw new Error(`registered ${out.length} of ${rows.length} devices`);
  return out;
}

export async function connectProbes(mqttPort: number, devices: ProbeDevice[], concurrency = 64): Promise<void> {
  await connectAll(devices.map((d) => d.client), {
    port: mqttPort, keepaliveS: 60, concurrency,
    onConnected: (_c, socket) => socket.on('error', () => undefined),
    onFailed: (_c, e) => { throw e; },
  });
}

/** Heartbeats (QoS 0) every 30 s, first ones spread: the devices stay online, as a city's do. */
export function heartbeats(devices: ProbeDevice[]): () => void {
  let n = 0;
  const beat = (d: ProbeDevice): void => {
    const payload = Buffer.from(JSON.stringify({ msgId: `hb-${d.id}-${++n}`, ts: Date.now(), fw: '1.4.2', rssi: -61, uptimeS: 86_400 }));
    if (d.client.socket && !d.client.socket.destroyed) d.client.write(encodePublish(`${d.family}/${d.id}/heartbeat`, payload, 0, 0));
  };
  const timers = devices.map((d, i) => setTimeout(() => {
    beat(d);
    timers[i] = setInterval(() => beat(d), HEARTBEAT_MS);
  }, Math.floor((i / devices.length) * HEARTBEAT_MS)));
  return () => { for (const t of timers) clearTimeout(t); };
}

/**
 * The readings that raise `elevatorAlerts` + `kitchenAlerts` distinct alerts, `perDevice` per
 * device (consecutive codes or detection types, wrapping, so every one is used about as often),
 * ordered round by round: every device's first, then every device's second, ...
 */
export function alertReadings(devices: ProbeDevice[], perDevice: number, elevatorAlerts: number, kitchenAlerts: number): Array<{ d: ProbeDevice; topic: string; payload: Buffer }> {
  const pick = seededRng(7).next;
  const out: Array<{ d: ProbeDevice; topic: string; payload: Buffer; round: number }> = [];
  let e = 0;
  let k = 0;
  let ei = 0;
  let ki = 0;
  for (const d of devices) {
    for (let j = 0; j < perDevice; j++) {
      const msgId = `bench-api-${d.id}-${j}`;
      if (d.family === 'elevator') {
        if (e >= elevatorAlerts) break;
        const code = ELEVATOR_CODES[(ei * perDevice + j) % ELEVATOR_CODES.length]!;
        out.push({ d, round: j, topic: `elevator/${d.id}/fault`, payload: Buffer.from(JSON.stringify({ msgId, ts: Date.now(), code, floor: 1 + Math.floor(pick() * 30), detail: `bench fault ${code}` })) });
        e++;
      } else {
        if (k >= kitchenAlerts) break;
        const type = alertingTypes[(ki * perDevice + j) % alertingTypes.length]!;
        const x = pick() * 0.5;
        const y = pick() * 0.5;
        out.push({
          d, round: j, topic: `kitchen/${d.id}/violation`,
          payload: Buffer.from(JSON.stringify({ msgId, ts: Date.now(), storeId: d.store, type, confidence: Math.round((0.5 + pick() * 0.49) * 100) / 100, area: 'hot kitchen', snapshotUrl: `https://cam.example/snap/${d.id}/${j}.jpg`, bbox: [x, y, x + 0.3, y + 0.4] })),
        });
        k++;
      }
    }
    if (d.family === 'elevator') ei++; else ki++;
  }
  return out.sort((a, b) => a.round - b.round);
}

/** Publish at `rate`/s (QoS 1), then wait until every one is acknowledged. */
export async function publishPaced(readings: Array<{ d: ProbeDevice; topic: string; payload: Buffer }>, rate: number, timeoutMs: number): Promise<void> {
  const t0 = performance.now();
  for (let i = 0; i < readings.length; i++) {
    const wait = t0 + (i * 1000) / rate - performance.now();
    if (wait > 1) await sleep(wait);
    const r = readings[i]!;
    const pid = r.d.client.takePid();
    r.d.client.write(encodePublish(r.topic, r.payload, 1, pid), pid);
  }
  const devices = [...new Set(readings.map((r) => r.d))];
  await waitFor(async () => devices.every((d) => d.client.inflight.size === 0), timeoutMs, 'PUBACKs of the alert readings');
}
