/**
 * Calls from one node to another over Redis (docs/cluster.md): in cluster mode an operator's
 * action on an alert or case runs on the node that owns its slot, while the HTTP request may
 * land on any node. The node that took the request calls the owner by its id and answers as if
 * the action had run locally: a CodedError the owner's handler throws comes back with the same
 * code, message and details, so the HTTP layer maps it as it would a local one.
 *
 * A request goes out on the callee's channel (`supervision:cluster:call:<nodeId>`), its reply on
 * the caller's (`supervision:cluster:reply:<from>`). Pub/sub rather than a stream: a call is
 * worth something only while its caller waits, so a request nobody hears must fail at once
 * (PUBLISH counts 0 receivers), never be delivered minutes later to a node that came back. For
 * the same reason the publishing connection has no offline queue and resends nothing after a
 * reconnect: a command Redis did not take fails, and the caller gets `node_unreachable`. A timed
 * out call may still have run on its owner (it answered too late): the code's doc says to reload.
 *
 * Everything read from Redis is hostile until checked: a size bound before parsing, a schema
 * after, a method looked up among the handlers' own keys only (never `constructor`), an error
 * code taken only if the catalog has it. A bad message is dropped and logged (at most once a
 * minute, with a count), and the node goes on answering.
 *
 * Two connections of our own (ioredis, as cluster/changeBus.ts: a subscribed connection can
 * publish nothing), closed at stop; an outage is logged once, and ioredis reconnects by itself.
 */
import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { clusterRedis } from './redisConnection.js';
import type { Logger } from 'pino';
import { z } from 'zod';
import { CodedError, codes, type Code } from '../core/codes.js';

export const CALL_CHANNEL = 'supervision:cluster:call:';
export const REPLY_CHANNEL = 'supervision:cluster:reply:';
export const callChannel = (nodeId: string): string => `${CALL_CHANNEL}${nodeId}`;
export const replyChannel = (nodeId: string): string => `${REPLY_CHANNEL}${nodeId}`;

export interface NodeCallsOptions {
  redisUrl: string;
  nodeId: string;
  log: Logger;
  /** what this node answers: method name -> handler (args are JSON-decoded, untrusted) */
  handlers: Record<string, (args: unknown) => Promise<unknown>>;
  /** a call not answered within this fails with node_unreachable (default 5000) */
  timeoutMs?: number;
  /** calls in flight from this node, and requests being answered by it, at most each (default 1000) */
  maxPending?: number;
  /** a request or reply larger than this (bytes of JSON) is refused (default 1 MiB) */
  maxBytes?: number;
  /** start() waits this long for the subscription; past it the node runs on, unreachable until subscribed */
  startWaitMs?: number;
}

/** ids, node ids and method names are short; bounding them keeps a hostile message from naming huge channels */
const name = z.string().min(1).max(200);
const requestSchema = z.object({ id: name, from: name, method: name, args: z.unknown().optional() });
const replySchema = z.union([
  z.object({ id: name, ok: z.literal(true), value: z.unknown().optional() }),
  z.object({ id: name, ok: z.literal(false), error: z.object({ code: z.string().max(100).optional(), message: z.string(), details: z.unknown().optional() }) }),
]);
type Reply = z.infer<typeof replySchema>;

interface Pending {
  node: string;
  method: string;
  resolve(value: unknown): void;
  reject(err: Error): void;
  timer: NodeJS.Timeout;
}

/** A JSON copy: what a handler takes and gives is what would have crossed Redis, on every node alike. */
const viaJson = (v: unknown): unknown => {
  const text = JSON.stringify(v);
  return text === undefined ? undefined : JSON.parse(text);
};

export class NodeCalls {
  private readonly timeoutMs: number;
  private readonly maxPending: number;
  private readonly maxBytes: number;
  private readonly log: Logger;
  private pub: Redis | null = null;
  private sub: Redis | null = null;
  private readonly pending = new Map<string, Pending>();
  /** requests from other nodes whose handler has not settled */
  private running = 0;
  private subscribed: (() => void) | null = null;
  private stopped = false;
  private bad = { count: 0, loggedAt: -Infinity };

  constructor(private readonly opts: NodeCallsOptions) {
    this.timeoutMs = opts.timeoutMs ?? 5000;
    this.maxPending = opts.maxPending ?? 1000;
    this.maxBytes = opts.maxBytes ?? 1 << 20;
    this.log = opts.log;
  }

  /** Connect and subscribe to this node's requests and replies. */
  async start(): Promise<void> {
    if (this.pub || this.stopped) return;
    const subscribed = new Promise<void>((resolve) => { this.subscribed = resolve; });
    // a command Redis did not take fails at once and is never sent late (see the head comment)
    this.pub = clusterRedis(this.opts.redisUrl, this.log, 'cluster calls (publish)', { enableOfflineQueue: false, autoResendUnfulfilledCommands: false });
    // resubscribed by us on each 'ready', as changeBus does
    this.sub = clusterRedis(this.opts.redisUrl, this.log, 'cluster calls (subscribe)', { autoResubscribe: false });
    this.sub.on('ready', () => void this.subscribe());
    this.sub.on('message', (channel: string, text: string) => this.received(channel, text));
    let timer: NodeJS.Timeout | undefined;
    const waited = new Promise<boolean>((resolve) => { timer = setTimeout(() => resolve(false), this.opts.startWaitMs ?? 10_000); });
    const ok = await Promise.race([subscribed.then(() => true), waited]);
    clearTimeout(timer);
    if (!ok) this.log.error({ nodeId: this.opts.nodeId }, 'could not subscribe to cluster calls at start; other nodes cannot reach this one until Redis answers');
  }

  /** Fail every call in flight (node_unreachable), then close both connections. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.subscribed?.();
    for (const [id, p] of this.pending) this.settle(id, p, () => p.reject(this.unreachable(p.node, p.method, 'this node is stopping')));
    await Promise.all([this.pub, this.sub].map(async (c) => {
      if (!c || c.status === 'end') return;
      await c.quit().catch(() => c.disconnect());
    }));
  }

  /**
   * Run `method` on node `nodeId` (this node: directly, no Redis) and give its value. Rejects
   * with the handler's CodedError (same code, message, details), a plain Error for any other
   * failure, or node_unreachable when the node does not answer in time or Redis is away.
   */
  async call<T>(nodeId: string, method: string, args: unknown): Promise<T> {
    if (this.stopped) throw this.unreachable(nodeId, method, 'this node is stopping');
    if (nodeId === this.opts.nodeId) return viaJson(await this.run(method, viaJson(args))) as T;
    const pub = this.pub;
    if (!pub) throw this.unreachable(nodeId, method, 'this node is not connected to Redis');
    if (this.pending.size >= this.maxPending) throw this.unreachable(nodeId, method, `this node is busy: ${this.pending.size} calls already wait for answers`);
    const id = randomUUID();
    const text = JSON.stringify({ id, from: this.opts.nodeId, method, args });
    if (Buffer.byteLength(text) > this.maxBytes) throw new Error(`the call of ${method} on node ${nodeId} is larger than ${this.maxBytes} bytes`);
    return new Promise<T>((resolve, reject) => {
      const p: Pending = {
        node: nodeId, method, resolve: resolve as (v: unknown) => void, reject,
        timer: setTimeout(() => this.settle(id, p, () => reject(this.unreachable(nodeId, method, `no answer within ${this.timeoutMs} ms`))), this.timeoutMs),
      };
      this.pending.set(id, p);
      pub.publish(callChannel(nodeId), text).then(
        // nobody subscribed: the node is down (or not in cluster mode); waiting would only delay the 503
        (receivers) => { if (receivers === 0) this.settle(id, p, () => reject(this.unreachable(nodeId, method, 'no node listens under that id'))); },
        (err: Error) => this.settle(id, p, () => reject(this.unreachable(nodeId, method, `Redis did not take the call (${err.message})`))),
      );
    });
  }

  private unreachable(nodeId: string, method: string, why: string): CodedError {
    return new CodedError('node_unreachable', `node ${nodeId} did not answer ${method}: ${why}`, { nodeId, method });
  }

  /** Settle a pending call once: whichever of reply, timeout, failed publish or stop comes first. */
  private settle(id: string, p: Pending, done: () => void): void {
    if (this.pending.get(id) !== p) return;
    this.pending.delete(id);
    clearTimeout(p.timer);
    done();
  }

  private async run(method: string, args: unknown): Promise<unknown> {
    // own keys only: a method named `constructor` or `__proto__` is nobody's handler
    if (!Object.hasOwn(this.opts.handlers, method)) throw new Error(`node ${this.opts.nodeId} has no method ${method}`);
    return this.opts.handlers[method]!(args);
  }

  private async subscribe(): Promise<void> {
    const sub = this.sub;
    if (!sub || this.stopped) return;
    try {
      await sub.subscribe(callChannel(this.opts.nodeId), replyChannel(this.opts.nodeId));
    } catch (err) {
      // the connection went away again: its next 'ready' subscribes
      this.log.warn({ err: (err as Error).message }, 'subscribing to cluster calls failed; retried when Redis is back');
      return;
    }
    this.subscribed?.();
    this.subscribed = null;
  }

  private received(channel: string, text: string): void {
    if (this.stopped) return;
    // length in UTF-16 units is at most the byte length: a cheap first bound before counting bytes
    if (text.length > this.maxBytes || Buffer.byteLength(text) > this.maxBytes) return this.ignored(channel, text, `larger than ${this.maxBytes} bytes`);
    let v: unknown;
    try {
      v = JSON.parse(text);
    } catch {
      return this.ignored(channel, text, 'not JSON');
    }
    if (channel === callChannel(this.opts.nodeId)) {
      const r = requestSchema.safeParse(v);
      if (!r.success) return this.ignored(channel, text, 'not a call');
      void this.answer(r.data.id, r.data.from, r.data.method, r.data.args);
    } else if (channel === replyChannel(this.opts.nodeId)) {
      const r = replySchema.safeParse(v);
      if (!r.success) return this.ignored(channel, text, 'not a reply');
      this.replied(r.data);
    }
  }

  /** A bad message is dropped; logged at most once a minute, with how many since, so a flood costs no log storm. */
  private ignored(channel: string, text: string, why: string): void {
    this.bad.count++;
    const now = Date.now();
    if (now - this.bad.loggedAt < 60_000) return;
    this.log.warn({ channel, why, message: text.slice(0, 200), ignored: this.bad.count }, 'ignored a cluster call message that is not one');
    this.bad = { count: 0, loggedAt: now };
  }

  private replied(r: Reply): void {
    const p = this.pending.get(r.id);
    // a reply after its timeout, or to a call this node never made
    if (!p) return;
    if (r.ok) return this.settle(r.id, p, () => p.resolve(r.value));
    const { code, message, details } = r.error;
    // a code the catalog does not have is not trusted to choose the HTTP status
    const err = code !== undefined && Object.hasOwn(codes, code) ? new CodedError(code as Code, message, details) : new Error(message);
    this.settle(r.id, p, () => p.reject(err));
  }

  private async answer(id: string, from: string, method: string, args: unknown): Promise<void> {
    if (this.running >= this.maxPending) {
      // requests beyond the bound are refused at once, not queued: the caller's 503 comes sooner than its timeout
      return this.reply(from, { id, ok: false, error: { code: 'node_unreachable', message: `node ${this.opts.nodeId} is busy: ${this.running} calls are being answered`, details: { nodeId: this.opts.nodeId, method } } }, method);
    }
    this.running++;
    let reply: Reply;
    try {
      reply = { id, ok: true, value: await this.run(method, args) };
    } catch (err) {
      reply = err instanceof CodedError
        ? { id, ok: false, error: { code: err.code, message: err.message, details: err.details } }
        : { id, ok: false, error: { message: err instanceof Error ? err.message : String(err) } };
    } finally {
      this.running--;
    }
    this.reply(from, reply, method);
  }

  private reply(to: string, reply: Reply, method: string): void {
    const pub = this.pub;
    if (!pub || this.stopped) return;
    let text: string;
    try {
      text = JSON.stringify(reply);
    } catch (err) {
      // a value JSON cannot carry (a cycle, a BigInt): the caller learns why rather than timing out
      text = JSON.stringify({ id: reply.id, ok: false, error: { message: `the answer to ${method} cannot be sent: ${(err as Error).message}` } });
    }
    if (Buffer.byteLength(text) > this.maxBytes) {
      text = JSON.stringify({ id: reply.id, ok: false, error: { message: `the answer to ${method} is larger than ${this.maxBytes} bytes` } });
    }
    pub.publish(replyChannel(to), text).catch((err: Error) => {
      // Redis is away: the caller times out with node_unreachable; the outage itself is logged by the connection
      this.log.debug({ err: err.message, to, method }, 'could not send the answer to a cluster call');
    });
  }
}
