/**
 * The system notes' catalog (core/alerts/systemNotes.ts) as a table: every code renders its
 * English from its parameters, each one the template names and no other, with nothing left
 * unfilled; a note built from a code carries the code, parameters and that English together.
 */
import { describe, expect, it } from 'vitest';
import {
  isSystemNoteCode, renderSystemNote, resolveReason, systemNote, systemNoteCodes, systemNoteOf, systemNoteTemplates,
  type NoteParams, type SystemNoteCode,
} from '../../../core/alerts/systemNotes.js';

/** One row per code (the type holds every code to a row): its parameters, and the English expected. */
const rows: Record<SystemNoteCode, [NoteParams, string]> = {
  'offline.message_received': [{}, 'message received'],
  'offline.reconnected': [{}, 'reconnected'],
  'fault.back_to_normal': [{ event: 40, seq: 1234 }, 'event 40 back to normal (seq 1234)'],
  'repeat_offender.lifted': [{ occurrence: 'cam-1/rat/7', valid: 2, threshold: 3 }, 'false positive cam-1/rat/7: 2 valid alerts left, threshold 3'],
  'rescue.dispatched': [{}, 'rescue dispatched (96333)'],
  'rescue.closed': [{}, 'rescue case closed'],
  'rescue.false_alarm': [{ note: '住户误按 {x}' }, 'rescue case: false alarm (住户误按 {x})'],
  'store_list.lifted': [{ count: 2 }, 'no longer enough counted alerts (2): false positives marked'],
  'store_list.lapsed': [{ days: 30 }, 'no counted alert for 30 days'],
};

const placeholders = (text: string): string[] => [...text.matchAll(/\{(\w+)\}/g)].map((m) => m[1]!).sort();

describe('system notes', () => {
  it('the table has every code of the catalog, and codes are stable dotted snake_case names', () => {
    expect(Object.keys(rows).sort()).toEqual([...systemNoteCodes].sort());
    for (const code of systemNoteCodes) expect(code).toMatch(/^[a-z]+(_[a-z]+)*(\.[a-z]+(_[a-z]+)*)+$/);
  });

  it.each(Object.entries(rows) as Array<[SystemNoteCode, [NoteParams, string]]>)('%s renders its English from its parameters', (code, [params, english]) => {
    expect(Object.keys(params).sort()).toEqual(placeholders(systemNoteTemplates[code]));
    expect(renderSystemNote(code, params)).toBe(english);
    // a parameter's own text is not read as a placeholder (rescue.false_alarm's note is the dispatcher's)
    const n = systemNoteOf(code, params);
    expect(n).toEqual({ code, ...(Object.keys(params).length ? { params } : {}), note: english });
    expect(isSystemNoteCode(code)).toBe(true);
  });

  it('the typed builders carry code, parameters and the same English', () => {
    expect(systemNote('store_list.lapsed', { days: 30 })).toEqual({ code: 'store_list.lapsed', params: { days: 30 }, note: 'no counted alert for 30 days' });
    expect(systemNote('rescue.closed')).toEqual({ code: 'rescue.closed', note: 'rescue case closed' });
    expect(resolveReason('fault.back_to_normal', { event: 40, seq: 9 })).toEqual({ code: 'fault.back_to_normal', params: { event: 40, seq: 9 }, reason: 'event 40 back to normal (seq 9)' });
    expect(resolveReason('offline.reconnected')).toEqual({ code: 'offline.reconnected', reason: 'reconnected' });
  });

  it('an unknown code is not one; a missing parameter stays visible rather than silently empty', () => {
    expect(isSystemNoteCode('offline.gone')).toBe(false);
    expect(isSystemNoteCode('toString')).toBe(false);
    expect(renderSystemNote('store_list.lapsed')).toBe('no counted alert for {days} days');
  });
});
