/**
 * The cylinder registry row (core/cylinders/cylinderRecord.ts): CSV (all strings) and JSON
 * rows -> CylinderRecord, or errors that name their field. Tables of valid and invalid rows.
 */
import { describe, expect, it } from 'vitest';
import {
  cylinderRecord, cylinderRecordColumns, defaultMaxFillKgByModel, formatFieldErrors, normalizeModel, parseCylinderRecord, parseRecordDate,
} from '../../core/cylinders/cylinderRecord.js';
import type { CylinderRecord } from '../../core/alerts/types.js';

const day = (s: string): number => Date.parse(`${s}T00:00:00Z`);

/** A CSV row as csv-parse gives it (columns: true): every cell a string. */
const csv: Record<string, string> = {
  code: 'LPG-330106-000123', model: 'YSP15', mfgDate: '2020-05-01', designLifeYears: '8', lastInspection: '2024-05-01',
  nextInspection: '2028-05-01', ownerStationId: 'ST-01', entrustedStationIds: 'ST-02;ST-03', status: 'in_service', maxFillKg: '14.5',
};

const expected: CylinderRecord = {
  code: 'LPG-330106-000123', model: 'YSP15', mfgDate: day('2020-05-01'), designLifeYears: 8, lastInspection: day('2024-05-01'),
  nextInspection: day('2028-05-01'), ownerStationId: 'ST-01', entrustedStationIds: ['ST-02', 'ST-03'], status: 'in_service', maxFillKg: 14.5,
};

function ok(row: unknown): CylinderRecord {
  const r = parseCylinderRecord(row);
  if (!r.ok) throw new Error(formatFieldErrors(r.errors));
  return r.record;
}

describe('valid rows', () => {
  type Row = [name: string, patch: Record<string, unknown>, expect: Partial<CylinderRecord>];
  const rows: Row[] = [
    ['a complete CSV row', {}, {}],
    ['a JSON row with numbers and an array', { designLifeYears: 8, maxFillKg: 14.5, entrustedStationIds: ['ST-02', 'ST-03'] }, {}],
    ['cells with spaces are trimmed', { code: '  LPG-330106-000123 ', ownerStationId: ' ST-01', status: ' in_service ' }, {}],
    ['status is case-insensitive', { status: 'SCRAPPED' }, { status: 'scrapped' }],
    ['status lost', { status: 'lost' }, { status: 'lost' }],
    ['model normalised: ysp-15', { model: 'ysp-15' }, { model: 'YSP15' }],
    ['model normalised: "YSP 35.5"', { model: 'YSP 35.5', maxFillKg: '' }, { model: 'YSP35.5', maxFillKg: 14.9 }],
    ['model normalised: YSP118-Ⅱ', { model: 'YSP118-Ⅱ', maxFillKg: '' }, { model: 'YSP118-II', maxFillKg: 49.5 }],
    ['maxFillKg absent: YSP15 default 14.5', { maxFillKg: undefined }, { maxFillKg: 14.5 }],
    ['maxFillKg empty cell: model default', { maxFillKg: '' }, { maxFillKg: 14.5 }],
    ['maxFillKg null (JSON): model default', { maxFillKg: null }, { maxFillKg: 14.5 }],
    ['maxFillKg given overrides the table', { maxFillKg: '14.2' }, { maxFillKg: 14.2 }],
    ['unknown model with its own maxFillKg', { model: 'CP-12', maxFillKg: '5' }, { model: 'CP-12', maxFillKg: 5 }],
    ['designLifeYears absent: 8 (GB 5842-2006)', { designLifeYears: '' }, { designLifeYears: 8 }],
    ['designLifeYears 15', { designLifeYears: '15' }, { designLifeYears: 15 }],
    ['inspection dates unknown', { lastInspection: '', nextInspection: '' }, { lastInspection: null, nextInspection: null }],
    ['no entrusted stations', { entrustedStationIds: '' }, { entrustedStationIds: [] }],
    ['entrusted: empty entries and duplicates dropped', { entrustedStationIds: ' ST-02 ;;ST-03;ST-02; ' }, { entrustedStationIds: ['ST-02', 'ST-03'] }],
    ['entrusted: one station', { entrustedStationIds: 'ST-09' }, { entrustedStationIds: ['ST-09'] }],
    // dates: RFC 3339 instants become their China (UTC+8) local date
    ['RFC 3339 with +08:00', { mfgDate: '2020-05-01T00:00:00+08:00' }, { mfgDate: day('2020-05-01') }],
    ['RFC 3339 Z at 15:59 UTC is the same China date', { mfgDate: '2020-05-01T15:59:59Z' }, { mfgDate: day('2020-05-01') }],
    ['RFC 3339 Z at 16:00 UTC is the next China date', { mfgDate: '2020-04-30T16:00:00Z' }, { mfgDate: day('2020-05-01') }],
    ['RFC 3339 with fraction and -05:00', { mfgDate: '2020-04-30T11:00:00.5-05:00' }, { mfgDate: day('2020-05-01') }],
    ['epoch ms in JSON (a CylinderRecord date round-trips)', { mfgDate: day('2020-05-01') }, { mfgDate: day('2020-05-01') }],
    ['29 February of a leap year', { mfgDate: '2020-02-29' }, { mfgDate: day('2020-02-29') }],
    ['extra columns are ignored', { notes: 'blue cap', district: '330106' }, {}],
  ];
  it.each(rows)('%s', (_name, patch, want) => {
    const row: Record<string, unknown> = { ...csv, ...patch };
    for (const [k, v] of Object.entries(patch)) if (v === undefined) delete row[k];
    expect(ok(row)).toEqual({ ...expected, ...want });
  });

  it('the zod schema gives the same record', () => {
    expect(cylinderRecord.parse(csv)).toEqual(expected);
  });
});

describe('invalid rows: every error names its field', () => {
  type Row = [name: string, patch: Record<string, unknown>, errors: Array<[string, RegExp]>];
  const rows: Row[] = [
    ['code missing', { code: undefined }, [['code', /^required$/]]],
    ['code empty', { code: '  ' }, [['code', /^required$/]]],
    ['code too long', { code: 'x'.repeat(65) }, [['code', /at most 64/]]],
    ['model missing', { model: '' }, [['model', /^required$/]]],
    ['mfgDate missing', { mfgDate: '' }, [['mfgDate', /^required$/]]],
    ['mfgDate not a date', { mfgDate: 'May 2020' }, [['mfgDate', /YYYY-MM-DD/]]],
    ['mfgDate 31 April', { mfgDate: '2020-04-31' }, [['mfgDate', /not a calendar date/]]],
    ['mfgDate 29 February of a common year', { mfgDate: '2021-02-29' }, [['mfgDate', /not a calendar date/]]],
    ['mfgDate with slashes', { mfgDate: '2020/05/01' }, [['mfgDate', /YYYY-MM-DD/]]],
    ['mfgDate local date-time without offset', { mfgDate: '2020-05-01 08:00:00' }, [['mfgDate', /offset/]]],
    ['mfgDate date-time without seconds', { mfgDate: '2020-05-01T08:00+08:00' }, [['mfgDate', /seconds and an offset/]]],
    ['mfgDate hour 24', { mfgDate: '2020-05-01T24:00:00Z' }, [['mfgDate', /not a valid date-time/]]],
    ['mfgDate year 1900', { mfgDate: '1900-01-01' }, [['mfgDate', /1950 to 2099/]]],
    ['mfgDate epoch seconds', { mfgDate: 1_588_291_200 }, [['mfgDate', /epoch seconds/]]],
    ['mfgDate epoch ms of 2200', { mfgDate: Date.UTC(2200, 0, 1) }, [['mfgDate', /year must be 1950-2099/]]],
    ['mfgDate boolean', { mfgDate: true }, [['mfgDate', /YYYY-MM-DD/]]],
    ['designLifeYears not a number', { designLifeYears: 'eight' }, [['designLifeYears', /whole number of years/]]],
    ['designLifeYears fractional', { designLifeYears: '8.5' }, [['designLifeYears', /whole number of years/]]],
    ['designLifeYears 0', { designLifeYears: '0' }, [['designLifeYears', /at least 1/]]],
    ['designLifeYears 51', { designLifeYears: 51 }, [['designLifeYears', /at most 50/]]],
    ['lastInspection not a date', { lastInspection: 'soon' }, [['lastInspection', /YYYY-MM-DD/]]],
    ['lastInspection before mfgDate', { lastInspection: '2020-04-30' }, [['lastInspection', /before mfgDate/]]],
    ['nextInspection on mfgDate', { lastInspection: '', nextInspection: '2020-05-01' }, [['nextInspection', /after mfgDate/]]],
    ['nextInspection not after lastInspection', { nextInspection: '2024-05-01' }, [['nextInspection', /after lastInspection/]]],
    ['ownerStationId missing', { ownerStationId: undefined }, [['ownerStationId', /^required$/]]],
    ['entrusted not a list', { entrustedStationIds: 42 }, [['entrustedStationIds', /separated by ";"/]]],
    ['entrusted with a number in the array', { entrustedStationIds: ['ST-02', 7] }, [['entrustedStationIds', /must be a string/]]],
    ['entrusted id too long', { entrustedStationIds: `ST-02;${'y'.repeat(65)}` }, [['entrustedStationIds', /at most 64/]]],
    ['status missing', { status: '' }, [['status', /^required$/]]],
    ['status unknown', { status: 'retired' }, [['status', /one of in_service, scrapped, lost/]]],
    ['maxFillKg 0', { maxFillKg: '0' }, [['maxFillKg', /above 0/]]],
    ['maxFillKg negative', { maxFillKg: -1 }, [['maxFillKg', /above 0/]]],
    ['maxFillKg with a unit', { maxFillKg: '14.5kg' }, [['maxFillKg', /number of kg/]]],
    ['maxFillKg 201', { maxFillKg: '201' }, [['maxFillKg', /at most 200/]]],
    ['unknown model without maxFillKg', { model: 'CP-12', maxFillKg: '' }, [['maxFillKg', /required for model CP-12 \(defaults exist for YSP15/]]],
    ['several problems, in column order', { status: 'x', code: '', mfgDate: 'never' }, [['code', /required/], ['mfgDate', /YYYY/], ['status', /one of/]]],
  ];
  it.each(rows)('%s', (_name, patch, errors) => {
    const row: Record<string, unknown> = { ...csv, ...patch };
    for (const [k, v] of Object.entries(patch)) if (v === undefined) delete row[k];
    const r = parseCylinderRecord(row);
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.errors.map((e) => e.field)).toEqual(errors.map(([f]) => f));
    r.errors.forEach((e, i) => expect(e.message).toMatch(errors[i]![1]));
  });

  it.each([null, 'a,b,c', 42, []])('not an object (%j)', (row) => {
    const r = parseCylinderRecord(row);
    expect(r).toEqual({ ok: false, errors: [{ field: '', message: 'expected an object with the registry columns' }] });
  });

  it('an empty object lists every required field', () => {
    const r = parseCylinderRecord({});
    expect(r.ok ? [] : r.errors.map((e) => `${e.field}: ${e.message}`)).toEqual([
      'code: required', 'model: required', 'mfgDate: required', 'ownerStationId: required', 'status: required',
    ]);
  });

  it('formatFieldErrors joins field: message', () => {
    expect(formatFieldErrors([{ field: 'mfgDate', message: 'required' }, { field: '', message: 'bad row' }])).toBe('mfgDate: required; bad row');
  });
});

describe('helpers', () => {
  it.each([['YSP15', 'YSP15'], ['ysp-35.5', 'YSP35.5'], [' YSP 118-ii ', 'YSP118-II'], ['YSP-5-X', 'YSP5-X'], ['cp-12', 'CP-12']])('normalizeModel(%j) = %s', (raw, model) => {
    expect(normalizeModel(raw)).toBe(model);
  });

  it('every model default is a positive mass, YSP15 14.5 kg (docs/domain.md §3)', () => {
    expect(defaultMaxFillKgByModel.YSP15).toBe(14.5);
    for (const kg of Object.values(defaultMaxFillKgByModel)) expect(kg).toBeGreaterThan(0);
  });

  it('the CSV columns are the CylinderRecord fields', () => {
    expect([...cylinderRecordColumns].sort()).toEqual(Object.keys(expected).sort());
  });

  it.each([
    ['2020-05-01', day('2020-05-01')],
    ['2020-05-01T23:59:59+08:00', day('2020-05-01')],
    ['2020-05-01T00:00:00+08:00', day('2020-05-01')],
    ['2020-04-30T23:59:59+08:00', day('2020-04-30')],
  ])('parseRecordDate(%s)', (s, ms) => {
    expect(parseRecordDate(s)).toBe(ms);
  });
});
