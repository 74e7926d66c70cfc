/**
 * Readings -> line protocol (store/influx/points.ts) and the INFLUX_* settings, without a
 * server: measurement per channel, tags, typed fields, escaping, device timestamp.
 */
import { describe, expect, it } from 'vitest';
import { examplePayload } from '../../../core/schemas/examples.js';
import { ConfigError, loadConfig } from '../../../service/config.js';
import { toLines } from '../../../store/influx/points.js';
import type { Reading } from '../../../store/types.js';

function reading(family: Reading['family'], channel: string, over: Partial<Reading> = {}): Reading {
  const { msgId, ts, ...data } = examplePayload(family, channel, 'm-1', 1_700_000_000_123);
  return { seq: 42, family, channel, deviceId: 'dev-1', msgId: String(msgId), ts: Number(ts), receivedAt: 1_700_000_001_000, qos: 1, data, extra: null, ...over };
}

describe('line protocol', () => {
  it('writes measurement, tags, typed fields and the device timestamp in ms', () => {
    const [line] = toLines([reading('dispenser', 'txn')], () => ({ district: '330106', meta: { stationId: 'META', stationName: 'Station 9', address: 'x' } }));
    expect(line).toBe('dispenser_txn,device=dev-1,dispenserId=D-3,district=330106,family=dispenser,grade=92,stationId=FS-01,stationName=Station\\ 9,tankId=T-1 '
      + 'amount_yuan=300.4,duration_s=60,nozzle=2i,pulses=4000i,pulses_per_l=100,seq=42i,totalizer_l=123456.78,unit_price=7.51,volume_l=40 1700000000123');
  });

  it('shares the heartbeat measurement across families, escapes tag values, keeps strings as string fields', () => {
    const [hb] = toLines([reading('kitchen', 'heartbeat')], () => ({ district: null, meta: { storeName: '川菜馆, 二楼 a=b' } }));
    expect(hb).toMatch(/^heartbeat,device=dev-1,family=kitchen,storeName=川菜馆\\,\\ 二楼\\ a\\=b /);
    expect(hb).toContain('fw="1.4.2"');
    const [fault] = toLines([reading('elevator', 'fault', { data: { code: 2, floor: 7, detail: 'say "hi"\\' } })], () => undefined);
    expect(fault).toBe('elevator_fault,device=dev-1,family=elevator code=2i,detail="say \\"hi\\"\\\\",floor=7i,seq=42i 1700000000123');
  });

  it('writes booleans and array elements, skips missing values', () => {
    const [status] = toLines([reading('elevator', 'status', { data: { floor: -1, doorClosed: false, moving: true } })], () => undefined);
    expect(status).toBe('elevator_status,device=dev-1,family=elevator door_closed=F,floor=-1i,moving=T,seq=42i 1700000000123');
    const [v] = toLines([reading('kitchen', 'violation')], () => undefined);
    expect(v).toContain('bbox_x1=0.1,bbox_x2=0.3,bbox_y1=0.2,bbox_y2=0.6');
  });
});

describe('INFLUX_* settings', () => {
  it('is off without INFLUX_URL', () => {
    expect(loadConfig({}).influx).toBeNull();
  });

  it('reads every setting', () => {
    expect(loadConfig({ INFLUX_URL: 'http://influx:8086', INFLUX_TOKEN: 't', INFLUX_ORG: 'o', INFLUX_BUCKET: 'b', INFLUX_BATCH_SIZE: '100', INFLUX_TIMEOUT_MS: '2000', INFLUX_RETRY_MIN_MS: '10', INFLUX_RETRY_MAX_MS: '20' }).influx)
      .toEqual({ url: 'http://influx:8086', token: 't', org: 'o', bucket: 'b', batchSize: 100, timeoutMs: 2000, retryMinMs: 10, retryMaxMs: 20 });
  });

  it('refuses a URL without a bucket, and a URL that is not http(s)', () => {
    expect(() => loadConfig({ INFLUX_URL: 'http://influx:8086' })).toThrow(ConfigError);
    expect(() => loadConfig({ INFLUX_URL: 'http://influx:8086' })).toThrow(/INFLUX_BUCKET must be set/);
    expect(() => loadConfig({ INFLUX_URL: 'ftp://influx', INFLUX_BUCKET: 'b' })).toThrow(/http\(s\)/);
    expect(() => loadConfig({ INFLUX_URL: 'not a url', INFLUX_BUCKET: 'b' })).toThrow(/INFLUX_URL/);
  });
});
