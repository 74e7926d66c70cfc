#!/usr/bin/env node
/**
 * `npm start`: the whole service in one process (MQTT broker + ingest + HTTP).
 */
import type { Logger } from 'pino';
import { ConfigError, loadConfig, settings, type Config } from './config.js';
import { createLogger } from './logger.js';
import { Service } from './service.js';

if (process.argv.includes('--help') || process.argv.includes('-h')) {
  const lines = Object.entries(settings).map(([name, s]) => `  ${name.padEnd(26)} ${s.doc}${s.default === undefined ? '' : ` [default: ${String(s.default)}]`}`);
  process.stdout.write(`smart-supervision: MQTT broker, ingest pipeline and HTTP API in one process.

Usage: npm start            (or: node dist/service/main.js)

Settings come from environment variables, or a JSON file named by CONFIG_FILE
holding the same names (the environment wins):
${lines.join('\n')}
`);
  process.exit(0);
}

/** Config, logger and service, or exit 2 naming the bad setting (ALERT_OVERRIDES is checked against the rules here). */
function boot(): { config: Config; log: Logger; service: Service } {
  try {
    const config = loadConfig();
    const log = createLogger(config);
    return { config, log, service: new Service(config, log) };
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
}

const { config, log, service } = boot();

process.on('uncaughtException', (err) => {
  log.fatal({ err }, 'uncaught exception: stopping');
  void service.stop().finally(() => process.exit(1));
});
// the rules' worker thread gone: no alarm would be raised, so stop and let the supervisor restart
// us (exit 70, EX_SOFTWARE); the start replays the journal and the readings since the last checkpoint
service.onFatal((err) => {
  log.fatal({ err }, 'a part the service cannot run without stopped: stopping');
  void service.stop().finally(() => process.exit(70));
});
process.on('unhandledRejection', (err) => {
  log.error({ err }, 'unhandled rejection');
});

try {
  const started = await service.start();
  const host = config.http.host === '0.0.0.0' || config.http.host === '::' ? 'localhost' : config.http.host;
  const banner = [
    `Dashboard & API: http://${host}:${started.httpPort}/   (OpenAPI: /docs, health: /healthz, metrics: /metrics)`,
    `MQTT:            mqtt://${host}:${started.mqttPort}   WebSocket: ws://${host}:${started.httpPort}/mqtt` +
      (started.mqttsPort ? `   TLS: mqtts://${host}:${started.mqttsPort}` : ''),
    started.adminPasswordFile ? `Admin login:     user "admin", password written to ${started.adminPasswordFile}` : null,
  ].filter(Boolean).join('\n');
  process.stdout.write(banner + '\n');
} catch (err) {
  log.fatal({ err }, 'start-up failed');
  await service.stop().catch(() => undefined);
  process.exit(1);
}

let signals = 0;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (++signals > 1) process.exit(1);
    log.info({ signal }, 'stopping');
    void service.stop().then(() => process.exit(0), (err) => { log.error({ err }, 'stop failed'); process.exit(1); });
  });
}
