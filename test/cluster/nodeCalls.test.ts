/**
 * Calls between nodes (cluster/nodeCalls.ts) on a real redis-server on loopback: two nodes, a
 * and b, over one Redis. A value comes back; a CodedError crosses with its code, message and
 * details (the HTTP layer answers as if local); any other error as a plain Error; an unknown
 * method is an error reply; a node nobody listens for fails at once with node_unreachable, a
 * handler that never settles after the timeout, and calls past the bound at once ("busy");
 * a call to itself runs directly; a malformed message on either channel is dropped and logged,
 * and the node goes on answering; stop() fails the calls in flight.
 */
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CodedError } from '../../core/codes.js';
import { callChannel, NodeCalls, replyChannel, type NodeCallsOptions } from '../../cluster/nodeCalls.js';
import { programs } from '../helpers/external.js';
import { RedisServer } from '../helpers/redisServer.js';

const redisBin = programs(['redis-server'], 'redis-server');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A logger that keeps what was logged at warn and above. */
function recordingLog(): { log: NodeCallsOptions['log']; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const log = pino({ level: 'warn' }, { write: (s: string) => { lines.push(JSON.parse(s) as Record<string, unknown>); } });
  return { log, lines };
}

/** What the code and its status look like to the HTTP error handler. */
async function failure(p: Promise<unknown>): Promise<{ err: Error; code?: string; details?: unknown; ms: number }> {
  const start = performance.now();
  try {
    await p;
  } catch (err) {
    const e = err as Error;
    return { err: e, ...(e instanceof CodedError ? { code: e.code, details: e.details } : {}), ms: performance.now() - start };
  }
  throw new Error('the call did not fail');
}

describe.skipIf(!redisBin.ok)(`calls between nodes over Redis${redisBin.ok ? '' : ` (skipped: ${redisBin.reason})`}`, () => {
  let redis: RedisServer;
  let admin: Redis;
  const nodes: NodeCalls[] = [];
  beforeAll(async () => {
    redis = await RedisServer.start(redisBin.ok ? redisBin.paths['redis-server']! : '');
    admin = new Redis(redis.url);
    // its outage in the last case is the test's own doing
    admin.on('error', () => undefined);
  });
  afterEach(async () => { await Promise.all(nodes.splice(0).map((n) => n.stop())); });
  afterAll(async () => {
    admin?.disconnect();
    await redis?.dispose();
  });

  async function node(nodeId: string, handlers: NodeCallsOptions['handlers'] = {}, extra: Partial<NodeCallsOptions> = {}): Promise<NodeCalls> {
    const n = new NodeCalls({ redisUrl: redis.url, nodeId, log: pino({ level: 'silent' }), handlers, ...extra });
    nodes.push(n);
    await n.start();
    return n;
  }

  const handlers: NodeCallsOptions['handlers'] = {
    echo: async (args) => ({ got: args, on: 'b' }),
    refuse: async () => { throw new CodedError('alert_conflict', 'alert a1 is resolved', { reason: 'alert_closed', alertId: 'a1' }); },
    crash: async () => { throw new TypeError('cannot read x of undefined'); },
    hang: () => new Promise(() => undefined),
  };

  it('a call runs on the other node and its value comes back', async () => {
    const a = await node('a');
    await node('b', handlers);
    expect(await a.call('b', 'echo', { alertId: 'a1', note: 'é\u0000' })).toEqual({ got: { alertId: 'a1', note: 'é\u0000' }, on: 'b' });
    // several at once, each to its own caller
    const many = await Promise.all(Array.from({ length: 20 }, (_, i) => a.call<{ got: number }>('b', 'echo', i)));
    expect(many.map((r) => r.got)).toEqual(Array.from({ length: 20 }, (_, i) => i));
  });

  it('a CodedError crosses with its code, message and details; another error as a plain Error with its message', async () => {
    const a = await node('a');
    await node('b', handlers);
    const coded = await failure(a.call('b', 'refuse', {}));
    expect(coded.err).toBeInstanceOf(CodedError);
    expect(coded).toMatchObject({ code: 'alert_conflict', details: { reason: 'alert_closed', alertId: 'a1' } });
    expect(coded.err.message).toBe('alert a1 is resolved');
    expect((coded.err as CodedError).statusCode).toBe(409);
    const plain = await failure(a.call('b', 'crash', {}));
    expect(plain.err).not.toBeInstanceOf(CodedError);
    expect(plain.err.message).toBe('cannot read x of undefined');
  });

  it('an unknown method (or one of Object\'s own) is an error reply, not a crash', async () => {
    const a = await node('a');
    await node('b', handlers);
    for (const method of ['nope', 'constructor', '__proto__', 'toString']) {
      const f = await failure(a.call('b', method, {}));
      expect(f.code).toBeUndefined();
      expect(f.err.message).toBe(`node b has no method ${method}`);
    }
  });

  it('a node nobody listens for fails at once with node_unreachable (503), naming the node and method', async () => {
    const a = await node('a', {}, { timeoutMs: 5000 });
    const f = await failure(a.call('gone', 'alert.act', {}));
    expect(f.code).toBe('node_unreachable');
    expect((f.err as CodedError).statusCode).toBe(503);
    expect(f.err.message).toMatch(/node gone .*alert\.act/);
    expect(f.ms).toBeLessThan(1000);
  });

  it('a handler that never settles: node_unreachable after the timeout; the callee\'s late answer is dropped', async () => {
    const a = await node('a', {}, { timeoutMs: 200 });
    await node('b', handlers);
    const f = await failure(a.call('b', 'hang', {}));
    expect(f.code).toBe('node_unreachable');
    expect(f.err.message).toMatch(/node b did not answer hang: no answer within 200 ms/);
    expect(f.ms).toBeGreaterThanOrEqual(190);
    expect(f.ms).toBeLessThan(2000);
    // and the node still answers
    expect(await a.call('b', 'echo', 1)).toEqual({ got: 1, on: 'b' });
  });

  it('calls past maxPending fail at once as busy; the callee refuses requests past its own bound', async () => {
    const a = await node('a', {}, { maxPending: 2, timeoutMs: 300 });
    await node('b', handlers, { maxPending: 1 });
    const hanging = [a.call('b', 'hang', {}), a.call('b', 'hang', {})].map((p) => failure(p));
    const busy = await failure(a.call('b', 'echo', 1));
    expect(busy.code).toBe('node_unreachable');
    expect(busy.err.message).toMatch(/busy/);
    const [first, second] = await Promise.all(hanging);
    // b runs one at a time: the second hang was refused by b at once, the first timed out
    expect(first!.err.message).toMatch(/no answer within 300 ms/);
    expect(second!.code).toBe('node_unreachable');
    expect(second!.err.message).toMatch(/node b is busy/);
  });

  it('a call to this node runs its handler directly, as it would remotely (JSON in and out, same errors)', async () => {
    const b = await node('b', handlers);
    const published: string[] = [];
    const spy = new Redis(redis.url);
    try {
      await spy.psubscribe('supervision:cluster:*');
      spy.on('pmessage', (_p: string, ch: string) => published.push(ch));
      expect(await b.call('b', 'echo', { at: new Date(0) })).toEqual({ got: { at: '1970-01-01T00:00:00.000Z' }, on: 'b' });
      expect((await failure(b.call('b', 'refuse', {}))).code).toBe('alert_conflict');
      expect((await failure(b.call('b', 'nope', {}))).err.message).toBe('node b has no method nope');
      await sleep(50);
      expect(published).toEqual([]);
    } finally {
      spy.disconnect();
    }
  });

  it('malformed messages on either channel are dropped and logged; the node keeps answering', async () => {
    const { log, lines } = recordingLog();
    const a = await node('a', { big: async () => 'x'.repeat(5000) }, { log, maxBytes: 4096 });
    const b = await node('b', handlers, { log });
    const bad = ['not json', '"a string"', '{"id":"x"}', '{"id":"x","from":"a","method":7}', JSON.stringify({ id: 'y', from: 'a', method: 'echo', args: 'x'.repeat(2 << 20) })];
    for (const text of bad) expect(await admin.publish(callChannel('b'), text)).toBe(1);
    // replies: not one, to no call, an unknown code (taken as a plain error if it were pending)
    for (const text of ['{"id":1}', '{"id":"nobody","ok":true,"value":1}', '{"id":"z","ok":false,"error":{"code":"made_up","message":"m"}}']) await admin.publish(replyChannel('a'), text);
    expect(await a.call('b', 'echo', 'still')).toEqual({ got: 'still', on: 'b' });
    expect(lines.some((l) => l.msg === 'ignored a cluster call message that is not one' && l.channel === callChannel('b'))).toBe(true);
    expect(lines.some((l) => l.msg === 'ignored a cluster call message that is not one' && l.channel === replyChannel('a'))).toBe(true);
    // a request too large is refused by its caller before it is sent
    await expect(a.call('b', 'echo', 'x'.repeat(5000))).rejects.toThrow(/larger than 4096 bytes/);
    // an answer too large comes back as an error, not as silence
    expect((await failure(b.call('a', 'big', {}))).err.message).toBe('the answer to big is larger than 4096 bytes');
  });

  it('stop() fails the calls in flight with node_unreachable; calls after it fail too', async () => {
    const a = await node('a', {}, { timeoutMs: 5000 });
    await node('b', handlers);
    const pending = failure(a.call('b', 'hang', {}));
    await sleep(50);
    await a.stop();
    const f = await pending;
    expect(f.code).toBe('node_unreachable');
    expect(f.ms).toBeLessThan(1000);
    expect((await failure(a.call('b', 'echo', 1))).code).toBe('node_unreachable');
  });

  it('Redis away: a call fails at once with node_unreachable; calls work again once it is back', async () => {
    const a = await node('a', {}, { timeoutMs: 3000 });
    await node('b', handlers);
    await redis.stop();
    try {
      await sleep(100);
      const f = await failure(a.call('b', 'echo', 1));
      expect(f.code).toBe('node_unreachable');
      expect(f.ms).toBeLessThan(500);
    } finally {
      await redis.start();
    }
    const deadline = Date.now() + 10_000;
    for (;;) {
      try {
        expect(await a.call('b', 'echo', 2)).toEqual({ got: 2, on: 'b' });
        break;
      } catch (err) {
        if (Date.now() > deadline) throw err;
        await sleep(100);
      }
    }
  }, 20_000);
});
