/**
 * The twin's HTTP face (fastify, tested with inject): what the mirror sees and whether the plant has
 * drifted from the scenario the running actors were trained on.
 *
 * | route        | returns                                                        |
 * |--------------|----------------------------------------------------------------|
 * | /twin/state  | devices (last seen, online, counts, desired vs reported model), services, edge servers, uplink times |
 * | /twin/drift  | the drift report (statistics, threshold decision, lag)          |
 * | /twin/scenario | the scenario recalibrated to the live estimates              |
 * | /metrics     | Prometheus: drift statistics, retraining outcomes (metrics.ts) |
 * | POST /twin/retrain | start a retraining cycle (202), or 409 while one runs; GET: history |
 */
import Fastify, { type FastifyInstance } from 'fastify';
import type { TwinMirror } from './mirror.ts';
import type { Retrainer } from './retrainer.ts';
import { twinMetrics } from './metrics.ts';

export function registerTwinRoutes(app: FastifyInstance, mirror: TwinMirror): void {
  app.get('/twin/state', async () => ({
    devices: Object.fromEntries(mirror.devices),
    services: Object.fromEntries(mirror.services),
    edges: Object.fromEntries(mirror.edges),
    uplinkSeconds: Object.fromEntries(mirror.uplink),
  }));
  app.get('/twin/drift', async () => mirror.drift());
  app.get('/twin/scenario', async () => mirror.recalibrated());
}

/** POST /twin/retrain (202, or 409 while a cycle runs) and GET /twin/retrain (running, history). */
export function registerRetrainRoutes(app: FastifyInstance, retrainer: Retrainer): void {
  app.post('/twin/retrain', async (_req, reply) => {
    if (retrainer.running) return reply.code(409).send({ error: 'a retraining cycle is running' });
    retrainer.background('on demand'); // the outcome lands in GET /twin/retrain (history or failures)
    return reply.code(202).send({ started: true });
  });
  app.get('/twin/retrain', async () => ({ running: Boolean(retrainer.running), history: retrainer.history, failures: retrainer.failures }));
}

export function buildTwinApp(mirror: TwinMirror, retrainer?: Retrainer): FastifyInstance {
  const app = Fastify({ logger: false });
  app.get('/healthz', async () => ({ ok: true, lagMs: mirror.drift().lagMs }));
  const registry = twinMetrics(mirror, retrainer);
  app.get('/metrics', async (_req, reply) => reply.type(registry.contentType).send(await registry.metrics()));
  registerTwinRoutes(app, mirror);
  if (retrainer) registerRetrainRoutes(app, retrainer);
  return app;
}
