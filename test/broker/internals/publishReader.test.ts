/**
 * The PUBLISH reader (broker/internals/publishReader.ts) against mqtt-packet's own parser: the same
 * bytes, cut into reads at random points, must give the same packets and the same first error,
 * with the packet size guard installed on both as the broker does.
 */
import type { Client } from 'aedes';
import fc from 'fast-check';
import mqttPacket from 'mqtt-packet';
import { describe, expect, it, vi } from 'vitest';
import { guardPacketSize } from '../../../broker/internals/packetGuard.js';
import { KEEP_MAX_BYTES, readPublishesFast } from '../../../broker/internals/publishReader.js';

const MAX_PACKET = 100_000;

type Event = { packet: Record<string, unknown> } | { error: string } | { oversize: number };

/** A client as far as the reader sees it: aedes keeps its mqtt-packet parser on `_parser`. */
const bareClient = () => ({ _parser: mqttPacket.parser() }) as unknown as Client & { _parser: ReturnType<typeof mqttPacket.parser> };

/** A parser as aedes holds it on a client, with every packet, error and oversize recorded. */
function parserWith(fast: boolean): { feed: (chunk: Buffer) => void; events: Event[] } {
  const events: Event[] = [];
  const client = bareClient();
  client._parser.on('packet', (p: object) => {
    // a payload copied at once: a view into a read must stay valid, as the store reads it later
    const packet = { ...p } as Record<string, unknown>;
    if (Buffer.isBuffer(packet.payload)) packet.payload = Buffer.from(packet.payload).toString('hex');
    events.push({ packet });
  });
  client._parser.on('error', (e: Error) => events.push({ error: e.message }));
  guardPacketSize(client, MAX_PACKET, (size) => events.push({ oversize: size }));
  if (fast) readPublishesFast(client, MAX_PACKET);
  return { feed: (chunk) => { client._parser.parse(chunk); }, events };
}

/** Events up to and including the first error: after one, aedes closes the connection. */
function untilError(events: Event[]): Event[] {
  const i = events.findIndex((e) => 'error' in e);
  return i < 0 ? events : events.slice(0, i + 1);
}

function split(bytes: Buffer, cuts: number[]): Buffer[] {
  const at = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  const chunks: Buffer[] = [];
  let from = 0;
  for (const c of [...at, bytes.length]) {
    // each read is its own buffer, as the socket hands them over
    if (c > from) chunks.push(Buffer.from(bytes.subarray(from, c)));
    from = Math.max(from, c);
  }
  return chunks;
}

function same(bytes: Buffer, cuts: number[]): { fast: Event[]; slow: Event[] } {
  const fast = parserWith(true);
  const slow = parserWith(false);
  for (const chunk of split(bytes, cuts)) {
    fast.feed(Buffer.from(chunk));
    slow.feed(Buffer.from(chunk));
  }
  return { fast: untilError(fast.events), slow: untilError(slow.events) };
}

const topic = fc.oneof(
  fc.constantFrom('elevator/e-1/status', 'elevator/e-1/fault', 'kitchen/厨房-7/violation', 'a', ''),
  fc.string({ unit: 'grapheme', maxLength: 40 }),
);
const payload = fc.oneof(
  { weight: 8, arbitrary: fc.uint8Array({ maxLength: 300 }) },
  { weight: 1, arbitrary: fc.integer({ min: 0, max: KEEP_MAX_BYTES + 5000 }).map((n) => new Uint8Array(n).fill(0x61)) },
);
const messageId = fc.integer({ min: 1, max: 65535 });

const wellFormed = fc.oneof(
  { weight: 10, arbitrary: fc.record({ topic, payload, qos: fc.constantFrom(0, 1, 2), retain: fc.boolean(), dup: fc.boolean(), messageId })
    .map((p) => mqttPacket.generate({ cmd: 'publish', ...p, payload: Buffer.from(p.payload) } as never)) },
  { weight: 1, arbitrary: fc.constant(mqttPacket.generate({ cmd: 'pingreq' })) },
  { weight: 1, arbitrary: messageId.map((id) => mqttPacket.generate({ cmd: 'puback', messageId: id } as never)) },
  { weight: 1, arbitrary: messageId.map((id) => mqttPacket.generate({ cmd: 'subscribe', messageId: id, subscriptions: [{ topic: 'x/+/y', qos: 1 }] } as never)) },
);

/** Bytes mqtt-packet refuses or reads in its own way: the reader must leave them to it. */
const malformed = fc.oneof(
  fc.constant(Buffer.from([0x36, 0x05, 0x00, 0x01, 0x61, 0x00, 0x01])), // QoS 3
  fc.constant(Buffer.from([0x32, 0x03, 0x00, 0x01, 0x61])), // QoS 1, no room for the packet id
  fc.constant(Buffer.from([0x30, 0x01, 0x00])), // no room for the topic length
  fc.constant(Buffer.from([0x30, 0x03, 0x00, 0x09, 0x61])), // topic longer than the packet
  fc.constant(Buffer.from([0x30, 0xff, 0xff, 0xff, 0xff, 0x01])), // five-byte Remaining Length
  fc.constant(Buffer.from([0x30, 0x80, 0x80, 0x80, 0x01])), // over the size cap
  fc.constant(Buffer.from([0x30, 0x04, 0x00, 0x02, 0xc3, 0x28])), // topic not UTF-8
  fc.constant(Buffer.from([0x62, 0x02, 0x00, 0x01])), // PUBREL with wrong flags
  fc.constant(Buffer.from([0xf0, 0x00])), // reserved packet type
);

describe('PUBLISH reader', () => {
  it('gives the packets mqtt-packet gives, however the bytes are cut into reads', () => {
    fc.assert(fc.property(fc.array(wellFormed, { minLength: 1, maxLength: 30 }), fc.array(fc.nat(), { maxLength: 12 }), (packets, cuts) => {
      const { fast, slow } = same(Buffer.concat(packets), cuts);
      expect(fast).toEqual(slow);
      expect(fast.length).toBe(packets.length);
    }), { numRuns: 300 });
  });

  it('leaves malformed and oversized packets to mqtt-packet: the same error, after the same packets', () => {
    fc.assert(fc.property(fc.array(wellFormed, { maxLength: 5 }), malformed, fc.array(wellFormed, { maxLength: 3 }), fc.array(fc.nat(), { maxLength: 6 }),
      (before, bad, after, cuts) => {
        const { fast, slow } = same(Buffer.concat([...before, bad, ...after]), cuts);
        expect(fast).toEqual(slow);
      }), { numRuns: 300 });
  });

  it('emits packets with the fields aedes reads, the payload a view of the read', () => {
    const events: Array<Record<string, unknown>> = [];
    const client = bareClient();
    client._parser.on('packet', (p) => events.push(p as unknown as Record<string, unknown>));
    readPublishesFast(client, MAX_PACKET);
    const bytes = mqttPacket.generate({ cmd: 'publish', topic: 'elevator/e-1/status', payload: Buffer.from('{"a":1}'), qos: 1, messageId: 7, retain: true, dup: false } as never);
    client._parser.parse(bytes);
    expect(events).toEqual([{ cmd: 'publish', retain: true, qos: 1, dup: false, length: bytes.length - 2, topic: 'elevator/e-1/status', payload: Buffer.from('{"a":1}'), messageId: 7 }]);
  });

  it('reuses the topic string while a device publishes on the same topic', () => {
    const topics: string[] = [];
    const client = bareClient();
    client._parser.on('packet', (p) => topics.push((p as { topic: string }).topic));
    readPublishesFast(client, MAX_PACKET);
    const pub = (t: string) => mqttPacket.generate({ cmd: 'publish', topic: t, payload: Buffer.from('x'), qos: 0 } as never);
    client._parser.parse(Buffer.concat([pub('elevator/e-1/status'), pub('elevator/e-1/status'), pub('elevator/e-2/status'), pub('elevator/e-1/status')]));
    expect(topics).toEqual(['elevator/e-1/status', 'elevator/e-1/status', 'elevator/e-2/status', 'elevator/e-1/status']);
  });

  it('a packet sent a byte at a time is copied once, not once per byte, and still read right', () => {
    const bytes = mqttPacket.generate({ cmd: 'publish', topic: 'elevator/e-1/status', payload: Buffer.alloc(60_000, 0x61), qos: 1, messageId: 5 } as never);
    const fast = parserWith(true);
    const slow = parserWith(false);
    const concat = vi.spyOn(Buffer, 'concat');
    try {
      for (let i = 0; i < bytes.length; i++) fast.feed(bytes.subarray(i, i + 1));
      expect(concat.mock.calls.length).toBeLessThanOrEqual(2);
    } finally {
      concat.mockRestore();
    }
    for (let i = 0; i < bytes.length; i += 1000) slow.feed(bytes.subarray(i, i + 1000));
    expect(fast.events).toEqual(slow.events);
    expect(fast.events).toHaveLength(1);
  });

  it('refuses to install on a client whose parser is not the one it knows', () => {
    expect(() => readPublishesFast({ _parser: {} } as unknown as Client, MAX_PACKET)).toThrow(/aedes internals changed/);
  });
});
