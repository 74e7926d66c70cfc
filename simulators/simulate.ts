#!/usr/bin/env node
/**
 * `npm run simulate -- ...`: a simulated city (kitchen cameras, elevators, cylinder scanners
 * with their registry, fuel-station collectors), scripted scenarios with `--verify`, and a
 * load mode for benchmarks. docs/simulators.md has the details.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import type { ApiClient } from './apiClient.js';
import { apiAccess, apiArgOptions, apiArgsHelp, describeError, exitCodes, login, runIfMain, UsageError, type CliIo } from './cli.js';
import { cylindersCsv, defaultFleetConfig, devicesCsv, mergeFleet, planFleet, type FleetOverrides } from './fleet/fleet.js';
import { FleetRunner, playScenario, registerFleet, sleep } from './fleet/runner.js';
import { checkReferences, fleetOverridesOf, loadScenario, neverConnectIds, ScenarioError, serviceSettings, shippedScenarios, type Scenario } from './fleet/scenario.js';
import { formatResults, verifyExpectations } from './fleet/verify.js';
import { loadArgOptions, loadHelp, runLoad } from './load/load.js';

export const help = `Usage: npm run simulate -- [options]     (bin: supervision-simulate)

Runs a simulated city against a running service: registers the fleet through the API (bulk
import), connects every device with its own credentials and plays realistic behaviour, or a
scenario with scripted faults and the alerts it expects.

Fleet (flags win over the scenario's fleet):
  --cameras N                kitchen cameras (default ${defaultFleetConfig.kitchen.cameras})
  --stores M                 restaurants the cameras are spread over (${defaultFleetConfig.kitchen.stores})
  --violations-per-hour R    AI detections per camera per hour, real type mix (${defaultFleetConfig.kitchen.violationsPerHour})
  --elevators N              elevators (${defaultFleetConfig.elevator.count}); status every --status-s S (${defaultFleetConfig.elevator.statusS})
  --scanners N               cylinder scanners (${defaultFleetConfig.cylinder.scanners}) at --filling-stations K (${defaultFleetConfig.cylinder.stations})
  --cylinders-per-station C  registry records per filling station (${defaultFleetConfig.cylinder.cylindersPerStation})
  --scan-s S                 seconds between two scans of one scanner (${defaultFleetConfig.cylinder.scanS}; 0 = no background scans)
  --expired-share F          share of the registry past its design life (${defaultFleetConfig.cylinder.shares.expired})
  --overdue-share F          periodic inspection overdue (${defaultFleetConfig.cylinder.shares.overdue})
  --foreign-share F          owned by another station (${defaultFleetConfig.cylinder.shares.foreign})
  --scrapped-share F         scrapped (${defaultFleetConfig.cylinder.shares.scrapped})
  --due-soon-share F         inspection due within 30 days (${defaultFleetConfig.cylinder.shares.dueSoon})
  --fuel-stations N          fuel-station collectors (${defaultFleetConfig.dispenser.stations}), each with --dispensers N (${defaultFleetConfig.dispenser.dispensersPerStation})
                             of --nozzles N (${defaultFleetConfig.dispenser.nozzlesPerDispenser}) and one tank per grade
  --txn-per-hour R           transactions per station per hour (${defaultFleetConfig.dispenser.txnPerHour})
  --heartbeat-s S            heartbeat period (${defaultFleetConfig.heartbeatS})
  --prefix P                 namespace of every id (default ${defaultFleetConfig.prefix}; a scenario uses its name)
  --seed N                   the same seed gives the same city and the same behaviour (${defaultFleetConfig.seed})

Run:
  --scenario FILE|NAME       a scenario file (YAML/JSON) or a shipped one (--list-scenarios)
  --list-scenarios           shipped scenarios with the rules they exercise
  --check                    validate the scenario, print the fleet and the service settings it needs; run nothing
  --verify                   after the scenario, check its expected alerts via the API; exit 1 on a mismatch
  --duration S               run time without a scenario (default: until Ctrl-C)
  --forever                  keep the fleet running after the scenario (Ctrl-C ends it)
  --speed X                  compress time: every interval and step time divided by X (default 1)
  --qos 0|1                  QoS of readings (default 1)
  --tick-ms MS               behaviour step period (default 250)
  --mqtt URL                 SUPERVISION_MQTT, default mqtt://<host of --api>:1883
  --csv-out DIR              write DIR/devices.csv and DIR/cylinders.csv (bulk-import files) and exit
  --help

Load mode (benchmarks; lightweight raw MQTT connections):
${loadHelp}

${apiArgsHelp}

Exit: 0 ok, 1 failed (verify mismatch, service error), 2 usage or invalid scenario.
Examples:
  npm run simulate -- --password-file data/admin-password.txt --elevators 100 --cameras 200
  npm run simulate -- --scenario elevator-trapped --verify --password-file data/admin-password.txt
  npm run simulate -- --load --devices 10000 --rate 5000 --duration 60 --password-file data/admin-password.txt
`;

const options = {
  ...apiArgOptions,
  ...loadArgOptions,
  cameras: { type: 'string' }, stores: { type: 'string' }, 'violations-per-hour': { type: 'string' },
  elevators: { type: 'string' }, 'status-s': { type: 'string' },
  scanners: { type: 'string' }, 'filling-stations': { type: 'string' }, 'cylinders-per-station': { type: 'string' }, 'scan-s': { type: 'string' },
  'expired-share': { type: 'string' }, 'overdue-share': { type: 'string' }, 'foreign-share': { type: 'string' }, 'scrapped-share': { type: 'string' }, 'due-soon-share': { type: 'string' },
  'fuel-stations': { type: 'string' }, dispensers: { type: 'string' }, nozzles: { type: 'string' }, 'txn-per-hour': { type: 'string' },
  'heartbeat-s': { type: 'string' }, prefix: { type: 'string' }, seed: { type: 'string' },
  scenario: { type: 'string' }, 'list-scenarios': { type: 'boolean' }, check: { type: 'boolean' }, verify: { type: 'boolean' },
  duration: { type: 'string' }, forever: { type: 'boolean' }, speed: { type: 'string' }, qos: { type: 'string' }, 'tick-ms': { type: 'string' },
  mqtt: { type: 'string' }, 'csv-out': { type: 'string' }, help: { type: 'boolean' },
} as const;

type Values = ReturnType<typeof parseArgs<{ options: typeof options; strict: true; allowPositionals: false }>>['values'];

export function numberFlag(values: Record<string, unknown>, name: string, o: { min?: number; max?: number; int?: boolean } = {}): number | undefined {
  const raw = values[name];
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (typeof raw !== 'string' || raw.trim() === '' || !Number.isFinite(n) || (o.int && !Number.isInteger(n)) || (o.min !== undefined && n < o.min) || (o.max !== undefined && n > o.max)) {
    const range = [o.min !== undefined ? `>= ${o.min}` : '', o.max !== undefined ? `<= ${o.max}` : ''].filter(Boolean).join(' and ');
    throw new UsageError(`--${name} ${String(raw)}: expected ${o.int ? 'an integer' : 'a number'}${range ? ` ${range}` : ''}`);
  }
  return n;
}

function flagFleet(v: Values): FleetOverrides {
  const int = (n: string) => numberFlag(v, n, { min: 0, int: true });
  const pos = (n: string) => numberFlag(v, n, { min: 0 });
  const share = (n: string) => numberFlag(v, n, { min: 0, max: 1 });
  const def = <T extends object>(o: T): T => Object.fromEntries(Object.entries(o).filter(([, x]) => x !== undefined)) as T;
  if (v.prefix !== undefined && !/^[A-Za-z0-9_-]{1,24}$/.test(v.prefix)) throw new UsageError(`--prefix ${v.prefix}: 1-24 of [A-Za-z0-9_-]`);
  return def({
    prefix: v.prefix, seed: int('seed'), heartbeatS: pos('heartbeat-s'),
    kitchen: def({ cameras: int('cameras'), stores: numberFlag(v, 'stores', { min: 1, int: true }), violationsPerHour: pos('violations-per-hour') }),
    elevator: def({ count: int('elevators'), statusS: pos('status-s') }),
    cylinder: def({
      scanners: int('scanners'), stations: numberFlag(v, 'filling-stations', { min: 1, int: true }), cylindersPerStation: int('cylinders-per-station'), scanS: pos('scan-s'),
      shares: def({ expired: share('expired-share'), overdue: share('overdue-share'), foreign: share('foreign-share'), scrapped: share('scrapped-share'), dueSoon: share('due-soon-share') }),
    }),
    dispenser: def({ stations: int('fuel-stations'), dispensersPerStation: numberFlag(v, 'dispensers', { min: 1, int: true }), nozzlesPerDispenser: numberFlag(v, 'nozzles', { min: 1, max: 8, int: true }), txnPerHour: pos('txn-per-hour') }),
  }) as FleetOverrides;
}

export function mqttUrlFor(values: { mqtt?: string }, apiUrl: string, env: CliIo['env']): string {
  const url = values.mqtt ?? env.SUPERVISION_MQTT ?? `mqtt://${new URL(apiUrl).hostname}:1883`;
  if (!/^mqtts?:\/\//.test(url)) throw new UsageError(`--mqtt ${url}: expected mqtt://host:port`);
  return url;
}

function printNeeds(scenario: Scenario, io: CliIo): void {
  const needs = serviceSettings(scenario);
  if (!Object.keys(needs).length) return;
  io.out(`scenario ${scenario.name} expects the service to run with these short thresholds (npm run demo starts it so):`);
  io.out(`  ${Object.entries(needs).map(([k, v]) => `${k}='${v}'`).join(' ')} npm start`);
}

export async function main(argv: string[], io: CliIo): Promise<number> {
  let v: Values;
  try {
    v = parseArgs({ args: argv, options, strict: true, allowPositionals: false }).values;
  } catch (e) {
    io.err(`${(e as Error).message}\nsee --help`);
    return exitCodes.usage;
  }
  if (v.help) { io.out(help); return exitCodes.ok; }
  if (v['list-scenarios']) {
    for (const s of shippedScenarios()) {
      try {
        const { scenario } = loadScenario(s.file);
        io.out(`${s.name.padEnd(28)} ${scenario.rules.join(', ') || '-'}\n${' '.repeat(29)}${scenario.description.split('\n')[0]}`);
      } catch (e) {
        io.out(`${s.name.padEnd(28)} INVALID: ${(e as Error).message}`);
      }
    }
    return exitCodes.ok;
  }
  let api: ApiClient | null = null;
  let runner: FleetRunner | null = null;
  try {
    if (v.load) return await runLoad(v, io);
    let scenario: Scenario | null = null;
    let file = '';
    if (v.scenario) ({ scenario, file } = loadScenario(v.scenario));
    if (v.verify && !scenario) throw new UsageError('--verify needs --scenario (the expectations are in the scenario)');
    const speed = numberFlag(v, 'speed', { min: 0.01, max: 10_000 }) ?? 1;
    const qosN = numberFlag(v, 'qos', { min: 0, max: 1, int: true }) ?? 1;
    const tickMs = numberFlag(v, 'tick-ms', { min: 10, max: 60_000, int: true }) ?? 250;
    const duration = numberFlag(v, 'duration', { min: 0 });
    const config = mergeFleet(defaultFleetConfig, scenario ? { prefix: scenario.name.slice(0, 24) } : {}, scenario ? fleetOverridesOf(scenario) : {}, flagFleet(v), { timeScale: speed });
    const runTag = Date.now().toString(36);
    const plan = planFleet(config, Date.now(), runTag);
    if (scenario) checkReferences(scenario, plan, file);
    const counts = Object.entries(plan.byFamily).map(([f, ids]) => `${ids.length} ${f}`).join(', ');

    if (v['csv-out']) {
      mkdirSync(v['csv-out'], { recursive: true });
      writeFileSync(path.join(v['csv-out'], 'devices.csv'), devicesCsv(plan));
      writeFileSync(path.join(v['csv-out'], 'cylinders.csv'), cylindersCsv(plan));
      io.out(`wrote ${path.join(v['csv-out'], 'devices.csv')} (${plan.devices.length} devices: ${counts}) and cylinders.csv (${plan.cylinders.length} records)`);
      io.out('import them with POST /api/devices/import and POST /api/cylinders/import (or npm run devices / npm run cylinders)');
      return exitCodes.ok;
    }
    if (scenario) printNeeds(scenario, io);
    if (v.check) {
      io.out(`${file}: valid scenario ${scenario ? `"${scenario.name}", ${scenario.steps.length} steps, ${scenario.expect.length} expectations, ${scenario.durationS} s` : '(none given)'}`);
      io.out(`fleet ${config.prefix}: ${counts}; ${plan.cylinders.length} cylinder records`);
      return exitCodes.ok;
    }

    const access = apiAccess(v, io.env);
    if (!access) throw new UsageError('no API password: give --password-file (e.g. data/admin-password.txt), SUPERVISION_PASSWORD or --password');
    const mqttUrl = mqttUrlFor(v, access.url, io.env);
    api = await login(access);
    io.out(`fleet ${config.prefix} (seed ${config.seed}${speed !== 1 ? `, speed x${speed}` : ''}): ${counts}`);
    const secrets = await registerFleet(api, plan, io.out);
    runner = new FleetRunner(plan, secrets, { mqttUrl, qos: qosN as 0 | 1, tickMs, log: io.out, ...(scenario ? { neverConnect: neverConnectIds(scenario, plan) } : {}) });
    const started = Date.now();
    await runner.connectAll();
    runner.start();
    const r = runner;
    const progress = setInterval(() => {
      const s = r.stats;
      io.err(`[${((Date.now() - started) / 1000).toFixed(0)}s] connected ${s.connected}/${s.devices}  published ${s.published}  acked ${s.acked}  scan replies ${s.scanReplies.allow} allow / ${s.scanReplies.refuse} refuse  error replies ${s.errorReplies}`);
    }, 5000);
    const abort = new AbortController();
    const onSignal = (): void => abort.abort();
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
    let code: number = exitCodes.ok;
    try {
      if (scenario) {
        io.out(`scenario ${scenario.name}: ${scenario.description.split('\n')[0]}`);
        await playScenario(runner, scenario, speed, io.out, abort.signal);
        if (v.verify && !abort.signal.aborted) {
          const results = await verifyExpectations(api, plan, scenario.expect, { since: started - 1000, settleMs: scenario.settleS * 1000 });
          for (const line of formatResults(results)) io.out(line);
          if (results.some((x) => !x.ok)) code = exitCodes.failed;
        }
      }
      if (v.forever || (!scenario && duration === undefined)) {
        io.out('running; Ctrl-C stops');
        while (!abort.signal.aborted) await sleep(200);
      } else if (!scenario && duration !== undefined) {
        const end = Date.now() + duration * 1000;
        while (Date.now() < end && !abort.signal.aborted) await sleep(Math.min(200, end - Date.now()));
      }
    } finally {
      clearInterval(progress);
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    }
    await runner.stop();
    io.out(JSON.stringify({ summary: { ...runner.stats, connected: undefined, seconds: Math.round((Date.now() - started) / 100) / 10 } }));
    return code;
  } catch (e) {
    await runner?.stop();
    if (e instanceof UsageError) { io.err(`${e.message}\nsee --help`); return exitCodes.usage; }
    if (e instanceof ScenarioError) { io.err(e.message); return exitCodes.usage; }
    for (const line of describeError(e)) io.err(line);
    return exitCodes.failed;
  }
}

runIfMain(import.meta.url, main);
