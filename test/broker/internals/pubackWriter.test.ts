/**
 * The coalescing PUBACK writer (broker/internals/pubackWriter.ts): a device's connection receives
 * exactly the bytes mqtt-packet would have written, in the same order, whatever mix of
 * packets aedes writes in whatever ticks; only the number of writes changes.
 */
import type { Client } from 'aedes';
import fc from 'fast-check';
import mqttPacket from 'mqtt-packet';
import { PassThrough, Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { coalescePubacks } from '../../../broker/internals/pubackWriter.js';

const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

/** A stream that records what reaches it, and how many writes did. */
function sink(highWaterMark = 16 * 1024): { stream: PassThrough; bytes: () => Buffer; writes: () => number } {
  const stream = new PassThrough({ highWaterMark });
  const chunks: Buffer[] = [];
  let writes = 0;
  const write = stream.write.bind(stream) as (chunk: Buffer) => boolean;
  (stream as unknown as { write: (chunk: Buffer) => boolean }).write = (chunk: Buffer) => { writes++; return write(chunk); };
  stream.on('data', (c: Buffer) => chunks.push(c));
  return { stream, bytes: () => Buffer.concat(chunks), writes: () => writes };
}

const device = (stream: Writable): Client => ({ conn: stream }) as unknown as Client;
const write = (packet: object, stream: Writable): boolean => mqttPacket.writeToStream(packet as never, stream);

const packetArb = fc.oneof(
  { weight: 8, arbitrary: fc.integer({ min: 1, max: 65535 }).map((messageId) => ({ cmd: 'puback', messageId })) },
  { weight: 1, arbitrary: fc.constant({ cmd: 'pingresp' }) },
  { weight: 1, arbitrary: fc.integer({ min: 1, max: 65535 }).map((messageId) => ({ cmd: 'suback', messageId, granted: [1, 128] })) },
  { weight: 1, arbitrary: fc.record({ messageId: fc.integer({ min: 1, max: 65535 }), payload: fc.string({ maxLength: 50 }) })
    .map((p) => ({ cmd: 'publish', topic: 'cylinder/s-1/scan/reply', qos: 1, retain: false, dup: false, ...p })) },
);

describe('coalescing PUBACK writer', () => {
  it('writes the bytes mqtt-packet writes, in the same order, across any ticks', async () => {
    await fc.assert(fc.asyncProperty(fc.array(fc.oneof(packetArb, fc.constant('turn' as const)), { minLength: 1, maxLength: 60 }), async (ops) => {
      const ours = sink();
      const theirs = sink();
      coalescePubacks(device(ours.stream));
      for (const op of ops) {
        if (op === 'turn') { await nextTurn(); continue; }
        write(op, ours.stream);
        write(op, theirs.stream);
      }
      await nextTurn();
      expect(ours.bytes().toString('hex')).toBe(theirs.bytes().toString('hex'));
    }), { numRuns: 200 });
  });

  it('sends a tick\'s PUBACKs to one connection in one write', async () => {
    const ours = sink();
    coalescePubacks(device(ours.stream));
    for (let id = 1; id <= 500; id++) write({ cmd: 'puback', messageId: id }, ours.stream);
    expect(ours.writes()).toBe(0);
    await nextTurn();
    expect(ours.writes()).toBe(1);
    expect(ours.bytes().length).toBe(2000);
    expect([...ours.bytes().subarray(0, 8)]).toEqual([0x40, 0x02, 0x00, 0x01, 0x40, 0x02, 0x00, 0x02]);
  });

  it('leaves streams it was not given to mqtt-packet', async () => {
    const other = sink();
    write({ cmd: 'puback', messageId: 9 }, other.stream);
    write({ cmd: 'puback', messageId: 10 }, other.stream);
    await nextTurn();
    // mqtt-packet writes header, length and id separately
    expect(other.writes()).toBe(6);
    expect(other.bytes().toString('hex')).toBe('40020009' + '4002000a');
  });

  it('reports back-pressure as the stream does, and drops PUBACKs for a connection closed meanwhile', async () => {
    const full = sink(4);
    coalescePubacks(device(full.stream));
    full.stream.pause();
    full.stream.write(Buffer.alloc(64));
    expect(write({ cmd: 'puback', messageId: 1 }, full.stream)).toBe(false);
    const closed = sink();
    coalescePubacks(device(closed.stream));
    write({ cmd: 'puback', messageId: 2 }, closed.stream);
    closed.stream.destroy();
    await nextTurn();
    expect(closed.writes()).toBe(0);
  });
});
