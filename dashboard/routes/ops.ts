/**
 * Operations endpoints: health and Prometheus metrics, with no token for probes and scrapers;
 * METRICS_REQUIRE_TOKEN puts /metrics behind an admin token where strangers reach the port.
 */
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';

const Component = z.object({
  ok: z.boolean(),
  detail: z.string().optional(),
  /** while not ok: the failure's message */
  error: z.string().optional(),
  /** while not ok: when it began (RFC 3339) */
  since: z.string().optional(),
});
const Health = z.object({ ok: z.boolean(), components: z.record(z.string(), Component) });

export const opsRoutes: FastifyPluginAsyncZod = async (app) => {
  app.get('/healthz', {
    schema: {
      tags: ['ops'],
      summary: '200 when store, journal, alert engine, broker and HTTP are up (InfluxDB only degrades); 503 otherwise, naming the component, its error and since when',
      security: [],
      response: { 200: Health, 503: Health },
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
