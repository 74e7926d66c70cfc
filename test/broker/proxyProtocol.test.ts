/**
 * The PROXY protocol (broker/proxyProtocol.ts): the header parsed as a table (v1 and v2, every
 * family and command, malformed and incomplete ones, a client that sends none); then a running
 * service with MQTT_PROXY_PROTOCOL: a trusted balancer's connection is admitted, limited and
 * recorded by the address its header names, a trusted connection without a header is closed,
 * and an untrusted peer's header is not believed (it is just bytes that are not MQTT).
 */
import net from 'node:net';
import mqttPacket from 'mqtt-packet';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { forwardedClient, isTrusted, parseProxyHeader, trustList } from '../../broker/proxyProtocol.js';
import { startService, type TestService } from '../helpers/service.js';

const SIG = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);
function v2(cmd: number, fam: number, body: Buffer): Buffer {
  const head = Buffer.alloc(4);
  head[0] = 0x20 | cmd;
  head[1] = fam;
  head.writeUInt16BE(body.length, 2);
  return Buffer.concat([SIG, head, body]);
}
function v2tcp4(src: string, sport: number): Buffer {
  const b = Buffer.alloc(12);
  src.split('.').forEach((o, i) => { b[i] = Number(o); });
  [127, 0, 0, 1].forEach((o, i) => { b[4 + i] = o; });
  b.writeUInt16BE(sport, 8);
  b.writeUInt16BE(1883, 10);
  return v2(1, 0x11, b);
}
function v2tcp6(groups: number[], sport: number): Buffer {
  const b = Buffer.alloc(36);
  groups.forEach((g, i) => b.writeUInt16BE(g, i * 2));
  b.writeUInt16BE(1, 30);
  b.writeUInt16BE(sport, 32);
  return v2(1, 0x21, b);
}

describe('parseProxyHeader', () => {
  const rest = Buffer.from([0x10, 0x0c]); // the start of an MQTT CONNECT after the header
  it.each([
    ['v1 TCP4', Buffer.from('PROXY TCP4 203.0.113.7 10.0.0.1 51000 1883\r\n'), { address: '203.0.113.7', port: 51000 }, 44],
    ['v1 TCP6', Buffer.from('PROXY TCP6 2001:db8::7 2001:db8::1 51000 1883\r\n'), { address: '2001:db8::7', port: 51000 }, 47],
    ['v1 UNKNOWN (the proxy\'s own)', Buffer.from('PROXY UNKNOWN\r\n'), null, 15],
    ['v2 TCP4', v2tcp4('198.51.100.9', 40000), { address: '198.51.100.9', port: 40000 }, 28],
    ['v2 TCP6, zeros shortened', v2tcp6([0x2001, 0xdb8, 0, 0, 0, 0, 0, 9], 40001), { address: '2001:db8::9', port: 40001 }, 52],
    ['v2 TCP6, no zero run', v2tcp6([1, 2, 3, 4, 5, 6, 7, 8], 1), { address: '1:2:3:4:5:6:7:8', port: 1 }, 52],
    ['v2 LOCAL (a health check)', v2(0, 0x00, Buffer.alloc(0)), null, 16],
    ['v2 TCP4 with TLVs after the addresses', v2(1, 0x11, Buffer.concat([v2tcp4('192.0.2.1', 7).subarray(16), Buffer.from([0x04, 0, 1, 0x41])])), { address: '192.0.2.1', port: 7 }, 32],
  ])('%s', (_name, header, source, length) => {
    expect(parseProxyHeader(Buffer.concat([header, rest]))).toEqual({ kind: 'done', source, length });
  });

  it.each([
    ['nothing yet', Buffer.alloc(0)],
    ['half a v1 line', Buffer.from('PROXY TCP4 203.0.')],
    ['the v1 word only', Buffer.from('PRO')],
    ['a v2 signature only', SIG.subarray(0, 9)],
    ['a v2 header without its addresses', v2tcp4('192.0.2.1', 7).subarray(0, 20)],
  ])('incomplete: %s', (_name, buf) => {
    expect(parseProxyHeader(buf)).toEqual({ kind: 'incomplete' });
  });

  it.each([
    ['an MQTT CONNECT instead', Buffer.from([0x10, 0x0c, 0x00, 0x04]), /no PROXY header/],
    ['an HTTP request instead', Buffer.from('GET / HTTP/1.1\r\n'), /no PROXY header/],
    ['a v1 line past 107 bytes', Buffer.from(`PROXY TCP4 ${'1'.repeat(120)}`), /too long/],
    ['v1 with a bad address', Buffer.from('PROXY TCP4 999.1.1.1 10.0.0.1 1 2\r\n'), /address/],
    ['v1 TCP4 naming an IPv6 address', Buffer.from('PROXY TCP4 2001:db8::1 10.0.0.1 1 2\r\n'), /address/],
    ['v1 with a port past 65535', Buffer.from('PROXY TCP4 1.2.3.4 10.0.0.1 70000 2\r\n'), /address/],
    ['v1 with too few fields', Buffer.from('PROXY TCP4 1.2.3.4\r\n'), /malformed/],
    ['v2 of version 3', Buffer.concat([SIG, Buffer.from([0x31, 0x11, 0, 0])]), /version/],
    ['v2 with command 2', Buffer.concat([SIG, Buffer.from([0x22, 0x11, 0, 0])]), /command/],
    ['v2 over UDP', v2(1, 0x12, Buffer.alloc(12)), /family/],
    ['v2 claiming 60 KB', Buffer.concat([SIG, Buffer.from([0x21, 0x11, 0xea, 0x60])]), /too long/],
  ])('invalid: %s', (_name, buf, reason) => {
    const r = parseProxyHeader(buf);
    expect(r.kind).toBe('invalid');
    expect(r.kind === 'invalid' && r.reason).toMatch(reason);
  });
});

describe('trusted proxies and X-Forwarded-For', () => {
  const list = trustList(['10.0.0.0/8', '2001:db8::5', '127.0.0.1']);
  it.each([
    ['10.1.2.3', true], ['::ffff:10.1.2.3', true], ['11.0.0.1', false], ['2001:db8::5', true], ['2001:db8::6', false],
    ['127.0.0.1', true], ['127.0.0.2', false], [undefined, false],
  ])('%s trusted: %s', (addr, want) => {
    expect(isTrusted(list, addr)).toBe(want);
  });
  it.each([
    ['203.0.113.7', '203.0.113.7'],
    ['6.6.6.6, 203.0.113.7', '203.0.113.7'],
    [['1.1.1.1', '6.6.6.6, 2001:db8::9'], '2001:db8::9'],
    ['not-an-address', null],
    [undefined, null],
  ])('X-Forwarded-For %j: %s', (header, want) => {
    expect(forwardedClient(header)).toBe(want);
  });
});

describe('a service behind a trusted balancer (MQTT_PROXY_PROTOCOL)', () => {
  let s: TestService;
  let device: { id: string; secret: string };
  beforeAll(async () => {
    s = await startService({ MQTT_PROXY_PROTOCOL: 'true', TRUSTED_PROXIES: '127.0.0.1', MQTT_MAX_UNAUTHENTICATED_PER_ADDRESS: 2, MQTT_CONNECT_TIMEOUT_MS: 1500 });
    device = await s.registerDevice({ id: 'px-lift-1', family: 'elevator', district: '330106' });
  });
  afterAll(async () => { await s?.dispose(); });

  const connectPacket = (id: string, secret: string): Buffer =>
    mqttPacket.generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, keepalive: 30, clientId: id, username: id, password: Buffer.from(secret) });
  /** A raw connection sending `bytes`; resolves with what came back before it closed (or after ms). */
  const exchange = (bytes: Buffer, ms = 3000): Promise<{ data: Buffer; closed: boolean; socket: net.Socket }> => new Promise((resolve) => {
    const socket = net.connect(s.started.mqttPort, '127.0.0.1');
    let data = Buffer.alloc(0);
    const done = (closed: boolean) => { clearTimeout(t); resolve({ data, closed, socket }); };
    const t = setTimeout(() => done(false), ms);
    socket.on('data', (d: Buffer) => { data = Buffer.concat([data, d]); if (data.length >= 4) done(false); });
    socket.on('close', () => done(true));
    socket.on('error', () => undefined);
    socket.on('connect', () => socket.write(bytes));
  });
  const CONNACK_OK = Buffer.from([0x20, 0x02, 0x00, 0x00]);

  it('a device through the balancer connects and is recorded at the address the header names', async () => {
    const r = await exchange(Buffer.concat([v2tcp4('203.0.113.7', 51000), connectPacket(device.id, device.secret)]));
    expect(r.data.subarray(0, 4)).toEqual(CONNACK_OK);
    // the tracker hears of the connection just after the CONNACK is written
    for (let i = 0; i < 100 && !s.service.tracker.get(device.id)?.connected; i++) await new Promise((r) => setTimeout(r, 20));
    expect(s.service.tracker.get(device.id)).toMatchObject({ connected: true, remoteAddress: '203.0.113.7' });
    r.socket.destroy();
  });

  it('the unauthenticated cap counts the named address: a third from one source is closed, another source still gets in', async () => {
    const held = await Promise.all([1, 2].map(() => exchange(v2tcp4('198.51.100.20', 1), 300)));
    expect(held.every((h) => !h.closed)).toBe(true);
    const third = await exchange(v2tcp4('198.51.100.20', 1), 1000);
    expect(third.closed).toBe(true);
    const other = await exchange(Buffer.concat([v2tcp4('198.51.100.21', 2), connectPacket(device.id, device.secret)]));
    expect(other.data.subarray(0, 4)).toEqual(CONNACK_OK);
    for (const h of [...held, other]) h.socket.destroy();
  });

  it('a trusted connection without a header is closed, not taken as MQTT', async () => {
    const r = await exchange(connectPacket(device.id, device.secret));
    expect(r.closed).toBe(true);
    expect(r.data.length).toBe(0);
  });

  it('HTTP: a trusted balancer\'s X-Forwarded-For is the client (password guard, audit); anyone else\'s is ignored', async () => {
    const login = (remoteAddress: string, forwarded: string) => s.service.http.inject({
      method: 'POST', url: '/api/login', remoteAddress, headers: { 'x-forwarded-for': forwarded }, payload: { username: 'admin', password: 'wrong-password-1' },
    });
    expect((await login('127.0.0.1', '203.0.113.50')).statusCode).toBe(401);
    expect((await login('192.0.2.1', '203.0.113.51')).statusCode).toBe(401);
    let addresses: string[] = [];
    for (let i = 0; i < 50 && addresses.length < 2; i++) {
      const res = await s.service.http.inject({ method: 'GET', url: '/api/audit?action=auth.login_refused&limit=10', headers: { authorization: `Bearer ${s.adminToken}` } });
      addresses = (res.json() as { items: Array<{ address: string | null }> }).items.map((e) => e.address ?? '');
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(addresses.sort()).toEqual(['192.0.2.1', '203.0.113.50']);
  });

  it('a v1 header works as v2 does', async () => {
    const r = await exchange(Buffer.concat([Buffer.from('PROXY TCP4 192.0.2.44 10.0.0.1 40000 1883\r\n'), connectPacket(device.id, device.secret)]));
    expect(r.data.subarray(0, 4)).toEqual(CONNACK_OK);
    r.socket.destroy();
  });
});
