/**
 * Replaying dead letters (ingest/replay.ts, Ingest.replay) against a real DuckDB store in a temp
 * dir, with ingest's clock in the test's hand: what each kind of dead letter comes to, that a
 * message is stored once (dedupe window, in-flight copy, and past the window the store), that a
 * refusal writes no new dead letter, district scope, and a failed commit (docs/api.md,
 * Replaying dead letters).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { examplePayload } from '../../core/schemas/examples.js';
import { Ingest } from '../../ingest/ingest.js';
import { DeadLetterReplay, type ReplayOutcome } from '../../ingest/replay.js';
import { DuckDbStore } from '../../store/duckdbStore.js';
import type { DeadLetter, DeviceRecord, Store } from '../../store/types.js';
import { testBus } from '../helpers/bus.js';
import { withReadings } from '../helpers/storeSpy.js';

const T0 = Date.UTC(2026, 10, 23, 0, 0, 0);
const WINDOW_MS = 60_000;
const MAX_PAYLOAD = 4096;

let dir: string;
let store: DuckDbStore;
let clock = T0;
const devices = new Map<string, DeviceRecord>();

const dev = (id: string, family: DeviceRecord['family'], district: string | null): DeviceRecord => ({
  id, family, name: id, location: null, district, meta: {}, secretHash: 'ab'.repeat(32), createdAt: T0, updatedAt: T0,
});

let nextId = 1;
/** A dead letter as ingest writes one; the payload given as an object is the example of its channel. */
function letter(over: Partial<DeadLetter> & { payload?: unknown }): DeadLetter {
  const { payload, ...rest } = over;
  const raw = rest.raw ?? Buffer.from(typeof payload === 'string' ? payload : JSON.stringify(payload ?? {}));
  return {
    id: nextId++, receivedAt: T0, deviceId: 'rp-lift', clientId: 'rp-lift', topic: 'elevator/rp-lift/status', qos: 1,
    reason: 'unknown_device', detail: 'x', issues: null, msgId: null, raw, rawSize: raw.length, remoteAddress: null, ...rest,
  };
}

const status = (msgId: string, over: Record<string, unknown> = {}): Record<string, unknown> => ({ ...examplePayload('elevator', 'status', msgId, T0), ...over });

function ingestOn(s: Store): Ingest {
  return new Ingest(s, { sendError: () => { throw new Error('a replay never tells the device'); } }, {
    maxPayloadBytes: MAX_PAYLOAD, batchMaxRows: 100, maxPending: 1000, dedupeWindowMs: WINDOW_MS, dedupeMaxEntries: 10_000, deadLetterRawMaxBytes: 64,
  }, testBus(), () => clock);
}

let ingest: Ingest;
let replay: DeadLetterReplay;
const L: Record<string, DeadLetter> = {};

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'supervision-replay-'));
  store = new DuckDbStore(path.join(dir, 'db.duckdb'));
  await store.open();
  for (const d of [dev('rp-lift', 'elevator', '330106'), dev('rp-other', 'elevator', '330108'), dev('rp-cam', 'kitchen', '330106')]) devices.set(d.id, d);
  await store.devices.insert([...devices.values()]);
  Object.assign(L, {
    good: letter({ payload: status('g-1') }),
    twinA: letter({ payload: status('twin') }),
    twinB: letter({ payload: status('twin') }),
    late: letter({ payload: status('late-1') }),
    schema: letter({ payload: status('bad-1', { speedMps: 'fast' }), reason: 'schema' }),
    notJson: letter({ payload: '{"msgId":', reason: 'invalid_json' }),
    noDevice: letter({ deviceId: null, clientId: null, topic: '', reason: 'packet_too_large', payload: status('n-1') }),
    badTopic: letter({ topic: 'elevator/rp-lift', reason: 'topic_invalid', payload: status('t-1') }),
    otherTopic: letter({ deviceId: 'rp-lift', topic: 'elevator/rp-other/status', reason: 'topic_not_allowed', payload: status('o-1') }),
    replyChannel: letter({ topic: 'elevator/rp-lift/error', reason: 'topic_not_allowed', payload: status('e-1') }),
    ghost: letter({ deviceId: 'rp-ghost', topic: 'elevator/rp-ghost/status', payload: status('gh-1') }),
    wrongFamily: letter({ deviceId: 'rp-cam', topic: 'elevator/rp-cam/status', payload: status('wf-1') }),
    truncated: letter({ payload: status('tr-1'), rawSize: 200 }),
    tooLarge: letter({ payload: status('tl-1'), rawSize: MAX_PAYLOAD + 1, reason: 'too_large' }),
    outside: letter({ deviceId: 'rp-other', topic: 'elevator/rp-other/status', payload: status('out-1') }),
  });
  await store.readings.appendBatch([], Object.values(L));
  ingest = ingestOn(store);
  await ingest.start();
  replay = new DeadLetterReplay({ store, device: (id) => devices.get(id), ingest });
});

afterAll(async () => {
  await ingest?.stop();
  await store?.close();
  rmSync(dir, { recursive: true, force: true });
});

const stored = async (msgId: string, deviceId = 'rp-lift'): Promise<number> =>
  (await store.readings.query({ deviceId, family: 'elevator', channel: 'status', limit: 100 })).filter((r) => r.msgId === msgId).length;

const one = async (key: string, district: string | null = null): Promise<ReplayOutcome> => (await replay.replay([L[key]!.id], district))[0]!;

describe('replaying dead letters', () => {
  it('stores a message that passes now, once: again within the window, and again past it, it is a duplicate', async () => {
    expect(await one('good')).toEqual({ id: L.good!.id, outcome: 'stored' });
    expect(await stored('g-1')).toBe(1);
    expect(await one('good')).toMatchObject({ outcome: 'duplicate' });
    clock += WINDOW_MS * 10;
    // the dedupe window has forgotten it: the store still has it
    expect(await one('good')).toMatchObject({ outcome: 'duplicate' });
    expect(await stored('g-1')).toBe(1);
  });

  it('two dead letters of one message in one request: one stored, the other a duplicate', async () => {
    const out = await replay.replay([L.twinA!.id, L.twinB!.id], null);
    expect(out.map((o) => o.outcome).sort()).toEqual(['duplicate', 'stored']);
    expect(await stored('twin')).toBe(1);
  });

  it('a message the device got stored meanwhile (same msgId) is a duplicate', async () => {
    await new Promise<void>((resolve, reject) => ingest.handle({ deviceId: 'rp-lift', clientId: 'rp-lift', remoteAddress: null },
      { family: 'elevator', deviceId: 'rp-lift', channel: 'status' },
      { topic: 'elevator/rp-lift/status', payload: Buffer.from(JSON.stringify(status('late-1'))), qos: 1 }, (err) => (err ? reject(err) : resolve())));
    expect(await one('late')).toMatchObject({ outcome: 'duplicate' });
    expect(await stored('late-1')).toBe(1);
  });

  it.each([
    ['still invalid: its schema issue', 'schema', 'schema', /speedMps/],
    ['still not JSON', 'notJson', 'invalid_json', /not JSON/],
    ['no device id', 'noDevice', 'replay_no_device', /no device/],
    ['a topic that names no device', 'badTopic', 'replay_no_device', /\{family\}/],
    ['a device that published under another device\'s topic', 'otherTopic', 'topic_not_allowed', /rp-lift/],
    ['a platform -> device channel', 'replyChannel', 'topic_not_allowed', /platform -> device/],
    ['a device still not registered', 'ghost', 'unknown_device', /rp-ghost/],
    ['a device of another family', 'wrongFamily', 'unknown_device', /elevator device rp-cam/],
    ['only part of the payload kept', 'truncated', 'replay_truncated', /of the payload's 200 bytes/],
    ['larger than the payload limit', 'tooLarge', 'too_large', /limit is 4096/],
  ])('refused, %s: %s, with no new dead letter', async (_d, key, code, message) => {
    const before = await store.deadLetters.count();
    const out = await one(key);
    expect(out).toMatchObject({ id: L[key]!.id, outcome: 'refused', code });
    expect(out.outcome === 'refused' && out.message).toMatch(message);
    expect(await store.deadLetters.count()).toBe(before);
  });

  it('an id that does not exist is not_found; repeated ids are answered once, in the order asked', async () => {
    const out = await replay.replay([999_999, L.schema!.id, 999_999], null);
    expect(out).toEqual([{ id: 999_999, outcome: 'not_found' }, expect.objectContaining({ id: L.schema!.id, outcome: 'refused' })]);
  });

  it('district scope: a dead letter of a device outside is not_found, as is one naming no registered device', async () => {
    expect(await one('outside', '330106')).toEqual({ id: L.outside!.id, outcome: 'not_found' });
    expect(await one('ghost', '330106')).toEqual({ id: L.ghost!.id, outcome: 'not_found' });
    expect(await one('noDevice', '330106')).toEqual({ id: L.noDevice!.id, outcome: 'not_found' });
    expect(await stored('out-1', 'rp-other')).toBe(0);
    // inside (a prefix of it): replayed
    expect(await one('outside', '3301')).toMatchObject({ outcome: 'stored' });
  });

  it('refuses more than 500 ids', async () => {
    await expect(replay.replay(Array.from({ length: 501 }, (_, i) => i + 1), null)).rejects.toThrow(/500/);
  });

  it('a failed commit: refused store_unavailable, nothing stored, and a later replay stores it', async () => {
    let fail = true;
    const failing = withReadings(store, { appendBatch: (r, d) => (fail ? Promise.reject(new Error('disk full')) : store.readings.appendBatch(r, d)) });
    const other = ingestOn(failing);
    await other.start();
    const r2 = new DeadLetterReplay({ store: failing, device: (id) => devices.get(id), ingest: other });
    const l = letter({ payload: status('fail-1') });
    await store.readings.appendBatch([], [l]);
    expect((await r2.replay([l.id], null))[0]).toMatchObject({ outcome: 'refused', code: 'store_unavailable', message: 'disk full' });
    expect(await stored('fail-1')).toBe(0);
    fail = false;
    expect((await r2.replay([l.id], null))[0]).toMatchObject({ outcome: 'stored' });
    expect(await stored('fail-1')).toBe(1);
    await other.stop();
  });
});
