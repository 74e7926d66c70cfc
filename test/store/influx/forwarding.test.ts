/**
 * InfluxDB forwarding against a real VictoriaMetrics (same /api/v2/write as InfluxDB), read
 * back raw through /api/v1/export:
 *  - a reading of every (family, channel) arrives with its tags, typed fields and the device's
 *    own timestamp (ms);
 *  - the server is down while readings are stored, then comes up: every reading arrives
 *    exactly once (counted per series), /healthz stays 200 with `influx` degraded meanwhile;
 *  - a restart on the same DATA_DIR resumes at the persisted position: nothing confirmed is
 *    sent again, new readings are forwarded.
 */
import { rmSync } from 'node:fs';
import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { channelList } from '../../../core/schemas/index.js';
import { examplePayload } from '../../../core/schemas/examples.js';
import { POSITION_KEY, positionKeyOf } from '../../../store/influx/forwarder.js';
import { readingTables } from '../../../store/readingTables.js';
import { programs } from '../../helpers/external.js';
import { startService, type TestService } from '../../helpers/service.js';
import { Victoria } from './victoria.js';

const vm = programs(['victoria-metrics'], 'victoria-metrics');

async function until(what: string, cond: () => boolean | Promise<boolean>, ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

const caughtUp = (s: TestService) => (): boolean => {
  const st = s.service.influx!.status();
  return st.lagReadings === 0 && st.consecutiveFailures === 0;
};

function influxSettings(v: Victoria): Record<string, unknown> {
  return { INFLUX_URL: v.url, INFLUX_BUCKET: 'supervision', INFLUX_ORG: 'city', INFLUX_RETRY_MIN_MS: 50, INFLUX_RETRY_MAX_MS: 200, INFLUX_TIMEOUT_MS: 2000 };
}

async function publishMany(c: MqttClient, topic: string, family: string, channel: string, prefix: string, n: number, t0: number): Promise<void> {
  await Promise.all(Array.from({ length: n }, (_, i) =>
    c.publishAsync(topic, JSON.stringify(examplePayload(family as never, channel, `${prefix}-${i}`, t0 + i)), { qos: 1 })));
}

describe.skipIf(!vm.ok)(`InfluxDB forwarding to VictoriaMetrics${vm.ok ? '' : ` (skipped: ${vm.reason})`}`, () => {
  const bin = vm.ok ? vm.paths['victoria-metrics']! : '';
  let v: Victoria;
  beforeAll(async () => { v = await Victoria.create(bin); });
  afterAll(async () => { await v?.dispose(); });

  it('forwards a reading of every channel with device tags, typed fields and the device timestamp', async () => {
    await v.start();
    const s = await startService(influxSettings(v));
    try {
      const t0 = Date.now() - 60_000;
      const families = [...new Set(channelList.map((c) => c.family))];
      let i = 0;
      const expected: Array<{ device: string; family: string; channel: string; ts: number }> = [];
      for (const family of families) {
        const id = `ifx-${family}`;
        const meta = { kitchen: { storeId: 'S-META', address: 'not a tag' }, elevator: { registrationCode: 'REG-1' }, cylinder: { stationId: 'ST-META' }, dispenser: { stationId: 'ST-META', stationName: 'Station 9' } }[family];
        const dev = await s.registerDevice({ id, family, district: '330106', meta });
        const c = await s.connectDevice(dev.id, dev.secret);
        for (const ch of channelList.filter((x) => x.family === family)) {
          const ts = t0 + 1000 * i++;
          await c.publishAsync(`${family}/${id}/${ch.channel}`, JSON.stringify(examplePayload(family, ch.channel, `m-${ch.channel}`, ts)), { qos: 1 });
          expected.push({ device: id, family, channel: ch.channel, ts });
        }
        await c.endAsync();
      }
      await until('forwarder caught up', caughtUp(s));
      const series = await v.export('{__name__=~".+_seq", device=~"ifx-.*"}');
      const measurementOf = (e: { family: string; channel: string }): string => readingTables[e.family as keyof typeof readingTables][e.channel]!.table.replace(/^r_/, '');
      expect(series.map((x) => `${x.metric.__name__}/${x.metric.device}`).sort()).toEqual(expected.map((e) => `${measurementOf(e)}_seq/${e.device}`).sort());
      for (const e of expected) {
        const measurement = measurementOf(e);
        const mine = series.filter((x) => x.metric.__name__ === `${measurement}_seq` && x.metric.device === e.device);
        expect(mine, `${e.family}/${e.channel}`).toHaveLength(1);
        expect(mine[0]!.timestamps).toEqual([e.ts]);
        expect(mine[0]!.metric).toMatchObject({ family: e.family, district: '330106' });
        expect(mine[0]!.metric).not.toHaveProperty('address');
        if (e.family === 'elevator') expect(mine[0]!.metric.registrationCode).toBe('REG-1');
        if (e.family === 'kitchen') expect(mine[0]!.metric.storeId).toBe(e.channel === 'violation' ? 'S-0001' : 'S-META');
      }
      // typed fields and channel tags: a dispenser transaction
      const txn = await v.export('{__name__=~"dispenser_txn_.*", device="ifx-dispenser"}');
      const byName = new Map(txn.map((x) => [x.metric.__name__, x]));
      expect(byName.get('dispenser_txn_volume_l')?.values).toEqual([40]);
      expect(byName.get('dispenser_txn_pulses')?.values).toEqual([4000]);
      expect(byName.get('dispenser_txn_volume_l')?.metric).toMatchObject({ stationId: 'FS-01', dispenserId: 'D-3', grade: '92', tankId: 'T-1', stationName: 'Station 9' });
      // a channel field wins over device metadata of the same name
      expect(byName.get('dispenser_txn_volume_l')?.metric.stationId).toBe('FS-01');
      const status = await v.export('{__name__=~"elevator_status_.*", device="ifx-elevator"}');
      expect(status.find((x) => x.metric.__name__ === 'elevator_status_door_closed')?.values).toEqual([1]);
      expect(status.find((x) => x.metric.__name__ === 'elevator_status_floor')?.values).toEqual([7]);
      const bbox = await v.export('{__name__="kitchen_violation_bbox_y2", device="ifx-kitchen"}');
      expect(bbox[0]?.values).toEqual([0.6]);

      const metrics = await s.service.http.inject({ method: 'GET', url: '/metrics' });
      expect(metrics.body).toMatch(new RegExp(`^influx_forwarded_total ${expected.length}$`, 'm'));
      expect(metrics.body).toMatch(/^influx_lag_readings 0$/m);
      const health = await s.service.http.inject({ method: 'GET', url: '/healthz' });
      expect(health.statusCode).toBe(200);
      expect(health.json().components.influx).toMatchObject({ ok: true });
    } finally {
      await s.dispose();
      await v.stop();
    }
  });

  it('server down during writes, then up: every reading arrives exactly once; a restart resumes from the persisted position', async () => {
    await v.start();
    const s = await startService(influxSettings(v));
    const dir = s.dataDir;
    try {
      const devs = await Promise.all([0, 1, 2].map((k) => s.registerDevice({ id: `out-${k}`, family: 'elevator', district: '330102' })));
      const clients = await Promise.all(devs.map((d) => s.connectDevice(d.id, d.secret)));
      const t0 = Date.now() - 3_600_000;
      const send = (phase: string, n: number, base: number) => Promise.all(clients.map((c, k) =>
        publishMany(c, `elevator/out-${k}/status`, 'elevator', 'status', phase, n, base)));

      await send('up1', 100, t0);
      await until('first phase forwarded', caughtUp(s));

      await v.stop();
      await send('down', 400, t0 + 100_000);
      await until('a failed write', () => s.service.influx!.status().consecutiveFailures > 0);
      const st = s.service.influx!.status();
      expect(st.lagReadings).toBe(1200);
      const health = await s.service.http.inject({ method: 'GET', url: '/healthz' });
      // downstream outage: the service still stores and acknowledges, so it stays healthy
      expect(health.statusCode).toBe(200);
      expect(health.json().components.influx.ok).toBe(false);
      expect(health.json().components.influx.detail).toMatch(/degraded.*lag 1200 readings/);
      const metrics = await s.service.http.inject({ method: 'GET', url: '/metrics' });
      expect(metrics.body).toMatch(/^influx_lag_readings 1200$/m);
      expect(metrics.body).toMatch(/^influx_up 0$/m);
      expect(Number(/^influx_lag_seconds (\S+)$/m.exec(metrics.body)?.[1])).toBeGreaterThan(0);
      expect(Number(/^influx_write_failures_total (\S+)$/m.exec(metrics.body)?.[1])).toBeGreaterThan(0);

      await v.start();
      await send('up2', 100, t0 + 200_000);
      await until('backlog drained', caughtUp(s));
      for (const c of clients) await c.endAsync();
      await s.stop();

      // restart on the same DATA_DIR: resumes at the saved position
      const s2 = await startService(influxSettings(v), dir);
      try {
        expect(s2.service.influx!.status().position).toBe(s.service.influx!.status().position);
        // kept under this node's own key on the shared store (each node forwards what it stored)
        const key = positionKeyOf(s2.service.shared ? s2.service.shared.options.nodeId : null);
        expect(await s2.service.store.settings.get(key)).toBe(String(s.service.influx!.status().position));
        if (s2.service.shared) expect(await s2.service.store.settings.get(POSITION_KEY)).toBeNull();
        const d0 = await s2.connectDevice(devs[0]!.id, devs[0]!.secret);
        await publishMany(d0, 'elevator/out-0/status', 'elevator', 'status', 'after', 50, t0 + 300_000);
        await d0.endAsync();
        await until('post-restart readings forwarded', caughtUp(s2));
        // only the new readings were sent after the restart
        expect(s2.service.influx!.status().forwarded).toBe(50);
      } finally {
        await s2.stop();
      }

      const series = await v.export('{__name__="elevator_status_seq", device=~"out-.*"}');
      expect(series).toHaveLength(3);
      const allSeqs: number[] = [];
      for (const x of series) {
        const k = Number(x.metric.device!.slice(4));
        // every reading of that device, exactly once
        expect(x.values.length, x.metric.device).toBe(600 + (k === 0 ? 50 : 0));
        expect(new Set(x.timestamps).size).toBe(x.timestamps.length);
        allSeqs.push(...x.values);
      }
      expect(new Set(allSeqs).size).toBe(allSeqs.length);
      expect(allSeqs.length).toBe(1850);
    } finally {
      await v.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
