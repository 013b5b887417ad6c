// /healthz and /metrics, through fastify's inject.
import t from 'tap';
import { Registry } from 'prom-client';
import { runtimeMetrics } from '../../protocol/observability.ts';
import { buildApp } from '../../protocol/health-app.ts';

t.test('health and Prometheus metrics', async (t) => {
  const registry = new Registry();
  const metrics = runtimeMetrics(registry, 'gmel_test');
  metrics.rejected.inc({ reason: 'schema' });
  metrics.latency.observe(0.3);
  let ok = true;
  const more = new Registry();
  runtimeMetrics(more, 'gmel_other').received.inc({ kind: 'task' });
  const app = buildApp({ registry, health: () => ({ ok, slot: 12 }), more: { 'edge-1': more } });
  const healthy = await app.inject({ method: 'GET', url: '/healthz' });
  t.equal(healthy.statusCode, 200);
  t.same(healthy.json(), { ok: true, slot: 12 });
  ok = false;
  t.equal((await app.inject({ method: 'GET', url: '/healthz' })).statusCode, 503, 'unhealthy → 503');
  const text = (await app.inject({ method: 'GET', url: '/metrics' })).body;
  t.match(text, /# TYPE gmel_test_messages_rejected_total counter/);
  t.match(text, /gmel_test_messages_rejected_total\{reason="schema"\} 1/);
  t.match(text, /gmel_test_task_latency_seconds_bucket\{le="0\.5"\} 1/);
  t.match((await app.inject({ method: 'GET', url: '/metrics/edge-1' })).body, /gmel_other_messages_received_total\{kind="task"\} 1/);
  t.equal((await app.inject({ method: 'GET', url: '/metrics/nope' })).statusCode, 404);
  await app.close();
});
