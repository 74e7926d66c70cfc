/**
 * Builds the HTTP app (fastify) apart from `listen`, so route tests use `inject` and the
 * composition root decides the socket. Errors leave as `{error: {code, message, details?}}`
 * with a code from core/codes.ts.
 */
import Fastify, { LogController, type FastifyBaseLogger, type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import rateLimit from '@fastify/rate-limit';
import {
  hasZodFastifySchemaValidationErrors, isResponseSerializationError, jsonSchemaTransform, serializerCompiler, validatorCompiler,
  type ZodTypeProvider,
} from 'fastify-type-provider-zod';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { AlertService } from '../alerts/alertService.js';
import type { CylinderRegistry } from '../cylinders/cylinderRegistry.js';
import type { RescuePolicy } from '../core/alerts/rescueCase.js';
import type { DeviceRegistry } from '../devices/deviceRegistry.js';
import type { ConnectionTracker } from '../devices/connectionState.js';
import type { ImportJobs } from '../devices/importJobs.js';
import type { DeadLetterReplay } from '../ingest/replay.js';
import { CodedError, codes, type Code, type CodeSpec } from '../core/codes.js';
import type { Config } from '../service/config.js';
import type { Store } from '../store/types.js';
import { allowed, type Permission } from '../core/roles.js';
import type { Principal, Sessions } from '../accounts/sessions.js';
import type { Users } from '../accounts/users.js';
import type { AuditLog } from '../accounts/auditLog.js';
import type { AuditAction, AuditDetails } from '../core/audit.js';
import { authRoutes } from './routes/auth.js';
import { deviceRoutes } from './routes/devices.js';
import { deadLetterRoutes } from './routes/deadLetters.js';
import { opsRoutes } from './routes/ops.js';
import { alertRoutes } from './routes/alerts.js';
import { rescueRoutes } from './routes/rescue.js';
import { storeListRoutes } from './routes/storeLists.js';
import { storeScoreRoutes } from './routes/storeScores.js';
import { cylinderRoutes } from './routes/cylinders.js';
import { historyRoutes } from './routes/history.js';
import { statsRoutes } from './routes/stats.js';
import { auditRoutes } from './routes/audit.js';
import { exportRoutes } from './routes/exports.js';
import { mapRoutes } from './routes/map.js';
import { uiRoutes } from './ui/serve.js';
import { docsCsp, registerSecurityHeaders, routerErrorHeaders } from './headers.js';

export interface HealthReport {
  ok: boolean;
  /** each component's state; `error` and `since` (RFC 3339) while it is not ok (service/health.ts) */
  components: Record<string, { ok: boolean; detail?: string; error?: string; since?: string }>;
}

export interface AppDeps {
  config: Config;
  engine: AlertService | null;
  cylinders: CylinderRegistry | null;
  /** the rule whose alerts open 96333 rescue cases (dispatchers handle those) */
  rescueRule: string;
  rescuePolicy: RescuePolicy;
  store: Store;
  registry: DeviceRegistry;
  /** device imports as background jobs (POST /api/devices/import) */
  importJobs: ImportJobs;
  /** POST /api/dead-letters/replay: dead letters through ingest again (ingest/replay.ts) */
  deadLetterReplay: DeadLetterReplay;
  tracker: ConnectionTracker;
  users: Users;
  sessions: Sessions;
  /** the audit log; routes record through app.audit */
  audit: AuditLog;
  metrics: Registry;
  health: () => HealthReport;
  log: Logger;
}

declare module 'fastify' {
  interface FastifyRequest {
    user: Principal | null;
  }
  interface FastifyInstance {
    deps: AppDeps;
    /** preHandler: a valid bearer token whose role has the permission */
    requires(permission: Permission): (req: FastifyRequest, reply: FastifyReply) => Promise<void>;
    /**
     * Record an action in the audit log (docs/security.md, Audit log), after it succeeded: by the
     * signed-in user (or `actor`), from the request's address. Never waits for the store.
     */
    audit(req: FastifyRequest, action: AuditAction, targetId: string | null, details?: AuditDetails, actor?: string | null): void;
  }
}

export type App = FastifyInstance;

export async function buildApp(deps: AppDeps): Promise<App> {
  const app = Fastify({
    loggerInstance: deps.log.child({ component: 'http' }) as unknown as FastifyBaseLogger,
    bodyLimit: deps.config.http.bodyLimitBytes,
    // behind a balancer (TRUSTED_PROXIES) req.ip is the client it names in X-Forwarded-For, for
    // the password guard and the audit log; anyone else's header is ignored
    trustProxy: deps.config.http.trustedProxies.length ? [...deps.config.http.trustedProxies] : false,
    logController: new LogController({ disableRequestLogging: true }),
    // device ids and query values are plain strings; never let a query become an object
    routerOptions: { maxParamLength: 200 },
    // errors the router raises before any route (a path that does not percent-decode, an
    // over-long parameter) leave in the catalogue's shape too, and are not logged as failures
    frameworkErrors: (err, req, reply) => sendError(routerError(err), req, reply.headers(routerErrorHeaders)),
  }).withTypeProvider<ZodTypeProvider>();

  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  app.decorate('deps', deps);
  app.decorateRequest('user', null);
  app.decorate('audit', (req: FastifyRequest, action: AuditAction, targetId: string | null, details?: AuditDetails, actor?: string | null) => {
    deps.audit.record({ action, actor: actor === undefined ? req.user?.sub ?? null : actor, targetId, address: req.ip ?? null, ...(details ? { details } : {}) });
  });

  // CSV imports arrive as text/csv; keep the body as a string for the import route
  app.addContentTypeParser(['text/csv', 'text/plain'], { parseAs: 'string' }, (_req, body, done) => done(null, body));

  // the session and the user's current role, on every request (docs/security.md, Tokens)
  app.decorate('requires', (permission: Permission) => async (req: FastifyRequest) => {
    const header = req.headers.authorization;
    const token = header?.startsWith('Bearer ') ? header.slice(7).trim() : undefined;
    const principal = token ? await deps.sessions.verifyAnywhere(token) : null;
    if (!principal) throw new CodedError('unauthorized', 'send a valid token: Authorization: Bearer <token> (POST /api/login)');
    if (!allowed(principal.role, permission)) throw new CodedError('forbidden', `role ${principal.role} may not ${permission}`);
    req.user = principal;
  });

  // CSP and the other security headers on every answer; first, so every route has them
  await registerSecurityHeaders(app);

  app.setErrorHandler((err: FastifyError | CodedError, req, reply) => sendError(err, req, reply));
  app.setNotFoundHandler((req, reply) => {
    void reply.code(404).send({ error: { code: 'not_found', message: `no route ${req.method} ${req.url.split('?')[0]}` } });
  });

  await app.register(swagger, {
    openapi: {
      info: {
        title: 'Smart supervision platform API',
        description: 'Operator HTTP API of the MQTT ingest platform. Errors: {error: {code, message, details}}; codes in docs/error-codes.md.',
        version: '0.1.0',
      },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
      security: [{ bearer: [] }],
    },
    transform: jsonSchemaTransform,
  });
  if (deps.config.http.exposeDocs) await app.register(swaggerUi, { routePrefix: '/docs', transformStaticCSP: docsCsp });
  // per-address request budget on the password routes, in front of the password guard
  await app.register(rateLimit, {
    global: false,
    errorResponseBuilder: (_req, ctx) => new CodedError('rate_limited', `too many requests from this address; retry in ${Math.ceil(ctx.ttl / 1000)} s`, { retryAfterS: Math.ceil(ctx.ttl / 1000) }),
  });

  await app.register(opsRoutes);
  await app.register(authRoutes, { prefix: '/api' });
  await app.register(deviceRoutes, { prefix: '/api' });
  await app.register(deadLetterRoutes, { prefix: '/api' });
  await app.register(alertRoutes, { prefix: '/api' });
  await app.register(rescueRoutes, { prefix: '/api' });
  await app.register(storeListRoutes, { prefix: '/api' });
  await app.register(storeScoreRoutes, { prefix: '/api' });
  await app.register(cylinderRoutes, { prefix: '/api' });
  await app.register(historyRoutes, { prefix: '/api' });
  await app.register(statsRoutes, { prefix: '/api' });
  await app.register(auditRoutes, { prefix: '/api' });
  await app.register(exportRoutes, { prefix: '/api' });
  await app.register(mapRoutes, { prefix: '/api' });
  await app.register(uiRoutes);
  return app;
}

/** The router's own errors as catalogue codes (anything else stays as it came). */
function routerError(err: FastifyError): FastifyError | CodedError {
  if (err.code === 'FST_ERR_BAD_URL') return new CodedError('bad_path', 'the request path is not valid percent-encoded UTF-8');
  if (err.code === 'FST_ERR_MAX_PARAM_LENGTH') return new CodedError('validation', 'a path parameter is longer than 200 characters');
  return err;
}

function sendError(err: FastifyError | CodedError, req: FastifyRequest, reply: FastifyReply): void {
  let code: Code;
  let message = err.message;
  let details: unknown;
  if (err instanceof CodedError) {
    code = err.code;
    details = err.details;
  } else if (hasZodFastifySchemaValidationErrors(err)) {
    code = 'validation';
    details = err.validation.map((v) => ({
      in: err.validationContext ?? 'body',
      path: (v.instancePath || '/').replace(/^\//, '').replace(/\//g, '.') || '(root)',
      message: v.message ?? 'invalid',
    }));
    message = `invalid ${err.validationContext ?? 'request'}: ${(details as Array<{ path: string; message: string }>).map((d) => `${d.path}: ${d.message}`).join('; ')}`;
  } else if (isResponseSerializationError(err)) {
    code = 'internal';
  } else if (err.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
    code = 'payload_too_large';
  } else if (err.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') {
    code = 'unsupported_media_type';
  } else if (err.code === 'FST_ERR_CTP_EMPTY_JSON_BODY' || err.code === 'FST_ERR_CTP_INVALID_JSON_BODY' || (err.statusCode === 400)) {
    code = 'validation';
  } else {
    code = 'internal';
  }
  const status = (codes[code] as CodeSpec).http ?? 500;
  if (status >= 500) {
    req.log.error({ err, reqId: req.id }, 'request failed');
    message = `internal error (request ${req.id})`;
  }
  if ((code === 'rate_limited' || code === 'export_busy') && err instanceof CodedError && typeof (err.details as { retryAfterS?: number })?.retryAfterS === 'number') {
    void reply.header('retry-after', String((err.details as { retryAfterS: number }).retryAfterS));
  }
  void reply.code(status).send({ error: { code, message, ...(details === undefined ? {} : { details }) } });
}
