/**
 * The simulate CLI: --help, scenario validation with errors that name the field, --check,
 * --csv-out, usage errors; and load mode against a real service (small: 300 connections from
 * two loopback source addresses, QoS 1) printing its JSON summary.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadScenarioText, ScenarioError, shippedScenarios, loadScenario } from '../../simulators/fleet/scenario.js';
import { DESCRIPTOR_RESERVE, descriptorCheck, descriptorUse } from '../../simulators/load/descriptors.js';
import { main } from '../../simulators/simulate.js';
import { ADMIN_PASSWORD, startService } from '../helpers/service.js';
import { captureIo } from './io.js';

const dir = mkdtempSync(path.join(tmpdir(), 'simulate-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function scenarioFile(name: string, text: string): string {
  const file = path.join(dir, name);
  writeFileSync(file, text);
  return file;
}

describe('simulate --help and usage', () => {
  it('--help documents the fleet, scenarios, verify and load mode', async () => {
    const io = captureIo();
    expect(await main(['--help'], io)).toBe(0);
    const text = io.text();
    for (const flag of ['--cameras', '--stores', '--elevators', '--scanners', '--filling-stations', '--expired-share', '--fuel-stations', '--scenario', '--verify', '--load', '--rate', '--qos', '--source-addresses', '--csv-out', '--speed']) {
      expect(text).toContain(flag);
    }
  });

  it('an unknown flag or a bad number is a usage error (exit 2)', async () => {
    let io = captureIo();
    expect(await main(['--frobnicate'], io)).toBe(2);
    expect(io.text()).toMatch(/frobnicate/);
    io = captureIo();
    expect(await main(['--elevators', 'many', '--check'], io)).toBe(2);
    expect(io.text()).toContain('--elevators many: expected an integer');
    io = captureIo();
    expect(await main(['--verify'], io)).toBe(2);
    expect(io.text()).toContain('--verify needs --scenario');
  });

  it('without a password it says how to give one', async () => {
    const io = captureIo();
    expect(await main(['--duration', '1'], io)).toBe(2);
    expect(io.text()).toContain('--password-file');
  });

  it('--list-scenarios lists every shipped scenario, and each one is valid', async () => {
    const io = captureIo();
    expect(await main(['--list-scenarios'], io)).toBe(0);
    for (const s of shippedScenarios()) {
      expect(io.text()).toContain(s.name);
      expect(() => loadScenario(s.file)).not.toThrow();
    }
    expect(io.text()).not.toContain('INVALID');
  });
});

describe('scenario validation', () => {
  const problems = (text: string, file = 'x.yaml'): string[] => {
    try {
      loadScenarioText(text, file);
    } catch (e) {
      if (e instanceof ScenarioError) return e.problems;
      throw e;
    }
    return [];
  };

  it('names the field of each problem', () => {
    expect(problems('name: Bad Name\ndescription: x\ndurationS: 5\n')).toEqual(['name: lower-case letters, digits and dashes']);
    expect(problems('name: a\ndescription: x\n')).toEqual([expect.stringMatching(/^durationS: /)]);
    expect(problems('name: a\ndescription: x\ndurationS: 5\nsteps:\n  - { at: 1, do: explode, device: "elevator#0" }\n')).toEqual([expect.stringMatching(/^steps\[0\]\.do: unknown step kind; one of violation, trap, .*disconnect/)]);
    expect(problems('name: a\ndescription: x\ndurationS: 5\nsteps:\n  - { at: 1, do: trap, device: "elevator#0", by: magic }\n')[0]).toMatch(/^steps\[0\]\.by: .*code11.*status/);
    expect(problems('name: a\ndescription: x\ndurationS: 5\nsteps:\n  - { at: 9, do: release, device: "elevator#0" }\n')).toEqual(['steps[0].at: at 9 s is after durationS 5']);
    expect(problems('name: a\ndescription: x\ndurationS: 5\nexpect:\n  - { rule: elevator.trapped, min: 2, max: 1 }\n')).toEqual(['expect[0].max: max must be >= min']);
    expect(problems('name: a\ndescription: x\ndurationS: 5\nfleet: { elevator: { cout: 3 } }\n')[0]).toMatch(/^fleet\.elevator: .*cout/);
    expect(problems('name: a\n  description: [x\n')[0]).toMatch(/^not valid YAML/);
    expect(problems('{"name": "a",', 'x.json')[0]).toMatch(/^not valid JSON/);
  });

  it('--check reports a reference to a device the fleet does not have, and a step on the wrong family (exit 2)', async () => {
    const file = scenarioFile('refs.yaml', 'name: refs\ndescription: x\ndurationS: 5\nfleet: { elevator: { count: 2 } }\nsteps:\n  - { at: 1, do: trap, device: "elevator#5", by: code11 }\n  - { at: 1, do: tamper, device: "elevator#0", kind: seal_open }\n');
    const io = captureIo();
    expect(await main(['--scenario', file, '--check'], io)).toBe(2);
    expect(io.text()).toContain('steps[0].device: elevator#5 but the fleet has 2 elevator device(s)');
    expect(io.text()).toContain('steps[1].device: elevator#0 is a elevator device; this step needs a dispenser device');
  });

  it('--check prints the service settings a scenario needs', async () => {
    const io = captureIo();
    expect(await main(['--scenario', 'elevator-trapped', '--check'], io)).toBe(0);
    expect(io.text()).toContain(`ALERT_OVERRIDES='{"rules":{"elevator.trapped":{"atFloorMs":3000,"outsideDoorZoneMs":1000}}}' ALERT_TICK_MS='200'`);
    expect(io.text()).toContain('valid scenario "elevator-trapped"');
  });
});

describe('--csv-out', () => {
  it('writes bulk-import files for the device and cylinder registries', async () => {
    const out = path.join(dir, 'csv');
    const io = captureIo();
    expect(await main(['--csv-out', out, '--cameras', '5', '--elevators', '4', '--scanners', '2', '--filling-stations', '2', '--cylinders-per-station', '10', '--fuel-stations', '1', '--expired-share', '0.5'], io)).toBe(0);
    const devices = readFileSync(path.join(out, 'devices.csv'), 'utf8').trim().split('\n');
    expect(devices[0]).toMatch(/^id,family,name,lat,lng,district,/);
    expect(devices).toHaveLength(1 + 5 + 4 + 2 + 1);
    const cylinders = readFileSync(path.join(out, 'cylinders.csv'), 'utf8').trim().split('\n');
    expect(cylinders[0]).toBe('code,model,mfgDate,designLifeYears,lastInspection,nextInspection,ownerStationId,entrustedStationIds,status,maxFillKg');
    expect(cylinders).toHaveLength(1 + 20);
  });
});

describe('a plain fleet run against a real service', () => {
  it('registers the fleet and the cylinder registry, connects every device, publishes, and a rerun rotates the secrets', async () => {
    const ts = await startService();
    try {
      const args = (duration: string) => ['--cameras', '4', '--stores', '2', '--violations-per-hour', '3600', '--elevators', '4', '--status-s', '1', '--scanners', '2', '--filling-stations', '2',
        '--cylinders-per-station', '50', '--scan-s', '0.3', '--fuel-stations', '2', '--txn-per-hour', '3600', '--heartbeat-s', '1', '--duration', duration, '--prefix', 'plain',
        '--api', ts.httpUrl, '--mqtt', ts.mqttUrl, '--tick-ms', '100'];
      let io = captureIo({ SUPERVISION_PASSWORD: ADMIN_PASSWORD });
      expect(await main(args('3'), io), io.text()).toBe(0);
      expect(io.text()).toContain('registered 12 devices (12 new, 0 already known');
      expect(io.text()).toContain('cylinder registry: 100 records (100 new');
      expect(io.text()).toContain('connected 12 devices');
      const summary = JSON.parse(io.stdout.at(-1)!) as { summary: { published: number; acked: number; publishErrors: number; errorReplies: number; scanReplies: { allow: number } } };
      expect(summary.summary.published).toBeGreaterThan(30);
      expect(summary.summary.acked).toBe(summary.summary.published);
      expect(summary.summary).toMatchObject({ publishErrors: 0, errorReplies: 0 });
      expect(summary.summary.scanReplies.allow).toBeGreaterThan(0);
      // every reading was stored as valid: no dead letters for the fleet
      const dl = await ts.service.http.inject({ method: 'GET', url: '/api/dead-letters?limit=1000', headers: { authorization: `Bearer ${ts.adminToken}` } });
      expect((dl.json() as { items: unknown[] }).items).toEqual([]);
      io = captureIo({ SUPERVISION_PASSWORD: ADMIN_PASSWORD });
      expect(await main(args('1'), io), io.text()).toBe(0);
      expect(io.text()).toContain('registered 12 devices (0 new, 12 already known: secrets rotated)');
    } finally {
      await ts.dispose();
    }
  });
});

describe('a step that cannot be played', () => {
  it('fails the run with a message naming the step (exit 1), without crashing the process', async () => {
    const ts = await startService();
    try {
      const file = scenarioFile('nopool.yaml', 'name: nopool\ndescription: x\ndurationS: 1\nfleet: { kitchen: { cameras: 0 }, elevator: { count: 0 }, dispenser: { stations: 0 }, cylinder: { scanners: 1, stations: 1, cylindersPerStation: 5, scanS: 0, shares: { expired: 0, overdue: 0, foreign: 0, scrapped: 0, dueSoon: 0 } } }\nsteps:\n  - { at: 0.2, do: scan, device: "cylinder#0", cylinder: expired, point: pre_fill }\n');
      const io = captureIo({ SUPERVISION_PASSWORD: ADMIN_PASSWORD });
      expect(await main(['--scenario', file, '--api', ts.httpUrl, '--mqtt', ts.mqttUrl], io)).toBe(1);
      expect(io.text()).toContain('steps[0]: station nopool-ST001 has no expired cylinder in its pool');
    } finally {
      await ts.dispose();
    }
  });
});

describe('load mode and the open-file limit', () => {
  it('more devices than the limit leaves room for: refused, naming ulimit -n, the limit and how many fit', () => {
    const use = { soft: 20_000, hard: 20_000, open: 30 };
    const room = 20_000 - 30 - DESCRIPTOR_RESERVE;
    expect(descriptorCheck(room, use)).toEqual({ room, problem: null });
    const { problem } = descriptorCheck(100_000, use);
    expect(problem).toContain('ulimit -n is 20000');
    expect(problem).toContain(`can open only ${room} connections`);
    expect(problem).toContain(`--devices ${room} or fewer`);
    expect(problem).toContain('ulimit -n 101000');
    expect(descriptorCheck(50_000, { soft: 4096, hard: 1_048_576, open: 30 }).problem).toContain('ulimit -n is 4096, hard limit 1048576');
  });

  it.runIf((descriptorUse()?.soft ?? Infinity) < 100_000)('on this machine 100,000 is refused at start (exit 2), before anything is registered', async () => {
    const io = captureIo({ SUPERVISION_PASSWORD: 'unused' });
    // nothing listens on port 9: reaching the API would fail differently (exit 1)
    expect(await main(['--load', '--devices', '100000', '--api', 'http://127.0.0.1:9'], io)).toBe(2);
    expect(io.text()).toMatch(/--devices 100000: this process can open only \d+ connections: ulimit -n is \d+/);
  });
});

describe('load mode against a real service', () => {
  it('connects every device from two source addresses, sends at the target rate with QoS 1 and prints a JSON summary', async () => {
    const ts = await startService();
    try {
      const io = captureIo({ SUPERVISION_PASSWORD: ADMIN_PASSWORD });
      const code = await main(['--load', '--devices', '300', '--rate', '600', '--duration', '2', '--qos', '1', '--source-addresses', '2', '--api', ts.httpUrl, '--mqtt', ts.mqttUrl, '--progress-ms', '500'], io);
      const summary = JSON.parse(io.stdout.join('\n')) as { connected: number; sent: number; acked: number; ackLatencyMs: { p50: number; p99: number }; sourceAddresses: number; errors: number };
      expect(code, io.text()).toBe(0);
      expect(summary).toMatchObject({ connected: 300, sourceAddresses: 2, errors: 0 });
      expect(summary.sent).toBeGreaterThan(600);
      expect(summary.acked).toBe(summary.sent);
      expect(summary.ackLatencyMs.p99).toBeGreaterThanOrEqual(summary.ackLatencyMs.p50);
      expect(io.stderr.some((l) => /connected \d+\/300 {2}sent \d+\/s {2}acked \d+\/s .*p50 .*p99/.test(l))).toBe(true);
    } finally {
      await ts.dispose();
    }
  });
});
