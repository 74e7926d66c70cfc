/**
 * Every wall sees everything (docs/cluster.md): each node's engine owns some slots, so its
 * alerts and rescue cases are only part of the city, while every node's `/ws` hub must show all
 * of them. Each node publishes its engine's alert and case changes on one Redis pub/sub channel
 * (`supervision:cluster:alerts`, the record with `from: nodeId`), and every node keeps a replica
 * of the ACTIVE alerts and cases of all nodes, which its hub reads instead of its engine's; the
 * other nodes' changes are re-emitted on `out`, where the hub and the fan-out listen.
 *
 * A record carries its `updatedAt`, and the replica never lets an older one replace a newer one:
 * during a slot's hand-over the old and the new owner may both publish the same alert, and their
 * messages can cross. Closed records leave a tombstone (bounded) for the same reason, so a late
 * update cannot bring back an alert already closed. A stale change is not re-emitted either: the
 * walls would go back in time.
 *
 * Pub/sub delivers only to who is subscribed at the moment, so each subscription, the first and
 * every one after an outage, is followed by a full load of the shared store's active alerts and
 * cases (`load`), merged by the same rule. The store lags the events by a checkpoint, so a
 * record heard shortly before a load and absent from it is kept (`storeLagMs`); an older one
 * absent from the store was closed while this node was not listening, and goes. What this node
 * could not publish waits in a bounded queue and goes out when Redis is back (stale copies are
 * harmless: updatedAt decides); past the bound the others are asked to reload in full instead.
 *
 * Every message from Redis is checked (size, then a light schema) and a bad one is dropped and
 * logged (at most once a minute, with a count). Two connections of our own (ioredis, as
 * cluster/changeBus.ts), closed at stop; an outage is logged once, ioredis reconnects by itself.
 */
import type { Redis } from 'ioredis';
import { clusterRedis } from './redisConnection.js';
import type { Logger } from 'pino';
import { z } from 'zod';
import type { EngineEvents } from '../alerts/engineTypes.js';
import { isClosed, type Alert } from '../core/alerts/alert.js';
import { alertStatuses } from '../core/alerts/alertQuery.js';
import { isFinished, rescueSteps, type RescueCase } from '../core/alerts/rescueCase.js';
import type { Emitter, Subscriber } from '../core/eventBus.js';

export const ALERTS_CHANNEL = 'supervision:cluster:alerts';

export interface AlertReplicaOptions {
  redisUrl: string;
  nodeId: string;
  log: Logger;
  /** the shared store's active alerts and cases; called after each subscription, retried while it fails */
  load: () => Promise<{ alerts: Alert[]; cases: RescueCase[] }>;
  /** this node's engine events: published, and applied here */
  local: Subscriber<EngineEvents>;
  /**
   * where other nodes' changes are re-emitted (the local hub, the fan-out); never this node's own.
   * It may be the very bus `local` is: what is re-emitted here is recognised and not published again.
   */
  out: Emitter<EngineEvents>;
  channel?: string;
  /** a message larger than this (bytes of JSON) is neither sent nor taken (default 1 MiB) */
  maxBytes?: number;
  /** wait after a failed load before the next (default 1000) */
  retryMs?: number;
  /** start() waits this long for the subscription and first load; past it the node runs on (default 10000) */
  startWaitMs?: number;
  /** a record heard within this before a load survives its absence from the store (default 10000: a few checkpoints) */
  storeLagMs?: number;
  now?: () => number;
}

/** closed ids remembered against late updates; the oldest go first past this */
const MAX_TOMBSTONES = 10_000;
/** changes kept while Redis is away; past this the others reload in full instead */
const MAX_UNSENT = 1000;

const name = z.string().min(1).max(200);
const change = z.enum(['opened', 'updated', 'closed']);
const updatedAt = z.number().finite();
/** Light: what the replica and the hub read of a record; the rest goes through as it came. */
const alertRecord = z.looseObject({ id: name, status: z.enum(alertStatuses), updatedAt, device: z.looseObject({ district: z.string().nullable() }) });
const caseRecord = z.looseObject({ id: name, status: z.enum([...rescueSteps, 'false_alarm'] as const), updatedAt, elevatorId: z.string(), alarmAt: z.number(), steps: z.array(z.unknown()) });
const messageSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('alert'), from: name, change, alert: alertRecord, entries: z.array(z.unknown()).max(10_000) }),
  z.object({ type: z.literal('rescueCase'), from: name, change, rescueCase: caseRecord, events: z.array(z.string()).max(100) }),
  // a node that could not send everything asks the others to reload in full
  z.object({ type: z.literal('reload'), from: name }),
]);

type AlertEvent = EngineEvents['alert'];
type CaseEvent = EngineEvents['rescueCase'];

interface Held<R> {
  record: R;
  /** when this node heard it (0: from a load), for the store's lag at the next load */
  heardAt: number;
}

/** The active records of one kind, with tombstones of the closed. */
class Replica<R extends { id: string; updatedAt: number }> {
  readonly held = new Map<string, Held<R>>();
  private readonly tombs = new Map<string, number>();

  constructor(private readonly active: (r: R) => boolean) {}

  /** Apply a change; false when it is older than what is held (nothing changed). */
  apply(r: R, closed: boolean, now: number): boolean {
    const newest = this.held.get(r.id)?.record.updatedAt ?? this.tombs.get(r.id);
    if (newest !== undefined && r.updatedAt < newest) return false;
    if (!closed && this.active(r)) {
      this.held.set(r.id, { record: r, heardAt: now });
      this.tombs.delete(r.id);
    } else {
      this.held.delete(r.id);
      this.tombs.delete(r.id);
      this.tombs.set(r.id, r.updatedAt);
      if (this.tombs.size > MAX_TOMBSTONES) this.tombs.delete(this.tombs.keys().next().value!);
    }
    return true;
  }

  /** Replace by a load begun at `since`, keeping what is newer here and what was heard too recently for the store to have it. */
  load(records: readonly R[], since: number, lagMs: number): void {
    const next = new Map<string, Held<R>>();
    for (const r of records) {
      if (!this.active(r)) continue;
      const tomb = this.tombs.get(r.id);
      if (tomb !== undefined && r.updatedAt <= tomb) continue;
      const mine = this.held.get(r.id);
      next.set(r.id, mine && mine.record.updatedAt > r.updatedAt ? mine : { record: r, heardAt: 0 });
    }
    for (const [id, h] of this.held) if (!next.has(id) && h.heardAt >= since - lagMs) next.set(id, h);
    this.held.clear();
    for (const [id, h] of next) this.held.set(id, h);
  }

  list(): R[] {
    return [...this.held.values()].map((h) => h.record);
  }
}

export class AlertReplica {
  private readonly channel: string;
  private readonly maxBytes: number;
  private readonly retryMs: number;
  private readonly storeLagMs: number;
  private readonly log: Logger;
  private readonly now: () => number;
  private readonly alerts = new Replica<Alert>((a) => !isClosed(a));
  private readonly cases = new Replica<RescueCase>((c) => !isFinished(c));
  private pub: Redis | null = null;
  private sub: Redis | null = null;
  private offLocal: Array<() => void> = [];
  /** messages Redis did not take, in order; `askReload`: more were lost than kept */
  private readonly unsent: string[] = [];
  private askReload = false;
  private reloading: Promise<void> | null = null;
  private reloadAgain = false;
  private retryTimer: NodeJS.Timeout | null = null;
  private resendTimer: NodeJS.Timeout | null = null;
  private loadFailing = false;
  private loaded: (() => void) | null = null;
  private stopped = false;
  private bad = { count: 0, loggedAt: -Infinity };
  /** other nodes' changes as re-emitted on `out`: heard back on `local` (one bus for both), they are not sent again */
  private readonly reemitted = new WeakSet<object>();

  constructor(private readonly opts: AlertReplicaOptions) {
    this.channel = opts.channel ?? ALERTS_CHANNEL;
    this.maxBytes = opts.maxBytes ?? 1 << 20;
    this.retryMs = opts.retryMs ?? 1000;
    this.storeLagMs = opts.storeLagMs ?? 10_000;
    this.log = opts.log;
    this.now = opts.now ?? Date.now;
  }

  /** Listen to the local engine, connect, subscribe and load; resolves once loaded (or after startWaitMs). */
  async start(): Promise<void> {
    if (this.pub || this.stopped) return;
    const loaded = new Promise<void>((resolve) => { this.loaded = resolve; });
    // the local engine first: none of its changes may fall between the load and the listening
    this.offLocal = [
      this.opts.local.on('alert', (e) => this.fromLocal(e)),
      this.opts.local.on('rescueCase', (e) => this.fromLocal(e)),
    ];
    // no offline queue: what Redis does not take is queued by us (bounded) and resent once it is back
    this.pub = clusterRedis(this.opts.redisUrl, this.log, 'cluster alerts (publish)', { enableOfflineQueue: false });
    // a moment after the connection is back, so that the others' subscriptions, lost with ours, are likely back too
    // (what they miss still reaches them: they load in full once subscribed, and the store has it after a checkpoint)
    this.pub.on('ready', () => this.scheduleResend());
    // resubscribed by us on each 'ready', so that the full load follows a confirmed subscription
    this.sub = clusterRedis(this.opts.redisUrl, this.log, 'cluster alerts (subscribe)', { autoResubscribe: false });
    this.sub.on('ready', () => void this.subscribe());
    this.sub.on('message', (channel: string, text: string) => this.received(channel, text));
    let timer: NodeJS.Timeout | undefined;
    const waited = new Promise<boolean>((resolve) => { timer = setTimeout(() => resolve(false), this.opts.startWaitMs ?? 10_000); });
    const ok = await Promise.race([loaded.then(() => true), waited]);
    clearTimeout(timer);
    if (!ok) this.log.error({ channel: this.channel }, 'the replica of the cluster\'s alerts is not loaded yet; walls show this node\'s changes until Redis and the store answer');
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    for (const off of this.offLocal) off();
    this.offLocal = [];
    if (this.retryTimer) clearTimeout(this.retryTimer);
    if (this.resendTimer) clearTimeout(this.resendTimer);
    this.loaded?.();
    await this.reloading;
    await Promise.all([this.pub, this.sub].map(async (c) => {
      if (!c || c.status === 'end') return;
      await c.quit().catch(() => c.disconnect());
    }));
  }

  /** Every node's active alerts, as the replica has them. */
  activeAlerts(): Alert[] {
    return this.alerts.list();
  }

  /** Every node's unfinished rescue cases. */
  activeRescueCases(): RescueCase[] {
    return this.cases.list();
  }

  private async subscribe(): Promise<void> {
    const sub = this.sub;
    if (!sub || this.stopped) return;
    try {
      await sub.subscribe(this.channel);
    } catch (err) {
      // the connection went away again: its next 'ready' subscribes
      this.log.warn({ err: (err as Error).message }, 'subscribing to the cluster\'s alerts failed; retried when Redis is back');
      return;
    }
    this.reload();
  }

  /** Load in full, one load at a time; a load asked for meanwhile runs after (it may have missed what came since). */
  private reload(): void {
    if (this.stopped) return;
    if (this.reloading) {
      this.reloadAgain = true;
      return;
    }
    this.reloading = this.loadOnce().finally(() => {
      this.reloading = null;
      if (this.reloadAgain) {
        this.reloadAgain = false;
        this.reload();
      }
    });
  }

  private async loadOnce(): Promise<void> {
    const since = this.now();
    let got: { alerts: Alert[]; cases: RescueCase[] };
    try {
      got = await this.opts.load();
    } catch (err) {
      if (!this.loadFailing) this.log.error({ err }, 'could not load the active alerts and cases from the shared store; retrying until it works');
      this.loadFailing = true;
      if (!this.stopped && !this.retryTimer) {
        this.retryTimer = setTimeout(() => { this.retryTimer = null; this.reload(); }, this.retryMs);
        this.retryTimer.unref();
      }
      return;
    }
    if (this.stopped) return;
    if (this.loadFailing) this.log.info('loading the active alerts and cases works again');
    this.loadFailing = false;
    this.alerts.load(got.alerts, since, this.storeLagMs);
    this.cases.load(got.cases, since, this.storeLagMs);
    this.loaded?.();
    this.loaded = null;
  }

  private fromLocal(e: AlertEvent | CaseEvent): void {
    if (this.stopped || this.reemitted.has(e)) return;
    this.apply(e);
    this.send(JSON.stringify({ ...e, from: this.opts.nodeId }));
  }

  private apply(e: AlertEvent | CaseEvent): boolean {
    const closed = e.change === 'closed';
    return e.type === 'alert' ? this.alerts.apply(e.alert, closed, this.now()) : this.cases.apply(e.rescueCase, closed, this.now());
  }

  private received(channel: string, text: string): void {
    if (this.stopped || channel !== this.channel) return;
    // length in UTF-16 units is at most the byte length: a cheap first bound before counting bytes
    if (text.length > this.maxBytes || Buffer.byteLength(text) > this.maxBytes) return this.ignored(text, `larger than ${this.maxBytes} bytes`);
    let v: unknown;
    try {
      v = JSON.parse(text);
    } catch {
      return this.ignored(text, 'not JSON');
    }
    const m = messageSchema.safeParse(v);
    if (!m.success) return this.ignored(text, m.error.issues.slice(0, 3).map((i) => `${i.path.join('.')}: ${i.message}`).join('; '));
    const msg = m.data;
    if (msg.from === this.opts.nodeId) return;
    if (msg.type === 'reload') return this.reload();
    // checked above for what the replica and the hub read; the rest is the record as its owner sent it
    const e = (msg.type === 'alert'
      ? { type: 'alert', change: msg.change, alert: msg.alert, entries: msg.entries }
      : { type: 'rescueCase', change: msg.change, rescueCase: msg.rescueCase, events: msg.events }) as unknown as AlertEvent | CaseEvent;
    // a stale change (crossed with a newer one in a hand-over) would take the walls back in time
    if (!this.apply(e)) return;
    // `out` may be the very bus `local` listens to: what is re-emitted here is not this node's to publish
    this.reemitted.add(e);
    if (e.type === 'alert') this.opts.out.emit('alert', e);
    else this.opts.out.emit('rescueCase', e);
  }

  /** A bad message is dropped; logged at most once a minute, with how many since, so a flood costs no log storm. */
  private ignored(text: string, why: string): void {
    this.bad.count++;
    const now = Date.now();
    if (now - this.bad.loggedAt < 60_000) return;
    this.log.warn({ channel: this.channel, why, message: text.slice(0, 200), ignored: this.bad.count }, 'ignored a cluster alert message that is not one');
    this.bad = { count: 0, loggedAt: now };
  }

  private send(text: string): void {
    if (Buffer.byteLength(text) > this.maxBytes) {
      // the others would refuse it: they see the record at their next load or its next change
      this.log.warn({ bytes: Buffer.byteLength(text), maxBytes: this.maxBytes }, 'an alert change too large to share with the cluster was not published');
      return;
    }
    const pub = this.pub;
    if (!pub || pub.status !== 'ready' || this.unsent.length || this.askReload) return this.keep(text);
    pub.publish(this.channel, text).catch(() => this.keep(text));
  }

  /** Keep a message Redis did not take, for when it is back; past the bound, ask for a full reload then. */
  private keep(text: string): void {
    if (this.stopped || this.askReload) return;
    if (this.unsent.length >= MAX_UNSENT) {
      this.unsent.length = 0;
      this.askReload = true;
      return;
    }
    this.unsent.push(text);
    // refused while the connection still looks up: no 'ready' will come to resend it, so try again later
    if (this.pub?.status === 'ready') this.scheduleResend();
  }

  private scheduleResend(): void {
    if (this.resendTimer || this.stopped) return;
    this.resendTimer = setTimeout(() => { this.resendTimer = null; this.resend(); }, this.retryMs);
    this.resendTimer.unref();
  }

  private resend(): void {
    const pub = this.pub;
    if (this.stopped || !pub || pub.status !== 'ready') return;
    const texts = this.askReload ? [JSON.stringify({ type: 'reload', from: this.opts.nodeId })] : this.unsent.splice(0);
    this.askReload = false;
    this.unsent.length = 0;
    // sent in order on one connection; any that fail again wait for the next 'ready'
    for (const text of texts) pub.publish(this.channel, text).catch(() => this.keep(text));
  }
}
