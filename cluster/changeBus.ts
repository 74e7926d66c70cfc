/**
 * Cross-node change notices (docs/cluster.md): each node holds the device registry, the
 * cylinder registry, users and sessions in memory, loaded from the shared store at start. When
 * a node's write of them commits, it publishes `{kind, ids, from}` on one Redis pub/sub
 * channel; every other node re-reads exactly those records from the shared store. A notice
 * names what changed, never what it became: the store is the only source of the data, so a
 * stale, repeated or reordered notice can only cause a redundant read.
 *
 * Pub/sub delivers only to who is subscribed at the moment, so what may have been missed is
 * made up for by reloading in full: a node whose subscription comes back after an outage
 * reloads every kind, and a node whose publish failed tells the others to reload that kind
 * once its connection is back. Notices are applied one at a time in the order received, so the
 * reactions to them (a user's sessions revoked on a new password, then the new login's session
 * taken) keep the order in which the other node made the changes.
 *
 * Two connections of our own (ioredis, as broker/redisBackends.ts: a subscribed connection can
 * publish nothing), closed at stop; an outage is logged once, and ioredis reconnects by itself.
 */
import type { Redis } from 'ioredis';
import { clusterRedis } from './redisConnection.js';
import type { Logger } from 'pino';

export const CHANGE_KINDS = ['devices', 'cylinders', 'users', 'sessions'] as const;
export type ChangeKind = (typeof CHANGE_KINDS)[number];

/**
 * One notice on the wire (JSON). `ids`: device ids, cylinder codes, usernames (for `sessions`:
 * the users whose sessions were added or ended; token hashes never leave the store), or 'all'.
 */
export interface ChangeMessage {
  kind: ChangeKind;
  ids: string[] | 'all';
  /** the publishing node's id: a node ignores its own notices */
  from: string;
}

/** ids one notice names at most; a larger change is 'all' of its kind (a reload beats a huge message) */
export const MAX_IDS = 1000;
export const CHANGE_CHANNEL = 'supervision:cluster:changes';
/** notices waiting to be applied at most; past that (the store is slow or away) they become one full reload of each kind */
const MAX_PENDING = 1000;

export interface ChangeBusOptions {
  redisUrl: string;
  nodeId: string;
  /** Re-read these records of a kind ('all': every one) from the shared store; a rejection is retried as 'all'. */
  refresh(kind: ChangeKind, ids: readonly string[] | 'all'): Promise<void>;
  log: Logger;
  channel?: string;
  maxIds?: number;
  /** wait after a failed refresh or publish before trying again */
  retryMs?: number;
  /** start() waits this long for the subscription; past it the node runs on and reloads in full once subscribed */
  startWaitMs?: number;
}

export function encodeChange(m: ChangeMessage): string {
  return JSON.stringify({ kind: m.kind, ids: m.ids, from: m.from });
}

/**
 * A notice as received, or null when it is not one. A known kind whose ids are unusable (not
 * strings, more than `maxIds`) becomes 'all' of that kind: something of it changed, so a reload
 * is safer than ignoring it.
 */
export function decodeChange(text: string, maxIds: number = MAX_IDS): ChangeMessage | null {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return null;
  }
  if (typeof v !== 'object' || v === null) return null;
  const { kind, ids, from } = v as Record<string, unknown>;
  if (typeof kind !== 'string' || !(CHANGE_KINDS as readonly string[]).includes(kind) || typeof from !== 'string') return null;
  const k = kind as ChangeKind;
  if (ids === 'all') return { kind: k, ids: 'all', from };
  if (!Array.isArray(ids) || ids.length > maxIds || !ids.every((id) => typeof id === 'string')) return { kind: k, ids: 'all', from };
  return { kind: k, ids: ids as string[], from };
}

interface Pending {
  kind: ChangeKind;
  ids: readonly string[] | 'all';
}

export class ChangeBus {
  private readonly channel: string;
  private readonly maxIds: number;
  private readonly retryMs: number;
  private readonly log: Logger;
  private pub: Redis | null = null;
  private sub: Redis | null = null;
  /** notices to apply, in order of arrival */
  private readonly pending: Pending[] = [];
  private draining: Promise<void> | null = null;
  /** kinds whose publish failed: 'all' of each is published once the connection is back */
  private readonly unsent = new Set<ChangeKind>();
  private resendTimer: NodeJS.Timeout | null = null;
  /** kinds whose refresh failed, each with its retry */
  private readonly retries = new Map<ChangeKind, NodeJS.Timeout>();
  private readonly refreshFailing = new Set<ChangeKind>();
  /** a subscription after this one means notices may have been missed: reload in full */
  private subscribedBefore = false;
  private subscribed: (() => void) | null = null;
  private badNoticeLogged = false;
  private stopped = false;

  constructor(private readonly opts: ChangeBusOptions) {
    this.channel = opts.channel ?? CHANGE_CHANNEL;
    this.maxIds = opts.maxIds ?? MAX_IDS;
    this.retryMs = opts.retryMs ?? 1000;
    this.log = opts.log;
  }

  /**
   * Connect and subscribe. Called before the caches load at start: what commits after the
   * subscription is heard, what committed before it is in the load.
   */
  async start(): Promise<void> {
    if (this.pub || this.stopped) return;
    const subscribed = new Promise<void>((resolve) => { this.subscribed = resolve; });
    // no offline queue: a publish while Redis is away fails at once and becomes 'all' later,
    // rather than going out late to nodes that reloaded in full meanwhile
    this.pub = clusterRedis(this.opts.redisUrl, this.log, 'cluster changes (publish)', { enableOfflineQueue: false });
    this.pub.on('ready', () => this.resend());
    // resubscribed by us on each 'ready', so that the full reload follows a confirmed subscription
    this.sub = clusterRedis(this.opts.redisUrl, this.log, 'cluster changes (subscribe)', { autoResubscribe: false });
    this.sub.on('ready', () => void this.subscribe());
    this.sub.on('message', (channel: string, text: string) => this.received(channel, text));
    let timer: NodeJS.Timeout | undefined;
    const waited = new Promise<boolean>((resolve) => { timer = setTimeout(() => resolve(false), this.opts.startWaitMs ?? 10_000); });
    const ok = await Promise.race([subscribed.then(() => true), waited]);
    clearTimeout(timer);
    if (!ok) {
      // the caches load without it: the subscription, when it comes, is followed by a full reload
      this.subscribedBefore = true;
      this.log.error({ channel: this.channel }, 'could not subscribe to cluster change notices at start; caches reload in full once Redis answers');
    }
  }

  /** Tell the other nodes that these records of `kind` changed (after the store committed them). */
  publish(kind: ChangeKind, ids: readonly string[]): void {
    if (this.stopped) return;
    const unique = [...new Set(ids)];
    if (!unique.length) return;
    this.send(kind, unique.length > this.maxIds ? 'all' : unique);
  }

  /** Stop applying notices (the one being applied finishes), then close both connections. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.pending.length = 0;
    if (this.resendTimer) clearTimeout(this.resendTimer);
    for (const t of this.retries.values()) clearTimeout(t);
    this.retries.clear();
    this.subscribed?.();
    await this.draining;
    await Promise.all([this.pub, this.sub].map(async (c) => {
      if (!c || c.status === 'end') return;
      await c.quit().catch(() => c.disconnect());
    }));
  }

  private async subscribe(): Promise<void> {
    const sub = this.sub;
    if (!sub || this.stopped) return;
    try {
      await sub.subscribe(this.channel);
    } catch (err) {
      // the connection went away again: its next 'ready' subscribes
      this.log.warn({ err: (err as Error).message }, 'subscribing to cluster change notices failed; retried when Redis is back');
      return;
    }
    if (this.stopped) return;
    if (this.subscribedBefore) {
      this.log.info('cluster change notices subscribed again: reloading devices, cylinders, users and sessions in full');
      for (const kind of CHANGE_KINDS) this.enqueue(kind, 'all');
    }
    this.subscribedBefore = true;
    this.subscribed?.();
    this.subscribed = null;
  }

  private received(channel: string, text: string): void {
    if (this.stopped || channel !== this.channel) return;
    const m = decodeChange(text, this.maxIds);
    if (!m) {
      if (!this.badNoticeLogged) this.log.warn({ notice: text.slice(0, 200) }, 'ignored a cluster change notice that is not one (logged once)');
      this.badNoticeLogged = true;
      return;
    }
    if (m.from === this.opts.nodeId) return;
    this.enqueue(m.kind, m.ids);
  }

  private enqueue(kind: ChangeKind, ids: readonly string[] | 'all'): void {
    if (this.stopped) return;
    // a full reload of the kind not begun yet reads after this change committed: it covers it
    if (this.pending.some((p) => p.kind === kind && p.ids === 'all')) return;
    if (this.pending.length >= MAX_PENDING) {
      this.pending.splice(0, this.pending.length, ...CHANGE_KINDS.map((k) => ({ kind: k, ids: 'all' as const })));
    } else {
      this.pending.push({ kind, ids });
    }
    this.kick();
  }

  private kick(): void {
    if (this.draining || this.stopped) return;
    this.draining = this.drain().finally(() => {
      this.draining = null;
      // what came between the loop's last look and here
      if (this.pending.length) this.kick();
    });
  }

  private async drain(): Promise<void> {
    for (let next = this.pending.shift(); next && !this.stopped; next = this.pending.shift()) {
      const { kind, ids } = next;
      try {
        await this.opts.refresh(kind, ids);
        if (this.refreshFailing.delete(kind)) this.log.info({ kind }, 'refreshing from the shared store works again');
      } catch (err) {
        if (!this.refreshFailing.has(kind)) this.log.error({ err, kind }, 'could not refresh changed records from the shared store; reloading them in full until it works');
        this.refreshFailing.add(kind);
        this.retryAll(kind);
      }
    }
  }

  /** The records of a kind may be stale here: reload them in full a little later (the store may be back by then). */
  private retryAll(kind: ChangeKind): void {
    if (this.stopped || this.retries.has(kind)) return;
    const t = setTimeout(() => {
      this.retries.delete(kind);
      this.enqueue(kind, 'all');
    }, this.retryMs);
    t.unref();
    this.retries.set(kind, t);
  }

  private send(kind: ChangeKind, ids: string[] | 'all'): void {
    const pub = this.pub;
    if (!pub) {
      this.unsent.add(kind);
      return;
    }
    pub.publish(this.channel, encodeChange({ kind, ids, from: this.opts.nodeId })).catch(() => {
      // the others cannot know what they missed: once Redis answers, they reload the kind in full
      this.unsent.add(kind);
      if (pub.status === 'ready') this.scheduleResend();
    });
  }

  private scheduleResend(): void {
    if (this.resendTimer || this.stopped) return;
    this.resendTimer = setTimeout(() => {
      this.resendTimer = null;
      this.resend();
    }, this.retryMs);
    this.resendTimer.unref();
  }

  private resend(): void {
    if (this.stopped) return;
    const kinds = [...this.unsent];
    this.unsent.clear();
    for (const kind of kinds) this.send(kind, 'all');
  }
}
