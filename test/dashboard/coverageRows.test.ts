/**
 * The arithmetic of the wall's connection-coverage panel (dashboard/ui/js/coverageRows.js;
 * docs/dashboard.md, Operators' wall), as tables: coverage = ever connected / registered, a
 * whole percentage rounded down (100 % only when every registered device has connected, "<1%"
 * rather than 0 % when some have), "—" when none is registered (never 0 % or NaN); one row per
 * family, in the wall's order, whatever the answer holds.
 */
import { describe, expect, it } from 'vitest';

interface Row {
  family: string; registered: number; everConnected: number; connectedNow: number; neverConnected: number;
  connected: string; coverage: string; complete: boolean;
}
interface CoverageRowsModule {
  coverageFamilies: string[];
  NO_PERCENT: string;
  percentText: (part: unknown, total: unknown) => string;
  coverageRows: (answer: unknown) => Row[];
}

// a browser module (plain JS, no declarations): imported by URL so the compiler does not type it
const ui = (await import(new URL('../../dashboard/ui/js/coverageRows.js', import.meta.url).href)) as CoverageRowsModule;

const counts = (family: string, registered: number, everConnected: number, connectedNow: number): Record<string, unknown> => ({
  family, registered, everConnected, connectedNow, neverConnected: registered - everConnected,
  coverage: registered ? everConnected / registered : null, connectedNowRatio: registered ? connectedNow / registered : null,
});

describe('percentText(part, total)', () => {
  it.each([
    // part, total, shown
    [0, 0, '—'],
    [3, 0, '—'],
    [0, 5, '0%'],
    [5, 5, '100%'],
    [1, 3, '33%'],
    [2, 3, '66%'],
    [1, 2, '50%'],
    [999, 1000, '99%'],
    [9999, 10_000, '99%'],
    [1, 1000, '<1%'],
    [10, 1000, '1%'],
    [7, 5, '100%'],
    [-1, 5, '0%'],
    [null, 5, '0%'],
    [2, null, '—'],
    [2, Number.NaN, '—'],
    [2, -4, '—'],
    [1.5, 3, '0%'],
  ] as const)('%s of %s -> %s', (part, total, shown) => {
    expect(ui.percentText(part, total)).toBe(shown);
  });

  it('"—" is the dash the panel shows, never 0 % or NaN', () => {
    expect(ui.NO_PERCENT).toBe('—');
    for (const total of [0, null, undefined, Number.NaN]) expect(ui.percentText(0, total)).not.toMatch(/0%|NaN/);
  });
});

describe('coverageRows(answer)', () => {
  it.each([
    // family counts (registered, ever connected, connected now) -> connected, coverage, never connected, complete
    ['elevator', 5, 3, 2, '2/5', '60%', 2, false],
    ['elevator', 4, 4, 4, '4/4', '100%', 0, true],
    ['elevator', 4, 4, 1, '1/4', '100%', 0, true],
    ['elevator', 3, 0, 0, '0/3', '0%', 3, false],
    ['elevator', 0, 0, 0, '0/0', '—', 0, false],
    ['kitchen', 1000, 999, 990, '990/1000', '99%', 1, false],
  ] as const)('%s %i registered, %i ever, %i now -> %s, %s, %i never', (family, registered, ever, now, connected, coverage, never, complete) => {
    const row = ui.coverageRows({ byFamily: [counts(family, registered, ever, now)] }).find((r) => r.family === family)!;
    expect(row).toEqual({ family, registered, everConnected: ever, connectedNow: now, neverConnected: never, connected, coverage, complete });
  });

  it('one row per family, in the wall\'s order, as the API answers them', () => {
    const answer = {
      at: '2026-11-10T06:00:00.000Z',
      total: counts('', 9, 6, 4),
      byFamily: [counts('kitchen', 4, 3, 3), counts('elevator', 5, 3, 1), counts('cylinder', 0, 0, 0), counts('dispenser', 0, 0, 0)],
      byDistrict: [],
    };
    expect(ui.coverageRows(answer).map((r) => [r.family, r.connected, r.coverage, r.neverConnected])).toEqual([
      ['kitchen', '3/4', '75%', 1],
      ['elevator', '1/5', '60%', 2],
      ['cylinder', '0/0', '—', 0],
      ['dispenser', '0/0', '—', 0],
    ]);
    expect(ui.coverageFamilies).toEqual(['kitchen', 'elevator', 'cylinder', 'dispenser']);
  });

  it.each([
    ['nothing', undefined],
    ['null', null],
    ['no byFamily', {}],
    ['byFamily not a list', { byFamily: 'x' }],
    ['a family missing', { byFamily: [counts('kitchen', 2, 1, 1)] }],
  ])('an answer with %s still gives every family, "—" where none is registered', (_what, answer) => {
    const rows = ui.coverageRows(answer);
    expect(rows.map((r) => r.family)).toEqual(ui.coverageFamilies);
    for (const r of rows.filter((x) => x.registered === 0)) expect([r.connected, r.coverage, r.neverConnected, r.complete]).toEqual(['0/0', '—', 0, false]);
  });

  it('inconsistent counts are clamped: never more ever connected than registered, nor connected now than ever connected', () => {
    const [row] = ui.coverageRows({ byFamily: [{ family: 'kitchen', registered: 2, everConnected: 5, connectedNow: 9 }] });
    expect(row).toMatchObject({ registered: 2, everConnected: 2, connectedNow: 2, neverConnected: 0, connected: '2/2', coverage: '100%', complete: true });
  });
});
