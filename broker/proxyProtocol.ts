/**
 * The PROXY protocol (HAProxy's, versions 1 and 2: https://www.haproxy.org/download/2.6/doc/proxy-protocol.txt),
 * so that behind a TCP load balancer (docs/cluster.md, Deployment) every per-address bound
 * still counts the device's or browser's own address, not the balancer's: the connection caps
 * per address, the unauthenticated caps, the password-attempt limits. Without it one stranger's
 * failed logins through the balancer would lock out every device behind it.
 *
 * Only a connection from a trusted proxy (TRUSTED_PROXIES) is read for a header, and it must
 * send one (a balancer that sends none is misconfigured: closed rather than taken as the
 * balancer's own connection). Anyone else connects directly, as without a balancer, and
 * cannot claim an address. The header is read before anything else sees the socket; the bytes
 * after it go back to the socket for MQTT, TLS or HTTP.
 */
import net from 'node:net';

/** Where the proxy said the connection came from; null for a LOCAL/UNKNOWN one (the proxy's own, e.g. a health check). */
export interface ProxiedSource {
  address: string;
  port: number;
}

export type HeaderResult =
  | { kind: 'incomplete' }
  | { kind: 'invalid'; reason: string }
  | { kind: 'done'; source: ProxiedSource | null; length: number };

const V2_SIGNATURE = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);
/** v1's longest line (the spec's 107 bytes, CRLF included) */
const V1_MAX = 107;
/** v2's header with its TLVs at most: HAProxy sends a few dozen bytes; more is not a proxy */
const V2_MAX = 16 + 2048;

/** Parse a PROXY header at the start of `buf` (pure: tested as a table). */
export function parseProxyHeader(buf: Buffer): HeaderResult {
  if (buf.length === 0) return { kind: 'incomplete' };
  const sig = buf.subarray(0, Math.min(buf.length, V2_SIGNATURE.length));
  if (V2_SIGNATURE.subarray(0, sig.length).equals(sig)) return buf.length < 16 ? { kind: 'incomplete' } : parseV2(buf);
  const v1 = Buffer.from('PROXY ');
  const head = buf.subarray(0, Math.min(buf.length, v1.length));
  if (!v1.subarray(0, head.length).equals(head)) return { kind: 'invalid', reason: 'no PROXY header from a trusted proxy' };
  return parseV1(buf);
}

function parseV1(buf: Buffer): HeaderResult {
  const end = buf.indexOf('\r\n');
  if (end < 0) return buf.length >= V1_MAX ? { kind: 'invalid', reason: 'PROXY v1 line too long' } : { kind: 'incomplete' };
  if (end + 2 > V1_MAX) return { kind: 'invalid', reason: 'PROXY v1 line too long' };
  const parts = buf.subarray(0, end).toString('latin1').split(' ');
  const length = end + 2;
  if (parts[1] === 'UNKNOWN') return { kind: 'done', source: null, length };
  if (parts.length !== 6 || (parts[1] !== 'TCP4' && parts[1] !== 'TCP6')) return { kind: 'invalid', reason: 'malformed PROXY v1 line' };
  const [, family, src, , sport] = parts as [string, string, string, string, string, string];
  const port = /^\d{1,5}$/.test(sport) ? Number(sport) : -1;
  if ((family === 'TCP4' ? net.isIPv4(src) : net.isIPv6(src)) && port >= 0 && port <= 65535) return { kind: 'done', source: { address: src, port }, length };
  return { kind: 'invalid', reason: 'malformed PROXY v1 address' };
}

function parseV2(buf: Buffer): HeaderResult {
  const verCmd = buf[12]!;
  const fam = buf[13]!;
  const len = buf.readUInt16BE(14);
  if (verCmd >> 4 !== 2) return { kind: 'invalid', reason: 'PROXY v2 with an unknown version' };
  if (16 + len > V2_MAX) return { kind: 'invalid', reason: 'PROXY v2 header too long' };
  if (buf.length < 16 + len) return { kind: 'incomplete' };
  const length = 16 + len;
  const cmd = verCmd & 0x0f;
  if (cmd === 0x0) return { kind: 'done', source: null, length }; // LOCAL: the proxy's own connection
  if (cmd !== 0x1) return { kind: 'invalid', reason: 'PROXY v2 with an unknown command' };
  const body = buf.subarray(16, length);
  if (fam === 0x11 && len >= 12) return { kind: 'done', source: { address: [...body.subarray(0, 4)].join('.'), port: body.readUInt16BE(8) }, length };
  if (fam === 0x21 && len >= 36) {
    const groups: string[] = [];
    for (let i = 0; i < 16; i += 2) groups.push(body.readUInt16BE(i).toString(16));
    return { kind: 'done', source: { address: ipv6Text(groups), port: body.readUInt16BE(32) }, length };
  }
  if (fam === 0x00) return { kind: 'done', source: null, length }; // UNSPEC
  return { kind: 'invalid', reason: 'PROXY v2 with an address family other than TCP over IPv4 or IPv6' };
}

/** Eight hex groups as Node writes an IPv6 address (the longest run of zero groups as ::). */
function ipv6Text(groups: string[]): string {
  let best = -1;
  let bestLen = 0;
  for (let i = 0; i < 8;) {
    if (groups[i] !== '0') { i++; continue; }
    let j = i;
    while (j < 8 && groups[j] === '0') j++;
    if (j - i > bestLen && j - i > 1) { best = i; bestLen = j - i; }
    i = j;
  }
  if (best < 0) return groups.join(':');
  return `${groups.slice(0, best).join(':')}::${groups.slice(best + bestLen).join(':')}`;
}

/** Addresses and CIDR blocks of the proxies whose headers are believed (TRUSTED_PROXIES). */
export function trustList(entries: readonly string[]): net.BlockList {
  const list = new net.BlockList();
  for (const e of entries) {
    const [addr, bits] = e.split('/') as [string, string | undefined];
    const type = net.isIPv6(addr) ? 'ipv6' : 'ipv4';
    if (bits === undefined) list.addAddress(addr, type);
    else list.addSubnet(addr, Number(bits), type);
  }
  return list;
}

/**
 * The client a trusted balancer names in X-Forwarded-For: the last entry, the one it appended
 * itself (entries before it are the client's own claims); null when there is none that is an
 * address.
 */
export function forwardedClient(header: string | string[] | undefined): string | null {
  const value = Array.isArray(header) ? header[header.length - 1] : header;
  const last = value?.split(',').pop()?.trim() ?? '';
  return net.isIP(last) ? last : null;
}

export function isTrusted(list: net.BlockList, address: string | undefined): boolean {
  if (!address) return false;
  const plain = address.startsWith('::ffff:') && net.isIPv4(address.slice(7)) ? address.slice(7) : address;
  return list.check(plain, net.isIPv6(plain) ? 'ipv6' : 'ipv4');
}

/**
 * Read a trusted proxy's header from `socket`, then give the socket on with the source it
 * names as its `remoteAddress`/`remotePort` (so every later reader, limits, logs and the
 * HTTP app alike, sees the client's address), the bytes after the header put back. Closed
 * when the header is invalid or not complete within `timeoutMs`.
 */
export function readProxied(socket: net.Socket, timeoutMs: number, then: (socket: net.Socket) => void, onInvalid: (reason: string) => void): void {
  let buf: Buffer = Buffer.alloc(0);
  const timer = setTimeout(() => fail('no complete PROXY header in time'), timeoutMs);
  const cleanup = (): void => {
    clearTimeout(timer);
    socket.off('data', onData);
    socket.off('close', onClose);
  };
  const fail = (reason: string): void => {
    cleanup();
    onInvalid(reason);
    socket.destroy();
  };
  const onClose = (): void => cleanup();
  const onData = (chunk: Buffer): void => {
    buf = buf.length ? Buffer.concat([buf, chunk]) : chunk;
    const r = parseProxyHeader(buf);
    if (r.kind === 'incomplete') return;
    if (r.kind === 'invalid') { fail(r.reason); return; }
    cleanup();
    socket.pause();
    if (r.source) {
      // own properties shadow net.Socket's getters for this socket only
      Object.defineProperty(socket, 'remoteAddress', { value: r.source.address, configurable: true });
      Object.defineProperty(socket, 'remotePort', { value: r.source.port, configurable: true });
      Object.defineProperty(socket, 'remoteFamily', { value: net.isIPv6(r.source.address) ? 'IPv6' : 'IPv4', configurable: true });
    }
    const rest = buf.subarray(r.length);
    if (rest.length) socket.unshift(rest);
    then(socket);
    socket.resume();
  };
  socket.on('data', onData);
  socket.on('close', onClose);
}
