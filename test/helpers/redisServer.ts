/**
 * A real Redis (Debian `redis-server`) for a test: loopback only, a free port, a temp dir, no
 * persistence to disk; stopped (SIGKILL is enough: nothing of it is kept) and its dir removed.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { freePort } from '../store/influx/victoria.js';

export class RedisServer {
  private child: ChildProcess | null = null;
  readonly url: string;

  private constructor(readonly bin: string, readonly port: number, readonly dir: string, readonly persist = false) {
    this.url = `redis://127.0.0.1:${port}`;
  }

  /** persist: an append-only file fsynced on every write, so a stop (even SIGKILL) and start keep the data */
  static async start(bin: string, opts: { persist?: boolean } = {}): Promise<RedisServer> {
    const r = new RedisServer(bin, await freePort(), mkdtempSync(path.join(tmpdir(), 'supervision-redis-')), opts.persist);
    await r.start();
    return r;
  }

  async start(): Promise<void> {
    if (this.child) return;
    const child = spawn(this.bin, ['--port', String(this.port), '--bind', '127.0.0.1', '--dir', this.dir, '--save', '', ...(this.persist ? ['--appendonly', 'yes', '--appendfsync', 'always'] : ['--appendonly', 'no']), '--protected-mode', 'yes'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout?.on('data', (d: Buffer) => { out += d.toString(); });
    child.stderr?.on('data', (d: Buffer) => { out += d.toString(); });
    this.child = child;
    const deadline = Date.now() + 15_000;
    while (Date.now() < deadline) {
      if (child.exitCode !== null) throw new Error(`redis-server exited ${child.exitCode}: ${out}`);
      if (await this.ping()) return;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`redis-server did not answer PING: ${out}`);
  }

  /** Stops it at once (an outage); start() brings it back, empty unless started with persist. */
  async stop(): Promise<void> {
    const child = this.child;
    if (!child) return;
    this.child = null;
    if (child.exitCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGKILL');
    await exited;
  }

  async dispose(): Promise<void> {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** One inline PING on a fresh socket: true when +PONG came back. */
  private ping(): Promise<boolean> {
    return new Promise((resolve) => {
      const s = net.connect(this.port, '127.0.0.1');
      const done = (ok: boolean): void => { s.destroy(); resolve(ok); };
      s.setTimeout(1000, () => done(false));
      s.once('error', () => done(false));
      s.once('connect', () => s.write('PING\r\n'));
      s.once('data', (d: Buffer) => done(d.toString().startsWith('+PONG')));
    });
  }
}
