/**
 * Reads an .xlsx back with a reader we did not write: Python 3's standard library (zipfile,
 * xml.etree.ElementTree), so a file dashboard/routes/xlsxOut.ts gets wrong in the same way
 * it reads is still caught. `python3` missing: the suites skip with `python.reason`, or fail
 * when REQUIRE_EXTERNAL=1 (helpers/external.ts; .ci/run installs it).
 */
import { execFileSync } from 'node:child_process';
import { programs } from './external.js';

export const python = programs(['python3'], 'python3');

/** What Python saw: every part, the sheet's cells by row (null: no cell) with their types. */
export interface XlsxRead {
  /** zipfile.testzip(): the first entry whose CRC or header is bad, or null */
  badEntry: string | null;
  parts: string[];
  contentTypes: Record<string, string>;
  sheets: string[];
  /** any `<f>` element (a formula) in any part */
  formula: boolean;
  rows: Array<Array<string | number | null>>;
  /** per cell: "s" inline string, "n" number, null no cell */
  types: Array<Array<'s' | 'n' | null>>;
  /** per row: the style index of its first cell */
  rowStyles: Array<number | null>;
  pane: Record<string, string> | null;
  colWidths: number[];
}

// Cell text is decoded as Excel does (ST_Xstring, ECMA-376 Part 1 §22.9.2.19: _xHHHH_ is that
// character), so a check of the literal text is a check of what a spreadsheet shows.
const SCRIPT = String.raw`
import io, json, re, sys, zipfile
import xml.etree.ElementTree as ET
M = '{http://schemas.openxmlformats.org/spreadsheetml/2006/main}'
R = '{http://schemas.openxmlformats.org/officeDocument/2006/relationships}'
P = '{http://schemas.openxmlformats.org/package/2006/relationships}'
z = zipfile.ZipFile(io.BytesIO(sys.stdin.buffer.read()))
bad = z.testzip()
parts = z.namelist()
trees = {n: ET.fromstring(z.read(n)) for n in parts}
formula = any(el.tag == M + 'f' for t in trees.values() for el in t.iter())
ct = {o.get('PartName'): o.get('ContentType') for o in trees['[Content_Types].xml'] if o.get('PartName')}
root_rel = [r.get('Target') for r in trees['_rels/.rels'].iter(P + 'Relationship') if r.get('Type').endswith('/officeDocument')][0]
wb = trees[root_rel]
sheet = wb.find(M + 'sheets').find(M + 'sheet')
rels = {r.get('Id'): r.get('Target') for r in trees['xl/_rels/workbook.xml.rels'].iter(P + 'Relationship')}
ws = trees['xl/' + rels[sheet.get(R + 'id')]]
def col(ref):
    n = 0
    for ch in re.match(r'[A-Z]+', ref).group(0):
        n = n * 26 + ord(ch) - 64
    return n - 1
unx = lambda s: re.sub(r'_x([0-9A-Fa-f]{4})_', lambda m: chr(int(m.group(1), 16)), s)
rows, types, styles = [], [], []
for row in ws.find(M + 'sheetData').findall(M + 'row'):
    vals, kinds = [], []
    cells = row.findall(M + 'c')
    for c in cells:
        i = col(c.get('r'))
        while len(vals) < i:
            vals.append(None); kinds.append(None)
        if c.get('t') == 'inlineStr':
            vals.append(unx(''.join(t.text or '' for t in c.iter(M + 't')))); kinds.append('s')
        elif c.get('t') in (None, 'n'):
            v = float(c.find(M + 'v').text)
            vals.append(int(v) if v.is_integer() else v); kinds.append('n')
        else:
            vals.append('?' + c.get('t')); kinds.append(None)
    rows.append(vals); types.append(kinds)
    styles.append(int(cells[0].get('s', '0')) if cells else None)
pane = ws.find('.//' + M + 'pane')
print(json.dumps({
    'badEntry': bad, 'parts': parts, 'contentTypes': ct, 'formula': formula,
    'sheets': [s.get('name') for s in wb.iter(M + 'sheet')],
    'rows': rows, 'types': types, 'rowStyles': styles,
    'pane': dict(pane.attrib) if pane is not None else None,
    'colWidths': [float(c.get('width')) for c in ws.iter(M + 'col')],
}, ensure_ascii=False))
`;

export function readXlsx(file: Buffer): XlsxRead {
  if (!python.ok) throw new Error(python.reason);
  const out = execFileSync(python.paths.python3!, ['-c', SCRIPT], { input: file, encoding: 'utf8', maxBuffer: 256 * 1024 * 1024, env: { ...process.env, PYTHONIOENCODING: 'utf-8' } });
  return JSON.parse(out) as XlsxRead;
}
