/**
 * What the broker knows of each connection, shared by its steps: who it is once authenticated,
 * its place in the connection caps, and the live connections by client id. The listeners,
 * authentication, the sessions and the authorization hooks all read it; only assignments here.
 */
import type { IncomingMessage as HttpRequest } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Client } from 'aedes';
import type { Identity } from '../core/acl.js';
import type { Sender } from '../ingest/ingest.js';
import type { Ticket } from './connectionLimits.js';

export class Clients {
  /** set once a connection has authenticated (and its client id is allowed): absent = a stranger */
  readonly identities = new WeakMap<Client, Identity>();
  readonly tickets = new WeakMap<Client, Ticket>();
  /** connections past their CONNACK and not yet closed, by client id: one wins, the others are closed */
  readonly live = new Map<string, Set<Client>>();

  sender(client: Client): Sender {
    const who = this.identities.get(client);
    return { deviceId: who?.kind === 'device' ? who.deviceId : null, clientId: client.id ?? null, remoteAddress: remoteAddress(client) };
  }
}

export function remoteAddress(client: Client): string | null {
  const conn = client.conn as Duplex & { remoteAddress?: string };
  const req = client.req as HttpRequest | undefined;
  return conn.remoteAddress ?? req?.socket?.remoteAddress ?? null;
}
