// The arithmetic of the wall's connection-coverage panel (coverage.js; docs/dashboard.md,
// Operators' wall): one row per family from GET /api/devices/coverage. No DOM and no imports,
// so it is table-tested in Node (test/dashboard/coverageRows.test.ts).

/** The families, in the wall's order (the kpis, the domain panels). */
export const coverageFamilies = ['kitchen', 'elevator', 'cylinder', 'dispenser'];

/** Shown instead of a percentage when nothing is registered: never 0 %, never NaN. */
export const NO_PERCENT = '—';

const whole = (n) => (Number.isInteger(n) && n > 0 ? n : 0);

/**
 * `part / total` as a whole percentage, rounded down: "100%" only when every device is counted
 * (the goal is every registered device connected, so 999 of 1000 must not read as 100 %), and
 * "<1%" rather than "0%" when some are; "—" when `total` is 0.
 */
export function percentText(part, total) {
  const t = whole(total);
  if (!t) return NO_PERCENT;
  const p = Math.min(whole(part), t);
  if (p === t) return '100%';
  if (p === 0) return '0%';
  const pct = Math.floor((p * 100) / t);
  return pct < 1 ? '<1%' : `${pct}%`;
}

/**
 * Per family (every family, in coverageFamilies' order, also one the answer lacks): the counts,
 * `connected` ("connected now/registered"), `coverage` (ever connected / registered, as
 * percentText) and `complete` (registered and none never connected).
 */
export function coverageRows(answer) {
  const byFamily = new Map((Array.isArray(answer?.byFamily) ? answer.byFamily : []).map((r) => [r?.family, r]));
  return coverageFamilies.map((family) => {
    const r = byFamily.get(family) ?? {};
    const registered = whole(r.registered);
    const everConnected = Math.min(whole(r.everConnected), registered);
    const connectedNow = Math.min(whole(r.connectedNow), everConnected);
    const neverConnected = registered - everConnected;
    return {
      family, registered, everConnected, connectedNow, neverConnected,
      connected: `${connectedNow}/${registered}`,
      coverage: percentText(everConnected, registered),
      complete: registered > 0 && neverConnected === 0,
    };
  });
}
