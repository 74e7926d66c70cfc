/**
 * WebSocket upgrades on the HTTP port, dispatched by path: `/mqtt` (MQTT over WebSocket,
 * docs/protocol.md, Transport) and, later, `/ws` (the dashboard's live push).
 */
import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';

export type UpgradeHandler = (ws: WebSocket, req: IncomingMessage) => void;

export interface UpgradeRoute {
  handler: UpgradeHandler;
  /** subprotocols accepted, in preference order (MQTT clients offer `mqtt`) */
  protocols?: string[];
  maxPayload: number;
  /**
   * Asked before the WebSocket handshake; false = refused: answered 503 and closed at once
   * (MQTT over WebSocket: the broker's connection caps, docs/security.md).
   */
  admit?: (req: IncomingMessage, socket: Duplex) => boolean;
}

export function attachUpgrades(server: Server, routes: Record<string, UpgradeRoute>): () => void {
  const servers = new Map<string, WebSocketServer>();
  for (const [path, route] of Object.entries(routes)) {
    servers.set(path, new WebSocketServer({
      noServer: true,
      maxPayload: route.maxPayload,
      handleProtocols: (offered) => {
        if (!route.protocols) return false;
        return route.protocols.find((p) => offered.has(p)) ?? false;
      },
    }));
  }
  const onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    const path = (req.url ?? '/').split('?')[0]!;
    const wss = servers.get(path);
    const route = routes[path];
    if (!wss || !route) {
      socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    if (route.admit && !route.admit(req, socket)) {
      socket.end('HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Length: 0\r\n\r\n', () => socket.destroy());
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => route.handler(ws, req));
  };
  server.on('upgrade', onUpgrade);
  return () => {
    server.off('upgrade', onUpgrade);
    for (const wss of servers.values()) {
      for (const client of wss.clients) client.terminate();
      wss.close();
    }
  };
}
