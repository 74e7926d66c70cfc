/**
 * A hard cap on MQTT packet size, checked as soon as the fixed header's Remaining Length is
 * read, before the body is buffered. mqtt-packet would otherwise buffer up to 256 MB for one
 * packet. Payloads between MQTT_MAX_PAYLOAD_BYTES and this cap are still read, then
 * dead-lettered as too_large with the connection kept (docs/protocol.md, Bad input); beyond it the
 * connection is closed and the event recorded as packet_too_large.
 */
import type { Client } from 'aedes';

interface ParserInternals {
  packet: { length: number };
  _parseLength(): boolean;
  _emitError(err: Error): void;
}

export function guardPacketSize(client: Client, maxBytes: number, onOversize: (size: number) => void): void {
  const parser = (client as unknown as { _parser?: ParserInternals })._parser;
  if (!parser || typeof parser._parseLength !== 'function') {
    throw new Error('aedes internals changed: cannot install the packet size guard (check the aedes version)');
  }
  const parseLength = parser._parseLength;
  parser._parseLength = function guardedParseLength(this: ParserInternals): boolean {
    const ok = parseLength.call(this);
    if (ok && this.packet.length > maxBytes) {
      onOversize(this.packet.length);
      this._emitError(new Error(`packet of ${this.packet.length} bytes exceeds the limit of ${maxBytes}`));
      return false;
    }
    return ok;
  };
}
