/**
 * Login, logout and users (docs/protocol.md: POST /api/login -> {token, role}). Every password
 * check goes through Users.check and its guard (docs/security.md, Password checks); the
 * routes that take a password also have a per-address request budget (@fastify/rate-limit).
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { CodedError } from '../../core/codes.js';
import type { UserRecord } from '../../store/types.js';
import { roles } from '../../core/roles.js';
import type { CheckResult } from '../../accounts/users.js';
import { DistrictCode, scopeOf } from '../../accounts/scope.js';
import { ErrorBody, iso } from './common.js';

const Username = z.string().trim().min(1).max(64).regex(/^[A-Za-z0-9_.@-]+$/, 'letters, digits and _ . @ - only');
const NewPassword = z.string().min(8).max(256);
/** per address and minute, on each route that takes a password (on top of the password guard) */
const PASSWORD_ROUTE_RATE = { rateLimit: { max: 120, timeWindow: 60_000 } };

/** The district scope (accounts/scope.ts): a code prefix the user sees and handles; null: the whole city (admins always). */
const District = z.string().nullable().describe('GB/T 2260 code prefix the user sees and handles; null: the whole city (docs/api.md, District scope)');
const DistrictIn = DistrictCode.nullable().describe('GB/T 2260 code prefix, 2-12 digits; null: the whole city. Admins take none (400 admin_scope)');
const UserOut = z.object({ username: z.string(), role: z.enum(roles), district: District, disabled: z.boolean(), createdAt: z.string() });
const userOut = (u: UserRecord) => ({ username: u.username, role: u.role, district: u.district, disabled: u.disabled, createdAt: iso(u.createdAt)! });
const TokenOut = z.object({ token: z.string(), role: z.enum(roles), district: District, expiresAt: z.string() });

/** A refused or limited check as the API answers it. */
function refuse(result: Exclude<CheckResult, { kind: 'ok' }>, what: string): never {
  if (result.kind === 'limited') throw new CodedError('rate_limited', `too many password attempts; retry in ${result.retryAfterS} s`, { retryAfterS: result.retryAfterS });
  throw new CodedError('bad_credentials', what);
}

export const authRoutes: FastifyPluginAsyncZod = async (app) => {
  const { users, sessions } = app.deps;

  app.post('/login', {
    config: PASSWORD_ROUTE_RATE,
    schema: {
      tags: ['auth'],
      summary: 'Exchange a username and password for a bearer token',
      security: [],
      body: z.object({ username: z.string().min(1).max(64), password: z.string().min(1).max(256) }),
      response: { 200: TokenOut, 401: ErrorBody, 429: ErrorBody },
    },
  }, async (req) => {
    const result = await users.check(req.body.username, req.body.password, req.ip);
    if (result.kind !== 'ok') {
      // the name as typed (it may not exist), never the password
      app.audit(req, 'auth.login_refused', req.body.username, { reason: result.kind === 'limited' ? 'rate_limited' : 'bad_credentials' }, null);
      refuse(result, 'wrong username or password');
    }
    const { token, expiresAt } = await sessions.issue(result.user.username);
    app.audit(req, 'auth.login', result.user.username, { role: result.user.role }, result.user.username);
    return { token, role: result.user.role, district: scopeOf(result.user), expiresAt: new Date(expiresAt).toISOString() };
  });

  app.post('/logout', {
    schema: { tags: ['auth'], summary: 'End the session of this token (it is refused from now on)', response: { 204: z.null() } },
    preHandler: app.requires('readDevices'),
  }, async (req, reply) => {
    await sessions.revoke(req.user!.sid);
    app.audit(req, 'auth.logout', req.user!.sub);
    return reply.code(204).send(null);
  });

  app.get('/me', {
    schema: { tags: ['auth'], summary: 'Who the token belongs to: the user\'s current role and district scope', response: { 200: z.object({ username: z.string(), role: z.enum(roles), district: District }) } },
    preHandler: app.requires('readDevices'),
  }, async (req) => ({ username: req.user!.sub, role: req.user!.role, district: req.user!.district }));

  app.post('/me/password', {
    config: PASSWORD_ROUTE_RATE,
    schema: {
      tags: ['auth'],
      summary: 'Change your own password; every session of yours ends, this one included, and a new token is given',
      body: z.object({ currentPassword: z.string().min(1).max(256), newPassword: NewPassword }),
      response: { 200: TokenOut, 401: ErrorBody, 429: ErrorBody },
    },
    preHandler: app.requires('readDevices'),
  }, async (req) => {
    const me = req.user!;
    const result = await users.check(me.sub, req.body.currentPassword, req.ip);
    if (result.kind !== 'ok') refuse(result, 'the current password is wrong');
    // the change ends every session of the user (Users.onChange, wired by the service)
    const user = await users.update(me.sub, { password: req.body.newPassword });
    app.audit(req, 'auth.password_changed', me.sub);
    const { token, expiresAt } = await sessions.issue(user.username);
    return { token, role: user.role, district: scopeOf(user), expiresAt: new Date(expiresAt).toISOString() };
  });

  app.get('/users', {
    schema: { tags: ['auth'], summary: 'List users (admin)', response: { 200: z.object({ items: z.array(UserOut) }) } },
    preHandler: app.requires('manageUsers'),
  }, async () => ({ items: users.list().map(userOut) }));

  app.post('/users', {
    schema: {
      tags: ['auth'],
      summary: 'Create a user (admin)',
      body: z.object({ username: Username, password: NewPassword, role: z.enum(roles), district: DistrictIn.optional() }),
      response: { 201: UserOut, 400: ErrorBody, 409: ErrorBody },
    },
    preHandler: app.requires('manageUsers'),
  }, async (req, reply) => {
    const u = await users.create(req.body.username, req.body.password, req.body.role, req.body.district ?? null);
    app.audit(req, 'user.created', u.username, { role: u.role, district: u.district });
    return reply.code(201).send(userOut(u));
  });

  const UserParams = z.object({ username: Username });

  app.patch('/users/:username', {
    schema: {
      tags: ['auth'],
      summary: 'Change a user\'s role, password, disabled flag or district (admin); a new password, disabling or a new district ends their sessions',
      params: UserParams,
      body: z.strictObject({ role: z.enum(roles).optional(), disabled: z.boolean().optional(), password: NewPassword.optional(), district: DistrictIn.optional() })
        .refine((b) => b.role !== undefined || b.disabled !== undefined || b.password !== undefined || b.district !== undefined, 'give role, disabled, password or district'),
      response: { 200: UserOut, 400: ErrorBody, 404: ErrorBody, 409: ErrorBody },
    },
    preHandler: app.requires('manageUsers'),
  }, async (req) => {
    const before = users.get(req.params.username);
    const after = await users.update(req.params.username, req.body);
    auditUserChange(app, req, before!, after, req.body.password !== undefined);
    return userOut(after);
  });

  app.post('/users/:username/password', {
    schema: {
      tags: ['auth'],
      summary: 'Reset a user\'s password (admin): the one given, or without one a generated password, answered here only (hand it over); the user\'s sessions and MQTT connections end',
      params: UserParams,
      // no body at all is a reset to a generated password too
      body: z.strictObject({ password: NewPassword.optional() }).nullish(),
      response: { 200: z.object({ username: z.string(), password: z.string().nullable().describe('the generated password, shown this once; null when one was given') }), 400: ErrorBody, 404: ErrorBody },
    },
    preHandler: app.requires('manageUsers'),
  }, async (req) => {
    const { user, generated } = await users.resetPassword(req.params.username, req.body?.password);
    app.audit(req, 'user.password_reset', user.username, { generated: generated !== null });
    return { username: user.username, password: generated };
  });

  app.delete('/users/:username', {
    schema: { tags: ['auth'], summary: 'Delete a user (admin); their sessions end at once', params: UserParams, response: { 204: z.null(), 404: ErrorBody, 409: ErrorBody } },
    preHandler: app.requires('manageUsers'),
  }, async (req, reply) => {
    const role = users.get(req.params.username)?.role;
    await users.delete(req.params.username);
    app.audit(req, 'user.deleted', req.params.username, { role });
    return reply.code(204).send(null);
  });
};

/** An admin's PATCH of a user, in the audit log: one entry per change made. */
function auditUserChange(app: FastifyInstance, req: FastifyRequest, before: UserRecord, after: UserRecord, passwordSet: boolean): void {
  const who = after.username;
  if (before.disabled !== after.disabled) app.audit(req, after.disabled ? 'user.disabled' : 'user.enabled', who);
  if (before.role !== after.role) app.audit(req, 'user.role_changed', who, { from: before.role, to: after.role });
  if (before.district !== after.district) app.audit(req, 'user.district_changed', who, { from: before.district, to: after.district });
  if (passwordSet) app.audit(req, 'user.password_reset', who, { generated: false });
}
