/**
 * The rules per slot across nodes (cluster/slotEngines.ts) on a real PostgreSQL and Redis:
 * two nodes share the slots; readings published to the feed by an ingest node reach the
 * owner of each rule key, which raises once; a node that dies (its database connection
 * killed, as kill -9 does, nothing checkpointed after its last save) is taken over by the
 * other, which resumes each slot from its checkpoint: an alert raised before the last save is
 * kept with its rescue case and deadlines, one raised after it is raised again under the same
 * id (so a wall that saw it sees it once) and stored once; the node comes back and takes its
 * share, with nothing raised again. Rounds, ticks and checkpoints are run by hand.
 */
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { slotsOfReading } from '../../core/cluster/slotRules.js';
import { slotOf } from '../../core/cluster/slots.js';
import { deadlinePolicy as deadlinePolicyOf, rescuePolicy as rescuePolicyOf, ruleOverrides } from '../../core/alerts/policy.js';
import { EventBus } from '../../core/eventBus.js';
import type { Reading } from '../../core/reading.js';
import { allRules, RESCUE_RULE } from '../../core/rules/index.js';
import { examplePayload } from '../../core/schemas/examples.js';
import { ReadingFeed } from '../../cluster/readingFeed.js';
import { SlotEngines } from '../../cluster/slotEngines.js';
import type { EngineEvents } from '../../alerts/engineTypes.js';
import { PgAlerts } from '../../store/postgres/alerts.js';
import { PostgresDatabase } from '../../store/postgres/database.js';
import type { DeviceRecord } from '../../store/types.js';
import { programs } from '../helpers/external.js';
import { PostgresServer, postgresPrograms } from '../helpers/postgresServer.js';
import { RedisServer } from '../helpers/redisServer.js';

const pg = postgresPrograms();
const redisBin = programs(['redis-server'], 'redis-server');
const missing = !pg.ok ? pg.reason : !redisBin.ok ? redisBin.reason : null;

const T0 = Date.UTC(2026, 11, 8, 2, 0, 0);
const log = pino({ level: 'silent' });
const device = (id: string): DeviceRecord | undefined => (id.startsWith('elev-')
  ? { id, family: 'elevator', name: null, district: '330106', location: null, meta: {}, secretHash: '', createdAt: 0, updatedAt: 0 } as unknown as DeviceRecord
  : undefined);

describe.skipIf(missing !== null)(`rules per slot across nodes${missing ? ` (skipped: ${missing})` : ''}`, () => {
  let postgres: PostgresServer;
  let redis: RedisServer;
  let url: string;
  const closers: Array<() => Promise<unknown>> = [];
  beforeAll(async () => {
    [postgres, redis] = await Promise.all([PostgresServer.start(pg.ok ? pg.paths : {}), RedisServer.start(redisBin.ok ? redisBin.paths['redis-server']! : '')]);
    url = await postgres.createDatabase('slots');
  });
  afterAll(async () => {
    for (const close of closers.reverse()) await close().catch(() => undefined);
    await Promise.all([postgres?.dispose(), redis?.stop()]);
  });

  let now = T0;
  async function node(nodeId: string) {
    const db = new PostgresDatabase({ url, maxConnections: 4 });
    await db.open();
    closers.push(() => db.close());
    const events = new EventBus<EngineEvents>((type, err) => { throw new Error(`listener of ${type} failed: ${String(err)}`); });
    const opened: string[] = [];
    const caseEvents: string[] = [];
    events.on('alert', (e) => { if (e.change === 'opened') opened.push(`${e.alert.device.id}:${e.alert.id}`); });
    events.on('rescueCase', (e) => { for (const x of e.events) caseEvents.push(`${e.rescueCase.elevatorId}:${x}`); });
    const engines = new SlotEngines({
      nodeId, redisUrl: redis.url, rules: allRules, ruleOverrides: ruleOverrides(allRules, {}), deadlinePolicy: deadlinePolicyOf({}), rescuePolicy: rescuePolicyOf({}),
      rescueRule: RESCUE_RULE, tickMs: 3_600_000, checkpointMs: 3_600_000, ownershipIntervalMs: 3_600_000, orphanGraceMs: 0,
    }, { db, device, cylinder: () => undefined, alerts: new PgAlerts(db), events, log, now: () => now });
    closers.push(() => engines.stop());
    await engines.start();
    return { engines, db, opened, caseEvents };
  }

  let seq = 0;
  const trapped = (deviceId: string): Reading => {
    const at = now;
    return { seq: ++seq, family: 'elevator', channel: 'fault', deviceId, msgId: `m-${seq}`, ts: at, receivedAt: at, qos: 1, data: { ...examplePayload('elevator', 'fault', `m-${seq}`, at), code: 11, floor: 3 }, extra: null } as unknown as Reading;
  };
  const lookup = { device: (id: string) => { const d = device(id); return d ? { id: d.id, family: d.family, name: null, district: d.district, meta: d.meta } : undefined; } };

  async function until(what: string, ok: () => boolean, ms = 5000): Promise<void> {
    const end = Date.now() + ms;
    while (!ok()) {
      if (Date.now() > end) throw new Error(`not within ${ms} ms: ${what}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  it('one owner raises; a dead owner\'s slots resume on the other from their checkpoints, nothing raised twice; it comes back and takes its share', async () => {
    const a = await node('node-a');
    const b = await node('node-b');
    for (let i = 0; i < 3; i++) { await b.engines.round(); await a.engines.round(); }
    expect(a.engines.held().length + b.engines.held().length).toBe(256);
    expect(b.engines.held().length).toBeGreaterThan(64);

    // elevators whose keys B owns
    const ofB = Array.from({ length: 400 }, (_, i) => `elev-${i}`).filter((id) => b.engines.held().includes(slotOf(id))).slice(0, 2);
    const [e1, e2] = ofB as [string, string];
    const feed = new ReadingFeed({ redisUrl: redis.url, nodeId: 'ingest-1', retryMs: 50 });
    closers.push(() => feed.stop());
    const publish = (r: Reading) => feed.publish({ readings: [r] }, (x) => slotsOfReading(allRules, x, lookup));

    // raised by B only, once; saved with its case
    await publish(trapped(e1));
    await until('B raises e1', () => b.opened.some((x) => x.startsWith(`${e1}:`)));
    await b.engines.checkpoint();
    const e1Alert = b.engines.activeAlerts().find((x) => x.device.id === e1 && x.rule === 'elevator.trapped')!;
    expect(a.opened).toEqual([]);
    expect(b.engines.activeCases().map((c) => c.alertId)).toEqual([e1Alert.id]);

    // raised after B's last checkpoint: seen by the wall, not saved
    now += 60_000;
    await publish(trapped(e2));
    await until('B raises e2', () => b.opened.some((x) => x.startsWith(`${e2}:`)));
    const e2Opened = b.opened.find((x) => x.startsWith(`${e2}:`))!;

    // B dies: its database connections killed (its locks freed); it does nothing more
    const bSlots = b.engines.held();
    await b.engines.haltForTest();
    await a.db.run("SELECT pg_terminate_backend(backend_pid) FROM cluster_nodes WHERE node_id = 'node-b'");
    for (let i = 0; i < 200; i++) {
      const n = Number((await a.db.rows("SELECT count(*) AS n FROM pg_locks l JOIN cluster_nodes c ON c.backend_pid = l.pid WHERE c.node_id = 'node-b'"))[0]!.n);
      if (n === 0) break;
      await new Promise((r) => setTimeout(r, 10));
    }
    await a.engines.round();
    expect(a.engines.held()).toHaveLength(256);

    // A resumes: e1 from the checkpoint (case and deadlines kept), e2 evaluated again under the same id
    await until('A raises e2 again', () => a.opened.length > 0);
    expect(a.opened).toEqual([e2Opened]);
    const e1OnA = a.engines.activeAlerts().find((x) => x.device.id === e1 && x.rule === 'elevator.trapped')!;
    expect(e1OnA.id).toBe(e1Alert.id);
    expect(a.engines.activeCases().map((c) => c.alertId).sort()).toEqual([e1Alert.id, e2Opened.split(':')[1]].sort());
    // e1's dispatch deadline (5 min from its alarm) fires once, on A
    now = T0 + 6 * 60_000;
    a.engines.tick(now);
    a.engines.tick(now + 1000);
    expect(a.caseEvents.filter((x) => x === `${e1}:dispatch_breached`)).toHaveLength(1);
    await a.engines.checkpoint();
    const stored = await a.db.rows<{ device_id: string; n: string }>("SELECT device_id, count(*) AS n FROM alerts WHERE rule = 'elevator.trapped' GROUP BY device_id ORDER BY device_id");
    expect(stored.map((r) => [r.device_id, Number(r.n)])).toEqual([[e1, 1], [e2, 1]].sort());
    expect(Number((await a.db.rows('SELECT count(*) AS n FROM rescue_cases'))[0]!.n)).toBe(2);

    // B comes back and takes its share again (handed over by A, saved first): nothing raised again
    const b2 = await node('node-b');
    for (let i = 0; i < 3; i++) { await b2.engines.round(); await a.engines.round(); }
    expect(b2.engines.held()).toEqual(bSlots);
    expect(b2.engines.activeAlerts().filter((x) => x.rule === 'elevator.trapped').map((x) => x.id).sort()).toEqual([e1Alert.id, e2Opened.split(':')[1]].sort());
    await new Promise((r) => setTimeout(r, 300));
    expect(b2.opened).toEqual([]);
  });
});
