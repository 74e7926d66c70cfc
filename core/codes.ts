/**
 * The one catalog of stable error and dead-letter codes.
 *
 * Callers (devices, HTTP clients, our own code) branch on `code`, never on message text.
 * Every code here is documented in docs/error-codes.md; test/codes.test.ts keeps the two
 * in step, in the manner of fastify's error catalog.
 */

export interface CodeSpec {
  /** HTTP status when the code is returned by the API; absent for MQTT-only codes. */
  readonly http?: number;
  /** Where the code appears: a device `error` reply / dead letter, the HTTP API, or both. */
  readonly scope: 'device' | 'http' | 'both';
  /** One-line meaning, in English; the same sentence stands in docs/error-codes.md. */
  readonly summary: string;
}

export const codes = {
  // --- device payload problems: dead-lettered, device told on {family}/{id}/error
  invalid_json: { scope: 'device', summary: 'The payload is not a UTF-8 JSON object.' },
  schema: { scope: 'device', summary: 'The payload does not match the schema of its channel; detail names each field.' },
  too_large: { scope: 'device', summary: 'The payload is larger than MQTT_MAX_PAYLOAD_BYTES.' },
  packet_too_large: { scope: 'device', summary: 'The MQTT packet is larger than MQTT_MAX_PACKET_BYTES; the connection is closed.' },
  unknown_channel: { scope: 'device', summary: 'The topic names a channel this device family does not have.' },
  unknown_device: { scope: 'device', summary: 'The topic names a device that is not registered (open mode only).' },
  topic_invalid: { scope: 'device', summary: 'The topic is not {family}/{deviceId}/{channel}; the connection is closed.' },
  topic_not_allowed: { scope: 'device', summary: "The topic belongs to another device or family; the connection is closed [MQTT-3.3.5-2]." },
  store_unavailable: { scope: 'device', summary: 'The store could not commit the message; it was not acknowledged and should be resent.' },

  // --- HTTP API
  validation: { scope: 'http', http: 400, summary: 'The request body, query or parameters are invalid; details list each problem.' },
  bad_csv: { scope: 'http', http: 400, summary: 'The CSV body could not be parsed.' },
  unauthorized: { scope: 'http', http: 401, summary: 'No valid bearer token was sent.' },
  bad_credentials: { scope: 'http', http: 401, summary: 'Username or password is wrong.' },
  forbidden: { scope: 'http', http: 403, summary: 'The role of the caller may not do this.' },
  not_found: { scope: 'http', http: 404, summary: 'No such resource.' },
  bad_path: { scope: 'http', http: 400, summary: 'The request path is malformed: not valid percent-encoded UTF-8, a NUL byte, or a `..`, `.` or empty segment.' },
  device_not_found: { scope: 'http', http: 404, summary: 'No device with that id is registered.' },
  device_exists: { scope: 'http', http: 409, summary: 'A device with that id is already registered.' },
  import_running: { scope: 'http', http: 409, summary: 'A device import job is running and 4 more wait already; one runs at a time.' },
  alert_not_found: { scope: 'http', http: 404, summary: 'No alert with that id.' },
  alert_conflict: { scope: 'http', http: 409, summary: 'The alert is not in a state that allows this action (e.g. already resolved).' },
  note_limit: { scope: 'http', http: 409, summary: 'The alert already holds the most notes and assignments one alert keeps (1,000); nothing was added.' },
  rescue_case_not_found: { scope: 'http', http: 404, summary: 'No rescue case with that id.' },
  store_list_refused: { scope: 'http', http: 409, summary: 'The black-list step was refused: the store is not on the list, the step is not the next one, or it has no note.' },
  escalation_refused: { scope: 'http', http: 409, summary: 'The rescue case has no escalation at that level, or it is acknowledged already.' },
  rescue_step_refused: { scope: 'http', http: 409, summary: 'The rescue step was refused: details.reason says why (out of order, a required step skipped, a reason missing, a time in the future or before the previous step, or the case is finished).' },
  cylinder_not_found: { scope: 'http', http: 404, summary: 'No cylinder with that code in the registry.' },
  user_exists: { scope: 'http', http: 409, summary: 'A user with that name already exists.' },
  user_not_found: { scope: 'http', http: 404, summary: 'No user with that name.' },
  last_admin: { scope: 'http', http: 409, summary: 'The last enabled admin cannot be deleted, disabled or demoted.' },
  admin_scope: { scope: 'http', http: 400, summary: 'An admin sees the whole city: an admin account takes no district.' },
  export_too_large: { scope: 'http', http: 400, summary: 'More rows match than one exported file holds (50,000); nothing was exported.' },
  export_busy: { scope: 'http', http: 429, summary: 'Two exports are being built already, the most the service builds at once; nothing was exported.' },
  payload_too_large: { scope: 'http', http: 413, summary: 'The request body is larger than HTTP_BODY_LIMIT_BYTES.' },
  unsupported_media_type: { scope: 'http', http: 415, summary: 'The Content-Type is not one this route accepts.' },
  rate_limited: { scope: 'http', http: 429, summary: 'Too many attempts; retry after the time given in Retry-After.' },
  internal: { scope: 'http', http: 500, summary: 'An unexpected error; the log has the details under the request id.' },
  unavailable: { scope: 'http', http: 503, summary: 'A component (store, broker) is not ready.' },
  // cluster mode: an action on an alert or case runs on the node that owns its slot, whichever
  // node the request reached (cluster/nodeCalls.ts); 503 as `unavailable`, since a retry may land
  // after the slot moved to a node that answers
  node_unreachable: { scope: 'http', http: 503, summary: 'The node that owns the alert or case did not answer: it is down, unreachable, busy or too slow; the action may or may not have been done.' },

  // --- replaying dead letters (POST /api/dead-letters/replay): a refused item's `code`, never an error status
  replay_no_device: { scope: 'http', summary: 'The dead letter names no device: it has no device id, or its topic is not {family}/{deviceId}/{channel}; it cannot be replayed.' },
  replay_truncated: { scope: 'http', summary: 'Only the first DEAD_LETTER_RAW_MAX_BYTES of the payload were kept; a partial payload is not replayed.' },

  // --- cluster mode, between a node and the shared store: logged, never sent to a device nor
  // answered over HTTP. Scope 'http' without a status (as the replay codes), so no list of the
  // codes a device may be sent takes it; a request that met it would get 500, its message withheld.
  slot_fenced: { scope: 'http', summary: 'This node lost the slot to another node since it took it; its checkpoint of the slot was refused, so the new owner\'s state stands.' },
} as const satisfies Record<string, CodeSpec>;

export type Code = keyof typeof codes;
export type DeviceCode = { [K in Code]: (typeof codes)[K]['scope'] extends 'http' ? never : K }[Code];

/** An error that carries a catalog code; the HTTP error handler maps it to a response. */
export class CodedError extends Error {
  readonly code: Code;
  readonly details: unknown;
  constructor(code: Code, message: string, details?: unknown) {
    super(message);
    this.name = 'CodedError';
    this.code = code;
    this.details = details;
  }
  get statusCode(): number {
    const spec: CodeSpec = codes[this.code];
    return spec.http ?? 500;
  }
}
