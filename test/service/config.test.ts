/**
 * loadConfig (service/config.ts): defaults, environment parsing, CONFIG_FILE, cross-field
 * rules, and a deeply frozen result. Every bad value must stop start-up with a ConfigError
 * that names the variable; ALERT_OVERRIDES is checked by meaning (units, ranges, the rules
 * between keys after merging with the defaults) and a bad override makes the entry point exit 2.
 */
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { autoMaxConnections, loadConfig, openFileLimit, settings, type Config } from '../../service/config.js';
import { parseCluster } from '../../service/clusterConfig.js';

import { configError, configFile, dir } from './configFixtures.js';

describe('defaults', () => {
  it('an empty environment gives the documented defaults', () => {
    const c = loadConfig({});
    expect(c).toEqual({
      dataDir: path.resolve('./data'),
      dbPath: path.join(path.resolve('./data'), 'supervision.duckdb'),
      duckdb: { memoryLimit: '512MB', threads: 0, worker: true },
      logLevel: 'info',
      mqtt: {
        host: '0.0.0.0', port: 1883, tls: null, allowAnonymous: false, maxPayloadBytes: 65536, maxPacketBytes: 1048576,
        maxTopicLevels: 8, drainTimeoutMs: 10000, connectTimeoutMs: 10000,
        maxConnections: autoMaxConnections(openFileLimit(), 2048), maxConnectionsPerAddress: 10000, maxUnauthenticatedPerAddress: 256,
        proxyProtocol: false, trustedProxies: [],
      },
      http: {
        trustedProxies: [],
        host: '0.0.0.0', port: 3000, bodyLimitBytes: 10485760, maxConnections: 2048, maxConnectionsPerAddress: 256,
        headersTimeoutMs: 10000, requestTimeoutMs: 120000, idleTimeoutMs: 30000, exposeDocs: true, metricsRequireToken: false,
      },
      ingest: {
        batchMaxRows: 5000, maxPending: 20000, dedupeWindowMs: 600_000, dedupeMaxEntries: 3200000,
        deadLetterRawMaxBytes: 65536, stateFlushIntervalMs: 5000,
        journal: { dir: path.join(path.resolve('./data'), 'journal'), maxBacklogRows: 200000 },
      },
      influx: null,
      history: { runRows: 262144, sealAfterMs: 300_000 },
      auth: { tokenTtlS: 43200, loginMaxAttempts: 10, loginMaxAttemptsPerAddress: 100, loginUnknownPerMinute: 60 },
      audit: { retentionDays: 365, maxRows: 1_000_000 },
      map: { city: '330100' },
      alerts: { overrides: {}, worker: true, tickMs: 1000, checkpointMs: 1000, webhooks: [], storeContactWebhooks: [] },
      cluster: null,
    } satisfies Config);
    expect(c.auth).not.toHaveProperty('adminPassword');
  });

  it('MQTT_MAX_CONNECTIONS=auto leaves room under the open-file limit for HTTP and 512 more, within 64..100000', () => {
    expect(autoMaxConnections(20_000, 2048)).toBe(20_000 - 2048 - 512);
    expect(autoMaxConnections(1_048_576, 2048)).toBe(100_000);
    expect(autoMaxConnections(1024, 2048)).toBe(64);
    expect(autoMaxConnections(null, 2048)).toBe(10_000);
    expect(loadConfig({ HTTP_MAX_CONNECTIONS: '1000' }).mqtt.maxConnections).toBe(autoMaxConnections(openFileLimit(), 1000));
    if (process.platform === 'linux') expect(openFileLimit()).toBeGreaterThan(0);
  });

  it('INGEST_JOURNAL=true puts the journal under DATA_DIR with its backlog bound', () => {
    expect(loadConfig({ INGEST_JOURNAL: 'true', DATA_DIR: '/srv/sup', INGEST_JOURNAL_MAX_BACKLOG: '5000' }).ingest.journal)
      .toEqual({ dir: path.join(path.resolve('/srv/sup'), 'journal'), maxBacklogRows: 5000 });
    expect(() => loadConfig({ INGEST_JOURNAL: 'maybe' })).toThrow(/INGEST_JOURNAL/);
    expect(() => loadConfig({ INGEST_JOURNAL_MAX_BACKLOG: '0' })).toThrow(/INGEST_JOURNAL_MAX_BACKLOG/);
  });

  it.each([
    ['10.0.0.5', ['10.0.0.5']],
    [' 10.0.0.0/24 , fd00::1 ,2001:db8::/32', ['10.0.0.0/24', 'fd00::1', '2001:db8::/32']],
    ['', []],
  ])('TRUSTED_PROXIES=%j: %j', (raw, want) => {
    expect(loadConfig({ TRUSTED_PROXIES: raw }).http.trustedProxies).toEqual(want);
  });

  it.each([
    ['proxy.example', /TRUSTED_PROXIES: "proxy.example" is not an IP address or CIDR block/],
    ['10.0.0.0/33', /TRUSTED_PROXIES: "10.0.0.0\/33"/],
    ['fd00::/129', /TRUSTED_PROXIES: "fd00::\/129"/],
    ['10.0.0.0/8/1', /TRUSTED_PROXIES: "10.0.0.0\/8\/1"/],
    ['10.0.0.0/x', /TRUSTED_PROXIES: "10.0.0.0\/x"/],
  ])('TRUSTED_PROXIES=%j is refused', (raw, message) => {
    expect(() => loadConfig({ TRUSTED_PROXIES: raw })).toThrow(message);
  });

  it('MQTT_PROXY_PROTOCOL needs TRUSTED_PROXIES', () => {
    expect(() => loadConfig({ MQTT_PROXY_PROTOCOL: 'true' })).toThrow(/MQTT_PROXY_PROTOCOL needs TRUSTED_PROXIES/);
    expect(loadConfig({ MQTT_PROXY_PROTOCOL: 'true', TRUSTED_PROXIES: '127.0.0.1' }).mqtt).toMatchObject({ proxyProtocol: true, trustedProxies: ['127.0.0.1'] });
  });

  it('docs/protocol.md defaults: MQTT_PORT 1883, HTTP_PORT 3000, DATA_DIR ./data', () => {
    expect(settings.MQTT_PORT.default).toBe(1883);
    expect(settings.HTTP_PORT.default).toBe(3000);
    expect(settings.DATA_DIR.default).toBe('./data');
  });

  it('an empty string counts as unset', () => {
    expect(loadConfig({ MQTT_PORT: '', LOG_LEVEL: '', DATA_DIR: '' }).mqtt.port).toBe(1883);
  });

  it('defaults to process.env when no environment is passed', () => {
    const saved = process.env.MQTT_PORT;
    process.env.MQTT_PORT = '1999';
    try {
      expect(loadConfig().mqtt.port).toBe(1999);
    } finally {
      if (saved === undefined) delete process.env.MQTT_PORT; else process.env.MQTT_PORT = saved;
    }
  });
});

describe('environment parsing', () => {
  // [variable, value, read the result, expected]
  const rows: Array<[string, string, (c: Config) => unknown, unknown]> = [
    ['MQTT_PORT', '1884', (c) => c.mqtt.port, 1884],
    ['MQTT_PORT', '0', (c) => c.mqtt.port, 0],
    ['MQTT_PORT', '65535', (c) => c.mqtt.port, 65535],
    ['MQTT_PORT', ' 1885 ', (c) => c.mqtt.port, 1885],
    ['MQTT_HOST', '127.0.0.1', (c) => c.mqtt.host, '127.0.0.1'],
    ['HTTP_PORT', '8080', (c) => c.http.port, 8080],
    ['HTTP_HOST', '::1', (c) => c.http.host, '::1'],
    ['DATA_DIR', '/var/lib/supervision', (c) => c.dataDir, '/var/lib/supervision'],
    ['DATA_DIR', 'rel/dir', (c) => c.dataDir, path.resolve('rel/dir')],
    ['MQTT_ALLOW_ANONYMOUS', 'true', (c) => c.mqtt.allowAnonymous, true],
    ['MQTT_ALLOW_ANONYMOUS', '1', (c) => c.mqtt.allowAnonymous, true],
    ['MQTT_ALLOW_ANONYMOUS', 'yes', (c) => c.mqtt.allowAnonymous, true],
    ['MQTT_ALLOW_ANONYMOUS', 'false', (c) => c.mqtt.allowAnonymous, false],
    ['MQTT_ALLOW_ANONYMOUS', '0', (c) => c.mqtt.allowAnonymous, false],
    ['MQTT_ALLOW_ANONYMOUS', 'no', (c) => c.mqtt.allowAnonymous, false],
    ['MQTT_MAX_PAYLOAD_BYTES', '1024', (c) => c.mqtt.maxPayloadBytes, 1024],
    ['MQTT_MAX_PACKET_BYTES', '65536', (c) => c.mqtt.maxPacketBytes, 65536],
    ['MQTT_MAX_TOPIC_LEVELS', '4', (c) => c.mqtt.maxTopicLevels, 4],
    ['MQTT_MAX_TOPIC_LEVELS', '100', (c) => c.mqtt.maxTopicLevels, 100],
    ['MQTT_DRAIN_TIMEOUT_MS', '0', (c) => c.mqtt.drainTimeoutMs, 0],
    ['MQTT_CONNECT_TIMEOUT_MS', '2500', (c) => c.mqtt.connectTimeoutMs, 2500],
    ['MQTT_MAX_CONNECTIONS', '100000', (c) => c.mqtt.maxConnections, 100000],
    ['MQTT_MAX_CONNECTIONS', '0', (c) => c.mqtt.maxConnections, 0],
    ['MQTT_MAX_CONNECTIONS', 'auto', (c) => c.mqtt.maxConnections, autoMaxConnections(openFileLimit(), 2048)],
    ['MQTT_MAX_CONNECTIONS_PER_ADDRESS', '50000', (c) => c.mqtt.maxConnectionsPerAddress, 50000],
    ['MQTT_MAX_UNAUTHENTICATED_PER_ADDRESS', '0', (c) => c.mqtt.maxUnauthenticatedPerAddress, 0],
    ['INGEST_BATCH_MAX_ROWS', '1', (c) => c.ingest.batchMaxRows, 1],
    ['INGEST_MAX_PENDING', '77', (c) => c.ingest.maxPending, 77],
    ['DEDUPE_WINDOW_S', '60', (c) => c.ingest.dedupeWindowMs, 60_000],
    ['DEDUPE_MAX_ENTRIES', '10', (c) => c.ingest.dedupeMaxEntries, 10],
    ['DEAD_LETTER_RAW_MAX_BYTES', '100', (c) => c.ingest.deadLetterRawMaxBytes, 100],
    ['STATE_FLUSH_INTERVAL_MS', '250', (c) => c.ingest.stateFlushIntervalMs, 250],
    ['ADMIN_PASSWORD', '12345678', (c) => c.auth.adminPassword, '12345678'],
    ['TOKEN_TTL_S', '60', (c) => c.auth.tokenTtlS, 60],
    ['LOGIN_MAX_ATTEMPTS', '3', (c) => c.auth.loginMaxAttempts, 3],
    ['HTTP_BODY_LIMIT_BYTES', '2048', (c) => c.http.bodyLimitBytes, 2048],
    ['MAP_CITY', '330100', (c) => c.map.city, '330100'],
    ...(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const).map(
      (l): [string, string, (c: Config) => unknown, unknown] => ['LOG_LEVEL', l, (c) => c.logLevel, l]),
  ];

  it.each(rows)('%s=%j', (name, value, read, expected) => {
    expect(read(loadConfig({ [name]: value }))).toBe(expected);
  });

  it('DATA_DIR also moves the database file', () => {
    expect(loadConfig({ DATA_DIR: '/srv/x' }).dbPath).toBe(path.join('/srv/x', 'supervision.duckdb'));
  });

  it('overrides win over the environment and accept typed values', () => {
    const c = loadConfig({ MQTT_PORT: '1884', MQTT_ALLOW_ANONYMOUS: 'false' }, { MQTT_PORT: 0, MQTT_ALLOW_ANONYMOUS: true });
    expect(c.mqtt.port).toBe(0);
    expect(c.mqtt.allowAnonymous).toBe(true);
  });
});

describe('bad values', () => {
  const rows: Array<[string, string]> = [
    ['MQTT_PORT', 'abc'], ['MQTT_PORT', '-1'], ['MQTT_PORT', '65536'], ['MQTT_PORT', '1.5'], ['MQTT_PORT', ' '], ['MQTT_PORT', '0x50'],
    ['MQTTS_PORT', '99999'],
    ['HTTP_PORT', 'http'], ['HTTP_PORT', '70000'], ['HTTP_PORT', '  '],
    ['MQTT_ALLOW_ANONYMOUS', 'maybe'], ['MQTT_ALLOW_ANONYMOUS', 'TRUE'], ['MQTT_ALLOW_ANONYMOUS', '2'],
    ['MQTT_MAX_PAYLOAD_BYTES', '0'], ['MQTT_MAX_PAYLOAD_BYTES', '-5'], ['MQTT_MAX_PAYLOAD_BYTES', '64k'],
    ['MQTT_MAX_PACKET_BYTES', '0'],
    ['MQTT_MAX_TOPIC_LEVELS', '3'], ['MQTT_MAX_TOPIC_LEVELS', '101'],
    ['MQTT_DRAIN_TIMEOUT_MS', '-1'],
    ['MQTT_CONNECT_TIMEOUT_MS', '0'],
    ['MQTT_MAX_CONNECTIONS', '-1'], ['MQTT_MAX_CONNECTIONS', ' '], ['MQTT_MAX_CONNECTIONS', 'many'],
    ['MQTT_MAX_CONNECTIONS_PER_ADDRESS', '-1'], ['MQTT_MAX_UNAUTHENTICATED_PER_ADDRESS', '1.5'],
    ['INGEST_BATCH_MAX_ROWS', '0'], ['INGEST_BATCH_MAX_ROWS', '2.5'],
    ['INGEST_MAX_PENDING', 'lots'],
    ['DUCKDB_MEMORY_LIMIT', '512'], ['DUCKDB_MEMORY_LIMIT', 'lots'], ['DUCKDB_MEMORY_LIMIT', '1GB; DROP TABLE x'],
    ['DUCKDB_THREADS', '-1'],
    ['DEDUPE_WINDOW_S', '0'],
    ['DEDUPE_MAX_ENTRIES', '-10'],
    ['DEAD_LETTER_RAW_MAX_BYTES', '0'],
    ['STATE_FLUSH_INTERVAL_MS', '0'],
    ['ADMIN_PASSWORD', 'short'], ['ADMIN_PASSWORD', '1234567'],
    ['TOKEN_TTL_S', '0'],
    ['LOGIN_MAX_ATTEMPTS', '0'],
    ['HTTP_BODY_LIMIT_BYTES', '1e6'],
    ['LOG_LEVEL', 'verbose'], ['LOG_LEVEL', 'INFO'],
    // a 6-digit code of a city the shipped map data has (core/mapCities.ts): not Shanghai, a district, a prefix
    ['MAP_CITY', '310100'], ['MAP_CITY', '330106'], ['MAP_CITY', '3301'], ['MAP_CITY', '330100 '], ['MAP_CITY', 'hangzhou'],
  ];

  it.each(rows)('%s=%j is a ConfigError naming the variable', (name, value) => {
    const e = configError(() => loadConfig({ [name]: value }));
    expect(e.problems).toHaveLength(1);
    expect(e.problems[0]).toMatch(new RegExp(`^${name}=`));
    expect(e.message).toContain(name);
    expect(e.name).toBe('ConfigError');
  });

  it.each(Object.keys(settings))('%s: a wrongly typed value (an object) is a ConfigError naming it', (name) => {
    const e = configError(() => loadConfig({}, { [name]: { not: 'a setting value' } }));
    expect(e.problems).toHaveLength(1);
    expect(e.problems[0]).toMatch(new RegExp(`^${name}=`));
  });

  it.each([['MQTT_HOST', ''], ['HTTP_HOST', 5], ['DATA_DIR', ''], ['TLS_CA_FILE', '']] as const)(
    'string settings reject %s=%j (override or file values)', (name, value) => {
      expect(configError(() => loadConfig({}, { [name]: value })).problems[0]).toMatch(new RegExp(`^${name}=`));
    });

  it('reports every problem at once', () => {
    const e = configError(() => loadConfig({ MQTT_PORT: 'x', HTTP_PORT: 'y', LOG_LEVEL: 'loud' }));
    expect(e.problems).toHaveLength(3);
    expect(e.problems.join('\n')).toMatch(/MQTT_PORT[\s\S]*HTTP_PORT[\s\S]*LOG_LEVEL/);
  });

  it('the message includes what the setting does', () => {
    expect(configError(() => loadConfig({ DEDUPE_WINDOW_S: '0' })).problems[0]).toContain(settings.DEDUPE_WINDOW_S.doc);
  });
});

describe('TLS and sizes', () => {
  it('cert and key together enable the TLS listener on MQTTS_PORT', () => {
    const c = loadConfig({ TLS_CERT_FILE: '/etc/c.pem', TLS_KEY_FILE: '/etc/k.pem', MQTTS_PORT: '8884' });
    expect(c.mqtt.tls).toEqual({ port: 8884, certFile: '/etc/c.pem', keyFile: '/etc/k.pem' });
    expect(loadConfig({ TLS_CERT_FILE: 'c', TLS_KEY_FILE: 'k', TLS_CA_FILE: 'ca' }).mqtt.tls).toEqual({ port: 8883, certFile: 'c', keyFile: 'k', caFile: 'ca' });
  });

  it.each([
    ['cert without key', { TLS_CERT_FILE: '/etc/c.pem' }],
    ['key without cert', { TLS_KEY_FILE: '/etc/k.pem' }],
    ['key and CA without cert', { TLS_KEY_FILE: '/etc/k.pem', TLS_CA_FILE: '/etc/ca.pem' }],
  ])('%s is refused', (_d, env) => {
    expect(configError(() => loadConfig(env)).problems).toEqual(['TLS_CERT_FILE and TLS_KEY_FILE must be set together (or neither)']);
  });

  it('a CA alone does not enable TLS', () => {
    expect(loadConfig({ TLS_CA_FILE: '/etc/ca.pem' }).mqtt.tls).toBeNull();
  });

  it.each([
    ['packet below payload', '2048', '1024', false],
    ['packet equal to payload', '2048', '2048', true],
    ['packet above payload', '2048', '2049', true],
  ] as const)('MQTT_MAX_PACKET_BYTES vs MQTT_MAX_PAYLOAD_BYTES: %s', (_d, payload, packet, ok) => {
    const load = () => loadConfig({ MQTT_MAX_PAYLOAD_BYTES: payload, MQTT_MAX_PACKET_BYTES: packet });
    if (ok) expect(load().mqtt.maxPacketBytes).toBe(Number(packet));
    else expect(configError(load).problems).toEqual(['MQTT_MAX_PACKET_BYTES must be at least MQTT_MAX_PAYLOAD_BYTES']);
  });

  it('a payload limit above the default packet limit needs a bigger packet limit', () => {
    expect(configError(() => loadConfig({ MQTT_MAX_PAYLOAD_BYTES: String(2 * 1048576) })).problems[0]).toMatch(/MQTT_MAX_PACKET_BYTES/);
  });
});

describe('CONFIG_FILE', () => {
  it('reads settings from a JSON file (numbers, booleans and strings)', () => {
    const f = configFile(JSON.stringify({ MQTT_PORT: 1900, MQTT_ALLOW_ANONYMOUS: true, LOG_LEVEL: 'warn', DATA_DIR: '/tmp/from-file', DEDUPE_WINDOW_S: '30' }));
    const c = loadConfig({ CONFIG_FILE: f });
    expect(c.mqtt.port).toBe(1900);
    expect(c.mqtt.allowAnonymous).toBe(true);
    expect(c.logLevel).toBe('warn');
    expect(c.dataDir).toBe('/tmp/from-file');
    expect(c.ingest.dedupeWindowMs).toBe(30_000);
  });

  it('the environment wins over the file, overrides win over both, the file over defaults', () => {
    const f = configFile(JSON.stringify({ MQTT_PORT: 1900, HTTP_PORT: 3100, LOG_LEVEL: 'warn' }));
    const c = loadConfig({ CONFIG_FILE: f, MQTT_PORT: '1901' }, { HTTP_PORT: 3200 });
    expect(c.mqtt.port).toBe(1901);
    expect(c.http.port).toBe(3200);
    expect(c.logLevel).toBe('warn');
    expect(c.mqtt.maxPayloadBytes).toBe(65536);
  });

  it('an empty environment value falls through to the file', () => {
    const f = configFile(JSON.stringify({ MQTT_PORT: 1900 }));
    expect(loadConfig({ CONFIG_FILE: f, MQTT_PORT: '' }).mqtt.port).toBe(1900);
  });

  it('a bad value in the file names the variable', () => {
    const f = configFile(JSON.stringify({ MQTT_PORT: 'x' }));
    expect(configError(() => loadConfig({ CONFIG_FILE: f })).problems[0]).toMatch(/^MQTT_PORT=/);
  });

  it.each([
    ['true for a port', { MQTT_PORT: true }],
    ['an array for a port', { MQTT_PORT: [] }],
    ['an object for a size', { MQTT_MAX_PAYLOAD_BYTES: { n: 1 } }],
    ['a number for a host', { MQTT_HOST: 1 }],
    ['a string that is not a boolean', { MQTT_ALLOW_ANONYMOUS: 'on' }],
  ])('wrongly typed file value (%s) names the variable', (_d, obj) => {
    const f = configFile(JSON.stringify(obj));
    expect(configError(() => loadConfig({ CONFIG_FILE: f })).problems[0]).toMatch(new RegExp(`^${Object.keys(obj)[0]}=`));
  });

  it('an unknown key is rejected, naming the key and the file', () => {
    const f = configFile(JSON.stringify({ MQTT_PORT: 1900, MQTT_PROT: 1, Http_Port: 2 }));
    const e = configError(() => loadConfig({ CONFIG_FILE: f }));
    expect(e.problems).toEqual([`CONFIG_FILE: unknown setting MQTT_PROT in ${f}`, `CONFIG_FILE: unknown setting Http_Port in ${f}`]);
  });

  it('a prototype key is an unknown setting, not a lookup', () => {
    const f = configFile('{"__proto__": {"MQTT_PORT": 1}, "constructor": 1}');
    const e = configError(() => loadConfig({ CONFIG_FILE: f }));
    expect(e.problems.join('\n')).toMatch(/unknown setting __proto__/);
    expect(e.problems.join('\n')).toMatch(/unknown setting constructor/);
  });

  it.each([
    ['an array', '[{"MQTT_PORT": 1}]'],
    ['null', 'null'],
    ['a number', '1883'],
    ['a string', '"MQTT_PORT=1883"'],
  ])('a file holding %s is rejected', (_d, content) => {
    const f = configFile(content);
    expect(configError(() => loadConfig({ CONFIG_FILE: f })).problems).toEqual([expect.stringMatching(new RegExp(`^CONFIG_FILE: ${f} must hold a JSON object`))]);
  });

  it('invalid JSON names the file', () => {
    const f = configFile('{"MQTT_PORT": 1883,');
    expect(configError(() => loadConfig({ CONFIG_FILE: f })).problems).toEqual([expect.stringMatching(new RegExp(`^CONFIG_FILE: ${f} is not valid JSON`))]);
  });

  it('an unreadable file is named', () => {
    const missing = path.join(dir, 'does-not-exist.json');
    expect(configError(() => loadConfig({ CONFIG_FILE: missing })).problems).toEqual([expect.stringContaining(`CONFIG_FILE: cannot read ${missing}`)]);
    // a directory cannot be read as a file either
    expect(configError(() => loadConfig({ CONFIG_FILE: dir })).problems[0]).toContain(`cannot read ${dir}`);
  });

  it('an empty object is fine', () => {
    expect(loadConfig({ CONFIG_FILE: configFile('{}') }).mqtt.port).toBe(1883);
  });
});

describe('frozen result', () => {
  const c = loadConfig({ TLS_CERT_FILE: 'c', TLS_KEY_FILE: 'k', TLS_CA_FILE: 'ca', ADMIN_PASSWORD: '12345678' });

  it('is deeply frozen', () => {
    const walk = (o: unknown, at: string): void => {
      if (o && typeof o === 'object') {
        expect(Object.isFrozen(o), at).toBe(true);
        for (const [k, v] of Object.entries(o)) walk(v, `${at}.${k}`);
      }
    };
    walk(c, 'config');
    expect(Object.isFrozen(c.mqtt.tls)).toBe(true);
  });

  it('assignment throws in strict mode and changes nothing', () => {
    expect(() => { (c.mqtt as { port: number }).port = 1; }).toThrow(TypeError);
    expect(() => { (c.mqtt.tls as { certFile: string }).certFile = 'x'; }).toThrow(TypeError);
    expect(() => { (c.auth as { adminPassword?: string }).adminPassword = 'x'; }).toThrow(TypeError);
    expect(() => { (c as { extra?: number }).extra = 1; }).toThrow(TypeError);
    expect(c.mqtt.port).toBe(1883);
    expect(c.auth.adminPassword).toBe('12345678');
  });

  it('each call builds a fresh object', () => {
    expect(loadConfig({})).not.toBe(loadConfig({}));
  });
});

describe('cluster mode: REDIS_URL with DATABASE_URL, NODE_ID', () => {
  const both = { REDIS_URL: 'redis://127.0.0.1:6379', DATABASE_URL: 'postgres://u:p@127.0.0.1:5432/supervision' };
  it('both turn it on; NODE_ID names the node, the host name by default', () => {
    expect(loadConfig({ ...both, NODE_ID: 'node-a' }).cluster).toEqual({ redisUrl: both.REDIS_URL, databaseUrl: both.DATABASE_URL, nodeId: 'node-a' });
    const byHost = parseCluster(both, [], () => 'web-01.example');
    expect(byHost?.nodeId).toBe('web-01.example');
  });
  it.each([
    [{ REDIS_URL: both.REDIS_URL }, /REDIS_URL and DATABASE_URL together: DATABASE_URL is not set/],
    [{ DATABASE_URL: both.DATABASE_URL }, /REDIS_URL and DATABASE_URL together: REDIS_URL is not set/],
    [{ NODE_ID: 'node-a' }, /NODE_ID names a node of a cluster/],
    [{ ...both, REDIS_URL: 'http://127.0.0.1:6379' }, /REDIS_URL must be a redis: or rediss:\/\/ URL/],
    [{ ...both, DATABASE_URL: 'not a url' }, /DATABASE_URL is not a URL/],
    [{ ...both, DATABASE_URL: 'mysql://h/db' }, /DATABASE_URL must be a postgres: or postgresql:\/\/ URL/],
    [{ ...both, NODE_ID: 'a b' }, /NODE_ID="a b": 1-64 of/],
    [{ ...both, NODE_ID: 'x'.repeat(65) }, /NODE_ID=/],
    [{ ...both, NODE_ID: '-lead' }, /NODE_ID=/],
  ] as const)('%j is refused, naming the setting', (env, message) => {
    expect(() => loadConfig(env)).toThrow(message);
  });
  it('a host name that is no node id is refused, saying it came from the host', () => {
    const problems: string[] = [];
    parseCluster(both, problems, () => 'bad host');
    expect(problems).toEqual([expect.stringMatching(/NODE_ID="bad host" \(the host name\)/)]);
  });
});
