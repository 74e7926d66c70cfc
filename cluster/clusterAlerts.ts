/**
 * The alerts of a cluster node behind the face the API and the wall use (alerts/alertService.ts),
 * so routes and hub are the same in both deployments (docs/cluster.md):
 * - readings: the node that stored a batch appends it to the reading feed by the slots of its
 *   rules' keys (cluster/readingFeed.ts); the slots' owners evaluate them (cluster/slotEngines.ts).
 *   The cylinder allow/refuse reply leaves from this node at once, decided from the registry
 *   (cylinder.scan_check keeps no state), as on a single node;
 * - what the wall shows: every node's alert and case changes, through the replica
 *   (cluster/alertReplica.ts), loaded from the shared store at start;
 * - operators' actions go to the node whose slot engine holds the alert or case (nodeCalls.ts):
 *   it is asked of every live node, and the one holding it answers (actions are rare; a node
 *   learns nothing of slots from an alert id). One held by none, in the moment of a hand-over,
 *   is refused with node_unreachable (503: try again); a closed or unknown one answers as on a
 *   single node (alert_conflict, alert_not_found) from the store;
 * - a phone trapping goes to the owner of the elevator's slot, a store's black-list step to the
 *   owner of the store's, scores to the owners of the stores asked for;
 * - reads of history come from the shared store (what an owner has not checkpointed yet, at
 *   most ALERT_CHECKPOINT_MS old, shows once it has).
 */
import type { Logger } from 'pino';
import { CodedError } from '../core/codes.js';
import type { Alert } from '../core/alerts/alert.js';
import type { RescueCase } from '../core/alerts/rescueCase.js';
import type { CylinderRecord } from '../core/alerts/types.js';
import { slotsOfReading } from '../core/cluster/slotRules.js';
import { SLOTS, slotOf } from '../core/cluster/slots.js';
import { EventBus, type Emitter, type Subscriber } from '../core/eventBus.js';
import { RuleRunner } from '../core/ruleRunner.js';
import type { BlackListEntry } from '../core/stores/storeList.js';
import { AlertReads } from '../alerts/alertReads.js';
import { deviceInfo } from '../alerts/engine.js';
import type { AlertService } from '../alerts/alertService.js';
import type { EngineEvents, EnginePersistStatus, StoreFlag } from '../alerts/engineTypes.js';
import { flagOf, FLAGS_KEY, StoreFlags } from '../alerts/storeFlags.js';
import type { StoreScoreAnswer } from '../alerts/rulesCore.js';
import type { PostgresStore } from '../store/postgresStore.js';
import type { DeviceRecord, Reading, Store } from '../store/types.js';
import { scanReplyTopic } from '../core/topic.js';
import { AlertReplica } from './alertReplica.js';
import { NodeCalls } from './nodeCalls.js';
import { ReadingFeed } from './readingFeed.js';
import { SlotEngines, type SlotEnginesOptions } from './slotEngines.js';
import { nodeHandlers, type NodeMethod, type NotHere } from './clusterCalls.js';
import { slotOfRecord, slotStatesOf } from '../store/postgres/slotCheckpoints.js';

export interface ClusterAlertsDeps {
  shared: PostgresStore;
  /** the store the API reads (the shared one, behind the journal when on) */
  store: Store;
  device(id: string): DeviceRecord | undefined;
  cylinder(code: string): CylinderRecord | undefined;
  publish(topic: string, payload: string, qos: 0 | 1): void;
  /** this node's bus: its engines' events go out on it, other nodes' come in on it */
  events: Emitter<EngineEvents> & Subscriber<EngineEvents>;
  log: Logger;
  now?: () => number;
}

/** What /healthz and /metrics say of this node in its cluster. */
export interface ClusterStatus {
  nodeId: string;
  /** slots of rule keys this node holds, of `slots` */
  held: number;
  slots: number;
  /** the live nodes as last seen (this one among them while connected to PostgreSQL) */
  peers: string[];
  /** this node's ownership connection to PostgreSQL holds its locks */
  connected: boolean;
  /** Redis as the reading feed last found it, and since when it is unreachable */
  redis: { ok: boolean; lastError: string | null; since: number | null };
}

/** Readings read back from the store per step when republishing after a restart. */
const REPUBLISH_CHUNK = 5000;

/** How often the black list is read again from the shared store (it changes over days). */
const FLAGS_REFRESH_MS = 5000;

export class ClusterAlerts implements AlertService {
  /**
   * What the /ws hub hears: this node's engine events and, from the replica, every other
   * node's. Only the hub: MQTT alerts/# and webhooks stay with the node that raised a change
   * (they listen on the service bus), so each goes out once.
   */
  readonly wall: EventBus<EngineEvents>;
  readonly engines: SlotEngines;
  private readonly feed: ReadingFeed;
  private readonly calls: NodeCalls;
  private readonly replica: AlertReplica;
  private readonly reads: AlertReads;
  private readonly scanReplies: RuleRunner;
  private readonly now: () => number;
  private flags: BlackListEntry[] = [];
  private flagsTimer: NodeJS.Timeout | null = null;
  private offs: Array<() => void> = [];
  private redis: ClusterStatus['redis'] = { ok: true, lastError: null, since: null };
  private lostConnectionEvents = 0;
  private lostToldAt = -Infinity;

  constructor(private readonly opts: SlotEnginesOptions, private readonly deps: ClusterAlertsDeps) {
    this.now = deps.now ?? Date.now;
    const log = deps.log;
    this.wall = new EventBus<EngineEvents>((type, err) => log.error({ err, event: type }, 'a wall listener failed'));
    this.engines = new SlotEngines(opts, { db: deps.shared.db, device: deps.device, cylinder: deps.cylinder, events: deps.events, alerts: deps.shared.alerts, log, now: this.now });
    this.feed = new ReadingFeed({
      redisUrl: opts.redisUrl, nodeId: opts.nodeId, prefix: opts.feedPrefix,
      log: {
        down: (role, err) => {
          this.redis = { ok: false, lastError: err.message, since: this.redis.since ?? this.now() };
          log.error({ err, role }, 'Redis unreachable; retrying');
        },
        up: (role) => {
          this.redis = { ok: true, lastError: null, since: null };
          log.info({ role }, 'Redis reachable again');
        },
      },
      onError: (err) => log.warn({ err }, 'readings not yet in the feed; sending again'),
    });
    this.calls = new NodeCalls({ redisUrl: opts.redisUrl, nodeId: opts.nodeId, log, handlers: nodeHandlers(this.engines) });
    this.replica = new AlertReplica({
      redisUrl: opts.redisUrl, nodeId: opts.nodeId, log, local: deps.events, out: this.wall,
      load: async () => ({ alerts: await deps.shared.alerts.loadActive(), cases: await deps.shared.alerts.loadActiveCases() }),
    });
    // the active records as every node has them (the replica), newer than the store's; the rest from the store
    const byId = <T extends { id: string }>(xs: T[]): Map<string, T> => new Map(xs.map((x) => [x.id, x]));
    this.reads = new AlertReads({
      activeAlerts: () => this.replica.activeAlerts(),
      activeCases: () => this.replica.activeRescueCases(),
      unsavedAlert: (id) => this.replica.activeAlerts().find((a) => a.id === id),
      unsavedAlerts: () => byId(this.replica.activeAlerts()),
      unsavedCase: (id) => this.replica.activeRescueCases().find((c) => c.id === id),
      unsavedCases: () => byId(this.replica.activeRescueCases()),
      // timeline entries come from the store, once the owner's checkpoint has written them
      unsavedEntries: () => [],
    }, deps.store);
    const scanCheck = opts.rules.filter((r) => r.id === 'cylinder.scan_check');
    this.scanReplies = new RuleRunner(scanCheck, opts.ruleOverrides, {
      device: (id) => { const d = deps.device(id); return d ? deviceInfo(d) : undefined; }, cylinder: deps.cylinder,
    }, ({ rule, error }) => log.error({ rule, err: error }, 'the scan reply could not be decided'));
    this.scanReplies.load({});
  }

  async start(): Promise<void> {
    this.offs = (['alert', 'rescueCase', 'storeFlag'] as const).map((type) => this.deps.events.on(type, (e) => this.wall.emit(type, e as never)));
    await this.calls.start();
    await this.replica.start();
    await this.republishTail();
    await this.engines.start();
    await this.refreshFlags();
    this.flagsTimer = setInterval(() => void this.refreshFlags().catch((err: Error) => this.deps.log.warn({ err }, 'could not read the black list')), FLAGS_REFRESH_MS);
    this.flagsTimer.unref();
  }

  async stop(): Promise<void> {
    if (this.flagsTimer) clearInterval(this.flagsTimer);
    this.flagsTimer = null;
    try {
      await this.engines.stop();
    } finally {
      await this.feed.stop();
      await this.replica.stop();
      await this.calls.stop();
      for (const off of this.offs) off();
      this.offs = [];
    }
  }

  checkpoint(): Promise<void> {
    return this.engines.checkpoint();
  }

  persistStatus(): EnginePersistStatus {
    return this.engines.persistStatus();
  }

  status(): ClusterStatus {
    const own = this.engines.status();
    return { nodeId: own.nodeId, held: own.held, slots: SLOTS, peers: own.peers, connected: own.connected, redis: { ...this.redis } };
  }

  // ---- inputs

  /** The scanner's reply within its 200 ms, from the registry, before the commit (docs/protocol.md). */
  handleAccepted(r: Reading): void {
    if (r.family !== 'cylinder' || r.channel !== 'scan') return;
    for (const e of this.scanReplies.peek(r, this.now())) {
      if (e.type !== 'scanReply') continue;
      this.deps.publish(scanReplyTopic(e.deviceId), JSON.stringify({
        msgId: e.msgId, cylinderCode: e.cylinderCode, decision: e.decision, reasons: e.reasons, ts: new Date(e.at).toISOString(),
      }), 1);
    }
  }

  /** A committed batch to the owners of its readings' rule keys. */
  handleReadings(readings: readonly Reading[], frame: Uint8Array | null = null): void {
    this.feed.publish({ readings, frame }, this.slotsOf())
      .catch((err: Error) => this.deps.log.error({ err, readings: readings.length }, 'readings stored but not given to the rules: the feed stopped'));
  }

  devicesChanged(): void {
    // the slot engines look devices up in the registry at each input
  }

  /** A device's connection to this node, to the owners of its rules' keys. */
  handleConnection(deviceId: string, connected: boolean): void {
    for (const node of this.engines.ownersOfConnection(deviceId)) {
      this.calls.call(node, 'device.connection', { deviceId, connected }).catch((err: Error) => this.connectionLost(err, node));
    }
  }

  /**
   * Told once per 10 s with how many: a reconnect storm after a node's loss can outrun the
   * calls' bound, and the rules' silence timers make up for a lost event anyway.
   */
  private connectionLost(err: Error, node: string): void {
    this.lostConnectionEvents++;
    const now = this.now();
    if (now - this.lostToldAt < 10_000) return;
    this.deps.log.warn({ err, node, lost: this.lostConnectionEvents }, 'connection events did not reach the owners of their keys (their silence timers stand in)');
    this.lostToldAt = now;
    this.lostConnectionEvents = 0;
  }

  // ---- what the wall shows

  activeAlerts(): Alert[] {
    return this.replica.activeAlerts();
  }

  activeRescueCases(): RescueCase[] {
    return this.replica.activeRescueCases();
  }

  storeFlags(): StoreFlag[] {
    return this.flags.map(flagOf);
  }

  blackList(): BlackListEntry[] {
    return this.flags;
  }

  async storeScores(storeIds: Iterable<string>): Promise<StoreScoreAnswer> {
    const ids = [...storeIds];
    const byNode = new Map<string, string[]>();
    for (const id of ids) {
      const node = (await this.engines.holderNow(slotOf(id))) ?? this.engines.nodeId;
      byNode.set(node, [...(byNode.get(node) ?? []), id]);
    }
    const answers = await Promise.all([...byNode].map(([node, some]) => this.calls.call<StoreScoreAnswer>(node, 'store.scores', { storeIds: some })));
    const first = answers[0] ?? await this.engines.storeScores([]);
    return { from: first.from, to: first.to, items: answers.flatMap((a) => a.items) };
  }

  // ---- reads of history (the shared store)

  getAlert(id: string): Promise<Alert> { return this.reads.getAlert(id); }
  alertDetail(id: string, limit?: number, before?: number): ReturnType<AlertService['alertDetail']> { return this.reads.alertDetail(id, limit, before); }
  listAlerts(q: Parameters<AlertService['listAlerts']>[0]): ReturnType<AlertService['listAlerts']> { return this.reads.listAlerts(q); }
  alertOutcomes(q: Parameters<AlertService['alertOutcomes']>[0]): ReturnType<AlertService['alertOutcomes']> { return this.reads.alertOutcomes(q); }
  listRescueCases(q: Parameters<AlertService['listRescueCases']>[0]): ReturnType<AlertService['listRescueCases']> { return this.reads.listRescueCases(q); }
  getRescueCase(id: string): Promise<RescueCase> { return this.reads.getRescueCase(id); }

  // ---- operators' actions, on the node holding what they act on

  act(...args: Parameters<AlertService['act']>): ReturnType<AlertService['act']> {
    return this.onHolder('alert', 'alert.act', args);
  }

  rectify(...args: Parameters<AlertService['rectify']>): ReturnType<AlertService['rectify']> {
    return this.onHolder('alert', 'alert.rectify', args);
  }

  recordRescueStep(...args: Parameters<AlertService['recordRescueStep']>): ReturnType<AlertService['recordRescueStep']> {
    return this.onHolder('case', 'case.step', args);
  }

  acknowledgeEscalation(...args: Parameters<AlertService['acknowledgeEscalation']>): ReturnType<AlertService['acknowledgeEscalation']> {
    return this.onHolder('case', 'case.ackEscalation', args);
  }

  async reportTrapping(...args: Parameters<AlertService['reportTrapping']>): ReturnType<AlertService['reportTrapping']> {
    return this.calls.call(await this.ownerOf(args[0]), 'case.phone', args);
  }

  async advanceStore(...args: Parameters<AlertService['advanceStore']>): ReturnType<AlertService['advanceStore']> {
    const entry = await this.calls.call<BlackListEntry>(await this.ownerOf(args[0]), 'store.advance', args);
    await this.refreshFlags().catch(() => undefined);
    return entry;
  }

  /** The node holding a slot (of a key) now; no holder (a hand-over in progress): refused, try again. */
  private async ownerOf(slotOrKey: number | string): Promise<string> {
    const slot = typeof slotOrKey === 'number' ? slotOrKey : slotOf(slotOrKey);
    const node = await this.engines.holderNow(slot);
    if (node === null) throw new CodedError('node_unreachable', `no node holds slot ${slot} of the rules at this moment (a node is taking it over); try again`);
    return node;
  }

  /**
   * A stored record goes to the holder of the slot it was saved under (a closed one too: a note
   * may follow a resolution); one not stored yet (opened since its owner's last checkpoint) to
   * whichever live node's slot engines have it. None: not found, as on a single node.
   */
  private async onHolder<T>(kind: 'alert' | 'case', method: NodeMethod, args: [string, ...unknown[]]): Promise<T> {
    const id = args[0];
    const saved = await slotOfRecord(this.deps.shared.db, kind, id);
    if (saved !== undefined) {
      // saved by a single node before (no slot): the slot of its device, whose owner takes it on
      const slot = saved ?? slotOf(kind === 'alert' ? (await this.reads.getAlert(id)).device.id : (await this.reads.getRescueCase(id)).elevatorId);
      const answer = await this.calls.call<T | NotHere>(await this.ownerOf(slot), method, { slot, args });
      if (isNotHere(answer)) throw handOver(kind, id);
      return answer;
    }
    for (const node of this.engines.peers()) {
      const answer = await this.calls.call<T | NotHere>(node, method, { slot: null, args }).catch((err: unknown) => {
        if (err instanceof CodedError && err.code === 'node_unreachable') return NOT_HERE;
        throw err;
      });
      if (!isNotHere(answer)) return answer;
    }
    throw kind === 'alert' ? new CodedError('alert_not_found', `no alert ${id}`) : new CodedError('rescue_case_not_found', `no rescue case ${id}`);
  }

  /**
   * Readings this node stored but did not get into the feed before it stopped (killed between
   * a commit and its publish; the journal's backlog written at start): published again, each
   * slot taking only what it lacks (ReadingFeed.republish), before any new reading.
   */
  private async republishTail(): Promise<void> {
    let from = await this.feed.publishedThrough();
    if (from === null) return;
    const slotsOf = this.slotsOf();
    let entries = 0;
    let readings = 0;
    for (;;) {
      const rows = await this.deps.store.readings.after(from, REPUBLISH_CHUNK);
      if (!rows.length) break;
      entries += await this.feed.republish(rows, slotsOf);
      readings += rows.length;
      from = rows.at(-1)!.seq;
      if (rows.length < REPUBLISH_CHUNK) break;
    }
    if (readings) this.deps.log.warn({ readings, entries }, 'readings stored before the last stop but not given to the rules were published to their owners now');
  }

  private slotsOf(): (r: Reading) => number[] {
    const lookup = { device: (id: string) => { const d = this.deps.device(id); return d ? deviceInfo(d) : undefined; } };
    return (r) => slotsOfReading(this.opts.rules, r, lookup);
  }

  private async refreshFlags(): Promise<void> {
    const states = await slotStatesOf(this.deps.shared.db, FLAGS_KEY);
    const all: BlackListEntry[] = [];
    for (const saved of states) {
      const f = new StoreFlags();
      f.load(saved);
      all.push(...f.all());
    }
    this.flags = all.sort((a, b) => (a.storeId < b.storeId ? -1 : a.storeId > b.storeId ? 1 : 0));
  }
}

const NOT_HERE: NotHere = { notHere: true };
const isNotHere = (v: unknown): v is NotHere => typeof v === 'object' && v !== null && (v as NotHere).notHere === true;
const handOver = (kind: 'alert' | 'case', id: string): CodedError =>
  new CodedError('node_unreachable', `the ${kind === 'alert' ? 'alert' : 'rescue case'} ${id} is being handed to another node; try again`);
