/**
 * A store whose readings repository is the real one with some methods replaced: the tests'
 * seam for slow, gated or failing commits. The real store is left as it is.
 */
import type { ReadingRepository, Store } from '../../store/types.js';

export function withReadings(store: Store, patch: Partial<ReadingRepository>): Store {
  const readings = Object.assign(Object.create(store.readings) as ReadingRepository, patch);
  return Object.create(store, { readings: { value: readings } }) as Store;
}

/**
 * Put `around` in front of every write of readings into `store` (the journal's applier writes
 * frames when the store takes them, objects otherwise): the seam for a failing or hanging
 * DuckDB behind the journal, whichever thread it runs in.
 */
export function aroundAppends(store: Store, around: (write: () => Promise<void>) => Promise<void>): void {
  const r = store.readings;
  if (r.appendFrames) {
    const real = r.appendFrames.bind(r);
    r.appendFrames = (frames) => around(() => real(frames));
  } else {
    const real = r.appendBatch.bind(r);
    r.appendBatch = (readings, deadLetters, payloads) => around(async () => { await real(readings, deadLetters, payloads); });
  }
}
