/**
 * Who a connection is: aedes' preConnect and authenticate hooks. A device signs in with its
 * id and secret (the device registry), an integration with a dashboard account (the shared
 * password limiter), anyone else only in open mode; then its client id must be its own and
 * its address have room. Refusals are counted by CONNACK return code.
 */
import type { Duplex } from 'node:stream';
import type { AuthenticateError, Client } from 'aedes';
import type { Logger } from 'pino';
import type { Config } from '../service/config.js';
import type { Identity } from '../core/acl.js';
import type { DeviceRegistry } from '../devices/deviceRegistry.js';
import type { Users } from '../accounts/users.js';
import { scopeOf } from '../accounts/scope.js';
import { checkClientId } from './clientId.js';
import { remoteAddress, type Clients } from './clients.js';

type AuthenticateCallback = (err: AuthenticateError | null, ok: boolean | null) => void;

export class Authentication {
  /** the client id and clean flag as the CONNECT sent them (aedes fills in an empty id before authenticate) */
  private readonly requested = new WeakMap<Client, { clientId: string; clean: boolean }>();
  /** CONNECTs refused with a CONNACK return code, by reason */
  readonly connectRefusals = { identifier_rejected: 0, bad_credentials: 0, not_authorized: 0, server_unavailable: 0 };

  constructor(
    private readonly config: Config['mqtt'],
    private readonly registry: DeviceRegistry,
    private readonly clients: Clients,
    private readonly log: Logger,
    /** dashboard accounts, for integration clients subscribing to alerts */
    private readonly users: Pick<Users, 'check'> | null,
  ) {}

  preConnect(client: Client, packet: { clientId?: string; clean?: boolean }, cb: (err: Error | null, ok: boolean) => void): void {
    this.requested.set(client, { clientId: packet.clientId ?? '', clean: packet.clean !== false });
    // A CONNECT read from a socket its device has already closed (an attempt it gave up on in a
    // reconnect storm, its CONNECT still buffered) must not take over the client id: that would
    // drop the device's live session [MQTT-3.1.4-2] for a socket nobody reads. The check waits
    // one turn so that the end of the stream, read with the CONNECT, has been seen.
    setImmediate(() => {
      const conn = client.conn as Duplex & { _readableState?: { ended?: boolean } };
      const gone = conn.destroyed || conn.readableEnded || conn._readableState?.ended === true;
      if (gone) this.log.debug({ clientId: client.id }, 'ignored a CONNECT from a socket already closed by the device');
      cb(null, !gone);
    });
  }

  authenticate(client: Client, username: string | undefined, password: Buffer | undefined, cb: AuthenticateCallback): void {
    if (!username) {
      if (this.config.allowAnonymous) {
        this.accept(client, { kind: 'anonymous' }, cb);
        return;
      }
      // CONNACK 5: not authorized [MQTT-3.2.2-3 table 3.1]
      this.connectRefusals.not_authorized++;
      cb(Object.assign(new Error('anonymous connections are refused'), { returnCode: 5 }) as AuthenticateError, null);
      return;
    }
    const device = password ? this.registry.authenticate(username, password) : null;
    if (device) {
      this.accept(client, { kind: 'device', deviceId: device.id, family: device.family }, cb);
      return;
    }
    // not a device: perhaps a dashboard account of an integration (scrypt, so only when no device matched)
    const refuse = () => {
      this.connectRefusals.bad_credentials++;
      cb(Object.assign(new Error('bad device id or secret'), { returnCode: 4 }) as AuthenticateError, null);
    };
    if (!password || !this.users || this.registry.get(username)) { refuse(); return; }
    // the one password limiter, shared with the HTTP login (docs/security.md, Password checks)
    this.users.check(username, password.toString('utf8'), remoteAddress(client)).then((result) => {
      if (result.kind === 'limited') this.log.warn({ username, remote: remoteAddress(client), retryAfterS: result.retryAfterS }, 'MQTT login refused: too many password attempts');
      if (result.kind !== 'ok') { refuse(); return; }
      const user = result.user;
      this.accept(client, { kind: 'user', username: user.username, role: user.role, district: scopeOf(user) }, cb);
    }, (err: Error) => {
      this.log.error({ err }, 'user lookup failed');
      refuse();
    });
  }

  /**
   * The credentials are good: admit `who` if its client id is its own (CONNACK 0x02 if not,
   * [MQTT-3.1.3-9]) and its address has room for one more authenticated connection (CONNACK
   * 0x03 if not). Only then is the connection anyone: until here nothing it sent is stored.
   */
  private accept(client: Client, who: Identity, cb: AuthenticateCallback): void {
    const asked = this.requested.get(client) ?? { clientId: client.id, clean: client.clean };
    const decision = checkClientId(who, asked.clientId, asked.clean);
    if (!decision.ok) {
      this.connectRefusals.identifier_rejected++;
      this.log.info({ remote: remoteAddress(client), clientId: asked.clientId.slice(0, 128), detail: decision.detail }, 'refused a CONNECT: client id not the identity\'s own');
      cb(Object.assign(new Error(decision.detail), { returnCode: 2 }) as AuthenticateError, null);
      return;
    }
    const ticket = this.clients.tickets.get(client);
    // a connection taking over a live one of the same id from its own address frees that one
    const replacing = ticket !== undefined && [...this.clients.live.get(decision.clientId) ?? []].some((c) => this.clients.tickets.get(c)?.address === ticket.address);
    if (ticket && !ticket.authenticate(replacing)) {
      this.connectRefusals.server_unavailable++;
      this.log.warn({ remote: remoteAddress(client), max: this.config.maxConnectionsPerAddress }, 'refused a CONNECT: MQTT_MAX_CONNECTIONS_PER_ADDRESS reached');
      cb(Object.assign(new Error('too many connections from this address'), { returnCode: 3 }) as AuthenticateError, null);
      return;
    }
    client.id = decision.clientId;
    this.clients.identities.set(client, who);
    cb(null, true);
  }
}
