/**
 * Dashboard users: the first admin, login, and user creation by an admin.
 */
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { CodedError } from '../service/codes.js';
import type { Store, UserRecord } from '../store/types.js';
import { hashPassword, verifyPassword } from './passwords.js';
import type { Role } from './roles.js';

export const ADMIN_PASSWORD_FILE = 'admin-password.txt';

export class Users {
  constructor(private readonly store: Store, private readonly now: () => number = Date.now) {}

  /**
   * Create user `admin` if missing (PROTOCOL.md): password from ADMIN_PASSWORD, or a
   * generated one written once to DATA_DIR/admin-password.txt. Returns that file's path
   * when one was written, so start-up can name it in the log.
   */
  async ensureAdmin(dataDir: string, adminPassword: string | undefined): Promise<string | null> {
    if (await this.store.getUser('admin')) return null;
    const password = adminPassword ?? randomBytes(18).toString('base64url');
    await this.store.insertUser({ username: 'admin', role: 'admin', passwordHash: await hashPassword(password), createdAt: this.now() });
    if (adminPassword) return null;
    const file = path.join(dataDir, ADMIN_PASSWORD_FILE);
    writeFileSync(file, password + '\n', { mode: 0o600 });
    return file;
  }

  /** The user when the password matches; null otherwise (same answer for unknown users). */
  async check(username: string, password: string): Promise<UserRecord | null> {
    const user = await this.store.getUser(username);
    if (!user) {
      // spend the same time as a real check so the answer does not reveal who exists
      await verifyPassword(password, DUMMY_HASH);
      return null;
    }
    return (await verifyPassword(password, user.passwordHash)) ? user : null;
  }

  async create(username: string, password: string, role: Role): Promise<UserRecord> {
    if (await this.store.getUser(username)) throw new CodedError('user_exists', `user ${username} already exists`);
    const user = { username, role, passwordHash: await hashPassword(password), createdAt: this.now() };
    await this.store.insertUser(user);
    return user;
  }

  list(): Promise<UserRecord[]> {
    return this.store.listUsers();
  }
}

// scrypt hash of a random throwaway password, parameters as real ones
const DUMMY_HASH = 'scrypt$16384$8$1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA';
