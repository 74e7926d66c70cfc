/**
 * One live connection per client id, and each device's connection state, over aedes' client
 * registry: a connection counts from its CONNACK until its stream closes, whatever order
 * aedes' takeover of a same-id client emits its events in.
 */
import type { Duplex } from 'node:stream';
import type { Aedes, Client } from 'aedes';
import type { ConnectionTracker } from '../devices/connectionState.js';
import { remoteAddress, type Clients } from './clients.js';

export function trackSessions(aedes: Aedes, clients: Clients, tracker: ConnectionTracker): void {
  // aedes 1.2 unregisters a closing client by its id without checking that it is still the
  // client registered under that id: when connects with one id overlap (a device reconnecting
  // twice in a storm), the close of the first taken over would unregister a later one. Only
  // the registered client is unregistered here; a superseded one is still counted out and
  // its clientDisconnect emitted.
  const registry = aedes as unknown as { clients: Record<string, Client>; connectedClients: number; unregisterClient(c: Client): void };
  const unregister = registry.unregisterClient.bind(aedes);
  registry.unregisterClient = (c) => {
    if (registry.clients[c.id] === c) { unregister(c); return; }
    registry.connectedClients--;
    aedes.emit('clientDisconnect', c);
  };
  // Connection state per connection, not per event count: a connection counts from its
  // CONNACK (clientReady) until its stream closes, whatever order aedes' takeover of a same-id
  // client emits its events in (the old client's clientDisconnect may come after the new
  // clientReady, or, with overlapping connects, not at all).
  aedes.on('clientReady', (client) => {
    const conn = client.conn as Duplex;
    if (client.closed || conn.destroyed) return;
    // one live connection per client id [MQTT-3.1.4-2]: aedes' own takeover misses
    // connections whose CONNECTs overlapped, so the newest one ready closes the others
    let peers = clients.live.get(client.id);
    if (!peers) { peers = new Set(); clients.live.set(client.id, peers); }
    for (const other of peers) if (other !== client) other.close();
    peers.add(client);
    if (registry.clients[client.id] !== client) registry.clients[client.id] = client;
    const id = client.id;
    const who = clients.identities.get(client);
    if (who?.kind === 'device') tracker.connected(who.deviceId, remoteAddress(client), client);
    conn.once('close', () => {
      const set = clients.live.get(id);
      set?.delete(client);
      if (set && set.size === 0) clients.live.delete(id);
      if (who?.kind === 'device') tracker.disconnected(who.deviceId, client);
    });
  });
}
