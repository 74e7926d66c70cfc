/**
 * The engine's checkpoints: rule states (as of the last reading they reflect), store flags and
 * every changed alert, timeline row and case, in one transaction of the store, one at a time.
 * A restart replays the readings after the last checkpoint's seq (engine.ts).
 *
 * The rule states come from wherever the rules run (alerts/rulesCore.ts): `snapshot` hands
 * them over at the point of the input order where the checkpoint was asked, after the effects
 * of every reading up to `lastSeq` were applied and before any later one's, and the alerts are
 * cut in that same turn, so the states, the alerts and the seq of a checkpoint agree.
 */
import type { RulesCore } from './rulesCore.js';
import type { EngineCheckpoint } from '../store/types.js';
import type { AlertBook } from './alertBook.js';
import type { EnginePersistStatus } from './engineTypes.js';
import { FLAGS_KEY, type StoreFlags } from './storeFlags.js';

/**
 * Where checkpoints go: the store's alerts (the engine), or a slot's fenced checkpoint in
 * cluster mode (cluster/slotEngine.ts), which also takes the `mark` cut with the states: its
 * feed position.
 */
export interface CheckpointSink {
  saveCheckpoint(cp: EngineCheckpoint, mark: string | null): Promise<void>;
}

interface Cut {
  mark: string | null;
  ruleStates: Record<string, string>;
  flags: string | null;
  changes: ReturnType<AlertBook['cut']>;
}

export class Checkpointer {
  /** the seq of the last reading the rules have seen */
  lastSeq = 0;
  /** the seq of the last checkpoint written; -1 before the first */
  private savedSeq = -1;
  /** where this run began (the stored position at start) */
  private startSeq = 0;
  /** timer rules and operator feedback change state without readings: save them too */
  stateTouched = false;
  /** rule states of a checkpoint that failed: the next one writes them (unless newer ones replace them) */
  private unsaved: Record<string, string> = {};
  private chain: Promise<void> = Promise.resolve();
  private persist: EnginePersistStatus = { ok: true, consecutiveFailures: 0, failures: 0, lastError: null, failingSince: null, lastSavedAt: null };

  constructor(
    private readonly book: AlertBook,
    private readonly rules: Pick<RulesCore, 'snapshot'>,
    private readonly flags: StoreFlags,
    private readonly sink: CheckpointSink,
    private readonly now: () => number,
    /** read in the same turn as the states are cut: what else the checkpoint stands at */
    private readonly markOf: () => string | null = () => null,
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
    const lastSeq = this.lastSeq;
    this.stateTouched = false;
    let cut: Cut | null = null;
    try {
      // only the rule states that changed since the last snapshot: an operator's note does not
      // rewrite every rule's state
      cut = await this.rules.snapshot((changed): Cut => {
        const ruleStates = { ...this.unsaved, ...changed };
        this.unsaved = {};
        const flags = this.flags.cut();
        if (flags !== null) ruleStates[FLAGS_KEY] = flags;
        // readable as "not yet stored" until the transaction committed (alertReads.ts)
        return { mark: this.markOf(), ruleStates, flags, changes: this.book.cut() };
      });
      await this.sink.saveCheckpoint({ lastSeq, ruleStates: cut.ruleStates, ...cut.changes }, cut.mark);
      this.book.saved();
      this.savedSeq = lastSeq;
      this.persist = { ok: true, consecutiveFailures: 0, failures: this.persist.failures, lastError: null, failingSince: null, lastSavedAt: this.now() };
    } catch (err) {
      this.persist = {
        ok: false, consecutiveFailures: this.persist.consecutiveFailures + 1, failures: this.persist.failures + 1,
        lastError: (err as Error).message, failingSince: this.persist.failingSince ?? this.now(), lastSavedAt: this.persist.lastSavedAt,
      };
      // keep them for the next attempt
      if (cut) {
        this.book.restore(cut.changes);
        const { [FLAGS_KEY]: _flags, ...states } = cut.ruleStates;
        this.unsaved = { ...states, ...this.unsaved };
        if (cut.flags !== null) this.flags.unsaved();
      }
      this.stateTouched = true;
      throw err;
    }
  }
}
