/**
 * kill -9 and restart at the default settings, after heavy use (issue 15): the real entry point
 * (`node dist/service/main.js`) with nothing set but its data directory, loopback ports and the
 * admin password (DuckDB's memory limit, the journal, checkpoint intervals: all defaults).
 *
 * Before the kill: a device import; kitchen cameras opening hundreds of alerts (one per camera
 * and violation type, and the repeat-offender alerts of their stores); notes through the API,
 * up to 2,000 characters each, many on one alert (up to its cap: a 409 `note_limit` is taken as
 * the cap, whatever it is) and some on others, while QoS 1 readings stream in; then a last burst
 * of readings and new violations, killed mid-stream, so that the restart must write the journal
 * into DuckDB and the alert engine must replay readings stored after its last checkpoint.
 *
 * After the restart: /healthz 200; every imported device; every alert, once per camera and
 * type, with every note that was answered 200; the devices' resends acknowledged; then, stopped,
 * the store opened directly: every acknowledged reading there exactly once.
 *
 * No durations are asserted: every wait polls for a state within a bound.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { riskClasses, violationDefaults } from '../../core/rules/kitchen/violation.js';
import { examplePayload } from '../../core/schemas/examples.js';
import { DuckDbStore } from '../../store/duckdbStore.js';
import { freePort } from '../store/influx/victoria.js';
import { RetryingDevice } from './retryingDevice.js';
import { entry, importDevices, login, startServiceProcess, type ServiceProcess } from './serviceProcess.js';

const ADMIN = 'restart-defaults-admin-password';
/** the violation types that raise an alert at default settings (class 3 only counts in the store score) */
const TYPES = Object.entries(riskClasses).filter(([, c]) => c <= violationDefaults.maxAlertClass).map(([t]) => t);
const STORES = 8;
/** cameras whose violations come before the notes; the rest come in the burst before the kill */
const EARLY_CAMERAS = 30;
const LATE_CAMERAS = 10;
const CAMERAS = EARLY_CAMERAS + LATE_CAMERAS;
/** devices streaming QoS 1 readings, during the notes and again in the burst */
const STREAMERS = 20;
const STREAM_PER_DEVICE = 1500;
const BURST_PER_DEVICE = 1000;
/** imported, never connected: only their registration must survive */
const IDLE_ELEVATORS = 200;
/**
 * notes tried on the heavy alert (2,000 characters each; a cap below this answers 409
 * note_limit, taken as the cap) and on each light one, by NOTE_WORKERS clients at once
 */
const HEAVY_NOTES = 400;
const LIGHT_ALERTS = 16;
const LIGHT_NOTES = 12;
const NOTE_WORKERS = 4;

const camId = (i: number) => `rd-cam-${String(i).padStart(2, '0')}`;
const storeOf = (i: number) => `rd-store-${i % STORES}`;

interface AlertOut { id: string; rule: string; condition: string; device: { id: string } }
interface TimelineEntry { n?: number; action: string; note?: string }

const dirs: string[] = [];
const procs: ServiceProcess[] = [];
afterAll(() => {
  // a test that timed out leaves its child running: end it (by its own handle) before its directory goes
  for (const p of procs) if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const started = Date.now();
/** progress on the test's output, so that a slow step is seen (not asserted) */
const step = (what: string): void => console.log(`[restartAtDefaults +${((Date.now() - started) / 1000).toFixed(1)} s] ${what}`);

/** A note of `len` characters (Chinese and ASCII), unique by its prefix, no surrounding space (the API trims). */
function noteText(tag: string, len: number): string {
  const head = `[${tag}] 后厨整改记录 follow-up: `;
  const body = '检查冰箱生熟分开，已通知店长整改; checked again on site. ';
  let s = head;
  while (s.length < len) s += body;
  return `${s.slice(0, len - 1)}.`;
}

const violation = (cam: number, type: string, at: number) => Buffer.from(JSON.stringify({
  ...examplePayload('kitchen', 'violation', `v-${type}`, at), storeId: storeOf(cam), type, confidence: 0.92,
}));

describe.skipIf(!existsSync(entry))(`kill -9 and restart at default settings after heavy use${existsSync(entry) ? '' : ' (skipped: run `npm run build` first; `npm test` does)'}`, () => {
  it('starts, and keeps every acknowledged reading, every alert with its notes, and the imported devices', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'supervision-restart-defaults-'));
    dirs.push(dir);
    const [mqttPort, httpPort] = [await freePort(), await freePort()];
    const env = { DATA_DIR: dir, MQTT_PORT: String(mqttPort), HTTP_PORT: String(httpPort), MQTT_HOST: '127.0.0.1', HTTP_HOST: '127.0.0.1', ADMIN_PASSWORD: ADMIN };
    const base = `http://127.0.0.1:${httpPort}`;
    let proc: ServiceProcess = await startServiceProcess({ env, httpPort });
    procs.push(proc);
    step('service started');
    const devices: RetryingDevice[] = [];
    try {
      let token = await login(base, 'admin', ADMIN);
      const api = async <T>(method: 'GET' | 'POST', url: string, body?: unknown, parse = true): Promise<{ status: number; body: T }> => {
        const res = await fetch(`${base}${url}`, {
          method, headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
          ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        });
        const text = await res.text();
        return { status: res.status, body: (text && (parse || !res.ok) ? JSON.parse(text) : null) as T };
      };
      const allAlerts = async (): Promise<AlertOut[]> => {
        const out: AlertOut[] = [];
        let cursor: string | null = null;
        for (let page = 0; page < 50; page++) {
          const r: { status: number; body: { items: AlertOut[]; nextCursor?: string | null } } = await api('GET', `/api/alerts?limit=5000${cursor ? `&cursor=${cursor}` : ''}`);
          expect(r.status, JSON.stringify(r.body)).toBe(200);
          out.push(...r.body.items);
          cursor = r.body.nextCursor ?? null;
          if (!cursor) break;
        }
        return out;
      };
      /** every note of an alert's timeline, oldest first (the detail has the newest part; older pages by `before`) */
      const notesOf = async (id: string): Promise<string[]> => {
        const d = await api<{ timeline: TimelineEntry[]; timelineTotal?: number }>('GET', `/api/alerts/${id}`);
        expect(d.status, JSON.stringify(d.body)).toBe(200);
        let entries = d.body.timeline;
        const total = d.body.timelineTotal ?? entries.length;
        for (let page = 0; page < 100 && entries.length < total; page++) {
          const before = entries[0]?.n;
          if (before === undefined) break;
          const older = await api<{ items: TimelineEntry[] }>('GET', `/api/alerts/${id}/timeline?before=${before}&limit=1000`);
          expect(older.status, JSON.stringify(older.body)).toBe(200);
          if (!older.body.items.length) break;
          entries = [...older.body.items, ...entries];
        }
        expect(entries.length, `alert ${id}: timeline entries`).toBe(total);
        return entries.filter((e) => e.action === 'noted' || e.action === 'note').map((e) => e.note ?? '');
      };

      // ---- a device import: cameras, streaming devices, idle elevators ----------------------
      const rows = [
        ...Array.from({ length: CAMERAS }, (_, i) => ({ id: camId(i), family: 'kitchen', name: `后厨摄像头 ${i}`, district: '330106', meta: { storeId: storeOf(i) } })),
        ...Array.from({ length: STREAMERS }, (_, i) => ({ id: `rd-disp-${i}`, family: 'dispenser' })),
        ...Array.from({ length: IDLE_ELEVATORS }, (_, i) => ({ id: `rd-elev-${i}`, family: 'elevator', district: '330106' })),
      ];
      const created = await importDevices(base, token, rows);
      expect(created.map((c) => c.id).sort()).toEqual(rows.map((r) => r.id).sort());
      const secret = new Map(created.map((c) => [c.id, c.secret]));
      step(`imported ${created.length} devices`);

      // ---- alerts: every early camera reports every violation type -------------------------
      const t0 = Date.now();
      const camera = (i: number) => new RetryingDevice({
        port: mqttPort, id: camId(i), secret: secret.get(camId(i))!, topic: `kitchen/${camId(i)}/violation`, window: TYPES.length, retryMs: 100,
        payloads: TYPES.map((type, k) => violation(i, type, t0 + k)),
      });
      const early = Array.from({ length: EARLY_CAMERAS }, (_, i) => camera(i));
      devices.push(...early);
      for (const d of early) d.start();
      await bounded(Promise.all(early.map((d) => d.done)), 30_000, 'early cameras acknowledged');
      step('early violations acknowledged');
      let alerts = await pollFor(allAlerts, (a) => a.filter((x) => x.rule === 'kitchen.violation').length >= EARLY_CAMERAS * TYPES.length, 'early alerts opened');
      const violationAlerts = alerts.filter((a) => a.rule === 'kitchen.violation');
      expect(violationAlerts).toHaveLength(EARLY_CAMERAS * TYPES.length);
      step(`${alerts.length} alerts open`);

      // ---- notes through the API while readings stream in ---------------------------------
      const streamer = (i: number, from: number, n: number) => new RetryingDevice({
        port: mqttPort, id: `rd-disp-${i}`, secret: secret.get(`rd-disp-${i}`)!, topic: `dispenser/rd-disp-${i}/heartbeat`, window: 50, retryMs: 50,
        payloads: Array.from({ length: n }, (_, k) => Buffer.from(JSON.stringify(examplePayload('dispenser', 'heartbeat', `m-${from + k}`, t0 + from + k)))),
      });
      const stream = Array.from({ length: STREAMERS }, (_, i) => streamer(i, 0, STREAM_PER_DEVICE));
      devices.push(...stream);
      for (const d of stream) d.start();

      const [heavy, ...light] = violationAlerts.slice(0, 1 + LIGHT_ALERTS);
      /** notes answered 200, per alert id, in order */
      const noted = new Map<string, string[]>();
      let capReached: number | null = null;
      const addNotes = async (a: AlertOut, tries: number, len: (k: number) => number): Promise<void> => {
        const ok: string[] = [];
        noted.set(a.id, ok);
        for (let k = 0; k < tries; k++) {
          const note = noteText(`${a.id.slice(0, 8)}-${k}`, len(k));
          // a note's answer is the alert with its newest timeline entries: read, not parsed, when 200
          const r = await api<{ error?: { code: string } } | null>('POST', `/api/alerts/${a.id}/note`, { note }, false);
          if (r.status === 409 && r.body?.error?.code === 'note_limit') {
            // the cap: the next one is refused as well, and nothing more is tried here
            capReached = ok.length;
            const again = await api<{ error?: { code: string } }>('POST', `/api/alerts/${a.id}/note`, { note: noteText(`${a.id.slice(0, 8)}-over`, 100) });
            expect(again.status).toBe(409);
            expect(again.body.error?.code).toBe('note_limit');
            return;
          }
          expect(r.status, `note ${k} on ${a.id}: ${JSON.stringify(r.body)}`).toBe(200);
          ok.push(note);
          if (ok.length % 250 === 0) step(`${ok.length} notes on alert ${a.id}`);
        }
      };
      await Promise.all([
        addNotes(heavy!, HEAVY_NOTES, () => 2000),
        ...Array.from({ length: NOTE_WORKERS - 1 }, async (_, w) => {
          for (const a of light.filter((_, j) => j % (NOTE_WORKERS - 1) === w)) await addNotes(a, LIGHT_NOTES, (k) => 200 + ((k * 373 + w * 97) % 1801));
        }),
      ]);
      await bounded(Promise.all(stream.map((d) => d.done)), 60_000, 'streamed readings acknowledged');
      step(`notes: ${[...noted.values()].reduce((n, l) => n + l.length, 0)} answered 200 on ${noted.size} alerts; heavy alert ${noted.get(heavy!.id)!.length}${capReached === null ? ' (no cap met)' : ' (then 409 note_limit)'}`);

      // what the API showed before the burst: every alert, by what it is about
      alerts = await allAlerts();
      const keyOf = (a: AlertOut) => `${a.rule}|${a.device.id}|${a.condition}`;
      const before = new Set(alerts.map(keyOf));
      expect(alerts.filter((a) => a.rule === 'kitchen.repeat_offender').length).toBeGreaterThan(0);

      // ---- the burst, killed mid-stream -------------------------------------------------
      const late = Array.from({ length: LATE_CAMERAS }, (_, i) => camera(EARLY_CAMERAS + i));
      const burst = Array.from({ length: STREAMERS }, (_, i) => streamer(i, STREAM_PER_DEVICE, BURST_PER_DEVICE));
      devices.push(...late, ...burst);
      for (const d of [...late, ...burst]) d.start();
      const burstAcked = () => burst.reduce((n, d) => n + d.acked.size, 0);
      await bounded(Promise.all(late.map((d) => d.done)), 30_000, 'late cameras acknowledged');
      await pollFor(async () => burstAcked(), (n) => n >= (STREAMERS * BURST_PER_DEVICE) / 3, 'a third of the burst acknowledged', 2000, 5);
      proc.child.kill('SIGKILL');
      await proc.exited;
      step(`killed with ${burstAcked()} of the burst's ${STREAMERS * BURST_PER_DEVICE} readings acknowledged`);
      const ackedAtKill = devices.map((d) => new Set(d.acked));
      expect(burstAcked()).toBeLessThan(STREAMERS * BURST_PER_DEVICE);

      // ---- restart with the same defaults ------------------------------------------------
      proc = await startServiceProcess({ env, httpPort, keepLine: (l) => /replay/i.test(l) });
      procs.push(proc);
      step('restarted: /healthz 200');
      const health = await fetch(`${base}/healthz`);
      const healthBody = await health.json() as { ok: boolean; components: Record<string, { ok: boolean }> };
      expect(health.status, JSON.stringify(healthBody)).toBe(200);
      for (const [name, c] of Object.entries(healthBody.components)) expect(c.ok, `${name}: ${JSON.stringify(c)}`).toBe(true);
      // the alert engine replayed readings stored after its last checkpoint
      const replayed = proc.lines.map((l) => JSON.parse(l) as { msg?: string; count?: number }).filter((l) => /alert engine replayed/.test(l.msg ?? ''));
      step(`restart: ${proc.lines.length} replay log lines; the alert engine replayed ${replayed.reduce((n, l) => n + (l.count ?? 0), 0)} readings`);
      expect(replayed.reduce((n, l) => n + (l.count ?? 0), 0), proc.lines.join('\n')).toBeGreaterThan(0);

      token = await login(base, 'admin', ADMIN);
      // the devices reconnect and resend what was not acknowledged
      await bounded(Promise.all(devices.map((d) => d.done)), 60_000, 'every device acknowledged after the restart');
      for (const d of devices) d.stop();
      step('every device acknowledged after the restart');

      // imported devices
      const listed = await api<{ total: number; items: Array<{ id: string }> }>('GET', '/api/devices?limit=10000');
      expect(listed.status).toBe(200);
      const ids = new Set(listed.body.items.map((d) => d.id));
      expect(rows.filter((r) => !ids.has(r.id)).map((r) => r.id), 'imported devices missing after the restart').toEqual([]);

      // every alert: all that were shown before, and one per camera and violation type (the
      // burst's from the replay or the resends), none twice
      const after = await pollFor(allAlerts, (a) => a.filter((x) => x.rule === 'kitchen.violation').length >= CAMERAS * TYPES.length, 'every camera\'s alerts');
      const afterKeys = after.map(keyOf);
      expect([...before].filter((k) => !afterKeys.includes(k)), 'alerts shown before the kill, missing after').toEqual([]);
      const violationKeys = after.filter((a) => a.rule === 'kitchen.violation').map(keyOf);
      expect(new Set(violationKeys).size, 'one kitchen.violation alert per camera and type').toBe(violationKeys.length);
      for (let i = 0; i < CAMERAS; i++) for (const type of TYPES) expect(violationKeys).toContain(`kitchen.violation|${camId(i)}|${type}`);
      // notes: the same alerts (by id), every note answered 200, in order
      const afterIds = new Set(after.map((a) => a.id));
      for (const [id, notes] of noted) {
        expect(afterIds.has(id), `noted alert ${id} after the restart`).toBe(true);
        expect(await notesOf(id), `notes of ${id}`).toEqual(notes);
      }

      step('alerts, notes and devices checked');
      proc.child.kill('SIGTERM');
      expect(await proc.exited).toBe(0);

      // ---- the store itself: every acknowledged reading, once -----------------------------
      const store = new DuckDbStore(path.join(dir, 'supervision.duckdb'));
      await store.open();
      try {
        const stored = new Map<string, string[]>();
        for (let i = 0; i < STREAMERS; i++) {
          const rowsOf = await store.readings.query({ deviceId: `rd-disp-${i}`, family: 'dispenser', channel: 'heartbeat', limit: 10_000 });
          stored.set(`rd-disp-${i}`, rowsOf.map((r) => r.msgId));
        }
        for (let i = 0; i < CAMERAS; i++) {
          const rowsOf = await store.readings.query({ deviceId: camId(i), family: 'kitchen', channel: 'violation', limit: 1000 });
          stored.set(camId(i), rowsOf.map((r) => r.msgId));
        }
        for (const [k, d] of devices.entries()) {
          const msgIds = stored.get(d.o.id)!;
          expect(new Set(msgIds).size, `${d.o.id}: a reading stored twice`).toBe(msgIds.length);
          const have = new Set(msgIds);
          const msgIdOf = (idx: number) => (JSON.parse(d.o.payloads[idx]!.toString()) as { msgId: string }).msgId;
          const lost = [...ackedAtKill[k]!].map(msgIdOf).filter((m) => !have.has(m));
          expect(lost, `${d.o.id}: acknowledged before the kill, not stored`).toEqual([]);
          const missing = d.o.payloads.map((_, idx) => msgIdOf(idx)).filter((m) => !have.has(m));
          expect(missing, `${d.o.id}: acknowledged after the restart, not stored`).toEqual([]);
        }
        for (let i = 0; i < STREAMERS; i++) expect(stored.get(`rd-disp-${i}`)).toHaveLength(STREAM_PER_DEVICE + BURST_PER_DEVICE);
        for (let i = 0; i < CAMERAS; i++) expect(stored.get(camId(i))).toHaveLength(TYPES.length);
        step('every reading checked in the store');
      } finally {
        await store.close();
      }
    } finally {
      for (const d of devices) d.stop();
      if (proc.child.exitCode === null) proc.child.kill('SIGKILL');
    }
  }, 150_000);
});

/** `p`, or an error naming `what` once `ms` passed (a bound on a wait, not a timing assertion). */
async function bounded<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([p, new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`not within ${ms} ms: ${what}`)), ms); })]);
  } finally {
    clearTimeout(timer);
  }
}

/** Poll `probe` until `done` holds, at most `tries` times `everyMs` apart; throws naming `what` otherwise. */
async function pollFor<T>(probe: () => Promise<T>, done: (v: T) => boolean, what: string, tries = 300, everyMs = 100): Promise<T> {
  let v = await probe();
  for (let i = 0; i < tries && !done(v); i++) {
    await new Promise((r) => setTimeout(r, everyMs));
    v = await probe();
  }
  if (!done(v)) throw new Error(`gave up waiting: ${what}`);
  return v;
}
