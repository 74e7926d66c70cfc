/**
 * Builds the HTTP app (fastify) apart from `listen`, so route tests use `inject` and the
 * composition root decides the socket. Errors leave as `{error: {code, message, details?}}`
 * with a code from service/codes.ts.
 */
import Fastify, { LogController, type FastifyBaseLogger, type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import {
  hasZodFastifySchemaValidationErrors, isResponseSerializationError, jsonSchemaTransform, serializerCompiler, validatorCompiler,
  type ZodTypeProvider,
} from 'fastify-type-provider-zod';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { AlertEngine } from '../alerts/engine.js';
import type { CylinderRegistry } from '../alerts/cylinderRegistry.js';
import type { RescuePolicy } from '../alerts/domain/rescueCase.js';
import type { DeviceRegistry } from '../broker/deviceRegistry.js';
import type { ConnectionTracker } from '../broker/connectionState.js';
import { CodedError, codes, type Code, type CodeSpec } from '../service/codes.js';
import type { Config } from '../service/config.js';
import type { Store } from '../store/types.js';
import type { LoginLimiter } from './loginLimiter.js';
import { allowed, type Permission } from './roles.js';
import type { Claims, TokenSigner } from './tokens.js';
import type { Users } from './users.js';
import { authRoutes } from './routes/auth.js';
import { deviceRoutes } from './routes/devices.js';
import { deadLetterRoutes } from './routes/deadLetters.js';
import { opsRoutes } from './routes/ops.js';
import { alertRoutes } from './routes/alerts.js';
import { cylinderRoutes } from './routes/cylinders.js';
import { historyRoutes } from './routes/history.js';
import { statsRoutes } from './routes/stats.js';
import { uiRoutes } from './ui/serve.js';

export interface HealthReport {
  ok: boolean;
  components: Record<string, { ok: boolean; detail?: string }>;
}

export interface AppDeps {
  config: Config;
  engine: AlertEngine | null;
  cylinders: CylinderRegistry | null;
  /** the rule whose alerts open 96333 rescue cases (dispatchers handle those) */
  rescueRule: string;
  rescuePolicy: RescuePolicy;
  store: Store;
  registry: DeviceRegistry;
  tracker: ConnectionTracker;
  users: Users;
  tokens: TokenSigner;
  limiter: LoginLimiter;
  metrics: Registry;
  health: () => HealthReport;
  log: Logger;
}

declare module 'fastify' {
  interface FastifyRequest {
    user: Claims | null;
  }
  interface FastifyInstance {
    deps: AppDeps;
    /** preHandler: a valid bearer token whose role has the permission */
    requires(permission: Permission): (req: FastifyRequest, reply: FastifyReply) => Promise<void>;
  }
}

export type App = FastifyInstance;

export async function buildApp(deps: AppDeps): Promise<App> {
  const app = Fastify({
    loggerInstance: deps.log.child({ component: 'http' }) as unknown as FastifyBaseLogger,
    bodyLimit: deps.config.http.bodyLimitBytes,
    logController: new LogController({ disableRequestLogging: true }),
    // device ids and query values are plain strings; never let a query become an object
    routerOptions: { maxParamLength: 200 },
  }).withTypeProvider<ZodTypeProvider>();

  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  app.decorate('deps', deps);
  app.decorateRequest('user', null);

  // CSV imports arrive as text/csv; keep the body as a string for the import route
  app.addContentTypeParser(['text/csv', 'text/plain'], { parseAs: 'string' }, (_req, body, done) => done(null, body));

  app.decorate('requires', (permission: Permission) => async (req: FastifyRequest) => {
    const header = req.headers.authorization;
    const token = header?.startsWith('Bearer ') ? header.slice(7).trim() : undefined;
    const claims = token ? deps.tokens.verify(token) : null;
    if (!claims) throw new CodedError('unauthorized', 'send a valid token: Authorization: Bearer <token> (POST /api/login)');
    if (!allowed(claims.role, permission)) throw new CodedError('forbidden', `role ${claims.role} may not ${permission}`);
    req.user = claims;
  });

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
  await app.register(swaggerUi, { routePrefix: '/docs' });

  await app.register(opsRoutes);
  await app.register(authRoutes, { prefix: '/api' });
  await app.register(deviceRoutes, { prefix: '/api' });
  await app.register(deadLetterRoutes, { prefix: '/api' });
  await app.register(alertRoutes, { prefix: '/api' });
  await app.register(cylinderRoutes, { prefix: '/api' });
  await app.register(historyRoutes, { prefix: '/api' });
  await app.register(statsRoutes, { prefix: '/api' });
  await app.register(uiRoutes);
  return app;
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
  if (code === 'rate_limited' && err instanceof CodedError && typeof (err.details as { retryAfterS?: number })?.retryAfterS === 'number') {
    void reply.header('retry-after', String((err.details as { retryAfterS: number }).retryAfterS));
  }
  void reply.code(status).send({ error: { code, message, ...(details === undefined ? {} : { details }) } });
}
