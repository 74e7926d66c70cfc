/**
 * XLSX answers: one worksheet (Office Open XML SpreadsheetML, ECMA-376 = ISO/IEC 29500; the
 * § numbers below are Part 1's) in a ZIP, written here with node:zlib and no dependency,
 * for bureau staff who open exports in Excel or WPS. The same table as the CSV (csvOut.ts),
 * with these choices:
 *
 * - Text is an inline string (`t="inlineStr"`, §18.3.1.53 `is`), never a formula: a
 *   cell is a formula only when it carries an `<f>` element (§18.3.1.40), and none is ever
 *   written, so a store name such as `=HYPERLINK(...)` stays literal text. (The CSV needs its
 *   `'` prefix because there a spreadsheet guesses; here nothing is guessed.)
 * - Numbers are numeric cells (`<v>`, no `t`); non-finite numbers, which `<v>` (xsd:double in a
 *   cell Excel reads) cannot hold, are written as their text like the CSV does. null is no cell.
 * - Times are the ISO 8601 UTC text the routes already put in the CSV: sortable, exact, and
 *   with its zone; a spreadsheet date serial has no zone and would need the bureau's (China
 *   time) to be chosen for every reader.
 * - Bold header row (styles.xml), frozen below it (§18.3.1.66 pane), column widths from the
 *   longest cell (CJK counted double width), capped.
 *
 * Built without holding the event loop (slices.ts): the sheet's XML is written a slice of rows
 * at a time and deflated by a zlib stream, whose work runs on libuv's thread pool.
 */

import { once } from 'node:events';
import * as zlib from 'node:zlib';
import { slices } from './slices.js';

/** Excel's limits (Excel specifications and limits): text per cell, rows per sheet, sheet name length. */
const MAX_CELL_CHARS = 32_767;
const MAX_ROWS = 1_048_576;
const MAX_SHEET_NAME = 31;
const MAX_COL_WIDTH = 60;
const MIN_COL_WIDTH = 8;

export type XlsxCell = string | number | null;

/** The .xlsx file of one sheet: `header` in bold, frozen, then `rows`. */
export async function xlsxBuffer(sheetName: string, header: readonly string[], rows: ReadonlyArray<ReadonlyArray<XlsxCell>>): Promise<Buffer> {
  if (rows.length + 1 > MAX_ROWS) throw new RangeError(`an XLSX sheet holds at most ${MAX_ROWS} rows`);
  const widths = await columnWidths(header, rows);
  return zip([
    ['[Content_Types].xml', [CONTENT_TYPES]],
    ['_rels/.rels', [ROOT_RELS]],
    ['xl/workbook.xml', [workbookXml(sheetName)]],
    ['xl/_rels/workbook.xml.rels', [WORKBOOK_RELS]],
    ['xl/styles.xml', [STYLES]],
    ['xl/worksheets/sheet1.xml', sheetXml(header, rows, widths)],
  ]);
}

/**
 * A sheet name Excel accepts (§18.2.19 `sheet` leaves the rules to the application):
 * 1-31 characters, none of []:*?/\, not starting or ending with an apostrophe, not the reserved
 * "History"; control characters dropped.
 */
export function sheetNameOf(name: string): string {
  let s = xmlChars(name).replace(/[\u0000-\u001f[\]:*?/\\]/g, '_');
  s = cut(s, MAX_SHEET_NAME).replace(/^'+|'+$/g, '').trim();
  if (!s) return 'Sheet1';
  return s.toLowerCase() === 'history' ? `${s}_` : s;
}

const XML_DECL = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n';
const NS_MAIN = 'http://schemas.openxmlformats.org/spreadsheetml/2006/main';
const NS_REL = 'http://schemas.openxmlformats.org/officeDocument/2006/relationships';
const NS_PKG_REL = 'http://schemas.openxmlformats.org/package/2006/relationships';
const CT = 'application/vnd.openxmlformats-officedocument.spreadsheetml';

// Part 2 (Open Packaging Conventions), Content Types: every part's type, by extension or by name.
const CONTENT_TYPES = XML_DECL
  + '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
  + '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
  + '<Default Extension="xml" ContentType="application/xml"/>'
  + `<Override PartName="/xl/workbook.xml" ContentType="${CT}.sheet.main+xml"/>`
  + `<Override PartName="/xl/worksheets/sheet1.xml" ContentType="${CT}.worksheet+xml"/>`
  + `<Override PartName="/xl/styles.xml" ContentType="${CT}.styles+xml"/>`
  + '</Types>';

// Part 2, Relationships: the package's relationship to its main part, the workbook.
const ROOT_RELS = XML_DECL
  + `<Relationships xmlns="${NS_PKG_REL}">`
  + `<Relationship Id="rId1" Type="${NS_REL}/officeDocument" Target="xl/workbook.xml"/>`
  + '</Relationships>';

const WORKBOOK_RELS = XML_DECL
  + `<Relationships xmlns="${NS_PKG_REL}">`
  + `<Relationship Id="rId1" Type="${NS_REL}/worksheet" Target="worksheets/sheet1.xml"/>`
  + `<Relationship Id="rId2" Type="${NS_REL}/styles" Target="styles.xml"/>`
  + '</Relationships>';

// §18.8 styles: cell format 0 is the default, 1 the bold header. Excel expects the two
// built-in fills (none, gray125) first (§18.8.21) and repairs a file without them.
const STYLES = XML_DECL
  + `<styleSheet xmlns="${NS_MAIN}">`
  + '<fonts count="2"><font><sz val="11"/><name val="Calibri"/></font><font><b/><sz val="11"/><name val="Calibri"/></font></fonts>'
  + '<fills count="2"><fill><patternFill patternType="none"/></fill><fill><patternFill patternType="gray125"/></fill></fills>'
  + '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
  + '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
  + '<cellXfs count="2"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
  + '<xf numFmtId="0" fontId="1" fillId="0" borderId="0" xfId="0" applyFont="1"/></cellXfs>'
  + '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>'
  + '</styleSheet>';

function workbookXml(sheetName: string): string {
  return XML_DECL
    + `<workbook xmlns="${NS_MAIN}" xmlns:r="${NS_REL}">`
    + `<sheets><sheet name="${escapeXml(sheetNameOf(sheetName))}" sheetId="1" r:id="rId1"/></sheets>`
    + '</workbook>';
}

/** The sheet's XML in parts: the head, then a part per slice of rows, then the end. */
async function* sheetXml(header: readonly string[], rows: ReadonlyArray<ReadonlyArray<XlsxCell>>, widths: readonly number[]): AsyncGenerator<string> {
  const width = widths.length;
  // CT_Worksheet's children are a sequence (§18.3.1.99): dimension, sheetViews, cols, sheetData.
  let head = `${XML_DECL}<worksheet xmlns="${NS_MAIN}"><dimension ref="A1${width ? `:${colName(width - 1)}${rows.length + 1}` : ''}"/>`;
  if (header.length) {
    head += '<sheetViews><sheetView workbookViewId="0">'
      + '<pane ySplit="1" topLeftCell="A2" activePane="bottomLeft" state="frozen"/>'
      + '<selection pane="bottomLeft" activeCell="A2" sqref="A2"/>'
      + '</sheetView></sheetViews>';
  }
  // <cols> must hold at least one <col> (§18.3.1.17), so none at all for a table without columns
  if (width) head += `<cols>${widths.map((w, i) => `<col min="${i + 1}" max="${i + 1}" width="${w}" customWidth="1"/>`).join('')}</cols>`;
  head += '<sheetData>';
  if (header.length) head += rowXml(0, header, 1);
  yield head;
  const cols = Array.from({ length: width }, (_, i) => colName(i));
  let index = 1;
  for await (const slice of slices(rows)) yield slice.map((r) => rowXml(index++, r, 0, cols)).join('');
  yield '</sheetData></worksheet>';
}

/** One `<row>`; `r` attributes written out so every reader places cells without counting. */
function rowXml(index: number, cells: ReadonlyArray<XlsxCell>, style: number, cols: readonly string[] = []): string {
  const n = index + 1;
  const s = style ? ` s="${style}"` : '';
  let out = `<row r="${n}">`;
  cells.forEach((v, i) => {
    if (v === null) return;
    const ref = `${cols[i] ?? colName(i)}${n}`;
    if (typeof v === 'number' && Number.isFinite(v)) out += `<c r="${ref}"${s}><v>${v}</v></c>`;
    else out += `<c r="${ref}"${s} t="inlineStr"><is><t xml:space="preserve">${escapeText(String(v))}</t></is></c>`;
  });
  return `${out}</row>`;
}

/** Column letters: 0 -> A, 25 -> Z, 26 -> AA (§18.3.1.4 `c`, attribute r, an A1 reference). */
function colName(i: number): string {
  let s = '';
  for (let n = i + 1; n > 0; n = Math.floor((n - 1) / 26)) s = String.fromCharCode(65 + ((n - 1) % 26)) + s;
  return s;
}

/** Each column's width from its longest cell (the widest row sets how many), a slice of rows at a time. */
async function columnWidths(header: readonly string[], rows: ReadonlyArray<ReadonlyArray<XlsxCell>>): Promise<number[]> {
  const w: number[] = [];
  const see = (cells: ReadonlyArray<XlsxCell>) => cells.forEach((v, i) => {
    w[i] = Math.max(w[i] ?? 0, v === null ? 0 : displayWidth(String(v)));
  });
  see(header);
  for await (const slice of slices(rows)) slice.forEach(see);
  return w.map((len) => Math.min(MAX_COL_WIDTH, Math.max(MIN_COL_WIDTH, len + 2)));
}

/** Display width of the first 200 UTF-16 units: CJK and wider code points count 2, others 1. */
function displayWidth(s: string): number {
  const end = Math.min(s.length, 200);
  let len = 0;
  for (let k = 0; k < end; k++) {
    const c = s.charCodeAt(k);
    len += c >= 0x2e80 ? 2 : 1;
    // a surrogate pair is one code point (>= U+10000: 2)
    if (c >= 0xd800 && c <= 0xdbff && k + 1 < end && (s.charCodeAt(k + 1) & 0xfc00) === 0xdc00) k++;
  }
  return len;
}

/** The characters XML 1.0 allows (§2.2 Char); lone surrogates, U+FFFE/U+FFFF and C0 controls other than tab, LF and CR are dropped. */
function xmlChars(s: string): string {
  return s.replace(/[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\u{10000}-\u{10ffff}]/gu, '');
}

/** At most `max` UTF-16 units, never half of a surrogate pair. */
function cut(s: string, max: number): string {
  if (s.length <= max) return s;
  const end = /[\ud800-\udbff]/.test(s[max - 1]!) ? max - 1 : max;
  return s.slice(0, end);
}

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;', '\r': '&#13;' };

/**
 * Markup characters as entities, in text and attributes alike. A CR is written as `&#13;`
 * since XML parsers turn a literal one into LF (XML 1.0 §2.11).
 */
function escapeXml(s: string): string {
  return s.replace(/[&<>"'\r]/g, (c) => ESCAPES[c]!);
}

/** Anything escapeText changes: a character XML forbids or escapes, a CR, an underscore, a surrogate (checked the slow way). */
const NEEDS_ESCAPING = /[^\t\n\u0020\u0021\u0023-\u0025\u0028-\u003b\u003d\u003f-\u005e\u0060-\ud7ff\ue000-\ufffd]/;

/**
 * Cell text: XML-legal, at most Excel's 32,767 characters, escaped. Text that looks like an
 * ST_Xstring escape (`_xHHHH_`, §22.9.2.19) would be read as that character, so every
 * underscore that starts one is itself escaped (`_x005F_`, overlapping ones too:
 * `_x0041_x0042_`) and the text stays literal ([MS-OI29500] 2.1.1747: Excel escapes only that
 * underscore so).
 */
function escapeText(s: string): string {
  if (s.length <= MAX_CELL_CHARS && !NEEDS_ESCAPING.test(s)) return s;
  return escapeXml(cut(xmlChars(s), MAX_CELL_CHARS)).replace(/_(?=x[0-9a-fA-F]{4}_)/g, '_x005F_');
}

// ---- ZIP (PKWARE APPNOTE.TXT): the container of Part 2's "Mapping to a ZIP Archive" ----

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/** zlib.crc32 arrived in Node 20.15 (package.json allows any 20); the table does it before that, 15x slower. */
const nativeCrc32 = (zlib as { crc32?: (data: Uint8Array, value?: number) => number }).crc32;

/** CRC-32 (ISO 3309, the one ZIP uses), byte by byte from a table; `value`: the CRC of the bytes before `data`. */
export function tableCrc32(data: Uint8Array, value = 0): number {
  let c = (value ^ 0xffffffff) >>> 0;
  for (let i = 0; i < data.length; i++) c = CRC_TABLE[(c ^ data[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

const crc32 = nativeCrc32 ?? tableCrc32;

/** 1980-01-01 00:00, the earliest MS-DOS date: the same bytes for the same table. */
const DOS_TIME = 0;
const DOS_DATE = (0 << 9) | (1 << 5) | 1;
/** general purpose flag bit 11: names are UTF-8 */
const UTF8_NAMES = 0x0800;
/**
 * Method 8, deflate (Part 2 allows stored and deflated items only): SpreadsheetML is repetitive
 * markup, and level 1 sends about a fifteenth of it for a few ms per MB of the thread pool's time,
 * about 4x less than zlib's default level, for a file a quarter larger (a 50,000-row list: 36 MB
 * of XML, 2.4 MB sent).
 */
const DEFLATE = 8;
const LEVEL = 1;

/** An entry's text, deflated: its CRC and size are those of the UTF-8 bytes before deflating. */
interface Packed {
  crc: number;
  size: number;
  packed: Buffer;
}

/**
 * Deflate `parts` (UTF-8) as one entry through a zlib stream: the compression runs on libuv's
 * thread pool, the event loop only encodes each part and sums its CRC, waiting while the stream
 * is full so at most a part or two is held uncompressed.
 */
async function deflated(parts: Iterable<string> | AsyncIterable<string>): Promise<Packed> {
  const z = zlib.createDeflateRaw({ level: LEVEL });
  const out: Buffer[] = [];
  z.on('data', (b: Buffer) => out.push(b));
  const ended = once(z, 'end');
  ended.catch(() => {}); // awaited below; a stream error also rejects the write in progress
  let crc = 0;
  let size = 0;
  try {
    for await (const text of parts) {
      const data = Buffer.from(text, 'utf8');
      crc = crc32(data, crc);
      size += data.length;
      if (!z.write(data)) await once(z, 'drain');
    }
    z.end();
    await ended;
  } finally {
    z.destroy();
  }
  return { crc, size, packed: Buffer.concat(out) };
}

/** A ZIP of deflated entries, no ZIP64: sizes and offsets are 32-bit, far above what the routes send. */
async function zip(files: Array<[name: string, parts: Iterable<string> | AsyncIterable<string>]>): Promise<Buffer> {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const [name, parts] of files) {
    const nameBytes = Buffer.from(name, 'utf8');
    const { crc, size, packed } = await deflated(parts);
    if (size > 0xffffffff || offset + 30 + nameBytes.length + packed.length > 0xffffffff) throw new RangeError('an XLSX export over 4 GiB needs ZIP64');
    // the fields the local header (4.3.7) and the central directory header (4.3.12) share, in order
    const common = Buffer.alloc(26);
    common.writeUInt16LE(20, 0); // version needed to extract: 2.0 (deflate)
    common.writeUInt16LE(UTF8_NAMES, 2);
    common.writeUInt16LE(DEFLATE, 4);
    common.writeUInt16LE(DOS_TIME, 6);
    common.writeUInt16LE(DOS_DATE, 8);
    common.writeUInt32LE(crc, 10);
    common.writeUInt32LE(packed.length, 14);
    common.writeUInt32LE(size, 18);
    common.writeUInt16LE(nameBytes.length, 22);
    // extra field length (24): 0
    const local = Buffer.concat([u32(0x04034b50), common]);
    // made by 2.0 on MS-DOS, then comment length, disk number, internal and external attributes: 0
    const central = Buffer.concat([u32(0x02014b50), u16(20), common, Buffer.alloc(10), u32(offset)]);
    locals.push(local, nameBytes, packed);
    centrals.push(central, nameBytes);
    offset += local.length + nameBytes.length + packed.length;
  }
  const dir = Buffer.concat(centrals);
  const end = Buffer.alloc(22); // end of central directory record (4.3.16), one disk
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(files.length, 8);
  end.writeUInt16LE(files.length, 10);
  end.writeUInt32LE(dir.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, dir, end]);
}

function u16(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16LE(n);
  return b;
}

function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n);
  return b;
}
