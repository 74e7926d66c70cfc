/**
 * Every device connection is an open file on both sides: how many this process can open, and
 * the refusal at start when `--devices` would not fit (rather than EMFILE part way through the
 * connect phase). Load mode checks it at start; bench/connections.ts sizes its fleet with it.
 */
import { readdirSync, readFileSync } from 'node:fs';

/** Descriptors kept for everything but the device sockets: the API requests (up to 64 at once), logs, retries. */
export const DESCRIPTOR_RESERVE = 100;

/** This process's open-file limit (soft, as `ulimit -n` shows it, and hard) and how many files it has open; null where /proc cannot tell (not Linux). */
export function descriptorUse(): { soft: number; hard: number; open: number } | null {
  try {
    const line = readFileSync('/proc/self/limits', 'utf8').split('\n').find((l) => l.startsWith('Max open files'));
    const m = line ? /^Max open files\s+(\d+|unlimited)\s+(\d+|unlimited)/.exec(line) : null;
    if (!m) return null;
    const n = (x: string): number => (x === 'unlimited' ? Infinity : Number(x));
    return { soft: n(m[1]!), hard: n(m[2]!), open: readdirSync('/proc/self/fd').length };
  } catch {
    return null;
  }
}

/**
 * How many device connections fit under the open-file limit, and the refusal when `devices`
 * do not (one descriptor per connection; Node raises its soft limit to the hard one at start,
 * so the soft limit is what this process has). Refused at start rather than failing with
 * EMFILE part way through the connect phase, and never capped silently.
 */
export function descriptorCheck(devices: number, use: { soft: number; hard: number; open: number }): { room: number; problem: string | null } {
  const room = Math.max(0, use.soft - use.open - DESCRIPTOR_RESERVE);
  if (devices <= room) return { room, problem: null };
  const needed = Math.ceil((devices + use.open + DESCRIPTOR_RESERVE) / 1000) * 1000;
  const limit = use.hard === use.soft ? `ulimit -n is ${use.soft}` : `ulimit -n is ${use.soft}, hard limit ${use.hard}`;
  return {
    room,
    problem: `--devices ${devices}: this process can open only ${room} connections: ${limit} (open files), ${use.open} already open and ${DESCRIPTOR_RESERVE} kept for the API.`
      + ` Run with --devices ${room} or fewer, or raise the limit to ${needed} or more for this process and for the service (ulimit -n ${needed} in the shell that starts each;`
      + ` above the hard limit ${use.hard} that needs root: limits.conf, systemd LimitNOFILE or the container's nofile setting, and some machines cannot raise it at all).`,
  };
}
