// Every runtime's Prometheus metrics (issue #13): names that follow Prometheus' naming rules, the
// process/Node.js defaults, the running model as an info metric, backlog gauges, action names as
// labels, and the twin's drift statistics.
import t from 'tap';
import pino from 'pino';
import { loadScenario } from '../../core/scenario/load.ts';
import { PLANT_EPOCH_MS, systemClock } from '../../protocol/clock.ts';
import { topics } from '../../protocol/topics.ts';
import { encode } from '../../protocol/codec.ts';
import { IedGatewayRuntime } from '../../runtime-ied/gateway.ts';
import { loadModelHandle, releaseModel } from '../../runtime-ied/model-loader.ts';
import { EdgeServerRuntime } from '../../runtime-edge/edge-server.ts';
import { TwinMirror } from '../../twin/mirror.ts';
import { twinMetrics } from '../../twin/metrics.ts';
import { startAedes, clientPool } from '../helpers/brokers.ts';

/** Prometheus' rules (prometheus.io/docs/practices/naming): the charset; _total for counters only; base units. */
function namingProblems(exposition: string): string[] {
  const problems: string[] = [];
  const types = new Map([...exposition.matchAll(/^# TYPE (\S+) (\S+)$/gm)].map((m) => [m[1] as string, m[2] as string]));
  for (const [name, type] of types) {
    // prom-client's own defaults keep the names every Node exporter uses (nodejs_active_handles_total is a gauge there)
    if (!name.startsWith('gmel_') && /^[a-zA-Z_:][a-zA-Z0-9_:]*$/.test(name)) continue;
    if (!/^[a-zA-Z_:][a-zA-Z0-9_:]*$/.test(name)) problems.push(`${name}: not a valid metric name`);
    if (type === 'counter' && !name.endsWith('_total')) problems.push(`${name}: a counter must end in _total`);
    if (type !== 'counter' && name.endsWith('_total')) problems.push(`${name}: only counters end in _total`);
    if (/_(ms|milliseconds|mbit|mb|kb|minutes)(_|$)/.test(name)) problems.push(`${name}: not in base units (seconds, bytes)`);
  }
  return problems;
}

t.test('metric names follow Prometheus\' rules, with the defaults and the gateway\'s own', { timeout: 60_000 }, async (t) => {
  const scenario = loadScenario('gmel2024', { ieds: 2, edgeServers: 2 });
  const broker = await startAedes();
  const { connect, endAll } = clientPool(broker.url);
  const logger = pino({ level: 'silent' });
  const model = await loadModelHandle('models/gmel2024-amarl', loadScenario('gmel2024'), [0, 1], 'node');
  const big = loadScenario('gmel2024');
  const gateway = await IedGatewayRuntime.create({ scenario: big, iedIds: [0, 1], model, mqtt: await connect('gw'), clock: systemClock, epochMs: PLANT_EPOCH_MS, logger });
  const edge = await EdgeServerRuntime.create({ scenario: big, edgeServerId: 1, mqtt: await connect('edge'), clock: systemClock, epochMs: PLANT_EPOCH_MS, logger });
  const pub = await connect('pub');
  await pub.publishAsync(topics.task(0), encode('task', { v: 1, taskId: 'm-1', iedId: 0, sizeMbit: 10, density: 0.03, deadlineSeconds: 1.5, createdAt: Date.now() }), { qos: 1 });
  for (let k = 0; k < 40 && !(await gateway.registry.getSingleMetricAsString('gmel_ied_decisions_total')).includes('action="'); k++) await new Promise((r) => setTimeout(r, 50));
  const mirror = new TwinMirror({ scenario, epochMs: PLANT_EPOCH_MS, now: () => Date.now() });
  const scraped = { gateway: await gateway.registry.metrics(), edge: await edge.registry.metrics(), twin: await twinMetrics(mirror).metrics() };
  for (const [name, text] of Object.entries(scraped)) {
    t.same(namingProblems(text), [], `${name}: every name follows the rules`);
    t.match(text, /^process_cpu_user_seconds_total /m, `${name}: process_* defaults`);
    t.match(text, /^nodejs_eventloop_lag_seconds /m, `${name}: nodejs_* defaults`);
  }
  t.match(scraped.gateway, new RegExp(`^gmel_model_info\\{version="${model.version}",encoder="gmel-obs/\\d+"\\} 1$`, 'm'), 'the running model as an info metric');
  t.match(scraped.gateway, /^gmel_ied_decisions_total\{action="(local|edge-\d)"\} 1$/m, 'decisions labelled by action name');
  t.match(scraped.gateway, /^gmel_ied_open_tasks /m, 'open-task gauge');
  t.match(scraped.edge, /^gmel_edge_queued_tasks /m, 'edge queue gauge');
  t.match(scraped.edge, /^gmel_edge_backlog_bytes /m, 'edge backlog gauge in bytes');
  t.match(scraped.twin, /^gmel_twin_drift 0$/m, 'the twin\'s verdict');
  t.match(scraped.twin, /^gmel_twin_arrival_probability\{source="trained"\} 0\.3$/m, 'the trained arrival rate beside the live one');
  // the checker itself can fail
  t.same(namingProblems('# TYPE gmel_foo_ms gauge\n# TYPE gmel_bar counter\n# TYPE gmel_baz_total gauge\n'), ['gmel_foo_ms: not in base units (seconds, bytes)', 'gmel_bar: a counter must end in _total', 'gmel_baz_total: only counters end in _total']);
  await gateway.close();
  await edge.close();
  await releaseModel(model);
  await endAll();
  await broker.close();
});
