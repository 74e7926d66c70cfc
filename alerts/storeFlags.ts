/**
 * Stores flagged by the repeat-offender rule (kitchen): the latest flag of each store, and
 * whether they changed since the last checkpoint (they are saved beside the rule states).
 */
import type { StoreFlag } from './engineTypes.js';

/** Their key among the rule states of a checkpoint. */
export const FLAGS_KEY = '__storeFlags';

export class StoreFlags {
  private flags: Record<string, StoreFlag> = {};
  private changed = true;

  load(saved: unknown): void {
    this.flags = (saved as Record<string, StoreFlag> | undefined) ?? {};
  }

  set(flag: StoreFlag): void {
    this.flags[flag.storeId] = flag;
    this.changed = true;
  }

  /** The flagged stores, most alerts first. */
  list(): StoreFlag[] {
    return Object.values(this.flags).filter((f) => f.flagged).sort((a, b) => b.count - a.count || a.storeId.localeCompare(b.storeId));
  }

  /** Their JSON when changed since the last cut, else null; `unsaved` marks them changed again. */
  cut(): string | null {
    if (!this.changed) return null;
    this.changed = false;
    return JSON.stringify(this.flags);
  }

  unsaved(): void {
    this.changed = true;
  }
}
