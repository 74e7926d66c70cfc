/**
 * Text values between the repositories and PostgreSQL: the encoding that lets a string with
 * U+0000 be stored, and COPY's text-format fields (store/postgres/readings.ts).
 *
 * PostgreSQL's TEXT cannot hold U+0000 (it fails the whole statement), yet a device can send
 * one: every string field of a payload (msgId, storeId, detail, cylinderCode, ...) is checked
 * for length only, and JSON's "\u0000" escape passes JSON.parse. DuckDB stores such a string as
 * it is; failing the batch instead would lose every other reading of the group commit and
 * block the ingest behind it. So a string with U+0000 is stored encoded, reversibly:
 *
 *   - a string holding no U+0000 and not starting with MARK (U+E000, private use) is stored
 *     as it is: every ordinary string, so equality on ids, codes and reasons works in SQL;
 *   - any other one is stored as MARK + the string with MARK written MARK MARK_SELF and
 *     U+0000 written MARK MARK_NUL.
 *
 * Stored strings starting with MARK are exactly the encoded ones, so decoding is exact. A
 * repository that filters by a text column (a cylinder code) encodes its parameter with
 * `toPgText` and decodes what it reads with `fromPgText`.
 */

const MARK = '\uE000';
const MARK_SELF = '\uE001';
const MARK_NUL = '\uE002';

/** A string as stored in a TEXT column (see above). */
export function toPgText(s: string): string {
  if (s.indexOf('\0') < 0 && !s.startsWith(MARK)) return s;
  let out = MARK;
  for (const ch of s) out += ch === '\0' ? MARK + MARK_NUL : ch === MARK ? MARK + MARK_SELF : ch;
  return out;
}

export function toPgTextOrNull(s: string | null | undefined): string | null {
  return s === null || s === undefined ? null : toPgText(s);
}

/** A TEXT column's value as the repositories were given it. */
export function fromPgText(stored: string): string {
  if (!stored.startsWith(MARK)) return stored;
  let out = '';
  for (let i = MARK.length; i < stored.length; i++) {
    const ch = stored[i]!;
    if (ch !== MARK) { out += ch; continue; }
    const next = stored[++i];
    out += next === MARK_NUL ? '\0' : MARK; // MARK_SELF, the only other thing toPgText writes
  }
  return out;
}

export function fromPgTextOrNull(v: unknown): string | null {
  return v === null || v === undefined ? null : fromPgText(String(v));
}

/** COPY's text format: NULL is \N; backslash, tab (the delimiter), newline and CR are escaped. */
export const COPY_NULL = '\\N';
const COPY_SPECIAL = /[\\\t\n\r]/g;
const COPY_ESCAPES: Record<string, string> = { '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r' };

/**
 * A string as one field of a COPY text-format row (already toPgText'd, so no U+0000). Every
 * other character goes as it is, in UTF-8 (the driver's client_encoding): COPY reads a field up
 * to an unescaped tab or newline, and a backslash only ever starts an escape it wrote here, so
 * text like "\N" or "\." arrives as "\\N", "\\." and is read back as itself.
 */
export function copyField(s: string): string {
  COPY_SPECIAL.lastIndex = 0;
  return COPY_SPECIAL.test(s) ? s.replace(COPY_SPECIAL, (ch) => COPY_ESCAPES[ch]!) : s;
}
