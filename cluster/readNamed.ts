/**
 * What a node's cache re-reads when another node names records it changed
 * (cluster/changeBus.ts): the named ones ('all': every one), through `some` where the store can
 * read a few, else picked out of `all`. This node's own writes may land while the store is read
 * and be missing from what was read: while its `generation` (bumped by each of its writes)
 * moves during a read, the read is done again, three times at most.
 */
export interface NamedReads<T> {
  all(): Promise<T[]>;
  some?(names: readonly string[]): Promise<T[]>;
}

export async function readNamed<T>(names: readonly string[] | 'all', nameOf: (record: T) => string, reads: NamedReads<T>, generation: () => number): Promise<T[]> {
  const read = async (): Promise<T[]> => {
    if (names !== 'all' && reads.some) return reads.some(names);
    const all = await reads.all();
    if (names === 'all') return all;
    const wanted = new Set(names);
    return all.filter((r) => wanted.has(nameOf(r)));
  };
  let fresh: T[];
  for (let tries = 0; ; tries++) {
    const before = generation();
    fresh = await read();
    if (before === generation() || tries === 2) return fresh;
  }
}
