/** Login and users (PROTOCOL.md: POST /api/login -> {token, role}). */
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { CodedError } from '../../service/codes.js';
import { roles } from '../roles.js';
import { ErrorBody, iso } from './common.js';

const Username = z.string().trim().min(1).max(64).regex(/^[A-Za-z0-9_.@-]+$/, 'letters, digits and _ . @ - only');

export const authRoutes: FastifyPluginAsyncZod = async (app) => {
  const { users, tokens, limiter } = app.deps;

  app.post('/login', {
    schema: {
      tags: ['auth'],
      summary: 'Exchange a username and password for a bearer token',
      security: [],
      body: z.object({ username: z.string().min(1).max(64), password: z.string().min(1).max(256) }),
      response: { 200: z.object({ token: z.string(), role: z.enum(roles), expiresAt: z.string() }), 401: ErrorBody, 429: ErrorBody },
    },
  }, async (req) => {
    const { username, password } = req.body;
    const wait = limiter.retryAfterS(username, req.ip);
    if (wait > 0) throw new CodedError('rate_limited', `too many failed logins; retry in ${wait} s`, { retryAfterS: wait });
    const user = await users.check(username, password);
    if (!user) {
      limiter.failed(username, req.ip);
      throw new CodedError('bad_credentials', 'wrong username or password');
    }
    limiter.succeeded(username, req.ip);
    const { token, expiresAt } = tokens.issue(user.username, user.role);
    return { token, role: user.role, expiresAt: new Date(expiresAt).toISOString() };
  });

  app.get('/me', {
    schema: { tags: ['auth'], summary: 'Who the token belongs to', response: { 200: z.object({ username: z.string(), role: z.enum(roles) }) } },
    preHandler: app.requires('readDevices'),
  }, async (req) => ({ username: req.user!.sub, role: req.user!.role }));

  const UserOut = z.object({ username: z.string(), role: z.enum(roles), createdAt: z.string() });

  app.get('/users', {
    schema: { tags: ['auth'], summary: 'List users (admin)', response: { 200: z.object({ items: z.array(UserOut) }) } },
    preHandler: app.requires('manageUsers'),
  }, async () => ({ items: (await users.list()).map((u) => ({ username: u.username, role: u.role, createdAt: iso(u.createdAt)! })) }));

  app.post('/users', {
    schema: {
      tags: ['auth'],
      summary: 'Create a user (admin)',
      body: z.object({ username: Username, password: z.string().min(8).max(256), role: z.enum(roles) }),
      response: { 201: UserOut, 409: ErrorBody },
    },
    preHandler: app.requires('manageUsers'),
  }, async (req, reply) => {
    const u = await users.create(req.body.username, req.body.password, req.body.role);
    return reply.code(201).send({ username: u.username, role: u.role, createdAt: iso(u.createdAt)! });
  });
};
