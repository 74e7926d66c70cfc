/**
 * The cylinders CLI: bulk import, list and show the cylinder registry (一瓶一码一档) that the
 * scan check reads. `npm run cylinders -- --help`.
 *
 * Always through the running service's API, never the database file: DuckDB allows one
 * writing process, and the registry the scan check reads is held by the service.
 */
import { isoDate } from '../core/cylinders/calendar.js';
import { cylinderRecordColumns, cylinderStatuses } from '../core/cylinders/cylinderRecord.js';
import type { ApiClient, CylinderStatus, CylinderView } from '../simulators/apiClient.js';
import {
  apiArgsHelp, commandCommonOptions, exitCodes, importCommand, importFailed, limitOption, listCommand, printTable, readImportFile, runCommands, runIfMain, UsageError,
  type CliCommand, type CliIo, type CliValues,
} from '../simulators/cli.js';

/** The service's largest page (GET /api/cylinders). */
const MAX_LIMIT = 10_000;

const help = `Cylinders CLI: the cylinder registry (一瓶一码一档) through the running service's API.

Usage:
  npm run cylinders -- import <file> [--format csv|json] [--on-conflict error|skip|update]
      bulk import, all or nothing. CSV columns:
        ${cylinderRecordColumns.join(',')}
      dates YYYY-MM-DD (China local date); entrustedStationIds separated by ";";
      designLifeYears defaults to 8, maxFillKg to the model's (YSP15: 14.5 kg).
      JSON: an array of objects with the same names (entrustedStationIds may be an array).
      The format follows the extension unless --format says otherwise. --on-conflict
      says what to do with codes already registered (default error: refuse the import).
      On a problem every bad row is printed (row 1 = the first record) and nothing is imported.
  npm run cylinders -- list [--station ID] [--status ${cylinderStatuses.join('|')}] [--q text] [--limit N]
      --station matches the owner and the entrusted stations; --q a part of the code;
      --limit 1-${MAX_LIMIT}, default 100
  npm run cylinders -- get <code>
      one record; dates are shown as YYYY-MM-DD (China local dates)

${apiArgsHelp}

Exit code: 0 done, 1 the service refused or failed (each problem printed), 2 usage error.`;

const commands: Readonly<Record<string, CliCommand>> = {
  import: importCommand({}, prepareImport),
  list: listCommand({ station: { type: 'string' }, status: { type: 'string' }, q: { type: 'string' } }, 'no file or code', prepareList),
  get: { options: commandCommonOptions, positionals: [1, 'one cylinder code'], prepare: prepareGet },
};

export function main(argv: string[], io: CliIo): Promise<number> {
  return runCommands({ script: 'cylinders', help, commands }, argv, io);
}

function prepareImport(file: string, v: CliValues, io: CliIo): (api: ApiClient) => Promise<number> {
  const request = readImportFile(file, v, 'cylinder records');
  return async (api) => {
    let result;
    try {
      result = await api.importCylinders(request.body, request.onConflict);
    } catch (e) {
      return importFailed(e, io, `list the cylinders, or import ${file} again with --on-conflict skip or update`);
    }
    io.out(`imported ${file}: ${result.created} created, ${result.updated} updated, ${result.skipped} skipped`);
    return exitCodes.ok;
  };
}

function prepareList(v: CliValues, _positionals: string[], io: CliIo): (api: ApiClient) => Promise<number> {
  const status = optionalStatus(v.status as string | undefined);
  const limit = limitOption(v, MAX_LIMIT);
  const q = { stationId: v.station as string | undefined, ...(status ? { status } : {}), q: v.q as string | undefined, limit };
  return (api) => list(api, q, io);
}

function prepareGet(_v: CliValues, positionals: string[], io: CliIo): (api: ApiClient) => Promise<number> {
  const code = positionals[0]!;
  return async (api) => {
    printRecord(await api.getCylinder(code), io);
    return exitCodes.ok;
  };
}

function optionalStatus(s: string | undefined): CylinderStatus | undefined {
  if (s === undefined) return undefined;
  const status = cylinderStatuses.find((x) => x === s);
  if (!status) throw new UsageError(`--status ${s}: one of ${cylinderStatuses.join(', ')}`);
  return status;
}

/** YYYY-MM-DD of a record date (UTC midnight of the China local date); '-' when unknown. */
function date(ms: number | null): string {
  return ms === null ? '-' : isoDate(ms);
}

async function list(api: ApiClient, q: { stationId?: string; status?: CylinderStatus; q?: string; limit: number }, io: CliIo): Promise<number> {
  const { total, items } = await api.listCylinders(q);
  const header = ['code', 'model', 'status', 'mfgDate', 'nextInspection', 'maxFillKg', 'owner', 'entrusted'];
  const rows = items.map((c) => [
    c.code, c.model, c.status, date(c.mfgDate), date(c.nextInspection), String(c.maxFillKg), c.ownerStationId,
    c.entrustedStationIds.join(';'),
  ]);
  printTable(header, rows, io);
  io.out(`${items.length} of ${total} cylinder(s)`);
  return exitCodes.ok;
}

function printRecord(c: CylinderView, io: CliIo): void {
  const fields: Array<[string, string]> = [
    ['code', c.code],
    ['model', c.model],
    ['status', c.status],
    ['mfgDate', date(c.mfgDate)],
    ['designLifeYears', String(c.designLifeYears)],
    ['lastInspection', date(c.lastInspection)],
    ['nextInspection', date(c.nextInspection)],
    ['ownerStationId', c.ownerStationId],
    ['entrustedStationIds', c.entrustedStationIds.length ? c.entrustedStationIds.join(';') : '-'],
    ['maxFillKg', String(c.maxFillKg)],
  ];
  const width = Math.max(...fields.map(([k]) => k.length));
  for (const [k, value] of fields) io.out(`${k.padEnd(width)}  ${value}`);
}

runIfMain(import.meta.url, main);
