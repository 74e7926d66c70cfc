/**
 * The cylinders CLI (npm run cylinders) against a real service: import is all or nothing
 * (every bad row printed, exit 1), --on-conflict skip, list and get show the records with
 * dates as YYYY-MM-DD; CSV and JSON files. Run in-process through `main`.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main as cylindersCli } from '../../cli/cylinders.js';
import { adminApiArgs, captured, fixtureFile } from '../helpers/cli.js';
import { ADMIN_PASSWORD, startService, type TestService } from '../helpers/service.js';

let ts: TestService;
let dir: string;

beforeAll(async () => {
  ts = await startService();
  dir = mkdtempSync(path.join(tmpdir(), 'cylinders-cli-test-'));
});
afterAll(async () => {
  await ts?.dispose();
  if (dir) rmSync(dir, { recursive: true, force: true });
});


const apiArgs = (): string[] => adminApiArgs(ts);

const file = (name: string, text: string): string => fixtureFile(dir, name, text);

/** GET /api/cylinders as the admin: what the registry holds. */
async function registry(): Promise<{ total: number; items: Array<{ code: string }> }> {
  const res = await ts.service.http.inject({ method: 'GET', url: '/api/cylinders?limit=1000', headers: { authorization: `Bearer ${ts.adminToken}` } });
  expect(res.statusCode).toBe(200);
  return res.json();
}

const header = 'code,model,mfgDate,designLifeYears,lastInspection,nextInspection,ownerStationId,entrustedStationIds,status,maxFillKg';
const goodRows = [
  'CLI-YSP15-0001,YSP15,2020-03-15,8,2024-03-01,2028-03-01,ST-01,ST-02;ST-03,in_service,',
  'CLI-YSP15-0002,YSP-15,2019-11-30,,,,ST-01,,in_service,',
  'CLI-YSP15-0003,ysp15,2016-01-05,8,2020-01-05,2024-01-05,ST-02,ST-03,scrapped,14.5',
];

describe('cylinders CLI (npm run cylinders)', () => {
  it('import: a CSV with bad rows exits 1, prints each row problem and imports nothing', async () => {
    const csv = file('bad.csv', [
      header,
      goodRows[0],
      'CLI-BAD-0002,YSP15,2020-02-30,,,,ST-01,,in_service,',
      'CLI-BAD-0003,YSP15,2020-01-01,,,,,,broken,',
    ].join('\n'));
    const io = captured();
    expect(await cylindersCli(['import', csv, ...apiArgs()], io)).toBe(1);
    const err = io.stderr.join('\n');
    expect(err).toContain('error validation (HTTP 400)');
    expect(err).toMatch(/^ {2}row 2, mfgDate: .*2020-02-30/m);
    expect(err).toMatch(/^ {2}row 3, ownerStationId: required$/m);
    expect(err).toMatch(/^ {2}row 3, status: must be one of in_service, scrapped, lost$/m);
    expect(io.stdout).toEqual([]);
    expect((await registry()).total).toBe(0);
  });

  it('import: a good CSV creates every row; again with --on-conflict skip skips them all, without it refuses', async () => {
    const csv = file('good.csv', [header, ...goodRows].join('\n') + '\n');
    const created = captured();
    expect(await cylindersCli(['import', csv, ...apiArgs()], created)).toBe(0);
    expect(created.stderr).toEqual([]);
    expect(created.stdout.at(-1)).toBe(`imported ${csv}: 3 created, 0 updated, 0 skipped`);
    expect((await registry()).total).toBe(3);
    expect(ts.service.cylinders.get('CLI-YSP15-0001')).toMatchObject({ model: 'YSP15', entrustedStationIds: ['ST-02', 'ST-03'], maxFillKg: 14.5 });

    const skipped = captured();
    expect(await cylindersCli(['import', csv, '--on-conflict', 'skip', ...apiArgs()], skipped)).toBe(0);
    expect(skipped.stdout.at(-1)).toBe(`imported ${csv}: 0 created, 0 updated, 3 skipped`);

    const refused = captured();
    expect(await cylindersCli(['import', csv, ...apiArgs()], refused)).toBe(1);
    expect(refused.stderr.join('\n')).toMatch(/row 1, code: cylinder CLI-YSP15-0001 is already registered/);
    expect((await registry()).total).toBe(3);
  });

  it('list: a table of the records, filtered by station, status and code', async () => {
    const io = captured({ SUPERVISION_API: ts.httpUrl, SUPERVISION_PASSWORD: ADMIN_PASSWORD });
    expect(await cylindersCli(['list'], io)).toBe(0);
    expect(io.stderr).toEqual([]);
    expect(io.stdout[0]).toMatch(/^code +model +status +mfgDate +nextInspection +maxFillKg +owner +entrusted$/);
    expect(io.stdout[1]).toMatch(/^CLI-YSP15-0001 +YSP15 +in_service +2020-03-15 +2028-03-01 +14\.5 +ST-01 +ST-02;ST-03$/);
    expect(io.stdout[2]).toMatch(/^CLI-YSP15-0002 +YSP15 +in_service +2019-11-30 +- +14\.5 +ST-01$/);
    expect(io.stdout[3]).toMatch(/^CLI-YSP15-0003 +YSP15 +scrapped +2016-01-05 +2024-01-05 +14\.5 +ST-02 +ST-03$/);
    expect(io.stdout.at(-1)).toBe('3 of 3 cylinder(s)');

    // ST-03 is no owner, only entrusted; of those, the one in service
    const filtered = captured();
    expect(await cylindersCli(['list', '--station', 'ST-03', '--status', 'in_service', ...apiArgs()], filtered)).toBe(0);
    expect(filtered.stdout.slice(1, -1).map((l) => l.split(/ +/)[0])).toEqual(['CLI-YSP15-0001']);
    expect(filtered.stdout.at(-1)).toBe('1 of 1 cylinder(s)');

    const limited = captured();
    expect(await cylindersCli(['list', '--q', 'YSP15-000', '--limit', '2', ...apiArgs()], limited)).toBe(0);
    expect(limited.stdout.at(-1)).toBe('2 of 3 cylinder(s)');
  });

  it('get: one record, dates as YYYY-MM-DD, unknown ones as -', async () => {
    const io = captured();
    expect(await cylindersCli(['get', 'CLI-YSP15-0001', ...apiArgs()], io)).toBe(0);
    const fields = Object.fromEntries(io.stdout.map((l) => { const m = /^(\S+) +(.*)$/.exec(l)!; return [m[1]!, m[2]!]; }));
    expect(fields).toEqual({
      code: 'CLI-YSP15-0001', model: 'YSP15', status: 'in_service', mfgDate: '2020-03-15', designLifeYears: '8',
      lastInspection: '2024-03-01', nextInspection: '2028-03-01', ownerStationId: 'ST-01', entrustedStationIds: 'ST-02;ST-03', maxFillKg: '14.5',
    });

    const unknown = captured();
    expect(await cylindersCli(['get', 'CLI-YSP15-0002', ...apiArgs()], unknown)).toBe(0);
    expect(unknown.stdout).toContain('lastInspection       -');
    expect(unknown.stdout).toContain('entrustedStationIds  -');
    expect(unknown.stdout).toContain('designLifeYears      8');
  });

  it('import: a JSON array works too (--format json, dates as RFC 3339 and epoch ms kept as China local dates)', async () => {
    const json = file('cylinders.data', JSON.stringify([
      // 20:00 UTC is 04:00 the next day in China: the China date is kept
      { code: 'CLI-JSON-0001', model: 'YSP35.5', mfgDate: '2021-06-30T20:00:00Z', ownerStationId: 'ST-09', entrustedStationIds: ['ST-01'], status: 'in_service' },
      { code: 'CLI-JSON-0002', model: 'YSP15', mfgDate: Date.UTC(2022, 4, 31, 17), ownerStationId: 'ST-09', status: 'lost', maxFillKg: 14 },
    ]));
    const io = captured();
    expect(await cylindersCli(['import', json, '--format', 'json', ...apiArgs()], io)).toBe(0);
    expect(io.stdout.at(-1)).toBe(`imported ${json}: 2 created, 0 updated, 0 skipped`);

    const first = captured();
    expect(await cylindersCli(['get', 'CLI-JSON-0001', ...apiArgs()], first)).toBe(0);
    expect(first.stdout).toContain('mfgDate              2021-07-01');
    expect(first.stdout).toContain('maxFillKg            14.9');
    const second = captured();
    expect(await cylindersCli(['get', 'CLI-JSON-0002', ...apiArgs()], second)).toBe(0);
    expect(second.stdout).toContain('mfgDate              2022-06-01');
    expect(second.stdout).toContain('status               lost');

    // --on-conflict update replaces a record
    const updated = captured();
    const again = file('update.json', JSON.stringify([{ code: 'CLI-JSON-0002', model: 'YSP15', mfgDate: '2022-06-01', ownerStationId: 'ST-09', status: 'in_service' }]));
    expect(await cylindersCli(['import', again, '--on-conflict', 'update', ...apiArgs()], updated)).toBe(0);
    expect(updated.stdout.at(-1)).toBe(`imported ${again}: 0 created, 1 updated, 0 skipped`);
    expect(ts.service.cylinders.get('CLI-JSON-0002')).toMatchObject({ status: 'in_service', maxFillKg: 14.5 });
  });

  it('a missing code exits 1 with the catalog code; usage errors exit 2 before anything is sent', async () => {
    const missing = captured();
    expect(await cylindersCli(['get', 'CLI-NO-SUCH', ...apiArgs()], missing)).toBe(1);
    expect(missing.stderr[0]).toBe('error cylinder_not_found (HTTP 404): no cylinder CLI-NO-SUCH');

    const badStatus = captured();
    expect(await cylindersCli(['list', '--status', 'broken', ...apiArgs()], badStatus)).toBe(2);
    expect(badStatus.stderr[0]).toContain('in_service, scrapped, lost');
    const noFormat = captured();
    expect(await cylindersCli(['import', file('cylinders.txt', ''), ...apiArgs()], noFormat)).toBe(2);
    expect(noFormat.stderr[0]).toContain('--format');
    const notArray = captured();
    expect(await cylindersCli(['import', file('object.json', '{}'), ...apiArgs()], notArray)).toBe(2);
    const noPassword = captured();
    expect(await cylindersCli(['list', '--api', ts.httpUrl], noPassword)).toBe(2);
    expect(noPassword.stderr[0]).toMatch(/no API password/);
    const unknown = captured();
    expect(await cylindersCli(['delete', 'x'], unknown)).toBe(2);

    const help = captured();
    expect(await cylindersCli(['--help'], help)).toBe(0);
    expect(help.stdout.join('\n')).toContain('entrustedStationIds');
    expect((await registry()).total).toBe(5);
  });
});
