/**
 * API bearer tokens are opaque session tokens (docs/security.md, Tokens): 256 random bits
 * shown once to the client; the store keeps only their SHA-256, so reading the data file
 * gives no token and no key to make one. A session ends at logout, at TOKEN_TTL_S, when its
 * user is deleted, disabled, given a new password, role or district, and when the user opens more than
 * MAX_PER_USER sessions (the oldest ends). The role is the user's current one, read on every
 * request: a token carries no claims of its own.
 *
 * Sessions are kept in memory as well (loaded at start, written through), so a request is
 * checked without a query.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { SessionRecord, Store, UserRecord } from '../store/types.js';
import type { Role } from '../core/roles.js';
import type { Emitter } from '../core/eventBus.js';
import { scopeOf } from './scope.js';
import { readNamed } from '../cluster/readNamed.js';

export interface SessionEvents {
  /** Sessions that ended (logout, expiry, a user disabled, deleted or given a new password, role or district), by id. */
  'sessions.revoked': ReadonlySet<string>;
}

const PREFIX = 'sst_';
const TOKEN_SHAPE = /^sst_[A-Za-z0-9_-]{43}$/;
export const MAX_SESSIONS_PER_USER = 20;
const SWEEP_MS = 10 * 60 * 1000;
/** shared-store reads of unknown tokens in flight at most (verifyAnywhere) */
const MAX_LOOKUPS = 16;

/** Who a valid token speaks for, as of now. */
export interface Principal {
  /** username */
  sub: string;
  role: Role;
  /** the code prefix the user is limited to, read like the role on every request; null: the whole city (accounts/scope.ts) */
  district: string | null;
  /** the session's id: the token's SHA-256 (never shown) */
  sid: string;
  /** expiry, epoch seconds */
  exp: number;
}

export class Sessions {
  private readonly byHash = new Map<string, SessionRecord>();
  private readonly byUser = new Map<string, Set<string>>();
  private timer: NodeJS.Timeout | null = null;
  private readonly writeListeners = new Set<(usernames: readonly string[]) => void>();
  /** bumped by each session this node adds: a refresh that read across one reads again */
  private generation = 0;
  /** ended here but perhaps not yet deleted from the store: a refresh must not bring them back */
  private readonly ending = new Set<string>();
  /** cluster mode: a session another node issued, read from the shared store (null: none) */
  private lookup: ((tokenHash: string) => Promise<SessionRecord | null>) | null = null;
  private lookups = 0;

  constructor(
    private readonly store: Store,
    private readonly user: (username: string) => UserRecord | undefined,
    private readonly ttlS: number,
    private readonly events: Emitter<SessionEvents>,
    private readonly now: () => number = Date.now,
  ) {}

  async start(): Promise<void> {
    this.byHash.clear();
    this.byUser.clear();
    const stale: string[] = [];
    for (const s of await this.store.accounts.loadSessions()) {
      if (s.expiresAt <= this.now() || !this.user(s.username)) stale.push(s.tokenHash);
      else this.remember(s);
    }
    await this.store.accounts.deleteSessions(stale);
    this.timer = setInterval(() => void this.sweep().catch(() => { /* retried at the next sweep */ }), SWEEP_MS);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  async issue(username: string): Promise<{ token: string; expiresAt: number }> {
    const token = PREFIX + randomBytes(32).toString('base64url');
    const createdAt = this.now();
    const session: SessionRecord = { tokenHash: hashToken(token), username, createdAt, expiresAt: createdAt + this.ttlS * 1000 };
    await this.store.accounts.insertSession(session);
    this.remember(session);
    this.generation++;
    this.written([username]);
    const mine = [...(this.byUser.get(username) ?? [])].map((h) => this.byHash.get(h)!).sort((a, b) => a.createdAt - b.createdAt);
    if (mine.length > MAX_SESSIONS_PER_USER) await this.end(mine.slice(0, mine.length - MAX_SESSIONS_PER_USER).map((s) => s.tokenHash));
    return { token, expiresAt: session.expiresAt };
  }

  /** The principal of a valid token, with the user's current role and district; null for anything else. */
  verify(token: string): Principal | null {
    if (!TOKEN_SHAPE.test(token)) return null;
    const sid = hashToken(token);
    const s = this.byHash.get(sid);
    if (!s) return null;
    const user = this.user(s.username);
    if (s.expiresAt <= this.now() || !user || user.disabled) return null;
    return { sub: user.username, role: user.role, district: scopeOf(user), sid, exp: Math.floor(s.expiresAt / 1000) };
  }

  /**
   * Cluster mode: a token this node does not hold may have just been issued by another, which
   * tells this one through the change bus a moment later (service/clusterWiring.ts); until then
   * it is read from the shared store by its hash. At most MAX_LOOKUPS at once: a stranger's
   * made-up tokens cost one indexed read each, bounded, and are refused past the bound.
   */
  useLookup(lookup: ((tokenHash: string) => Promise<SessionRecord | null>) | null): void {
    this.lookup = lookup;
  }

  /** verify, and in cluster mode a token issued on another node a moment ago too (useLookup). */
  async verifyAnywhere(token: string): Promise<Principal | null> {
    const here = this.verify(token);
    if (here || !this.lookup || !TOKEN_SHAPE.test(token) || this.lookups >= MAX_LOOKUPS) return here;
    const sid = hashToken(token);
    if (this.ending.has(sid)) return null;
    this.lookups++;
    let found: SessionRecord | null;
    try {
      found = await this.lookup(sid);
    } finally {
      this.lookups--;
    }
    if (!found || found.expiresAt <= this.now() || this.ending.has(sid)) return null;
    if (!this.byHash.has(sid)) this.remember(found);
    return this.verify(token);
  }

  /** Is this session still valid (for connections that outlive a request)? */
  valid(sid: string): boolean {
    const s = this.byHash.get(sid);
    const user = s && this.user(s.username);
    return !!s && !!user && !user.disabled && s.expiresAt > this.now();
  }

  /** Logout: end this one session. */
  revoke(sid: string): Promise<void> {
    return this.end([sid]);
  }

  /** End every session of a user (password changed, disabled, deleted), or all but one. */
  revokeUser(username: string, keepSid?: string): Promise<void> {
    return this.end([...(this.byUser.get(username) ?? [])].filter((h) => h !== keepSid));
  }

  get size(): number {
    return this.byHash.size;
  }

  /**
   * Users whose sessions this node added or ended, once the store committed it (login, logout,
   * revocation): cluster mode tells the other nodes (cluster/changeBus.ts). Returns the unsubscribe.
   */
  onWritten(listener: (usernames: readonly string[]) => void): () => void {
    this.writeListeners.add(listener);
    return () => this.writeListeners.delete(listener);
  }

  private written(usernames: readonly string[]): void {
    if (usernames.length) for (const l of this.writeListeners) l(usernames);
  }

  /**
   * Another node changed these users' sessions ('all': whose is unknown, messages may have been
   * missed): re-read them from the store. A session gone from it ends here as a logout does
   * (`sessions.revoked`: its live push closes), without writing (the other node deleted it); a
   * new one is taken (a token issued there works here). `byUsers` reads some users' sessions
   * (PgAccounts.sessionsOf); without it every session is loaded and those are kept.
   */
  async refresh(usernames: readonly string[] | 'all', byUsers?: (usernames: readonly string[]) => Promise<SessionRecord[]>): Promise<void> {
    if (usernames !== 'all' && !usernames.length) return;
    // a session issued here while the store was read may be missing from what was read: readNamed reads again
    const fresh = await readNamed(usernames, (s) => s.username, { all: () => this.store.accounts.loadSessions(), ...(byUsers ? { some: byUsers } : {}) }, () => this.generation);
    const found = new Set(fresh.map((s) => s.tokenHash));
    const held = usernames === 'all' ? [...this.byHash.keys()] : usernames.flatMap((u) => [...(this.byUser.get(u) ?? [])]);
    const gone = this.forget(held.filter((h) => !found.has(h)));
    if (gone.size) this.events.emit('sessions.revoked', gone);
    const now = this.now();
    for (const s of fresh) if (!this.byHash.has(s.tokenHash) && !this.ending.has(s.tokenHash) && s.expiresAt > now) this.remember(s);
  }

  private remember(s: SessionRecord): void {
    this.byHash.set(s.tokenHash, s);
    let set = this.byUser.get(s.username);
    if (!set) this.byUser.set(s.username, (set = new Set()));
    set.add(s.tokenHash);
  }

  /** Dropped from memory (refused at once); the ones that were held. */
  private forget(hashes: readonly string[]): Set<string> {
    const ended = new Set<string>();
    for (const h of hashes) {
      const s = this.byHash.get(h);
      if (!s) continue;
      this.byHash.delete(h);
      const set = this.byUser.get(s.username);
      set?.delete(h);
      if (set && !set.size) this.byUser.delete(s.username);
      ended.add(h);
    }
    return ended;
  }

  /**
   * Forgotten in memory first (refused at once), then deleted from the store; the other nodes
   * are told (`tell`), except of expired ones, which each node's own sweep ends.
   */
  private async end(hashes: readonly string[], tell = true): Promise<void> {
    const users = new Set(hashes.map((h) => this.byHash.get(h)?.username).filter((u): u is string => u !== undefined));
    const ended = this.forget(hashes);
    if (!ended.size) return;
    for (const h of ended) this.ending.add(h);
    this.events.emit('sessions.revoked', ended);
    try {
      await this.store.accounts.deleteSessions([...ended]);
    } finally {
      for (const h of ended) this.ending.delete(h);
    }
    if (tell) this.written([...users]);
  }

  private sweep(): Promise<void> {
    const now = this.now();
    return this.end([...this.byHash.values()].filter((s) => s.expiresAt <= now).map((s) => s.tokenHash), false);
  }
}

export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('base64url');
}
