/**
 * The owner's side of the reading feed (cluster/readingFeed.ts): the readings of the slots
 * this node owns, per slot in stream order (each source node's commit order), from the
 * positions the owner gives (its checkpoint, or START), each delivery with its position so the
 * owner can checkpoint it and a successor can resume after it.
 *
 *  - One blocking XREAD over every owned stream at a time, on a connection of its own (a
 *    blocking read holds its connection); a second one only interrupts it (CLIENT UNBLOCK)
 *    when a slot is taken, so the new slot does not wait for the block to time out.
 *  - Backpressure: the next read is issued once every delivery of the last one has settled;
 *    a delivery whose handler rejects is delivered again after retryMs (the slot waits).
 *  - A slot's position advances only when its handler has settled, so a read lost to an
 *    outage is read again from the same place: nothing is delivered twice in one consumer's
 *    life, and nothing is skipped; a gap in the entries' numbers (trimmed before they were
 *    read, or a Redis that lost its data) is told to `onGap`, with how many entries are gone.
 *  - stop() closes the blocking connection at once, which ends the read in flight.
 */
import type { Redis } from 'ioredis';
import type { Reading } from '../core/reading.js';
import { decodeFrames } from '../store/journal/frame.js';
import { DEFAULT_PREFIX, feedConnection, parsePosition, START, streamKey, type FeedLog, type Position } from './readingFeed.js';

export interface FeedDelivery {
  slot: number;
  /** the entry's id: checkpoint it; own(slot, position) later resumes after it */
  position: string;
  /** the node that stored the readings, and its seqs (its own numbering) */
  node: string;
  firstSeq: number;
  lastSeq: number;
  readings: Reading[];
}

/** Entries of a slot that will never be delivered: trimmed before they were read, or lost by Redis. */
export class FeedGap extends Error {
  constructor(readonly slot: number, readonly after: string, readonly next: string, readonly lost: number | null) {
    super(lost === null
      ? `slot ${slot}: the stream began again after ${after} (Redis lost its data): an unknown number of entries after ${after} are gone; reading on from ${next}`
      : `slot ${slot}: ${lost} ${lost === 1 ? 'entry' : 'entries'} after ${after} were trimmed before they were read (the stream keeps its last maxLenPerSlot); reading on from ${next}`);
    this.name = 'FeedGap';
  }
}

export interface ReadingFeedConsumerOptions {
  redisUrl: string;
  prefix?: string;
  /** this node's id, in the connections' names (CLIENT LIST) */
  name?: string;
  /** one entry's readings; the slot's next delivery waits for it to settle (a rejection is retried) */
  onDelivery: (d: FeedDelivery) => Promise<void> | void;
  /** told before the entry after a gap is delivered */
  onGap: (gap: FeedGap) => Promise<void> | void;
  /** a handler that failed (delivered again after retryMs), or a read that failed while connected */
  onError?: (err: Error, slot: number | null) => void;
  log?: FeedLog;
  /** how long one XREAD blocks (default 2000 ms) */
  blockMs?: number;
  /** entries per stream per read (default 100) */
  count?: number;
  retryMs?: number;
}

interface Owned {
  slot: number;
  key: string;
  /** the last position delivered (or given to own) */
  cursor: string;
  at: Position;
}

type StreamReply = Array<[Buffer, Array<[Buffer, Buffer[]]>]>;

const asError = (err: unknown): Error => (err instanceof Error ? err : new Error(String(err)));

export class ReadingFeedConsumer {
  private readonly owned = new Map<number, Owned>();
  private readonly prefix: string;
  private blocking: Redis | null = null;
  private control: Redis | null = null;
  private blockingId: number | null = null;
  /** the read in flight, with the ownership generation it was issued for */
  private reading: { gen: number } | null = null;
  private gen = 0;
  private active: { owned: Owned; done: Promise<void> } | null = null;
  private loop: Promise<void> | null = null;
  private stopped = false;
  private readonly wakers = new Set<() => void>();

  constructor(private readonly opts: ReadingFeedConsumerOptions) {
    this.prefix = opts.prefix ?? DEFAULT_PREFIX;
  }

  start(): void {
    if (this.loop) return;
    // Not resent after a reconnect: the loop reads again itself, after learning the new CLIENT
    // ID. ioredis drops such a command without settling it, so the loop races each command
    // with the connection's close (guarded()) and sends one only while the connection is ready.
    const name = this.opts.name ?? '';
    this.blocking = feedConnection(this.opts.redisUrl, 'reading feed (read)', this.opts.log, { autoResend: false, name: `feed-read:${name}` });
    this.blocking.on('close', () => { this.blockingId = null; });
    this.control = feedConnection(this.opts.redisUrl, 'reading feed (control)', undefined, { autoResend: false, name: `feed-control:${name}` });
    this.loop = this.run();
  }

  /** Deliver the slot's entries after `from` (a delivered position, or START). Taking a slot again starts it afresh. */
  own(slot: number, from: string = START): void {
    const at = parsePosition(from);
    this.owned.set(slot, { slot, key: streamKey(this.prefix, slot), cursor: from, at });
    this.gen++;
    this.wake();
    void this.unblock();
  }

  /**
   * No delivery of the slot starts after this is called; resolves once one in progress has
   * settled, with the slot's last delivered position (what its checkpoint should hold).
   */
  async disown(slot: number): Promise<string | null> {
    const o = this.owned.get(slot);
    if (!o) return null;
    this.owned.delete(slot);
    this.gen++;
    this.wake();
    if (this.active?.owned === o) await this.active.done;
    return o.cursor;
  }

  /** The last delivered position of each owned slot. */
  positions(): Map<number, string> {
    return new Map([...this.owned.values()].map((o) => [o.slot, o.cursor]));
  }

  /** Ends the read in flight at once; resolves after a delivery in progress has settled. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.wake();
    // a blocked XREAD holds its connection: QUIT would wait behind it, so the socket is closed
    this.blocking?.disconnect();
    this.control?.disconnect();
    await this.loop;
  }

  private async run(): Promise<void> {
    const blocking = this.blocking!;
    while (!this.stopped) {
      if (!this.owned.size) {
        await this.sleep(null);
        continue;
      }
      if (blocking.status !== 'ready') {
        await this.readyOrWoken(blocking);
        continue;
      }
      let owned: Owned[] = [];
      let reply: StreamReply | null;
      try {
        if (this.blockingId === null) this.blockingId = Number(await this.guarded(blocking.client('ID')));
        // the slots are taken after the last await before the XREAD: a slot owned later is
        // seen by unblock() as newer than the read in flight
        owned = [...this.owned.values()];
        if (!owned.length) continue;
        this.reading = { gen: this.gen };
        reply = await this.guarded(blocking.callBuffer('XREAD', ['COUNT', this.opts.count ?? 100, 'BLOCK', this.opts.blockMs ?? 2000, 'STREAMS',
          ...owned.map((o) => o.key), ...owned.map((o) => o.cursor)]) as Promise<StreamReply | null>);
      } catch (err) {
        if (this.stopped) break;
        // an outage is told once by the connection's log; the next read waits for it to be back
        if (blocking.status === 'ready') this.opts.onError?.(asError(err), null);
        await this.sleep(this.opts.retryMs ?? 200);
        continue;
      } finally {
        this.reading = null;
      }
      if (!reply) continue; // timed out, or unblocked because the owned slots changed
      const byKey = new Map(owned.map((o) => [o.key, o]));
      for (const [key, entries] of reply) {
        const o = byKey.get(key.toString())!;
        for (const [id, fields] of entries) {
          // disowned (or owned again from elsewhere) meanwhile: the rest of this read is not ours
          if (this.stopped || this.owned.get(o.slot) !== o) break;
          const done = this.deliver(o, id.toString(), fields);
          this.active = { owned: o, done };
          await done;
          this.active = null;
        }
      }
    }
  }

  private async deliver(o: Owned, id: string, fields: Buffer[]): Promise<void> {
    const at = parsePosition(id);
    if (at.n !== o.at.n + 1) {
      // ids only grow, so a number not above ours means the stream was made anew (counting from 1)
      const gap = new FeedGap(o.slot, o.cursor, id, at.n > o.at.n ? at.n - o.at.n - 1 : null);
      try {
        await this.opts.onGap(gap);
      } catch (err) {
        this.opts.onError?.(asError(err), o.slot);
      }
    }
    const d = decodeEntry(o.slot, id, fields);
    if (d instanceof Error) {
      // not an entry the feed wrote: nothing to deliver, and waiting will not change it
      this.opts.onError?.(d, o.slot);
    } else {
      for (;;) {
        try {
          await this.opts.onDelivery(d);
          break;
        } catch (err) {
          this.opts.onError?.(asError(err), o.slot);
          await this.sleep(this.opts.retryMs ?? 200);
          if (this.stopped || this.owned.get(o.slot) !== o) return;
        }
      }
    }
    o.cursor = id;
    o.at = at;
  }

  /**
   * Ends the blocked read when the owned slots changed since it was issued. CLIENT UNBLOCK
   * does nothing when the read has not reached the server yet, so it is tried again while that
   * read is still in flight (a few times: the block's timeout bounds the wait anyway).
   */
  private async unblock(): Promise<void> {
    for (let i = 0; i < 20; i++) {
      const r = this.reading;
      if (!r || r.gen === this.gen || this.blockingId === null || this.stopped || this.control?.status !== 'ready') return;
      const done = await this.control.client('UNBLOCK', this.blockingId).catch(() => 0);
      if (done === 1) return;
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  }

  /** The command's outcome, or a rejection when the blocking connection closes first. */
  private guarded<T>(command: Promise<T>): Promise<T> {
    const conn = this.blocking!;
    return new Promise<T>((resolve, reject) => {
      const onClose = (): void => reject(new Error('the connection closed during the command'));
      conn.once('close', onClose);
      command.then((v) => { conn.off('close', onClose); resolve(v); }, (e: unknown) => { conn.off('close', onClose); reject(asError(e)); });
    });
  }

  private readyOrWoken(conn: Redis): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        conn.off('ready', done);
        this.wakers.delete(done);
        resolve();
      };
      conn.once('ready', done);
      this.wakers.add(done);
    });
  }

  private wake(): void {
    for (const w of [...this.wakers]) w();
  }

  /** Waits ms (null: until woken); own(), disown() and stop() wake it. */
  private sleep(ms: number | null): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        if (t) clearTimeout(t);
        this.wakers.delete(done);
        resolve();
      };
      const t = ms === null ? null : setTimeout(done, ms);
      this.wakers.add(done);
    });
  }
}

function decodeEntry(slot: number, position: string, fields: Buffer[]): FeedDelivery | Error {
  const f = new Map<string, Buffer>();
  for (let i = 0; i + 1 < fields.length; i += 2) f.set(fields[i]!.toString(), fields[i + 1]!);
  const frame = f.get('f');
  const node = f.get('n');
  if (frame && node) {
    const { batches, validBytes } = decodeFrames(frame);
    if (batches.length === 1 && validBytes === frame.length) {
      return { slot, position, node: node.toString(), firstSeq: Number(f.get('a')?.toString()), lastSeq: Number(f.get('b')?.toString()), readings: batches[0]!.readings };
    }
  }
  return new Error(`slot ${slot}: entry ${position} is not a frame of readings; skipped`);
}
