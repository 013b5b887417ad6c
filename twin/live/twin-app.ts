/**
 * The twin's HTTP face (fastify, tested with inject): what the mirror sees and whether the plant has
 * drifted from the scenario the running actors were trained on.
 *
 * | route        | returns                                                        |
 * |--------------|----------------------------------------------------------------|
 * | /twin/state  | devices (last seen, online, counts, desired vs reported model), edge servers, uplink times |
 * | /twin/drift  | the drift report (statistics, threshold decision, lag)          |
 * | /twin/scenario | the scenario recalibrated to the live estimates              |
 */
import Fastify, { type FastifyInstance } from 'fastify';
import type { TwinMirror } from './mirror.ts';

export function registerTwinRoutes(app: FastifyInstance, mirror: TwinMirror): void {
  app.get('/twin/state', async () => ({
    devices: Object.fromEntries(mirror.devices),
    edges: Object.fromEntries(mirror.edges),
    uplinkSeconds: Object.fromEntries(mirror.uplink),
  }));
  app.get('/twin/drift', async () => mirror.drift());
  app.get('/twin/scenario', async () => mirror.recalibrated());
}

export function buildTwinApp(mirror: TwinMirror): FastifyInstance {
  const app = Fastify({ logger: false });
  app.get('/healthz', async () => ({ ok: true, lagMs: mirror.drift().lagMs }));
  registerTwinRoutes(app, mirror);
  return app;
}
