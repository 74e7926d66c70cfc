/**
 * Fan-out of every alert and rescue-case change beyond the dashboard (whose /ws hub subscribes
 * to the bus itself): MQTT `alerts/{family}/{rule}` at QoS 1 for integration clients allowed
 * to read alerts, and webhooks.
 */
import { asksTheStore, rectificationRequest } from '../core/alerts/rectification.js';
import type { Subscriber } from '../core/eventBus.js';
import type { EngineEvents } from './engineTypes.js';
import type { Webhooks } from './webhooks.js';

/** `kitchen.violation` -> `alerts/kitchen/violation` (docs/protocol.md: alerts/{family}/{rule}). */
export function alertTopic(family: string, rule: string): string {
  const short = rule.startsWith(family + '.') ? rule.slice(family.length + 1) : rule;
  return `alerts/${family}/${short}`;
}

/** Subscribe the fan-out; returns the subscriptions, which the caller removes at stop. */
export function wireFanout(
  events: Subscriber<EngineEvents>, publish: (topic: string, payload: string, qos: 0 | 1) => void, webhooks: Webhooks, storeContact?: Webhooks,
): Array<() => void> {
  return [
    events.on('alert', (e) => {
      const body = { type: 'alert', change: e.change, alert: e.alert, entries: e.entries };
      publish(alertTopic(e.alert.family, e.alert.rule), JSON.stringify(body), 1);
      webhooks.send(body);
      // a class-2 detection: the store is asked to rectify (core/alerts/rectification.ts)
      if (storeContact && asksTheStore(e.alert, e.change, e.entries)) storeContact.send(rectificationRequest(e.alert));
    }),
    events.on('rescueCase', (e) => {
      const body = { type: 'rescueCase', change: e.change, events: e.events, rescueCase: e.rescueCase };
      publish('alerts/elevator/rescue_case', JSON.stringify(body), 1);
      webhooks.send(body);
    }),
    events.on('storeFlag', (e) => webhooks.send(e)),
  ];
}
