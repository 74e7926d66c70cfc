/**
 * The engine's checkpoint per slot of rule keys in cluster mode (docs/cluster.md "Slot
 * ownership", "Rule state by slot"; tables of schema/slots.ts). The node owning a slot saves,
 * in one transaction, the slot's part of the rules' states, its position in the slot's reading
 * feed (cluster/readingFeed.ts) and the alerts, timeline entries and rescue cases it changed;
 * the node taking the slot next loads them and resumes the feed from that position. State and
 * position are committed together, so a successor neither re-raises nor misses what the
 * readings up to the position caused.
 *
 * Fenced by the epoch the owner took the slot with (slot_epochs, cluster/slotOwnership.ts): a
 * node that lost the slot without knowing yet (its ownership connection gone, the slot taken
 * by another after the grace) would otherwise overwrite its successor with older state. The
 * save locks the slot's slot_epochs row first (FOR UPDATE) and writes only when it still holds
 * this node's epoch. A taking bumps that row, so it waits for a save in progress to commit and
 * then loads what it wrote; a save that comes after a taking reads the new epoch (READ
 * COMMITTED re-reads a locked row's latest version) and is refused with `slot_fenced`, writing
 * nothing.
 *
 * Text goes through text.ts as in alerts.ts; rule states are JSON text (JSON.stringify escapes
 * U+0000), their keys rule ids: encoded anyway, as a key is not checked for it anywhere.
 */
import type { Alert, TimelineEntry } from '../../core/alerts/alert.js';
import type { RescueCase } from '../../core/alerts/rescueCase.js';
import { SLOTS } from '../../core/cluster/slots.js';
import { CodedError } from '../../core/codes.js';
import { alertOf, rescueCaseOf } from '../alertRows.js';
import { writeAlertChanges } from './alerts.js';
import { ms, unnest, type PostgresDatabase } from './database.js';
import { fromPgText, toPgText } from './text.js';

export interface SlotCheckpoint {
  slot: number;
  /** the epoch this node took the slot with (SlotOwnership.epochOf): the fencing token */
  epoch: number;
  nodeId: string;
  /** the slot's feed position the states stand at: a Redis stream id ("1733620000000-42") */
  position: string;
  /** key -> JSON text; only the keys given are written (upsert), others kept */
  ruleStates: Record<string, string>;
  alerts: readonly Alert[];
  timeline: ReadonlyArray<{ alertId: string; entry: TimelineEntry }>;
  cases: readonly RescueCase[];
}

export interface SlotState {
  /** the epoch of the taking that saved last, null when the slot was never saved */
  epoch: number | null;
  /** where the feed of the slot resumes, null when the slot was never saved */
  position: string | null;
  /** key -> the parsed state */
  ruleStates: Record<string, unknown>;
  /** the slot's open and acknowledged alerts, by last seen then id (as PgAlerts.loadActive) */
  alerts: Alert[];
  /** the slot's cases not closed nor false alarms, by alarm time then id (as PgAlerts.loadActiveCases) */
  cases: RescueCase[];
}

export class PgSlotCheckpoints {
  constructor(private readonly db: PostgresDatabase) {}

  /** Save a slot's checkpoint, or refuse it with `slot_fenced` when the slot has been taken since (see above). */
  async save(cp: SlotCheckpoint, now: number): Promise<void> {
    checkSlot(cp.slot);
    // in key order: two saves of one slot are serialized by the epoch row anyway; this keeps
    // the statement's row order fixed whatever order the engine built the map in
    const states = Object.entries(cp.ruleStates).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    await this.db.tx(async (c) => {
      const rows = (await c.query<{ epoch: string }>('SELECT epoch FROM slot_epochs WHERE slot = $1 FOR UPDATE', [cp.slot])).rows;
      const current = rows[0] ? Number(rows[0].epoch) : null;
      if (current !== cp.epoch) {
        throw new CodedError('slot_fenced', `checkpoint of slot ${cp.slot} refused: this node took it at epoch ${cp.epoch}, the slot is at `
          + `${current === null ? 'no epoch (never taken)' : `epoch ${current}`} now; another node owns it`, { slot: cp.slot, epoch: cp.epoch, current });
      }
      await c.query(`INSERT INTO slot_checkpoints (slot, epoch, position, node_id, saved_at) VALUES ($1, $2, $3, $4, $5)
        ON CONFLICT (slot) DO UPDATE SET epoch = excluded.epoch, position = excluded.position, node_id = excluded.node_id, saved_at = excluded.saved_at`,
      [cp.slot, cp.epoch, toPgText(cp.position), toPgText(cp.nodeId), ms(now)]);
      if (states.length) {
        await c.query(`INSERT INTO slot_rule_states (slot, key, value) SELECT $3::int4, u.* FROM ${unnest(['text', 'text'])} AS u
          ON CONFLICT (slot, key) DO UPDATE SET value = excluded.value`, [states.map(([k]) => toPgText(k)), states.map(([, v]) => toPgText(v)), cp.slot]);
      }
      await writeAlertChanges(c, cp, cp.slot);
    });
  }

  /** What a node taking the slot resumes from; one snapshot, so the parts agree with each other. */
  async load(slot: number): Promise<SlotState> {
    checkSlot(slot);
    return this.db.tx(async (c) => {
      const saved = (await c.query<{ epoch: string; position: string }>('SELECT epoch, position FROM slot_checkpoints WHERE slot = $1', [slot])).rows[0];
      const ruleStates: Record<string, unknown> = {};
      for (const r of (await c.query<{ key: string; value: string }>('SELECT key, value FROM slot_rule_states WHERE slot = $1', [slot])).rows) {
        ruleStates[fromPgText(r.key)] = JSON.parse(fromPgText(r.value));
      }
      // the WHERE clauses of the partial indexes alerts_slot_active and rescue_cases_slot_active
      const alerts = (await c.query("SELECT doc FROM alerts WHERE slot = $1 AND status IN ('open', 'acknowledged') ORDER BY last_seen, id", [slot])).rows.map(alertOf);
      const cases = (await c.query("SELECT doc FROM rescue_cases WHERE slot = $1 AND status NOT IN ('closed', 'false_alarm') ORDER BY alarm_at, id", [slot]))
        .rows.map(rescueCaseOf);
      return { epoch: saved ? Number(saved.epoch) : null, position: saved ? fromPgText(saved.position) : null, ruleStates, alerts, cases };
    }, 'readOnly');
  }
}

/**
 * Where an operator's action on a stored alert or case runs in cluster mode (cluster/clusterAlerts.ts):
 * the slot it was saved under; null when saved by a single node (no slot); undefined when not
 * stored (yet: opened since its owner's last checkpoint).
 */
export async function slotOfRecord(db: PostgresDatabase, kind: 'alert' | 'case', id: string): Promise<number | null | undefined> {
  const rows = await db.rows<{ slot: number | null }>(`SELECT slot FROM ${kind === 'alert' ? 'alerts' : 'rescue_cases'} WHERE id = $1`, [toPgText(id)]);
  return rows.length ? (rows[0]!.slot === null ? null : Number(rows[0]!.slot)) : undefined;
}

/** One key's saved state in every slot that has it (the black list's entries live in the slots of their stores). */
export async function slotStatesOf(db: PostgresDatabase, key: string): Promise<unknown[]> {
  const rows = await db.rows<{ value: string }>('SELECT value FROM slot_rule_states WHERE key = $1 ORDER BY slot', [toPgText(key)]);
  return rows.map((r) => JSON.parse(fromPgText(r.value)) as unknown);
}

/** A slot is 0..SLOTS-1: anything else is a caller's bug, refused before it reaches a SMALLINT column. */
function checkSlot(slot: number): void {
  if (!Number.isInteger(slot) || slot < 0 || slot >= SLOTS) throw new RangeError(`slot ${slot} is not one of 0..${SLOTS - 1}`);
}
