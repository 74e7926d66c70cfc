import { pino, type Logger } from 'pino';
import type { Config } from './config.js';

/** JSON logs to stdout (pino); one logger for the process, children per component. */
export function createLogger(config: Pick<Config, 'logLevel'>): Logger {
  return pino({ level: config.logLevel, base: { service: 'supervision' } });
}
