/**
 * GET /ws, the live push: token in the query or the first message; every alert and rescue
 * case change reaches every client in the same second, including changes another user makes
 * through the API; a reconnecting client catches up from its last seq (or is told to
 * resync); a frozen client is dropped without slowing the others.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SessionEvents } from '../../accounts/sessions.js';
import type { EngineEvents } from '../../alerts/engine.js';
import type { ImportJobEvents } from '../../devices/importJobs.js';
import { defaultRescuePolicy } from '../../core/alerts/rescueCase.js';
import type { ConnectionTracker } from '../../devices/connectionState.js';
import type { DeviceRegistry } from '../../devices/deviceRegistry.js';
import { attachUpgrades } from '../../dashboard/upgrade.js';
import { LiveHub } from '../../dashboard/ws/hub.js';
import type { Store } from '../../store/types.js';
import { startService, type TestService } from '../helpers/service.js';
import { testBus } from '../helpers/bus.js';
import { flagStore } from '../../core/stores/storeList.js';
import { Client, type Msg } from '../helpers/liveClient.js';

describe('/ws on the real service', () => {
  let ts: TestService;
  let wsUrl: string;
  let disp: string;
  let op: string;
  beforeAll(async () => {
    ts = await startService({ ALERT_TICK_MS: 100, ALERT_CHECKPOINT_MS: 200 });
    wsUrl = ts.httpUrl.replace('http', 'ws') + '/ws';
    for (const [u, role] of [['disp1', 'dispatcher'], ['op1', 'operator']]) {
      await ts.service.http.inject({ method: 'POST', url: '/api/users', headers: { authorization: `Bearer ${ts.adminToken}` }, payload: { username: u, password: `${u}-password`, role } });
    }
    disp = await ts.token('disp1', 'disp1-password');
    op = await ts.token('op1', 'op1-password');
  });
  afterAll(async () => ts?.dispose());

  it('refuses a bad token and a first message that is not auth', async () => {
    const bad = await Client.open(`${wsUrl}?token=nope`);
    expect(await bad.next((m) => m.type === 'error')).toMatchObject({ code: 'unauthorized' });
    expect((await bad.closed).code).toBe(4401);
    const noAuth = await Client.open(wsUrl);
    noAuth.ws.send(JSON.stringify({ type: 'hello' }));
    expect((await noAuth.closed).code).toBe(4401);
  });

  // how fast is measured by `npm run bench:alerts` (P2, docs/benchmarks.md), not asserted here
  it('pushes alerts and rescue cases to every client, including another user\'s acknowledge; catches up after a reconnect', async () => {
    const a = await Client.open(`${wsUrl}?token=${op}`);
    const b = await Client.open(wsUrl);
    b.ws.send(JSON.stringify({ type: 'auth', token: disp }));
    const hello = await a.next((m) => m.type === 'hello');
    expect(hello).toMatchObject({ user: { username: 'op1', role: 'operator' }, seq: 0 });
    expect(await b.next((m) => m.type === 'hello')).toMatchObject({ user: { role: 'dispatcher' } });
    const stats = await a.next((m) => m.type === 'stats');
    expect(stats.stats).toMatchObject({ open: 0, today: { kitchen: 0, elevator: 0 }, devices: 0 });

    const dev = await ts.registerDevice({ id: 'live-elev', family: 'elevator', district: '330106', location: { lat: 30.27, lng: 120.15 } });
    const mq = await ts.connectDevice(dev.id, dev.secret);
    const sent = Date.now();
    await mq.publishAsync(`elevator/${dev.id}/fault`, JSON.stringify({ msgId: 'f1', ts: sent, code: 11, floor: 3 }), { qos: 1 });
    const isTrapped = (m: Msg) => m.type === 'alert' && (m.alert as { rule: string }).rule === 'elevator.trapped';
    const [ea, eb] = await Promise.all([a.next(isTrapped), b.next(isTrapped)]);
    expect(ea).toEqual(eb);
    expect(ea).toMatchObject({ change: 'opened', alert: { status: 'open', severity: 'critical', device: { id: 'live-elev' } } });
    const rc = await b.next((m) => m.type === 'rescueCase');
    expect(rc).toMatchObject({ change: 'opened', rescueCase: { status: 'alarmed', elevatorId: 'live-elev', deadlines: { dispatchBy: expect.any(Number) } } });
    const alertId = (ea.alert as { id: string }).id;

    // the dispatcher acknowledges through the API: the operator's socket sees it
    const r = await ts.service.http.inject({ method: 'POST', url: `/api/alerts/${alertId}/ack`, headers: { authorization: `Bearer ${disp}` }, payload: {} });
    expect(r.statusCode).toBe(200);
    const upd = await a.next((m) => m.type === 'alert' && (m.alert as { status: string }).status === 'acknowledged');
    // a delta: the record, and only the entries this change appended (not the whole timeline)
    expect(upd).toMatchObject({ change: 'updated', alert: { id: alertId, status: 'acknowledged' }, entries: [expect.objectContaining({ action: 'acknowledged', by: 'disp1' })] });
    expect(upd.alert).not.toHaveProperty('timeline');
    const seqs = a.got.filter((m) => typeof m.seq === 'number' && m.type !== 'hello').map((m) => m.seq!);
    expect(seqs).toEqual(seqs.map((_, i) => seqs[0]! + i));

    // the operator's browser goes away; meanwhile the dispatcher records the dispatch
    const lastSeen = seqs.at(-1)!;
    a.close();
    await a.closed;
    const caseId = (rc.rescueCase as { id: string }).id;
    await ts.service.http.inject({ method: 'POST', url: `/api/rescue-cases/${caseId}/steps`, headers: { authorization: `Bearer ${disp}` }, payload: { step: 'dispatched' } });
    await b.next((m) => m.type === 'rescueCase' && (m.rescueCase as { status: string }).status === 'dispatched');
    const missed = b.got.filter((m) => (m.seq ?? 0) > lastSeen && m.type !== 'hello').map((m) => m.seq);
    expect(missed.length).toBeGreaterThan(0);

    const back = await Client.open(`${wsUrl}?token=${op}&since=${lastSeen}&epoch=${hello.epoch as string}`);
    await back.next((m) => m.type === 'stats');
    expect(back.got.filter((m) => m.type !== 'hello' && m.type !== 'stats').map((m) => m.seq)).toEqual(missed);
    back.close();

    // another service run (epoch) or a seq from the future: reload through the API
    const other = await Client.open(`${wsUrl}?token=${op}&since=${lastSeen}&epoch=someotherrun`);
    expect(await other.next((m) => m.type === 'resync')).toMatchObject({ reason: 'other_epoch' });
    other.close();
    const ahead = await Client.open(`${wsUrl}?token=${op}&since=999999`);
    expect(await ahead.next((m) => m.type === 'resync')).toMatchObject({ reason: 'ahead' });
    ahead.close();

    // live statistics count today's alert and the trapped elevator
    const s = await b.next((m) => m.type === 'stats' && (m.stats as { today: { elevator: number } }).today.elevator === 1, 5000);
    expect(s.stats).toMatchObject({ trappedNow: 1, devices: 1, connectedDevices: 1, openByFamily: { elevator: 1 } });
    b.close();
    await mq.endAsync();
  });
});

describe('LiveHub limits', () => {
  const bus = testBus<EngineEvents & ImportJobEvents & SessionEvents>();
  const engine = { activeAlerts: () => [], activeRescueCases: () => [] };
  const token = 'sst_' + 'a'.repeat(43);
  const verify = (t: string) => (t === token ? { sub: 'op', role: 'operator' as const, district: null, sid: 'sid-op', exp: Math.floor(Date.now() / 1000) + 3600 } : null);
  const sessions = { verify, verifyAnywhere: async (t: string) => verify(t), valid: () => true };
  let server: Server;
  let detach: () => void;
  let hub: LiveHub;
  let url: string;
  const emit = (i: number, pad: string) => {
    const entry = flagStore(undefined, `s${i}-${pad}`, i, i);
    bus.emit('storeFlag', { type: 'storeFlag', storeId: entry.storeId, flagged: true, count: i, at: i, stage: 'flagged', entry });
  };

  beforeAll(async () => {
    hub = new LiveHub({
      engine, events: bus, sessions, tracker: { connectedDevices: 0 } as ConnectionTracker, registry: { size: 0 } as DeviceRegistry,
      store: { alerts: { query: async () => [] } } as unknown as Store, rescuePolicy: defaultRescuePolicy, log: pino({ level: 'silent' }),
    }, { ringCapacity: 50, maxBufferedBytes: 256 * 1024, statsEveryMs: 60_000 });
    await hub.start();
    server = createServer();
    detach = attachUpgrades(server, { '/ws': { handler: (ws, req) => hub.handle(ws, req), maxPayload: 65536 } });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `ws://127.0.0.1:${(server.address() as AddressInfo).port}/ws?token=${token}`;
  });
  afterAll(async () => {
    hub.stop();
    // the hub's subscriptions went with it
    expect(bus.listenerCount()).toBe(0);
    detach();
    await new Promise((r) => server.close(r));
  });

  it('drops a frozen client and keeps serving the others in full', async () => {
    const frozen = await Client.open(url);
    const healthy = await Client.open(url);
    await Promise.all([frozen.next((m) => m.type === 'stats'), healthy.next((m) => m.type === 'stats')]);
    // the frozen browser stops reading: its bytes pile up in the kernel, then in ws
    (frozen.ws as unknown as { _socket: { pause(): void } })._socket.pause();
    const pad = 'x'.repeat(10_000);
    const total = 2000;
    for (let i = 0; i < total; i += 10) {
      for (let j = i; j < i + 10; j++) emit(j, pad);
      await new Promise((r) => setTimeout(r, 2));
    }
    await healthy.next((m) => m.type === 'storeFlag' && (m as unknown as { count: number }).count === total - 1, 10_000);
    expect(healthy.got.filter((m) => m.type === 'storeFlag')).toHaveLength(total);
    expect(hub.dropped).toBe(1);
    expect(hub.connectedClients).toBe(1);
    healthy.close();
    frozen.ws.terminate();
  });

  it('tells a client that missed more than the ring keeps to resync', async () => {
    const last = hub.lastSeq;
    for (let i = 0; i < 60; i++) emit(i, '');
    const c = await Client.open(`${url}&since=${last}`);
    expect(await c.next((m) => m.type === 'resync')).toMatchObject({ type: 'resync', reason: 'too_old', seq: last + 60 });
    c.close();
    const d = await Client.open(`${url}&since=${last + 55}`);
    await d.next((m) => m.type === 'stats');
    expect(d.got.filter((m) => m.type === 'storeFlag').map((m) => m.seq)).toEqual([last + 56, last + 57, last + 58, last + 59, last + 60]);
    d.close();
  });

  it('closes sockets that do not authenticate in time', async () => {
    const slowHub = new LiveHub({
      engine, events: bus, sessions, tracker: { connectedDevices: 0 } as ConnectionTracker, registry: { size: 0 } as DeviceRegistry,
      store: { alerts: { query: async () => [] } } as unknown as Store, rescuePolicy: defaultRescuePolicy, log: pino({ level: 'silent' }),
    }, { authTimeoutMs: 100 });
    const s = createServer();
    const off = attachUpgrades(s, { '/ws': { handler: (ws, req) => slowHub.handle(ws, req), maxPayload: 65536 } });
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
    const c = await Client.open(`ws://127.0.0.1:${(s.address() as AddressInfo).port}/ws`);
    expect((await c.closed).code).toBe(4408);
    off();
    await new Promise((r) => s.close(r));
  });
});
