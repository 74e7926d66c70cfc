/**
 * One PUBLISH per device encoded once, with the message's sequence number (the digits ending
 * its msgId), its timestamp and its packet id patched into a copy per message: no JSON
 * encoding per message, so the generator stays cheaper than the broker it drives.
 */
import { encodePublish } from './rawMqtt.js';

const SEQ_DIGITS = 10;
const TS_DIGITS = 13;
/** A 13-digit epoch-ms placeholder (2001-09-09): every time until 2286 has as many digits. */
const TS_SLOT = 1_000_000_000_000;

export class PublishTemplate {
  private readonly packet: Buffer;
  private readonly pidAt: number;
  private readonly seqAt: number;
  private readonly tsAt: number;

  /**
   * `payload(msgId, ts)` builds the message once; msgIds are `msgIdPrefix` followed by the
   * sequence number in 10 digits, `ts` is epoch milliseconds.
   */
  constructor(topic: string, readonly qos: 0 | 1, msgIdPrefix: string, payload: (msgId: string, ts: number) => unknown) {
    const seqSlot = '0'.repeat(SEQ_DIGITS);
    const body = Buffer.from(JSON.stringify(payload(`${msgIdPrefix}${seqSlot}`, TS_SLOT)));
    this.packet = encodePublish(topic, body, qos, 1);
    const payloadAt = this.packet.length - body.length;
    const seqAt = body.indexOf(`"msgId":"${msgIdPrefix}${seqSlot}"`);
    const tsAt = body.indexOf(`"ts":${TS_SLOT}`);
    if (seqAt < 0 || tsAt < 0) throw new Error(`template for ${topic}: the payload needs "msgId" and a numeric "ts" at the top level`);
    this.pidAt = payloadAt - 2;
    this.seqAt = payloadAt + seqAt + `"msgId":"${msgIdPrefix}`.length;
    this.tsAt = payloadAt + tsAt + '"ts":'.length;
  }

  /** A new packet: sequence `seq` (up to 10 digits), `ts` (epoch ms, 13 digits; a string saves a conversion per message), packet id `pid` (QoS 1). */
  fill(seq: number, ts: number | string, pid: number): Buffer {
    const b = Buffer.allocUnsafe(this.packet.length);
    this.packet.copy(b);
    if (this.qos) b.writeUInt16BE(pid, this.pidAt);
    b.write(String(seq).padStart(SEQ_DIGITS, '0'), this.seqAt, 'latin1');
    b.write(typeof ts === 'string' ? ts : String(ts), this.tsAt, TS_DIGITS, 'latin1');
    return b;
  }
}

/** An elevator standing at a floor, doors closed, nobody on board: valid, stored, and it raises no alert. */
export function idleElevatorStatus(msgId: string, ts: number): Record<string, unknown> {
  return { msgId, ts, floor: 3, doorZone: true, doorClosed: true, moving: false, direction: 'stop', speedMps: 0, passengerPresent: false, serviceMode: 'normal', powerOk: true };
}
