/**
 * A /ws client for tests (dashboard/ws/hub.ts): records every message it gets; `next` waits for
 * one matching a predicate. Shared by test/dashboard/live.test.ts and the district scope suite.
 */
import WebSocket from 'ws';

export type Msg = Record<string, unknown> & { type: string; seq?: number };

/** A client that records every message; `next` waits for one matching a predicate. */
export class Client {
  readonly got: Msg[] = [];
  private waiters: Array<{ match: (m: Msg) => boolean; resolve: (m: Msg) => void }> = [];
  closed: Promise<{ code: number }>;
  constructor(readonly ws: WebSocket) {
    ws.on('message', (data) => {
      const m = JSON.parse(String(data)) as Msg;
      this.got.push(m);
      this.waiters = this.waiters.filter((w) => (w.match(m) ? (w.resolve(m), false) : true));
    });
    this.closed = new Promise((resolve) => ws.on('close', (code) => resolve({ code })));
  }
  static open(url: string): Promise<Client> {
    const ws = new WebSocket(url);
    const c = new Client(ws);
    return new Promise((resolve, reject) => { ws.once('open', () => resolve(c)); ws.once('error', reject); });
  }
  next(match: (m: Msg) => boolean, ms = 3000): Promise<Msg> {
    const found = this.got.find(match);
    if (found) return Promise.resolve(found);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no matching message within ${ms} ms; got ${this.got.map((m) => m.type).join(',')}`)), ms);
      this.waiters.push({ match, resolve: (m) => { clearTimeout(timer); resolve(m); } });
    });
  }
  close(): void { this.ws.close(); }
}
