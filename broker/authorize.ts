/**
 * What a connection may do: aedes' authorizePublish and authorizeSubscribe hooks, over the topic
 * ACL (`core/acl.ts`). Ingest runs inside `authorizePublish`, the one hook aedes waits for
 * before it writes the PUBACK; a device's readings then skip aedes' publish pipeline.
 */
import type { Aedes, Client, PublishPacket, Subscription } from 'aedes';
import type { Logger } from 'pino';
import type { IncomingMessage, Ingest, Sender } from '../ingest/ingest.js';
import type { DeviceTopic } from '../core/topic.js';
import { checkPublish, checkSubscribe } from '../core/acl.js';
import type { ConnectionTracker } from '../devices/connectionState.js';
import type { DeviceRegistry } from '../devices/deviceRegistry.js';
import type { Clients } from './clients.js';

export class Authorization {
  /** per device connection: the last topic it published on, accepted by the ACL, and who it is */
  private readonly lastTopic = new WeakMap<Client, { topic: string; parsed: DeviceTopic; sender: Sender }>();

  constructor(
    private readonly registry: DeviceRegistry,
    private readonly tracker: ConnectionTracker,
    private readonly ingest: Ingest,
    private readonly clients: Clients,
    private readonly log: Logger,
  ) {}

  /**
   * Readings go to the store, never to subscribers: the ACL lets no client subscribe to a
   * device -> platform topic, so aedes' publish pipeline after the PUBACK (retained store,
   * offline queues, subscription match, `publish` event) has nothing to do for them. A
   * device's packet on the topic the ACL last accepted for its connection skips it;
   * everything else (the platform's own messages, $SYS, anything not checked) takes aedes'
   * path unchanged.
   */
  skipPublishPipeline(aedes: Aedes): void {
    const publish = aedes.publish.bind(aedes) as unknown as (packet: PublishPacket, client: Client | null, done?: (err?: Error) => void) => void;
    (aedes as unknown as { publish: typeof publish }).publish = (packet, client, done) => {
      if (client && typeof client === 'object' && this.lastTopic.get(client)?.topic === packet.topic) {
        // QoS 1/2: aedes calls this from the PUBACK write's setImmediate, on a fresh stack;
        // QoS 0 comes straight from the packet's handler: unwind first, as aedes' own
        // pipeline would, so a chunk of QoS 0 packets does not recurse
        if (!done) return;
        if (packet.qos > 0) done();
        else process.nextTick(done);
        return;
      }
      publish(packet, client, done);
    };
  }

  authorizePublish(client: Client | null, packet: PublishPacket, cb: (err?: Error | null) => void): void {
    try {
      this.checkAndIngest(client, packet, cb);
    } catch (err) {
      // a bug must cost one connection, never the process; the message is not acknowledged
      this.log.error({ err, topic: packet.topic }, 'publish handling failed');
      cb(err as Error);
    }
  }

  authorizeSubscribe(client: Client, sub: Subscription, cb: (err: Error | null, sub?: Subscription | null) => void): void {
    const who = this.clients.identities.get(client);
    if (!who) { cb(null, null); return; }
    // a refused filter gets 0x80 in the SUBACK; the connection stays [MQTT-3.9.3]
    cb(null, checkSubscribe(who, sub.topic) ? sub : null);
  }

  private checkAndIngest(client: Client | null, packet: PublishPacket, cb: (err?: Error | null) => void): void {
    // A will message of a client already gone: devices have no business with wills.
    if (!client) { cb(new Error('will messages are not accepted')); return; }
    // A device publishes on a few topics over and over: the last accepted one is remembered
    // per connection, so the ACL check and the topic parse run once per topic, not per message.
    const last = this.lastTopic.get(client);
    if (last !== undefined && last.topic === packet.topic && typeof packet.payload !== 'string') {
      this.tracker.seen(last.parsed.deviceId);
      packet.retain = false;
      this.ingest.handle(last.sender, last.parsed, packet as IncomingMessage, cb);
      return;
    }
    const who = this.clients.identities.get(client);
    // aedes handles PUBLISH only after the CONNACK, so this cannot happen; if it did, the bytes of a
    // connection that never authenticated are not stored
    if (!who) { cb(new Error('not authenticated')); return; }
    const payload = typeof packet.payload === 'string' ? Buffer.from(packet.payload) : packet.payload;
    const msg = { topic: packet.topic, payload, qos: packet.qos };
    const sender = last?.sender ?? this.clients.sender(client);
    const decision = checkPublish(who, packet.topic);
    if (!decision.ok) {
      // topic abuse may close the connection (docs/protocol.md, Bad input) [MQTT-3.3.5-2]
      const replyTo = who.kind === 'device' ? { family: who.family, deviceId: who.deviceId } : decision.topic;
      this.ingest.reject(sender, msg, replyTo, { reason: decision.reason, detail: decision.detail }, Date.now(), cb, true);
      return;
    }
    const topic = decision.topic;
    if (who.kind === 'anonymous') {
      const device = this.registry.get(topic.deviceId);
      if (!device || device.family !== topic.family) {
        this.ingest.reject(sender, msg, topic, { reason: 'unknown_device', detail: `no ${topic.family} device ${topic.deviceId} is registered` }, Date.now(), cb);
        return;
      }
    } else if (who.kind === 'device') {
      // only a device's own topics are remembered: the decision depends on nothing else
      this.lastTopic.set(client, { topic: packet.topic, parsed: topic, sender });
    }
    this.tracker.seen(topic.deviceId);
    // readings are stored, not retained: a retained copy per device topic would only hold memory
    packet.retain = false;
    this.ingest.handle(sender, topic, msg, cb);
  }
}
