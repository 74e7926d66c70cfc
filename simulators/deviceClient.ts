/**
 * The minimal device client: what a newcomer runs to see data arrive, and what a device
 * maker reads to see the protocol done right. `npm run device -- --help`.
 *
 * Either registers one demo device per family through the API (rotating the secret of one
 * that exists, so a second run works too) or uses an existing device's credentials; then
 * runs each device's session and, when it can reach the API, checks that every acknowledged
 * message is stored.
 */
import { parseArgs } from 'node:util';
import { deviceIdPattern, families, isFamily, type Family } from '../core/schemas/index.js';
import { examplePayload } from '../core/schemas/examples.js';
import { ApiError, type ApiClient } from './apiClient.js';
import {
  apiAccess, apiArgOptions, apiArgsHelp, describeError, exitCodes, login, runIfMain, UsageError, type CliIo,
} from './cli.js';
import { runDeviceSession, type DeviceIdentity, type SessionResult } from './deviceSession.js';

const help = `Minimal device client: publish one valid message on every channel of a device's family
with QoS 1, print each PUBACK's latency and any error reply, then check the readings are stored.

Usage:
  npm run device -- --register [--prefix demo] [--family F] [API access] [options]
      register one device per family (ids {prefix}-{family}-1, e.g. demo-kitchen-1) and run
      each; a device that already exists gets a new secret, so the run can be repeated
  npm run device -- --id ID --secret SECRET --family F [API access] [options]
      run an existing device; with API access the stored readings are checked too

Options:
  --mqtt URL        broker (SUPERVISION_MQTT), default mqtt://localhost:1883;
                    mqtts://host:8883 for TLS, ws://host:3000/mqtt for WebSocket
  --bad             also send one invalid message per device and show the error reply
  --timeout MS      longest wait for CONNACK, each PUBACK and the error reply (default 5000)
  -h, --help        this text

${apiArgsHelp}

Exit code: 0 when every message was acknowledged and stored, 1 when anything failed
(connection refused, a missing PUBACK, a reading not stored), 2 for a usage error.

Example, on a fresh checkout with the service running (npm start):
  npm run device -- --register --password-file data/admin-password.txt --bad`;

const argOptions = {
  ...apiArgOptions,
  help: { type: 'boolean', short: 'h' },
  register: { type: 'boolean' },
  prefix: { type: 'string' },
  id: { type: 'string' },
  secret: { type: 'string' },
  family: { type: 'string' },
  mqtt: { type: 'string' },
  bad: { type: 'boolean' },
  timeout: { type: 'string' },
} as const;

export async function main(argv: string[], io: CliIo): Promise<number> {
  let plan: Plan;
  try {
    const parsed = parseArgs({ args: argv, options: argOptions, strict: true, allowPositionals: false });
    if (parsed.values.help) { io.out(help); return exitCodes.ok; }
    plan = makePlan(parsed.values, io.env);
  } catch (e) {
    io.err(`${(e as Error).message}\n(npm run device -- --help)`);
    return exitCodes.usage;
  }

  let api: ApiClient | null = null;
  let devices: DeviceIdentity[];
  try {
    if (plan.access) api = await login(plan.access);
    devices = plan.kind === 'register' ? await registerDemoDevices(api!, plan.prefix, plan.families, io) : [plan.device];
  } catch (e) {
    for (const line of describeError(e)) io.err(line);
    return exitCodes.failed;
  }

  const problems: string[] = [];
  let stored = 0;
  for (const device of devices) {
    const since = Date.now();
    const session = await runDeviceSession(device, { mqttUrl: plan.mqttUrl, timeoutMs: plan.timeoutMs, bad: plan.bad, log: io.out });
    problems.push(...session.problems);
    if (api && session.acknowledged.length) {
      const check = await checkStored(api, device.id, session, since, io.out);
      problems.push(...check.problems);
      stored += check.stored;
    }
  }

  if (!api) io.out('(no API access given: stored readings not checked; see --help)');
  if (problems.length) {
    io.err(`FAILED: ${problems.length} problem(s)`);
    for (const p of problems) io.err(`  ${p}`);
    return exitCodes.failed;
  }
  io.out(api ? `OK: ${devices.length} device(s), ${stored} message(s) acknowledged and stored` : `OK: ${devices.length} device(s), every message acknowledged`);
  return exitCodes.ok;
}

type Plan = { mqttUrl: string; timeoutMs: number; bad: boolean; access: ReturnType<typeof apiAccess> } & (
  | { kind: 'register'; prefix: string; families: Family[] }
  | { kind: 'existing'; device: DeviceIdentity }
);

type Values = { [K in keyof typeof argOptions]?: (typeof argOptions)[K]['type'] extends 'boolean' ? boolean : string };

function makePlan(v: Values, env: CliIo['env']): Plan {
  const mqttUrl = v.mqtt ?? env.SUPERVISION_MQTT ?? 'mqtt://localhost:1883';
  if (!/^(mqtts?|wss?):\/\/./.test(mqttUrl)) throw new UsageError(`--mqtt ${mqttUrl}: expected mqtt://, mqtts://, ws:// or wss://`);
  const timeoutMs = v.timeout === undefined ? 5000 : Number(v.timeout);
  if (!Number.isInteger(timeoutMs) || timeoutMs <= 0) throw new UsageError(`--timeout ${v.timeout}: expected milliseconds, e.g. 5000`);
  const family = v.family === undefined ? undefined : parseFamily(v.family);
  const access = apiAccess(v, env);
  const common = { mqttUrl, timeoutMs, bad: v.bad ?? false, access };

  if (v.register) {
    if (v.id !== undefined || v.secret !== undefined) throw new UsageError('--register makes its own devices: leave out --id and --secret');
    if (!access) throw new UsageError('--register needs API access: --password, --password-file or SUPERVISION_PASSWORD');
    const prefix = v.prefix ?? 'demo';
    // the longest id is {prefix}-dispenser-1; it must still be a valid device id
    if (!deviceIdPattern.test(`${prefix}-dispenser-1`)) throw new UsageError(`--prefix ${prefix}: letters, digits, _ and - only, at most 52 characters`);
    return { ...common, kind: 'register', prefix, families: family ? [family] : [...families] };
  }
  if (v.id === undefined || v.secret === undefined || family === undefined) {
    throw new UsageError('give either --register, or --id, --secret and --family of an existing device');
  }
  if (!deviceIdPattern.test(v.id)) throw new UsageError(`--id ${v.id}: a device id matches [A-Za-z0-9_-]{1,64}`);
  return { ...common, kind: 'existing', device: { id: v.id, secret: v.secret, family } };
}

function parseFamily(s: string): Family {
  if (!isFamily(s)) throw new UsageError(`--family ${s}: one of ${families.join(', ')}`);
  return s;
}

/** Register {prefix}-{family}-1 for each family, or issue a new secret when it exists. */
async function registerDemoDevices(api: ApiClient, prefix: string, which: Family[], io: CliIo): Promise<DeviceIdentity[]> {
  const out: DeviceIdentity[] = [];
  for (const family of which) {
    const id = `${prefix}-${family}-1`;
    try {
      out.push(await api.createDevice({ id, family, name: `Demo ${family} device`, meta: demoMeta(family) }));
      io.out(`registered ${family} device ${id}`);
    } catch (e) {
      if (!(e instanceof ApiError && e.code === 'device_exists')) throw e;
      const rotated = await api.rotateSecret(id);
      if (rotated.family !== family) throw new Error(`${id} exists as a ${rotated.family} device; choose another --prefix`);
      out.push(rotated);
      io.out(`${id} exists: issued it a new secret`);
    }
  }
  return out;
}

/** Metadata that agrees with the example payloads, so rules that join the two see a match. */
function demoMeta(family: Family): Record<string, string> {
  switch (family) {
    case 'kitchen': return { storeId: String(examplePayload('kitchen', 'violation', 'm', 0).storeId) };
    case 'elevator': return {};
    case 'cylinder': return { stationId: String(examplePayload('cylinder', 'scan', 'm', 0).stationId) };
    case 'dispenser': return { stationId: String(examplePayload('dispenser', 'txn', 'm', 0).stationId) };
  }
}

/**
 * Every acknowledged message must be a reading now (no waiting: the PUBACK is the promise),
 * and the invalid one a dead letter, never a reading.
 */
async function checkStored(api: ApiClient, id: string, session: SessionResult, since: number, log: (line: string) => void): Promise<{ stored: number; problems: string[] }> {
  const problems: string[] = [];
  let readings;
  try {
    // ts of our messages is "now" on this machine, so a window from the session start holds them
    readings = await api.readings(id, { from: since, limit: 10_000 });
  } catch (e) {
    return { stored: 0, problems: [`${id}: readings could not be fetched: ${describeError(e).join(' ')}`] };
  }
  const have = new Set(readings.map((r) => r.msgId));
  const missing = session.acknowledged.filter((m) => !have.has(m));
  const stored = session.acknowledged.length - missing.length;
  log(`  readings     ${stored} of ${session.acknowledged.length} acknowledged messages stored (GET /api/devices/${id}/readings)`);
  if (missing.length) problems.push(`${id}: acknowledged but not stored: ${missing.join(', ')}`);

  if (session.badMsgId) {
    if (have.has(session.badMsgId)) problems.push(`${id}: the invalid message ${session.badMsgId} was stored as a reading`);
    try {
      const letters = await api.deadLetters({ deviceId: id, limit: 100 });
      const letter = letters.find((d) => d.msgId === session.badMsgId);
      if (letter) log(`  dead letter  #${letter.id} ${letter.reason} (GET /api/dead-letters?deviceId=${id})`);
      else problems.push(`${id}: the invalid message ${session.badMsgId} is not among the dead letters`);
    } catch (e) {
      if (!(e instanceof ApiError && e.code === 'forbidden')) problems.push(`${id}: dead letters could not be fetched: ${(e as Error).message}`);
      else log('  dead letters not checked: this user\'s role may not read them');
    }
  }
  return { stored, problems };
}

runIfMain(import.meta.url, main);
