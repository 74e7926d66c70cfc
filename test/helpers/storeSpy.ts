/**
 * A store whose readings repository is the real one with some methods replaced: the tests'
 * seam for slow, gated or failing commits. The real store is left as it is.
 */
import type { ReadingRepository, Store } from '../../store/types.js';

export function withReadings(store: Store, patch: Partial<ReadingRepository>): Store {
  const readings = Object.assign(Object.create(store.readings) as ReadingRepository, patch);
  return Object.create(store, { readings: { value: readings } }) as Store;
}
