/**
 * The accounts repository's contract (store/types.ts AccountRepository), for every store:
 * users (lookups by exact name, listed by name, a duplicate refused, patched field by field,
 * deleted with their sessions; `false` for a user that is not there) and sessions.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import type { AccountRepository, SessionRecord, UserRecord } from '../../../store/types.js';
import { T0 } from '../duckdb/fixtures.js';
import type { Open } from './harness.js';

const user = (username: string, role: UserRecord['role']): UserRecord => ({ username, role, passwordHash: `scrypt$${username}`, createdAt: T0, disabled: false, district: null });
const session = (tokenHash: string, username: string): SessionRecord => ({ tokenHash, username, createdAt: T0 + 1, expiresAt: T0 + 86_400_000 });
const byToken = (a: SessionRecord, b: SessionRecord): number => (a.tokenHash < b.tokenHash ? -1 : 1);

export function accountsContract(store: string, open: Open<AccountRepository>): void {
  describe(`users (${store})`, () => {
    let accounts: AccountRepository;
    beforeAll(async () => { accounts = (await open()).repo; });

    it('users: unknown is null, insert, get, list sorted, duplicate refused', async () => {
      expect(await accounts.getUser('op')).toBeNull();
      await accounts.insertUser(user('zed', 'dispatcher'));
      await accounts.insertUser(user('op', 'operator'));
      expect(await accounts.getUser('op')).toEqual(user('op', 'operator'));
      expect(await accounts.getUser('OP')).toBeNull();
      expect((await accounts.listUsers()).map((u) => u.username)).toEqual(['op', 'zed']);
      await expect(accounts.insertUser(user('op', 'admin'))).rejects.toThrow();
      expect((await accounts.getUser('op'))!.role).toBe('operator');
    });

    it('updateUser changes only the fields given, district to null too; false for an unknown user', async () => {
      expect(await accounts.updateUser('nobody', { role: 'admin' })).toBe(false);
      expect(await accounts.getUser('nobody')).toBeNull();
      expect(await accounts.updateUser('zed', { disabled: true, district: '330106' })).toBe(true);
      expect(await accounts.getUser('zed')).toEqual({ ...user('zed', 'dispatcher'), disabled: true, district: '330106' });
      expect(await accounts.updateUser('zed', { role: 'operator', passwordHash: 'scrypt$new' })).toBe(true);
      expect(await accounts.getUser('zed')).toEqual({ ...user('zed', 'dispatcher'), role: 'operator', passwordHash: 'scrypt$new', disabled: true, district: '330106' });
      expect(await accounts.updateUser('zed', { disabled: false, district: null })).toBe(true);
      expect(await accounts.updateUser('zed', {})).toBe(true);
      expect(await accounts.getUser('zed')).toEqual({ ...user('zed', 'dispatcher'), role: 'operator', passwordHash: 'scrypt$new' });
      expect(await accounts.getUser('op')).toEqual(user('op', 'operator'));
    });
  });

  describe(`sessions (${store})`, () => {
    let accounts: AccountRepository;
    beforeAll(async () => { accounts = (await open()).repo; });

    it('insert, load, a duplicate token refused, delete some (unknown ones ignored, none at all a no-op)', async () => {
      expect(await accounts.loadSessions()).toEqual([]);
      for (const s of [session('t1', 'op'), session('t2', 'op'), session('t3', 'zed')]) await accounts.insertSession(s);
      await expect(accounts.insertSession(session('t1', 'zed'))).rejects.toThrow();
      expect((await accounts.loadSessions()).sort(byToken)).toEqual([session('t1', 'op'), session('t2', 'op'), session('t3', 'zed')]);
      await accounts.deleteSessions(['t1', 't3', 'never-issued']);
      await accounts.deleteSessions([]);
      expect(await accounts.loadSessions()).toEqual([session('t2', 'op')]);
    });

    it('deleteUser removes the user and every session of theirs; false (and nothing removed) for an unknown user', async () => {
      await accounts.insertUser(user('op', 'operator'));
      await accounts.insertUser(user('keep', 'operator'));
      await accounts.insertSession(session('t4', 'keep'));
      await accounts.insertSession(session('t5', 'ghost'));
      expect(await accounts.deleteUser('ghost')).toBe(false);
      expect(await accounts.deleteUser('op')).toBe(true);
      expect(await accounts.deleteUser('op')).toBe(false);
      expect(await accounts.getUser('op')).toBeNull();
      expect((await accounts.listUsers()).map((u) => u.username)).toEqual(['keep']);
      expect((await accounts.loadSessions()).sort(byToken)).toEqual([session('t4', 'keep'), session('t5', 'ghost')]);
    });
  });
}
