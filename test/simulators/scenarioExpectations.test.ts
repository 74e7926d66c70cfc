/**
 * The scenario fields for the store lists and connection coverage (docs/simulators.md,
 * Expectations and --verify): `storeList` and `deviceCoverage` expectations, `neverConnect`,
 * `fleet.district`. Each problem names its field; a reference to a store or device the fleet
 * does not have is caught by --check before anything connects. (They run against a service in
 * test/simulators/scenarios.test.ts: kitchen-store-list, device-coverage.)
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { defaultFleetConfig, mergeFleet, planFleet } from '../../simulators/fleet/fleet.js';
import { fleetStores, loadScenario, loadScenarioText, neverConnectIds, resolveStore, ScenarioError } from '../../simulators/fleet/scenario.js';
import { main } from '../../simulators/simulate.js';
import { captureIo } from './io.js';

const dir = mkdtempSync(path.join(tmpdir(), 'simulate-expect-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const head = 'name: a\ndescription: x\ndurationS: 5\n';
const problems = (text: string): string[] => {
  try {
    loadScenarioText(text, 'x.yaml');
  } catch (e) {
    if (e instanceof ScenarioError) return e.problems;
    throw e;
  }
  return [];
};

describe('storeList and deviceCoverage expectations', () => {
  it.each([
    ['{ rule: storeList, store: "store#0" }', 'expect[0].list: list (black or red) is needed by storeList and only there'],
    ['{ rule: elevator.trapped, list: black }', 'expect[0].list: list (black or red) is needed by storeList and only there'],
    ['{ rule: storeList, list: grey }', /^expect\[0\]\.list: .*black.*red/],
    ['{ rule: storeList, list: red, stage: flagged }', 'expect[0].stage: stage is for storeList with list: black'],
    ['{ rule: storeList, list: black, stage: banned }', /^expect\[0\]\.stage: .*flagged.*lapsed/],
    ['{ rule: kitchen.violation, store: "store#0" }', 'expect[0].store: store is for storeList and storeScore'],
    ['{ rule: storeScore, store: "store#0" }', 'expect[0].score: storeScore needs store and score, and only it has a score'],
    ['{ rule: storeScore, score: 90 }', 'expect[0].score: storeScore needs store and score, and only it has a score'],
    ['{ rule: kitchen.violation, score: 90 }', 'expect[0].score: storeScore needs store and score, and only it has a score'],
    ['{ rule: storeScore, store: "store#0", score: 101 }', /^expect\[0\]\.score: /],
    ['{ rule: deadLetters, rectification: true }', 'expect[0].rectification: rectification is for alert rules'],
    ['{ rule: storeList, list: black, severity: major }', 'expect[0].rule: storeList, deviceCoverage and storeScore take no device, severity or reason'],
    ['{ rule: deviceCoverage, family: elevator }', 'expect[0].registered: deviceCoverage needs at least one of registered, everConnected, connectedNow, neverConnected; only it has them'],
    ['{ rule: elevator.offline, registered: 3 }', 'expect[0].registered: deviceCoverage needs at least one of registered, everConnected, connectedNow, neverConnected; only it has them'],
    ['{ rule: elevator.offline, family: elevator }', 'expect[0].family: family is for deviceCoverage'],
    ['{ rule: deviceCoverage, registered: -1 }', /^expect\[0\]\.registered: /],
    ['{ rule: deviceCoverage, device: "elevator#0", registered: 1 }', 'expect[0].rule: storeList, deviceCoverage and storeScore take no device, severity or reason'],
  ])('%s: %s', (entry, problem) => {
    const got = problems(`${head}fleet: { district: "330106901" }\nexpect:\n  - ${entry}\n`);
    expect(got).toContainEqual(typeof problem === 'string' ? problem : expect.stringMatching(problem));
  });

  it('deviceCoverage needs a district of the fleet\'s own (coverage is read per district), and fleet.district is a division code', () => {
    expect(problems(`${head}expect:\n  - { rule: deviceCoverage, registered: 1 }\n`)).toEqual(['expect[0].rule: deviceCoverage needs fleet.district (a district code only this fleet uses)']);
    expect(problems(`${head}fleet: { district: "Hangzhou" }\n`)).toEqual([expect.stringMatching(/^fleet\.district: district must be a 6, 9 or 12 digit division code/)]);
    expect(problems(`${head}fleet: { district: "330106901" }\nneverConnect: ["elevator#1"]\nexpect:\n  - { rule: deviceCoverage, family: elevator, registered: 2, neverConnected: 1 }\n  - { rule: storeList, list: black, store: "store#0", stage: flagged }\n`)).toEqual([]);
  });

  it('the shipped kitchen-store-list and device-coverage scenarios are valid', () => {
    const lists = loadScenario('kitchen-store-list').scenario;
    expect(lists.expect.filter((e) => e.rule === 'storeList').map((e) => [e.list, e.store, e.stage ?? null, e.min, e.max])).toContainEqual(['black', 'store#0', 'flagged', 1, 1]);
    const cov = loadScenario('device-coverage').scenario;
    expect(cov.fleet.district).toBe('330106901');
    expect(cov.neverConnect.length).toBeGreaterThan(0);
  });
});

describe('store and neverConnect references', () => {
  const plan = planFleet(mergeFleet(defaultFleetConfig, { prefix: 'p', kitchen: { cameras: 5, stores: 3 }, elevator: { count: 2 }, cylinder: { scanners: 0 }, dispenser: { stations: 0 } }), Date.UTC(2026, 10, 10), 'r');

  it('store#i is the fleet\'s i-th store (kitchen camera i is in store i mod stores); a literal id must be one of them', () => {
    expect(fleetStores(plan)).toEqual(['p-S0001', 'p-S0002', 'p-S0003']);
    expect(resolveStore(plan, 'store#2', 'expect[0].store')).toBe('p-S0003');
    expect(resolveStore(plan, 'p-S0002', 'expect[0].store')).toBe('p-S0002');
    expect(() => resolveStore(plan, 'store#3', 'expect[0].store')).toThrow('expect[0].store: store#3 but the fleet has 3 store(s) with a camera');
    expect(() => resolveStore(plan, 'other-S0001', 'expect[0].store')).toThrow('no store other-S0001 in the fleet');
  });

  it('neverConnect resolves device references', () => {
    const s = loadScenarioText(`${head}neverConnect: ["elevator#1", "p-cam-0002"]\n`, 'x.yaml');
    expect([...neverConnectIds(s, plan)]).toEqual(['p-elev-0002', 'p-cam-0002']);
  });

  it('--check refuses a store or a never-connecting device the fleet does not have (exit 2)', async () => {
    const file = path.join(dir, 'refs.yaml');
    writeFileSync(file, `${head}fleet: { kitchen: { cameras: 2, stores: 2 }, elevator: { count: 1 } }\nneverConnect: ["elevator#4"]\nexpect:\n  - { rule: storeList, list: black, store: "store#5" }\n`);
    const io = captureIo();
    expect(await main(['--scenario', file, '--check'], io)).toBe(2);
    expect(io.text()).toContain('neverConnect[0]: elevator#4 but the fleet has 1 elevator device(s)');
    expect(io.text()).toContain('expect[0].store: store#5 but the fleet has 2 store(s) with a camera');
  });
});

describe('fleet.district', () => {
  it('puts every device in that district and leaves the rest of the city as it was', () => {
    const over = { prefix: 'd', kitchen: { cameras: 3 }, elevator: { count: 3 }, cylinder: { scanners: 2, cylindersPerStation: 5 }, dispenser: { stations: 2 } };
    const now = Date.UTC(2026, 10, 10);
    const plain = planFleet(mergeFleet(defaultFleetConfig, over), now, 'r');
    const placed = planFleet(mergeFleet(defaultFleetConfig, over, { district: '330106901' }), now, 'r');
    expect(new Set(placed.devices.map((d) => d.district))).toEqual(new Set(['330106901']));
    expect(new Set(plain.devices.map((d) => d.district)).has('330106901')).toBe(false);
    // the same draws: ids, locations and the cylinder registry do not move
    expect(placed.devices.map((d) => [d.id, d.location])).toEqual(plain.devices.map((d) => [d.id, d.location]));
    expect(placed.cylinders).toEqual(plain.cylinders);
  });
});
