/**
 * PUBACKs to a device written as one buffer per connection per tick.
 *
 * Why: a group commit acknowledges every reading it holds at once, so each device gets a run
 * of PUBACKs in the same tick. mqtt-packet writes each one as three chunks (header, length,
 * packet id), each a `Writable.write` with its bookkeeping, corked and sent by one `writev`;
 * with ~1 ms between commits that was ~10 % of the service's time at 20k readings/s (README,
 * P2). Here a PUBACK [MQTT-3.4] is the four bytes 0x40 0x02 id-MSB id-LSB, appended to its
 * connection's run and written once, on the next tick, where mqtt-packet's uncork would have
 * sent it too.
 *
 * Order on the wire is kept: any other packet aedes writes to the same connection first
 * writes the PUBACKs queued before it, so the device sees exactly the sequence aedes wrote
 * (PUBACKs in the order of their PUBLISHes [MQTT-4.6.0-2], and everything else in between as
 * before). The return value follows the stream's back-pressure as mqtt-packet's does: false
 * while it is over its high-water mark, so aedes waits for 'drain'.
 *
 * Only connections registered here (devices' connections to our broker) are affected; any
 * other stream in the process (an MQTT.js client in a test or tool) gets mqtt-packet's own
 * writer. aedes calls `mqtt.writeToStream` through the module's exports at every write, which
 * is what makes the exports the place to put this.
 */
import type { Client } from 'aedes';
import mqttPacket from 'mqtt-packet';
import type { Writable } from 'node:stream';

type WriteToStream = (packet: { cmd: string; messageId?: number }, stream: Writable, opts?: unknown) => boolean;

const exportsObject = mqttPacket as unknown as { writeToStream: WriteToStream & { coalescing?: true } };
const original: WriteToStream = exportsObject.writeToStream;
const registered = new WeakSet<object>();
/** per connection, the packet ids of PUBACKs queued this tick */
const queued = new Map<Writable, number[]>();
let flushScheduled = false;

/** Send this client's PUBACKs through the coalescing writer. */
export function coalescePubacks(client: Client): void {
  if (!exportsObject.writeToStream.coalescing) {
    const writer = Object.assign(writeToStream, { coalescing: true as const });
    exportsObject.writeToStream = writer;
  }
  registered.add(client.conn);
}

function writeToStream(packet: { cmd: string; messageId?: number }, stream: Writable, opts?: unknown): boolean {
  if (!registered.has(stream)) return original(packet, stream, opts);
  const id = packet.messageId;
  if (packet.cmd === 'puback' && typeof id === 'number' && Number.isInteger(id) && id >= 0 && id <= 0xffff) {
    let ids = queued.get(stream);
    if (!ids) {
      ids = [];
      queued.set(stream, ids);
      if (!flushScheduled) {
        flushScheduled = true;
        process.nextTick(flushAll);
      }
    }
    ids.push(id);
    return !stream.writableNeedDrain;
  }
  flush(stream);
  return original(packet, stream, opts);
}

function flushAll(): void {
  flushScheduled = false;
  for (const stream of [...queued.keys()]) flush(stream);
}

function flush(stream: Writable): void {
  const ids = queued.get(stream);
  if (!ids) return;
  queued.delete(stream);
  // a connection closed meanwhile: the device sends its unacknowledged messages again [MQTT-4.4.0-1]
  if (stream.destroyed || stream.writableEnded) return;
  const bytes = Buffer.allocUnsafe(4 * ids.length);
  for (let i = 0; i < ids.length; i++) {
    bytes[4 * i] = 0x40;
    bytes[4 * i + 1] = 0x02;
    bytes[4 * i + 2] = ids[i]! >> 8;
    bytes[4 * i + 3] = ids[i]! & 0xff;
  }
  stream.write(bytes);
}
