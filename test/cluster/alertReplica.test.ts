/**
 * The replica of every node's active alerts and cases (cluster/alertReplica.ts) on a real
 * redis-server on loopback: two nodes, a and b, each with its local engine bus, its `out` bus
 * and an in-memory "shared store" to load from. A change on a's engine reaches b's replica and
 * b's `out` (never a's own `out`); closing takes it off both; an older record never replaces a
 * newer one, nor brings back a closed one; a Redis restart is followed by a full load that
 * picks up what changed meanwhile; a record heard just before a load survives the store's lag;
 * a malformed message is dropped and logged; one bus for local and out does not echo.
 */
import { Redis } from 'ioredis';
import { pino, type Logger } from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { EngineEvents } from '../../alerts/engineTypes.js';
import type { Alert } from '../../core/alerts/alert.js';
import { openRescueCase, type RescueCase } from '../../core/alerts/rescueCase.js';
import { EventBus } from '../../core/eventBus.js';
import { ALERTS_CHANNEL, AlertReplica, type AlertReplicaOptions } from '../../cluster/alertReplica.js';
import { programs } from '../helpers/external.js';
import { RedisServer } from '../helpers/redisServer.js';

const redisBin = programs(['redis-server'], 'redis-server');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const T0 = Date.UTC(2026, 11, 8, 1, 0, 0);

async function within(ms: number, probe: () => boolean, what: string): Promise<void> {
  const start = Date.now();
  while (!probe()) {
    if (Date.now() - start > ms) throw new Error(`not within ${ms} ms: ${what}`);
    await sleep(10);
  }
}

function alert(id: string, updatedAt: number, status: Alert['status'] = 'open'): Alert {
  return {
    id, family: 'elevator', rule: 'elevator.fault', condition: 'E01', severity: 'major', status, summary: `fault ${id}`, params: {},
    device: { id: 'lift-1', name: null, district: '330106', location: null, meta: {} }, evidence: [], assignee: null, count: 1,
    firstSeen: T0, lastSeen: updatedAt, windowMs: 0, events: 1, notes: 0, closedBy: null, updatedAt,
    deadlines: { ackBy: null, resolveBy: null, ackWarnAt: null, resolveWarnAt: null, acknowledgedAt: null, resolvedAt: null, ackWarned: false, ackBreached: false, resolveWarned: false, resolveBreached: false, reminders: 0, nextReminderAt: null, escalation: 0 },
  };
}

function rescueCase(id: string, updatedAt: number, status: RescueCase['status'] = 'alarmed'): RescueCase {
  const c = openRescueCase(id, 'lift-1', `alert-of-${id}`, T0, { maintenanceUnit: 'MU-1', arrivalWithinMs: 30 * 60_000, district: '330106', source: 'device', by: 'system' });
  return { ...c, status, updatedAt };
}

const alertEvent = (change: 'opened' | 'updated' | 'closed', a: Alert): EngineEvents['alert'] => ({ type: 'alert', change, alert: a, entries: [] });
const caseEvent = (change: 'opened' | 'updated' | 'closed', c: RescueCase): EngineEvents['rescueCase'] => ({ type: 'rescueCase', change, rescueCase: c, events: [] });

describe.skipIf(!redisBin.ok)(`the replica of every node's alerts over Redis${redisBin.ok ? '' : ` (skipped: ${redisBin.reason})`}`, () => {
  let redis: RedisServer;
  let admin: Redis;
  const replicas: AlertReplica[] = [];
  beforeAll(async () => {
    redis = await RedisServer.start(redisBin.ok ? redisBin.paths['redis-server']! : '');
    admin = new Redis(redis.url);
    // its outage in the restart case is the test's own doing
    admin.on('error', () => undefined);
  });
  afterEach(async () => { await Promise.all(replicas.splice(0).map((r) => r.stop())); });
  afterAll(async () => {
    admin?.disconnect();
    await redis?.dispose();
  });

  /** The shared store as the load sees it (what a test puts in it). */
  const store = { alerts: new Map<string, Alert>(), cases: new Map<string, RescueCase>(), loads: 0 };
  afterEach(() => { store.alerts.clear(); store.cases.clear(); store.loads = 0; });

  async function node(nodeId: string, extra: Partial<AlertReplicaOptions> = {}) {
    const local = new EventBus<EngineEvents>((_t, err) => { throw err; });
    const out = new EventBus<EngineEvents>((_t, err) => { throw err; });
    const heard: string[] = [];
    out.on('alert', (e) => heard.push(`alert ${e.change} ${e.alert.id}@${e.alert.updatedAt}`));
    out.on('rescueCase', (e) => heard.push(`case ${e.change} ${e.rescueCase.id}@${e.rescueCase.updatedAt}`));
    const replica = new AlertReplica({
      redisUrl: redis.url, nodeId, log: pino({ level: 'silent' }), local, out, retryMs: 50,
      load: async () => {
        store.loads++;
        return { alerts: [...store.alerts.values()], cases: [...store.cases.values()] };
      },
      ...extra,
    });
    replicas.push(replica);
    await replica.start();
    return { replica, local, out, heard, alerts: () => replica.activeAlerts().map((x) => `${x.id}@${x.updatedAt}`).sort(), cases: () => replica.activeRescueCases().map((x) => `${x.id}@${x.updatedAt}`).sort() };
  }

  it('loads the store\'s active records at start (closed ones left out)', async () => {
    store.alerts.set('s1', alert('s1', T0));
    store.alerts.set('s2', alert('s2', T0, 'resolved'));
    store.cases.set('c1', rescueCase('c1', T0));
    store.cases.set('c2', rescueCase('c2', T0, 'closed'));
    const a = await node('a');
    expect(store.loads).toBe(1);
    expect(a.alerts()).toEqual([`s1@${T0}`]);
    expect(a.cases()).toEqual([`c1@${T0}`]);
  });

  it('an alert opened on a is in b\'s replica and on b\'s out, not on a\'s; updated, then closed, it leaves both', async () => {
    const a = await node('a');
    const b = await node('b');
    a.local.emit('alert', alertEvent('opened', alert('x1', T0 + 1)));
    expect(a.alerts()).toEqual([`x1@${T0 + 1}`]);
    await within(2000, () => b.alerts().length === 1, 'b has the alert');
    expect(b.alerts()).toEqual([`x1@${T0 + 1}`]);
    expect(b.heard).toEqual([`alert opened x1@${T0 + 1}`]);
    a.local.emit('alert', alertEvent('updated', alert('x1', T0 + 2, 'acknowledged')));
    await within(2000, () => b.heard.length === 2, 'b heard the update');
    expect(b.replica.activeAlerts()[0]!.status).toBe('acknowledged');
    a.local.emit('alert', alertEvent('closed', alert('x1', T0 + 3, 'resolved')));
    await within(2000, () => b.heard.length === 3, 'b heard the close');
    expect(a.alerts()).toEqual([]);
    expect(b.alerts()).toEqual([]);
    expect(b.heard.at(-1)).toBe(`alert closed x1@${T0 + 3}`);
    expect(a.heard).toEqual([]);
  });

  it('an older record does not replace a newer one, nor bring back a closed one (two owners crossing in a hand-over)', async () => {
    const a = await node('a');
    const b = await node('b');
    // the new owner (b) has moved it on; the old owner's (a) last change arrives after
    b.local.emit('alert', alertEvent('updated', alert('x2', T0 + 5, 'acknowledged')));
    await within(2000, () => a.alerts().length === 1, 'a has b\'s change');
    a.local.emit('alert', alertEvent('updated', alert('x2', T0 + 4)));
    await sleep(100);
    expect(a.replica.activeAlerts()[0]).toMatchObject({ updatedAt: T0 + 5, status: 'acknowledged' });
    expect(b.replica.activeAlerts()[0]).toMatchObject({ updatedAt: T0 + 5, status: 'acknowledged' });
    expect(b.heard).toEqual([]);
    // closed on b; a late update from a does not reopen it anywhere
    b.local.emit('alert', alertEvent('closed', alert('x2', T0 + 6, 'resolved')));
    await within(2000, () => a.alerts().length === 0, 'a saw the close');
    a.local.emit('alert', alertEvent('updated', alert('x2', T0 + 5, 'acknowledged')));
    await sleep(100);
    expect(a.alerts()).toEqual([]);
    expect(b.alerts()).toEqual([]);
    expect(b.heard).toEqual([]);
  });

  it('a rescue case likewise: opened, stepped, a stale step ignored, closed', async () => {
    const a = await node('a');
    const b = await node('b');
    a.local.emit('rescueCase', caseEvent('opened', rescueCase('k1', T0 + 1)));
    await within(2000, () => b.cases().length === 1, 'b has the case');
    a.local.emit('rescueCase', caseEvent('updated', rescueCase('k1', T0 + 3, 'dispatched')));
    a.local.emit('rescueCase', caseEvent('updated', rescueCase('k1', T0 + 2, 'alarmed')));
    await within(2000, () => b.heard.length === 2, 'b heard the step');
    await sleep(100);
    expect(b.replica.activeRescueCases()[0]).toMatchObject({ status: 'dispatched', updatedAt: T0 + 3 });
    // a step to 'closed' finishes it, whatever the change says
    a.local.emit('rescueCase', caseEvent('updated', rescueCase('k1', T0 + 4, 'closed')));
    await within(2000, () => b.cases().length === 0, 'b dropped the case');
    expect(a.cases()).toEqual([]);
    expect(b.heard).toEqual([`case opened k1@${T0 + 1}`, `case updated k1@${T0 + 3}`, `case updated k1@${T0 + 4}`]);
    expect(a.heard).toEqual([]);
  });

  it('after a Redis restart each node loads in full: what opened and closed meanwhile is seen', async () => {
    // storeLagMs 0: whatever the store does not have is gone after a load
    const a = await node('a', { storeLagMs: 0 });
    const b = await node('b', { storeLagMs: 0 });
    a.local.emit('alert', alertEvent('opened', alert('r1', T0 + 1)));
    await within(2000, () => b.alerts().length === 1, 'b has r1');
    const loads = store.loads;
    await redis.stop();
    // meanwhile, on a node whose messages reach nobody: r1 closed, r2 and k2 opened (the store has them)
    store.alerts.set('r2', alert('r2', T0 + 2));
    store.cases.set('k2', rescueCase('k2', T0 + 2));
    // and on a: a change that cannot be published now (a's checkpoint puts it in the store too)
    await sleep(50);
    a.local.emit('alert', alertEvent('opened', alert('r3', T0 + 3)));
    store.alerts.set('r3', alert('r3', T0 + 3));
    await sleep(200);
    expect(b.alerts()).toEqual([`r1@${T0 + 1}`]);
    await redis.start();
    await within(15_000, () => store.loads >= loads + 2 && b.alerts().length === 2 && a.alerts().length === 2, 'both reloaded');
    for (const n of [a, b]) {
      expect(n.alerts()).toEqual([`r2@${T0 + 2}`, `r3@${T0 + 3}`]);
      expect(n.cases()).toEqual([`k2@${T0 + 2}`]);
    }
    // and changes flow again
    b.local.emit('alert', alertEvent('closed', alert('r2', T0 + 4, 'resolved')));
    await within(5000, () => a.alerts().length === 1, 'a saw r2 close');
  }, 30_000);

  it('a record heard just before a load survives the store not having it yet; one heard long before is dropped', async () => {
    let now = T0;
    const b = await node('b', { storeLagMs: 5000, now: () => now });
    const a = await node('a');
    a.local.emit('alert', alertEvent('opened', alert('old', T0)));
    await within(2000, () => b.alerts().length === 1, 'b has old');
    now = T0 + 60_000;
    a.local.emit('alert', alertEvent('opened', alert('new', T0 + 1)));
    await within(2000, () => b.alerts().length === 2, 'b has new');
    // a node that lost messages asks the others to reload
    const loads = store.loads;
    await admin.publish(ALERTS_CHANNEL, JSON.stringify({ type: 'reload', from: 'c' }));
    await within(2000, () => store.loads === loads + 2, 'a and b reloaded');
    await sleep(20);
    expect(b.alerts()).toEqual([`new@${T0 + 1}`]);
  });

  it('malformed messages are dropped and logged; the node goes on', async () => {
    const lines: Array<Record<string, unknown>> = [];
    const log: Logger = pino({ level: 'warn' }, { write: (s: string) => { lines.push(JSON.parse(s) as Record<string, unknown>); } });
    const b = await node('b', { log, maxBytes: 64 * 1024 });
    const a = await node('a');
    const bad = [
      'not json', '[]', '{"type":"alert","from":"x","change":"opened"}',
      JSON.stringify({ ...alertEvent('opened', alert('m1', T0)), from: 'x', change: 'reopened' }),
      JSON.stringify({ ...alertEvent('opened', { ...alert('m2', T0), updatedAt: 'soon' as unknown as number }), from: 'x' }),
      JSON.stringify({ ...alertEvent('opened', { ...alert('m3', T0), status: 'weird' as Alert['status'] }), from: 'x' }),
      JSON.stringify({ ...alertEvent('opened', { ...alert('m4', T0), device: null as unknown as Alert['device'] }), from: 'x' }),
      JSON.stringify({ ...alertEvent('opened', { ...alert('m5', T0), summary: 'x'.repeat(70_000) }), from: 'x' }),
    ];
    for (const text of bad) await admin.publish(ALERTS_CHANNEL, text);
    a.local.emit('alert', alertEvent('opened', alert('ok', T0)));
    await within(2000, () => b.alerts().length === 1, 'b has the good one');
    expect(b.alerts()).toEqual([`ok@${T0}`]);
    expect(b.heard).toEqual([`alert opened ok@${T0}`]);
    expect(lines.filter((l) => l.msg === 'ignored a cluster alert message that is not one')).toHaveLength(1);
  });

  it('one bus for local and out (as a node wires it): other nodes\' changes are heard, not published again', async () => {
    const bus = new EventBus<EngineEvents>((_t, err) => { throw err; });
    const heard: string[] = [];
    bus.on('alert', (e) => heard.push(e.alert.id));
    const b = new AlertReplica({ redisUrl: redis.url, nodeId: 'b', log: pino({ level: 'silent' }), local: bus, out: bus, load: async () => ({ alerts: [], cases: [] }) });
    replicas.push(b);
    await b.start();
    const a = await node('a');
    const spy = new Redis(redis.url);
    const seen: string[] = [];
    try {
      await spy.subscribe(ALERTS_CHANNEL);
      spy.on('message', (_c: string, text: string) => seen.push((JSON.parse(text) as { from: string }).from));
      a.local.emit('alert', alertEvent('opened', alert('e1', T0)));
      await within(2000, () => heard.length === 1, 'b heard it');
      await sleep(200);
      expect(seen).toEqual(['a']);
      expect(b.activeAlerts().map((x) => x.id)).toEqual(['e1']);
      // and b's own engine's changes still go out
      bus.emit('alert', alertEvent('opened', alert('e2', T0)));
      await within(2000, () => a.alerts().length === 2, 'a has e2');
      expect(seen).toEqual(['a', 'b']);
    } finally {
      spy.disconnect();
    }
  });
});
