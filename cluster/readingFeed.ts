/**
 * Readings to the owner of their slots in cluster mode (docs/cluster.md, Rules with one owner per
 * key): the publishing side, and what both sides share. The consuming side is
 * cluster/readingFeedConsumer.ts.
 *
 * Layout: one Redis stream per slot (`<prefix>{<slot>}`), 256 in all. Slots are placed by
 * rendezvous hashing, so an owner's slots are scattered: with streams per group of slots every
 * node would own some slot of nearly every group and read (and transfer) nearly everything,
 * N times the traffic, and a position would no longer be the slot's own. A stream per slot
 * costs the publisher one command per slot a batch touches instead, all in one pipeline (one
 * round trip), and gives each slot its own order and positions.
 *
 * An entry is one commit's readings for one slot from one node: the node id, the first and
 * last seq, and the readings as a journal frame (store/journal/frame.ts) holding only them,
 * cut out of the commit's frame when there is one (the device's payload bytes copied as they
 * came, decoded again by the owner as the journal's replay does).
 *
 * Entries are appended by a script (APPEND_LUA) that makes the append idempotent and
 * countable:
 *  - it skips an entry whose last seq the stream already has from that node (a node's seqs
 *    only grow: ingest continues from the store's last at start), so a batch sent again after
 *    a failure, or by a node republishing its journal after a restart, is appended once;
 *  - it gives the entry the id `<ms>-<n>`, n counting the stream's entries from 1, so a
 *    consumer sees a gap (entries trimmed before it read them) as a jump in n and can say how
 *    many it lost. ms is the server's time, never going back, so positions still grow across
 *    a Redis that lost its data and began counting again.
 *
 * The bound: `MAXLEN ~ maxLenPerSlot` on every append keeps at least that many entries per
 * slot (Redis trims whole nodes of about 100 entries, so a few more). A takeover replays from
 * the owner's checkpointed position; a checkpoint older than the last maxLenPerSlot entries of
 * its slot cannot be replayed whole, and the consumer reports how many entries are gone.
 *
 * Cost per committed batch: one pipeline (one round trip) of one EVALSHA per distinct slot
 * its readings route to (each a few hash operations and one XADD inside Redis), plus SCRIPT
 * LOAD once per connection. The owner reads with one XREAD per round over all its slots.
 *
 * Redis must keep what it acknowledged (appendonly, appendfsync always) for a restart to lose
 * nothing; a Redis that lost entries is reported by the consumer, not hidden.
 */
import { createHash } from 'node:crypto';
import { Redis } from 'ioredis';
import type { Reading } from '../core/reading.js';
import { crc32, encodeFrame, FRAME_HEADER_BYTES } from '../store/journal/frame.js';

/** Where a consumer starts a slot that has no checkpoint: before the stream's first entry. */
export const START = '0-0';

export const DEFAULT_PREFIX = 'feed:';
/** Entries kept per slot stream: the replay window of a takeover, in entries of that slot. */
export const DEFAULT_MAX_LEN_PER_SLOT = 4096;

export const streamKey = (prefix: string, slot: number): string => `${prefix}{${slot}}`;
/** The stream's counter, clock and last seq per node; the hash tag keeps it beside its stream. */
export const metaKey = (prefix: string, slot: number): string => `${prefix}{${slot}}:meta`;

/** How far a node's readings are in the feed (ReadingFeed.publishedThrough). */
export const publishedKey = (prefix: string, nodeId: string): string => `${prefix}published:${nodeId}`;

/** An entry id of the feed: the server's ms and the entry's number in its stream. */
export interface Position {
  ms: number;
  n: number;
}

export function parsePosition(id: string): Position {
  const m = /^(\d+)-(\d+)$/.exec(id);
  if (!m) throw new Error(`not a stream position: ${JSON.stringify(id)}`);
  return { ms: Number(m[1]), n: Number(m[2]) };
}

/** Told once when a connection starts failing and once when it is back (ioredis retries meanwhile). */
export interface FeedLog {
  down(role: string, err: Error): void;
  up(role: string): void;
}

/**
 * KEYS: stream, meta. ARGV: node, first seq, last seq, max length, frame.
 * Returns the new entry's id, or false when the stream already has this node's last seq.
 */
export const APPEND_LUA = `
local seen = redis.call('HGET', KEYS[2], ARGV[1])
if seen and tonumber(seen) >= tonumber(ARGV[3]) then return false end
local t = redis.call('TIME')
local ms = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local last = tonumber(redis.call('HGET', KEYS[2], '#t') or '0')
if ms < last then ms = last end
local n = redis.call('HINCRBY', KEYS[2], '#n', 1)
local id = string.format('%.0f-%d', ms, n)
redis.call('HSET', KEYS[2], ARGV[1], ARGV[3], '#t', string.format('%.0f', ms))
return redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[4], id, 'n', ARGV[1], 'a', ARGV[2], 'b', ARGV[3], 'f', ARGV[5])
`;
const APPEND_SHA = createHash('sha1').update(APPEND_LUA).digest('hex');

/** A dedicated connection whose outages are told once each (broker/redisBackends.ts does the same). */
export function feedConnection(url: string, role: string, log: FeedLog | undefined, opts: { autoResend: boolean; name: string }): Redis {
  // No per-command retry limit: a command waits for the connection to come back (the feed
  // must not drop a batch or end a read because Redis restarted); stop() ends the wait. The
  // name is what CLIENT LIST shows.
  const conn = new Redis(url, { maxRetriesPerRequest: null, autoResendUnfulfilledCommands: opts.autoResend, keepAlive: 10_000, connectionName: opts.name });
  let failing = false;
  let lastError: Error | null = null;
  conn.on('error', (err: Error) => { lastError = err; });
  // 'reconnecting' (not 'close', which our own stop emits too) comes with every retry: told once
  conn.on('reconnecting', () => {
    if (failing) return;
    failing = true;
    log?.down(role, lastError ?? new Error('connection closed'));
  });
  conn.on('ready', () => {
    if (failing) log?.up(role);
    failing = false;
    lastError = null;
  });
  return conn;
}

export interface ReadingBatch {
  readings: readonly Reading[];
  /** the commit's journal frame (readings.stored): the readings' records are cut out of it */
  frame?: Uint8Array | null;
}

export interface ReadingFeedOptions {
  redisUrl: string;
  nodeId: string;
  prefix?: string;
  maxLenPerSlot?: number;
  /** pause before a failed batch is sent again (default 200 ms) */
  retryMs?: number;
  log?: FeedLog;
  /** a batch failed and will be sent again (an outage is told by `log` as well) */
  onError?: (err: Error) => void;
}

interface Entry {
  slot: number;
  first: number;
  last: number;
  frame: Buffer;
}

interface Job {
  entries: Entry[];
  /** the batch's last seq: this node's readings through it are in the feed once the job is done */
  through: number;
  resolve(): void;
  reject(err: Error): void;
}

export class ReadingFeed {
  private readonly conn: Redis;
  private readonly prefix: string;
  private readonly maxLen: number;
  private readonly queue: Job[] = [];
  private draining = false;
  private stopped = false;
  private scriptLoaded = false;
  private wakeRetry: (() => void) | null = null;

  constructor(private readonly opts: ReadingFeedOptions) {
    this.prefix = opts.prefix ?? DEFAULT_PREFIX;
    this.maxLen = opts.maxLenPerSlot ?? DEFAULT_MAX_LEN_PER_SLOT;
    // resending what was in flight is safe: the script skips what it already appended
    this.conn = feedConnection(opts.redisUrl, 'reading feed (publish)', opts.log, { autoResend: true, name: `feed-publish:${opts.nodeId}` });
    // a server restarted (or failed over) may not have the script any more
    this.conn.on('close', () => { this.scriptLoaded = false; });
  }

  /**
   * Appends the batch's readings to the streams of their slots (a reading routed to several
   * slots goes to each), after every batch published before it: each slot's stream has this
   * node's readings in commit order. Resolves once every entry is in Redis; through an outage
   * it waits and sends again, so it rejects only when the feed stops first.
   */
  publish(batch: ReadingBatch, slotsOf: (reading: Reading) => readonly number[]): Promise<void> {
    if (this.stopped) return Promise.reject(new Error('the reading feed is stopped'));
    if (!batch.readings.length) return Promise.resolve();
    return this.enqueue(this.entries(batch, slotsOf), batch.readings.at(-1)!.seq);
  }

  /**
   * The seq through which this node's readings are all in the feed (its publishes are in
   * order), or null when it never published: where a restart republishes from
   * (cluster/clusterAlerts.ts), as a commit may have happened without its publish (a kill
   * between the two).
   */
  async publishedThrough(): Promise<number | null> {
    const v = await this.conn.get(publishedKey(this.prefix, this.opts.nodeId));
    return v === null ? null : Number(v);
  }

  /**
   * Readings of this node published again after a restart: each slot takes only those after
   * the last seq it already has from this node (an entry is appended whole, so a reading it
   * already holds would otherwise reach its rules twice).
   */
  async republish(readings: readonly Reading[], slotsOf: (reading: Reading) => readonly number[]): Promise<number> {
    if (!readings.length) return 0;
    const entries = this.entries({ readings }, slotsOf);
    const p = this.conn.pipeline();
    for (const e of entries) p.hget(metaKey(this.prefix, e.slot), this.opts.nodeId);
    const seen = ((await p.exec()) ?? []).map(([err, v]) => {
      if (err) throw err;
      return v === null ? 0 : Number(v);
    });
    const fresh: Entry[] = [];
    entries.forEach((e, i) => {
      const after = readings.filter((r) => r.seq > seen[i]! && slotsOf(r).includes(e.slot));
      if (after.length) fresh.push({ slot: e.slot, first: after[0]!.seq, last: after.at(-1)!.seq, frame: encodeFrame(after, []) });
    });
    await this.enqueue(fresh, readings.at(-1)!.seq);
    return fresh.length;
  }

  private enqueue(entries: Entry[], through: number): Promise<void> {
    return new Promise((resolve, reject) => {
      this.queue.push({ entries, through, resolve, reject });
      void this.drain();
    });
  }

  /** Batches waiting for Redis (for the caller's backpressure and metrics). */
  pending(): number {
    return this.queue.length;
  }

  /** Batches not yet in Redis are rejected (the journal still has them); the connection is closed. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.wakeRetry?.();
    const left = this.queue.splice(0);
    for (const job of left) job.reject(new Error('the reading feed stopped before the batch was published'));
    // QUIT would wait in the offline queue for a server that is down; nothing is left to flush
    if (this.conn.status === 'ready' && !left.length) await this.conn.quit().catch(() => this.conn.disconnect());
    else this.conn.disconnect();
  }

  private entries(batch: ReadingBatch, slotsOf: (reading: Reading) => readonly number[]): Entry[] {
    const bySlot = new Map<number, number[]>();
    batch.readings.forEach((r, i) => {
      for (const slot of slotsOf(r)) {
        const list = bySlot.get(slot);
        if (!list) bySlot.set(slot, [i]);
        else if (list[list.length - 1] !== i) list.push(i); // a slot named twice for one reading
      }
    });
    const ranges = batch.frame ? recordRanges(batch.frame, batch.readings) : null;
    const entries: Entry[] = [];
    for (const [slot, indexes] of [...bySlot].sort((a, b) => a[0] - b[0])) {
      const frame = ranges ? subsetFrame(batch.frame!, ranges, indexes) : encodeFrame(indexes.map((i) => batch.readings[i]!), []);
      entries.push({ slot, first: batch.readings[indexes[0]!]!.seq, last: batch.readings[indexes[indexes.length - 1]!]!.seq, frame });
    }
    return entries;
  }

  private async drain(): Promise<void> {
    if (this.draining) return;
    this.draining = true;
    try {
      while (this.queue.length && !this.stopped) {
        const job = this.queue[0]!;
        try {
          await this.send(job.entries, job.through);
        } catch (err) {
          if (this.stopped) break;
          this.opts.onError?.(err instanceof Error ? err : new Error(String(err)));
          await new Promise<void>((resolve) => {
            const t = setTimeout(resolve, this.opts.retryMs ?? 200);
            this.wakeRetry = () => { clearTimeout(t); resolve(); };
          });
          this.wakeRetry = null;
          continue;
        }
        this.queue.shift();
        job.resolve();
      }
    } finally {
      this.draining = false;
    }
  }

  /** One pipeline: the script (when this connection may not have it), one append per slot, and how far this node is published. */
  private async send(entries: Entry[], through: number): Promise<void> {
    const p = this.conn.pipeline();
    const loading = !this.scriptLoaded;
    if (loading) p.script('LOAD', APPEND_LUA);
    for (const e of entries) {
      p.evalsha(APPEND_SHA, 2, streamKey(this.prefix, e.slot), metaKey(this.prefix, e.slot), this.opts.nodeId, e.first, e.last, this.maxLen, e.frame);
    }
    // batches are sent one at a time in commit order: the mark only grows
    p.set(publishedKey(this.prefix, this.opts.nodeId), through);
    const results = (await p.exec()) ?? [];
    const failed = results.find(([err]) => err)?.[0];
    if (failed) {
      if (failed.message.includes('NOSCRIPT')) this.scriptLoaded = false;
      throw failed;
    }
    if (results.length !== entries.length + 1 + (loading ? 1 : 0)) throw new Error('the pipeline was not answered whole');
    this.scriptLoaded = true;
  }
}

const BINARY = 0x01;
/** seq, receivedAt, ts (f64 each), qos, kind */
const RECORD_FIXED = 26;
/** family, channel, deviceId, msgId, payload */
const RECORD_STRINGS = 5;
const NO_LETTERS = Buffer.from('[]');

/**
 * Where each reading's record starts in a binary journal frame (store/journal/frame.ts), and
 * where the last ends; null when the frame is not of these readings in this order (then the
 * subset is encoded afresh).
 */
export function recordRanges(frame: Uint8Array, readings: readonly Reading[]): number[] | null {
  const b = Buffer.from(frame.buffer, frame.byteOffset, frame.byteLength);
  let at = FRAME_HEADER_BYTES;
  if (b.length < at + 5 || b[at] !== BINARY || b.readUInt32LE(at + 1) !== readings.length) return null;
  at += 5;
  const starts: number[] = [];
  for (const r of readings) {
    if (at + RECORD_FIXED > b.length || b.readDoubleLE(at) !== r.seq) return null;
    starts.push(at);
    at += RECORD_FIXED;
    for (let s = 0; s < RECORD_STRINGS; s++) {
      if (at + 4 > b.length) return null;
      at += 4 + b.readUInt32LE(at);
    }
    if (at > b.length) return null;
  }
  starts.push(at);
  return starts;
}

/** A journal frame of the readings at `indexes`: their records copied, no dead letters. */
export function subsetFrame(frame: Uint8Array, starts: readonly number[], indexes: readonly number[]): Buffer {
  const src = Buffer.from(frame.buffer, frame.byteOffset, frame.byteLength);
  let size = FRAME_HEADER_BYTES + 5 + 4 + NO_LETTERS.length;
  for (const i of indexes) size += starts[i + 1]! - starts[i]!;
  const out = Buffer.allocUnsafe(size);
  let at = FRAME_HEADER_BYTES;
  out[at++] = BINARY;
  at = out.writeUInt32LE(indexes.length, at);
  for (const i of indexes) at += src.copy(out, at, starts[i]!, starts[i + 1]!);
  at = out.writeUInt32LE(NO_LETTERS.length, at);
  at += NO_LETTERS.copy(out, at);
  out.writeUInt32LE(at - FRAME_HEADER_BYTES, 0);
  out.writeUInt32LE(crc32(out.subarray(FRAME_HEADER_BYTES, at)), 4);
  return out;
}
