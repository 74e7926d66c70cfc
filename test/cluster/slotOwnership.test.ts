/**
 * Slot ownership on a real PostgreSQL (cluster/slotOwnership.ts): nodes share the slots of rule
 * keys by advisory locks, never two holders of one slot; a node joining gets its rendezvous
 * share, handed over after its state is saved; a node whose connection dies (as kill -9 does)
 * loses every slot at once and the others take them at their next round; it comes back and
 * takes its share again; each taking draws the slot's next epoch; a second node of the same
 * id is refused. Rounds are run by hand (tick), so nothing here waits on a timer.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { SlotOwnership } from '../../cluster/slotOwnership.js';
import { shares } from '../../core/cluster/slots.js';
import { PostgresDatabase } from '../../store/postgres/database.js';
import { PostgresServer, postgresPrograms } from '../helpers/postgresServer.js';

const found = postgresPrograms();

describe.skipIf(!found.ok)(`slot ownership${found.ok ? '' : ` (skipped: ${found.reason})`}`, () => {
  let server: PostgresServer;
  let url: string;
  const dbs: PostgresDatabase[] = [];
  beforeAll(async () => {
    server = await PostgresServer.start(found.ok ? found.paths : {});
    url = await server.createDatabase('ownership');
  });
  /** every node a test made, stopped after it, so one test's failure leaves no slot held for the next */
  const owners: SlotOwnership[] = [];
  afterEach(async () => {
    for (const o of owners.splice(0)) await o.stop().catch(() => undefined);
  });
  afterAll(async () => {
    for (const db of dbs) await db.close().catch(() => undefined);
    await server?.dispose();
  });

  interface Node {
    own: SlotOwnership;
    db: PostgresDatabase;
    log: string[];
    lost: number[];
  }
  const node = async (nodeId: string): Promise<Node> => {
    const db = new PostgresDatabase({ url, maxConnections: 3 });
    await db.open();
    dbs.push(db);
    const log: string[] = [];
    const lost: number[] = [];
    const own = new SlotOwnership(db, {
      nodeId, intervalMs: 3_600_000, orphanGraceMs: 0,
      onAcquire: async (slot, epoch) => { log.push(`+${slot}@${epoch}`); },
      onRelease: async (slot) => { log.push(`-${slot}`); },
      onLost: (slots) => { lost.push(...slots); },
    });
    owners.push(own);
    return { own, db, log, lost };
  };
  /** Slot -> holders, from the server: a slot held twice would show two. */
  const holdersOnServer = async (db: PostgresDatabase): Promise<Map<number, number>> => {
    const rows = await db.rows<{ slot: number; n: string }>(`SELECT objid::bigint::int AS slot, count(*) AS n FROM pg_locks
      WHERE locktype = 'advisory' AND granted AND objsubid = 2 AND classid::bigint = ${0x53550002} GROUP BY objid`);
    return new Map(rows.map((r) => [Number(r.slot), Number(r.n)]));
  };
  const rounds = async (nodes: Node[], n = 3): Promise<void> => {
    for (let i = 0; i < n; i++) for (const x of nodes) await x.own.tick();
  };

  it('share, hand over, lose on a dead connection, take back; one holder per slot throughout', async () => {
    const a = await node('node-a');
    await a.own.start();
    expect(a.own.held()).toHaveLength(256);
    expect(a.own.status()).toMatchObject({ nodeId: 'node-a', held: 256, peers: ['node-a'], connected: true, lastError: null });
    expect(a.log.filter((l) => l.startsWith('+')).every((l) => l.endsWith('@1'))).toBe(true);

    const b = await node('node-b');
    await b.own.start();
    await rounds([a, b]);
    const expected = shares(['node-a', 'node-b']);
    expect(a.own.held()).toHaveLength(expected.get('node-a')!);
    expect(b.own.held()).toHaveLength(expected.get('node-b')!);
    expect([...(await holdersOnServer(a.db)).values()].every((n) => n === 1)).toBe(true);
    expect((await holdersOnServer(a.db)).size).toBe(256);
    // every slot B took was handed over by A first (saved, then unlocked), with the next epoch
    for (const slot of b.own.held()) {
      expect(a.log).toContain(`-${slot}`);
      expect(b.own.epochOf(slot)).toBe(2);
    }
    expect(a.own.status().peers).toEqual(['node-a', 'node-b']);

    // B's connection dies as with kill -9: the server frees its locks; A takes them next round
    const pid = (await b.db.rows<{ pid: number }>('SELECT backend_pid AS pid FROM cluster_nodes WHERE node_id = $1', ['node-b']))[0]!.pid;
    const bSlots = b.own.held();
    await a.db.run('SELECT pg_terminate_backend($1)', [pid]);
    // the server frees a terminated backend's locks as that process exits, a moment later
    for (let i = 0; i < 200 && Number((await a.db.rows('SELECT count(*) AS n FROM pg_locks WHERE pid = $1', [pid]))[0]!.n) > 0; i++) {
      await new Promise((r) => setTimeout(r, 10));
    }
    await rounds([a], 1);
    expect(a.own.held()).toHaveLength(256);
    expect(a.own.status().peers).toEqual(['node-a']);
    for (const slot of bSlots) expect(a.own.epochOf(slot)).toBe(3);
    // B finds out at its next round: everything lost at once, not handed over
    await b.own.tick();
    expect(b.lost.sort((x, y) => x - y)).toEqual(bSlots);
    expect(b.own.held()).toEqual([]);
    expect(b.own.status().lastError).not.toBeNull();

    // B reconnects and takes its share back from A
    await rounds([b, a, b, a]);
    expect(b.own.held()).toHaveLength(expected.get('node-b')!);
    expect(a.own.held()).toHaveLength(expected.get('node-a')!);
    expect([...(await holdersOnServer(a.db)).values()].every((n) => n === 1)).toBe(true);

    // a clean stop hands everything over; the other takes it all
    await b.own.stop();
    await rounds([a], 1);
    expect(a.own.held()).toHaveLength(256);
    expect((await a.db.rows('SELECT node_id FROM cluster_nodes')).map((r) => r.node_id)).toEqual(['node-a']);
    await a.own.stop();
    expect((await holdersOnServer(a.db)).size).toBe(0);
  });

  it('a second node with an id already alive is refused, naming NODE_ID', async () => {
    const a = await node('node-x');
    await a.own.start();
    const twin = await node('node-x');
    await expect(twin.own.start()).rejects.toThrow(/another node with the id node-x .*NODE_ID must be unique/);
    await a.own.stop();
  });

  it('a failed save keeps the slot (nothing is handed over unsaved)', async () => {
    const a = await node('node-p');
    await a.own.start();
    const db = new PostgresDatabase({ url, maxConnections: 2 });
    await db.open();
    dbs.push(db);
    const q = new SlotOwnership(db, { nodeId: 'node-q', intervalMs: 3_600_000, orphanGraceMs: 0 });
    owners.push(q);
    let failSaves = true;
    const p = new SlotOwnership(a.db, {
      nodeId: 'node-p2', intervalMs: 3_600_000, orphanGraceMs: 0,
      onRelease: async () => { if (failSaves) throw new Error('checkpoint failed'); },
    });
    owners.push(p);
    await a.own.stop();
    await p.start();
    expect(p.held()).toHaveLength(256);
    await q.start();
    await p.tick();
    expect(p.held()).toHaveLength(256); // the first save failed: that slot and the rest stay
    expect(p.status().lastError).toBe('checkpoint failed');
    failSaves = false;
    await p.tick();
    await q.tick();
    expect(q.held().length).toBe(shares(['node-p2', 'node-q']).get('node-q'));
    await p.stop();
    await q.stop();
  });
});
