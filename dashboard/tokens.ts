/**
 * API bearer tokens: `base64url(claims).base64url(HMAC-SHA256(claims))`, signed with a key
 * generated once per data directory, so tokens survive a restart and expire by TOKEN_TTL_S.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { Role } from './roles.js';

export interface Claims {
  sub: string;
  role: Role;
  iat: number;
  exp: number;
}

export class TokenSigner {
  constructor(private readonly key: Buffer, private readonly ttlS: number, private readonly now: () => number = Date.now) {}

  issue(sub: string, role: Role): { token: string; expiresAt: number } {
    const iat = Math.floor(this.now() / 1000);
    const claims: Claims = { sub, role, iat, exp: iat + this.ttlS };
    const body = Buffer.from(JSON.stringify(claims)).toString('base64url');
    return { token: `${body}.${this.sign(body)}`, expiresAt: claims.exp * 1000 };
  }

  /** The claims of a valid, unexpired token; null otherwise. */
  verify(token: string): Claims | null {
    const dot = token.indexOf('.');
    if (dot <= 0) return null;
    const body = token.slice(0, dot);
    const given = Buffer.from(token.slice(dot + 1), 'base64url');
    const expected = Buffer.from(this.sign(body), 'base64url');
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return null;
    try {
      const claims = JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as Claims;
      return claims.exp * 1000 > this.now() ? claims : null;
    } catch {
      return null;
    }
  }

  private sign(body: string): string {
    return createHmac('sha256', this.key).update(body).digest('base64url');
  }
}
