/**
 * dashboard/routes/xlsxOut.ts, read back by Python's zipfile and ElementTree (test/helpers/xlsx.ts):
 * a valid package (CRC checked), the header bold and frozen, text and numbers typed as such,
 * Chinese intact, nothing ever a formula, XML specials escaped and XML-illegal characters gone.
 */
import { describe, expect, it } from 'vitest';
import * as zlib from 'node:zlib';
import { sheetNameOf, tableCrc32, xlsxBuffer } from '../../dashboard/routes/xlsxOut.js';
import { python, readXlsx } from '../helpers/xlsx.js';

const HEADER = ['storeId', 'storeName', 'district', 'count', 'flaggedAt'];

describe('sheet names and CRC-32', () => {
  it('makes a name Excel accepts', () => {
    expect(sheetNameOf('black-list-30d')).toBe('black-list-30d');
    expect(sheetNameOf('a[b]:c*d?e/f\\g')).toBe('a_b__c_d_e_f_g');
    expect(sheetNameOf('x'.repeat(40))).toHaveLength(31);
    expect(sheetNameOf("'quoted'")).toBe('quoted');
    expect(sheetNameOf('')).toBe('Sheet1');
    expect(sheetNameOf('\u0001\u0002')).toBe('Sheet1');
    expect(sheetNameOf('History')).toBe('History_');
    expect(sheetNameOf('红黑榜'.repeat(10) + '😀')).toBe('红黑榜'.repeat(10)); // never half a surrogate pair
  });

  it('computes CRC-32 as zlib does (the fallback before Node 20.15)', () => {
    const data = Buffer.from('红黑榜 <x/> 0123456789'.repeat(50), 'utf8');
    expect(tableCrc32(Buffer.from('123456789'))).toBe(0xcbf43926); // the check value of CRC-32/ISO-HDLC
    expect(tableCrc32(new Uint8Array(0))).toBe(0);
    // zlib.crc32 (Node >= 20.15) is what xlsxOut.ts uses when present; the table must agree with it
    const zcrc = (zlib as { crc32?: (d: Uint8Array) => number }).crc32;
    if (zcrc) expect(tableCrc32(data)).toBe(zcrc(data));
  });
});

describe.skipIf(!python.ok)(`xlsx read back by Python 3's zipfile and ElementTree${python.ok ? '' : ` (skipped: ${python.reason})`}`, () => {
  it('a table: header bold and frozen, Chinese text, numbers as numbers, a valid ZIP', async () => {
    const rows = [
      ['S-1', '好味道餐馆', '330106', 3, '2025-05-01T08:00:00.000Z'],
      ['S-2', '西湖区文三路 1 号', null, 0.5, '2025-05-02T08:00:00.000Z'],
      ['S-3', null, '330102', -12, null],
    ];
    const x = readXlsx(await xlsxBuffer('black-list-30d', HEADER, rows));
    expect(x.badEntry).toBeNull();
    expect(x.parts).toEqual(expect.arrayContaining(['[Content_Types].xml', '_rels/.rels', 'xl/workbook.xml', 'xl/_rels/workbook.xml.rels', 'xl/worksheets/sheet1.xml', 'xl/styles.xml']));
    expect(x.contentTypes['/xl/workbook.xml']).toBe('application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml');
    expect(x.sheets).toEqual(['black-list-30d']);
    expect(x.rows).toEqual([HEADER, ...rows.map((r) => r.at(-1) === null ? r.slice(0, -1) : r)]);
    expect(x.types[0]).toEqual(['s', 's', 's', 's', 's']);
    expect(x.types[1]).toEqual(['s', 's', 's', 'n', 's']);
    expect(x.types[2]).toEqual(['s', 's', null, 'n', 's']);
    expect(x.rowStyles).toEqual([1, 0, 0, 0]);
    expect(x.pane).toMatchObject({ ySplit: '1', topLeftCell: 'A2', state: 'frozen' });
    expect(x.colWidths).toHaveLength(5);
    expect(x.colWidths[1]).toBeGreaterThan(x.colWidths[0]!); // Chinese counted double width
    expect(x.formula).toBe(false);
  });

  it('keeps formula-looking text literal, with no <f> anywhere', async () => {
    const evil = ['=HYPERLINK("http://x","点我")', '@SUM(1)', '+1+1', '-2+3', '=1+1', '\t=cmd|"/c calc"!A1'];
    const x = readXlsx(await xlsxBuffer('s', ['name'], evil.map((v) => [v])));
    expect(x.formula).toBe(false);
    expect(x.rows.slice(1).map((r) => r[0])).toEqual(evil);
    expect(x.types.slice(1).every((t) => t[0] === 's')).toBe(true);
  });

  it('escapes XML specials, drops characters XML 1.0 forbids, keeps tab, newlines and _xHHHH_ text', async () => {
    const file = await xlsxBuffer('a<b>&"c\'d', ['<&>"\''], [
      ['a & b <c> "d" \'e\''],
      ['bell\u0007 nul\u0000 esc\u001b vt\u000b ff\u000c fffe\uFFFE lone\uD800 end'],
      ['tab\there\nline two\r\nCRLF'],
      ['_x0041_ and _x0041_x0042_'],
      ['😀 emoji'],
    ]);
    // expat refuses a control character in XML ("not well-formed"): reading at all shows they are gone
    const x = readXlsx(file);
    expect(x.badEntry).toBeNull();
    expect(x.sheets).toEqual(['a<b>&"c\'d']);
    expect(x.rows.map((r) => r[0])).toEqual([
      '<&>"\'',
      'a & b <c> "d" \'e\'',
      'bell nul esc vt ff fffe lone end',
      'tab\there\nline two\r\nCRLF',
      '_x0041_ and _x0041_x0042_',
      '😀 emoji',
    ]);
  });

  it('cuts text at Excel\'s 32,767 characters; non-finite numbers become their text', async () => {
    const x = readXlsx(await xlsxBuffer('s', ['v'], [['长'.repeat(40_000)], [Number.NaN], [Infinity], [1e21], [0]]));
    expect((x.rows[1]![0] as string).length).toBe(32_767);
    expect(x.rows.slice(2)).toEqual([['NaN'], ['Infinity'], [1e21], [0]]);
    expect(x.types.slice(2).map((t) => t[0])).toEqual(['s', 's', 'n', 'n']);
  });

  it('an empty table: the header only, or nothing at all', async () => {
    const headerOnly = readXlsx(await xlsxBuffer('red-list-30d', ['storeId', 'storeName', 'district'], []));
    expect(headerOnly.badEntry).toBeNull();
    expect(headerOnly.rows).toEqual([['storeId', 'storeName', 'district']]);
    const nothing = readXlsx(await xlsxBuffer('', [], []));
    expect(nothing.badEntry).toBeNull();
    expect(nothing.sheets).toEqual(['Sheet1']);
    expect(nothing.rows).toEqual([]);
    expect(nothing.pane).toBeNull();
  });

  it('places cells past column Z (AA, AB...) where they belong', async () => {
    const header = Array.from({ length: 30 }, (_, i) => `c${i}`);
    const x = readXlsx(await xlsxBuffer('wide', header, [header.map((_, i) => i)]));
    expect(x.rows).toEqual([header, header.map((_, i) => i)]);
  });
});
