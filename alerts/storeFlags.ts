/**
 * The black list (红黑榜) as the engine holds it: each store's entry and its life cycle
 * (core/stores/storeList.ts), fed by the repeat-offender rule's flags, advanced by people,
 * lapsed by the clock; saved beside the rule states at each checkpoint when changed.
 */
import {
  advanceStore, flagStore, lapseIfClean, onList, unflagStore, type BlackListEntry, type ListRefusal, type PersonStage, type StoreListPolicy,
} from '../core/stores/storeList.js';
import type { StoreFlag } from './engineTypes.js';

/** Their key among the rule states of a checkpoint. */
export const FLAGS_KEY = '__storeFlags';

export class StoreFlags {
  private entries: Record<string, BlackListEntry> = {};
  private changed = true;

  /** Saved entries; flags saved before the life cycle existed become entries at `flagged`. */
  load(saved: unknown): void {
    this.entries = {};
    if (!saved || typeof saved !== 'object') return;
    for (const [storeId, v] of Object.entries(saved as Record<string, unknown>)) {
      const x = v as Partial<BlackListEntry> & Partial<StoreFlag>;
      if (typeof x.stage === 'string' && Array.isArray(x.steps)) this.entries[storeId] = x as BlackListEntry;
      else if (x.flagged === true && typeof x.at === 'number') this.entries[storeId] = flagStore(undefined, storeId, x.count ?? 0, x.at);
    }
  }

  /** The rule's flag (or unflag) of a store; the entry after it. */
  flag(storeId: string, flagged: boolean, count: number, at: number): BlackListEntry | null {
    const before = this.entries[storeId];
    const after = flagged ? flagStore(before, storeId, count, at) : before ? unflagStore(before, count, at) : null;
    if (!after || after === before) return null;
    return this.put(after);
  }

  advance(storeId: string, stage: PersonStage, by: string, note: string, now: number): BlackListEntry | ListRefusal {
    const entry = this.entries[storeId];
    if (!entry) return { refused: 'not_listed', message: `store ${storeId} has never been on the black list` };
    const r = advanceStore(entry, stage, by, note, now);
    return 'refused' in r ? r : this.put(r);
  }

  /** Entries that lapsed by `now`. */
  lapse(now: number, policy: StoreListPolicy): BlackListEntry[] {
    const out: BlackListEntry[] = [];
    for (const entry of Object.values(this.entries)) {
      const lapsed = lapseIfClean(entry, now, policy);
      if (lapsed) out.push(this.put(lapsed));
    }
    return out;
  }

  get(storeId: string): BlackListEntry | undefined {
    return this.entries[storeId];
  }

  /** Every entry, on the list or not, newest flag first. */
  all(): BlackListEntry[] {
    return Object.values(this.entries).sort((a, b) => b.flaggedAt - a.flaggedAt || a.storeId.localeCompare(b.storeId));
  }

  /** The flagged stores (on the list), most alerts first. */
  list(): StoreFlag[] {
    return Object.values(this.entries).filter(onList).map(flagOf).sort((a, b) => b.count - a.count || a.storeId.localeCompare(b.storeId));
  }

  /** Their JSON when changed since the last cut, else null; `unsaved` marks them changed again. */
  cut(): string | null {
    if (!this.changed) return null;
    this.changed = false;
    return JSON.stringify(this.entries);
  }

  unsaved(): void {
    this.changed = true;
  }

  private put(entry: BlackListEntry): BlackListEntry {
    this.entries[entry.storeId] = entry;
    this.changed = true;
    return entry;
  }
}

/** An entry as the flag pushed on /ws and listed by GET /api/stores/flagged. */
export const flagOf = (e: BlackListEntry): StoreFlag => ({ storeId: e.storeId, flagged: onList(e), count: e.count, at: e.updatedAt, stage: e.stage });
