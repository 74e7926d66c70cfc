/**
 * The devices CLI: bulk import, list, create and rotate secrets. `npm run devices -- --help`.
 *
 * Always through the running service's API, never the database file: DuckDB allows one
 * writing process, and the registry the broker authenticates against lives in the service.
 */
import { closeSync, existsSync, openSync, unlinkSync, writeSync } from 'node:fs';
import { families, isFamily, type Family } from '../core/schemas/index.js';
import type { ApiClient, Credentials, NewDevice } from '../simulators/apiClient.js';
import {
  apiArgsHelp, commandCommonOptions, exitCodes, importCommand, importFailed, limitOption, listCommand, printTable, readImportFile, runCommands, runIfMain, UsageError,
  type CliCommand, type CliIo, type CliValues,
} from '../simulators/cli.js';

const help = `Devices CLI: register and manage devices through the running service's API.

Usage:
  npm run devices -- import <file> [--format csv|json] [--on-conflict error|skip|update] [--out secrets.csv]
      bulk import, all or nothing, run by the service as a background job this command waits
      for (its phases are printed on stderr). CSV columns: id,family,name,lat,lng,district and the
      family's metadata keys (storeId, registrationCode, maintenanceUnit, stationId, ...);
      JSON: an array of {id, family, name?, location?: {lat, lng}, district?, meta?}.
      The format follows the extension unless --format says otherwise. Secrets of created
      devices go to --out (CSV id,family,secret, mode 0600, must not exist yet) or stdout.
      On a problem every bad row is printed (row, field, message) and nothing is imported.
  npm run devices -- list [--family F] [--q text] [--district code] [--limit N]
  npm run devices -- create --id ID --family F [--name N] [--lat X --lng Y] [--district code] [--meta key=value ...]
      prints the new device's secret: the only time it is shown
  npm run devices -- rotate <id>
      issues a new secret; the old one stops working at once

Families: ${families.join(', ')}.

${apiArgsHelp}

Exit code: 0 done, 1 the service refused or failed (each problem printed), 2 usage error.`;

const commands: Readonly<Record<string, CliCommand>> = {
  import: importCommand({ out: { type: 'string' } }, prepareImport),
  list: listCommand({ family: { type: 'string' }, q: { type: 'string' }, district: { type: 'string' } }, 'no file or id', prepareList),
  create: {
    options: {
      ...commandCommonOptions, id: { type: 'string' }, family: { type: 'string' }, name: { type: 'string' }, lat: { type: 'string' },
      lng: { type: 'string' }, district: { type: 'string' }, meta: { type: 'string', multiple: true },
    },
    positionals: [0, 'options only (--id, --family, ...)'],
    prepare: prepareCreate,
  },
  rotate: { options: commandCommonOptions, positionals: [1, 'one device id'], prepare: prepareRotate },
};

export function main(argv: string[], io: CliIo): Promise<number> {
  return runCommands({ script: 'devices', help, commands }, argv, io);
}

function prepareImport(file: string, v: CliValues, io: CliIo): (api: ApiClient) => Promise<number> {
  const request = readImportFile(file, v, 'devices');
  const out = v.out as string | undefined;
  // checked here for a usage error before anything is sent; claimed exclusively below
  if (out !== undefined && existsSync(out)) throw new UsageError(SecretsFile.existsMessage(out));

  return async (api) => {
    // Secrets are shown once: claim the output file before importing, so a run can never
    // create devices whose secrets then have nowhere to go.
    const secrets = out ? SecretsFile.claim(out) : null;
    let result;
    try {
      // the service runs it as a job; its phases go to stderr, the secrets and the summary to stdout as before
      let shown = '';
      result = await api.importDevices(request.body, request.onConflict, (job) => {
        if (job.status === shown || job.status === 'done' || job.status === 'failed') return;
        shown = job.status;
        io.err(`import job ${job.id}: ${job.status} (${job.status === 'writing' ? job.written : job.validated} of ${job.total} rows)`);
      });
    } catch (e) {
      secrets?.abandon();
      return importFailed(e, io, `list the devices before importing ${file} again, and rotate the secrets of any it created`);
    }
    const csv = ['id,family,secret', ...result.created.map((c) => `${c.id},${c.family},${c.secret}`)].join('\n') + '\n';
    if (secrets) {
      secrets.write(csv);
      io.out(`secrets of ${result.created.length} created device(s) written to ${out} (mode 0600)`);
    } else if (result.created.length) {
      io.out(csv.trimEnd());
    }
    io.out(`imported ${file}: ${result.created.length} created, ${result.updated.length} updated, ${result.skipped.length} skipped`);
    return exitCodes.ok;
  };
}

/** A secrets file created exclusively with mode 0600 (never replacing one that holds older secrets). */
class SecretsFile {
  private constructor(private readonly file: string, private readonly fd: number) {}

  static claim(file: string): SecretsFile {
    try {
      return new SecretsFile(file, openSync(file, 'wx', 0o600));
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      throw new Error(code === 'EEXIST' ? SecretsFile.existsMessage(file) : `cannot create --out ${file}: ${code ?? (e as Error).message}`);
    }
  }

  static existsMessage(file: string): string {
    return `--out ${file} exists; it may hold secrets shown only once: move it or choose another name`;
  }

  write(text: string): void {
    writeSync(this.fd, text);
    closeSync(this.fd);
  }

  abandon(): void {
    closeSync(this.fd);
    unlinkSync(this.file);
  }
}

function prepareList(v: CliValues, _positionals: string[], io: CliIo): (api: ApiClient) => Promise<number> {
  const family = optionalFamily(v.family as string | undefined);
  const limit = limitOption(v);
  return (api) => list(api, { ...(family ? { family } : {}), q: v.q as string | undefined, district: v.district as string | undefined, limit }, io);
}

function prepareCreate(v: CliValues, _positionals: string[], io: CliIo): (api: ApiClient) => Promise<number> {
  const device = newDevice(v);
  return async (api) => {
    printSecret(await api.createDevice(device), 'registered', io);
    return exitCodes.ok;
  };
}

function prepareRotate(_v: CliValues, positionals: string[], io: CliIo): (api: ApiClient) => Promise<number> {
  const id = positionals[0]!;
  return async (api) => {
    printSecret(await api.rotateSecret(id), 'new secret for', io);
    return exitCodes.ok;
  };
}

async function list(api: ApiClient, q: { family?: Family; q?: string; district?: string; limit: number }, io: CliIo): Promise<number> {
  const { total, items } = await api.listDevices(q);
  const rows = items.map((d) => [
    d.id, d.family, d.district ?? '',
    d.connection.connected ? 'connected' : d.connection.lastSeen ? `seen ${d.connection.lastSeen}` : 'never seen',
    d.name ?? '',
  ]);
  // the name goes last: it may hold wide (CJK) characters that would skew the columns
  const header = ['id', 'family', 'district', 'connection', 'name'];
  printTable(header, rows, io);
  io.out(`${items.length} of ${total} device(s)`);
  return exitCodes.ok;
}

function newDevice(v: CliValues): NewDevice {
  const id = v.id as string | undefined;
  const family = optionalFamily(v.family as string | undefined);
  if (id === undefined || family === undefined) throw new UsageError('create needs --id and --family');
  const lat = v.lat as string | undefined;
  const lng = v.lng as string | undefined;
  if ((lat === undefined) !== (lng === undefined)) throw new UsageError('give --lat and --lng together');
  const meta: Record<string, string> = {};
  for (const pair of (v.meta as string[] | undefined) ?? []) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new UsageError(`--meta ${pair}: expected key=value, e.g. --meta maintenanceUnit=XX电梯公司`);
    meta[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  // the service validates the rest (id pattern, district code, metadata keys per family)
  return {
    id,
    family,
    ...(v.name !== undefined ? { name: v.name as string } : {}),
    ...(lat !== undefined && lng !== undefined ? { location: { lat: numberOrText(lat), lng: numberOrText(lng) } } : {}),
    ...(v.district !== undefined ? { district: v.district as string } : {}),
    ...(Object.keys(meta).length ? { meta } : {}),
  };
}

/** A number when it reads as one; otherwise the text, for the service to explain what is wrong. */
function numberOrText(s: string): number | string {
  const n = Number(s);
  return s.trim() !== '' && Number.isFinite(n) ? n : s;
}

function optionalFamily(s: string | undefined): Family | undefined {
  if (s === undefined) return undefined;
  if (!isFamily(s)) throw new UsageError(`--family ${s}: one of ${families.join(', ')}`);
  return s;
}

function printSecret(c: Credentials, what: string, io: CliIo): void {
  io.out(`${what} ${c.family} device ${c.id}`);
  io.out(`secret: ${c.secret}`);
  io.out('(shown only now: store it in the device; MQTT username = device id, password = secret)');
}

runIfMain(import.meta.url, main);
