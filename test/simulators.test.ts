/**
 * The newcomer tools against a real service: the minimal device client publishes every
 * channel of every family and finds it stored; the devices CLI imports (all or nothing),
 * lists, creates and rotates, always through the API. Both run in-process through `main`.
 */
import { mkdtempSync, readFileSync, rmSync, statSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { channelList, families } from '../core/schemas/index.js';
import { main as deviceClient } from '../simulators/deviceClient.js';
import { main as devicesCli } from '../cli/devices.js';
import { adminApiArgs, captured, fixtureFile } from './helpers/cli.js';
import { ADMIN_PASSWORD, connectMqtt, startService, type TestService } from './helpers/service.js';

let ts: TestService;
let dir: string;

beforeAll(async () => {
  ts = await startService();
  dir = mkdtempSync(path.join(tmpdir(), 'simulators-test-'));
});
afterAll(async () => {
  await ts?.dispose();
  if (dir) rmSync(dir, { recursive: true, force: true });
});


const apiArgs = (): string[] => adminApiArgs(ts);

const file = (name: string, text: string): string => fixtureFile(dir, name, text);

async function canConnect(id: string, secret: string): Promise<boolean> {
  try {
    const c = await connectMqtt(ts.mqttUrl, { username: id, password: secret, clientId: id });
    await c.endAsync();
    return true;
  } catch {
    return false;
  }
}

describe('device client (npm run device)', () => {
  it('--register: one device per family, every channel acknowledged and stored', async () => {
    const io = captured();
    const code = await deviceClient(['--register', '--prefix', 'sim', '--mqtt', ts.mqttUrl, ...apiArgs()], io);
    expect(io.stderr).toEqual([]);
    expect(code).toBe(0);
    for (const { family, channel } of channelList) {
      const id = `sim-${family}-1`;
      expect(io.stdout.some((l) => /PUBACK +\d+\.\d ms/.test(l) && l.includes(` ${family}/${id}/${channel} `))).toBe(true);
      const rows = await ts.service.store.readings.query({ deviceId: id, family, channel, limit: 10 });
      expect(rows, `${family}/${channel} stored`).toHaveLength(1);
    }
    expect(io.stdout.filter((l) => l.startsWith('registered '))).toHaveLength(families.length);
    expect(io.stdout.at(-1)).toBe(`OK: 4 device(s), ${channelList.length} message(s) acknowledged and stored`);
  });

  it('a second run rotates the secrets; --bad shows the error reply and the dead letter (password file, env)', async () => {
    const passwordFile = file('admin-password.txt', `${ADMIN_PASSWORD}\n`);
    const io = captured({ SUPERVISION_API: ts.httpUrl, SUPERVISION_MQTT: ts.mqttUrl });
    const code = await deviceClient(['--register', '--prefix', 'sim', '--bad', '--password-file', passwordFile], io);
    expect(io.stderr).toEqual([]);
    expect(code).toBe(0);
    expect(io.stdout.filter((l) => l.endsWith('exists: issued it a new secret'))).toHaveLength(families.length);
    expect(io.stdout.filter((l) => l.includes('error reply  schema: ts:') && l.includes('epoch seconds'))).toHaveLength(families.length);
    expect(io.stdout.filter((l) => / dead letter +#\d+ schema/.test(l))).toHaveLength(families.length);
    const letters = await ts.service.store.deadLetters.list({ deviceId: 'sim-dispenser-1', reason: 'schema', limit: 10 });
    expect(letters).toHaveLength(1);
    // twice every channel now, and not the invalid message
    const rows = await ts.service.store.readings.query({ deviceId: 'sim-dispenser-1', family: 'dispenser', limit: 100 });
    expect(rows).toHaveLength(2 * channelList.filter((c) => c.family === 'dispenser').length);
  });

  it('--id/--secret/--family runs an existing device and checks its readings', async () => {
    const d = await ts.registerDevice({ id: 'sim-elev-existing', family: 'elevator' });
    const io = captured({ SUPERVISION_PASSWORD: ADMIN_PASSWORD, SUPERVISION_API: ts.httpUrl });
    const code = await deviceClient(['--id', d.id, '--secret', d.secret, '--family', 'elevator', '--mqtt', ts.mqttUrl], io);
    expect(code).toBe(0);
    expect(io.stdout).toContain(`  readings     3 of 3 acknowledged messages stored (GET /api/devices/${d.id}/readings)`);
  });

  it('exits 1 when the broker refuses the secret, 2 on a usage error', async () => {
    await ts.registerDevice({ id: 'sim-kitchen-refused', family: 'kitchen' });
    const refused = captured();
    expect(await deviceClient(['--id', 'sim-kitchen-refused', '--secret', 'not-the-secret', '--family', 'kitchen', '--mqtt', ts.mqttUrl], refused)).toBe(1);
    expect(refused.stderr.join('\n')).toMatch(/Bad username or password/i);

    const noCredentials = captured();
    expect(await deviceClient(['--register', '--mqtt', ts.mqttUrl, '--api', ts.httpUrl], noCredentials)).toBe(2);
    expect(noCredentials.stderr[0]).toMatch(/needs API access/);

    const help = captured();
    expect(await deviceClient(['--help'], help)).toBe(0);
    expect(help.stdout.join('\n')).toContain('--register');
  });
});

describe('devices CLI (npm run devices)', () => {
  it('import: a CSV with bad rows exits 1, prints each row problem and imports nothing', async () => {
    const csv = file('bad.csv', [
      'id,family,name,district,storeId',
      'sim-cam-ok,kitchen,Good,330106,S-1',
      'sim cam bad,kitchen,Bad id,330106,S-2',
      'sim-cam-3,oven,Bad family,330106,S-3',
    ].join('\n'));
    const out = path.join(dir, 'bad-secrets.csv');
    const io = captured();
    expect(await devicesCli(['import', csv, '--out', out, ...apiArgs()], io)).toBe(1);
    const err = io.stderr.join('\n');
    expect(err).toContain('error validation (HTTP 400)');
    expect(err).toMatch(/row 2, id: /);
    expect(err).toMatch(/row 3, family: /);
    expect(ts.service.registry.get('sim-cam-ok')).toBeUndefined();
    expect(existsSync(out)).toBe(false);
  });

  it('import: a good CSV writes the secrets file with mode 0600, and the secrets work', async () => {
    const csv = file('good.csv', [
      'id,family,name,lat,lng,district,registrationCode,maintenanceUnit,stationId',
      'sim-elev-0001,elevator,西湖区文三路 1 号 1 号梯,30.2741,120.1551,330106,31103301002019120001,杭州某电梯维保公司,',
      'sim-cyl-st01,cylinder,ST-01 scanner,,,330106,,,ST-01',
    ].join('\n'));
    const out = path.join(dir, 'secrets.csv');
    const io = captured();
    expect(await devicesCli(['import', csv, '--out', out, ...apiArgs()], io)).toBe(0);
    expect(statSync(out).mode & 0o777).toBe(0o600);
    const lines = readFileSync(out, 'utf8').trim().split('\n');
    expect(lines[0]).toBe('id,family,secret');
    const secrets = new Map(lines.slice(1).map((l) => { const [id, , secret] = l.split(','); return [id!, secret!]; }));
    expect([...secrets.keys()].sort()).toEqual(['sim-cyl-st01', 'sim-elev-0001']);
    expect(await canConnect('sim-elev-0001', secrets.get('sim-elev-0001')!)).toBe(true);
    expect(ts.service.registry.get('sim-elev-0001')!.meta).toMatchObject({ maintenanceUnit: '杭州某电梯维保公司' });

    // an existing secrets file is never overwritten: refused before anything is sent
    const again = captured();
    expect(await devicesCli(['import', csv, '--out', out, ...apiArgs()], again)).toBe(2);
    expect(again.stderr[0]).toContain('exists');
    const skip = captured();
    expect(await devicesCli(['import', csv, '--on-conflict', 'skip', ...apiArgs()], skip)).toBe(0);
    expect(skip.stdout.at(-1)).toContain('0 created, 0 updated, 2 skipped');
  });

  it('import: a JSON array prints the created secrets when there is no --out', async () => {
    const json = file('devices.json', JSON.stringify([{ id: 'sim-fs01-col', family: 'dispenser', meta: { stationId: 'FS-01' } }]));
    const io = captured({ SUPERVISION_API: ts.httpUrl, SUPERVISION_PASSWORD: ADMIN_PASSWORD });
    expect(await devicesCli(['import', json], io)).toBe(0);
    expect(io.stdout[0]).toBe('id,family,secret');
    const [id, family, secret] = io.stdout[1]!.split(',');
    expect([id, family]).toEqual(['sim-fs01-col', 'dispenser']);
    expect(await canConnect(id!, secret!)).toBe(true);
  });

  it('create, list and rotate', async () => {
    const created = captured();
    expect(await devicesCli(['create', '--id', 'sim-cam-009', '--family', 'kitchen', '--name', '后厨 1 号', '--lat', '30.1', '--lng', '120.2',
      '--district', '330106', '--meta', 'storeId=S-9', '--meta', 'cameraArea=hot kitchen', ...apiArgs()], created)).toBe(0);
    const secret = created.stdout.find((l) => l.startsWith('secret: '))!.slice('secret: '.length);
    const device = ts.service.registry.get('sim-cam-009')!;
    expect(device).toMatchObject({ family: 'kitchen', name: '后厨 1 号', district: '330106', location: { lat: 30.1, lng: 120.2 }, meta: { storeId: 'S-9', cameraArea: 'hot kitchen' } });
    expect(await canConnect('sim-cam-009', secret)).toBe(true);

    const listed = captured();
    expect(await devicesCli(['list', '--family', 'kitchen', '--q', 'cam-009', ...apiArgs()], listed)).toBe(0);
    expect(listed.stdout[0]).toMatch(/^id +family +district +connection +name$/);
    expect(listed.stdout[1]).toMatch(/^sim-cam-009 +kitchen +330106 +(never seen|seen \S+) +后厨 1 号$/);
    expect(listed.stdout.at(-1)).toBe('1 of 1 device(s)');

    const rotated = captured();
    expect(await devicesCli(['rotate', 'sim-cam-009', ...apiArgs()], rotated)).toBe(0);
    const fresh = rotated.stdout.find((l) => l.startsWith('secret: '))!.slice('secret: '.length);
    expect(fresh).not.toBe(secret);
    expect(await canConnect('sim-cam-009', secret)).toBe(false);
    expect(await canConnect('sim-cam-009', fresh)).toBe(true);
  });

  it('reports the service refusal with its code and details (exit 1), and usage errors (exit 2)', async () => {
    const badMeta = captured();
    expect(await devicesCli(['create', '--id', 'sim-cam-010', '--family', 'kitchen', '--meta', 'registrationCode=1', ...apiArgs()], badMeta)).toBe(1);
    expect(badMeta.stderr.join('\n')).toMatch(/error validation \(HTTP 400\)[\s\S]*meta/);

    const missing = captured();
    expect(await devicesCli(['rotate', 'sim-no-such-device', ...apiArgs()], missing)).toBe(1);
    expect(missing.stderr[0]).toBe('error device_not_found (HTTP 404): no device sim-no-such-device');

    const unknown = captured();
    expect(await devicesCli(['remove', 'x'], unknown)).toBe(2);
    const noFormat = captured();
    expect(await devicesCli(['import', file('devices.txt', ''), ...apiArgs()], noFormat)).toBe(2);
    expect(noFormat.stderr[0]).toContain('--format');
  });
});
