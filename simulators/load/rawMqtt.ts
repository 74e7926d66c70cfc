/**
 * The wire side of the load generator (load mode and the benchmarks): a deliberately cheap
 * MQTT 3.1.1 client. CONNECT and PUBLISH are encoded here (before the clock starts, or once
 * per device as a template: template.ts), and the only parsing is a scan for CONNACK, PUBACK
 * and PINGRESP. The generator runs on the same 2 cores as the broker, so it must cost less
 * than the broker it measures. client.ts builds a device's connection on it.
 */
import net from 'node:net';

function remainingLength(n: number): Buffer {
  const out: number[] = [];
  do {
    let byte = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) byte |= 0x80;
    out.push(byte);
  } while (n > 0);
  return Buffer.from(out);
}

function str(s: string): Buffer {
  const b = Buffer.from(s, 'utf8');
  const len = Buffer.alloc(2);
  len.writeUInt16BE(b.length);
  return Buffer.concat([len, b]);
}

export function encodeConnect(clientId: string, username?: string, password?: string, keepaliveS = 60): Buffer {
  const flags = 0x02 | (username ? 0x80 : 0) | (password ? 0x40 : 0); // clean session
  const keepalive = Buffer.alloc(2);
  keepalive.writeUInt16BE(keepaliveS);
  const body = Buffer.concat([str('MQTT'), Buffer.from([4, flags]), keepalive, str(clientId),
    ...(username ? [str(username)] : []), ...(password ? [str(password)] : [])]);
  return Buffer.concat([Buffer.from([0x10]), remainingLength(body.length), body]);
}

export function encodePublish(topic: string, payload: Buffer, qos: 0 | 1, messageId: number): Buffer {
  const id = Buffer.alloc(qos ? 2 : 0);
  if (qos) id.writeUInt16BE(messageId);
  const body = Buffer.concat([str(topic), id, payload]);
  return Buffer.concat([Buffer.from([0x30 | (qos << 1)]), remainingLength(body.length), body]);
}

/**
 * Connect and resolve after CONNACK 0. `onAck` is called for each PUBACK. PUBACK is 4 bytes
 * (0x40 0x02 id id); CONNACK is 4 bytes (0x20 0x02 flags rc). Anything else ends the run.
 */
export function connectRaw(
  port: number, host: string, connect: Buffer, onAck: (id: number) => void, localAddress?: string, onPong?: () => void, signal?: AbortSignal,
): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ port, host, ...(localAddress ? { localAddress } : {}) });
    // a device giving up on an attempt closes its socket (as MQTT.js does on connectTimeout)
    signal?.addEventListener('abort', () => { if (!socket.destroyed) socket.destroy(); reject(new Error('attempt abandoned')); }, { once: true });
    socket.setNoDelay(true);
    let pending: Buffer = Buffer.alloc(0);
    let connected = false;
    socket.on('error', reject);
    // closed by the broker before its CONNACK (e.g. its connect timeout under a storm): fail, do not hang
    socket.on('close', () => { if (!connected) reject(new Error('closed before CONNACK')); });
    socket.on('connect', () => socket.write(connect));
    socket.on('data', (chunk: Buffer) => {
      // writes made by onAck for this whole chunk leave in one syscall
      socket.cork();
      process.nextTick(() => socket.uncork());
      pending = pending.length ? Buffer.concat([pending, chunk]) : chunk;
      let i = 0;
      while (pending.length - i >= 2) {
        const type = pending[i]! >> 4;
        // remaining length: 1 to 4 bytes, 7 bits each
        let len = 0;
        let mult = 1;
        let h = i + 1;
        let complete = false;
        while (h < pending.length && h < i + 5) {
          const b = pending[h++]!;
          len += (b & 0x7f) * mult;
          mult *= 128;
          if (!(b & 0x80)) { complete = true; break; }
        }
        if (!complete || pending.length < h + len) break;
        const head = h - i;
        if (type === 2) {
          const rc = pending[i + head + 1]!;
          if (rc !== 0) { reject(new Error(`CONNACK ${rc}`)); socket.destroy(); return; }
          connected = true;
          resolve(socket);
        } else if (type === 4) {
          onAck(pending.readUInt16BE(i + head));
        } else if (type === 13) {
          onPong?.();
        } else if (type !== 3 && type !== 9) {
          socket.destroy(new Error(`unexpected packet type ${type}`));
          return;
        }
        i = h + len;
      }
      pending = pending.subarray(i);
      if (!connected && pending.length > 1024) socket.destroy(new Error('no CONNACK'));
    });
  });
}

export const PINGREQ = Buffer.from([0xc0, 0x00]);
