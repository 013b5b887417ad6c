/**
 * /healthz and /metrics (Prometheus text) for every runtime: a fastify app factory, tested with inject.
 * Kept apart from observability.ts so a gateway loads fastify only when it starts serving (after it
 * can already decide: its cold start does not wait for the web framework).
 */
import Fastify, { type FastifyInstance } from 'fastify';
import type { Registry } from 'prom-client';

export interface HealthReport {
  readonly ok: boolean;
  readonly [key: string]: unknown;
}

export interface ObservabilityOptions {
  readonly registry: Registry;
  readonly health: () => HealthReport;
  /** more registries under /metrics/{name} (several runtimes in one process, e.g. `gmel up`) */
  readonly more?: Readonly<Record<string, Registry>>;
}

export function buildApp(opts: ObservabilityOptions): FastifyInstance {
  const app = Fastify({ logger: false });
  app.get('/healthz', async (_req, reply) => {
    const report = opts.health();
    return reply.code(report.ok ? 200 : 503).send(report);
  });
  app.get('/metrics', async (_req, reply) => reply.type(opts.registry.contentType).send(await opts.registry.metrics()));
  app.get<{ Params: { name: string } }>('/metrics/:name', async (req, reply) => {
    const registry = opts.more?.[req.params.name];
    if (!registry) return reply.code(404).send({ error: `no metrics "${req.params.name}"`, known: Object.keys(opts.more ?? {}) });
    return reply.type(registry.contentType).send(await registry.metrics());
  });
  return app;
}

