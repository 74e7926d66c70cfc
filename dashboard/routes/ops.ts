/** Operations endpoints: health and Prometheus metrics (no token: probes and scrapers). */
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';

export const opsRoutes: FastifyPluginAsyncZod = async (app) => {
  app.get('/healthz', {
    schema: {
      tags: ['ops'],
      summary: '200 when broker, store and HTTP are up; 503 otherwise, with each component\'s state',
      security: [],
      response: {
        200: z.object({ ok: z.boolean(), components: z.record(z.string(), z.object({ ok: z.boolean(), detail: z.string().optional() })) }),
        503: z.object({ ok: z.boolean(), components: z.record(z.string(), z.object({ ok: z.boolean(), detail: z.string().optional() })) }),
      },
    },
  }, async (_req, reply) => {
    const report = app.deps.health();
    return reply.code(report.ok ? 200 : 503).send(report);
  });

  app.get('/metrics', {
    schema: { tags: ['ops'], summary: 'Prometheus text format: ingest counters, batch latency, connections, process', security: [] },
  }, async (_req, reply) => {
    const body = await app.deps.metrics.metrics();
    return reply.type(app.deps.metrics.contentType).send(body);
  });
};
