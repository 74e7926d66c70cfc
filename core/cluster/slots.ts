/**
 * Which node owns which slot of rule keys in cluster mode (docs/cluster.md, Rules with one
 * owner per key). A rule key (a device, a store, a station, a cylinder code) falls in one of
 * SLOTS slots by a stable hash; each slot is held by one node at a time (a PostgreSQL advisory
 * lock: cluster/slotOwnership.ts). This file is the pure part: where a key falls, which live
 * node each slot belongs to, and what a node should take and give up to get there.
 *
 * Placement is rendezvous hashing (highest random weight): a slot belongs to the live node
 * whose hash with it is highest. Every node computes the same answer from the same live set
 * without talking to the others; a node that joins takes about 1/N of the slots, from every
 * other node alike, and a node that leaves gives its slots to the others evenly, and nothing
 * else moves.
 */
import { fnv1a } from '../hash.js';

/** Slots of rule keys: enough that N nodes share them evenly, few enough to hold a lock each. */
export const SLOTS = 256;

export { fnv1a };

/** The slot of a rule key. */
export function slotOf(key: string, slots = SLOTS): number {
  return fnv1a(key) % slots;
}

/** A 32-bit mix of two numbers (murmur3's finalizer): the weight of a (node, slot) pair. */
function mix(a: number, b: number): number {
  let h = (a ^ Math.imul(b + 0x9e3779b9, 0x85ebca6b)) >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b) >>> 0;
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35) >>> 0;
  h ^= h >>> 16;
  return h >>> 0;
}

/** The live node a slot belongs to (ties, which need equal hashes, go to the smaller id); null with no node. */
export function ownerOf(slot: number, nodes: readonly string[]): string | null {
  let best: string | null = null;
  let bestWeight = -1;
  for (const node of nodes) {
    const w = mix(fnv1a(node), slot);
    if (w > bestWeight || (w === bestWeight && best !== null && node < best)) {
      best = node;
      bestWeight = w;
    }
  }
  return best;
}

/** What one node sees of the cluster at one moment (cluster/slotOwnership.ts reads it from PostgreSQL). */
export interface SlotView {
  self: string;
  /** nodes alive now, this one among them */
  live: readonly string[];
  /** slot -> the node holding it; a slot absent is free */
  holders: ReadonlyMap<number, string>;
  /** slot -> since when (ms) it has been free, as this node has watched it */
  freeSince: ReadonlyMap<number, number>;
  now: number;
  slots: number;
}

export interface SlotPlan {
  /** free slots to lock, in slot order */
  acquire: number[];
  /** held slots to hand over (after their state is saved), in slot order */
  release: number[];
}

/**
 * How long a slot may stay free before any node takes it, whoever it belongs to: nodes may
 * briefly disagree on who is alive (one saw a peer go, another not yet), and a slot that
 * belongs to a node that does not take it must still be served.
 */
export const ORPHAN_GRACE_MS = 3000;

/**
 * What `self` should do now: take the free slots that belong to it, and those free for longer
 * than the grace whoever they belong to; give up the slots it holds that belong to another
 * live node (that node takes them once they are free). A slot held by another node is never
 * taken: the lock decides, and this plan only asks for free ones.
 */
export function planSlots(v: SlotView, graceMs = ORPHAN_GRACE_MS): SlotPlan {
  const acquire: number[] = [];
  const release: number[] = [];
  const live = v.live.includes(v.self) ? v.live : [...v.live, v.self];
  for (let slot = 0; slot < v.slots; slot++) {
    const owner = ownerOf(slot, live);
    const holder = v.holders.get(slot);
    if (holder === undefined) {
      const since = v.freeSince.get(slot) ?? v.now;
      if (owner === v.self || v.now - since >= graceMs) acquire.push(slot);
    } else if (holder === v.self && owner !== v.self) {
      release.push(slot);
    }
  }
  return { acquire, release };
}

/** How many slots each live node should hold under rendezvous placement (for /metrics and tests). */
export function shares(nodes: readonly string[], slots = SLOTS): Map<string, number> {
  const n = new Map<string, number>(nodes.map((id) => [id, 0]));
  for (let slot = 0; slot < slots; slot++) {
    const o = ownerOf(slot, nodes);
    if (o !== null) n.set(o, (n.get(o) ?? 0) + 1);
  }
  return n;
}
