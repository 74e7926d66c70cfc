/**
 * The reading's path through the service, step by step (docs/architecture.md draws it):
 *
 *  1. broker      `broker/broker.ts`: a device's PUBLISH, authenticated, its topic checked by
 *                 the ACL (`core/acl.ts`) in aedes' authorizePublish, before any PUBACK;
 *  2. ingest      `ingest/ingest.ts`: decode and validate, dedupe, number, queue for the group
 *                 commit (bad input dead-lettered in the same commit, the device told);
 *  3. accepted    `reading.accepted`: the cylinder scan is answered now (the 200 ms contract);
 *  4. commit      `store/journal/`: fsynced, then the PUBACKs (QoS 1 means stored);
 *  5. stored      `readings.stored`: the alert engine's rules, InfluxDB forwarding;
 *  6. effects     `alert`, `rescueCase`, `storeFlag`: MQTT alerts/#, webhooks, the /ws hub.
 *
 * Steps 1, 2 and 4 are calls (each waits for the one before); from 3 on they are events on
 * the bus, wired here. The subscriptions are returned so that the service removes them at stop.
 */
import type { AlertEngine } from '../alerts/engine.js';
import { wireFanout } from '../alerts/fanout.js';
import type { Webhooks } from '../alerts/webhooks.js';
import type { Broker } from '../broker/broker.js';
import type { InfluxForwarder } from '../store/influx/forwarder.js';
import type { ServiceBus } from './events.js';

export interface DataPathParts {
  engine: Pick<AlertEngine, 'handleAccepted' | 'handleReadings' | 'handleConnection'>;
  influx: Pick<InfluxForwarder, 'notify'> | null;
  broker: Pick<Broker, 'publish'>;
  webhooks: Webhooks;
  /** the stores' contact gateway (STORE_CONTACT_WEBHOOKS): rectification requests */
  storeContact?: Webhooks;
}

export function wireDataPath(bus: ServiceBus, p: DataPathParts): Array<() => void> {
  return [
    // 3. accepted: the scan reply leaves before the commit; the same scan is evaluated again at 5
    bus.on('reading.accepted', (r) => p.engine.handleAccepted(r)),
    // 5. stored: rules see readings only once they are durable
    bus.on('readings.stored', ({ readings, frame }) => p.engine.handleReadings(readings, frame)),
    ...(p.influx ? [bus.on('readings.stored', ({ readings }) => p.influx!.notify(readings))] : []),
    // connections feed the offline rules
    bus.on('device.connection', ({ deviceId, connected }) => p.engine.handleConnection(deviceId, connected)),
    // 6. effects beyond the dashboard
    ...wireFanout(bus, (topic, payload, qos) => p.broker.publish(topic, payload, qos), p.webhooks, p.storeContact),
  ];
}
