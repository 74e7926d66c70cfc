/**
 * The reading feed (cluster/readingFeed.ts, cluster/readingFeedConsumer.ts) on a real
 * redis-server on loopback: per slot, each source node's readings in commit order, exactly
 * once; positions to resume from after a takeover or a restart; the length bound and the gap
 * it leaves reported with its size; a Redis restart (with its data kept) survived with nothing
 * lost; stop() prompt while a read is blocked. Each test uses its own key prefix.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Reading } from '../../core/reading.js';
import { ReadingFeed, START, parsePosition, streamKey, type FeedLog } from '../../cluster/readingFeed.js';
import { FeedGap, ReadingFeedConsumer, type FeedDelivery, type ReadingFeedConsumerOptions } from '../../cluster/readingFeedConsumer.js';
import { programs } from '../helpers/external.js';
import { RedisServer } from '../helpers/redisServer.js';
import { committed, reading, settle, slotsOf, waitFor } from './feedFixtures.js';

const redisBin = programs(['redis-server'], 'redis-server');
const bin = redisBin.ok ? redisBin.paths['redis-server']! : '';

let redis: RedisServer;
let admin: Redis;
const closers: Array<() => Promise<void>> = [];
let prefixes = 0;
let consumers = 0;
const newPrefix = (): string => `t${++prefixes}:`;

function feed(prefix: string, nodeId: string, extra: Partial<ConstructorParameters<typeof ReadingFeed>[0]> = {}): ReadingFeed {
  const f = new ReadingFeed({ redisUrl: redis.url, nodeId, prefix, retryMs: 50, ...extra });
  closers.push(() => f.stop());
  return f;
}

/** A consumer that keeps what it gets, per slot, with a checkpoint of the last position per slot. */
function consumer(prefix: string, extra: Partial<ReadingFeedConsumerOptions> = {}, handlerMs = 0) {
  const got: FeedDelivery[] = [];
  const gaps: FeedGap[] = [];
  const errors: Error[] = [];
  const checkpoint = new Map<number, string>();
  const name = `${prefix}${++consumers}`;
  const c = new ReadingFeedConsumer({
    redisUrl: redis.url, prefix, name, blockMs: 500, retryMs: 50,
    onDelivery: async (d) => {
      if (handlerMs) await settle(handlerMs);
      got.push(d);
      checkpoint.set(d.slot, d.position);
    },
    onGap: (g) => { gaps.push(g); },
    onError: (e) => { errors.push(e); },
    ...extra,
  });
  closers.push(() => c.stop());
  c.start();
  const of = (slot: number): FeedDelivery[] => got.filter((d) => d.slot === slot);
  const seqs = (slot: number): Array<[string, number]> => of(slot).flatMap((d) => d.readings.map((r): [string, number] => [d.node, r.seq]));
  return { c, name, got, gaps, errors, checkpoint, of, seqs };
}

/** Whether the consumer named `name` has its XREAD blocked on the server. */
async function blocked(name: string): Promise<boolean> {
  const list = await admin.client('LIST') as string;
  return list.split('\n').some((l) => l.includes(`name=feed-read:${name} `) && l.includes('cmd=xread') && l.includes('flags=b'));
}

describe.skipIf(!redisBin.ok)('reading feed over Redis streams', () => {
  beforeAll(async () => {
    redis = await RedisServer.start(bin);
    admin = new Redis(redis.url);
  });
  afterAll(async () => {
    for (const close of closers.splice(0).reverse()) await close();
    admin?.disconnect();
    await redis?.dispose();
  });

  it('delivers a node\'s readings per slot in commit order, once per slot a reading routes to, as they were committed', async () => {
    const prefix = newPrefix();
    const a = feed(prefix, 'node-a');
    const all: Reading[] = [];
    let seq = 0;
    for (let b = 0; b < 30; b++) {
      const rs = Array.from({ length: 5 }, (_, i) => reading(++seq, i === 4 && b % 3 === 0 ? 'multi' : `dev-${(b + i) % 4}`));
      all.push(...rs);
      // every third commit has no frame (a store that does not journal): encoded afresh
      await a.publish(committed(rs, b % 3 !== 2), slotsOf);
    }
    const k = consumer(prefix);
    for (const slot of [0, 1, 2, 3, 7]) k.c.own(slot, START);
    const expected = (slot: number): Reading[] => all.filter((r) => slotsOf(r).includes(slot));
    await waitFor('every reading', () => [0, 1, 2, 3, 7].every((s) => k.seqs(s).length === expected(s).length));
    await settle(100);
    for (const slot of [0, 1, 2, 3, 7]) {
      expect(k.of(slot).flatMap((d) => d.readings)).toEqual(expected(slot));
      expect(k.of(slot).every((d) => d.node === 'node-a' && d.firstSeq === d.readings[0]!.seq && d.lastSeq === d.readings.at(-1)!.seq)).toBe(true);
    }
    expect(k.of(7).flatMap((d) => d.readings.map((r) => r.deviceId))).toEqual(Array(10).fill('multi'));
    // one entry per commit and slot: positions grow by one entry number each
    const ns = k.of(1).map((d) => parsePosition(d.position).n);
    expect(ns).toEqual(ns.map((_, i) => i + 1));
    expect(k.gaps).toEqual([]);
    expect(k.errors).toEqual([]);
  });

  it('two nodes interleaved in one slot\'s stream keep each node\'s order', async () => {
    const prefix = newPrefix();
    const a = feed(prefix, 'node-a');
    const b = feed(prefix, 'node-b');
    const k = consumer(prefix);
    k.c.own(5, START);
    const run = async (f: ReadingFeed, base: number): Promise<void> => {
      for (let i = 0; i < 40; i++) {
        const rs = [reading(base + 2 * i, 'dev-5'), reading(base + 2 * i + 1, 'dev-5')];
        // not awaited one by one: commits queue as they do under load, and must stay in order
        void f.publish(committed(rs), slotsOf);
        if (i % 7 === 0) await settle(1);
      }
      await f.publish(committed([reading(base + 1000, 'dev-5')]), slotsOf);
    };
    await Promise.all([run(a, 0), run(b, 5000)]);
    await waitFor('both nodes\' readings', () => k.seqs(5).length === 162);
    const per = (node: string): number[] => k.seqs(5).filter(([n]) => n === node).map(([, s]) => s);
    expect(per('node-a')).toEqual([...Array.from({ length: 80 }, (_, i) => i), 1000]);
    expect(per('node-b')).toEqual([...Array.from({ length: 80 }, (_, i) => 5000 + i), 6000]);
    // the two nodes' entries did interleave in the stream (else this test proves nothing)
    const nodes = k.of(5).map((d) => d.node);
    expect(nodes.indexOf('node-b')).toBeLessThan(nodes.lastIndexOf('node-a'));
    expect(nodes.indexOf('node-a')).toBeLessThan(nodes.lastIndexOf('node-b'));
  });

  it('a batch sent again (a retry, a restart\'s republish from the journal) is appended once', async () => {
    const prefix = newPrefix();
    const a = feed(prefix, 'node-a');
    const batch = committed([reading(1, 'dev-3'), reading(2, 'multi')]);
    await a.publish(batch, slotsOf);
    await a.publish(batch, slotsOf);
    const again = feed(prefix, 'node-a');
    await again.publish(batch, slotsOf);
    expect(await admin.xlen(streamKey(prefix, 3))).toBe(1);
    expect(await admin.xlen(streamKey(prefix, 7))).toBe(1);
    await again.publish(committed([reading(3, 'dev-3')]), slotsOf);
    expect(await admin.xlen(streamKey(prefix, 3))).toBe(2);
  });

  it('after a restart, readings stored but not published go to each slot once: a slot takes only what it lacks', async () => {
    const prefix = newPrefix();
    const a = feed(prefix, 'node-a');
    expect(await a.publishedThrough()).toBeNull();
    await a.publish(committed([reading(1, 'dev-3'), reading(2, 'multi')]), slotsOf);
    expect(await a.publishedThrough()).toBe(2);
    // killed after committing 3..5 but before publishing them; 4 had reached slot 7 only (a batch cut short)
    await a.publish(committed([reading(4, 'multi')]), (r) => (r.seq === 4 ? [7] : slotsOf(r)));
    const again = feed(prefix, 'node-a');
    const c = consumer(prefix);
    for (const slot of [1, 3, 7]) c.c.own(slot);
    const appended = await again.republish([reading(3, 'dev-3'), reading(4, 'multi'), reading(5, 'dev-7')], slotsOf);
    expect(appended).toBe(3);
    await waitFor('the republished readings', () => c.seqs(7).length === 3 && c.seqs(1).length === 2 && c.seqs(3).length === 2);
    await settle(100);
    expect(c.seqs(3)).toEqual([['node-a', 1], ['node-a', 3]]);
    expect(c.seqs(1)).toEqual([['node-a', 2], ['node-a', 4]]);
    expect(c.seqs(7)).toEqual([['node-a', 2], ['node-a', 4], ['node-a', 5]]);
    expect(await again.publishedThrough()).toBe(5);
    // once more: nothing new for anyone
    expect(await again.republish([reading(3, 'dev-3'), reading(4, 'multi'), reading(5, 'dev-7')], slotsOf)).toBe(0);
  });

  it('a slot owned mid-stream from a position delivers exactly the entries after it; disown stops its delivery', async () => {
    const prefix = newPrefix();
    const a = feed(prefix, 'node-a');
    for (let s = 1; s <= 10; s++) await a.publish(committed([reading(s, 'dev-2')]), slotsOf);
    const first = consumer(prefix);
    first.c.own(2, START);
    await waitFor('ten entries', () => first.of(2).length === 10);
    const fourth = first.of(2)[3]!.position;

    // blocked on slot 3 for far longer than the test waits: owning slot 2 must end that read
    const k = consumer(prefix, { blockMs: 60_000 });
    k.c.own(3, START);
    await waitFor('the read to block', () => blocked(k.name));
    k.c.own(2, fourth);
    await waitFor('the entries after the position', () => k.of(2).length === 6, 3000);
    expect(k.seqs(2).map(([, s]) => s)).toEqual([5, 6, 7, 8, 9, 10]);

    await a.publish(committed([reading(11, 'dev-2'), reading(12, 'dev-3')]), slotsOf);
    await waitFor('new entries', () => k.of(2).length === 7 && k.of(3).length === 1);
    expect(await k.c.disown(2)).toBe(k.of(2)[6]!.position);
    expect(k.c.positions()).toEqual(new Map([[3, k.of(3)[0]!.position]]));
    await a.publish(committed([reading(13, 'dev-2'), reading(14, 'dev-3')]), slotsOf);
    await a.publish(committed([reading(15, 'dev-2')]), slotsOf);
    await waitFor('slot 3 still delivered', () => k.of(3).length === 2);
    await settle(300);
    expect(k.seqs(2).map(([, s]) => s)).toEqual([5, 6, 7, 8, 9, 10, 11]);
    expect(k.seqs(3).map(([, s]) => s)).toEqual([12, 14]);
    expect(k.gaps).toEqual([]);
  });

  it('a consumer restarted from its checkpointed positions replays exactly the rest', async () => {
    const prefix = newPrefix();
    const a = feed(prefix, 'node-a');
    const b = feed(prefix, 'node-b');
    const published: Array<[string, number, number]> = [];
    const publish = async (f: ReadingFeed, node: string, seq: number): Promise<void> => {
      const rs = [reading(seq, `dev-${seq % 4}`), reading(seq + 10_000, `dev-${(seq + 1) % 4}`)];
      for (const r of rs) published.push([node, r.seq, slotsOf(r)[0]!]);
      await f.publish(committed(rs), slotsOf);
    };
    for (let s = 1; s <= 40; s++) await publish(s % 2 ? a : b, s % 2 ? 'node-a' : 'node-b', s);
    // slow enough that it is stopped mid-stream, with a delivery in progress
    const first = consumer(prefix, {}, 5);
    for (let slot = 0; slot < 4; slot++) first.c.own(slot, START);
    await waitFor('some deliveries', () => first.got.length >= 15);
    await first.c.stop();
    const checkpoint = new Map(first.checkpoint);
    expect(first.got.length).toBeLessThan(80);
    for (let s = 41; s <= 60; s++) await publish(s % 2 ? a : b, s % 2 ? 'node-a' : 'node-b', s);

    const second = consumer(prefix);
    for (let slot = 0; slot < 4; slot++) second.c.own(slot, checkpoint.get(slot) ?? START);
    await waitFor('the rest', () => first.got.length + second.got.length === 120);
    await settle(200);
    const key = ([node, seq, slot]: [string, number, number]): string => `${slot}/${node}/${seq}`;
    const delivered = [...first.got, ...second.got].flatMap((d) => d.readings.map((r) => key([d.node, r.seq, d.slot])));
    expect(new Set(delivered).size).toBe(delivered.length);
    expect([...delivered].sort()).toEqual(published.map(key).sort());
    expect(second.gaps).toEqual([]);
  });

  it('the length bound trims old entries, and a resume from a trimmed position reports how many entries are lost', async () => {
    const prefix = newPrefix();
    // small stream nodes, so the approximate trim (whole nodes) is close to the bound
    await admin.config('SET', 'stream-node-max-entries', '10');
    try {
      const a = feed(prefix, 'node-a', { maxLenPerSlot: 20 });
      await a.publish(committed([reading(1, 'dev-9'), reading(2, 'dev-9')]), () => [9]);
      for (let s = 3; s <= 10; s++) await a.publish(committed([reading(s, 'dev-9')]), slotsOf);
      const early = consumer(prefix);
      early.c.own(9, START);
      await waitFor('the first entries', () => early.of(9).length === 9);
      const checkpoint = early.of(9)[4]!.position; // entry 5, seq 6
      await early.c.stop();
      for (let s = 11; s <= 100; s++) await a.publish(committed([reading(s, 'dev-9')]), slotsOf);
      const kept = await admin.xlen(streamKey(prefix, 9));
      expect(kept).toBeGreaterThanOrEqual(20);
      expect(kept).toBeLessThan(40);

      const late = consumer(prefix);
      late.c.own(9, checkpoint);
      await waitFor('the retained entries', () => late.of(9).length === kept);
      expect(late.gaps).toHaveLength(1);
      const gap = late.gaps[0]!;
      const firstKept = parsePosition(late.of(9)[0]!.position).n;
      // entries 6 .. firstKept-1 are gone: 99 entries in all, 5 read before, `kept` after
      expect(gap.lost).toBe(firstKept - 6);
      expect(gap.lost! + 5 + kept).toBe(99);
      expect(gap).toMatchObject({ slot: 9, after: checkpoint, next: late.of(9)[0]!.position });
      expect(gap.message).toContain(`${gap.lost} entries after ${checkpoint} were trimmed`);
      // the gap is told before the first entry after it, which is then delivered
      expect(late.seqs(9).map(([, s]) => s)).toEqual(Array.from({ length: kept }, (_, i) => 101 - kept + i));

      // from START the same: everything before the first retained entry is reported
      const fresh = consumer(prefix);
      fresh.c.own(9, START);
      await waitFor('the retained entries', () => fresh.of(9).length === kept);
      expect(fresh.gaps.map((g) => g.lost)).toEqual([99 - kept]);
    } finally {
      await admin.config('SET', 'stream-node-max-entries', '100');
    }
  });

  it('a delivery whose handler fails is told and delivered again, and the slot waits for it', async () => {
    const prefix = newPrefix();
    const a = feed(prefix, 'node-a');
    for (let s = 1; s <= 3; s++) await a.publish(committed([reading(s, 'dev-10')]), slotsOf);
    const attempts: number[] = [];
    let failOnce = true;
    const k = consumer(prefix, {
      onDelivery: (d) => {
        attempts.push(d.lastSeq);
        if (d.lastSeq === 2 && failOnce) {
          failOnce = false;
          throw new Error('the owner could not take it');
        }
        k.got.push(d);
      },
    });
    k.c.own(10, START);
    await waitFor('three delivered', () => k.got.length === 3);
    expect(attempts).toEqual([1, 2, 2, 3]);
    expect(k.errors.map((e) => e.message)).toEqual(['the owner could not take it']);
    expect(k.c.positions().get(10)).toBe(k.got[2]!.position);
  });

  it('stop() while a read is blocked returns at once and closes its connection', async () => {
    const prefix = newPrefix();
    const k = consumer(prefix, { blockMs: 60_000 });
    k.c.own(11, START);
    await waitFor('the read to block', () => blocked(k.name));
    const t0 = Date.now();
    await k.c.stop();
    expect(Date.now() - t0).toBeLessThan(500);
    await waitFor('the blocked client gone', async () => !(await admin.client('LIST') as string).includes(`name=feed-read:${k.name} `), 2000);
  });

  it('a Redis that lost its data (restarted empty) is reported as a gap of unknown size, not passed over', async () => {
    const solo = await RedisServer.start(bin);
    try {
      const prefix = newPrefix();
      const a = new ReadingFeed({ redisUrl: solo.url, nodeId: 'node-a', prefix, retryMs: 50 });
      const gaps: FeedGap[] = [];
      const got: number[] = [];
      const c = new ReadingFeedConsumer({ redisUrl: solo.url, prefix, blockMs: 300, retryMs: 50, onDelivery: (d) => { got.push(...d.readings.map((r) => r.seq)); }, onGap: (g) => { gaps.push(g); } });
      c.start();
      c.own(4, START);
      for (let s = 1; s <= 5; s++) await a.publish(committed([reading(s, 'dev-4')]), slotsOf);
      await waitFor('five', () => got.length === 5);
      await solo.stop();
      await solo.start();
      await a.publish(committed([reading(6, 'dev-4')]), slotsOf);
      await waitFor('the reading after the restart', () => got.length === 6);
      expect(gaps).toHaveLength(1);
      expect(gaps[0]!.lost).toBeNull();
      expect(gaps[0]!.message).toContain('Redis lost its data');
      await c.stop();
      await a.stop();
    } finally {
      await solo.dispose();
    }
  });
});

describe.skipIf(!redisBin.ok)('reading feed through a Redis restart', () => {
  let durable: RedisServer;
  beforeAll(async () => { durable = await RedisServer.start(bin, { persist: true }); });
  afterAll(async () => { await durable?.dispose(); });

  it('publisher and consumer ride out restarts, lagging or blocked: nothing lost, nothing twice, each outage told once', async () => {
    const prefix = newPrefix();
    const told: string[] = [];
    const log: FeedLog = { down: (role) => told.push(`down ${role}`), up: (role) => told.push(`up ${role}`) };
    const a = new ReadingFeed({ redisUrl: durable.url, nodeId: 'node-a', prefix, retryMs: 50, log });
    const got: FeedDelivery[] = [];
    const errors: Error[] = [];
    const c = new ReadingFeedConsumer({
      redisUrl: durable.url, prefix, name: 'durable', blockMs: 60_000, retryMs: 50, log, count: 5,
      onDelivery: async (d) => { await settle(10); got.push(d); },
      onGap: (g) => { errors.push(g); },
      onError: (e) => { errors.push(e); },
    });
    const slotOfSeq = (s: number): number => (s % 2 ? 6 : 8);
    const publish = (s: number): Promise<void> => a.publish(committed([reading(s, `dev-${slotOfSeq(s)}`)]), slotsOf);
    const outage = async (seqs: number[]): Promise<void> => {
      await durable.stop();
      // committed while Redis is down: queued, sent once it is back
      const during = seqs.map(publish);
      await settle(400);
      await durable.start();
      await Promise.all(during);
    };
    try {
      c.start();
      c.own(6, START);
      c.own(8, START);
      for (let s = 1; s <= 40; s++) await publish(s);
      // the consumer lags (its handler is slow): most entries are still only in Redis
      await waitFor('some delivered', () => got.length >= 10);
      expect(got.length).toBeLessThan(30);
      await outage(Array.from({ length: 10 }, (_, i) => 41 + i));
      await waitFor('all delivered', () => got.length === 50, 20_000);
      // now caught up, its read blocked on the server when Redis goes
      const admin2 = new Redis(durable.url);
      await waitFor('the read to block', async () => (await admin2.client('LIST') as string).includes('name=feed-read:durable '));
      admin2.disconnect();
      await outage(Array.from({ length: 10 }, (_, i) => 51 + i));
      await waitFor('all delivered', () => got.length === 60, 20_000);
      await settle(200);
      for (const slot of [6, 8]) {
        const seqs = got.filter((d) => d.slot === slot).flatMap((d) => d.readings.map((r) => r.seq));
        expect(seqs).toEqual(Array.from({ length: 60 }, (_, i) => i + 1).filter((s) => slotOfSeq(s) === slot));
      }
      expect(errors).toEqual([]);
      const roles = ['reading feed (publish)', 'reading feed (read)'];
      expect(told.filter((t) => t.startsWith('down')).sort()).toEqual(roles.flatMap((r) => [`down ${r}`, `down ${r}`]));
      expect(told.filter((t) => t.startsWith('up')).sort()).toEqual(roles.flatMap((r) => [`up ${r}`, `up ${r}`]));
    } finally {
      await c.stop();
      await a.stop();
    }
  });
});
