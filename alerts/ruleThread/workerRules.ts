/**
 * The rules in a worker thread of their own (rulesHost.ts), so that their ~3 µs a reading and
 * the garbage they make leave the event loop that acknowledges devices and answers scanners
 * (docs/architecture.md, Threads; docs/benchmarks.md measured what it frees).
 *
 * The cylinder family's rules stay here: the allow/refuse reply to a scan is due within 200 ms
 * (docs/protocol.md) and is decided by their `peek` before the scan is committed (from the
 * registry's record of the code, not from rule state), which must not wait on a round trip to
 * the worker behind other work. Their effects for committed readings wait for the
 * worker's answer to the same input and are merged with it by reading seq, so that every input's
 * effects reach the engine in one piece and in input order (alerts/rulesCore.ts).
 *
 * Each answered input has an entry in `waiting`, first in first out; the worker answers in
 * the order it was sent. A worker that stops fails every snapshot, score and settle waiting
 * and every later one: checkpoints then fail, and /healthz says so (alerts/checkpointer.ts).
 */
import type { Worker } from 'node:worker_threads';
import type { AlertClosed, DeviceInfo, Effect, RuleReading } from '../../core/alerts/types.js';
import { RuleRunner, type AnyRule } from '../../core/ruleRunner.js';
import { allRules } from '../../core/rules/index.js';
import { STORE_SCORE_RULE_ID } from '../../core/rules/kitchen/storeScore.js';
import type { Reading } from '../../store/types.js';
import { reviveError } from '../../store/worker/protocol.js';
import { startWorker } from '../../store/worker/startWorker.js';
import {
  alertClosedEffects, changedStates, groupAt, resumeRules, runReadings, scoresOf,
  type EffectGroup, type RulesCore, type RulesCoreDeps, type StoreScoreAnswer,
} from '../rulesCore.js';
import type { FromRules, RuleFailure, RulesWorkerData, ToRules } from './protocol.js';

type Waiting =
  | { kind: 'effects'; local: EffectGroup[] }
  /** `run` hands the states to the caller's take in the message's own turn (no other answer can come between) */
  | { kind: 'snapshot'; run: (remote: Record<string, string>) => void; reject: (e: Error) => void }
  | { kind: 'value'; resolve: (v: StoreScoreAnswer) => void; reject: (e: Error) => void }
  | { kind: 'settled'; resolve: () => void; reject: (e: Error) => void };

export interface WorkerRulesOptions {
  /** the worker stopped while the rules were running (not at stop): for the service's log */
  onStopped?: (err: Error) => void;
}

/** Rules that stay in this thread: the cylinder family's (the scan reply). */
export const staysInMainThread = (rule: AnyRule): boolean => rule.family === 'cylinder';

/** Devices per message of a large registry change (about 3 ms to clone). */
const DEVICE_SLICE = 1000;

export class WorkerRules implements RulesCore {
  private readonly local: RuleRunner;
  private readonly remoteIds: string[];
  private readonly taken = new Map<string, unknown>();
  private worker: Worker | null = null;
  private readonly waiting: Waiting[] = [];
  private stopped: Error | null = null;
  private stopping = false;
  /** inputs held, in order, while a large device change goes over in slices (devicesChanged) */
  private held: Array<{ m: ToRules; transfer: ArrayBuffer[] }> | null = null;

  constructor(rules: readonly AnyRule[], private readonly overrides: Record<string, Record<string, unknown>>, private readonly deps: RulesCoreDeps, private readonly opts: WorkerRulesOptions = {}) {
    const builtIn = new Map(allRules.map((r) => [r.id, r]));
    for (const r of rules) {
      if (!staysInMainThread(r) && builtIn.get(r.id) !== r) throw new Error(`rule ${r.id} is not one of core/rules' rules: a worker can only run those (run the rules in this thread)`);
    }
    this.local = new RuleRunner(rules.filter(staysInMainThread), overrides, { device: deps.device, cylinder: deps.cylinder }, deps.onRuleError);
    this.remoteIds = rules.filter((r) => !staysInMainThread(r)).map((r) => r.id);
  }

  async start(saved: Record<string, unknown>, lastSeq: number, devices: Iterable<DeviceInfo> = []): Promise<void> {
    this.local.load(saved);
    const data: RulesWorkerData = { ruleIds: this.remoteIds, overrides: this.overrides };
    const worker = this.worker = startWorker(import.meta.url, './rulesHost', data);
    await new Promise<void>((resolve, reject) => {
      worker.on('message', (m: FromRules) => (m.kind === 'started' ? resolve() : this.onMessage(m)));
      worker.once('error', (err) => { reject(err); this.fail(err); });
      worker.once('exit', (code) => {
        const err = new Error(this.stopping ? 'the rules are stopped' : `the rules' worker thread stopped (exit code ${code})`);
        reject(err);
        this.fail(err);
      });
      const own = new Set(this.remoteIds);
      this.post({ kind: 'start', saved: Object.fromEntries(Object.entries(saved).filter(([id]) => own.has(id))), lastSeq, devices: [...devices] });
    });
  }

  async stop(): Promise<void> {
    if (!this.worker || this.stopped) return;
    this.stopping = true;
    const exited = new Promise<void>((resolve) => this.worker!.once('exit', () => resolve()));
    this.post({ kind: 'stop' });
    await exited;
  }

  readings(readings: readonly Reading[], frame: Uint8Array | null, now: number | null): void {
    const local: EffectGroup[] = [];
    runReadings(this.local, readings, now, (g) => local.push(g));
    if (!frame) {
      // a replay's readings, read back from the store
      this.ask({ kind: 'effects', local }, { kind: 'readings', readings: [...readings], now });
      return;
    }
    // one copy of the commit's frame, moved (a Buffer may be a slice of Node's shared pool, which must not be)
    const copy = new Uint8Array(frame);
    this.ask({ kind: 'effects', local }, { kind: 'frame', frame: copy, now }, [copy.buffer]);
  }

  tick(now: number): void {
    this.ask({ kind: 'effects', local: groupAt(now, this.local.tick(now)) }, { kind: 'tick', now });
  }

  connection(deviceId: string, connected: boolean, family: string, now: number): void {
    this.ask({ kind: 'effects', local: groupAt(now, this.local.connection({ deviceId, connected }, family, now)) }, { kind: 'connection', deviceId, connected, family, now });
  }

  resume(now: number): void {
    resumeRules(this.local, now);
    this.ask({ kind: 'effects', local: [] }, { kind: 'resume', now });
  }

  alertClosed(e: AlertClosed): void {
    this.ask({ kind: 'effects', local: groupAt(e.at, alertClosedEffects(this.local, e)) }, { kind: 'alertClosed', e });
  }

  /**
   * A registry change goes to the worker before any later input. A large one (a 100,000-row
   * import: ~0.3 s to clone at once) goes in slices with the event loop free between them, and
   * the inputs that come meanwhile are held and sent after it, in their order.
   */
  devicesChanged(devices: readonly DeviceInfo[]): void {
    // before start there is nothing to tell: start() sends the whole registry
    if (!devices.length || this.stopped || !this.worker) return;
    if (devices.length <= DEVICE_SLICE && !this.held) {
      this.post({ kind: 'devices', devices: [...devices] });
      return;
    }
    const sending = this.held !== null;
    this.held ??= [];
    // behind whatever is held already (an earlier large change still going over)
    for (let at = 0; at < devices.length; at += DEVICE_SLICE) this.held.push({ m: { kind: 'devices', devices: devices.slice(at, at + DEVICE_SLICE) }, transfer: [] });
    if (!sending) void this.sendHeld();
  }

  private async sendHeld(): Promise<void> {
    while (this.held?.length) {
      const { m, transfer } = this.held.shift()!;
      if (!this.stopped) this.worker!.postMessage(m, transfer);
      if (m.kind === 'devices') await new Promise((resolve) => setImmediate(resolve));
    }
    this.held = null;
  }

  peek(r: RuleReading, now: number): Effect[] {
    return this.local.peek(r, now);
  }

  snapshot<T>(take: (changed: Record<string, string>) => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      // this thread's states as of this point of the input order, the worker's at its answer
      const local = changedStates(this.local, this.taken);
      const run = (remote: Record<string, string>): void => {
        try {
          resolve(take({ ...local, ...remote }));
        } catch (err) {
          reject(err as Error);
        }
      };
      this.ask({ kind: 'snapshot', run, reject }, { kind: 'snapshot' });
    });
  }

  storeScores(storeIds: readonly string[], now: number): Promise<StoreScoreAnswer> {
    if (!this.remoteIds.includes(STORE_SCORE_RULE_ID)) return Promise.resolve(scoresOf(this.local, storeIds, now));
    return new Promise((resolve, reject) => this.ask({ kind: 'value', resolve, reject }, { kind: 'storeScores', storeIds: [...storeIds], now }));
  }

  settled(): Promise<void> {
    return new Promise((resolve, reject) => this.ask({ kind: 'settled', resolve, reject }, { kind: 'barrier' }));
  }

  /** Tests only: the worker ends as one that failed would (an out-of-memory, a bug). */
  async terminateForTest(): Promise<void> {
    await this.worker?.terminate();
  }

  private ask(w: Waiting, m: ToRules, transfer: ArrayBuffer[] = []): void {
    if (this.stopped) {
      if (w.kind !== 'effects') w.reject(this.stopped);
      return;
    }
    this.waiting.push(w);
    this.post(m, transfer);
  }

  private post(m: ToRules, transfer: ArrayBuffer[] = []): void {
    if (!this.worker) throw new Error('the rules are not started');
    if (this.held) this.held.push({ m, transfer });
    else if (!this.stopped) this.worker.postMessage(m, transfer);
  }

  private onMessage(m: FromRules): void {
    if (m.kind === 'stopped' || m.kind === 'started') return;
    const w = this.waiting.shift();
    if (!w) return;
    if (m.kind !== 'storeScores') this.reportErrors(m.errors);
    if (m.kind === 'effects' && w.kind === 'effects') {
      const groups = merge(w.local, m.groups);
      if (groups.length) this.deps.onEffects(groups);
    } else if (m.kind === 'effects' && w.kind === 'settled') {
      w.resolve();
    } else if (m.kind === 'snapshot' && w.kind === 'snapshot') {
      // take runs now: after the effects of every input before the snapshot, before any after it
      w.run(m.changed);
    } else if (m.kind === 'storeScores' && w.kind === 'value') {
      w.resolve(m.value);
    } else {
      this.fail(new Error(`the rules' worker answered ${m.kind} where ${w.kind} was due`));
    }
  }

  private reportErrors(errors: readonly RuleFailure[]): void {
    for (const e of errors) this.deps.onRuleError({ rule: e.rule, error: reviveError(e.error) });
  }

  private fail(err: Error): void {
    if (!this.stopped && !this.stopping) this.opts.onStopped?.(err);
    this.stopped ??= err;
    for (const w of this.waiting.splice(0)) if (w.kind !== 'effects') w.reject(err);
    if (this.worker && !this.stopping) void this.worker.terminate();
  }
}

/** Both sides' groups of one input, by reading seq; at the same seq this thread's first (the cylinder rules come before the common ones in core/rules). */
function merge(local: readonly EffectGroup[], remote: readonly EffectGroup[]): EffectGroup[] {
  if (!local.length) return remote as EffectGroup[];
  if (!remote.length) return local as EffectGroup[];
  const out: EffectGroup[] = [];
  let i = 0;
  let j = 0;
  while (i < local.length || j < remote.length) {
    if (j >= remote.length || (i < local.length && local[i]!.seq <= remote[j]!.seq)) out.push(local[i++]!);
    else out.push(remote[j++]!);
  }
  return out;
}
