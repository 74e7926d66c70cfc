/**
 * A real VictoriaMetrics (Debian `victoria-metrics`) for a test: loopback, a free port, a temp
 * data dir. It accepts InfluxDB's /api/v2/write (series named `<measurement>_<field>`, string
 * fields dropped) and is read back raw through /api/v1/export, duplicates included (no
 * -dedup.minScrapeInterval), so "exactly once" can be counted.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';

export interface ExportedSeries {
  metric: Record<string, string>;
  values: number[];
  timestamps: number[];
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

export class Victoria {
  private child: ChildProcess | null = null;
  readonly url: string;

  private constructor(readonly bin: string, readonly port: number, readonly dataDir: string) {
    this.url = `http://127.0.0.1:${port}`;
  }

  /** A server on a free port, not started yet (tests start it late to simulate an outage). */
  static async create(bin: string): Promise<Victoria> {
    return new Victoria(bin, await freePort(), mkdtempSync(path.join(tmpdir(), 'supervision-vm-')));
  }

  async start(): Promise<void> {
    if (this.child) return;
    const child = spawn(this.bin, [`-httpListenAddr=127.0.0.1:${this.port}`, `-storageDataPath=${this.dataDir}`, '-loggerLevel=ERROR', '-search.latencyOffset=0s'], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr?.on('data', (d: Buffer) => { stderr += d.toString(); });
    this.child = child;
    const deadline = Date.now() + 15_000;
    while (Date.now() < deadline) {
      if (child.exitCode !== null) throw new Error(`victoria-metrics exited ${child.exitCode}: ${stderr}`);
      try {
        const res = await fetch(`${this.url}/health`);
        if (res.ok) return;
      } catch { /* not listening yet */ }
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`victoria-metrics did not become healthy: ${stderr}`);
  }

  /** Stop (SIGTERM: it flushes what it accepted). */
  async stop(): Promise<void> {
    const child = this.child;
    if (!child) return;
    this.child = null;
    if (child.exitCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    await exited;
  }

  async dispose(): Promise<void> {
    await this.stop();
    rmSync(this.dataDir, { recursive: true, force: true });
  }

  /** Raw samples of every series matching the selector, after forcing a flush so recent writes show. */
  async export(selector: string): Promise<ExportedSeries[]> {
    await fetch(`${this.url}/internal/force_flush`);
    const res = await fetch(`${this.url}/api/v1/export?${new URLSearchParams({ 'match[]': selector, start: '0' }).toString()}`);
    if (!res.ok) throw new Error(`export ${res.status}: ${await res.text()}`);
    const text = await res.text();
    return text.split('\n').filter(Boolean).map((l) => JSON.parse(l) as ExportedSeries);
  }
}
