/**
 * Dashboard users: the first admin, the password check behind every login (HTTP and MQTT),
 * and an admin's changes to users. Users are few: they are kept in memory (loaded at start,
 * written through), so a request's role is read from the user itself, never from its token.
 */
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { CodedError } from '../core/codes.js';
import type { Store, UserRecord } from '../store/types.js';
import type { PasswordGuard } from './passwordGuard.js';
import { HashBusyError, hashPassword, typicalHashMs, verifyPassword } from './passwords.js';
import type { Role } from '../core/roles.js';
import type { Emitter } from '../core/eventBus.js';
import { readNamed } from '../cluster/readNamed.js';

/** Told after a user changed: their sessions are revoked and their MQTT connections closed. */
export interface UserEvents {
  'user.changed': { username: string; change: UserChange };
}

export const ADMIN_PASSWORD_FILE = 'admin-password.txt';

/** What a password check answers; `limited` carries the seconds to wait. */
export type CheckResult =
  | { kind: 'ok'; user: UserRecord }
  | { kind: 'refused' }
  | { kind: 'limited'; retryAfterS: number };

/**
 * Why a user's sessions and connections end. A new role or district ends them too, so no live
 * push, open screen or MQTT subscription carries on under the old role or scope.
 */
export type UserChange = 'password' | 'disabled' | 'deleted' | 'role' | 'district';

export interface UserPatch {
  role?: Role;
  disabled?: boolean;
  password?: string;
  /** code prefix (accounts/scope.ts), null for the whole city */
  district?: string | null;
}

/** Password checks by outcome since start (/metrics: auth_password_checks_total). */
export interface CheckCounts {
  ok: number;
  refused: number;
  /** refused by the guard before any hash */
  limited: number;
  /** refused because too many hashes were waiting */
  busy: number;
  /** scrypt runs, real and dummy */
  hashes: number;
  /** unknown names answered after a timer, without a hash (the budget was spent) */
  unknownUnhashed: number;
}

export class Users {
  readonly counts: CheckCounts = { ok: 0, refused: 0, limited: 0, busy: 0, hashes: 0, unknownUnhashed: 0 };
  private readonly byName = new Map<string, UserRecord>();
  private readonly writeListeners = new Set<(usernames: readonly string[]) => void>();
  /** bumped by each of this node's writes to the map: a refresh that read across one reads again */
  private generation = 0;

  constructor(
    private readonly store: Store,
    private readonly guard: PasswordGuard,
    private readonly events: Emitter<UserEvents>,
    private readonly now: () => number = Date.now,
  ) {}

  async start(): Promise<void> {
    this.byName.clear();
    for (const u of await this.store.accounts.listUsers()) this.byName.set(u.username, u);
  }

  get(username: string): UserRecord | undefined {
    return this.byName.get(username);
  }

  /** Users this node wrote, once the store committed them: cluster mode tells the other nodes (cluster/changeBus.ts). Returns the unsubscribe. */
  onWritten(listener: (usernames: readonly string[]) => void): () => void {
    this.writeListeners.add(listener);
    return () => this.writeListeners.delete(listener);
  }

  private written(username: string): void {
    this.generation++;
    for (const l of this.writeListeners) l([username]);
  }

  /**
   * Another node changed these users ('all': which is unknown, messages may have been missed):
   * re-read them from the store. Each change is told on the bus as this node's own would be
   * (`user.changed`: the user's sessions end and MQTT connections close here too); a user gone
   * from the store is `deleted`.
   */
  async refresh(usernames: readonly string[] | 'all'): Promise<void> {
    if (usernames !== 'all' && !usernames.length) return;
    const fresh = await readNamed(usernames, (u) => u.username, {
      all: () => this.store.accounts.listUsers(),
      // users are few: each named one by the store's own lookup
      some: async (names) => (await Promise.all(names.map((u) => this.store.accounts.getUser(u)))).filter((u): u is UserRecord => u !== null),
    }, () => this.generation);
    const found = new Map(fresh.map((u) => [u.username, u]));
    const changes: Array<[string, UserChange]> = [];
    for (const name of usernames === 'all' ? [...this.byName.keys()] : usernames) {
      if (found.has(name) || !this.byName.has(name)) continue;
      this.byName.delete(name);
      changes.push([name, 'deleted']);
    }
    for (const after of fresh) {
      const before = this.byName.get(after.username);
      this.byName.set(after.username, after);
      if (!before) continue;
      // as update() tells them
      if (after.passwordHash !== before.passwordHash) changes.push([after.username, 'password']);
      if (after.disabled && !before.disabled) changes.push([after.username, 'disabled']);
      if (after.role !== before.role) changes.push([after.username, 'role']);
      if (after.district !== before.district) changes.push([after.username, 'district']);
    }
    // once the map holds every record read: a listener may look at any of them
    for (const [name, change] of changes) this.changed(name, change);
  }

  /**
   * Create user `admin` if missing (docs/protocol.md, Operator HTTP API): password from
   * ADMIN_PASSWORD, or a generated one written once to DATA_DIR/admin-password.txt. Returns
   * that file's path when one was written, so start-up can name it in the log.
   */
  async ensureAdmin(dataDir: string, adminPassword: string | undefined): Promise<string | null> {
    if (this.byName.has('admin') || await this.store.accounts.getUser('admin')) return null;
    const password = adminPassword ?? randomBytes(18).toString('base64url');
    const user: UserRecord = { username: 'admin', role: 'admin', passwordHash: await hashPassword(password), createdAt: this.now(), disabled: false, district: null };
    await this.store.accounts.insertUser(user);
    this.byName.set(user.username, user);
    this.written(user.username);
    if (adminPassword) return null;
    const file = path.join(dataDir, ADMIN_PASSWORD_FILE);
    writeFileSync(file, password + '\n', { mode: 0o600 });
    return file;
  }

  /**
   * The one password check (docs/security.md): admitted by the guard before any hash runs;
   * the same answer for unknown, disabled and wrong. A name that does not exist is hashed
   * against a dummy while the service-wide budget lasts, so its time matches a real check;
   * past the budget it is answered after a timer of a hash's typical length, without one.
   */
  async check(username: string, password: string, address: string | null): Promise<CheckResult> {
    const admission = this.guard.admit(username, address);
    if (!admission.ok) {
      this.counts.limited++;
      return { kind: 'limited', retryAfterS: admission.retryAfterS };
    }
    const user = this.byName.get(username);
    let ok = false;
    try {
      if (!user && !this.guard.spendUnknown()) {
        this.counts.unknownUnhashed++;
        await new Promise((resolve) => setTimeout(resolve, typicalHashMs()));
      } else {
        this.counts.hashes++;
        const matches = await verifyPassword(password, user ? user.passwordHash : DUMMY_HASH);
        ok = matches && !!user && !user.disabled;
      }
    } catch (err) {
      if (!(err instanceof HashBusyError)) throw err;
      this.counts.hashes--;
      this.counts.busy++;
      return { kind: 'limited', retryAfterS: 1 };
    }
    this.guard.settle(admission.ticket, ok);
    if (ok) this.counts.ok++; else this.counts.refused++;
    return ok && user ? { kind: 'ok', user } : { kind: 'refused' };
  }

  async create(username: string, password: string, role: Role, district: string | null = null): Promise<UserRecord> {
    if (this.byName.has(username)) throw new CodedError('user_exists', `user ${username} already exists`);
    refuseScopedAdmin(role, district);
    const user: UserRecord = { username, role, passwordHash: await hashPassword(password), createdAt: this.now(), disabled: false, district };
    await this.store.accounts.insertUser(user);
    this.byName.set(username, user);
    this.written(username);
    return user;
  }

  /** An admin's change to a user; the last enabled admin cannot be demoted or disabled. */
  async update(username: string, patch: UserPatch): Promise<UserRecord> {
    const user = this.byName.get(username);
    if (!user) throw new CodedError('user_not_found', `no user ${username}`);
    const losesAdmin = user.role === 'admin' && !user.disabled && ((patch.role !== undefined && patch.role !== 'admin') || patch.disabled === true);
    if (losesAdmin && this.enabledAdmins() <= 1) throw new CodedError('last_admin', 'the last enabled admin cannot be demoted or disabled');
    refuseScopedAdmin(patch.role ?? user.role, patch.district !== undefined ? patch.district : user.district);
    const next: UserRecord = {
      ...user,
      ...(patch.role !== undefined ? { role: patch.role } : {}),
      ...(patch.disabled !== undefined ? { disabled: patch.disabled } : {}),
      ...(patch.password !== undefined ? { passwordHash: await hashPassword(patch.password) } : {}),
      ...(patch.district !== undefined ? { district: patch.district } : {}),
    };
    await this.store.accounts.updateUser(username, { role: next.role, disabled: next.disabled, passwordHash: next.passwordHash, district: next.district });
    this.byName.set(username, next);
    this.written(username);
    if (patch.password !== undefined) this.changed(username, 'password');
    if (patch.disabled === true && !user.disabled) this.changed(username, 'disabled');
    if (patch.role !== undefined && patch.role !== user.role) this.changed(username, 'role');
    if (next.district !== user.district) this.changed(username, 'district');
    return next;
  }

  /**
   * An admin's reset of a user's password: the one given, or a generated one (96 random bits,
   * 16 characters) returned once to be handed over; the user's sessions end as with any new password.
   */
  async resetPassword(username: string, password?: string): Promise<{ user: UserRecord; generated: string | null }> {
    const generated = password === undefined ? randomBytes(12).toString('base64url') : null;
    const user = await this.update(username, { password: password ?? generated! });
    return { user, generated };
  }

  async delete(username: string): Promise<void> {
    const user = this.byName.get(username);
    if (!user) throw new CodedError('user_not_found', `no user ${username}`);
    if (user.role === 'admin' && !user.disabled && this.enabledAdmins() <= 1) throw new CodedError('last_admin', 'the last enabled admin cannot be deleted');
    await this.store.accounts.deleteUser(username);
    this.byName.delete(username);
    this.written(username);
    this.changed(username, 'deleted');
  }

  list(): UserRecord[] {
    return [...this.byName.values()].sort((a, b) => (a.username < b.username ? -1 : a.username > b.username ? 1 : 0));
  }

  private enabledAdmins(): number {
    let n = 0;
    for (const u of this.byName.values()) if (u.role === 'admin' && !u.disabled) n++;
    return n;
  }

  private changed(username: string, change: UserChange): void {
    this.events.emit('user.changed', { username, change });
  }
}

/** Admins see the whole city (accounts/scope.ts): a district on one is refused, never ignored. */
function refuseScopedAdmin(role: Role, district: string | null): void {
  if (role === 'admin' && district !== null) {
    throw new CodedError('admin_scope', 'an admin sees the whole city and takes no district; choose another role, or send district: null');
  }
}

// scrypt hash of a random throwaway password, parameters as real ones
const DUMMY_HASH = 'scrypt$16384$8$1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA';
