/**
 * The store's worker thread: it owns the DuckDB file (store/duckdbStore.ts) and answers the
 * main thread's calls (protocol.ts). DuckDB's appender flush, its commits' bookkeeping, the
 * history merges and every query's result conversion run here, on the second core, so the
 * event loop that acknowledges devices and answers scanners never waits for them
 * (docs/architecture.md, Threads).
 *
 * Calls are started in the order they arrive: each repository queues its statements on its
 * connection at the call (store/duckdb/database.ts), so the order the main thread called in is
 * the order DuckDB sees, as in one thread.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { DuckDbStore } from '../duckdbStore.js';
import { decodeFrames } from '../journal/frame.js';
import type { DeadLetter, DeviceImportWriter, Reading } from '../types.js';
import { IMPORT_METHODS, REPOSITORY_METHODS, STORE_METHODS, serializeError, type Request, type StoreStatus, type WorkerData, type WorkerMessage } from './protocol.js';

const port = parentPort;
if (!port) throw new Error('store/worker/storeHost.ts runs as a worker thread (store/worker/workerStore.ts starts it)');
const data = workerData as WorkerData;

/** DuckDbStore with its CHECKPOINT seam reachable from `seam` requests (tests only). */
class HostedStore extends DuckDbStore {
  checkpointError: string | null = null;
  protected override runCheckpoint(): Promise<void> {
    return this.checkpointError === null ? super.runCheckpoint() : Promise.reject(new Error(this.checkpointError));
  }
}

const store = new HostedStore(data.file, { ...data.options });
const imports = new Map<number, DeviceImportWriter>();
let nextImport = 1;
let lastStatus = '';
let closed = false;

const send = (m: WorkerMessage, transfer?: ArrayBuffer[]) => port.postMessage(m, transfer ?? []);

function status(): StoreStatus {
  return { checkpoint: store.checkpointStatus(), runs: store.readingRuns() };
}

/** Tell the main thread when checkpoints or history runs changed (its getters are synchronous). */
function reportStatus(): void {
  if (closed) return;
  const s = status();
  const text = JSON.stringify(s);
  if (text === lastStatus) return;
  lastStatus = text;
  send({ kind: 'status', status: s });
}

/** Buffers cross as plain Uint8Arrays; DuckDB's repositories and the frame code expect Buffers. */
function asBuffer(u: Uint8Array): Buffer {
  return Buffer.isBuffer(u) ? u : Buffer.from(u.buffer, u.byteOffset, u.byteLength);
}

function appendFrames(frames: Uint8Array): Promise<void> {
  const decoded = decodeFrames(frames);
  if (decoded.validBytes !== frames.byteLength) throw new Error(`store worker: a batch of frames did not decode (${decoded.validBytes} of ${frames.byteLength} bytes)`);
  const readings: Reading[] = [];
  const deadLetters: DeadLetter[] = [];
  for (const b of decoded.batches) {
    for (const r of b.readings) readings.push(r);
    for (const d of b.deadLetters) deadLetters.push({ ...d, raw: asBuffer(d.raw) });
  }
  return store.readings.appendBatch(readings, deadLetters);
}

function call(target: object, method: string, args: unknown[]): Promise<unknown> {
  const fn = (target as Record<string, unknown>)[method];
  if (typeof fn !== 'function') throw new Error(`store worker: no method ${method}`);
  return Promise.resolve((fn as (...a: unknown[]) => unknown).apply(target, args));
}

function handle(req: Exclude<Request, { kind: 'interrupt' | 'exitSeam' }>): Promise<unknown> {
  switch (req.kind) {
    case 'call': {
      const allowed = REPOSITORY_METHODS[req.repo] as readonly string[] | undefined;
      if (!allowed?.includes(req.method)) throw new Error(`store worker: ${req.repo}.${req.method} is not served`);
      return call(store[req.repo], req.method, req.args);
    }
    case 'store':
      if (!(STORE_METHODS as readonly string[]).includes(req.method)) throw new Error(`store worker: ${req.method} is not served`);
      return call(store, req.method, req.args);
    case 'frames':
      return appendFrames(req.frames);
    case 'beginImport':
      return store.devices.beginImport().then((w) => { const h = nextImport++; imports.set(h, w); return h; });
    case 'import': {
      const w = imports.get(req.handle);
      if (!w || !(IMPORT_METHODS as readonly string[]).includes(req.method)) throw new Error(`store worker: no import ${req.handle}`);
      if (req.method !== 'stage') imports.delete(req.handle);
      return call(w, req.method, req.args);
    }
    case 'close':
      return close();
    case 'seam':
      if (!data.seams) throw new Error('store worker: seams are off');
      store.checkpointError = req.checkpointError;
      Object.assign(store.options, req.options);
      return Promise.resolve(null);
  }
}

async function close(): Promise<null> {
  clearInterval(ticker);
  await store.close();
  closed = true;
  return null;
}

port.on('message', (req: Request) => {
  if (req.kind === 'interrupt') { store.interruptMaintenance(); return; }
  // DuckDB is closed first: a thread ended under an open database would leave its threads
  // working on memory the ended thread's heap owned
  if (req.kind === 'exitSeam') { if (data.seams) void close().finally(() => process.exit(req.code)); return; }
  let answer: Promise<unknown>;
  try {
    answer = handle(req);
  } catch (err) {
    answer = Promise.reject(err);
  }
  answer.then(
    (value) => { send({ kind: 'reply', id: req.id, ok: true, value }); reportStatus(); },
    (err: unknown) => { send({ kind: 'reply', id: req.id, ok: false, error: serializeError(err) }); reportStatus(); },
  ).finally(() => { if (closed) port.close(); });
});

// a checkpoint runs after the commit that answered: report it when it ends, too
const ticker = setInterval(reportStatus, 250);
ticker.unref();

try {
  await store.open();
  lastStatus = JSON.stringify(status());
  send({ kind: 'ready', status: status() });
} catch (err) {
  send({ kind: 'openFailed', error: serializeError(err) });
  clearInterval(ticker);
  port.close();
}
