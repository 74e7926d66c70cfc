/**
 * The rules of a cluster node (docs/cluster.md, Rules with one owner per key): an engine per
 * slot of rule keys this node owns (cluster/slotEngine.ts), slots held by PostgreSQL advisory
 * locks (cluster/slotOwnership.ts), each fed its readings from the slot's stream of the
 * reading feed (cluster/readingFeedConsumer.ts), ticked here and checkpointed with its feed
 * position, fenced by its epoch (store/postgres/slotCheckpoints.ts).
 *
 * A slot's life on this node:
 * - taken (onAcquire): its checkpoint is loaded (rule states, active alerts and cases, black-list
 *   entries, feed position), silence clocks restart (Rule.onResume), and the feed delivers the
 *   entries after that position, the last owner's unsaved ones included: they are evaluated
 *   again, at their receive times, and open what they opened before under the same ids;
 * - given up to another node (onRelease): the feed stops delivering it, its engine checkpoints,
 *   and only then is the lock released (a failed checkpoint keeps the slot, and its feed);
 * - lost with the connection (onLost, as after a network split): dropped at once without a
 *   checkpoint; anything it would write is fenced by the successor's epoch anyway.
 * Ticks reach the slots held now, so each deadline and timer fires on one node.
 */
import type { Logger } from 'pino';
import type { Alert } from '../core/alerts/alert.js';
import { CodedError } from '../core/codes.js';
import type { RescueCase } from '../core/alerts/rescueCase.js';
import type { CylinderRecord } from '../core/alerts/types.js';
import { slotsOfConnection } from '../core/cluster/slotRules.js';
import { slotOf } from '../core/cluster/slots.js';
import type { Emitter } from '../core/eventBus.js';
import type { EngineEvent, EngineEvents, EnginePersistStatus } from '../alerts/engineTypes.js';
import { scoresOf, type StoreScoreAnswer } from '../alerts/rulesCore.js';
import { RuleRunner } from '../core/ruleRunner.js';
import { STORE_SCORE_RULE_ID } from '../core/rules/kitchen/storeScore.js';
import { deviceInfo } from '../alerts/engine.js';
import type { AlertReadRepository } from '../alerts/alertReads.js';
import type { PostgresDatabase } from '../store/postgres/database.js';
import { PgSlotCheckpoints } from '../store/postgres/slotCheckpoints.js';
import type { DeviceRecord } from '../store/types.js';
import { START } from './readingFeed.js';
import { ReadingFeedConsumer } from './readingFeedConsumer.js';
import { SlotEngine, type SlotEngineOptions } from './slotEngine.js';
import { SlotOwnership, type SlotOwnershipStatus } from './slotOwnership.js';

export interface SlotEnginesOptions extends SlotEngineOptions {
  nodeId: string;
  redisUrl: string;
  /** the feed's key prefix (cluster/readingFeed.ts DEFAULT_PREFIX) */
  feedPrefix?: string;
  tickMs: number;
  checkpointMs: number;
  /** how often ownership rounds run, and how long a free slot waits for its placed owner (slotOwnership.ts) */
  ownershipIntervalMs?: number;
  orphanGraceMs?: number;
}

export interface SlotEnginesDeps {
  db: PostgresDatabase;
  device(id: string): DeviceRecord | undefined;
  cylinder(code: string): CylinderRecord | undefined;
  /** the shared store's alerts: actions read records a slot's book does not hold (closed ones) */
  alerts: AlertReadRepository;
  /** alert, rescue-case and store-flag changes of this node's slots */
  events: Emitter<EngineEvents>;
  log: Logger;
  now?: () => number;
}

export interface SlotEnginesStatus extends SlotOwnershipStatus {
  /** slots whose last checkpoint failed */
  failingCheckpoints: number;
  ruleErrors: number;
}

export class SlotEngines {
  private readonly engines = new Map<number, SlotEngine>();
  private readonly checkpoints: PgSlotCheckpoints;
  private readonly now: () => number;
  private ownership: SlotOwnership | null = null;
  private consumer: ReadingFeedConsumer | null = null;
  private tickTimer: NodeJS.Timeout | null = null;
  private checkpointTimer: NodeJS.Timeout | null = null;

  /** the registry as routing sees it */
  private readonly lookup = { device: (id: string) => { const r = this.deps.device(id); return r ? deviceInfo(r) : undefined; } };

  /** scores of stores no slot here keeps state for: the period's, every store at the top */
  private readonly scoresOnly: { storeScores(ids: readonly string[]): Promise<StoreScoreAnswer> };

  constructor(private readonly opts: SlotEnginesOptions, private readonly deps: SlotEnginesDeps) {
    this.checkpoints = new PgSlotCheckpoints(deps.db);
    this.now = deps.now ?? Date.now;
    const runner = new RuleRunner(opts.rules.filter((r) => r.id === STORE_SCORE_RULE_ID), opts.ruleOverrides, { device: this.lookup.device, cylinder: deps.cylinder }, () => undefined);
    runner.load({});
    this.scoresOnly = { storeScores: (ids) => Promise.resolve(scoresOf(runner, ids, this.now())) };
  }

  async start(): Promise<void> {
    const { log } = this.deps;
    this.consumer = new ReadingFeedConsumer({
      redisUrl: this.opts.redisUrl, prefix: this.opts.feedPrefix, name: this.opts.nodeId,
      onDelivery: (d) => this.engines.get(d.slot)?.readings(d),
      onGap: (gap) => log.error({ slot: gap.slot, lost: gap.lost, err: gap }, 'reading feed entries lost before this node read them: their readings are stored, but rules did not see them'),
      onError: (err, slot) => log.warn({ err, slot }, 'reading feed delivery failed; retrying'),
      log: { down: (role, err) => log.error({ err, role }, 'Redis unreachable; retrying'), up: (role) => log.info({ role }, 'Redis reachable again') },
    });
    this.consumer.start();
    this.ownership = new SlotOwnership(this.deps.db, {
      nodeId: this.opts.nodeId, intervalMs: this.opts.ownershipIntervalMs, orphanGraceMs: this.opts.orphanGraceMs,
      onAcquire: (slot, epoch) => this.take(slot, epoch),
      onRelease: (slot) => this.giveUp(slot),
      onLost: (slots) => this.lose(slots),
      onError: (err) => log.error({ err }, 'slot ownership round failed; retrying'),
      now: this.now,
    });
    await this.ownership.start();
    this.tickTimer = setInterval(() => this.tick(), this.opts.tickMs);
    this.tickTimer.unref();
    this.checkpointTimer = setInterval(() => void this.checkpoint(), this.opts.checkpointMs);
    this.checkpointTimer.unref();
  }

  /** Hands every slot over, each checkpointed first (as a clean stop must), then closes the feed. */
  async stop(): Promise<void> {
    this.clearTimers();
    try {
      await this.ownership?.stop();
    } finally {
      await this.consumer?.stop();
      this.engines.clear();
    }
  }

  /**
   * Tests only: the node stops as a killed one would, as far as this process can tell it: no
   * checkpoint, no hand-over, no more feed; the test kills its database connection itself.
   */
  async haltForTest(): Promise<void> {
    this.clearTimers();
    await this.consumer?.stop();
    this.engines.clear();
  }

  get nodeId(): string {
    return this.opts.nodeId;
  }

  /** The engine of a slot held here, or null. */
  engineOf(slot: number): SlotEngine | null {
    return this.engines.get(slot) ?? null;
  }

  /** The engine of the slot of a rule key (an elevator, a store), when held here. */
  engineOfKey(key: string): SlotEngine | null {
    return this.engineOf(slotOf(key));
  }

  /** The first engine held here that answers yes. */
  find(test: (engine: SlotEngine) => boolean): SlotEngine | null {
    for (const engine of this.engines.values()) if (test(engine)) return engine;
    return null;
  }

  /** The node holding a slot as last seen (null while free). */
  holderOf(slot: number): string | null {
    return this.engines.has(slot) ? this.opts.nodeId : this.ownership?.holderOf(slot) ?? null;
  }

  /** The node holding a slot now: the last look's, else the server's answer (a slot handed over since). */
  async holderNow(slot: number): Promise<string | null> {
    if (this.engines.has(slot)) return this.opts.nodeId;
    return this.ownership ? this.ownership.holderNow(slot) : null;
  }

  /** The live nodes as last seen, this one first. */
  peers(): string[] {
    const others = (this.ownership?.status().peers ?? []).filter((p) => p !== this.opts.nodeId);
    return [this.opts.nodeId, ...others];
  }

  /** The nodes holding the keys a device's connection event concerns (its offline rules' keys). */
  ownersOfConnection(deviceId: string): string[] {
    const d = this.deps.device(deviceId);
    if (!d) return [];
    const nodes = slotsOfConnection(this.opts.rules, deviceId, d.family, this.lookup).map((slot) => this.holderOf(slot) ?? this.opts.nodeId);
    return [...new Set(nodes)];
  }

  /** The scores of stores whose slots are held here (kitchen.store_score), each from its slot's state. */
  async storeScores(storeIds: readonly string[]): Promise<StoreScoreAnswer> {
    const bySlot = new Map<number, string[]>();
    for (const id of storeIds) bySlot.set(slotOf(id), [...(bySlot.get(slotOf(id)) ?? []), id]);
    const answers = await Promise.all([...bySlot].map(([slot, ids]) => (this.engines.get(slot) ?? this.scoresOnly).storeScores(ids)));
    const period = answers[0] ?? await this.scoresOnly.storeScores([]);
    return { from: period.from, to: period.to, items: answers.flatMap((a) => a.items) };
  }

  /** Whether the slots' last checkpoints could be written: the worst of them (/healthz, /metrics). */
  persistStatus(): EnginePersistStatus {
    const all = [...this.engines.values()].map((e) => e.persistStatus());
    const failing = all.filter((s) => !s.ok);
    const worst = failing.sort((a, b) => b.consecutiveFailures - a.consecutiveFailures)[0];
    const lastSavedAt = all.reduce<number | null>((m, s) => (s.lastSavedAt !== null && (m === null || s.lastSavedAt > m) ? s.lastSavedAt : m), null);
    return worst
      ? { ...worst, failures: all.reduce((n, s) => n + s.failures, 0) }
      : { ok: true, consecutiveFailures: 0, failures: all.reduce((n, s) => n + s.failures, 0), lastError: null, failingSince: null, lastSavedAt };
  }

  /** The slots held now. */
  held(): number[] {
    return [...this.engines.keys()].sort((a, b) => a - b);
  }

  /** A device connected or left this node: the slots of its rules' keys held here hear of it. */
  connection(deviceId: string, connected: boolean): void {
    const d = this.deps.device(deviceId);
    if (!d) return;
    const now = this.now();
    for (const slot of slotsOfConnection(this.opts.rules, deviceId, d.family, this.lookup)) this.engines.get(slot)?.connection(deviceId, connected, d.family, now);
  }

  tick(now: number = this.now()): void {
    for (const engine of this.engines.values()) engine.tick(now);
  }

  /** Every held slot's checkpoint; a slot found fenced (taken by another node) is dropped. */
  async checkpoint(): Promise<void> {
    await Promise.all([...this.engines.values()].map(async (engine) => {
      try {
        await engine.checkpoint();
      } catch (err) {
        if (err instanceof CodedError && err.code === 'slot_fenced') {
          this.deps.log.warn({ err, slot: engine.slot }, 'slot taken by another node: dropped here');
          if (this.engines.get(engine.slot) === engine) this.lose([engine.slot]);
        } else {
          this.deps.log.error({ err, slot: engine.slot }, 'slot checkpoint failed; retrying at the next');
        }
      }
    }));
  }

  activeAlerts(): Alert[] {
    return [...this.engines.values()].flatMap((e) => e.activeAlerts());
  }

  activeCases(): RescueCase[] {
    return [...this.engines.values()].flatMap((e) => e.activeCases());
  }

  status(): SlotEnginesStatus {
    const engines = [...this.engines.values()];
    return {
      ...(this.ownership?.status() ?? { nodeId: this.opts.nodeId, held: 0, peers: [], holders: {}, connected: false, lastError: null }),
      failingCheckpoints: engines.filter((e) => !e.persistStatus().ok).length,
      ruleErrors: engines.reduce((n, e) => n + e.ruleErrors, 0),
    };
  }

  /** One ownership round now (tests; a timer runs them otherwise). */
  async round(): Promise<void> {
    await this.ownership?.tick();
  }

  private async take(slot: number, epoch: number): Promise<void> {
    const saved = await this.checkpoints.load(slot);
    const engine = new SlotEngine(slot, epoch, this.opts, {
      nodeId: this.opts.nodeId, device: this.deps.device, cylinder: this.deps.cylinder, alerts: this.deps.alerts,
      save: (cp) => this.checkpoints.save(cp, this.now()),
      emit: (e) => this.emit(e), log: this.deps.log, now: this.now,
    });
    await engine.load(saved);
    this.engines.set(slot, engine);
    this.consumer!.own(slot, saved.position ?? START);
  }

  private async giveUp(slot: number): Promise<void> {
    const engine = this.engines.get(slot);
    await this.consumer!.disown(slot);
    if (!engine) return;
    try {
      await engine.checkpoint();
    } catch (err) {
      // kept: go on evaluating it from where it stands; the next round tries again
      this.consumer!.own(slot, engine.feedPosition ?? START);
      throw err;
    }
    this.engines.delete(slot);
  }

  private lose(slots: number[]): void {
    for (const slot of slots) {
      this.engines.delete(slot);
      void this.consumer?.disown(slot);
    }
    if (slots.length) this.deps.log.warn({ slots: slots.length }, 'slots lost without a hand-over (the database connection failed): another node resumes them from their checkpoints');
  }

  private emit(e: EngineEvent): void {
    switch (e.type) {
      case 'alert': this.deps.events.emit('alert', e); break;
      case 'rescueCase': this.deps.events.emit('rescueCase', e); break;
      case 'storeFlag': this.deps.events.emit('storeFlag', e); break;
    }
  }

  private clearTimers(): void {
    if (this.tickTimer) clearInterval(this.tickTimer);
    if (this.checkpointTimer) clearInterval(this.checkpointTimer);
    this.tickTimer = this.checkpointTimer = null;
  }
}
