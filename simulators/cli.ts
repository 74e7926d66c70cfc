/**
 * What the simulator CLIs share: where output goes (so tests run them in-process), the API
 * credential options, error printing, "run main when this file is the program", and the
 * command skeleton (with a registry's import and list commands), bulk-import file handling and
 * table printing of the devices and cylinders CLIs.
 */
import { readFileSync, realpathSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import type { OnConflict } from '../devices/deviceRegistry.js';
import { ApiClient, ApiError } from './apiClient.js';

/** Output and environment of one CLI run; tests pass their own and read what was printed. */
export interface CliIo {
  out(line: string): void;
  err(line: string): void;
  env: Readonly<Record<string, string | undefined>>;
}

export const processIo: CliIo = {
  out: (line) => void process.stdout.write(line + '\n'),
  err: (line) => void process.stderr.write(line + '\n'),
  env: process.env,
};

export type Main = (argv: string[], io: CliIo) => Promise<number>;

/** Exit codes of both CLIs. */
export const exitCodes = { ok: 0, failed: 1, usage: 2 } as const;

/** A mistake in the command line: print it with a pointer to --help, exit 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** parseArgs options for reaching the API; both CLIs take them. */
export const apiArgOptions = {
  api: { type: 'string' },
  user: { type: 'string' },
  password: { type: 'string' },
  'password-file': { type: 'string' },
} as const;

export const apiArgsHelp = `API access (flag, else environment variable):
  --api URL              SUPERVISION_API       default http://localhost:3000
  --user NAME            SUPERVISION_USER      default admin
  --password P           SUPERVISION_PASSWORD  (a flag shows in the process list: prefer the
  --password-file FILE                          variable or a file, e.g. data/admin-password.txt)`;

export interface ApiAccess {
  url: string;
  user: string;
  password: string;
}

/** The API credentials from flags and environment, or null when no password was given. */
export function apiAccess(values: { api?: string; user?: string; password?: string; 'password-file'?: string }, env: CliIo['env']): ApiAccess | null {
  const url = values.api ?? env.SUPERVISION_API ?? 'http://localhost:3000';
  try {
    new URL(url);
  } catch {
    throw new UsageError(`--api ${url} is not a URL (e.g. http://localhost:3000)`);
  }
  let password = values.password;
  if (password === undefined && values['password-file'] !== undefined) password = readPasswordFile(values['password-file']);
  password ??= env.SUPERVISION_PASSWORD;
  if (password === undefined || password === '') return null;
  return { url, user: values.user ?? env.SUPERVISION_USER ?? 'admin', password };
}

function readPasswordFile(file: string): string {
  try {
    // the generated file holds the password and a newline
    return readFileSync(file, 'utf8').trim();
  } catch (e) {
    throw new UsageError(`cannot read --password-file ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
}

export function login(access: ApiAccess): Promise<ApiClient> {
  return ApiClient.login(access.url, access.user, access.password);
}

/**
 * Lines that explain a failure: the catalog code and message, then one line per problem
 * (import rows with their row number, or request fields).
 */
export function describeError(err: unknown): string[] {
  if (!(err instanceof ApiError)) return [`error: ${err instanceof Error ? err.message : String(err)}`];
  const lines = [`error ${err.code}${err.status ? ` (HTTP ${err.status})` : ''}: ${err.message}`];
  const rows = err.rowProblems;
  if (rows.length) {
    for (const p of rows) lines.push(`  row ${p.row}, ${p.path}: ${p.message}`);
  } else if (Array.isArray(err.details)) {
    for (const d of err.details as Array<{ in?: string; path?: string; message?: string }>) {
      lines.push(`  ${d.in ? `${d.in} ` : ''}${d.path ?? ''}: ${d.message ?? JSON.stringify(d)}`);
    }
  }
  if (err.code === 'network') lines.push('  is the service running? (npm start; --api or SUPERVISION_API names it)');
  if (err.code === 'bad_credentials') lines.push('  check --user/--password (the first admin password is in DATA_DIR/admin-password.txt)');
  return lines;
}

/** Options every command of a command CLI takes: API access and --help. */
export const commandCommonOptions = { ...apiArgOptions, help: { type: 'boolean', short: 'h' } } as const;

/** Parsed option values of one command. */
export type CliValues = Record<string, string | boolean | string[] | undefined>;

/** One command of a command CLI: its options, the positional arguments it takes, and what it does. */
export interface CliCommand {
  /** parseArgs options (commandCommonOptions and its own) */
  options: NonNullable<ParseArgsConfig['options']>;
  /** how many positional arguments it takes, and what they are (for the usage error) */
  positionals: readonly [n: number, what: string];
  /** check the command line fully before anything is sent: throw UsageError on a mistake, else return what to do */
  prepare(values: CliValues, positionals: string[], io: CliIo): (api: ApiClient) => Promise<number>;
}

/** A CLI of commands (`npm run devices -- import ...`), each checked fully before it talks to the API. */
export interface CommandCli {
  /** the npm script, for the pointer to --help: `npm run <script> -- --help` */
  script: string;
  help: string;
  /** the commands by name, in the order the unknown-command message lists them */
  commands: Readonly<Record<string, CliCommand>>;
}

/**
 * Runs a command CLI: --help, the command, its options and the API password are checked
 * before anything is sent (usage errors exit 2), then one login and the command (a service
 * error is printed with its problems, exit 1).
 */
export async function runCommands(cli: CommandCli, argv: string[], io: CliIo): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
    io.out(cli.help);
    return command === undefined ? exitCodes.usage : exitCodes.ok;
  }
  const names = Object.keys(cli.commands);
  if (!names.includes(command)) {
    io.err(`unknown command "${command}": ${names.slice(0, -1).join(', ')} or ${names.at(-1)} (npm run ${cli.script} -- --help)`);
    return exitCodes.usage;
  }
  const cmd = cli.commands[command]!;

  let run: (api: ApiClient) => Promise<number>;
  let access;
  try {
    const parsed = parseArgs({ args: rest, options: cmd.options, strict: true, allowPositionals: true });
    const values = parsed.values as CliValues;
    if (values.help) { io.out(cli.help); return exitCodes.ok; }
    access = apiAccess(values as Parameters<typeof apiAccess>[0], io.env);
    if (!access) throw new UsageError('no API password: --password, --password-file or SUPERVISION_PASSWORD');
    expectPositionals(command, parsed.positionals, ...cmd.positionals);
    run = cmd.prepare(values, parsed.positionals, io);
  } catch (e) {
    io.err(`${(e as Error).message}\n(npm run ${cli.script} -- --help)`);
    return exitCodes.usage;
  }

  try {
    return await run(await login(access));
  } catch (e) {
    for (const line of describeError(e)) io.err(line);
    return exitCodes.failed;
  }
}

/** A command's positional arguments must be exactly `n` (`what` says which, for the message). */
export function expectPositionals(command: string, positionals: string[], n: number, what: string): void {
  if (positionals.length !== n) throw new UsageError(`${command} takes ${what}${positionals.length > n ? `; unexpected: ${positionals.slice(n).join(' ')}` : ''}`);
}

/** parseArgs options of a bulk import command (read by readImportFile). */
export const importArgOptions = { format: { type: 'string' }, 'on-conflict': { type: 'string' } } as const;

/**
 * The `import <file>` command of a registry: commandCommonOptions, importArgOptions and its
 * own `options`; one file, handed to `prepare` (which reads it with readImportFile).
 */
export function importCommand(
  options: NonNullable<ParseArgsConfig['options']>,
  prepare: (file: string, values: CliValues, io: CliIo) => (api: ApiClient) => Promise<number>,
): CliCommand {
  return {
    options: { ...commandCommonOptions, ...importArgOptions, ...options },
    positionals: [1, 'one file'],
    prepare: (values, positionals, io) => prepare(positionals[0]!, values, io),
  };
}

/**
 * A list command of a registry: commandCommonOptions, its `filters` and --limit (read with
 * limitOption); no positional argument (`takes` says what it takes instead, for the message).
 */
export function listCommand(filters: NonNullable<ParseArgsConfig['options']>, takes: string, prepare: CliCommand['prepare']): CliCommand {
  return { options: { ...commandCommonOptions, ...filters, limit: { type: 'string' } }, positionals: [0, takes], prepare };
}

/**
 * A list command's --limit: 100 when not given, else a whole number from 1 (to `max`, the
 * service's largest page, when it has one).
 */
export function limitOption(values: CliValues, max?: number): number {
  const given = values.limit as string | undefined;
  const limit = given === undefined ? 100 : Number(given);
  if (!Number.isInteger(limit) || limit < 1 || (max !== undefined && limit > max)) {
    throw new UsageError(`--limit ${given}: ${max === undefined ? 'a positive whole number' : `a whole number from 1 to ${max}`}`);
  }
  return limit;
}

/** Rows under a header, in columns two spaces apart (the last one unpadded: it may hold wide characters). */
export function printTable(header: string[], rows: string[][], io: CliIo): void {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  for (const r of [header, ...rows]) io.out(r.map((cell, i) => (i < r.length - 1 ? cell.padEnd(widths[i]!) : cell)).join('  ').trimEnd());
}

/** The request body of a bulk import: CSV text, or the rows of a JSON array. */
export type ImportBody = { csv: string } | { json: unknown[] };

/**
 * Reads and checks a bulk-import file before anything is sent: the format (--format, else the
 * extension), --on-conflict (default error), and for JSON an array of `records`. `values`
 * are the command's options (importArgOptions).
 */
export function readImportFile(file: string, values: CliValues, records: string): { body: ImportBody; onConflict: OnConflict } {
  const kind = (values.format as string | undefined) ?? formatOf(file);
  if (kind !== 'csv' && kind !== 'json') throw new UsageError(`--format ${kind}: csv or json`);
  const onConflict = (values['on-conflict'] as string | undefined) ?? 'error';
  if (onConflict !== 'error' && onConflict !== 'skip' && onConflict !== 'update') throw new UsageError(`--on-conflict ${onConflict}: error, skip or update`);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new UsageError(`cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  if (kind === 'csv') return { body: { csv: text }, onConflict };
  let rows: unknown;
  try {
    rows = JSON.parse(text);
  } catch (e) {
    throw new UsageError(`${file} is not JSON: ${(e as Error).message}`);
  }
  if (!Array.isArray(rows)) throw new UsageError(`${file} must hold a JSON array of ${records}`);
  return { body: { json: rows }, onConflict };
}

function formatOf(file: string): string {
  const ext = path.extname(file).toLowerCase().slice(1);
  if (ext === 'csv' || ext === 'json') return ext;
  throw new UsageError(`cannot tell the format of ${file} from its extension: add --format csv or --format json`);
}

/**
 * A bulk import that failed: its problems, and when the service gave no answer (a refusal is
 * all or nothing, the service says so; without an answer nobody knows) what to do about the
 * unknown outcome. Returns the exit code.
 */
export function importFailed(err: unknown, io: CliIo, unknownOutcome: string): number {
  for (const line of describeError(err)) io.err(line);
  // a job that ended failed wrote nothing; one whose end was not seen may have written all
  const known = err instanceof ApiError && (err.importJob ? err.importJob.finished : err.status >= 400 && err.status < 500);
  if (!known) io.err(`no answer, so the outcome is unknown: ${unknownOutcome}`);
  return exitCodes.failed;
}

/** Runs `main` with the process's arguments when `moduleUrl` is the file node was started with. */
export function runIfMain(moduleUrl: string, main: Main): void {
  const entry = process.argv[1];
  if (!entry || !sameFile(entry, fileURLToPath(moduleUrl))) return;
  main(process.argv.slice(2), processIo).then(
    (code) => { process.exitCode = code; },
    (err: unknown) => {
      processIo.err(err instanceof Error ? (err.stack ?? err.message) : String(err));
      process.exitCode = exitCodes.failed;
    },
  );
}

function sameFile(a: string, b: string): boolean {
  try {
    return realpathSync(a) === realpathSync(b);
  } catch {
    return false;
  }
}
