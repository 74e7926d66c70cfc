/**
 * A real HAProxy (Debian `haproxy`) for a test, run in the foreground (-db) with a config file
 * and its environment (docs/haproxy.cfg takes every address from the environment), on loopback
 * ports; stopped with SIGKILL (nothing of it is kept).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';

export class HaproxyServer {
  private out = '';

  private constructor(private readonly child: ChildProcess) {}

  /** Start, and wait until every port in `listening` accepts connections. */
  static async start(bin: string, configFile: string, env: Record<string, string>, listening: number[]): Promise<HaproxyServer> {
    const child = spawn(bin, ['-db', '-f', configFile], { env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    const h = new HaproxyServer(child);
    child.stdout?.on('data', (d: Buffer) => { h.out += d.toString(); });
    child.stderr?.on('data', (d: Buffer) => { h.out += d.toString(); });
    const deadline = Date.now() + 15_000;
    for (const port of listening) {
      while (!(await accepts(port))) {
        if (child.exitCode !== null || Date.now() > deadline) {
          await h.stop();
          throw new Error(`haproxy did not start (exit ${child.exitCode}): ${h.out}`);
        }
        await new Promise((r) => setTimeout(r, 50));
      }
    }
    return h;
  }

  /** What it printed (its warnings and alerts: a server going down, up). */
  get output(): string {
    return this.out;
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise((r) => this.child.once('exit', r));
    this.child.kill('SIGKILL');
    await exited;
  }
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.once('connect', () => { s.destroy(); resolve(true); });
    s.once('error', () => resolve(false));
  });
}
