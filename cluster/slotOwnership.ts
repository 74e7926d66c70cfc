/**
 * This node's share of the slots of rule keys in cluster mode (docs/cluster.md, Rules with one
 * owner per key), held as PostgreSQL advisory locks on one connection of its own:
 *
 *  - the node's own lock (NODE_LOCKS, its id's hash) says it is alive: while its connection
 *    lives the lock is held; a node killed with -9 loses the connection, and PostgreSQL frees
 *    every lock of it at once, so the others see it gone without waiting for a timeout;
 *  - a slot's lock (SLOT_LOCKS, the slot) says who evaluates its keys: one node at a time,
 *    since only one session can hold it; taking it also draws the slot's next epoch
 *    (slot_epochs), the fencing token of what the owner writes for those keys.
 *
 * Every `intervalMs` the node reads who is alive and who holds what (pg_locks), plans with the
 * pure rendezvous placement (core/cluster/slots.ts), hands over the slots that belong to
 * another live node (after `onRelease` has saved their state) and takes free ones that belong
 * to it (then `onAcquire`). A connection that fails loses every slot at once (`onLost`, before
 * anything else runs): the node stops evaluating them, and takes its share again once it has
 * a connection.
 */
import { SLOTS, fnv1a, planSlots, type SlotPlan } from '../core/cluster/slots.js';
import type { HeldConnection, PostgresDatabase } from '../store/postgres/database.js';

/** Advisory-lock classes (the first key of the two-key form): a node's life, a slot of rule keys. */
export const NODE_LOCKS = 0x53550001;
export const SLOT_LOCKS = 0x53550002;

export interface SlotOwnershipOptions {
  nodeId: string;
  slots?: number;
  /** how often the node looks at the cluster and moves slots (default 500 ms) */
  intervalMs?: number;
  /** a free slot nobody takes is taken by any node after this long (core/cluster/slots.ts ORPHAN_GRACE_MS) */
  orphanGraceMs?: number;
  /** the slot is this node's now, with its epoch: load its keys' state before evaluating them */
  onAcquire?: (slot: number, epoch: number) => Promise<void>;
  /** the slot goes to another node: save its keys' state; resolves before the lock is released */
  onRelease?: (slot: number) => Promise<void>;
  /** the slots were lost without a hand-over (the connection failed): stop evaluating them now */
  onLost?: (slots: number[]) => void;
  /** a round that failed (the server unreachable): logged by the caller, retried next round */
  onError?: (err: Error) => void;
  now?: () => number;
}

export interface SlotOwnershipStatus {
  nodeId: string;
  /** slots held by this node, with their epochs */
  held: number;
  /** nodes alive as last seen, this one among them while connected */
  peers: string[];
  /** slot holders as last seen, per node */
  holders: Record<string, number>;
  connected: boolean;
  lastError: string | null;
}

/** onAcquire or onRelease failed: the round stops, the connection and the slots held stay. */
class HookFailed extends Error {
  constructor(readonly failure: Error) {
    super(failure.message);
  }
}

const asError = (err: unknown): Error => (err instanceof Error ? err : new Error(String(err)));

/** A node's lock key: its id's hash as PostgreSQL's int4. */
export const nodeLockKey = (nodeId: string): number => fnv1a(nodeId) | 0;

export class SlotOwnership {
  private conn: HeldConnection | null = null;
  private readonly epochs = new Map<number, number>();
  private readonly freeSince = new Map<number, number>();
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private stopped = false;
  private peers: string[] = [];
  private holders = new Map<number, string>();
  private lastError: string | null = null;
  private readonly slots: number;
  private readonly now: () => number;

  constructor(private readonly db: PostgresDatabase, private readonly opts: SlotOwnershipOptions) {
    this.slots = opts.slots ?? SLOTS;
    this.now = opts.now ?? Date.now;
  }

  /** Join: take the node's own lock (refused if a node of the same id, or hash, is alive), then the first round. */
  async start(): Promise<void> {
    this.stopped = false;
    await this.connect();
    await this.round();
    this.schedule();
  }

  /** Hand every slot over (saving each first), leave, and close the connection. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.running;
    const conn = this.conn;
    if (!conn) return;
    try {
      for (const slot of [...this.epochs.keys()].sort((a, b) => a - b)) await this.release(conn, slot);
      await conn.sql.query('DELETE FROM cluster_nodes WHERE node_id = $1 AND backend_pid = pg_backend_pid()', [this.opts.nodeId]);
      await conn.sql.query('SELECT pg_advisory_unlock_all()');
      conn.release();
    } catch (err) {
      conn.release(asError(err));
    }
    this.conn = null;
  }

  /** The slots this node holds now, in order. */
  held(): number[] {
    return [...this.epochs.keys()].sort((a, b) => a - b);
  }

  /** The node holding a slot as last seen (this one's own slots at once), or null while it is free. */
  holderOf(slot: number): string | null {
    const holder = this.holders.get(slot);
    return holder === undefined || holder.startsWith('pid:') ? null : holder;
  }

  /**
   * The node holding a slot now, asked of the server when this node's last look does not know
   * (a slot handed over since): its lock's holder, if that is a live node's connection.
   */
  async holderNow(slot: number): Promise<string | null> {
    const known = this.holderOf(slot);
    if (known !== null) return known;
    const rows = await this.db.rows<{ node_id: string }>(`SELECT n.node_id FROM pg_locks l JOIN cluster_nodes n ON n.backend_pid = l.pid
      WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 2 AND l.classid::bigint::int = $1 AND l.objid::bigint::int = $2
        AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())`, [SLOT_LOCKS, slot]);
    return rows[0]?.node_id ?? null;
  }

  /** The epoch this node took a slot with, or null when it does not hold it. */
  epochOf(slot: number): number | null {
    return this.epochs.get(slot) ?? null;
  }

  status(): SlotOwnershipStatus {
    const holders: Record<string, number> = {};
    for (const node of this.holders.values()) holders[node] = (holders[node] ?? 0) + 1;
    return { nodeId: this.opts.nodeId, held: this.epochs.size, peers: [...this.peers], holders, connected: this.conn !== null, lastError: this.lastError };
  }

  /** One round now (tests; the timer runs them otherwise). */
  async tick(): Promise<void> {
    this.running = this.round();
    await this.running;
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.running = this.round().finally(() => this.schedule());
    }, this.opts.intervalMs ?? 500);
  }

  private async connect(): Promise<HeldConnection> {
    const conn = await this.db.hold();
    try {
      const key = nodeLockKey(this.opts.nodeId);
      const got = (await conn.sql.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1, $2) AS ok', [NODE_LOCKS, key])).rows[0]?.ok;
      if (!got) {
        throw new Error(`another node with the id ${this.opts.nodeId} (or one whose id hashes alike) is running: NODE_ID must be unique in the cluster`);
      }
      await conn.sql.query(`INSERT INTO cluster_nodes (node_id, lock_key, backend_pid, started_at) VALUES ($1, $2, pg_backend_pid(), $3)
        ON CONFLICT (node_id) DO UPDATE SET lock_key = excluded.lock_key, backend_pid = excluded.backend_pid, started_at = excluded.started_at`,
      [this.opts.nodeId, key, this.now()]);
      this.conn = conn;
      return conn;
    } catch (err) {
      conn.release(asError(err));
      throw err;
    }
  }

  private async round(): Promise<void> {
    if (this.stopped) return;
    try {
      const conn = this.conn ?? await this.connect();
      await this.look(conn);
      const plan = this.plan();
      for (const slot of plan.release) await this.release(conn, slot);
      for (const slot of plan.acquire) await this.acquire(conn, slot);
      this.lastError = null;
    } catch (err) {
      const e = err instanceof HookFailed ? err.failure : asError(err);
      this.lastError = e.message;
      // a save or load that failed is retried next round; anything else is the connection
      if (!(err instanceof HookFailed)) this.lose(e);
      this.opts.onError?.(e);
    }
  }

  /** Who is alive and who holds which slot, from the server's own lock table. */
  private async look(conn: HeldConnection): Promise<void> {
    const rows = (await conn.sql.query<{ pid: number; classid: string; objid: string; node_id: string | null }>(
      `SELECT l.pid, l.classid::bigint::text AS classid, l.objid::bigint::text AS objid, n.node_id
       FROM pg_locks l LEFT JOIN cluster_nodes n ON n.backend_pid = l.pid
       WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 2
         AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())`,
    )).rows;
    // pg_locks shows the two int4 keys as unsigned oids
    const asInt4 = (v: string): number => Number(v) | 0;
    const nodeOfPid = new Map<number, string>();
    for (const r of rows) {
      // a node is alive when the backend its row names holds that node's own lock (a row left
      // by a dead node whose pid the server reused for another connection does not count)
      if (asInt4(r.classid) === NODE_LOCKS && r.node_id !== null && asInt4(r.objid) === nodeLockKey(r.node_id)) nodeOfPid.set(r.pid, r.node_id);
    }
    const holders = new Map<number, string>();
    for (const r of rows) {
      if (asInt4(r.classid) !== SLOT_LOCKS) continue;
      holders.set(asInt4(r.objid), nodeOfPid.get(r.pid) ?? `pid:${r.pid}`);
    }
    const now = this.now();
    for (let slot = 0; slot < this.slots; slot++) {
      if (holders.has(slot)) this.freeSince.delete(slot);
      else if (!this.freeSince.has(slot)) this.freeSince.set(slot, now);
    }
    this.peers = [...new Set(nodeOfPid.values())].sort();
    this.holders = holders;
  }

  private plan(): SlotPlan {
    return planSlots({ self: this.opts.nodeId, live: this.peers, holders: this.holders, freeSince: this.freeSince, now: this.now(), slots: this.slots },
      this.opts.orphanGraceMs);
  }

  private async acquire(conn: HeldConnection, slot: number): Promise<void> {
    const got = (await conn.sql.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1, $2) AS ok', [SLOT_LOCKS, slot])).rows[0]?.ok;
    if (!got) return; // another node was quicker: the lock decides
    const epoch = Number((await conn.sql.query<{ epoch: string }>(`INSERT INTO slot_epochs (slot, epoch, node_id, since) VALUES ($1, 1, $2, $3)
      ON CONFLICT (slot) DO UPDATE SET epoch = slot_epochs.epoch + 1, node_id = excluded.node_id, since = excluded.since RETURNING epoch`,
    [slot, this.opts.nodeId, this.now()])).rows[0]!.epoch);
    this.epochs.set(slot, epoch);
    this.holders.set(slot, this.opts.nodeId);
    this.freeSince.delete(slot);
    try {
      await this.opts.onAcquire?.(slot, epoch);
    } catch (err) {
      // what cannot be loaded is not evaluated here: give the slot back for another node or round
      this.epochs.delete(slot);
      this.holders.delete(slot);
      await conn.sql.query('SELECT pg_advisory_unlock($1, $2)', [SLOT_LOCKS, slot]);
      throw new HookFailed(asError(err));
    }
  }

  private async release(conn: HeldConnection, slot: number): Promise<void> {
    // saved first: the next owner loads what this one wrote; a save that fails keeps the slot
    try {
      await this.opts.onRelease?.(slot);
    } catch (err) {
      throw new HookFailed(asError(err));
    }
    this.epochs.delete(slot);
    await conn.sql.query('SELECT pg_advisory_unlock($1, $2)', [SLOT_LOCKS, slot]);
    this.holders.delete(slot);
  }

  /** The connection failed: whatever it held is no longer ours (the server freed it or will). */
  private lose(err: Error): void {
    const lost = this.held();
    this.epochs.clear();
    this.conn?.release(err);
    this.conn = null;
    this.peers = this.peers.filter((p) => p !== this.opts.nodeId);
    if (lost.length) this.opts.onLost?.(lost);
  }
}
