/**
 * The HTTP port under a socket flood (docs/security.md, HTTP): sockets past the per-address
 * cap are closed at once, sockets that send nothing or stall in their headers are closed by
 * the timeouts, and meanwhile other addresses are served and devices keep their PUBACKs.
 */
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { examplePayload } from '../../core/schemas/examples.js';
import { startService, type TestService } from '../helpers/service.js';

let ts: TestService;

beforeAll(async () => {
  ts = await startService({
    HTTP_MAX_CONNECTIONS: 400, HTTP_MAX_CONNECTIONS_PER_ADDRESS: 50,
    HTTP_HEADERS_TIMEOUT_MS: 3000, HTTP_REQUEST_TIMEOUT_MS: 6000, HTTP_IDLE_TIMEOUT_MS: 4000,
  });
});
afterAll(async () => { await ts?.dispose(); });

interface Held { socket: net.Socket; closedAt: number | null }

/** Open `n` sockets from one loopback address; each sends `first` (or nothing) and then waits. */
async function flood(n: number, localAddress: string, first: string | null): Promise<Held[]> {
  const held: Held[] = [];
  await Promise.all(Array.from({ length: n }, () => new Promise<void>((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port: ts.started.httpPort, localAddress });
    const h: Held = { socket, closedAt: null };
    held.push(h);
    socket.on('error', () => undefined);
    socket.resume();
    socket.on('close', () => { h.closedAt = Date.now(); resolve(); });
    socket.on('connect', () => { if (first !== null) socket.write(first); resolve(); });
  })));
  return held;
}

const open = (held: Held[]) => held.filter((h) => h.closedAt === null).length;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Open sockets once the server has accepted (and refused) them all: the kernel's accept queue may lag under load. */
async function settledOpen(held: Held[], atMost: number): Promise<number> {
  for (const end = Date.now() + 2000; open(held) > atMost && Date.now() < end;) await sleep(50);
  return open(held);
}

async function healthFrom(localAddress: string): Promise<number> {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port: ts.started.httpPort, localAddress }, () => s.write('GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'));
    let text = '';
    s.on('data', (d) => { text += d.toString(); });
    s.on('close', () => resolve(Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0)));
    s.on('error', () => resolve(0));
  });
}

describe('HTTP sockets are bounded', () => {
  it('one address holding 300 one-byte sockets keeps at most the per-address cap, and the rest of the world is served', async () => {
    const dev = await ts.registerDevice({ id: 'http-flood-elev', family: 'elevator' });
    const device = await ts.connectDevice(dev.id, dev.secret);
    const held = await flood(300, '127.0.0.2', 'G');
    expect(await settledOpen(held, 50)).toBeLessThanOrEqual(50);
    // another address, and a device on MQTT, are not affected
    expect(await healthFrom('127.0.0.3')).toBe(200);
    for (let i = 0; i < 5; i++) {
      await device.publishAsync(`elevator/${dev.id}/heartbeat`, JSON.stringify(examplePayload('elevator', 'heartbeat', `hb-${i}`, Date.now())), { qos: 1 });
    }
    // the stalled ones are closed by the headers timeout (3 s, checked every second)
    for (const end = Date.now() + 8000; open(held) > 0 && Date.now() < end;) await sleep(100);
    expect(open(held)).toBe(0);
    await device.endAsync();
    const metrics = (await ts.service.http.inject({ method: 'GET', url: '/metrics' })).body;
    expect(Number(/http_connections_refused_total\{reason="per_address"\} (\d+)/.exec(metrics)?.[1])).toBeGreaterThanOrEqual(250);
  });

  it('sockets that never send anything are closed too', async () => {
    const held = await flood(20, '127.0.0.4', null);
    await sleep(200);
    expect(open(held)).toBe(20);
    for (const end = Date.now() + 8000; open(held) > 0 && Date.now() < end;) await sleep(100);
    expect(open(held)).toBe(0);
  });

  it('an idle keep-alive socket after a response is closed', async () => {
    const s = net.connect({ host: '127.0.0.1', port: ts.started.httpPort, localAddress: '127.0.0.5' });
    const closed = new Promise<number>((resolve) => s.on('close', () => resolve(Date.now())));
    s.on('data', () => undefined);
    await new Promise<void>((r) => s.on('connect', () => r()));
    s.write('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n');
    const t0 = Date.now();
    expect((await closed) - t0).toBeLessThan(10_000);
  });

  it('past HTTP_MAX_CONNECTIONS in all, new sockets are dropped at once', async () => {
    const held: Held[] = [];
    for (let a = 1; a <= 9; a++) held.push(...await flood(50, `127.0.1.${a}`, 'G'));
    expect(await settledOpen(held, 400)).toBeLessThanOrEqual(400);
    const metrics = (await ts.service.http.inject({ method: 'GET', url: '/metrics' })).body;
    expect(Number(/http_connections_refused_total\{reason="total"\} (\d+)/.exec(metrics)?.[1])).toBeGreaterThanOrEqual(50);
    for (const h of held) h.socket.destroy();
  });
});
