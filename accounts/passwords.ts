/**
 * People's passwords: scrypt (memory-hard KDF) with a random salt, stored as
 * `scrypt$N$r$p$salt$hash` so parameters can be raised later without breaking old hashes.
 */
import { randomBytes, scrypt as scryptCb, timingSafeEqual, type ScryptOptions } from 'node:crypto';

const N = 16384;
const r = 8;
const p = 1;
const KEYLEN = 32;

/**
 * Hashes run at most two at a time: scrypt takes a thread of libuv's pool (four by default)
 * for ~50 ms and 16 MiB each, and the ingest journal's fsyncs need that pool too, so logins
 * must never take all of it (docs/security.md). At most MAX_WAITING more wait their turn; past
 * that a check is refused as busy (HashBusyError) instead of queueing without bound.
 */
const MAX_CONCURRENT = 2;
const MAX_WAITING = 64;
let running = 0;
const waiting: Array<() => void> = [];
let typicalMs = 50;

export class HashBusyError extends Error {
  constructor() { super('too many password checks at once'); }
}

function scrypt(password: string, salt: Buffer, keylen: number, opts: ScryptOptions): Promise<Buffer> {
  if (running >= MAX_CONCURRENT && waiting.length >= MAX_WAITING) return Promise.reject(new HashBusyError());
  return new Promise<void>((resolve) => {
    if (running < MAX_CONCURRENT) { running++; resolve(); } else waiting.push(() => { running++; resolve(); });
  }).then(() => new Promise<Buffer>((resolve, reject) => {
    const started = performance.now();
    scryptCb(password, salt, keylen, opts, (err, key) => {
      running--;
      waiting.shift()?.();
      typicalMs = typicalMs * 0.9 + (performance.now() - started) * 0.1;
      if (err) reject(err); else resolve(key);
    });
  }));
}

/** About how long one hash takes here (a moving average), to answer without one in as long. */
export function typicalHashMs(): number {
  return typicalMs;
}

export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const key = await scrypt(password, salt, KEYLEN, { N, r, p });
  return ['scrypt', N, r, p, salt.toString('base64url'), key.toString('base64url')].join('$');
}

export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const parts = stored.split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') return false;
  const [, n, rr, pp, salt, hash] = parts as [string, string, string, string, string, string];
  // only hashes we wrote are read; parameters beyond ours would let a planted row cost more
  if (Number(n) > N || Number(rr) > r || Number(pp) > p) return false;
  const expected = Buffer.from(hash, 'base64url');
  const key = await scrypt(password, Buffer.from(salt, 'base64url'), expected.length, { N: Number(n), r: Number(rr), p: Number(pp) });
  return timingSafeEqual(key, expected);
}
