/**
 * decodePayload (ingest/decode.ts): bytes -> validated fields or a coded failure. Pure, so
 * every bad-input case is a table row.
 */
import { describe, expect, it } from 'vitest';
import { decodePayload, type Decoded } from '../../ingest/decode.js';
import { channelList, type Family } from '../../core/schemas/index.js';
import { examplePayload } from '../../core/schemas/examples.js';

const TS = 1_795_392_000_000;
const LIMIT = 65_536;
const enc = (v: unknown): Uint8Array => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v), 'utf8');

type Failure = Extract<Decoded, { ok: false }>;
type Success = Extract<Decoded, { ok: true }>;

function mustFail(d: Decoded): Failure {
  if (d.ok) throw new Error(`expected a failure, got ${JSON.stringify(d)}`);
  return d;
}
function mustPass(d: Decoded): Success {
  if (!d.ok) throw new Error(`expected success, got ${d.reason}: ${d.detail}`);
  return d;
}

describe('valid payloads', () => {
  it.each(channelList.map((c) => [c.key, c.family, c.channel] as const))('%s example decodes; msgId and ts are lifted out of data', (_k, family, channel) => {
    const payload = examplePayload(family, channel, 'm-1', '2026-11-23T08:00:00+08:00');
    const d = mustPass(decodePayload(family, channel, enc(payload), LIMIT));
    expect(d.msgId).toBe('m-1');
    expect(d.ts).toBe(Date.UTC(2026, 10, 23, 0, 0, 0));
    const { msgId: _m, ts: _t, ...fields } = payload;
    expect(d.data).toEqual(fields);
    expect(d.data).not.toHaveProperty('msgId');
    expect(d.data).not.toHaveProperty('ts');
    expect(d.extra).toBeNull();
  });

  it('decodes a subarray of a larger buffer (byteOffset honoured)', () => {
    const body = Buffer.from(JSON.stringify({ msgId: 'sub', ts: TS }));
    const big = Buffer.concat([Buffer.from('GARBAGE{'), body, Buffer.from('}}}trailing')]);
    const view = big.subarray(8, 8 + body.length);
    const d = mustPass(decodePayload('kitchen', 'heartbeat', view, LIMIT));
    expect(d.msgId).toBe('sub');
  });
});

describe('size limit', () => {
  const at = (n: number): Uint8Array => {
    const base = `{"msgId":"big","ts":${TS},"pad":""}`;
    const b = Buffer.from(base.replace('"pad":""', `"pad":"${'p'.repeat(n - base.length)}"`));
    if (b.length !== n) throw new Error(`built ${b.length}, wanted ${n}`);
    return b;
  };

  it.each([
    ['one byte under the limit', 999, true],
    ['exactly at the limit', 1000, true],
    ['one byte over the limit', 1001, false],
  ] as const)('%s', (_d, size, ok) => {
    const d = decodePayload('kitchen', 'heartbeat', at(size), 1000);
    expect(d.ok).toBe(ok);
    if (!ok) {
      const f = mustFail(d);
      expect(f.reason).toBe('too_large');
      expect(f.detail).toContain('1001');
      expect(f.detail).toContain('1000');
      expect(f.msgId).toBeNull();
      expect(f.issues).toBeNull();
    }
  });

  it('counts bytes, not characters (multi-byte UTF-8)', () => {
    const text = JSON.stringify({ msgId: 'u', ts: TS, fw: '电梯'.repeat(10) }); // 60 bytes of CJK
    const bytes = Buffer.from(text);
    expect(bytes.length).toBeGreaterThan(text.length);
    expect(mustFail(decodePayload('kitchen', 'heartbeat', bytes, text.length)).reason).toBe('too_large');
    expect(decodePayload('kitchen', 'heartbeat', bytes, bytes.length).ok).toBe(true);
  });
});

describe('failures, one row per kind', () => {
  // [description, family, channel, bytes, reason, detail fragment]
  const rows: Array<[string, Family, string, Uint8Array, Failure['reason'], RegExp]> = [
    ['unknown channel', 'kitchen', 'status', enc({ msgId: 'a', ts: TS }), 'unknown_channel', /kitchen devices have no channel "status"/],
    ['platform -> device channel', 'kitchen', 'error', enc({ msgId: 'a', ts: TS }), 'unknown_channel', /no channel "error"/],
    ['scan/reply from a cylinder', 'cylinder', 'scan/reply', enc({ msgId: 'a', ts: TS }), 'unknown_channel', /scan\/reply/],
    ['prototype key as channel', 'kitchen', '__proto__', enc({ msgId: 'a', ts: TS }), 'unknown_channel', /__proto__/],
    ['invalid UTF-8 (lone 0xff)', 'kitchen', 'heartbeat', Buffer.from([0x7b, 0xff, 0x7d]), 'invalid_json', /not valid UTF-8/],
    ['invalid UTF-8 (truncated sequence)', 'kitchen', 'heartbeat', Buffer.concat([enc('{"msgId":"'), Buffer.from([0xe7, 0x94]), enc('","ts":1}')]), 'invalid_json', /UTF-8/],
    ['overlong UTF-8 encoding of "/"', 'kitchen', 'heartbeat', Buffer.from([0x22, 0xc0, 0xaf, 0x22]), 'invalid_json', /UTF-8/],
    ['UTF-16 surrogate encoded in UTF-8', 'kitchen', 'heartbeat', Buffer.from([0x22, 0xed, 0xa0, 0x80, 0x22]), 'invalid_json', /UTF-8/],
    ['truncated JSON', 'kitchen', 'heartbeat', enc('{"msgId": "x",'), 'invalid_json', /not JSON/],
    ['empty payload', 'kitchen', 'heartbeat', new Uint8Array(), 'invalid_json', /not JSON/],
    ['single quotes', 'kitchen', 'heartbeat', enc("{'msgId':'x'}"), 'invalid_json', /not JSON/],
    ['trailing garbage', 'kitchen', 'heartbeat', enc('{"msgId":"x","ts":1}x'), 'invalid_json', /not JSON/],
    ['NaN literal', 'kitchen', 'heartbeat', enc('{"msgId":"x","ts":NaN}'), 'invalid_json', /not JSON/],
    ['array', 'kitchen', 'heartbeat', enc([{ msgId: 'x', ts: TS }]), 'invalid_json', /JSON object, got an array/],
    ['null', 'kitchen', 'heartbeat', enc('null'), 'invalid_json', /got null/],
    ['number', 'kitchen', 'heartbeat', enc('42'), 'invalid_json', /got number/],
    ['string', 'kitchen', 'heartbeat', enc('"hello"'), 'invalid_json', /got string/],
    ['boolean', 'kitchen', 'heartbeat', enc('true'), 'invalid_json', /got boolean/],
    ['schema failure', 'elevator', 'fault', enc({ msgId: 'f', ts: TS, code: 16 }), 'schema', /code: /],
  ];

  it.each(rows)('%s -> %s', (_d, family, channel, bytes, reason, detail) => {
    const f = mustFail(decodePayload(family, channel, bytes, LIMIT));
    expect(f.reason).toBe(reason);
    expect(f.detail).toMatch(detail);
    if (reason !== 'schema') expect(f.issues).toBeNull();
  });

  it('the size check comes before the channel check', () => {
    expect(mustFail(decodePayload('kitchen', 'nope', enc({ msgId: 'a', ts: TS }), 5)).reason).toBe('too_large');
  });
});

describe('schema failures', () => {
  it('lists field-level issues with dotted paths and recovers msgId', () => {
    const payload = { msgId: 'v-9', ts: TS, storeId: 'S1', type: 'dog', confidence: 1.5, bbox: [0.1, 0.2, 2, 0.6] };
    const f = mustFail(decodePayload('kitchen', 'violation', enc(payload), LIMIT));
    expect(f.reason).toBe('schema');
    expect(f.msgId).toBe('v-9');
    const paths = f.issues!.map((i) => i.path);
    expect(paths).toEqual(expect.arrayContaining(['type', 'confidence', 'bbox.2']));
    for (const i of f.issues!) {
      expect(i.message.length).toBeGreaterThan(0);
      expect(f.detail).toContain(`${i.path}: ${i.message}`);
    }
  });

  it('names the missing netKg at post_fill', () => {
    const p = examplePayload('cylinder', 'scan', 'c-1', TS);
    delete p.netKg;
    const f = mustFail(decodePayload('cylinder', 'scan', enc(p), LIMIT));
    expect(f.issues).toEqual([expect.objectContaining({ path: 'netKg' })]);
    expect(f.msgId).toBe('c-1');
  });

  it('names epoch seconds in ts', () => {
    const f = mustFail(decodePayload('kitchen', 'heartbeat', enc({ msgId: 'h', ts: 1_700_000_000 }), LIMIT));
    expect(f.issues).toEqual([expect.objectContaining({ path: 'ts', message: expect.stringMatching(/epoch seconds/) })]);
  });

  it.each([
    ['missing', {}, null],
    ['empty', { msgId: '' }, null],
    ['a number', { msgId: 7 }, null],
    ['65 characters', { msgId: 'm'.repeat(65) }, null],
    ['64 characters', { msgId: 'm'.repeat(64) }, 'm'.repeat(64)],
    ['a good one', { msgId: 'ok-1' }, 'ok-1'],
  ] as const)('msgId recovered only when it is a valid msgId: %s', (_d, patch, expected) => {
    const f = mustFail(decodePayload('elevator', 'fault', enc({ ts: TS, code: 0, ...patch }), LIMIT));
    expect(f.reason).toBe('schema');
    expect(f.msgId).toBe(expected);
  });
});

describe('unknown fields are kept in extra', () => {
  it('keeps them as JSON text, leaves data with schema fields only', () => {
    const p = { ...examplePayload('dispenser', 'tamper', 't-1', TS), fwBuild: 'a1', nested: { x: [1, 2, { y: null }] } };
    const d = mustPass(decodePayload('dispenser', 'tamper', enc(p), LIMIT));
    expect(JSON.parse(d.extra!)).toEqual({ fwBuild: 'a1', nested: { x: [1, 2, { y: null }] } });
    expect(Object.keys(d.data).sort()).toEqual(['dispenserId', 'kind', 'stationId']);
  });

  it('works for a refined schema (cylinder scan) too', () => {
    const p = { ...examplePayload('cylinder', 'scan', 'c-2', TS), scanner: 'hand-1' };
    expect(JSON.parse(mustPass(decodePayload('cylinder', 'scan', enc(p), LIMIT)).extra!)).toEqual({ scanner: 'hand-1' });
  });

  it('a __proto__ key stays plain data and pollutes no prototype', () => {
    const text = '{"msgId":"p-1","ts":1795392000000,"__proto__":{"polluted":"yes","storeId":"evil"},"constructor":{"prototype":{"polluted2":1}}}';
    const d = mustPass(decodePayload('kitchen', 'heartbeat', enc(text), LIMIT));
    const extra = JSON.parse(d.extra!) as Record<string, unknown>;
    expect(Object.hasOwn(extra, '__proto__')).toBe(true);
    expect(extra['__proto__']).toEqual({ polluted: 'yes', storeId: 'evil' });
    expect(extra.constructor).toEqual({ prototype: { polluted2: 1 } });
    // nothing leaked into prototypes or into the typed fields
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect((Object.prototype as unknown as Record<string, unknown>).polluted).toBeUndefined();
    expect(({} as Record<string, unknown>).polluted2).toBeUndefined();
    expect(Object.getPrototypeOf(d.data)).toBe(Object.prototype);
    expect((d.data as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.keys(d.data)).toEqual([]);
  });

  it('a __proto__ key does not change how a known field validates', () => {
    const text = '{"msgId":"p-2","ts":1795392000000,"__proto__":{"storeId":"S1","type":"rat","confidence":0.5}}';
    const f = mustFail(decodePayload('kitchen', 'violation', enc(text), LIMIT));
    expect(f.issues!.map((i) => i.path)).toEqual(expect.arrayContaining(['storeId', 'type', 'confidence']));
  });
});

describe('deep nesting never throws', () => {
  const levels = [10, 1_000, 10_000, 100_000];
  const shapes: Array<[string, (n: number) => string]> = [
    ['unknown field of nested arrays', (n) => `{"msgId":"d","ts":${TS},"x":${'['.repeat(n)}${']'.repeat(n)}}`],
    ['unknown field of nested objects', (n) => `{"msgId":"d","ts":${TS},"x":${'{"a":'.repeat(n)}1${'}'.repeat(n)}}`],
    ['known string field holding nested objects', (n) => `{"msgId":"d","ts":${TS},"fw":${'{"a":'.repeat(n)}1${'}'.repeat(n)}}`],
    ['nested arrays at the root', (n) => `${'['.repeat(n)}${']'.repeat(n)}`],
    ['unclosed nesting', (n) => `{"msgId":"d","ts":${TS},"x":${'['.repeat(n)}`],
  ];
  for (const [name, build] of shapes) {
    it.each(levels)(`${name}, %i levels: a clean result`, (n) => {
      const bytes = enc(build(n));
      let d: Decoded | undefined;
      expect(() => { d = decodePayload('kitchen', 'heartbeat', bytes, bytes.length); }).not.toThrow();
      if (d!.ok) {
        expect(d!.msgId).toBe('d');
        expect(typeof d!.extra).toBe('string');
      } else {
        expect(['invalid_json', 'schema']).toContain(d!.reason);
        expect(d!.detail.length).toBeGreaterThan(0);
      }
    });
  }

  it('10k levels of unknown nesting is a failure that still names the msgId', () => {
    const bytes = enc(shapes[0]![1](10_000));
    const f = mustFail(decodePayload('kitchen', 'heartbeat', bytes, bytes.length));
    expect(f.reason).toBe('invalid_json');
    expect(f.msgId).toBe('d');
  });
});
