/** The service's one event bus: every part's events in one map (core/eventBus.ts). */
import type { SessionEvents } from '../accounts/sessions.js';
import type { UserEvents } from '../accounts/users.js';
import type { EngineEvents } from '../alerts/engineTypes.js';
import { EventBus } from '../core/eventBus.js';
import type { ConnectionEvents } from '../devices/connectionState.js';
import type { ImportJobEvents } from '../devices/importJobs.js';
import type { IngestEvents } from '../ingest/ingest.js';

export type ServiceEvents = IngestEvents & ConnectionEvents & EngineEvents & ImportJobEvents & UserEvents & SessionEvents;

export type ServiceBus = EventBus<ServiceEvents>;

export function serviceBus(onListenerError: (type: string, err: unknown) => void): ServiceBus {
  return new EventBus<ServiceEvents>(onListenerError);
}
