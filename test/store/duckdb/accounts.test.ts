/** The accounts repository (store/duckdb/accounts.ts) in a temp dir: users. */
import { beforeAll, describe, expect, it } from 'vitest';
import type { DuckDbStore } from '../../../store/duckdbStore.js';
import type { UserRecord } from '../../../store/types.js';
import { T0, freshStore } from './fixtures.js';

describe('users', () => {
  let s: DuckDbStore;
  beforeAll(async () => { s = await freshStore(); });
  const user = (username: string, role: UserRecord['role']): UserRecord => ({ username, role, passwordHash: `scrypt$${username}`, createdAt: T0, disabled: false, district: null });

  it('users: unknown is null, insert, get, list sorted, duplicate refused', async () => {
    expect(await s.accounts.getUser('op')).toBeNull();
    await s.accounts.insertUser(user('zed', 'dispatcher'));
    await s.accounts.insertUser(user('op', 'operator'));
    expect(await s.accounts.getUser('op')).toEqual(user('op', 'operator'));
    expect(await s.accounts.getUser('OP')).toBeNull();
    expect((await s.accounts.listUsers()).map((u) => u.username)).toEqual(['op', 'zed']);
    await expect(s.accounts.insertUser(user('op', 'admin'))).rejects.toThrow();
    expect((await s.accounts.getUser('op'))!.role).toBe('operator');
  });
});
