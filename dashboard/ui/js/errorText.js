// An API error in the UI's language: the text of its stable code (`code.<code>` in i18n.json,
// docs/error-codes.md) with the refusal's reason when the details name one, or the fields a
// validation error names; where the language has no text for the code (English: the server's
// own words are English), the server's message. Callers branch on `code`, never on this text.
import { getLang, t } from './i18n.js';

export function errorText(code, error) {
  const base = t(`code.${code}`, '');
  if (!base || (getLang() === 'en' && error?.message)) return error?.message ?? code;
  const details = error?.details;
  if (code === 'validation' && Array.isArray(details) && details.length) {
    return `${base}: ${details.map((d) => [d.in, d.path].filter(Boolean).join(' ')).filter(Boolean).join(', ')}`;
  }
  const reason = typeof details?.reason === 'string' ? details.reason : null;
  const why = reason ? t(`refusal.${reason}`, t(`reason.${reason}`, '')) : '';
  return why ? `${base}: ${why}` : base;
}
