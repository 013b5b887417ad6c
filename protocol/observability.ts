/**
 * /healthz and /metrics (Prometheus text) for every runtime: a fastify app factory, tested with inject.
 */
import Fastify, { type FastifyInstance } from 'fastify';
import { Registry, Counter, Gauge, Histogram } from 'prom-client';
import type { RefusalCode } from './refusals.ts';

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

/** The counters every runtime keeps, named gmel_<runtime>_…; inbound errors are labelled by codec code. */
export function runtimeMetrics(registry: Registry, prefix: string) {
  return {
    received: new Counter({ name: `${prefix}_messages_received_total`, help: 'inbound messages by kind', labelNames: ['kind'], registers: [registry] }),
    rejected: new Counter({ name: `${prefix}_messages_rejected_total`, help: 'inbound messages refused, by reason', labelNames: ['reason'], registers: [registry] }),
    outcomes: new Counter({ name: `${prefix}_task_outcomes_total`, help: 'task outcomes by result and stage', labelNames: ['outcome', 'stage'], registers: [registry] }),
    connected: new Gauge({ name: `${prefix}_broker_connected`, help: '1 while connected to the broker', registers: [registry] }),
    latency: new Histogram({ name: `${prefix}_task_latency_seconds`, help: 'latency of completed tasks', buckets: [0.1, 0.2, 0.5, 1, 1.5, 2, 2.5, 5], registers: [registry] }),
  };
}
export type RuntimeMetrics = ReturnType<typeof runtimeMetrics>;

/** Count one refused message under its code (refusals.ts). */
export function countRefusal(metrics: RuntimeMetrics, code: RefusalCode): void {
  metrics.rejected.inc({ reason: code });
}
export { Registry };
