/**
 * Webhooks against a real HTTP server on loopback: delivery, retries with back-off after
 * failures, giving up after the last attempt, and a slow webhook that never blocks the caller.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { Webhooks } from '../../alerts/webhooks.js';

const servers: http.Server[] = [];
afterEach(async () => { await Promise.all(servers.splice(0).map((s) => new Promise((r) => { s.closeAllConnections(); s.close(r); }))); });

/** A server answering with the given statuses in turn (the last one repeats); records bodies. */
async function server(statuses: number[], delayMs = 0): Promise<{ url: string; bodies: unknown[]; hits: () => number }> {
  const bodies: unknown[] = [];
  let hits = 0;
  const s = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => { body += c; });
    req.on('end', () => {
      const status = statuses[Math.min(hits, statuses.length - 1)]!;
      hits++;
      if (status === 200) bodies.push(JSON.parse(body));
      setTimeout(() => res.writeHead(status).end(), delayMs);
    });
  });
  servers.push(s);
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(s.address() as AddressInfo).port}/hook`, bodies, hits: () => hits };
}

const log = pino({ level: 'silent' });
const until = async (check: () => boolean, ms = 5000) => {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
};

describe('webhooks', () => {
  it('POSTs each change as JSON, retrying failures with back-off until delivered', async () => {
    const ok = await server([200]);
    const flaky = await server([500, 503, 200]);
    const w = new Webhooks({ urls: [ok.url, flaky.url], maxAttempts: 5, timeoutMs: 2000, maxQueue: 100, backoffMs: 10 }, log);
    w.send({ type: 'alert', alert: { id: 'a1' } });
    await until(() => w.delivered === 2);
    expect(ok.bodies).toEqual([{ type: 'alert', alert: { id: 'a1' } }]);
    expect(flaky.hits()).toBe(3);
    expect(flaky.bodies).toHaveLength(1);
    w.stop();
  });

  it('gives up after maxAttempts and counts the failure', async () => {
    const down = await server([500]);
    const w = new Webhooks({ urls: [down.url], maxAttempts: 3, timeoutMs: 2000, maxQueue: 100, backoffMs: 5 }, log);
    w.send({ n: 1 });
    await until(() => w.failed === 1);
    expect(down.hits()).toBe(3);
    w.stop();
  });

  it('a slow webhook never blocks the sender, and the queue stays bounded', async () => {
    const slow = await server([200], 2000);
    const w = new Webhooks({ urls: [slow.url], maxAttempts: 1, timeoutMs: 5000, maxQueue: 10, backoffMs: 5 }, log);
    for (let i = 0; i < 100; i++) w.send({ n: i });
    // send() returned for all 100 while the server has answered none: delivery is beside the caller
    expect(slow.bodies).toHaveLength(0);
    expect(w.pending).toBeLessThanOrEqual(10 + 4);
    expect(w.dropped).toBeGreaterThan(0);
    w.stop();
  });
});
