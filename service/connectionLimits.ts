/** MQTT_MAX_CONNECTIONS=auto (service/config.ts): the cap read from this process's open-file limit. */
import { readFileSync } from 'node:fs';

/**
 * This process's open-file limit (the soft one: Node raises it to the hard limit at start),
 * from /proc/self/limits; null where that cannot be read (not Linux) or it is unlimited.
 */
export function openFileLimit(): number | null {
  try {
    const line = readFileSync('/proc/self/limits', 'utf8').split('\n').find((l) => l.startsWith('Max open files'));
    const m = line ? /^Max open files\s+(\d+)/.exec(line) : null;
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

/**
 * MQTT_MAX_CONNECTIONS=auto: every MQTT connection is a descriptor, so the cap leaves room
 * under the open-file limit for the HTTP port's connections and 512 more for DuckDB (database,
 * WAL, spill files), the journal, logs and outgoing requests; at least 64; at most 100,000
 * (the city's target, beyond which memory rather than descriptors runs out first).
 */
export function autoMaxConnections(openFiles: number | null, httpMaxConnections: number): number {
  if (openFiles === null) return 10_000;
  return Math.min(100_000, Math.max(64, openFiles - httpMaxConnections - 512));
}
