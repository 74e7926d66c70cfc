/**
 * The replay after a restart (alerts/engine.ts): the readings stored after the last checkpoint,
 * fed to the rules again with each reading's receive time as the clock, so a restart in the
 * middle of a timer or cooldown gives the same alerts. A long backlog goes in bounded steps,
 * each checkpointed before the next is read, so memory does not grow with it.
 */
import type { Logger } from 'pino';
import type { Reading, Store } from '../store/types.js';

/** Readings replayed between two checkpoints at start: what the replay holds in memory is bounded. */
export const REPLAY_BATCH = 5000;

export interface Replayed {
  store: Store;
  log: Logger;
  tickMs: number;
  /** the seq of the last reading the rules have seen */
  lastSeq(): number;
  readings(batch: readonly Reading[]): void;
  tick(now: number): void;
  checkpoint(): Promise<void>;
  /** effects are applied as replayed ones (no scan replies) between these */
  replaying(on: boolean): void;
  /** resolves once the rules handed over every effect of what they were fed */
  settled(): Promise<void>;
}

export async function replayStored(e: Replayed): Promise<void> {
  e.replaying(true);
  let lastTick = 0;
  try {
    for (;;) {
      const batch = await e.store.readings.after(e.lastSeq(), REPLAY_BATCH);
      if (!batch.length) break;
      // timers that fell due between two replayed readings fire in order, on the same clock
      // resolution as live operation (not once per reading: a replay can be long); the
      // readings between two ticks go to the rules together
      let from = 0;
      for (let i = 0; i < batch.length; i++) {
        const r = batch[i]!;
        if (r.receivedAt - lastTick < e.tickMs) continue;
        e.readings(batch.slice(from, i));
        from = i;
        e.tick(r.receivedAt);
        lastTick = r.receivedAt;
      }
      e.readings(batch.slice(from));
      e.log.info({ upTo: e.lastSeq(), count: batch.length }, 'alert engine replayed stored readings');
      await e.checkpoint();
    }
  } finally {
    // the worker's effects of the replayed readings are applied as replayed ones
    await e.settled().catch(() => undefined);
    e.replaying(false);
  }
  await e.checkpoint();
}
