/**
 * dashboard/routes/deadLetters.ts on a real service, with fastify inject: GET /api/dead-letters
 * lists the messages real devices sent over MQTT that ingest rejected, with their filters.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { examplePayload } from '../../../core/schemas/examples.js';
import { apiFor, detailPaths, expectError, publish, type Loose, routeService } from '../../helpers/api.js';
import type { TestService } from '../../helpers/service.js';

let ts: TestService;
let opToken: string;
const api = apiFor(() => ts);

routeService({}, (s) => ({ ts, opToken } = s));

describe('GET /api/dead-letters', () => {
  let since: number;
  beforeAll(async () => {
    const d = await ts.registerDevice({ id: 'dl-cam', family: 'kitchen' });
    const d2 = await ts.registerDevice({ id: 'dl-cam2', family: 'kitchen' });
    const c = await ts.connectDevice(d.id, d.secret);
    const c2 = await ts.connectDevice(d2.id, d2.secret);
    try {
      await publish(c, 'kitchen/dl-cam/violation', '{"msgId": "x",');
      await new Promise((r) => setTimeout(r, 5));
      since = Date.now();
      await publish(c, 'kitchen/dl-cam/violation', Buffer.from([0x7b, 0xff, 0xfe, 0x7d]));
      await publish(c, 'kitchen/dl-cam/violation', JSON.stringify({ ...examplePayload('kitchen', 'violation', 'bad-conf', Date.now()), confidence: 2 }));
      await publish(c2, 'kitchen/dl-cam2/status', JSON.stringify({ msgId: 'nochan', ts: Date.now() }));
    } finally {
      await c.endAsync();
      await c2.endAsync();
    }
  });

  const reasons = (res: { data: Loose }): string[] => res.data.items.map((i: { reason: string }) => i.reason);

  it('lists a device\'s rejected messages newest first, with raw bytes, reason, issues and msgId', async () => {
    const res = await api('GET', '/api/dead-letters?deviceId=dl-cam', { token: opToken });
    expect(res.statusCode, res.body).toBe(200);
    expect(reasons(res)).toEqual(['schema', 'invalid_json', 'invalid_json']);
    const [schema, binary, partial] = res.data.items;
    expect(schema).toMatchObject({
      deviceId: 'dl-cam', topic: 'kitchen/dl-cam/violation', qos: 1, msgId: 'bad-conf',
      issues: [expect.objectContaining({ path: 'confidence' })], rawTruncated: false,
    });
    expect(JSON.parse(schema.raw)).toMatchObject({ msgId: 'bad-conf', confidence: 2 });
    expect(Buffer.from(binary.rawBase64, 'base64')).toEqual(Buffer.from([0x7b, 0xff, 0xfe, 0x7d]));
    expect(binary.rawSize).toBe(4);
    expect(binary.detail).toMatch(/UTF-8/);
    expect(partial.raw).toBe('{"msgId": "x",');
    expect(partial.msgId).toBeNull();
    expect(res.data.items[0].id).toBeGreaterThan(res.data.items[1].id);
    expect(Number.isNaN(Date.parse(schema.receivedAt))).toBe(false);
  });

  it.each([
    ['reason', () => '?reason=unknown_channel', ['unknown_channel']],
    ['device and reason', () => '?deviceId=dl-cam&reason=invalid_json', ['invalid_json', 'invalid_json']],
    ['since (epoch ms)', () => `?deviceId=dl-cam&since=${since}`, ['schema', 'invalid_json']],
    ['since (RFC 3339)', () => `?deviceId=dl-cam&since=${encodeURIComponent(new Date(since).toISOString())}`, ['schema', 'invalid_json']],
    ['limit', () => '?deviceId=dl-cam&limit=1', ['schema']],
    ['no match', () => '?deviceId=nobody', []],
  ])('filter: %s', async (_d, query, expected) => {
    const res = await api('GET', `/api/dead-letters${query()}`);
    expect(res.statusCode, res.body).toBe(200);
    expect(reasons(res)).toEqual(expected);
  });

  it('an unknown channel is recorded against the device that sent it', async () => {
    const res = await api('GET', '/api/dead-letters?reason=unknown_channel');
    expect(res.data.items[0]).toMatchObject({ deviceId: 'dl-cam2', topic: 'kitchen/dl-cam2/status', msgId: null, detail: expect.stringContaining('status') });
  });

  it.each([
    ['bad since', '?since=last-week', 'since'],
    ['limit 0', '?limit=0', 'limit'],
    ['limit over 1000', '?limit=1001', 'limit'],
  ])('%s -> 400 validation', async (_d, query, p) => {
    const res = await api('GET', `/api/dead-letters${query}`);
    expectError(res, 400, 'validation');
    expect(detailPaths(res)).toContain(p);
  });
});
