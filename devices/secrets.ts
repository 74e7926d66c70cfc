/**
 * Device secrets. The platform generates every secret (192 random bits) and stores only its
 * SHA-256. For a secret that random a fast hash is safe (no dictionary to try), and a slow
 * KDF would make a reconnect storm of 100k devices cost an hour of CPU. People's passwords
 * use scrypt instead (accounts/passwords.ts).
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * 24 random bytes as base64url, never starting with `-`: a secret is typed on command lines
 * (`mosquitto_pub -P`, `npm run device -- --secret`), where a leading dash reads as an option
 * (Node's parseArgs refuses it as ambiguous). One draw in 64 is redrawn; the rest keep 192 bits.
 */
export function generateSecret(): string {
  for (;;) {
    const secret = randomBytes(24).toString('base64url');
    if (secret[0] !== '-') return secret;
  }
}

export function hashSecret(secret: string | Uint8Array): string {
  return createHash('sha256').update(secret).digest('hex');
}

export function verifySecret(given: Uint8Array, storedHashHex: string): boolean {
  const a = createHash('sha256').update(given).digest();
  const b = Buffer.from(storedHashHex, 'hex');
  return a.length === b.length && timingSafeEqual(a, b);
}
