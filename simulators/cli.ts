/**
 * What the simulator CLIs share: where output goes (so tests run them in-process), the API
 * credential options, error printing, and "run main when this file is the program".
 */
import { readFileSync, realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
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
