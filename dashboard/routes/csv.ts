/** CSV bodies of the import routes: header row, BOM tolerated, clear error on bad CSV. */
import { parse as parseCsv } from 'csv-parse/sync';
import { CodedError } from '../../service/codes.js';

export function csvRecords(text: string): Array<Record<string, string>> {
  try {
    return parseCsv(text, { columns: (header: string[]) => header.map((h) => h.trim()), skip_empty_lines: true, bom: true, trim: false }) as Array<Record<string, string>>;
  } catch (e) {
    throw new CodedError('bad_csv', `CSV could not be parsed: ${(e as Error).message}`);
  }
}
