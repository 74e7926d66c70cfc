/**
 * The notes bench:api (P7) adds through `POST /api/alerts/:id/note` before measuring, as an
 * operator would write them, a few workers at once.
 */
import type { Api } from './operatorApi.js';

/** A note of `len` characters, as an operator would write them. */
function noteText(len: number, i: number): string {
  const s = `Note ${i}: called the unit on site; maintenance contractor informed, technician on the way, photos to follow. `;
  return s.repeat(Math.ceil(len / s.length)).slice(0, len).trim();
}

export interface NoteResult { added: number; refused: number; failed: number; skipped: number; firstError: string; perAlert: Map<string, number>; ms: number[] }

/** Failures in a row after which the notes stop (the service is failing; measuring goes on). */
export const NOTE_FAILURES_IN_A_ROW = 20;

export async function addNotes(api: Api, plan: Array<{ alertId: string; len: number }>, concurrency: number, deadline: number): Promise<NoteResult> {
  const res: NoteResult = { added: 0, refused: 0, failed: 0, skipped: 0, firstError: '', perAlert: new Map(), ms: [] };
  const capped = new Set<string>();
  let inARow = 0;
  let next = 0;
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < plan.length) {
      if (Date.now() > deadline || inARow >= NOTE_FAILURES_IN_A_ROW) { res.skipped = plan.length - next; next = plan.length; return; }
      const i = next++;
      const p = plan[i]!;
      if (capped.has(p.alertId)) { res.refused++; continue; }
      const t0 = performance.now();
      try {
        const r = await api.post(`/api/alerts/${encodeURIComponent(p.alertId)}/note`, { note: noteText(p.len, i) });
        res.ms.push(performance.now() - t0);
        if (r.status === 200) { res.added++; inARow = 0; res.perAlert.set(p.alertId, (res.perAlert.get(p.alertId) ?? 0) + 1); }
        else if (r.status === 409 && r.text.includes('note_limit')) { res.refused++; inARow = 0; capped.add(p.alertId); }
        else { res.failed++; inARow++; res.firstError ||= `${r.status} ${r.text.slice(0, 200)}`; }
      } catch (e) {
        res.failed++;
        inARow++;
        const cause = (e as Error & { cause?: Error }).cause;
        res.firstError ||= `${(e as Error).message}${cause ? ` (${cause.message})` : ''} after ${(performance.now() - t0).toFixed(0)} ms`;
      }
    }
  }));
  res.ms.sort((a, b) => a - b);
  return res;
}
