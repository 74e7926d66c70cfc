/**
 * The ingest pipeline, run inside the broker's `authorizePublish` hook (docs/domain.md §7: a
 * subscribing client measured 5-10x slower, and only that hook runs before the PUBACK).
 *
 * Steps per message, in order: decode (size, UTF-8, JSON, schema) -> dedupe by
 * (deviceId, msgId) -> queue for the group commit -> after commit: callback (PUBACK for
 * QoS 1) and hand the readings to whoever listens (the alert engine).
 * Bad input is queued as a dead letter in the same commit, and the device is told.
 */
import type { DeviceCode } from '../core/codes.js';
import type { Emitter } from '../core/eventBus.js';
import type { DeadLetter, Reading, Store } from '../store/types.js';
import { BatchWriter, type BatchResult, type BatchToken, type Done } from './batchWriter.js';
import { decodePayload, type Decoded, type Issue } from './decode.js';
import { DedupeWindow, PendingMap } from './dedupe.js';
import { IngestMetrics } from './metrics.js';
import type { DeviceError, Family } from '../core/schemas/index.js';
import type { DeviceTopic } from '../core/topic.js';

export interface IngestOptions {
  maxPayloadBytes: number;
  batchMaxRows: number;
  maxPending: number;
  dedupeWindowMs: number;
  dedupeMaxEntries: number;
  deadLetterRawMaxBytes: number;
}

/** Who sent a message, as the broker established it. */
export interface Sender {
  deviceId: string | null;
  clientId: string | null;
  remoteAddress: string | null;
}

export interface IncomingMessage {
  topic: string;
  payload: Uint8Array;
  qos: number;
}

/** What a replayed dead letter came to (Ingest.replay). */
export type ReplayResult =
  | { outcome: 'stored' | 'duplicate' }
  | { outcome: 'refused'; code: DeviceCode; message: string };

type DecodedReading = Extract<Decoded, { ok: true }>;

export interface RejectInfo {
  reason: DeviceCode;
  detail: string;
  issues?: Issue[] | null;
  msgId?: string | null;
}

/** Where a device is told about its rejected message. */
export interface ReplyTo {
  family: Family;
  deviceId: string;
}

/** Sends a platform -> device message; the broker implements it. */
export interface DeviceReplier {
  sendError(family: Family, deviceId: string, error: DeviceError): void;
}

/** A commit's readings, with the journal's frame of them when the store journals (the rules' worker takes it). */
export interface StoredReadings {
  readings: readonly Reading[];
  frame: Uint8Array | null;
}

/** What ingest tells the bus (service/dataPath.ts wires who listens). */
export interface IngestEvents {
  /**
   * A new reading accepted, before its commit: only for answers that must not wait for the
   * disk (the cylinder scan reply). Everything durable listens to `readings.stored`.
   */
  'reading.accepted': Reading;
  /** Readings committed, once their PUBACKs are written, still in the commit's tick. */
  'readings.stored': StoredReadings;
  /** After every commit attempt: null (stored) or the error. */
  'commit.outcome': Error | null;
}

export class Ingest {
  readonly metrics = new IngestMetrics();
  private readonly writer: BatchWriter;
  private readonly dedupe: DedupeWindow;
  /** readings queued but not yet committed, by fingerprint, with the batch that holds them */
  private readonly inflight = new PendingMap<BatchToken>();
  /** the same fingerprints per batch (three numbers a reading), for its commit or failure */
  private readonly batchPairs = new Map<BatchToken, number[]>();
  private nextSeq = 0;
  private nextDeadLetterId = 0;
  private storeError: Error | null = null;
  private started = false;

  constructor(
    private readonly store: Store,
    private readonly replier: DeviceReplier,
    private readonly opts: IngestOptions,
    private readonly events: Emitter<IngestEvents>,
    private readonly now: () => number = Date.now,
  ) {
    this.dedupe = new DedupeWindow(opts.dedupeWindowMs, opts.dedupeMaxEntries);
    this.writer = new BatchWriter(store, opts.batchMaxRows, {
      committed: (r) => this.onCommitted(r),
      acknowledged: (r) => this.onAcknowledged(r),
      failed: (err, r) => this.onFailed(err, r),
    });
  }

  /** Continue sequence numbers and reload recent msgIds so duplicates across a restart are caught. */
  async start(): Promise<void> {
    const seqs = await this.store.readings.lastSequences();
    this.nextSeq = seqs.readingSeq + 1;
    this.nextDeadLetterId = seqs.deadLetterId + 1;
    const now = this.now();
    const keys = await this.store.readings.recentMessageKeys(now - this.opts.dedupeWindowMs, this.opts.dedupeMaxEntries);
    // oldest first, so the newest land in the current generation
    for (let i = keys.length - 1; i >= 0; i--) this.dedupe.add(keys[i]![0], keys[i]![1], now);
    this.started = true;
  }

  /** Waits for queued writes to finish, then refuses new ones. */
  async stop(): Promise<void> {
    await this.writer.flushed();
    this.writer.stop();
    this.started = false;
  }

  /** Resolves once everything queued so far is committed (or failed). */
  flushed(): Promise<void> {
    return this.writer.flushed();
  }

  /** Null when the last commit succeeded; the error of the last failed commit otherwise. */
  get lastStoreError(): Error | null {
    return this.storeError;
  }

  get pending(): number {
    return this.writer.pending;
  }

  get dedupeSize(): number {
    return this.dedupe.size;
  }

  /**
   * Handle one PUBLISH from a device on its own topic (the broker has checked the ACL).
   * `done` is the aedes authorizePublish callback: for QoS 1 it is called after the commit,
   * so the PUBACK means stored; with an error the broker closes the connection and the
   * unacknowledged message will be sent again.
   */
  handle(sender: Sender, topic: DeviceTopic, msg: IncomingMessage, done: Done): void {
    this.metrics.received++;
    if (!this.started) { done(new Error('ingest is not running')); return; }
    const receivedAt = this.now();
    const decoded = decodePayload(topic.family, topic.channel, msg.payload, this.opts.maxPayloadBytes);
    if (!decoded.ok) {
      this.reject(sender, msg, topic, decoded, receivedAt, done);
      return;
    }
    const queued = this.seen(topic.deviceId, decoded.msgId, receivedAt);
    if (queued !== null) {
      this.metrics.duplicates++;
      if (queued === true) { done(null); return; }
      // the original is still on its way to disk: acknowledge the copy when it lands
      this.writer.attach(queued, msg.qos > 0 ? done : () => undefined);
      if (msg.qos === 0) done(null);
      return;
    }
    // QoS 0 is answered at once unless the store is behind: then every publisher waits for
    // its commit, which slows it through TCP (aedes reads a client's next chunk only when
    // every packet of the current one is done) and bounds memory.
    const hold = msg.qos > 0 || this.writer.pending >= this.opts.maxPending;
    this.enqueue(topic, msg, decoded, receivedAt, hold ? done : null);
    if (!hold) done(null);
  }

  /**
   * Replay a dead letter's message (ingest/replay.ts; docs/api.md, Replaying dead letters):
   * decoded, deduplicated and committed as `handle` does, the reading then going to the rules;
   * but a message that fails again is answered, not dead-lettered a second time (each click
   * would add a row), and the device is not told. Resolves once the reading is on disk.
   *
   * Duplicates: the dedupe window first, as for a device's resend; a replay may come long after
   * DEDUPE_WINDOW_S though (the same dead letter replayed again next week), so the store is asked
   * too for a reading of the device and channel with this msgId and device time, which is what
   * an earlier replay of the same bytes stored.
   */
  async replay(topic: DeviceTopic, msg: IncomingMessage): Promise<ReplayResult> {
    if (!this.started) return { outcome: 'refused', code: 'store_unavailable', message: 'ingest is not running' };
    const decoded = decodePayload(topic.family, topic.channel, msg.payload, this.opts.maxPayloadBytes);
    if (!decoded.ok) return { outcome: 'refused', code: decoded.reason, message: decoded.detail };
    if (this.seen(topic.deviceId, decoded.msgId, this.now()) !== null) return { outcome: 'duplicate' };
    const stored = await this.store.readings.query({ deviceId: topic.deviceId, family: topic.family, channel: topic.channel, from: decoded.ts, to: decoded.ts, limit: 1000 });
    if (stored.some((r) => r.msgId === decoded.msgId)) return { outcome: 'duplicate' };
    // the lookup awaited: look again, then queue in the same tick, so two replays of one
    // message (in one request, or two at once) store it once
    const receivedAt = this.now();
    if (this.seen(topic.deviceId, decoded.msgId, receivedAt) !== null) return { outcome: 'duplicate' };
    return new Promise((resolve) => {
      this.enqueue(topic, msg, decoded, receivedAt, (err) => resolve(err
        ? { outcome: 'refused', code: 'store_unavailable', message: err.message }
        : { outcome: 'stored' }));
    });
  }

  get maxPayloadBytes(): number {
    return this.opts.maxPayloadBytes;
  }

  /**
   * Has (deviceId, msgId) been stored within the window (true), or is it queued for a commit
   * (its batch)? Null when it is new. Leaves its fingerprint in the dedupe's scratch for
   * `enqueue`, which must follow in the same tick.
   */
  private seen(deviceId: string, msgId: string, now: number): true | BatchToken | null {
    this.dedupe.hash(deviceId, msgId);
    if (this.dedupe.hasHashed(now)) return true;
    return this.inflight.get(this.dedupe.fp1, this.dedupe.fp2, this.dedupe.fp3) ?? null;
  }

  /** Number a new reading and queue it for the group commit; right after `seen` said it is new. */
  private enqueue(topic: DeviceTopic, msg: IncomingMessage, decoded: DecodedReading, receivedAt: number, done: Done | null): void {
    const h1 = this.dedupe.fp1;
    const h2 = this.dedupe.fp2;
    const h3 = this.dedupe.fp3;
    const reading: Reading = {
      seq: this.nextSeq++,
      family: topic.family,
      channel: topic.channel,
      deviceId: topic.deviceId,
      msgId: decoded.msgId,
      ts: decoded.ts,
      receivedAt,
      qos: msg.qos,
      data: decoded.data,
      extra: decoded.extra,
    };
    const token = this.writer.addReading(reading, msg.payload, done);
    this.inflight.set(h1, h2, h3, token);
    const pairs = this.batchPairs.get(token);
    if (pairs) pairs.push(h1, h2, h3); else this.batchPairs.set(token, [h1, h2, h3]);
    // a listener's failure must not affect ingest: the bus isolates it
    this.events.emit('reading.accepted', reading);
  }

  /**
   * Record a message that will not be stored as a reading, tell the device, and call `done`
   * once the dead letter is durable. `closeAfter` marks cases where the broker will close the
   * connection (topic abuse, oversized packets): the callback then carries an error.
   */
  reject(sender: Sender, msg: IncomingMessage, replyTo: ReplyTo | null, info: RejectInfo, receivedAt: number, done: Done | null, closeAfter = false): void {
    const letter: DeadLetter = {
      id: this.nextDeadLetterId++,
      receivedAt,
      deviceId: sender.deviceId ?? replyTo?.deviceId ?? null,
      clientId: sender.clientId,
      topic: msg.topic,
      qos: msg.qos,
      reason: info.reason,
      detail: info.detail,
      issues: info.issues ?? null,
      msgId: info.msgId ?? null,
      raw: msg.payload.length > this.opts.deadLetterRawMaxBytes ? msg.payload.subarray(0, this.opts.deadLetterRawMaxBytes) : msg.payload,
      rawSize: msg.payload.length,
      remoteAddress: sender.remoteAddress,
    };
    this.metrics.deadLetter(info.reason);
    if (replyTo) {
      this.replier.sendError(replyTo.family, replyTo.deviceId, {
        ...(info.msgId ? { msgId: info.msgId } : {}),
        topic: msg.topic,
        reason: info.reason,
        detail: info.detail,
        ...(info.issues ? { issues: info.issues } : {}),
        ts: new Date(receivedAt).toISOString(),
      });
    }
    const closeErr = closeAfter ? new Error(`${info.reason}: ${info.detail}`) : null;
    const wait = msg.qos > 0 || this.writer.pending >= this.opts.maxPending;
    this.writer.addDeadLetter(letter, done && wait ? (err) => done(err ?? closeErr) : null);
    if (done && !wait) done(closeErr);
  }

  private onCommitted(r: BatchResult): void {
    const now = this.now();
    const pairs = this.takePairs(r.token);
    for (let i = 0; i < pairs.length; i += 3) {
      this.inflight.delete(pairs[i]!, pairs[i + 1]!, pairs[i + 2]!);
      this.dedupe.addHashed(pairs[i]!, pairs[i + 1]!, pairs[i + 2]!, now);
    }
    this.storeError = null;
    this.metrics.committed(r);
    this.events.emit('commit.outcome', null);
  }

  /**
   * The committed readings go to the listeners (the alert engine) once the PUBACKs are
   * written, still in the commit's tick: nothing reacting to a PUBACK can run before the
   * engine has seen the reading, but the acknowledgements do not wait for the rules.
   */
  private onAcknowledged(r: BatchResult): void {
    if (r.readings.length) this.events.emit('readings.stored', { readings: r.readings, frame: r.frame });
  }

  private takePairs(token: BatchToken): readonly number[] {
    const pairs = this.batchPairs.get(token);
    if (!pairs) return [];
    this.batchPairs.delete(token);
    return pairs;
  }

  private onFailed(err: Error, r: BatchResult): void {
    // Nothing of this batch is stored: forget the keys so that the device's resend is stored.
    const pairs = this.takePairs(r.token);
    for (let i = 0; i < pairs.length; i += 3) this.inflight.delete(pairs[i]!, pairs[i + 1]!, pairs[i + 2]!);
    this.storeError = err;
    this.metrics.failed(r);
    this.events.emit('commit.outcome', err);
  }
}

