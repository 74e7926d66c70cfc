/**
 * The plan of device-clustered history (store/readingRuns.ts), as tables: levels, which step
 * comes next, which runs a query must look into, what a merge produces. And the loop that
 * runs the steps (store/readingArchiver.ts) against a scripted target.
 */
import { describe, expect, it } from 'vitest';
import { levelOf, mergedRun, nextStep, runsMatching, type ArchiveStep, type ReadingRun, type RunPolicy } from '../../store/readingRuns.js';
import { ReadingArchiver } from '../../store/readingArchiver.js';

const p: RunPolicy = { runRows: 100, sealAfterMs: 1000, fanout: 4, maxLevel: 2 };

const run = (id: number, over: Partial<ReadingRun> = {}): ReadingRun => ({
  id, base: 'r_a', level: 0, rows: 100, seqMin: id * 100, seqMax: id * 100 + 99, tsMin: id * 1000, tsMax: id * 1000 + 999, receivedMax: id * 1000 + 999, ...over,
});

describe('levelOf', () => {
  it.each([
    [0, 0], [1, 0], [100, 0], [199, 0], [200, 1], [400, 1], [799, 1], [800, 2], [1600, 2], [1_000_000, 2],
  ])('%i rows -> level %i (boundaries at half of runRows x fanout^level, capped at maxLevel)', (rows, level) => {
    expect(levelOf(rows, p)).toBe(level);
  });
});

describe('nextStep', () => {
  const hot = (rows: number, oldestReceived: number | null = rows ? 0 : null) => ({ rows, oldestReceived });
  const now = 10_000;
  const cases: Array<[string, Parameters<typeof nextStep>[0], ArchiveStep | null]> = [
    ['nothing at all', [{ base: 'r_a', hot: hot(0), runs: [] }], null],
    ['hot just under runRows and young', [{ base: 'r_a', hot: hot(99, now - 999), runs: [] }], null],
    ['hot at runRows', [{ base: 'r_a', hot: hot(100, now), runs: [] }], { kind: 'seal', base: 'r_a' }],
    ['hot small but its oldest row is sealAfterMs old', [{ base: 'r_a', hot: hot(1, now - 1000), runs: [] }], { kind: 'seal', base: 'r_a' }],
    ['a full hot table comes before an old one', [{ base: 'r_a', hot: hot(5, 0), runs: [] }, { base: 'r_b', hot: hot(100, now), runs: [] }], { kind: 'seal', base: 'r_b' }],
    ['three level-0 runs: not yet', [{ base: 'r_a', hot: hot(0), runs: [run(1), run(2), run(3)] }], null],
    ['four level-0 runs: merge them', [{ base: 'r_a', hot: hot(0), runs: [run(3), run(1), run(2), run(4)] }],
      { kind: 'merge', base: 'r_a', runs: [run(1), run(2), run(3), run(4)] }],
    ['five: the oldest four by seq', [{ base: 'r_a', hot: hot(0), runs: [run(5, { seqMin: 1 }), run(1), run(2), run(3), run(4)] }],
      { kind: 'merge', base: 'r_a', runs: [run(5, { seqMin: 1 }), run(1), run(2), run(3)] }],
    ['sealing comes before merging', [{ base: 'r_a', hot: hot(100, now), runs: [run(1), run(2), run(3), run(4)] }], { kind: 'seal', base: 'r_a' }],
    ['lower levels first, across tables', [
      { base: 'r_a', hot: hot(0), runs: [1, 2, 3, 4].map((i) => run(i, { level: 1 })) },
      { base: 'r_b', hot: hot(0), runs: [5, 6, 7, 8].map((i) => run(i, { base: 'r_b' })) },
    ], { kind: 'merge', base: 'r_b', runs: [5, 6, 7, 8].map((i) => run(i, { base: 'r_b' })) }],
    ['runs at maxLevel are never merged', [{ base: 'r_a', hot: hot(0), runs: [1, 2, 3, 4, 5].map((i) => run(i, { level: 2 })) }], null],
  ];
  it.each(cases)('%s', (_name, tables, expected) => {
    expect(nextStep(tables, p, now)).toEqual(expected);
  });
});

describe('runsMatching', () => {
  const runs = [run(1), run(2), run(3)]; // ts 1000-1999, 2000-2999, 3000-3999; seq 100-199, ...
  it.each([
    ['no filter', {}, [1, 2, 3]],
    ['window inside one run', { from: 2100, to: 2200 }, [2]],
    ['window touching two runs at their edges', { from: 1999, to: 3000 }, [1, 2, 3]],
    ['window after everything', { from: 4000 }, []],
    ['window before everything', { to: 999 }, []],
    ['after a seq', { after: 199 }, [2, 3]],
    ['after the last seq', { after: 399 }, []],
    ['received since', { receivedSince: 2999 }, [2, 3]],
    ['all filters together', { from: 0, to: 5000, after: 250, receivedSince: 3500 }, [3]],
  ] as const)('%s', (_name, f, ids) => {
    expect(runsMatching(runs, f).map((r) => r.id)).toEqual(ids);
  });
});

describe('mergedRun', () => {
  it('sums rows, spans every range, takes the level of its size', () => {
    expect(mergedRun(9, [run(1), run(2, { tsMin: 500 }), run(3, { receivedMax: 99_999 }), run(4)], p)).toEqual({
      id: 9, base: 'r_a', level: 1, rows: 400, seqMin: 100, seqMax: 499, tsMin: 500, tsMax: 4999, receivedMax: 99_999,
    });
  });
});

describe('ReadingArchiver', () => {
  const script = (steps: Array<ArchiveStep | null | Error>) => {
    const calls: number[] = [];
    return {
      calls,
      target: {
        maintainReadings: async (safeSeq: number) => {
          calls.push(safeSeq);
          const s = steps.shift() ?? null;
          if (s instanceof Error) throw s;
          return s;
        },
      },
    };
  };

  it('drain runs steps until there is nothing to do, passing the safe point', async () => {
    const { calls, target } = script([{ kind: 'seal', base: 'r_a' }, { kind: 'seal', base: 'r_b' }, null]);
    const a = new ReadingArchiver(target, { policy: p, intervalMs: 1000, safeSeq: () => 42 });
    expect(await a.drain()).toBe(2);
    expect(calls).toEqual([42, 42, 42]);
  });

  it('stop interrupts the step in progress, waits for it, and does not count it as a failure', async () => {
    let release: (() => void) | null = null;
    let interrupted = 0;
    const target = {
      maintainReadings: () => new Promise<ArchiveStep | null>((_, reject) => { release = () => reject(new Error('INTERRUPT Error: Interrupted!')); }),
      interruptMaintenance: () => { interrupted++; release?.(); },
    };
    const errors: unknown[] = [];
    const a = new ReadingArchiver(target, { policy: p, intervalMs: 5, safeSeq: () => 1, onError: (e) => errors.push(e) });
    a.start();
    await new Promise((r) => setTimeout(r, 30));
    expect(release).not.toBeNull();
    await a.stop();
    expect(interrupted).toBe(1);
    expect(errors).toEqual([]);
    expect(a.status().failures).toBe(0);
  });

  it('the loop goes back to back while there is work, reports a failure and carries on, and stop waits', async () => {
    const { calls, target } = script([{ kind: 'seal', base: 'r_a' }, new Error('disk full'), { kind: 'seal', base: 'r_b' }, null]);
    const errors: unknown[] = [];
    const done: string[] = [];
    const a = new ReadingArchiver(target, {
      policy: p, intervalMs: 20, safeSeq: () => 7, onError: (e) => errors.push(e), onStep: (s) => done.push(s.base),
    });
    a.start();
    await new Promise((r) => setTimeout(r, 200));
    await a.stop();
    const n = calls.length;
    expect(done).toEqual(['r_a', 'r_b']);
    expect(errors.map((e) => (e as Error).message)).toEqual(['disk full']);
    await new Promise((r) => setTimeout(r, 60));
    expect(calls.length).toBe(n); // nothing after stop
  });
});
