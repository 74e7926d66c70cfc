/**
 * The engine's checkpoints: rule states (as of the last reading they reflect), store flags and
 * every changed alert, timeline row and case, in one transaction of the store, one at a time.
 * A restart replays the readings after the last checkpoint's seq (engine.ts).
 */
import type { RuleRunner } from '../core/ruleRunner.js';
import type { Store } from '../store/types.js';
import type { AlertBook } from './alertBook.js';
import type { EnginePersistStatus } from './engineTypes.js';
import { FLAGS_KEY, type StoreFlags } from './storeFlags.js';

export class Checkpointer {
  /** the seq of the last reading the rules have seen */
  lastSeq = 0;
  /** the seq of the last checkpoint written; -1 before the first */
  private savedSeq = -1;
  /** where this run began (the stored position at start) */
  private startSeq = 0;
  /** timer rules and operator feedback change state without readings: save them too */
  stateTouched = false;
  /** each rule's state as last written (by identity) */
  private readonly savedStates = new Map<string, unknown>();
  private chain: Promise<void> = Promise.resolve();
  private persist: EnginePersistStatus = { ok: true, consecutiveFailures: 0, failures: 0, lastError: null, failingSince: null, lastSavedAt: null };

  constructor(
    private readonly book: AlertBook,
    private readonly runner: RuleRunner,
    private readonly flags: StoreFlags,
    private readonly store: Store,
    private readonly now: () => number,
  ) {}

  /** The position the store holds at start. */
  begin(lastSeq: number): void {
    this.lastSeq = this.startSeq = lastSeq;
  }

  /** A restart replays the readings after this seq (the last checkpoint's). */
  get replayFromSeq(): number {
    return this.savedSeq >= 0 ? this.savedSeq : this.startSeq;
  }

  /** Whether the last checkpoint could be written (/healthz, /metrics). */
  status(): EnginePersistStatus {
    return { ...this.persist };
  }

  /** Persist rule states (as of lastSeq) with every changed alert and case, in one transaction. */
  checkpoint(): Promise<void> {
    const run = this.chain.then(() => this.write());
    // the chain goes on after a failure: the next checkpoint tries again (its caller saw this one fail)
    this.chain = run.catch(() => undefined);
    return run;
  }

  private async write(): Promise<void> {
    if (!this.book.dirty && this.savedSeq === this.lastSeq && !this.stateTouched) return;
    // only the rule states that changed since the last save: an operator's note does not
    // rewrite every rule's state (states are immutable outside a batch, so identity tells)
    const ruleStates: Record<string, string> = {};
    const cut = new Map<string, unknown>();
    for (const [id, state] of Object.entries(this.runner.states)) {
      if (this.savedStates.get(id) === state) continue;
      ruleStates[id] = JSON.stringify(state);
      cut.set(id, state);
    }
    const flags = this.flags.cut();
    if (flags !== null) ruleStates[FLAGS_KEY] = flags;
    // readable as "not yet stored" until the transaction committed (alertReads.ts)
    const changes = this.book.cut();
    const lastSeq = this.lastSeq;
    this.stateTouched = false;
    try {
      await this.store.alerts.saveCheckpoint({ lastSeq, ruleStates, ...changes });
      this.book.saved();
      for (const [id, state] of cut) this.savedStates.set(id, state);
      this.savedSeq = lastSeq;
      this.persist = { ok: true, consecutiveFailures: 0, failures: this.persist.failures, lastError: null, failingSince: null, lastSavedAt: this.now() };
    } catch (err) {
      this.persist = {
        ok: false, consecutiveFailures: this.persist.consecutiveFailures + 1, failures: this.persist.failures + 1,
        lastError: (err as Error).message, failingSince: this.persist.failingSince ?? this.now(), lastSavedAt: this.persist.lastSavedAt,
      };
      // keep them for the next attempt
      this.book.restore(changes);
      if (flags !== null) this.flags.unsaved();
      this.stateTouched = true;
      throw err;
    }
  }
}
