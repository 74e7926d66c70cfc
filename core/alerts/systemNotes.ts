/**
 * The notes the system writes on alert timelines and store-list steps (an auto-resolve's
 * reason, a rescue case closing its alerts, a store lapsing off the black list), each by a
 * stable code with parameters. The English `note` kept beside the code (API consumers, logs,
 * exports) is rendered here from the code's template, so the two never disagree; the UI shows
 * the code in its own language (`sysnote.<code>` in dashboard/ui/i18n.json, same `{param}`
 * placeholders), and the stored English only for entries written before codes were kept.
 */

/** Every code with its English template; `{name}` is a parameter. Append codes, never rename one (they are stored). */
export const systemNoteTemplates = {
  /** an offline / silence alert resolved: the device sent a message */
  'offline.message_received': 'message received',
  /** an offline alert resolved: the device connected again */
  'offline.reconnected': 'reconnected',
  /** an elevator fault resolved by the terminal's back-to-normal event */
  'fault.back_to_normal': 'event {event} back to normal (seq {seq})',
  /** a repeat-offender alert resolved: a false positive left too few valid alerts */
  'repeat_offender.lifted': 'false positive {occurrence}: {valid} valid alerts left, threshold {threshold}',
  /** a trapped alert acknowledged by the rescue case's dispatch */
  'rescue.dispatched': 'rescue dispatched (96333)',
  /** a trapped alert resolved by the end of its rescue case */
  'rescue.closed': 'rescue case closed',
  /** a trapped alert resolved by its rescue case ending as a false alarm; `note` is the dispatcher's reason */
  'rescue.false_alarm': 'rescue case: false alarm ({note})',
  /** a store off the black list: false positives left its flag without ground */
  'store_list.lifted': 'no longer enough counted alerts ({count}): false positives marked',
  /** a store off the black list: no counted alert for the clean period */
  'store_list.lapsed': 'no counted alert for {days} days',
} as const;

export type SystemNoteCode = keyof typeof systemNoteTemplates;
export const systemNoteCodes = Object.keys(systemNoteTemplates) as SystemNoteCode[];

export type NoteParams = Record<string, string | number>;

/** A coded note: its code, parameters (absent when it has none) and the English rendering. */
export interface SystemNote {
  code: SystemNoteCode;
  params?: NoteParams;
  note: string;
}

type Placeholders<T extends string> = T extends `${string}{${infer P}}${infer Rest}` ? P | Placeholders<Rest> : never;
/** The parameters a code's template names, e.g. `{ event, seq }` for `fault.back_to_normal`. */
export type ParamsOf<C extends SystemNoteCode> = Record<Placeholders<(typeof systemNoteTemplates)[C]>, string | number>;
type ParamsArg<C extends SystemNoteCode> = [Placeholders<(typeof systemNoteTemplates)[C]>] extends [never] ? [] : [ParamsOf<C>];

export const isSystemNoteCode = (code: string): code is SystemNoteCode => Object.prototype.hasOwnProperty.call(systemNoteTemplates, code);

/** The English text of a code with its parameters (a parameter's own text is not scanned again). */
export function renderSystemNote(code: SystemNoteCode, params: NoteParams = {}): string {
  return systemNoteTemplates[code].replace(/\{(\w+)\}/g, (m, k: string) => (params[k] === undefined ? m : String(params[k])));
}

/** A coded note, its parameters checked against the template: systemNote('store_list.lapsed', { days: 30 }). */
export function systemNote<C extends SystemNoteCode>(code: C, ...params: ParamsArg<C>): SystemNote {
  return systemNoteOf(code, params[0]);
}

/** The same, from a code and parameters read back (an effect, a stored row). */
export function systemNoteOf(code: SystemNoteCode, params?: NoteParams): SystemNote {
  return { code, ...(params && Object.keys(params).length ? { params } : {}), note: renderSystemNote(code, params) };
}

/** A coded note as a resolve effect's fields (core/alerts/types.ts ResolveAlert): `reason` is the English. */
export function resolveReason<C extends SystemNoteCode>(code: C, ...params: ParamsArg<C>): { code: SystemNoteCode; params?: NoteParams; reason: string } {
  const { note, ...rest } = systemNoteOf(code, params[0]);
  return { ...rest, reason: note };
}
