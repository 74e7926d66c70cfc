/**
 * Fan-out of every alert and rescue-case change: the in-process stream (the dashboard's
 * WebSocket subscribes to the engine directly), MQTT `alerts/{family}/{rule}` at QoS 1 for
 * integration clients allowed to read alerts, and webhooks.
 */
import type { AlertEngine, EngineEvent } from './engine.js';
import type { Webhooks } from './webhooks.js';

/** `kitchen.violation` -> `alerts/kitchen/violation` (docs/protocol.md: alerts/{family}/{rule}). */
export function alertTopic(family: string, rule: string): string {
  const short = rule.startsWith(family + '.') ? rule.slice(family.length + 1) : rule;
  return `alerts/${family}/${short}`;
}

export function wireFanout(engine: AlertEngine, publish: (topic: string, payload: string, qos: 0 | 1) => void, webhooks: Webhooks): void {
  engine.on((e: EngineEvent) => {
    if (e.type === 'alert') {
      const body = { type: 'alert', change: e.change, alert: e.alert, entries: e.entries };
      publish(alertTopic(e.alert.family, e.alert.rule), JSON.stringify(body), 1);
      webhooks.send(body);
    } else if (e.type === 'rescueCase') {
      const body = { type: 'rescueCase', change: e.change, events: e.events, rescueCase: e.rescueCase };
      publish('alerts/elevator/rescue_case', JSON.stringify(body), 1);
      webhooks.send(body);
    } else {
      webhooks.send(e);
    }
  });
}
