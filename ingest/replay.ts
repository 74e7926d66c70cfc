/**
 * Replaying dead letters (docs/api.md, Replaying dead letters): after a registry or schema fix,
 * an admin sends chosen dead letters through the path a device's message takes — the topic
 * checked against the ACL and the device registry as they are now (broker/authorize.ts does the
 * same for a live publish), then Ingest.replay: decode and validate with the current schemas,
 * dedupe by (deviceId, msgId), journal, store, rules.
 *
 * Nothing is written about the replay on the dead-letter row: that needs columns the table does
 * not have. The answer (one outcome per id), the route's log line and its audit-log entry
 * (`dead_letter.replayed`) are the record.
 */
import { checkPublish } from '../core/acl.js';
import type { Code } from '../core/codes.js';
import { parseDeviceTopic } from '../core/topic.js';
import type { DeviceRecord, DeadLetter, Store } from '../store/types.js';
import type { Ingest, ReplayResult } from './ingest.js';

/** At most this many dead letters a request (docs/api.md): each may be a commit and a store read. */
export const REPLAY_MAX_IDS = 500;

export type ReplayOutcome =
  | { id: number; outcome: 'stored' | 'duplicate' | 'not_found' }
  | { id: number; outcome: 'refused'; code: Code; message: string };

export interface ReplayDeps {
  store: Pick<Store, 'deadLetters'>;
  device: (id: string) => DeviceRecord | undefined;
  ingest: Pick<Ingest, 'replay' | 'maxPayloadBytes'>;
}

export class DeadLetterReplay {
  constructor(private readonly deps: ReplayDeps) {}

  /**
   * Replay `ids` (distinct, at most REPLAY_MAX_IDS) for an account limited to `district` (null:
   * the whole city): one outcome per id, in the order asked. A dead letter outside the district
   * is `not_found`, exactly as one that does not exist (docs/api.md, District scope).
   */
  async replay(ids: readonly number[], district: string | null): Promise<ReplayOutcome[]> {
    const wanted = [...new Set(ids)];
    if (wanted.length > REPLAY_MAX_IDS) throw new RangeError(`at most ${REPLAY_MAX_IDS} ids`);
    const letters = await this.deps.store.deadLetters.list({ ids: wanted, limit: wanted.length, ...(district !== null ? { district } : {}) });
    const byId = new Map(letters.map((d) => [d.id, d]));
    // all at once, so the stored ones share group commits; two letters holding the same message
    // are stored once (Ingest.replay checks the dedupe again just before it queues)
    const pending = wanted.map((id) => {
      const letter = byId.get(id);
      if (!letter) return Promise.resolve<ReplayOutcome>({ id, outcome: 'not_found' });
      return this.one(letter, district);
    });
    return Promise.all(pending);
  }

  private async one(letter: DeadLetter, district: string | null): Promise<ReplayOutcome> {
    const id = letter.id;
    const refused = (code: Code, message: string): ReplayOutcome => ({ id, outcome: 'refused', code, message });
    const topic = parseDeviceTopic(letter.topic);
    if (letter.deviceId === null) return refused('replay_no_device', 'the dead letter names no device (refused before its sender was known)');
    if (!topic) return refused('replay_no_device', 'the topic is not {family}/{deviceId}/{channel}: no device to store it for');
    // a device that published under another's topic: a replay must not store it as that other device
    if (topic.deviceId !== letter.deviceId) return refused('topic_not_allowed', `device ${letter.deviceId} may publish only under its own topics`);
    const device = this.deps.device(topic.deviceId);
    // the query filtered by district already; the registry is asked again for the device as it is now
    if (district !== null && !(device?.district ?? '').startsWith(district)) return { id, outcome: 'not_found' };
    if (!device || device.family !== topic.family) return refused('unknown_device', `no ${topic.family} device ${topic.deviceId} is registered`);
    const acl = checkPublish({ kind: 'device', deviceId: device.id, family: device.family }, letter.topic);
    if (!acl.ok) return refused(acl.reason, acl.detail);
    if (letter.raw.length < letter.rawSize) {
      return letter.rawSize > this.deps.ingest.maxPayloadBytes
        ? refused('too_large', `payload is ${letter.rawSize} bytes; the limit is ${this.deps.ingest.maxPayloadBytes}`)
        : refused('replay_truncated', `only ${letter.raw.length} of the payload's ${letter.rawSize} bytes were kept`);
    }
    let result: ReplayResult;
    try {
      result = await this.deps.ingest.replay(topic, { topic: letter.topic, payload: Buffer.from(letter.raw), qos: letter.qos });
    } catch (err) {
      return refused('store_unavailable', (err as Error).message);
    }
    return result.outcome === 'refused' ? refused(result.code, result.message) : { id, outcome: result.outcome };
  }
}
