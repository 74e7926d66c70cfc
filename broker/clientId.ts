/**
 * Client ids (docs/security.md, MQTT: identities, client ids and sessions). A client id names
 * a session, and MQTT hands a session — its subscriptions and the messages queued for it —
 * to whoever connects with that id [MQTT-3.1.2-4], taking over a live connection with it
 * [MQTT-3.1.4-2]. So every identity gets a namespace of ids no other identity can use, and
 * an authenticated client asking for an id outside its own gets CONNACK 0x02 (identifier
 * rejected) [MQTT-3.1.3-9]:
 *
 * - a device: exactly its device id (= its username). Device ids match [A-Za-z0-9_-]{1,64}.
 * - an integration account (a dashboard user subscribing to alerts): `user:{username}`, or
 *   `user:{username}:{tag}` for more than one client of that account ({tag}: [A-Za-z0-9_.-]{1,32}).
 *   No device id contains `:`, and no username does, so no other identity can spell these.
 * - anonymous (open mode only): `anon:{anything}` (1 to 64 printable ASCII characters after
 *   the prefix), or an empty id with clean session, for which one is assigned
 *   (`anon:{uuid}`). Anonymous clients share one namespace: in open mode anyone may do what
 *   any of them may.
 *
 * Pure functions of (identity, requested id, clean session).
 */
import { randomUUID } from 'node:crypto';
import type { Identity } from '../core/acl.js';

export const USER_CLIENT_ID_PREFIX = 'user:';
export const ANONYMOUS_CLIENT_ID_PREFIX = 'anon:';

export type ClientIdDecision = { ok: true; clientId: string } | { ok: false; detail: string };

const TAG = /^[A-Za-z0-9_.-]{1,32}$/;
const ANON = /^[\x21-\x7e]{1,64}$/;

/**
 * `requested` is the client id of the CONNECT as sent ('' when empty); `clean` its clean
 * session flag. The id to use when allowed (assigned for an empty anonymous one).
 */
export function checkClientId(who: Identity, requested: string, clean: boolean): ClientIdDecision {
  switch (who.kind) {
    case 'device':
      return requested === who.deviceId
        ? { ok: true, clientId: requested }
        : { ok: false, detail: `device ${who.deviceId} must connect with client id "${who.deviceId}" (its device id), not "${shorten(requested)}"` };
    case 'user': {
      const own = `${USER_CLIENT_ID_PREFIX}${who.username}`;
      if (requested === own) return { ok: true, clientId: requested };
      if (requested.startsWith(`${own}:`) && TAG.test(requested.slice(own.length + 1))) return { ok: true, clientId: requested };
      return { ok: false, detail: `user ${who.username} must connect with client id "${own}" or "${own}:{tag}", not "${shorten(requested)}"` };
    }
    case 'anonymous':
      // [MQTT-3.1.3-6], [MQTT-3.1.3-8]: an empty id only with a clean session, and it is assigned
      if (requested === '') return clean ? { ok: true, clientId: `${ANONYMOUS_CLIENT_ID_PREFIX}${randomUUID()}` } : { ok: false, detail: 'an empty client id needs clean session' };
      if (requested.startsWith(ANONYMOUS_CLIENT_ID_PREFIX) && ANON.test(requested.slice(ANONYMOUS_CLIENT_ID_PREFIX.length))) return { ok: true, clientId: requested };
      return { ok: false, detail: `an anonymous client must connect with a client id "${ANONYMOUS_CLIENT_ID_PREFIX}{id}", or an empty one with clean session, not "${shorten(requested)}"` };
  }
}

function shorten(s: string): string {
  return s.length > 80 ? `${s.slice(0, 80)}…` : s;
}
