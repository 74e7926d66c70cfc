/**
 * Operations endpoints: health and Prometheus metrics, with no token for probes and scrapers;
 * METRICS_REQUIRE_TOKEN puts /metrics behind an admin token where strangers reach the port.
 */
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
    schema: { tags: ['ops'], summary: 'Prometheus text format: ingest counters, batch latency, connections, process', ...(app.deps.config.http.metricsRequireToken ? {} : { security: [] }) },
    ...(app.deps.config.http.metricsRequireToken ? { preHandler: app.requires('readMetrics') } : {}),
  }, async (_req, reply) => {
    const body = await app.deps.metrics.metrics();
    return reply.type(app.deps.metrics.contentType).send(body);
  });
};
