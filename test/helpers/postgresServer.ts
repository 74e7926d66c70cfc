/**
 * A real PostgreSQL (Debian `postgresql`) for a test, like redisServer.ts: a cluster made by
 * initdb in a temp dir (trust auth for user `postgres`, no fsync: nothing of it is kept),
 * started by pg_ctl on loopback and a free port with its socket in the same dir, a database
 * per suite (`createDatabase`), stopped at once (`-m immediate`) and its dir removed.
 *
 * Run as root (CI, this machine), initdb and the server refuse to start: they then run as the
 * `postgres` user the Debian package created (Node's spawn sets the uid and gid, so nothing
 * like runuser or sudo is needed), in a dir handed to that user; nothing system-wide is made.
 */
import { execFileSync, spawn } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import type { Client } from 'pg';
import { freePort } from '../store/influx/victoria.js';
import { findProgram, programs } from './external.js';

const PROGRAMS = ['initdb', 'pg_ctl'];

/**
 * initdb and pg_ctl: on PATH, else where Debian puts the server's programs,
 * /usr/lib/postgresql/<major>/bin (off PATH: the package links only the client programs into
 * /usr/bin), the newest major that has both. Missing: programs() throws under
 * REQUIRE_EXTERNAL=1, else gives the reason to skip.
 */
export function postgresPrograms(): ReturnType<typeof programs> {
  if (PROGRAMS.some((p) => !findProgram(p))) {
    const dir = debianServerBin();
    if (dir) return { ok: true, paths: Object.fromEntries(PROGRAMS.map((p) => [p, path.join(dir, p)])) };
  }
  return programs(PROGRAMS, 'postgresql');
}

function debianServerBin(): string | null {
  const root = '/usr/lib/postgresql';
  let majors: string[];
  try {
    majors = readdirSync(root).filter((v) => /^\d+$/.test(v)).sort((a, b) => Number(b) - Number(a));
  } catch {
    return null;
  }
  return majors.map((v) => path.join(root, v, 'bin')).find((d) => PROGRAMS.every((p) => existsSync(path.join(d, p)))) ?? null;
}

/** The user the server's programs run as: ourselves, or `postgres` when we are root. */
interface RunAs { uid: number; gid: number }

function runAs(): RunAs | null {
  if (process.getuid?.() !== 0) return null;
  try {
    const id = (flag: string): number => Number(execFileSync('id', [flag, 'postgres'], { encoding: 'utf8' }).trim());
    return { uid: id('-u'), gid: id('-g') };
  } catch {
    throw new Error('running as root, and there is no `postgres` user to run initdb and the server as (the Debian package creates it)');
  }
}

/** Run a program to its end (pg_ctl start returns once the server is up: the server runs on, detached). */
function run(bin: string, args: string[], cwd: string, user: RunAs | null): Promise<string> {
  // PG* variables (PGDATA, PGPORT, ...) of the caller's shell must not steer the test's server
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('PG')));
  return new Promise((resolve, reject) => {
    const child = spawn(bin, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'], ...(user ?? {}) });
    let out = '';
    child.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { out += d.toString(); });
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.once('error', (err) => { clearTimeout(timer); reject(err); });
    // 'exit', not 'close': a detached server could keep a copy of the pipes open
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      child.stdout.destroy();
      child.stderr.destroy();
      if (code === 0) resolve(out);
      else reject(new Error(`${path.basename(bin)} ${args.join(' ')} failed (${code ?? signal}): ${out}`));
    });
  });
}

export class PostgresServer {
  /** the database made at start: postgres://postgres@127.0.0.1:<port>/supervision */
  readonly url: string;
  private running = false;
  private readonly stopAtExit = (): void => this.stopSync();

  private constructor(private readonly paths: Record<string, string>, readonly port: number, readonly dir: string, private readonly user: RunAs | null,
    private readonly durable: boolean) {
    this.url = this.urlOf('supervision');
  }

  /** initdb, start, wait until it takes connections, create the database of `url`. */
  /**
   * `durable`: commits survive the server's stop (fsync and synchronous commit on, as in
   * production), for tests that stop it as an outage; otherwise a commit of the last few hundred
   * ms may be lost to `stop`, which only throwaway data can afford.
   */
  static async start(paths: Record<string, string>, opts: { durable?: boolean } = {}): Promise<PostgresServer> {
    const user = runAs();
    const dir = mkdtempSync(path.join(tmpdir(), 'supervision-pg-'));
    // the server's socket dir goes into pg_ctl's -o, split on white space
    if (/\s/.test(dir)) throw new Error(`temp dir ${dir} has white space`);
    if (user) chownSync(dir, user.uid, user.gid);
    const s = new PostgresServer(paths, await freePort(), dir, user, opts.durable === true);
    try {
      await s.start();
      await s.createDatabase('supervision');
    } catch (err) {
      await s.dispose();
      throw err;
    }
    return s;
  }

  private get dataDir(): string {
    return path.join(this.dir, 'data');
  }

  private async start(): Promise<void> {
    // C locale: the same string order and no locale the machine may lack; no fsync: a test's data
    await run(this.paths.initdb!, ['-D', this.dataDir, '-U', 'postgres', '--auth=trust', '--no-sync', '-E', 'UTF8', '--locale=C'], this.dir, this.user);
    await this.launch();
  }

  /** Start the server again on the same data and port after stop() (an outage's end). */
  async restart(): Promise<void> {
    if (this.running) return;
    await this.launch();
  }

  private async launch(): Promise<void> {
    this.running = true;
    process.once('exit', this.stopAtExit);
    // -w: pg_ctl returns once the server accepts connections
    await run(this.paths.pg_ctl!, ['-D', this.dataDir, '-l', path.join(this.dir, 'server.log'), '-w', '-t', '60', '-o',
      `-k ${this.dir} -c listen_addresses=127.0.0.1 -p ${this.port}${this.durable ? '' : ' -c fsync=off -c synchronous_commit=off -c full_page_writes=off'}`, 'start'], this.dir, this.user);
    // and so does a client over TCP, as the store will connect
    const deadline = Date.now() + 15_000;
    for (;;) {
      try {
        await this.admin((c) => c.query('SELECT 1'));
        return;
      } catch (err) {
        if (Date.now() > deadline) throw err;
        await new Promise((r) => setTimeout(r, 50));
      }
    }
  }

  /** A new, empty database (a suite's own), by its URL. */
  async createDatabase(name: string): Promise<string> {
    // an identifier cannot be a parameter: only names of this shape are taken
    if (!/^[a-z_][a-z0-9_]{0,62}$/.test(name)) throw new Error(`not a plain database name: ${name}`);
    await this.admin((c) => c.query(`CREATE DATABASE "${name}"`));
    return this.urlOf(name);
  }

  /** Stop at once (an outage: restart() brings the same data back; dispose() removes it). */
  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    process.off('exit', this.stopAtExit);
    await run(this.paths.pg_ctl!, ['-D', this.dataDir, '-m', 'immediate', '-w', 'stop'], this.dir, this.user).catch(() => undefined);
  }

  async dispose(): Promise<void> {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }

  private urlOf(db: string): string {
    return `postgres://postgres@127.0.0.1:${this.port}/${db}`;
  }

  private async admin<T>(fn: (c: Client) => Promise<T>): Promise<T> {
    const c = new pg.Client({ connectionString: this.urlOf('postgres'), connectionTimeoutMillis: 5_000 });
    await c.connect();
    try {
      return await fn(c);
    } finally {
      await c.end();
    }
  }

  /** pg_ctl detaches the server: a test process that ends without dispose() must not leave it running. */
  private stopSync(): void {
    if (!this.running) return;
    this.running = false;
    try {
      execFileSync(this.paths.pg_ctl!, ['-D', this.dataDir, '-m', 'immediate', 'stop'], { cwd: this.dir, stdio: 'ignore', ...(this.user ?? {}) });
      rmSync(this.dir, { recursive: true, force: true });
    } catch { /* gone already */ }
  }
}
