/**
 * What a (re)connecting /ws client gets (docs/dashboard.md, Catch-up). Pure.
 *
 * - no `since`: nothing to replay (a fresh client loads the current state through the API);
 * - `epoch` of another service run (the service restarted, numbering began again): resync;
 * - `since` ahead of the newest event: resync (it cannot be from this run);
 * - everything after `since` still in the ring: replay it;
 * - some of it already dropped from the ring: resync (reload through the API).
 */
export type CatchUp =
  | { kind: 'none' }
  | { kind: 'replay'; after: number }
  | { kind: 'resync'; reason: 'too_old' | 'other_epoch' | 'ahead' };

export interface CatchUpRequest {
  since: number | null;
  epoch: string | null;
}

export interface RingState {
  epoch: string;
  /** oldest kept seq, null when nothing was kept yet */
  oldest: number | null;
  last: number;
}

export function decideCatchUp(req: CatchUpRequest, ring: RingState): CatchUp {
  if (req.since === null) return { kind: 'none' };
  if (req.epoch !== null && req.epoch !== ring.epoch) return { kind: 'resync', reason: 'other_epoch' };
  if (req.since > ring.last) return { kind: 'resync', reason: 'ahead' };
  if (req.since === ring.last) return { kind: 'none' };
  if (ring.oldest === null || req.since + 1 < ring.oldest) return { kind: 'resync', reason: 'too_old' };
  return { kind: 'replay', after: req.since };
}

/** Parse `since` and `epoch` from a query string or an auth message; bad values read as absent. */
export function parseCatchUp(since: unknown, epoch: unknown): CatchUpRequest {
  const n = typeof since === 'number' ? since : typeof since === 'string' && /^\d{1,15}$/.test(since) ? Number(since) : NaN;
  return {
    since: Number.isSafeInteger(n) && n >= 0 ? n : null,
    epoch: typeof epoch === 'string' && /^[A-Za-z0-9_-]{1,64}$/.test(epoch) ? epoch : null,
  };
}
