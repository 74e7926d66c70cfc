// A note the system wrote (an auto-resolve's reason, a rescue case closing its alert, a store
// lapsing off the black list) in the UI's language: by its code (`sysnote.<code>` in i18n.json,
// the codes of core/alerts/systemNotes.ts) with its parameters filled in. An entry without a
// code (a person's note, or one stored before codes were kept), or with a code this table does
// not know, shows its note as it is. The result is text: callers put it in a text node (h()).
import { fill, t } from './i18n.js';

/** The text of a timeline entry's or store-list step's note; '' when it has none. */
export function noteText(e) {
  const raw = e?.note ?? '';
  const text = e?.code ? t(`sysnote.${e.code}`, '') : '';
  if (!text) return raw;
  const params = e.params ?? {};
  // a parameter the template names but the entry lacks: the stored English says more
  if ([...text.matchAll(/\{(\w+)\}/g)].some(([, k]) => !Object.hasOwn(params, k))) return raw;
  return fill(text, params);
}
