/**
 * Every shipped scenario runs against one real in-process service, started with the short
 * thresholds the scenarios state (merged), through the CLI exactly as an integrator runs it:
 * `simulate --scenario <name> --verify`. Its expectations must hold (exit 0).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadScenario, mergeServiceSettings, shippedScenarios } from '../../simulators/fleet/scenario.js';
import { main } from '../../simulators/simulate.js';
import { ADMIN_PASSWORD, startService, type TestService } from '../helpers/service.js';
import { captureIo } from './io.js';

const shipped = shippedScenarios();
const scenarios = shipped.map((s) => loadScenario(s.file).scenario);
const needs = mergeServiceSettings(scenarios);

let ts: TestService;
beforeAll(async () => {
  ts = await startService({ ALERT_OVERRIDES: JSON.stringify(needs.alertOverrides), ALERT_TICK_MS: needs.alertTickMs ?? 200, ALERT_CHECKPOINT_MS: 200 });
});
afterAll(async () => ts?.dispose());

async function run(name: string, extra: string[] = []): Promise<{ code: number; text: string }> {
  const io = captureIo({ SUPERVISION_PASSWORD: ADMIN_PASSWORD });
  const code = await main(['--scenario', name, '--verify', '--api', ts.httpUrl, '--mqtt', ts.mqttUrl, '--tick-ms', '100', ...extra], io);
  return { code, text: io.text() };
}

describe('shipped scenarios pass --verify against a real service', () => {
  it('ships a scenario for every alert rule of docs/rules.md', () => {
    const covered = new Set(scenarios.flatMap((s) => s.rules));
    for (const rule of ['kitchen.violation', 'kitchen.repeat_offender', 'kitchen.camera_dark', 'elevator.fault', 'elevator.trapped', 'elevator.repeated_trapping', 'elevator.offline',
      'cylinder.refused', 'cylinder.inspection_due', 'cylinder.no_pre_fill', 'cylinder.cloned_code', 'cylinder.offline',
      'dispenser.amount_mismatch', 'dispenser.totalizer', 'dispenser.flow', 'dispenser.pulses', 'dispenser.tamper', 'dispenser.tank_reconciliation', 'dispenser.offline']) {
      expect(covered.has(rule), rule).toBe(true);
    }
  });

  const quick = shipped.filter((s) => s.name !== 'city-day');
  it.concurrent.each(quick.map((s) => s.name))('%s', async (name) => {
    const r = await run(name);
    expect(r.text).toMatch(/verify: (\d+)\/\1 expectations hold/);
    expect(r.code, r.text).toBe(0);
  }, 60_000);

  it.concurrent('city-day (compressed x4)', async () => {
    const r = await run('city-day', ['--speed', '4', '--cameras', '12', '--elevators', '20']);
    expect(r.code, r.text).toBe(0);
  }, 90_000);
});
