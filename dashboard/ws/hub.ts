/**
 * The dashboard's live push, `GET /ws` (docs/protocol.md; docs/dashboard.md, Live push): every
 * alert and rescue-case change from the engine goes to every signed-in client at once,
 * numbered for catch-up, plus live statistics every few seconds. A district-scoped client gets
 * only the changes of its district, and that district's statistics (docs/api.md, District scope).
 *
 * Limits: each event is serialised once and handed to every socket; a client whose unsent
 * bytes pass `maxBufferedBytes` (a slow or frozen browser) is dropped, so it never holds up
 * the others or the engine. Sockets that stop answering pings are dropped too.
 */
import { randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Logger } from 'pino';
import type { WebSocket } from 'ws';
import type { AlertEngine, EngineEvent, EngineEvents } from '../../alerts/engine.js';
import type { Subscriber } from '../../core/eventBus.js';
import { jobView, type ImportJobEvents } from '../../devices/importJobs.js';
import { rescueDeadlines, type RescuePolicy } from '../../core/alerts/rescueCase.js';
import { alertSortKey, type AlertKey } from '../../core/alerts/alertQuery.js';
import { coverageOf, registeredDevices, type ConnectionTracker } from '../../devices/connectionState.js';
import type { DeviceRegistry } from '../../devices/deviceRegistry.js';
import type { Store } from '../../store/types.js';
import type { Principal, SessionEvents, Sessions } from '../../accounts/sessions.js';
import { elevatorCard } from '../rescueView.js';
import { inScope } from '../../accounts/scope.js';
import { rescueCaseDistrict, storeDistrictOf } from '../districts.js';
import { decideCatchUp, parseCatchUp, type CatchUpRequest } from './catchup.js';
import { SeqRing } from './ring.js';
import { dayStart, TodayCounter, type LiveStats } from './stats.js';

export interface LiveHubOptions {
  /** events kept for catch-up */
  ringCapacity: number;
  /** unsent bytes after which a client is dropped */
  maxBufferedBytes: number;
  statsEveryMs: number;
  /** a client without `?token=` must send its auth message within this */
  authTimeoutMs: number;
  pingEveryMs: number;
}

export const defaultLiveHubOptions: LiveHubOptions = {
  ringCapacity: 2000,
  maxBufferedBytes: 4 * 1024 * 1024,
  statsEveryMs: 2000,
  authTimeoutMs: 5000,
  pingEveryMs: 15_000,
};

export interface LiveHubDeps {
  engine: Pick<AlertEngine, 'activeAlerts' | 'activeRescueCases'>;
  /** alert, case and store-flag changes, import jobs, ended sessions: subscribed at start, left at stop */
  events: Subscriber<EngineEvents & ImportJobEvents & SessionEvents>;
  sessions: Pick<Sessions, 'verify' | 'verifyAnywhere' | 'valid'>;
  tracker: ConnectionTracker;
  registry: DeviceRegistry;
  store: Store;
  /** rescue cases are pushed with their deadline moments under this policy */
  rescuePolicy: RescuePolicy;
  log: Logger;
  now?: () => number;
}

/** A numbered event as it is sent (without its seq, which is added per event). */
type LiveEvent =
  | { type: 'alert'; change: string; alert: unknown; entries: unknown[] }
  | { type: 'rescueCase'; change: string; rescueCase: unknown; events: string[] }
  | { type: 'storeFlag'; storeId: string; flagged: boolean; count: number; at: number; stage: string; entry: unknown };

/**
 * A numbered event as serialised once, with where it lies for district-scoped clients (docs/api.md,
 * District scope): read on first need, so a service without such clients never looks it up.
 * Without `where` every client gets it (device import progress: counts only).
 */
interface RingItem {
  text: string;
  where?: () => string | null;
}

interface Client {
  ws: WebSocket;
  claims: Principal;
  alive: boolean;
}

/** Close codes: 4401 no or bad token (also when it expires), 4408 auth timeout, 4429 too slow. */
export const closeCodes = { unauthorized: 4401, authTimeout: 4408, tooSlow: 4429 } as const;

export class LiveHub {
  readonly epoch = randomBytes(6).toString('base64url');
  private readonly opts: LiveHubOptions;
  private readonly ring: SeqRing<RingItem>;
  private readonly clients = new Set<Client>();
  private readonly today = new TodayCounter();
  private readonly now: () => number;
  private statsTimer: NodeJS.Timeout | null = null;
  private pingTimer: NodeJS.Timeout | null = null;
  private stopped = false;
  /** the bus subscriptions taken at start, removed at stop */
  private subscriptions: Array<() => void> = [];
  /** clients dropped for being too slow (metrics, tests) */
  dropped = 0;

  constructor(private readonly deps: LiveHubDeps, opts: Partial<LiveHubOptions> = {}) {
    this.opts = { ...defaultLiveHubOptions, ...opts };
    this.ring = new SeqRing<RingItem>(this.opts.ringCapacity);
    this.now = deps.now ?? Date.now;
  }

  async start(): Promise<void> {
    const now = this.now();
    // today's alerts so far, closed ones included, for the counts per family: a page at a time,
    // so a busy day does not hold every alert document in memory at once
    const since = dayStart(now);
    let after: AlertKey | null = null;
    for (;;) {
      const page = await this.deps.store.alerts.query({ since, sort: 'firstSeen', after, limit: 2000 });
      for (const a of page) this.today.see(a, now);
      if (page.length < 2000) break;
      after = alertSortKey(page.at(-1)!, 'firstSeen');
    }
    for (const a of this.deps.engine.activeAlerts()) this.today.see(a, now);
    const { events } = this.deps;
    const onEngine = (e: EngineEvent): void => this.onEngineEvent(e);
    this.subscriptions = [
      events.on('alert', onEngine),
      events.on('rescueCase', onEngine),
      events.on('storeFlag', onEngine),
      // import progress and outcome: counts only, never rows or secrets
      events.on('importJob.changed', (job) => this.pushJob(jobView(job, { detail: false }))),
      // a session that ends (logout, user disabled, deleted, new password) ends its live push
      events.on('sessions.revoked', (sids) => this.endSessions(sids)),
    ];
    this.statsTimer = setInterval(() => this.pushStats(), this.opts.statsEveryMs);
    this.statsTimer.unref();
    this.pingTimer = setInterval(() => this.pingAll(), this.opts.pingEveryMs);
    this.pingTimer.unref();
  }

  private endSessions(sids: ReadonlySet<string>): void {
    for (const c of this.clients) {
      if (!sids.has(c.claims.sid)) continue;
      this.clients.delete(c);
      this.refuse(c.ws, 'the session ended; sign in again');
    }
  }

  stop(): void {
    this.stopped = true;
    for (const off of this.subscriptions) off();
    this.subscriptions = [];
    if (this.statsTimer) clearInterval(this.statsTimer);
    if (this.pingTimer) clearInterval(this.pingTimer);
    for (const c of this.clients) c.ws.close(1001, 'service stopping');
    this.clients.clear();
  }

  get connectedClients(): number {
    return this.clients.size;
  }

  get lastSeq(): number {
    return this.ring.lastSeq;
  }

  /** The live numbers, of the whole city or of a district-scoped client's code prefix only. */
  stats(district: string | null = null): LiveStats {
    const { engine, registry, tracker } = this.deps;
    if (district === null) return this.today.snapshot(this.now(), engine.activeAlerts(), engine.activeRescueCases(), registry.size, tracker.connectedDevices);
    const scope = { role: 'operator', district } as const;
    const active = engine.activeAlerts().filter((a) => inScope(scope, a.device.district));
    const cases = engine.activeRescueCases().filter((c) => inScope(scope, rescueCaseDistrict(registry, c)));
    const devices = coverageOf(registeredDevices(registry), (id) => tracker.get(id), { district }).total;
    return this.today.snapshot(this.now(), active, cases, devices.registered, devices.connectedNow, district);
  }

  /** The upgrade handler for `/ws` (dashboard/upgrade.ts). */
  handle(ws: WebSocket, req: IncomingMessage): void {
    if (this.stopped) { ws.close(1001, 'service stopping'); return; }
    const url = new URL(req.url ?? '/ws', 'http://localhost');
    const token = url.searchParams.get('token');
    const catchUp = parseCatchUp(url.searchParams.get('since'), url.searchParams.get('epoch'));
    ws.on('error', () => ws.terminate());
    if (token) { this.authenticate(ws, token, catchUp); return; }
    // no token in the URL: the first message must be {type: 'auth', token, since?, epoch?}
    const timer = setTimeout(() => ws.close(closeCodes.authTimeout, 'no auth message'), this.opts.authTimeoutMs);
    ws.once('message', (data) => {
      clearTimeout(timer);
      let msg: { type?: unknown; token?: unknown; since?: unknown; epoch?: unknown } = {};
      try { msg = JSON.parse(String(data)) as typeof msg; } catch { /* handled below */ }
      if (msg.type !== 'auth' || typeof msg.token !== 'string') {
        this.refuse(ws, 'the first message must be {"type":"auth","token":"..."} (or pass ?token=)');
        return;
      }
      this.authenticate(ws, msg.token, parseCatchUp(msg.since ?? catchUp.since, msg.epoch ?? catchUp.epoch));
    });
    ws.once('close', () => clearTimeout(timer));
  }

  private refuse(ws: WebSocket, message: string): void {
    ws.send(JSON.stringify({ type: 'error', code: 'unauthorized', message }));
    ws.close(closeCodes.unauthorized, 'unauthorized');
  }

  private authenticate(ws: WebSocket, token: string, catchUp: CatchUpRequest): void {
    const claims = this.deps.sessions.verify(token);
    if (claims) { this.admit(ws, claims, catchUp); return; }
    // cluster mode: a token another node issued a moment ago (accounts/sessions.ts verifyAnywhere)
    void this.deps.sessions.verifyAnywhere(token).then((found) => {
      if (ws.readyState !== ws.OPEN) return;
      if (found) this.admit(ws, found, catchUp);
      else this.refuse(ws, 'send a valid token (POST /api/login)');
    }, () => { if (ws.readyState === ws.OPEN) this.refuse(ws, 'the token could not be checked; try again'); });
  }

  private admit(ws: WebSocket, claims: Principal, catchUp: CatchUpRequest): void {
    const client: Client = { ws, claims, alive: true };
    this.clients.add(client);
    ws.on('close', () => this.clients.delete(client));
    ws.on('pong', () => { client.alive = true; });
    ws.on('message', (data) => {
      // after auth the client may only ping (application level, for browsers that cannot)
      if (String(data).includes('"ping"')) this.send(client, JSON.stringify({ type: 'pong', at: this.now() }));
    });
    this.send(client, JSON.stringify({
      type: 'hello', epoch: this.epoch, seq: this.ring.lastSeq, user: { username: claims.sub, role: claims.role, district: claims.district },
      limits: { ringCapacity: this.opts.ringCapacity, maxBufferedBytes: this.opts.maxBufferedBytes, statsEveryMs: this.opts.statsEveryMs },
    }));
    const decision = decideCatchUp(catchUp, { epoch: this.epoch, oldest: this.ring.oldestSeq, last: this.ring.lastSeq });
    if (decision.kind === 'replay') {
      // a scoped client's replay skips what lies outside its district, as the live push does
      for (const e of this.ring.after(decision.after)) if (this.sees(client, e.item) && !this.send(client, e.item.text)) return;
    } else if (decision.kind === 'resync') {
      this.send(client, JSON.stringify({ type: 'resync', reason: decision.reason, seq: this.ring.lastSeq }));
    }
    this.send(client, JSON.stringify({ type: 'stats', stats: this.stats(claims.district) }));
  }

  /** Does the client see the event: everything for the whole city, else what lies in its district. */
  private sees(c: Client, item: RingItem): boolean {
    return c.claims.district === null || !item.where || inScope(c.claims, item.where());
  }

  private onEngineEvent(e: EngineEvent): void {
    let ev: LiveEvent;
    let where: () => string | null;
    const { registry } = this.deps;
    if (e.type === 'alert') {
      const district = e.alert.device.district;
      where = () => district;
      this.today.see(e.alert, this.now());
      // the record and the timeline entries this change appended: a delta, never the history
      ev = { type: 'alert', change: e.change, alert: e.alert, entries: e.entries };
    } else if (e.type === 'rescueCase') {
      const rescueCase = { ...e.rescueCase, deadlines: rescueDeadlines(e.rescueCase, this.deps.rescuePolicy), elevator: elevatorCard(this.deps.registry.get(e.rescueCase.elevatorId)) };
      ev = { type: 'rescueCase', change: e.change, rescueCase, events: e.events };
      where = once(() => rescueCaseDistrict(registry, e.rescueCase));
    } else {
      where = once(() => storeDistrictOf(registry, e.storeId));
      ev = { type: 'storeFlag', storeId: e.storeId, flagged: e.flagged, count: e.count, at: e.at, stage: e.stage, entry: e.entry };
    }
    // number it, serialise once, keep the text for catch-up, hand the same text to everyone who sees it
    let item: RingItem = { text: '' };
    this.ring.pushWith((seq) => (item = { text: JSON.stringify({ ...ev, seq }), where }));
    for (const c of this.clients) if (this.sees(c, item)) this.send(c, item.text);
  }

  /**
   * A device import job's progress or end (devices/importJobs.ts; its counts, never rows or
   * secrets), numbered and serialised once like the engine's events: `{type: 'importJob', job, seq}`.
   */
  private pushJob(job: object): void {
    let text = '';
    this.ring.pushWith((seq) => ({ text: (text = JSON.stringify({ type: 'importJob', job, seq })) }));
    for (const c of this.clients) this.send(c, text);
  }

  private pushStats(): void {
    if (!this.clients.size) return;
    const now = this.now();
    // computed once per scope: the whole city's, and each district's its scoped clients read
    const texts = new Map<string | null, string>();
    for (const c of this.clients) {
      if (c.claims.exp * 1000 <= now || !this.deps.sessions.valid(c.claims.sid)) { this.clients.delete(c); this.refuse(c.ws, 'the token expired; sign in again'); continue; }
      let text = texts.get(c.claims.district);
      if (text === undefined) texts.set(c.claims.district, (text = JSON.stringify({ type: 'stats', stats: this.stats(c.claims.district) })));
      this.send(c, text);
    }
  }

  private pingAll(): void {
    for (const c of this.clients) {
      if (!c.alive) { this.dropped++; this.clients.delete(c); c.ws.terminate(); continue; }
      c.alive = false;
      c.ws.ping();
    }
  }

  /** Send, or drop the client when too much is already waiting for it. False when dropped. */
  private send(c: Client, text: string): boolean {
    if (c.ws.readyState !== c.ws.OPEN) return false;
    if (c.ws.bufferedAmount + Buffer.byteLength(text) > this.opts.maxBufferedBytes) {
      this.dropped++;
      this.clients.delete(c);
      this.deps.log.warn({ user: c.claims.sub, bufferedBytes: c.ws.bufferedAmount }, 'live client too slow: dropped');
      // a frozen client would never read a close frame: cut the socket
      c.ws.terminate();
      return false;
    }
    c.ws.send(text);
    return true;
  }
}

/** `f`'s value, computed on the first call only. */
function once<T>(f: () => T): () => T {
  let done = false;
  let value: T;
  return () => {
    if (!done) { value = f(); done = true; }
    return value;
  };
}
