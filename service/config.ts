/**
 * Configuration: one validated, frozen object built from the environment and an optional
 * JSON file (CONFIG_FILE). Environment wins over the file. A bad value stops start-up with
 * a message that names the setting. No singleton: the composition root builds it and passes
 * it down.
 */
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import path from 'node:path';
import { z } from 'zod';
import { checkAlertOverrides, type AlertOverrides } from '../core/alerts/policy.js';
import { ConfigError } from '../core/configError.js';
import { allRules } from '../core/rules/index.js';
import { isMapCity, mapCities } from '../core/mapCities.js';
import { autoMaxConnections, openFileLimit } from './connectionLimits.js';
import { clusterSettings, parseCluster, type ClusterConfig } from './clusterConfig.js';

export { autoMaxConnections, openFileLimit };

export type { AlertOverrides };
export { ConfigError };

// Numbers: a JSON number or a decimal string. z.coerce.number() alone reads ' ' as 0 (a blank
// MQTT_PORT would bind a random port), '0x50' as 80 and true as 1.
const decimal = (v: unknown): unknown => (typeof v === 'string' && /^\s*[+-]?\d+(\.\d+)?\s*$/.test(v) ? Number(v) : v);
const int = () => z.preprocess(decimal, z.number().int());
const port = int().pipe(z.number().min(0).max(65535));
const positiveInt = int().pipe(z.number().positive());
const nonNegativeInt = int().pipe(z.number().min(0));
const bool = z.union([z.boolean(), z.enum(['true', 'false', '1', '0', 'yes', 'no'])])
  .transform((v) => v === true || v === 'true' || v === '1' || v === 'yes');
const optionalPath = z.string().min(1).optional();

/** Every setting: its variable, its default and what it does. The README table mirrors this. */
export const settings = {
  MQTT_PORT: { schema: port, default: 1883, doc: 'MQTT over TCP port (0 = any free port).' },
  MQTT_HOST: { schema: z.string().min(1), default: '0.0.0.0', doc: 'Address the MQTT listeners bind to.' },
  MQTTS_PORT: { schema: port, default: 8883, doc: 'MQTT over TLS port; the listener starts only when TLS_CERT_FILE and TLS_KEY_FILE are set.' },
  TLS_CERT_FILE: { schema: optionalPath, default: undefined, doc: 'PEM certificate (chain) for the TLS listener.' },
  TLS_KEY_FILE: { schema: optionalPath, default: undefined, doc: 'PEM private key for the TLS listener.' },
  TLS_CA_FILE: { schema: optionalPath, default: undefined, doc: 'Optional PEM CA bundle offered to clients.' },
  HTTP_PORT: { schema: port, default: 3000, doc: 'HTTP port: API, /docs, /metrics, /healthz and MQTT over WebSocket at /mqtt.' },
  HTTP_HOST: { schema: z.string().min(1), default: '0.0.0.0', doc: 'Address the HTTP server binds to.' },
  DATA_DIR: { schema: z.string().min(1), default: './data', doc: 'Directory for the DuckDB file, the ingest journal and generated secrets.' },
  MQTT_ALLOW_ANONYMOUS: { schema: bool, default: false, doc: 'Open mode: accept clients without credentials (they may publish for any registered device). Never in production.' },
  MQTT_MAX_PAYLOAD_BYTES: { schema: positiveInt, default: 65536, doc: 'Largest accepted payload; larger ones are dead-lettered as too_large.' },
  MQTT_MAX_PACKET_BYTES: { schema: positiveInt, default: 1048576, doc: 'Largest MQTT packet parsed at all; a larger one closes the connection (packet_too_large).' },
  MQTT_MAX_TOPIC_LEVELS: { schema: int().pipe(z.number().min(4).max(100)), default: 8, doc: 'Most topic levels in a PUBLISH/SUBSCRIBE.' },
  MQTT_DRAIN_TIMEOUT_MS: { schema: nonNegativeInt, default: 10000, doc: 'A client whose socket does not drain within this time is dropped so it cannot stall others.' },
  MQTT_CONNECT_TIMEOUT_MS: { schema: positiveInt, default: 10000, doc: 'Time a new MQTT connection has, from its accept (TCP; TLS with its handshake; WebSocket from the /mqtt upgrade), to send CONNECT and be authenticated; then it is closed, also one that sent nothing or one byte.' },
  MQTT_MAX_CONNECTIONS: { schema: z.union([z.literal('auto'), nonNegativeInt]), default: 'auto', doc: 'Open MQTT connections at most, TCP, TLS and WebSocket, authenticated or not; more are closed at once. auto = the open-file limit (/proc/self/limits) minus HTTP_MAX_CONNECTIONS minus 512 (DuckDB, the journal, logs, outgoing requests), at least 64, at most 100000; 10000 where the limit cannot be read. 0 = no limit.' },
  MQTT_MAX_CONNECTIONS_PER_ADDRESS: { schema: nonNegativeInt, default: 10000, doc: 'Authenticated MQTT connections from one source address (IPv6: per /64) at most; more get CONNACK 3. Generous because many 4G terminals share one carrier-NAT address (raise it when more devices sit behind one address, e.g. a private APN). 0 = no limit.' },
  MQTT_MAX_UNAUTHENTICATED_PER_ADDRESS: { schema: nonNegativeInt, default: 256, doc: 'MQTT connections from one source address (IPv6: per /64) that have not yet sent CONNECT and been authenticated, at most; more are closed at once. 0 = no limit.' },
  TRUSTED_PROXIES: { schema: z.string(), default: '', doc: 'Comma-separated addresses or CIDR blocks of the load balancers in front of the nodes (docs/cluster.md, Deployment). Their HTTP requests are taken to come from X-Forwarded-For\'s client, and their connections are not counted per address (the balancer limits its sources); with MQTT_PROXY_PROTOCOL their MQTT connections name the device\'s address in a PROXY header. Empty: none.' },
  MQTT_PROXY_PROTOCOL: { schema: bool, default: false, doc: 'MQTT over TCP from a TRUSTED_PROXIES address starts with a PROXY protocol header (v1 or v2, HAProxy\'s send-proxy-v2) naming the device\'s address, which every per-address bound and log then uses; a trusted connection without one is closed. Others connect directly as before.' },
  INGEST_BATCH_MAX_ROWS: { schema: positiveInt, default: 5000, doc: 'Most readings written in one group commit.' },
  INGEST_MAX_PENDING: { schema: positiveInt, default: 20000, doc: 'Readings waiting for the store beyond which publishers are slowed (backpressure).' },
  INGEST_JOURNAL: { schema: bool, default: true, doc: 'Acknowledge a batch once it is in the ingest journal (an fsynced append-only log in DATA_DIR/journal) and write it to DuckDB just behind, so DuckDB\'s checkpoints never hold PUBACKs or alerts: about half the alert latency at moderate rates, the same peak ingest rate (docs/journal.md). false = acknowledge after the DuckDB commit itself.' },
  INGEST_JOURNAL_MAX_BACKLOG: { schema: positiveInt, default: 200000, doc: 'Readings in the journal not yet written to DuckDB beyond which ingest waits (backpressure; bounds memory while DuckDB is slow or failing).' },
  DUCKDB_MEMORY_LIMIT: { schema: z.string().regex(/^\d+(\.\d+)?\s*(KB|MB|GB|TB|KiB|MiB|GiB|TiB)$/i, 'a size such as 512MB or 2GB'), default: '512MB', doc: 'Memory DuckDB may use for its buffer cache and queries (larger query state spills to DATA_DIR).' },
  DUCKDB_THREADS: { schema: nonNegativeInt, default: 0, doc: 'DuckDB worker threads (0 = one per core).' },
  DUCKDB_WORKER: { schema: bool, default: true, doc: 'Run DuckDB (the journal\'s writes into it, its reads, history merges and checkpoints) in a worker thread of its own, so that its appender and the conversion of query results never hold the event loop that acknowledges devices and answers scanners (docs/architecture.md, Threads). false = in the main thread: for profiles side by side, or a 2-core machine run at its limit, where the thread\'s own CPU costs more than it frees (docs/benchmarks.md).' },
  HISTORY_RUN_ROWS: { schema: nonNegativeInt, default: 262144, doc: 'Device-clustered history: readings are re-sorted by (device, time) in runs of this many rows and larger merges of them, so one device\'s chart reads only its own rows (0 = off: readings stay in arrival order).' },
  HISTORY_SEAL_AFTER_S: { schema: positiveInt, default: 300, doc: 'Device-clustered history: readings are sorted into a run at the latest this long after they arrive, however few.' },
  DEDUPE_WINDOW_S: { schema: positiveInt, default: 600, doc: 'How long (device, msgId) pairs are remembered for duplicate detection (also reloaded at start).' },
  DEDUPE_MAX_ENTRIES: { schema: positiveInt, default: 3200000, doc: 'Upper bound on remembered (device, msgId) pairs (about 26 bytes each; the default holds 10 minutes at 5,000 readings/s in ~80 MB, of which the 18 MB lookup table is allocated at start so that it never has to be rebuilt); the oldest are dropped first.' },
  DEAD_LETTER_RAW_MAX_BYTES: { schema: positiveInt, default: 65536, doc: 'Raw bytes kept per dead letter (the size is always recorded).' },
  STATE_FLUSH_INTERVAL_MS: { schema: positiveInt, default: 5000, doc: 'How often device connection state (last seen) is written to the store.' },
  ADMIN_PASSWORD: { schema: z.string().min(8).optional(), default: undefined, doc: 'Password of the first admin user; when unset one is generated and written to DATA_DIR/admin-password.txt.' },
  TOKEN_TTL_S: { schema: positiveInt, default: 43200, doc: 'Lifetime of an API session token; logout, and disabling, deleting or re-passwording its user, end it sooner.' },
  LOGIN_MAX_ATTEMPTS: { schema: positiveInt, default: 10, doc: 'Password attempts per username and address (IPv6: per /64) per 15 minutes before 429, HTTP login and MQTT alike; counted before the hash runs, a success clears them.' },
  LOGIN_MAX_ATTEMPTS_PER_ADDRESS: { schema: positiveInt, default: 100, doc: 'Password attempts from one address (IPv6: per /64) over all usernames per 15 minutes before 429.' },
  LOGIN_UNKNOWN_PER_MINUTE: { schema: positiveInt, default: 60, doc: 'Password checks of usernames that do not exist hashed per minute, service-wide; beyond it they are refused after a timer, without a hash (no CPU for made-up names).' },
  AUDIT_RETENTION_DAYS: { schema: int().pipe(z.number().min(1).max(36500)), default: 365, doc: 'Audit log entries (logins, user, device, alert, rescue and store-list actions: docs/security.md, Audit log) older than this many days are deleted, at start and hourly. China\'s Cybersecurity Law (art. 21) asks for network logs to be kept at least six months.' },
  AUDIT_MAX_ROWS: { schema: int().pipe(z.number().min(1000).max(100_000_000)), default: 1000000, doc: 'Audit log entries kept at most, the newest (about 200 bytes each); older ones are deleted with those past AUDIT_RETENTION_DAYS.' },
  HTTP_BODY_LIMIT_BYTES: { schema: positiveInt, default: 10485760, doc: 'Largest HTTP request body (device CSV imports included).' },
  HTTP_MAX_CONNECTIONS: { schema: positiveInt, default: 2048, doc: 'Open HTTP connections at most (WebSocket ones, /ws and /mqtt, included); more are closed at once.' },
  HTTP_MAX_CONNECTIONS_PER_ADDRESS: { schema: positiveInt, default: 256, doc: 'Open HTTP connections from one address (IPv6: per /64) at most; more are closed at once.' },
  HTTP_HEADERS_TIMEOUT_MS: { schema: positiveInt, default: 10000, doc: 'Time a client has to send a request\'s headers, from its first byte or the connection\'s start.' },
  HTTP_REQUEST_TIMEOUT_MS: { schema: positiveInt, default: 120000, doc: 'Time a client has to send a whole request (a CSV import over a slow link included).' },
  HTTP_IDLE_TIMEOUT_MS: { schema: positiveInt, default: 30000, doc: 'An HTTP connection with nothing in flight is closed after this long (a keep-alive socket, or one that never sends anything).' },
  HTTP_EXPOSE_DOCS: { schema: bool, default: true, doc: 'Serve the OpenAPI document and its UI at /docs (false: 404).' },
  METRICS_REQUIRE_TOKEN: { schema: bool, default: false, doc: 'Require an admin bearer token for /metrics (for deployments whose HTTP port is reachable by strangers).' },
  ALERT_OVERRIDES: { schema: z.string().optional(), default: undefined, doc: 'JSON (or @path to a JSON file) overriding alert defaults: {"rules": {"<rule id>": {"<threshold>": value}}, "deadlines": {...}, "rescue": {...}, "storeList": {...}}; every key, its unit and its allowed range: docs/configuration.md; a value out of range or breaking a rule between keys stops start-up.' },
  ENGINE_WORKER: { schema: bool, default: true, doc: 'Run the alert rules (all but the cylinder family\'s, whose scan reply is decided before the commit) in a worker thread of their own, fed the journal\'s frames of committed readings; alerts, deadlines, rescue cases and checkpoints stay in the main thread, which applies the rules\' effects in order (docs/architecture.md, Threads). false = in the main thread: for profiles side by side (docs/benchmarks.md).' },
  ALERT_TICK_MS: { schema: positiveInt, default: 1000, doc: 'Clock of the timer rules and deadlines (offline, trapped timers, warnings, escalations).' },
  ALERT_CHECKPOINT_MS: { schema: positiveInt, default: 1000, doc: 'How often rule state and changed alerts are checkpointed (after a crash the readings since are replayed).' },
  ALERT_WEBHOOKS: { schema: z.string().optional(), default: undefined, doc: 'Comma-separated URLs that receive every alert and rescue-case change as a JSON POST (retried with back-off).' },
  STORE_CONTACT_WEBHOOKS: { schema: z.string().optional(), default: undefined, doc: 'Comma-separated URLs (the gateway that reaches stores by SMS or app) that receive a rectification request when a class-2 kitchen detection opens an alert, and again when a re-check fails: store, contact, violation, snapshot, answer and re-check deadlines (docs/rules/kitchen.md).' },
  INFLUX_URL: { schema: z.url().optional(), default: undefined, doc: 'InfluxDB (or VictoriaMetrics) base URL; when set, every stored reading is forwarded to its /api/v2/write (see docs/influxdb.md).' },
  INFLUX_TOKEN: { schema: z.string().optional(), default: undefined, doc: 'InfluxDB API token (InfluxDB 1.8: "user:password"; VictoriaMetrics: unset).' },
  INFLUX_ORG: { schema: z.string(), default: '', doc: 'InfluxDB organization (ignored by InfluxDB 1.8 and VictoriaMetrics).' },
  INFLUX_BUCKET: { schema: z.string().optional(), default: undefined, doc: 'InfluxDB bucket (1.8: "db/retention-policy"); required with INFLUX_URL.' },
  INFLUX_BATCH_SIZE: { schema: positiveInt, default: 5000, doc: 'Most readings per InfluxDB write request (the backlog drains in batches of this size).' },
  INFLUX_TIMEOUT_MS: { schema: positiveInt, default: 10000, doc: 'Timeout of one InfluxDB write request; a timed-out batch is sent again.' },
  INFLUX_RETRY_MIN_MS: { schema: positiveInt, default: 500, doc: 'First back-off after a failed InfluxDB write; doubles per failure.' },
  INFLUX_RETRY_MAX_MS: { schema: positiveInt, default: 30000, doc: 'Longest back-off between InfluxDB write attempts while the server is down.' },
  MAP_CITY: {
    schema: z.string().regex(/^\d{6}$/, 'a 6-digit GB/T 2260 city code').refine(isMapCity, `a city whose district map ships with the dashboard: ${Object.entries(mapCities).map(([c, m]) => `${c} (${m.name})`).join(', ')}`),
    default: '330100',
    doc: `The city whose districts the wall's map draws and names (a GB/T 2260 code of a city the shipped map data has: ${Object.entries(mapCities).map(([c, m]) => `${c} ${m.name}`).join(', ')}; docs/dashboard.md, The map).`,
  },
  LOG_LEVEL: { schema: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']), default: 'info', doc: 'Log level.' },
  ...clusterSettings,
} as const;

export type SettingName = keyof typeof settings;

export interface Config {
  readonly dataDir: string;
  readonly dbPath: string;
  readonly duckdb: { readonly memoryLimit: string; readonly threads: number; readonly worker: boolean };
  /** device-clustered history (store/readingRuns.ts); runRows 0 = off */
  readonly history: { readonly runRows: number; readonly sealAfterMs: number };
  readonly logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  readonly mqtt: {
    readonly host: string;
    readonly port: number;
    readonly tls: { readonly port: number; readonly certFile: string; readonly keyFile: string; readonly caFile?: string } | null;
    readonly allowAnonymous: boolean;
    readonly maxPayloadBytes: number;
    readonly maxPacketBytes: number;
    readonly maxTopicLevels: number;
    readonly drainTimeoutMs: number;
    readonly connectTimeoutMs: number;
    /** resolved: MQTT_MAX_CONNECTIONS=auto is a number here; 0 = no limit */
    readonly maxConnections: number;
    readonly maxConnectionsPerAddress: number;
    readonly maxUnauthenticatedPerAddress: number;
    /** MQTT_PROXY_PROTOCOL: connections from trustedProxies start with a PROXY header */
    readonly proxyProtocol: boolean;
    /** TRUSTED_PROXIES (as http's): for PROXY headers, and for X-Forwarded-For of /mqtt upgrades */
    readonly trustedProxies: readonly string[];
  };
  readonly http: {
    /** TRUSTED_PROXIES: the load balancers whose X-Forwarded-For is believed and whose connections are not capped per address */
    readonly trustedProxies: readonly string[];
    readonly host: string;
    readonly port: number;
    readonly bodyLimitBytes: number;
    readonly maxConnections: number;
    readonly maxConnectionsPerAddress: number;
    readonly headersTimeoutMs: number;
    readonly requestTimeoutMs: number;
    readonly idleTimeoutMs: number;
    readonly exposeDocs: boolean;
    readonly metricsRequireToken: boolean;
  };
  readonly ingest: {
    readonly batchMaxRows: number;
    readonly maxPending: number;
    readonly dedupeWindowMs: number;
    readonly dedupeMaxEntries: number;
    readonly deadLetterRawMaxBytes: number;
    readonly stateFlushIntervalMs: number;
    /** null = PUBACK after the DuckDB commit (INGEST_JOURNAL=false) */
    readonly journal: { readonly dir: string; readonly maxBacklogRows: number } | null;
  };
  /** null when INFLUX_URL is unset */
  readonly influx: {
    readonly url: string;
    readonly token: string;
    readonly org: string;
    readonly bucket: string;
    readonly batchSize: number;
    readonly timeoutMs: number;
    readonly retryMinMs: number;
    readonly retryMaxMs: number;
  } | null;
  readonly auth: {
    readonly adminPassword?: string;
    readonly tokenTtlS: number;
    readonly loginMaxAttempts: number;
    readonly loginMaxAttemptsPerAddress: number;
    readonly loginUnknownPerMinute: number;
  };
  /** the audit log's bounds (accounts/auditLog.ts) */
  readonly audit: { readonly retentionDays: number; readonly maxRows: number };
  /** the wall's map: the city (MAP_CITY) whose shipped district map is drawn */
  readonly map: { readonly city: string };
  readonly alerts: {
    /** parsed ALERT_OVERRIDES, checked by meaning against the rules, deadlines and rescue policy */
    readonly overrides: AlertOverrides;
    /** ENGINE_WORKER: the rules in a worker thread (alerts/ruleThread/) */
    readonly worker: boolean;
    readonly tickMs: number;
    readonly checkpointMs: number;
    readonly webhooks: readonly string[];
    /** the stores' contact gateway: rectification requests (docs/rules/kitchen.md) */
    readonly storeContactWebhooks: readonly string[];
  };
  /** REDIS_URL, DATABASE_URL, NODE_ID: null on the embedded default (service/clusterConfig.ts) */
  readonly cluster: ClusterConfig | null;
}

/**
 * ALERT_OVERRIDES: JSON, or @path to a JSON file, checked by meaning against the rules, the
 * deadlines and the rescue policy (core/alerts/policy.ts `checkAlertOverrides`; each rule's
 * keys in core/rules/configSchemas.ts): every problem names its key path and the rule it
 * breaks. `tickMs` (ALERT_TICK_MS, when valid) bounds the timers from below (the defaults' too).
 */
function parseOverrides(raw: string | undefined, tickMs: number | undefined, problems: string[]): AlertOverrides {
  // unset: the defaults, still checked against ALERT_TICK_MS
  let text = raw || '{}';
  if (raw?.startsWith('@')) {
    try {
      text = readFileSync(raw.slice(1), 'utf8');
    } catch (e) {
      problems.push(`ALERT_OVERRIDES: cannot read ${raw.slice(1)}: ${(e as Error).message}`);
      return {};
    }
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    problems.push(`ALERT_OVERRIDES is not valid JSON: ${(e as Error).message}`);
    return {};
  }
  const checked = checkAlertOverrides(json, allRules, tickMs === undefined ? {} : { tickMs });
  problems.push(...checked.problems);
  return checked.problems.length ? {} : checked.overrides;
}

/** TRUSTED_PROXIES: each an IPv4 or IPv6 address, or one with a /prefix in range. */
function parseProxies(raw: string | undefined, problems: string[]): string[] {
  const entries = (raw ?? '').split(',').map((e) => e.trim()).filter(Boolean);
  for (const e of entries) {
    const [addr, bits, extra] = e.split('/');
    const family = isIP(addr ?? '');
    if (!family || extra !== undefined || (bits !== undefined && !(/^\d{1,3}$/.test(bits) && Number(bits) <= (family === 6 ? 128 : 32)))) problems.push(`TRUSTED_PROXIES: ${JSON.stringify(e)} is not an IP address or CIDR block (e.g. 10.0.0.5 or 10.0.0.0/24)`);
  }
  return entries;
}

function parseUrls(raw: string | undefined, problems: string[], name = 'ALERT_WEBHOOKS'): string[] {
  if (!raw) return [];
  const urls = raw.split(',').map((u) => u.trim()).filter(Boolean);
  for (const u of urls) {
    try {
      const url = new URL(u);
      if (url.protocol !== 'http:' && url.protocol !== 'https:') problems.push(`${name}: ${u} is not an http(s) URL`);
    } catch {
      problems.push(`${name}: ${u} is not a URL`);
    }
  }
  return urls;
}

type Source = Record<string, unknown>;

function readConfigFile(file: string): Source {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new ConfigError([`CONFIG_FILE: cannot read ${file}: ${(e as Error).message}`]);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    throw new ConfigError([`CONFIG_FILE: ${file} is not valid JSON: ${(e as Error).message}`]);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new ConfigError([`CONFIG_FILE: ${file} must hold a JSON object of settings, e.g. {"MQTT_PORT": 1883}`]);
  }
  const unknown = Object.keys(parsed).filter((k) => !Object.hasOwn(settings, k));
  if (unknown.length) {
    throw new ConfigError(unknown.map((k) => `CONFIG_FILE: unknown setting ${k} in ${file}`));
  }
  return parsed as Source;
}

/**
 * Build the config from an environment (process.env by default) and, when CONFIG_FILE is
 * set, a JSON file of the same names. `overrides` (tests, embedding) win over both.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env, overrides: Partial<Record<SettingName, unknown>> = {}): Config {
  const file = env.CONFIG_FILE ? readConfigFile(env.CONFIG_FILE) : {};
  const problems: string[] = [];
  const v: Record<string, unknown> = {};
  for (const [name, spec] of Object.entries(settings) as Array<[SettingName, (typeof settings)[SettingName]]>) {
    const envValue = env[name] === '' ? undefined : env[name];
    const raw = Object.hasOwn(overrides, name) ? overrides[name] : envValue ?? file[name] ?? spec.default;
    const result = (spec.schema as z.ZodType).safeParse(raw);
    if (result.success) v[name] = result.data;
    else problems.push(`${name}=${JSON.stringify(raw)}: ${result.error.issues.map((i) => i.message).join('; ')} (${spec.doc})`);
  }
  const cert = v.TLS_CERT_FILE as string | undefined;
  const key = v.TLS_KEY_FILE as string | undefined;
  if (Boolean(cert) !== Boolean(key)) problems.push('TLS_CERT_FILE and TLS_KEY_FILE must be set together (or neither)');
  if ((v.MQTT_MAX_PACKET_BYTES as number) < (v.MQTT_MAX_PAYLOAD_BYTES as number)) {
    problems.push('MQTT_MAX_PACKET_BYTES must be at least MQTT_MAX_PAYLOAD_BYTES');
  }
  const alertOverrides = parseOverrides(v.ALERT_OVERRIDES as string | undefined, v.ALERT_TICK_MS as number | undefined, problems);
  const webhooks = parseUrls(v.ALERT_WEBHOOKS as string | undefined, problems);
  const storeContactWebhooks = parseUrls(v.STORE_CONTACT_WEBHOOKS as string | undefined, problems, 'STORE_CONTACT_WEBHOOKS');
  if (v.INFLUX_URL && !v.INFLUX_BUCKET) problems.push('INFLUX_BUCKET must be set with INFLUX_URL');
  if (v.INFLUX_URL && !/^https?:/.test(v.INFLUX_URL as string)) problems.push('INFLUX_URL must be an http(s) URL');
  const trustedProxies = parseProxies(v.TRUSTED_PROXIES as string | undefined, problems);
  if (v.MQTT_PROXY_PROTOCOL && trustedProxies.length === 0) problems.push('MQTT_PROXY_PROTOCOL needs TRUSTED_PROXIES: the addresses whose PROXY headers are believed');
  const cluster = parseCluster(v, problems);
  if (problems.length) throw new ConfigError(problems);

  const dataDir = path.resolve(v.DATA_DIR as string);
  const config: Config = {
    dataDir,
    dbPath: path.join(dataDir, 'supervision.duckdb'),
    duckdb: { memoryLimit: (v.DUCKDB_MEMORY_LIMIT as string).replace(/\s+/g, ''), threads: v.DUCKDB_THREADS as number, worker: v.DUCKDB_WORKER as boolean },
    history: { runRows: v.HISTORY_RUN_ROWS as number, sealAfterMs: (v.HISTORY_SEAL_AFTER_S as number) * 1000 },
    logLevel: v.LOG_LEVEL as Config['logLevel'],
    mqtt: {
      host: v.MQTT_HOST as string,
      port: v.MQTT_PORT as number,
      tls: cert && key
        ? { port: v.MQTTS_PORT as number, certFile: cert, keyFile: key, ...(v.TLS_CA_FILE ? { caFile: v.TLS_CA_FILE as string } : {}) }
        : null,
      allowAnonymous: v.MQTT_ALLOW_ANONYMOUS as boolean,
      maxPayloadBytes: v.MQTT_MAX_PAYLOAD_BYTES as number,
      maxPacketBytes: v.MQTT_MAX_PACKET_BYTES as number,
      maxTopicLevels: v.MQTT_MAX_TOPIC_LEVELS as number,
      drainTimeoutMs: v.MQTT_DRAIN_TIMEOUT_MS as number,
      connectTimeoutMs: v.MQTT_CONNECT_TIMEOUT_MS as number,
      maxConnections: v.MQTT_MAX_CONNECTIONS === 'auto'
        ? autoMaxConnections(openFileLimit(), (v.HTTP_MAX_CONNECTIONS as number | undefined) ?? 0)
        : v.MQTT_MAX_CONNECTIONS as number,
      maxConnectionsPerAddress: v.MQTT_MAX_CONNECTIONS_PER_ADDRESS as number,
      maxUnauthenticatedPerAddress: v.MQTT_MAX_UNAUTHENTICATED_PER_ADDRESS as number,
      proxyProtocol: v.MQTT_PROXY_PROTOCOL as boolean,
      trustedProxies,
    },
    http: {
      trustedProxies,
      host: v.HTTP_HOST as string,
      port: v.HTTP_PORT as number,
      bodyLimitBytes: v.HTTP_BODY_LIMIT_BYTES as number,
      maxConnections: v.HTTP_MAX_CONNECTIONS as number,
      maxConnectionsPerAddress: v.HTTP_MAX_CONNECTIONS_PER_ADDRESS as number,
      headersTimeoutMs: v.HTTP_HEADERS_TIMEOUT_MS as number,
      requestTimeoutMs: v.HTTP_REQUEST_TIMEOUT_MS as number,
      idleTimeoutMs: v.HTTP_IDLE_TIMEOUT_MS as number,
      exposeDocs: v.HTTP_EXPOSE_DOCS as boolean,
      metricsRequireToken: v.METRICS_REQUIRE_TOKEN as boolean,
    },
    ingest: {
      batchMaxRows: v.INGEST_BATCH_MAX_ROWS as number,
      maxPending: v.INGEST_MAX_PENDING as number,
      dedupeWindowMs: (v.DEDUPE_WINDOW_S as number) * 1000,
      dedupeMaxEntries: v.DEDUPE_MAX_ENTRIES as number,
      deadLetterRawMaxBytes: v.DEAD_LETTER_RAW_MAX_BYTES as number,
      stateFlushIntervalMs: v.STATE_FLUSH_INTERVAL_MS as number,
      journal: v.INGEST_JOURNAL ? { dir: path.join(dataDir, 'journal'), maxBacklogRows: v.INGEST_JOURNAL_MAX_BACKLOG as number } : null,
    },
    influx: v.INFLUX_URL
      ? {
        url: v.INFLUX_URL as string, token: (v.INFLUX_TOKEN as string | undefined) ?? '', org: v.INFLUX_ORG as string, bucket: v.INFLUX_BUCKET as string,
        batchSize: v.INFLUX_BATCH_SIZE as number, timeoutMs: v.INFLUX_TIMEOUT_MS as number,
        retryMinMs: v.INFLUX_RETRY_MIN_MS as number, retryMaxMs: v.INFLUX_RETRY_MAX_MS as number,
      }
      : null,
    auth: {
      ...(v.ADMIN_PASSWORD ? { adminPassword: v.ADMIN_PASSWORD as string } : {}),
      tokenTtlS: v.TOKEN_TTL_S as number,
      loginMaxAttempts: v.LOGIN_MAX_ATTEMPTS as number,
      loginMaxAttemptsPerAddress: v.LOGIN_MAX_ATTEMPTS_PER_ADDRESS as number,
      loginUnknownPerMinute: v.LOGIN_UNKNOWN_PER_MINUTE as number,
    },
    audit: { retentionDays: v.AUDIT_RETENTION_DAYS as number, maxRows: v.AUDIT_MAX_ROWS as number },
    map: { city: v.MAP_CITY as string },
    alerts: { overrides: alertOverrides, worker: v.ENGINE_WORKER as boolean, tickMs: v.ALERT_TICK_MS as number, checkpointMs: v.ALERT_CHECKPOINT_MS as number, webhooks, storeContactWebhooks },
    cluster,
  };
  return deepFreeze(config);
}

function deepFreeze<T>(o: T): T {
  if (o && typeof o === 'object') {
    for (const value of Object.values(o)) deepFreeze(value);
    Object.freeze(o);
  }
  return o;
}
