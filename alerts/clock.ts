/**
 * What the clock does to the alerts and cases in a book, beside the timer rules: the black
 * list's clean period, alerts' handling deadlines, 96333 rescue deadlines and escalations. The
 * engine (alerts/engine.ts) and each slot's engine in cluster mode (cluster/slotEngine.ts) tick
 * their own book with it.
 */
import { deadlineEvents, type TimelineAction } from '../core/alerts/alert.js';
import { evaluateDeadlines, type DeadlinePolicy } from '../core/alerts/deadlines.js';
import { evaluateRescue, type RescuePolicy } from '../core/alerts/rescueCase.js';
import { defaultStoreListPolicy, type StoreListPolicy } from '../core/stores/storeList.js';
import type { AlertBook } from './alertBook.js';
import type { EffectExecutor } from './effects.js';
import type { StoreFlags } from './storeFlags.js';

export interface ClockPolicies {
  deadlinePolicy: DeadlinePolicy;
  rescuePolicy: RescuePolicy;
  storeListPolicy?: StoreListPolicy;
}

/** Returns whether a black-list entry lapsed (rule state to checkpoint: the book tracks its own changes). */
export function clockBook(book: AlertBook, flags: StoreFlags, effects: EffectExecutor, opts: ClockPolicies, now: number): boolean {
  let flagsChanged = false;
  for (const entry of flags.lapse(now, opts.storeListPolicy ?? defaultStoreListPolicy)) {
    flagsChanged = true;
    effects.emitEntry(entry);
  }
  for (const a of book.activeAlerts()) {
    const { state, events } = evaluateDeadlines(a.deadlines, now, opts.deadlinePolicy);
    if (!events.length) continue;
    book.put(deadlineEvents(a, events as TimelineAction[], { deadlines: state }, now), 'updated');
  }
  for (const c of book.activeCases()) {
    const { state, events } = evaluateRescue(c, now, opts.rescuePolicy);
    if (events.length) book.putCase(state, 'updated', events);
  }
  return flagsChanged;
}
