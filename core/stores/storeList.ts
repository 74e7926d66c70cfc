/**
 * The public store lists (红黑榜, docs/domain.md §1; Bole: 47 eateries on the black list pushed
 * to delivery platforms, 90 praised): the black list as a life cycle, and the red list.
 *
 * Black list: the repeat-offender rule flags a store (3+ class-1/2 alerts in 7 days) ->
 * the bureau notifies it -> the store rectifies -> the bureau re-checks -> the bureau lifts it.
 * Each step is a person's, with a note (who did what, and why, is the public record). A store
 * with no counted alert for `cleanPeriodMs` since its last one lapses off the list by itself
 * (`lapsed`, by the system); a false-positive marking that leaves the flag without ground
 * lifts it (by the system). A store flagged again after it left the list starts a new entry.
 *
 * Red list: the stores with a clean record over a period (no counted alert in it) and not on
 * the black list. Pure: `now` is passed in.
 */
import { systemNote, type NoteParams } from '../alerts/systemNotes.js';

export const listStages = ['flagged', 'notified', 'rectified', 'rechecked', 'lifted', 'lapsed'] as const;
export type ListStage = (typeof listStages)[number];

/** The stages a person records, in order. */
export const personStages = ['notified', 'rectified', 'rechecked', 'lifted'] as const;
export type PersonStage = (typeof personStages)[number];

export interface ListStep {
  stage: ListStage;
  at: number;
  /** user name, or `system` */
  by: string;
  /** English text: a person's note, or a system note rendered from `code` */
  note?: string;
  /** a step the system took: its note's code in core/alerts/systemNotes.ts, with parameters (absent on people's steps and older ones) */
  code?: string;
  params?: NoteParams;
}

export interface BlackListEntry {
  storeId: string;
  stage: ListStage;
  flaggedAt: number;
  /** counted alerts in the rule's window when last flagged */
  count: number;
  /** the last counted alert: the clean period runs from here */
  lastAlertAt: number;
  steps: ListStep[];
  updatedAt: number;
}

export interface StoreListPolicy {
  /** a listed store with no counted alert for this long lapses off the list */
  cleanPeriodMs: number;
}

const DAY = 86_400_000;
export const defaultStoreListPolicy: StoreListPolicy = { cleanPeriodMs: 30 * DAY };

export const onList = (e: BlackListEntry): boolean => e.stage !== 'lifted' && e.stage !== 'lapsed';

/** The rule flagged the store (again): a new entry, or the running one with the new count. */
export function flagStore(entry: BlackListEntry | undefined, storeId: string, count: number, at: number): BlackListEntry {
  if (entry && onList(entry)) return { ...entry, count, lastAlertAt: Math.max(entry.lastAlertAt, at), updatedAt: at };
  return { storeId, stage: 'flagged', flaggedAt: at, count, lastAlertAt: at, steps: [{ stage: 'flagged', at, by: 'system' }], updatedAt: at };
}

/** The flag lost its ground (false positives marked): off the list, by the system. */
export function unflagStore(entry: BlackListEntry, count: number, at: number): BlackListEntry {
  if (!onList(entry)) return entry;
  return { ...entry, stage: 'lifted', count, updatedAt: at, steps: [...entry.steps, { stage: 'lifted', at, by: 'system', ...systemNote('store_list.lifted', { count }) }] };
}

export type ListRefusal = { refused: 'not_listed' | 'stage_out_of_order' | 'note_required'; message: string };

/** A person's step: the next stage in order (a step may not be skipped), with a note. */
export function advanceStore(entry: BlackListEntry, stage: PersonStage, by: string, note: string, now: number): BlackListEntry | ListRefusal {
  if (!onList(entry)) return { refused: 'not_listed', message: `store ${entry.storeId} is not on the black list (${entry.stage})` };
  const next = listStages[listStages.indexOf(entry.stage) + 1];
  if (stage !== next) return { refused: 'stage_out_of_order', message: `store ${entry.storeId} is ${entry.stage}; the next step is ${next}` };
  const text = note.trim();
  if (!text) return { refused: 'note_required', message: 'each step of the list needs a note (what was done)' };
  return { ...entry, stage, updatedAt: now, steps: [...entry.steps, { stage, at: now, by, note: text }] };
}

/** Lapse a listed store whose last counted alert is older than the clean period; null when nothing changes. */
export function lapseIfClean(entry: BlackListEntry, now: number, policy: StoreListPolicy): BlackListEntry | null {
  if (!onList(entry) || now - entry.lastAlertAt <= policy.cleanPeriodMs) return null;
  const days = Math.round(policy.cleanPeriodMs / DAY);
  return { ...entry, stage: 'lapsed', updatedAt: now, steps: [...entry.steps, { stage: 'lapsed', at: now, by: 'system', ...systemNote('store_list.lapsed', { days }) }] };
}

export interface KnownStore {
  storeId: string;
  storeName: string | null;
  district: string | null;
}

/** The red list: known stores without a counted alert in the period and not on the black list, by id. */
export function redList(stores: readonly KnownStore[], countedInPeriod: ReadonlySet<string>, black: readonly BlackListEntry[]): KnownStore[] {
  const listed = new Set(black.filter(onList).map((e) => e.storeId));
  return stores.filter((s) => !countedInPeriod.has(s.storeId) && !listed.has(s.storeId)).sort((a, b) => a.storeId.localeCompare(b.storeId));
}
