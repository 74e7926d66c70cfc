/**
 * A token another cluster node issued a moment ago (accounts/sessions.ts verifyAnywhere): read
 * from the shared store by its hash until the change bus tells this node, bounded; an unknown,
 * malformed or expired one refused; a single node (no lookup) reads nothing.
 */
import { describe, expect, it } from 'vitest';
import { hashToken, Sessions, type SessionEvents } from '../../accounts/sessions.js';
import { EventBus } from '../../core/eventBus.js';
import type { Store } from '../../store/types.js';

const store = { accounts: { loadSessions: async () => [], deleteSessions: async () => undefined } } as unknown as Store;

describe('sessions of other nodes', () => {
  it('sessions: a token another node issued a moment ago is read from the shared store by its hash, at most 16 reads at once; an unknown or expired one is refused', async () => {
    const bus = new EventBus<SessionEvents>(() => undefined);
    const cache = new Sessions(store, () => ({ username: 'op', role: 'operator', passwordHash: 'h', createdAt: 1, disabled: false, district: null }), 3600, bus);
    await cache.start();
    cache.stop();
    const token = `sst_${'a'.repeat(43)}`;
    const hash = hashToken(token);
    const rows = new Map([[hash, { tokenHash: hash, username: 'op', createdAt: Date.now(), expiresAt: Date.now() + 60_000 }]]);
    expect(await cache.verifyAnywhere(token)).toBeNull(); // no lookup: single node
    let reads = 0;
    cache.useLookup(async (h) => { reads++; return rows.get(h) ?? null; });
    expect(await cache.verifyAnywhere(token)).toMatchObject({ sub: 'op', role: 'operator' });
    // now held: no second read
    expect(await cache.verifyAnywhere(token)).toMatchObject({ sub: 'op' });
    expect(reads).toBe(1);
    expect(await cache.verifyAnywhere(`sst_${'b'.repeat(43)}`)).toBeNull();
    expect(await cache.verifyAnywhere('not-a-token')).toBeNull();
    expect(reads).toBe(2);
    const old = `sst_${'c'.repeat(43)}`;
    const oldHash = hashToken(old);
    rows.set(oldHash, { tokenHash: oldHash, username: 'op', createdAt: 0, expiresAt: Date.now() - 1 });
    expect(await cache.verifyAnywhere(old)).toBeNull();
    // a stranger's made-up tokens: 16 reads in flight at most, the rest refused without one
    let release: () => void = () => undefined;
    const stuck = new Promise<null>((r) => { release = () => r(null); });
    reads = 0;
    cache.useLookup(async () => { reads++; return stuck; });
    const pending = Array.from({ length: 20 }, (_, i) => cache.verifyAnywhere(`sst_${String(i).padStart(43, 'x')}`));
    expect(reads).toBe(16);
    release();
    expect(await Promise.all(pending)).toEqual(Array(20).fill(null));
  });

});
