/**
 * Fuzz (fast-check): generated bad payloads and topics never crash the pipeline; each is
 * dead-lettered with a reason code from the catalog; other devices are unaffected.
 *
 * The bulk (12k+ cases) runs in-process through ingest/decode.ts, the pure step that turns
 * bytes into a reading or a coded failure. A smaller share (a few hundred) goes over a real
 * MQTT socket into a running service, where each must become a dead letter with its reason
 * while a well-behaved device keeps publishing.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodePayload } from '../../ingest/decode.js';
import { channelList, families, type Family } from '../../core/schemas/index.js';
import { examplePayload } from '../../core/schemas/examples.js';
import { codes } from '../../core/codes.js';
import { startService, type TestService } from '../helpers/service.js';

const MAX = 65536;
const knownCodes = new Set(Object.entries(codes).filter(([, c]) => c.scope !== 'http').map(([k]) => k));
const enc = (s: string): Uint8Array => Buffer.from(s, 'utf8');

const channel = fc.constantFrom(...channelList);
const familyArb = fc.constantFrom(...families);
const pollutingKeys = fc.constantFrom('__proto__', 'constructor', 'prototype', '__defineGetter__', 'hasOwnProperty', 'toString', 'valueOf');
const hugeNumber = fc.oneof(fc.constantFrom('1e400', '-1e400', '1e308', '18446744073709551616', '9007199254740993', '-0', '1E-400', '123456789012345678901234567890'), fc.double().map(String));
const wrongValue = fc.oneof(fc.anything({ maxDepth: 3 }), fc.constant(null), fc.string({ maxLength: 5000 }), fc.boolean(), fc.array(fc.integer()));

/** Guaranteed invalid: msgId missing or not a 1..64 char string, so the schema must refuse. */
const badMsgId = fc.oneof(fc.constant(undefined), fc.integer(), fc.constant(''), fc.string({ minLength: 65, maxLength: 200 }), fc.object(), fc.constant(null), fc.array(fc.string()));

/** JSON text of an object: a valid example with fields replaced by wrong values, polluting keys added, msgId broken. */
const brokenObject = fc.record({
  ch: channel,
  replace: fc.array(fc.tuple(fc.string({ maxLength: 12 }), wrongValue), { maxLength: 4 }),
  pollute: fc.array(fc.tuple(pollutingKeys, fc.anything({ maxDepth: 2 })), { minLength: 1, maxLength: 3 }),
  msgId: badMsgId,
}).map(({ ch, replace, pollute, msgId }) => {
  const base: Record<string, unknown> = { ...examplePayload(ch.family, ch.channel, 'x', Date.now()) };
  const keys = Object.keys(base);
  for (const [k, v] of replace) base[keys[k.length % keys.length]!] = v;
  delete base.msgId;
  if (msgId !== undefined) base.msgId = msgId;
  // JSON.stringify drops an own "__proto__" set by assignment (it goes to the prototype): write the text by hand
  const body = JSON.stringify(base).slice(1, -1);
  const extra = pollute.map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(v) ?? 'null'}`).join(',');
  return { ch, text: `{${body}${body && extra ? ',' : ''}${extra}}` };
});

const invalidUtf8 = fc.tuple(fc.uint8Array({ maxLength: 300 }), fc.nat(), fc.constantFrom(0xff, 0xfe, 0xc0, 0x80, 0xed))
  .map(([bytes, at, bad]) => {
    const out = new Uint8Array(bytes.length + 1);
    const i = bytes.length ? at % bytes.length : 0;
    out.set(bytes.subarray(0, i), 0);
    out[i] = bad;
    out.set(bytes.subarray(i), i + 1);
    // 0xed alone is invalid; a following continuation byte is added by chance at most
    if (bad === 0xed) out[i] = 0xff;
    return out;
  });

const deepNesting = fc.tuple(fc.integer({ min: 1, max: 20_000 }), fc.constantFrom('[', '{"a":', '{"msgId":"x","ts":1,"n":'), fc.boolean())
  .map(([depth, open, closed]) => {
    const close = open === '[' ? ']' : '}';
    const inner = open === '[' ? '0' : '0';
    return open.repeat(depth) + inner + (closed ? close.repeat(depth) : '');
  });

const nonObjectJson = fc.oneof(fc.json(), fc.jsonValue().map((v) => JSON.stringify([v])), fc.string().map((s) => JSON.stringify(s)), hugeNumber)
  .filter((t) => { try { const v: unknown = JSON.parse(t); return typeof v !== 'object' || v === null || Array.isArray(v); } catch { return true; } });

const hugeNumbersInFields = fc.record({ ch: channel, n: hugeNumber, field: fc.nat() }).map(({ ch, n, field }) => {
  const base = examplePayload(ch.family, ch.channel, 'h', Date.now());
  const numeric = Object.keys(base).filter((k) => typeof base[k] === 'number' && k !== 'ts');
  const key = numeric.length ? numeric[field % numeric.length]! : 'ts';
  const text = JSON.stringify({ ...base, [key]: '@@' }).replace('"@@"', n);
  return { ch, text };
});

const longStrings = fc.record({ ch: channel, len: fc.integer({ min: 1000, max: 200_000 }), c: fc.constantFrom('a', '中', '"', '\\\\', '\u0000') }).map(({ ch, len, c }) => {
  const base = examplePayload(ch.family, ch.channel, 'l', Date.now());
  return { ch, text: JSON.stringify({ ...base, note: c.repeat(len) }) };
});

function check(family: Family, ch: string, payload: Uint8Array, mustFail: boolean): void {
  const d = decodePayload(family, ch, payload, MAX);
  if (d.ok) {
    expect(mustFail).toBe(false);
    expect([Object.prototype, null]).toContain(Object.getPrototypeOf(d.data));
  } else {
    expect(knownCodes.has(d.reason), d.reason).toBe(true);
    expect(d.detail.length).toBeGreaterThan(0);
  }
  // nothing reached Object.prototype
  expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  expect(Object.prototype.hasOwnProperty.call(Object.prototype, 'a')).toBe(false);
}

describe('fuzz: decode in-process (12k+ cases)', () => {
  it('invalid UTF-8 is refused as invalid_json', () => {
    fc.assert(fc.property(channel, invalidUtf8, (ch, bytes) => {
      const d = decodePayload(ch.family, ch.channel, bytes, MAX);
      expect(d.ok).toBe(false);
      if (!d.ok) expect(d.reason).toBe('invalid_json');
    }), { numRuns: 2000 });
  });

  it('random binary never throws', () => {
    fc.assert(fc.property(channel, fc.uint8Array({ maxLength: 2000 }), (ch, bytes) => check(ch.family, ch.channel, bytes, false)), { numRuns: 2000 });
  });

  it('deep nesting, open or closed, is refused', () => {
    fc.assert(fc.property(channel, deepNesting, (ch, text) => check(ch.family, ch.channel, enc(text), true)), { numRuns: 1000 });
  });

  it('JSON that is not an object is refused', () => {
    fc.assert(fc.property(channel, nonObjectJson, (ch, text) => {
      const d = decodePayload(ch.family, ch.channel, enc(text), MAX);
      expect(d.ok).toBe(false);
      if (!d.ok) expect(d.reason).toBe('invalid_json');
    }), { numRuns: 2000 });
  });

  it('wrong types, prototype keys and a broken msgId are refused without polluting anything', () => {
    fc.assert(fc.property(brokenObject, ({ ch, text }) => check(ch.family, ch.channel, enc(text), true)), { numRuns: 3000 });
  });

  it('huge numbers in numeric fields never throw', () => {
    fc.assert(fc.property(hugeNumbersInFields, ({ ch, text }) => check(ch.family, ch.channel, enc(text), false)), { numRuns: 1500 });
  });

  it('very long strings never throw; beyond the limit they are too_large', () => {
    fc.assert(fc.property(longStrings, ({ ch, text }) => {
      const bytes = enc(text);
      check(ch.family, ch.channel, bytes, false);
      if (bytes.length > MAX) expect(decodePayload(ch.family, ch.channel, bytes, MAX)).toMatchObject({ ok: false, reason: 'too_large' });
    }), { numRuns: 300 });
  });

  it('unknown channels and families are refused', () => {
    fc.assert(fc.property(familyArb, fc.string({ maxLength: 40 }), fc.uint8Array({ maxLength: 50 }), (family, ch, bytes) => {
      fc.pre(!channelList.some((c) => c.family === family && c.channel === ch));
      const d = decodePayload(family, ch, bytes, MAX);
      expect(d).toMatchObject({ ok: false });
      if (!d.ok) expect(['unknown_channel', 'invalid_json']).toContain(d.reason);
    }), { numRuns: 1000 });
  });
});

describe('fuzz: over a real MQTT socket', () => {
  let s: TestService;
  beforeAll(async () => { s = await startService(); });
  afterAll(async () => { await s?.dispose(); });

  it('each bad message is dead-lettered with a reason; a good device on the side is unaffected', async () => {
    const victim = await s.registerDevice({ id: 'fuzz-victim', family: 'elevator' });
    const good = await s.registerDevice({ id: 'fuzz-good', family: 'elevator' });
    const seed = 20261123;
    const onOwnTopic: Array<{ channel: string; payload: Buffer }> = [
      ...fc.sample(invalidUtf8, { numRuns: 60, seed }).map((b) => ({ channel: 'status', payload: Buffer.from(b) })),
      ...fc.sample(deepNesting, { numRuns: 40, seed }).map((t) => ({ channel: 'status', payload: Buffer.from(t) })),
      ...fc.sample(nonObjectJson, { numRuns: 60, seed }).map((t) => ({ channel: 'fault', payload: Buffer.from(t) })),
      ...fc.sample(brokenObject, { numRuns: 100, seed }).map(({ text }) => ({ channel: 'status', payload: Buffer.from(text) })),
      ...fc.sample(fc.integer({ min: MAX + 1, max: 300_000 }), { numRuns: 10, seed }).map((n) => ({ channel: 'status', payload: Buffer.alloc(n, 0x7b) })),
      ...fc.sample(fc.stringMatching(/^[a-z_]{1,20}$/).filter((c) => !['status', 'fault', 'heartbeat', 'error', 'cmd', 'config'].includes(c)), { numRuns: 30, seed })
        .map((c) => ({ channel: c, payload: Buffer.from(JSON.stringify(examplePayload('elevator', 'status', 'u', Date.now()))) })),
    ];
    const vc = await s.connectDevice(victim.id, victim.secret);
    const gc = await s.connectDevice(good.id, good.secret);
    const t0 = Date.now() - 60_000;
    const goodDone = Promise.all(Array.from({ length: 300 }, (_, i) =>
      gc.publishAsync(`elevator/${good.id}/status`, JSON.stringify(examplePayload('elevator', 'status', `g-${i}`, t0 + i)), { qos: 1 })));
    await Promise.all(onOwnTopic.map((m) => vc.publishAsync(`elevator/${victim.id}/${m.channel}`, m.payload, { qos: 1 })));
    await goodDone;
    await vc.endAsync();

    // topics it may not use close the connection (after the dead letter is stored): one connection each
    const badTopics = ['elevator/fuzz-good/status', 'kitchen/fuzz-victim/violation', 'nonsense', 'elevator//status', `elevator/${victim.id}/status/x/y`, 'elevator/fuzz-victim/error', 'elevator/fuzz victim/status'];
    for (const topic of badTopics) {
      const c = await s.connectDevice(victim.id, victim.secret);
      const closed = new Promise<void>((r) => c.once('close', () => r()));
      c.publish(topic, '{}', { qos: 1 });
      await closed;
      c.end(true);
    }

    const letters = await s.service.store.deadLetters.list({ deviceId: victim.id, limit: 10_000 });
    expect(letters.length).toBe(onOwnTopic.length + badTopics.length);
    for (const l of letters) expect(knownCodes.has(l.reason), l.reason).toBe(true);
    const reasons = new Set(letters.map((l) => l.reason));
    for (const r of ['invalid_json', 'schema', 'too_large', 'unknown_channel', 'topic_not_allowed', 'topic_invalid']) expect(reasons, r).toContain(r);
    expect(await s.service.store.readings.query({ deviceId: victim.id, family: 'elevator', limit: 10 })).toHaveLength(0);
    expect(await s.service.store.readings.query({ deviceId: good.id, family: 'elevator', channel: 'status', limit: 1000 })).toHaveLength(300);
    expect(s.service.health().ok).toBe(true);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    await gc.endAsync();
  });
});
