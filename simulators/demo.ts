#!/usr/bin/env node
/**
 * `npm run demo`: the service in this process (DATA_DIR ./data-demo unless set) with the
 * short thresholds of the city-day scenario, and a small city of a few hundred devices
 * playing it, so a newcomer sees the dashboard fill with readings and alerts. Ctrl-C stops
 * both. Extra arguments go to `simulate` (e.g. `npm run demo -- --elevators 400 --speed 2`).
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { pino } from 'pino';
import { ADMIN_PASSWORD_FILE } from '../accounts/users.js';
import { ConfigError, loadConfig, type SettingName } from '../service/config.js';
import { Service } from '../service/service.js';
import { processIo } from './cli.js';
import { loadScenario, serviceSettings } from './fleet/scenario.js';
import { main as simulate } from './simulate.js';

/** A few hundred devices: 120 cameras in 40 restaurants, 150 elevators, 12 scanners, 12 fuel stations. */
export const demoFleetArgs = [
  '--cameras', '120', '--stores', '40', '--violations-per-hour', '40', '--elevators', '150', '--scanners', '12',
  '--filling-stations', '4', '--cylinders-per-station', '500', '--fuel-stations', '12',
];

async function run(): Promise<number> {
  if (process.argv.includes('--help')) {
    process.stdout.write(`Usage: npm run demo [-- <simulate options>]
Starts the service (DATA_DIR=${process.env.DATA_DIR ?? './data-demo'}, HTTP_PORT ${process.env.HTTP_PORT ?? 3000}, MQTT_PORT ${process.env.MQTT_PORT ?? 1883})
with the city-day scenario's short alert thresholds, then a city of about 300 devices
(${demoFleetArgs.join(' ')})
playing city-day (see docs/simulators.md), and keeps it running until Ctrl-C.
`);
    return 0;
  }
  const { scenario } = loadScenario('city-day');
  const needs = serviceSettings(scenario);
  const overrides: Partial<Record<SettingName, unknown>> = { DATA_DIR: process.env.DATA_DIR ?? './data-demo' };
  for (const [k, v] of Object.entries(needs)) if (!process.env[k]) overrides[k as SettingName] = v;
  if (!process.env.LOG_LEVEL) overrides.LOG_LEVEL = 'warn';
  let config;
  try {
    config = loadConfig(process.env, overrides);
  } catch (e) {
    if (e instanceof ConfigError) { process.stderr.write(`${e.message}\n`); return 2; }
    throw e;
  }
  const service = new Service(config, pino({ level: config.logLevel }));
  let started;
  try {
    started = await service.start();
  } catch (e) {
    process.stderr.write(`cannot start the service: ${(e as Error).message}\n  (is another one running? set HTTP_PORT / MQTT_PORT)\n`);
    await service.stop().catch(() => undefined);
    return 1;
  }
  const passwordFile = path.join(config.dataDir, ADMIN_PASSWORD_FILE);
  const password = config.auth.adminPassword ?? (existsSync(passwordFile) ? readFileSync(passwordFile, 'utf8').trim() : '');
  const api = `http://127.0.0.1:${started.httpPort}`;
  process.stdout.write([
    '',
    `  Dashboard:  http://localhost:${started.httpPort}/`,
    `  Login:      admin / ${config.auth.adminPassword ? '(ADMIN_PASSWORD)' : `password in ${passwordFile}`}`,
    `  MQTT:       mqtt://localhost:${started.mqttPort}     API docs: http://localhost:${started.httpPort}/docs`,
    `  Thresholds: ${Object.entries(needs).map(([k, v]) => `${k}=${v}`).join(' ')}`,
    '  Ctrl-C stops the city and the service.',
    '',
  ].join('\n') + '\n');
  let stopping = false;
  const hardStop = (): void => { if (stopping) process.exit(130); stopping = true; };
  process.on('SIGINT', hardStop);
  const code = await simulate([
    '--scenario', 'city-day', '--verify', '--forever', '--api', api, '--mqtt', `mqtt://127.0.0.1:${started.mqttPort}`, ...demoFleetArgs, ...process.argv.slice(2),
  ], { ...processIo, env: { ...process.env, SUPERVISION_PASSWORD: password } });
  process.stdout.write('stopping the service...\n');
  await service.stop();
  return code;
}

run().then((code) => { process.exitCode = code; }, (err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exitCode = 1;
});
