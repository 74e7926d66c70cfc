/**
 * A small typed client for the operator HTTP API (README, HTTP API), used by the device
 * client and the devices and cylinders CLIs. The CLIs never open the DuckDB file: it allows
 * one writing process, and that is the running service.
 *
 * Every failure becomes an ApiError carrying the catalog `code` (docs/error-codes.md), the
 * message and the `details` of the response, so callers branch on the code, never on text.
 */
import type { CylinderImportResult } from '../cylinders/cylinderRegistry.js';
import type { CylinderRecord } from '../core/alerts/types.js';
import type { DevicePublic } from '../core/deviceInput.js';
import type { ImportResult, OnConflict, RowProblem } from '../devices/deviceRegistry.js';
import type { Family } from '../core/schemas/index.js';
import type { ImportJobView } from '../devices/importJobs.js';
import { codes, type Code, type CodeSpec } from '../core/codes.js';

/**
 * A catalog code, or one of two that only a client can see: `network` (the service could not
 * be reached) and `unexpected_response` (an answer without the `{error: {code}}` body, e.g.
 * from a proxy).
 */
export type ApiErrorCode = Code | 'network' | 'unexpected_response';

export class ApiError extends Error {
  constructor(
    /** HTTP status; 0 when no answer arrived */
    readonly status: number,
    readonly code: ApiErrorCode | (string & Record<never, never>),
    message: string,
    readonly details?: unknown,
    /** the device import job this error is about: `finished` when it ended failed (nothing imported), else its outcome is unknown */
    readonly importJob?: { id: string; finished: boolean },
  ) {
    super(message);
    this.name = 'ApiError';
  }

  /** The row problems of a rejected bulk import, when that is what this error holds. */
  get rowProblems(): RowProblem[] {
    return Array.isArray(this.details) ? this.details.filter(isRowProblem) : [];
  }
}

function isRowProblem(d: unknown): d is RowProblem {
  return typeof d === 'object' && d !== null && typeof (d as RowProblem).row === 'number';
}

export interface Credentials {
  id: string;
  family: Family;
  secret: string;
}

export interface NewDevice {
  id: string;
  family: Family;
  name?: string;
  location?: { lat: number | string; lng: number | string };
  district?: string;
  meta?: Record<string, string>;
}

export interface DeviceList {
  total: number;
  items: DevicePublic[];
}

export interface ReadingView {
  seq: number;
  channel: string;
  msgId: string;
  ts: string;
  receivedAt: string;
  data: Record<string, unknown>;
  extra: Record<string, unknown> | null;
}

export interface DeadLetterView {
  id: number;
  receivedAt: string;
  deviceId: string | null;
  topic: string;
  reason: string;
  detail: string;
  msgId: string | null;
  raw: string;
}

/** A registry record as the API returns it: dates are epoch ms of the UTC midnight of the China local date. */
export type CylinderView = CylinderRecord;

export type CylinderStatus = CylinderRecord['status'];

export interface CylinderList {
  total: number;
  items: CylinderView[];
}

type Query = Record<string, string | number | undefined>;

interface RequestOptions {
  query?: Query;
  json?: unknown;
  /** a raw text body, e.g. CSV, sent with `contentType` */
  text?: string;
  contentType?: string;
}

/** Generous: a long poll of an import job waits 30 s; a 10 MiB body may come over a slow link. */
const DEFAULT_TIMEOUT_MS = 120_000;

export class ApiClient {
  constructor(
    readonly baseUrl: string,
    private readonly token: string | null = null,
    private readonly timeoutMs = DEFAULT_TIMEOUT_MS,
  ) {}

  /** POST /api/login, then a client that sends the bearer token on every request. */
  static async login(baseUrl: string, username: string, password: string): Promise<ApiClient> {
    const anonymous = new ApiClient(baseUrl);
    const { token } = await anonymous.request<{ token: string }>('POST', '/api/login', { json: { username, password } });
    return new ApiClient(baseUrl, token, anonymous.timeoutMs);
  }

  createDevice(device: NewDevice): Promise<Credentials> {
    return this.request('POST', '/api/devices', { json: device });
  }

  /**
   * CSV text (Content-Type text/csv) or an array of devices; all or nothing. The service runs
   * it as a job (202): this waits for the job and returns its result, secrets included, or
   * throws its failure as the synchronous import did (`validation` with every bad row in
   * `details`). `onProgress` sees the job as it goes.
   */
  async importDevices(body: { csv: string } | { json: unknown[] }, onConflict: OnConflict = 'error', onProgress?: (job: ImportJobView) => void): Promise<ImportResult> {
    const payload = 'csv' in body ? { text: body.csv, contentType: 'text/csv; charset=utf-8' } : { json: body.json };
    let job = await this.request<ImportJobView>('POST', '/api/devices/import', { ...payload, query: { onConflict } });
    onProgress?.(job);
    while (job.status !== 'done' && job.status !== 'failed') {
      const id = job.id;
      try {
        job = await this.request<ImportJobView>('GET', `/api/devices/import/jobs/${encodeURIComponent(id)}`, { query: { wait: 30 } });
      } catch (e) {
        const err = e instanceof ApiError ? e : new ApiError(0, 'network', String(e));
        throw new ApiError(err.status, err.code, `${err.message} (while following import job ${id}: GET /api/devices/import/jobs/${id} tells how it ended)`, err.details, { id, finished: false });
      }
      onProgress?.(job);
    }
    if (job.status === 'failed') {
      const code = job.error?.code ?? 'internal';
      const spec = (codes as Record<string, CodeSpec | undefined>)[code];
      throw new ApiError(spec?.http ?? 500, code, job.error?.message ?? 'the import failed', job.errors ?? undefined, { id: job.id, finished: true });
    }
    if (!job.result) throw new ApiError(200, 'unexpected_response', `import job ${job.id} is done but its answer has no result`);
    return job.result as ImportResult;
  }

  listDevices(q: { family?: Family; district?: string; q?: string; limit?: number; offset?: number } = {}): Promise<DeviceList> {
    return this.request('GET', '/api/devices', { query: q });
  }

  getDevice(id: string): Promise<DevicePublic> {
    return this.request('GET', `/api/devices/${encodeURIComponent(id)}`);
  }

  /** A new secret; the old one stops working at once. */
  rotateSecret(id: string): Promise<Credentials> {
    return this.request('POST', `/api/devices/${encodeURIComponent(id)}/secret`);
  }

  /** Cylinder records (一瓶一码一档): CSV text (Content-Type text/csv) or an array of records; all or nothing. */
  importCylinders(body: { csv: string } | { json: unknown[] }, onConflict: OnConflict = 'error'): Promise<CylinderImportResult> {
    const payload = 'csv' in body ? { text: body.csv, contentType: 'text/csv; charset=utf-8' } : { json: body.json };
    return this.request('POST', '/api/cylinders/import', { ...payload, query: { onConflict } });
  }

  /** `stationId` matches the owner and the entrusted stations; `q` a part of the code. */
  listCylinders(q: { stationId?: string; status?: CylinderStatus; q?: string; limit?: number; offset?: number } = {}): Promise<CylinderList> {
    return this.request('GET', '/api/cylinders', { query: q });
  }

  getCylinder(code: string): Promise<CylinderView> {
    return this.request('GET', `/api/cylinders/${encodeURIComponent(code)}`);
  }

  async readings(id: string, q: { channel?: string; from?: number; to?: number; limit?: number } = {}): Promise<ReadingView[]> {
    const res = await this.request<{ items: ReadingView[] }>('GET', `/api/devices/${encodeURIComponent(id)}/readings`, { query: q });
    return res.items;
  }

  async deadLetters(q: { deviceId?: string; reason?: string; since?: number; limit?: number } = {}): Promise<DeadLetterView[]> {
    const res = await this.request<{ items: DeadLetterView[] }>('GET', '/api/dead-letters', { query: q });
    return res.items;
  }

  async request<T>(method: 'GET' | 'POST', path: string, opts: RequestOptions = {}): Promise<T> {
    const url = new URL(path, this.baseUrl);
    for (const [k, v] of Object.entries(opts.query ?? {})) if (v !== undefined) url.searchParams.set(k, String(v));
    const headers: Record<string, string> = { accept: 'application/json' };
    if (this.token) headers.authorization = `Bearer ${this.token}`;
    let body: string | undefined;
    if (opts.json !== undefined) {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(opts.json);
    } else if (opts.text !== undefined) {
      headers['content-type'] = opts.contentType ?? 'text/plain; charset=utf-8';
      body = opts.text;
    }

    let res: Response;
    try {
      res = await fetch(url, { method, headers, body, signal: AbortSignal.timeout(this.timeoutMs) });
    } catch (e) {
      throw new ApiError(0, 'network', `cannot reach ${url.origin}: ${networkReason(e)}`);
    }
    const text = await res.text();
    const parsed = parseJson(text);
    if (res.ok) {
      if (parsed === undefined) throw new ApiError(res.status, 'unexpected_response', `${method} ${url.pathname}: the answer is not JSON`);
      return parsed as T;
    }
    const error = (parsed as { error?: { code?: unknown; message?: unknown; details?: unknown } } | undefined)?.error;
    if (error && typeof error.code === 'string') {
      throw new ApiError(res.status, error.code, typeof error.message === 'string' ? error.message : error.code, error.details);
    }
    throw new ApiError(res.status, 'unexpected_response', `${method} ${url.pathname}: HTTP ${res.status} ${text.slice(0, 200)}`);
  }
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** fetch hides the socket error in `cause` (ECONNREFUSED, ENOTFOUND...); show it. */
function networkReason(e: unknown): string {
  if (e instanceof Error && e.name === 'TimeoutError') return 'no answer in time';
  const cause = (e as { cause?: { code?: string; message?: string } }).cause;
  return cause?.code ?? cause?.message ?? (e as Error).message;
}
