/**
 * Device secrets are typed on command lines (mosquitto_pub -P, npm run device -- --secret), so
 * none may start with a dash; each is still 24 random bytes, stored only as its SHA-256.
 */
import { parseArgs } from 'node:util';
import { describe, expect, it } from 'vitest';
import { generateSecret, hashSecret, verifySecret } from '../../devices/secrets.js';

describe('device secrets', () => {
  it('never start with "-" (one in 64 base64url strings would), are 32 base64url characters and all different', () => {
    const secrets = Array.from({ length: 5000 }, generateSecret);
    expect(secrets.filter((s) => s.startsWith('-'))).toEqual([]);
    expect(secrets.every((s) => /^[A-Za-z0-9_][A-Za-z0-9_-]{31}$/.test(s))).toBe(true);
    expect(new Set(secrets).size).toBe(secrets.length);
    // a leading dash is what a strict command-line parser refuses
    expect(() => parseArgs({ args: ['--secret', '-abc'], options: { secret: { type: 'string' } }, strict: true })).toThrow();
    for (const s of secrets.slice(0, 100)) expect(parseArgs({ args: ['--secret', s], options: { secret: { type: 'string' } }, strict: true }).values.secret).toBe(s);
  });

  it('verify against the stored hash only', () => {
    const s = generateSecret();
    expect(verifySecret(Buffer.from(s), hashSecret(s))).toBe(true);
    expect(verifySecret(Buffer.from(s + 'x'), hashSecret(s))).toBe(false);
  });
});
