/**
 * PUBLISH packets read straight from the socket's bytes, in front of mqtt-packet's parser.
 *
 * Why: readings are almost all PUBLISH, and mqtt-packet reads each one through a buffer list
 * in four states, a `debug()` call on every step (each allocates its arguments even when
 * logging is off), a buffer slice per integer read. In the P1 heap profile that was ~30 % of
 * all bytes allocated while ingesting (debug 12 %, the buffer list's slices 11 %), so garbage
 * collection took ~15 % of the service's time.
 *
 * What: a complete MQTT 3.1.1 PUBLISH [MQTT-3.3] is decoded here into the same packet object
 * mqtt-packet emits (`cmd, retain, qos, dup, length, topic, payload[, messageId]`) and emitted
 * the same way, on the parser, so aedes sees no difference. Everything else goes to
 * mqtt-packet unchanged: any other packet type, a PUBLISH whose lengths do not add up or
 * whose QoS is 3 (mqtt-packet then reports the error exactly as before), a packet over the
 * size cap (broker/internals/packetGuard.ts then closes the connection), and any data that arrives
 * while mqtt-packet holds part of a packet. A PUBLISH cut by the end of a read is kept (a
 * copy of that packet's bytes only) for the next read; if that read does not complete it
 * either, or it is larger than `KEEP_MAX_BYTES`, it is left to mqtt-packet, whose buffer list
 * does not copy it again per read.
 *
 * aedes 1.x speaks MQTT 3.1 and 3.1.1 only (its CONNECT handler refuses 5), so a PUBLISH here
 * never has MQTT 5 properties.
 */
import type { Client } from 'aedes';
import type { EventEmitter } from 'node:events';

/** A PUBLISH cut by a read is kept here up to this size; larger ones go to mqtt-packet. */
export const KEEP_MAX_BYTES = 64 * 1024;

const PUBLISH = 3;

interface ParserInternals extends EventEmitter {
  parse(buf: Buffer): number;
  _list: { length: number };
  _stateCounter: number;
  error: Error | null;
}

export interface PublishPacketRead {
  cmd: 'publish';
  retain: boolean;
  qos: number;
  dup: boolean;
  length: number;
  topic: string;
  payload: Buffer;
  messageId?: number;
}

export function readPublishesFast(client: Client, maxPacketBytes: number): void {
  const parser = (client as unknown as { _parser?: ParserInternals })._parser;
  if (!parser || typeof parser.parse !== 'function' || typeof parser._stateCounter !== 'number' || typeof parser._list?.length !== 'number') {
    throw new Error('aedes internals changed: cannot install the PUBLISH reader (check the aedes and mqtt-packet versions)');
  }
  const slowParse = parser.parse;
  /** the start of a PUBLISH cut by the end of the last read */
  let kept: Buffer | null = null;
  /** the last topic read, to reuse its string while a device publishes on the same topic */
  let topicBytes: Buffer | null = null;
  let topicString = '';

  const slow = (data: Buffer): number => slowParse.call(parser, data);
  /** mqtt-packet holds nothing: no partial packet, no error to reset */
  const idle = (): boolean => parser._list.length === 0 && parser._stateCounter === 0 && parser.error === null;

  const topicAt = (data: Buffer, start: number, end: number): string => {
    const n = end - start;
    if (topicBytes !== null && topicBytes.length === n) {
      let i = 0;
      while (i < n && topicBytes[i] === data[start + i]) i++;
      if (i === n) return topicString;
    }
    // as mqtt-packet decodes it (invalid UTF-8 becomes U+FFFD); the ACL then judges the topic
    topicString = data.toString('utf8', start, end);
    topicBytes = Buffer.from(data.subarray(start, end));
    return topicString;
  };

  parser.parse = function readPublishes(buf: Buffer): number {
    if (!idle()) return slow(buf);
    let data = buf;
    // a packet kept from the last read continues at 0; should this read not complete it either,
    // mqtt-packet takes it over (its buffer list appends without copying): keeping it again
    // would copy it once per read, quadratic for a packet sent a byte at a time
    let continued = false;
    if (kept) {
      data = Buffer.concat([kept, buf]);
      kept = null;
      continued = true;
    }
    let at = 0;
    while (at < data.length) {
      const first = data[at]!;
      // Remaining Length: 1 to 4 bytes, 7 bits each [MQTT-2.2.3]
      let length = 0;
      let mul = 1;
      let p = at + 1;
      let complete = false;
      for (let n = 0; n < 4 && p < data.length; n++) {
        const b = data[p++]!;
        length += (b & 0x7f) * mul;
        mul *= 128;
        if ((b & 0x80) === 0) { complete = true; break; }
      }
      if (!complete) {
        // four bytes all with the continuation bit: malformed, mqtt-packet reports it
        if (p - at - 1 >= 4 || (continued && at === 0)) return slow(data.subarray(at));
        kept = Buffer.from(data.subarray(at));
        return 0;
      }
      const end = p + length;
      if (first >> 4 !== PUBLISH || length > maxPacketBytes) {
        if (end > data.length || length > maxPacketBytes) return slow(data.subarray(at));
        slow(data.subarray(at, end));
        // after an error aedes closes the connection; mqtt-packet would drop the rest as well
        if (parser.error) return 0;
        if (!idle()) return slow(data.subarray(end));
        at = end;
        continue;
      }
      if (end > data.length) {
        if (length > KEEP_MAX_BYTES || (continued && at === 0)) return slow(data.subarray(at));
        kept = Buffer.from(data.subarray(at));
        return 0;
      }
      const qos = (first >> 1) & 3;
      const topicLength = length >= 2 ? (data[p]! << 8) | data[p + 1]! : -1;
      const headerBytes = 2 + topicLength + (qos > 0 ? 2 : 0);
      // QoS 3, or a topic and packet id longer than the packet: mqtt-packet's error, as before
      if (qos === 3 || topicLength < 0 || headerBytes > length) return slow(data.subarray(at));
      const topic = topicAt(data, p + 2, p + 2 + topicLength);
      const retain = (first & 1) !== 0;
      const dup = (first & 8) !== 0;
      const payload = data.subarray(p + headerBytes, end);
      const packet: PublishPacketRead = qos > 0
        ? { cmd: 'publish', retain, qos, dup, length, topic, payload, messageId: (data[p + 2 + topicLength]! << 8) | data[p + 3 + topicLength]! }
        : { cmd: 'publish', retain, qos, dup, length, topic, payload };
      at = end;
      parser.emit('packet', packet);
    }
    return 0;
  };
}
