/**
 * What the cluster benchmark (bench/cluster.ts) starts besides the service: a real PostgreSQL
 * (Debian `postgresql`: initdb and pg_ctl in a temp dir, loopback, durable commits as cluster
 * mode requires) and a real `redis-server` (loopback, no persistence), and the service's nodes
 * on them. The tests have the same starters (test/helpers/postgresServer.ts, redisServer.ts),
 * but the build (tsconfig.build.json) leaves test/ out, so the minimal part is here.
 *
 * Everything started is registered with `cleanup`, which also runs, synchronously, at process
 * exit and on SIGINT/SIGTERM: pg_ctl detaches the server, so a bench that dies without its
 * finally block must still stop it.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { shares } from '../../core/cluster/slots.js';
import { encodeConnect } from '../../simulators/load/rawMqtt.js';
import { freePort, waitFor } from './harness.js';

// ---------------------------------------------------------------- cleanup

const sync: Array<() => void> = [];

/** Run at exit (or on a signal) unless removed first: each must be synchronous and never throw. */
function atExit(fn: () => void): () => void {
  sync.push(fn);
  return () => { const i = sync.indexOf(fn); if (i >= 0) sync.splice(i, 1); };
}

function runAtExit(): void {
  for (const fn of sync.splice(0).reverse()) {
    try { fn(); } catch { /* best effort: the rest must still run */ }
  }
}
process.once('exit', runAtExit);
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  // exit code as a shell reports a signal; 'exit' then runs the synchronous cleanup
  process.once(sig, () => process.exit(sig === 'SIGINT' ? 130 : 143));
}

/** A temp dir removed at exit (or earlier, by the returned function). */
export function tempDir(prefix: string): { dir: string; remove: () => void } {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  const remove = (): void => rmSync(dir, { recursive: true, force: true });
  const off = atExit(remove);
  return { dir, remove: () => { off(); remove(); } };
}

/** SIGTERM (the service's clean stop), SIGKILL after `graceMs`; resolves once it is gone. */
export async function stopProcess(proc: ChildProcess, graceMs = 10_000): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return;
  const gone = new Promise((r) => proc.once('exit', r));
  proc.kill('SIGTERM');
  const timer = setTimeout(() => proc.kill('SIGKILL'), graceMs);
  await gone;
  clearTimeout(timer);
}

/** A child process that is SIGKILLed at exit if still running. */
function killAtExit(proc: ChildProcess): void {
  const off = atExit(() => { if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL'); });
  proc.once('exit', off);
}

// ---------------------------------------------------------------- programs

function onPath(name: string): string | null {
  for (const d of (process.env.PATH ?? '').split(path.delimiter)) {
    if (d && existsSync(path.join(d, name))) return path.join(d, name);
  }
  return null;
}

/** initdb and pg_ctl: on PATH, else Debian's /usr/lib/postgresql/<newest major>/bin; or why not. */
export function postgresPrograms(): { initdb: string; pg_ctl: string } | string {
  const initdb = onPath('initdb');
  const pgCtl = onPath('pg_ctl');
  if (initdb && pgCtl) return { initdb, pg_ctl: pgCtl };
  const root = '/usr/lib/postgresql';
  const majors = existsSync(root) ? readdirSync(root).filter((v) => /^\d+$/.test(v)).sort((a, b) => Number(b) - Number(a)) : [];
  for (const v of majors) {
    const bin = path.join(root, v, 'bin');
    if (existsSync(path.join(bin, 'initdb')) && existsSync(path.join(bin, 'pg_ctl'))) return { initdb: path.join(bin, 'initdb'), pg_ctl: path.join(bin, 'pg_ctl') };
  }
  return 'initdb/pg_ctl not found on PATH or under /usr/lib/postgresql/*/bin (Debian package postgresql)';
}

export function redisProgram(): string {
  return onPath('redis-server') ?? '';
}

// ---------------------------------------------------------------- PostgreSQL

export interface Postgres {
  /** a new empty database, by its URL */
  createDatabase(name: string): Promise<string>;
  stop(): Promise<void>;
}

/** Run a program to its end; pg_ctl start returns once the server is up (the server runs on, detached). */
function run(bin: string, args: string[], cwd: string, user: { uid: number; gid: number } | null): Promise<void> {
  // the caller's PG* variables (PGDATA, PGPORT...) must not steer the bench's server
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('PG')));
  return new Promise((resolve, reject) => {
    const child = spawn(bin, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'], ...(user ?? {}) });
    let out = '';
    child.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { out += d.toString(); });
    child.once('error', reject);
    // 'exit', not 'close': the detached server may keep a copy of the pipes open
    child.once('exit', (code) => {
      child.stdout.destroy();
      child.stderr.destroy();
      if (code === 0) resolve();
      else reject(new Error(`${path.basename(bin)} ${args.join(' ')} failed (${code}): ${out}`));
    });
  });
}

/**
 * initdb + pg_ctl start on loopback and a free port, fsync and synchronous commit on (cluster
 * mode's requirement: the journal drops a batch once PostgreSQL committed it, so the bench
 * measures the commit a deployment pays). As root, both run as the Debian `postgres` user.
 */
export async function startPostgres(bins: { initdb: string; pg_ctl: string }): Promise<Postgres> {
  let user: { uid: number; gid: number } | null = null;
  if (process.getuid?.() === 0) {
    const id = (flag: string): number => Number(execFileSync('id', [flag, 'postgres'], { encoding: 'utf8' }).trim());
    user = { uid: id('-u'), gid: id('-g') };
  }
  const tmp = tempDir('supervision-bench-pg-');
  if (user) chownSync(tmp.dir, user.uid, user.gid);
  const data = path.join(tmp.dir, 'data');
  const port = await freePort();
  const urlOf = (db: string): string => `postgres://postgres@127.0.0.1:${port}/${db}`;
  // --no-sync only for initdb's own files: the server below runs with fsync on
  await run(bins.initdb, ['-D', data, '-U', 'postgres', '--auth=trust', '--no-sync', '-E', 'UTF8', '--locale=C'], tmp.dir, user);
  const stopSync = (): void => {
    try { execFileSync(bins.pg_ctl, ['-D', data, '-m', 'immediate', 'stop'], { cwd: tmp.dir, stdio: 'ignore', ...(user ?? {}) }); } catch { /* not running */ }
  };
  // before the start: a bench killed while pg_ctl waits must still stop the server (runs before the dir's removal)
  const offStop = atExit(stopSync);
  await run(bins.pg_ctl, ['-D', data, '-l', path.join(tmp.dir, 'server.log'), '-w', '-t', '60', '-o',
    `-k ${tmp.dir} -c listen_addresses=127.0.0.1 -p ${port} -c max_connections=200`, 'start'], tmp.dir, user);
  const admin = async (sql: string): Promise<void> => {
    const c = new pg.Client({ connectionString: urlOf('postgres'), connectionTimeoutMillis: 5_000 });
    await c.connect();
    try { await c.query(sql); } finally { await c.end(); }
  };
  await waitFor(async () => { await admin('SELECT 1'); return true; }, 15_000, 'PostgreSQL over TCP');
  return {
    createDatabase: async (name) => {
      if (!/^[a-z_][a-z0-9_]{0,62}$/.test(name)) throw new Error(`not a plain database name: ${name}`);
      await admin(`CREATE DATABASE "${name}"`);
      return urlOf(name);
    },
    stop: async () => {
      offStop();
      await run(bins.pg_ctl, ['-D', data, '-m', 'immediate', '-w', 'stop'], tmp.dir, user).catch(() => undefined);
      tmp.remove();
    },
  };
}

// ---------------------------------------------------------------- Redis

/** One inline PING on a fresh socket: true when +PONG came back. */
function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    const done = (ok: boolean): void => { s.destroy(); resolve(ok); };
    s.setTimeout(1000, () => done(false));
    s.once('error', () => done(false));
    s.once('connect', () => s.write('PING\r\n'));
    s.once('data', (d: Buffer) => done(d.toString().startsWith('+PONG')));
  });
}

/** redis-server on loopback and a free port, nothing written to disk: a fresh one per configuration, so no session or stream of the last one is left. */
export async function startRedis(bin: string): Promise<{ url: string; stop: () => Promise<void> }> {
  const tmp = tempDir('supervision-bench-redis-');
  const port = await freePort();
  const proc = spawn(bin, ['--port', String(port), '--bind', '127.0.0.1', '--dir', tmp.dir, '--save', '', '--appendonly', 'no', '--protected-mode', 'yes'], { stdio: 'ignore' });
  killAtExit(proc);
  await waitFor(async () => {
    if (proc.exitCode !== null) throw new Error(`redis-server exited ${proc.exitCode}`);
    return ping(port);
  }, 15_000, 'redis-server PING');
  return {
    url: `redis://127.0.0.1:${port}`,
    stop: async () => {
      if (proc.exitCode === null && proc.signalCode === null) {
        const gone = new Promise((r) => proc.once('exit', r));
        proc.kill('SIGKILL');
        await gone;
      }
      tmp.remove();
    },
  };
}

// ---------------------------------------------------------------- the service's nodes

export interface Node { id: string; proc: ChildProcess; mqttPort: number; httpPort: number }

/** A node's gauge from /metrics (labels ignored), or undefined. */
async function gauge(httpPort: number, name: string): Promise<number | undefined> {
  const text = await (await fetch(`http://127.0.0.1:${httpPort}/metrics`)).text();
  const m = new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(text);
  return m ? Number(m[1]) : undefined;
}

/**
 * One service process, as harness.ts startOurs starts it, but registered for the exit cleanup
 * as soon as it is spawned (a bench interrupted while a node starts must not leave it running),
 * and without the caller's cluster settings (the embedded node must stay embedded).
 */
async function startNode(id: string, data: { dir: string; remove: () => void }, env: Record<string, string>): Promise<Node> {
  const [mqttPort, httpPort] = [await freePort(), await freePort()];
  const inherited = Object.fromEntries(Object.entries(process.env).filter(([k2]) => !['REDIS_URL', 'DATABASE_URL', 'NODE_ID', 'CONFIG_FILE'].includes(k2)));
  const proc = spawn(process.execPath, ['dist/service/main.js'], {
    env: { ...inherited, DATA_DIR: data.dir, MQTT_PORT: String(mqttPort), HTTP_PORT: String(httpPort), MQTT_HOST: '127.0.0.1', HTTP_HOST: '127.0.0.1', ADMIN_PASSWORD: 'bench-admin-pass', LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  killAtExit(proc);
  proc.once('exit', () => data.remove());
  const node = { id, proc, mqttPort, httpPort };
  const deadline = Date.now() + 60_000;
  for (;;) {
    // its exit is the answer at once (its stderr is on ours), not after the deadline
    if (proc.exitCode !== null) throw new Error(`${id} exited ${proc.exitCode} while starting`);
    if (await fetch(`http://127.0.0.1:${httpPort}/healthz`).then((r) => r.ok, () => false)) return node;
    if (Date.now() > deadline) {
      await stopProcess(proc, 2000);
      throw new Error(`${id}: no /healthz 200 within 60 s`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * The built service as `ids.length` nodes: the embedded default when `cluster` is null, else
 * nodes over the given Redis and PostgreSQL, started one after the other (the first applies
 * the migrations) and resolved once each holds its rendezvous share of the rule slots (before
 * that, a node still taking slots would be measured mid-hand-over).
 */
export async function startNodes(ids: string[], cluster: { redisUrl: string; databaseUrl: string } | null): Promise<Node[]> {
  const nodes: Node[] = [];
  try {
    for (const id of ids) {
      const data = tempDir(`supervision-bench-${id}-`);
      const env: Record<string, string> = cluster ? { REDIS_URL: cluster.redisUrl, DATABASE_URL: cluster.databaseUrl, NODE_ID: id } : {};
      nodes.push(await startNode(id, data, env));
    }
    if (cluster) {
      const share = shares(ids);
      await waitFor(async () => {
        for (const n of nodes) {
          if ((await gauge(n.httpPort, 'cluster_peers')) !== ids.length) return false;
          if ((await gauge(n.httpPort, 'cluster_slots_held')) !== share.get(n.id)) return false;
        }
        return true;
      }, 30_000, 'the slots shared by every node (/metrics cluster_peers, cluster_slots_held)');
    }
    return nodes;
  } catch (err) {
    await stopNodes(nodes);
    throw err;
  }
}

export async function stopNodes(nodes: Node[]): Promise<void> {
  await Promise.all(nodes.map((n) => stopProcess(n.proc)));
}

/**
 * True once an MQTT CONNECT with this device's credentials is accepted on `port`: a node learns
 * of devices registered through another node from the change bus, a moment later.
 */
export function acceptsDevice(port: number, id: string, secret: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    const done = (ok: boolean): void => { s.destroy(); resolve(ok); };
    s.setTimeout(2000, () => done(false));
    s.once('error', () => done(false));
    // the device's own client id: nothing else holds it yet (the load connects after this check)
    s.once('connect', () => s.write(encodeConnect(id, id, secret, 10)));
    // CONNACK: 0x20 0x02 flags code; code 0 is accepted
    s.once('data', (d: Buffer) => done(d[0] === 0x20 && d[3] === 0));
  });
}
