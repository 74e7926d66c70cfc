/**
 * The rules' worker thread (workerRules.ts starts it): the rule runner over the rules it is
 * given, fed committed readings as journal frames and the clock, connection and operator
 * inputs as messages; every input answered with its effects, in order (protocol.ts).
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { DeviceInfo, RuleReading } from '../../core/alerts/types.js';
import { RuleRunner, type RuleError } from '../../core/ruleRunner.js';
import { allRules } from '../../core/rules/index.js';
import { decodeFrames } from '../../store/journal/frame.js';
import { serializeError } from '../../store/worker/protocol.js';
import { alertClosedEffects, changedStates, groupAt, resumeRules, runReadings, scoresOf, type EffectGroup } from '../rulesCore.js';
import type { FromRules, RuleFailure, RulesWorkerData, ToRules } from './protocol.js';

const port = parentPort;
if (!port) throw new Error('alerts/ruleThread/rulesHost.ts runs as a worker thread (alerts/ruleThread/workerRules.ts starts it)');
const data = workerData as RulesWorkerData;

const byId = new Map(allRules.map((r) => [r.id, r]));
const devices = new Map<string, DeviceInfo>();
let errors: RuleFailure[] = [];
const runner = new RuleRunner(data.ruleIds.map((id) => byId.get(id)!), data.overrides, {
  device: (id) => devices.get(id),
  // cylinder rules stay in the main thread (workerRules.ts): nothing here asks the cylinder registry
  cylinder: () => undefined,
}, (e: RuleError) => errors.push({ rule: e.rule, error: serializeError(e.error) }));
const taken = new Map<string, unknown>();
let lastSeq = 0;

const send = (m: FromRules): void => port.postMessage(m);

function effects(groups: EffectGroup[]): void {
  send({ kind: 'effects', groups, errors });
  errors = [];
}

/** Readings newer than the last one seen (a replay may overlap what a frame brought). */
function readings(list: readonly RuleReading[], now: number | null): void {
  const groups: EffectGroup[] = [];
  const fresh = list.length && list[0]!.seq > lastSeq ? list : list.filter((r) => r.seq > lastSeq);
  runReadings(runner, fresh, now, (g) => groups.push(g));
  if (fresh.length) lastSeq = fresh[fresh.length - 1]!.seq;
  effects(groups);
}

port.on('message', (m: ToRules) => {
  switch (m.kind) {
    case 'start':
      runner.load(m.saved);
      lastSeq = m.lastSeq;
      for (const d of m.devices) devices.set(d.id, d);
      send({ kind: 'started' });
      return;
    case 'devices':
      for (const d of m.devices) devices.set(d.id, d);
      return;
    case 'frame':
      readings(decodeFrames(m.frame).batches.flatMap((b) => b.readings), m.now);
      return;
    case 'readings':
      readings(m.readings, m.now);
      return;
    case 'tick':
      effects(groupAt(m.now, runner.tick(m.now)));
      return;
    case 'connection':
      effects(groupAt(m.now, runner.connection({ deviceId: m.deviceId, connected: m.connected }, m.family, m.now)));
      return;
    case 'resume':
      resumeRules(runner, m.now);
      effects([]);
      return;
    case 'alertClosed':
      effects(groupAt(m.e.at, alertClosedEffects(runner, m.e)));
      return;
    case 'snapshot':
      send({ kind: 'snapshot', changed: changedStates(runner, taken), errors });
      errors = [];
      return;
    case 'storeScores':
      send({ kind: 'storeScores', value: scoresOf(runner, m.storeIds, m.now) });
      return;
    case 'barrier':
      effects([]);
      return;
    case 'stop':
      send({ kind: 'stopped' });
      port.close();
      return;
  }
});
