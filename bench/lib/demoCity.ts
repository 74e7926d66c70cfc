/**
 * `npm run demo`'s city for bench:api (P7): the simulator with the demo's fleet in a child
 * process, living its ordinary life beside the measurement.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** `npm run demo`'s city (simulators/demo.ts demoFleetArgs: importing that module starts the demo). */
const DEMO_FLEET_ARGS = [
  '--cameras', '120', '--stores', '40', '--violations-per-hour', '40', '--elevators', '150', '--scanners', '12',
  '--filling-stations', '4', '--cylinders-per-station', '500', '--fuel-stations', '12',
];

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface City { proc: ChildProcess; fleetLine: string; stop: () => Promise<string> }

/** `simulate` with the demo's fleet, no scenario: the city's ordinary life, until SIGTERM. */
export async function startCity(httpPort: number, mqttPort: number, timeoutMs: number): Promise<City> {
  const script = fileURLToPath(new URL('../../simulators/simulate.js', import.meta.url));
  const proc = spawn(process.execPath, [script, '--api', `http://127.0.0.1:${httpPort}`, '--mqtt', `mqtt://127.0.0.1:${mqttPort}`, '--prefix', 'bench-city', ...DEMO_FLEET_ARGS], {
    env: { ...process.env, SUPERVISION_PASSWORD: 'bench-admin-pass' }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let errTail = '';
  proc.stdout!.on('data', (d: Buffer) => { out += d.toString(); });
  proc.stderr!.on('data', (d: Buffer) => { errTail = (errTail + d.toString()).slice(-2000); });
  const exited = new Promise<void>((r) => proc.once('exit', () => r()));
  const until = Date.now() + timeoutMs;
  while (!out.includes('running; Ctrl-C stops')) {
    if (proc.exitCode !== null) throw new Error(`the demo city exited with ${proc.exitCode}: ${out.slice(-500)} ${errTail.slice(-500)}`);
    if (Date.now() > until) { proc.kill('SIGKILL'); throw new Error(`the demo city did not start within ${timeoutMs / 1000} s: ${errTail.slice(-500)}`); }
    await sleep(200);
  }
  const fleetLine = /^fleet .*$/m.exec(out)?.[0] ?? 'fleet ?';
  return {
    proc, fleetLine,
    stop: async () => {
      if (proc.exitCode === null) {
        proc.kill('SIGTERM');
        const t = setTimeout(() => proc.kill('SIGKILL'), 15_000);
        await exited;
        clearTimeout(t);
      }
      return /^\{"summary".*$/m.exec(out)?.[0] ?? '';
    },
  };
}
