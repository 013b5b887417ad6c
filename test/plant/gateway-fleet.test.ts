// `gmel up --gateways N`: the plant's IEDs split over N gateway runtimes, each serving one contiguous
// range and hearing the others' band reports; the KPI monitor and the twin follow the whole fleet.
import t from 'tap';
import pino from 'pino';
import mqtt from 'mqtt';
import { loadScenario } from '../../core/scenario/load.ts';
import { startPlant } from '../../plant/live-plant.ts';
import { gatewayRanges } from '../../plant/gateway-ranges.ts';
import { subscriptions, topics } from '../../protocol/topics.ts';
import { startAedes } from '../helpers/brokers.ts';
import { metricTotal } from '../helpers/metrics.ts';

t.test('the IEDs split into contiguous ranges, as equal as can be', async (t) => {
  t.same(gatewayRanges(10, 3), [[0, 1, 2, 3], [4, 5, 6], [7, 8, 9]]);
  t.same(gatewayRanges(4, 1), [[0, 1, 2, 3]]);
  t.same(gatewayRanges(3, 3), [[0], [1], [2]]);
  for (const n of [0, 4, 1.5, Number.NaN]) t.throws(() => gatewayRanges(3, n), /gateways must be an integer in 1\.\.3/, `refused: ${n}`);
  t.throws(() => gatewayRanges(1000, 65), /at most 64/);
});

t.test('a plant of 3 gateways: each task reaches one gateway, one decision and one outcome; KPIs and twin see them all', async (t) => {
  const broker = await startAedes();
  t.teardown(() => broker.close());
  const observer = await mqtt.connectAsync(broker.url, { clientId: `fleet-observer-${Date.now()}` });
  const decisions = new Map<string, number>();
  const outcomes = new Map<string, number>();
  const bandsBySender = new Map<string, number>(); // band topic: gmel/v1/band/{the sender's first IED}
  observer.on('message', (topic, payload) => {
    if (topic.includes('/band/')) return void bandsBySender.set(topic, (bandsBySender.get(topic) ?? 0) + 1);
    const map = topic.endsWith('/decision') ? decisions : outcomes;
    const id = (JSON.parse(payload.toString()) as { taskId: string }).taskId;
    map.set(id, (map.get(id) ?? 0) + 1);
  });
  await observer.subscribeAsync([subscriptions.allDecisions, subscriptions.allResults, subscriptions.allBands], { qos: 1 });
  const plant = await startPlant({ scenario: loadScenario('gmel2024', { ieds: 10 }), modelPath: 'models/gmel2024-amarl', brokerUrl: broker.url, logger: pino({ level: 'silent' }), gateways: 3 });
  await new Promise((r) => setTimeout(r, 4000));
  const announced = plant.emulator.announced;
  await plant.stop(true);
  await new Promise((r) => setTimeout(r, 200));
  await observer.endAsync();
  const perGateway = await Promise.all(plant.gateways.map(async (g) => ({ ieds: g.servedIeds, tasks: await metricTotal(g.metrics.received, 'kind', 'task'), bands: await metricTotal(g.metrics.received, 'kind', 'band'), decided: await metricTotal(g.metrics.decisions) })));
  t.same(perGateway.map((g) => g.ieds), gatewayRanges(10, 3), 'each gateway serves its range');
  t.ok(announced > 30, `tasks announced: ${announced}`);
  t.equal(perGateway.reduce((s, g) => s + g.tasks, 0), announced, `every task reached exactly one gateway (${perGateway.map((g) => g.tasks).join(' + ')})`);
  t.ok(perGateway.every((g) => g.decided > 0 && g.decided === g.tasks), 'each gateway decided every task it received');
  // a gateway also receives its own reports (the broker echoes them; BandPeers ignores them): it heard
  // the others' when it received more than it sent
  const sent = perGateway.map((g) => bandsBySender.get(topics.band(g.ieds[0] as number)) ?? 0);
  t.ok(sent.every((n) => n > 0), `each gateway published band reports (${sent.join(', ')})`);
  t.ok(perGateway.every((g, k) => g.bands > (sent[k] as number)), `each gateway heard the others' band reports (received ${perGateway.map((g) => g.bands).join(', ')})`);
  t.equal(decisions.size, announced, 'one decision per announced task');
  t.ok([...decisions.values()].every((n) => n === 1) && [...outcomes.values()].every((n) => n === 1), 'none decided or resolved twice');
  t.equal(outcomes.size, announced, 'one outcome per announced task');
  const kpi = plant.kpi.snapshot();
  t.same([kpi.announced, kpi.decisions, kpi.unresolved], [announced, announced, 0], 'the KPI monitor counts the whole fleet');
  t.equal(plant.mirror.drift().tasks, announced, "the twin's window holds every task of the fleet");
  const services = [...plant.mirror.services.keys()].filter((k) => k.startsWith('gateway-')).sort();
  t.same(services, ['gateway-0-3', 'gateway-4-6', 'gateway-7-9'], 'the twin lists the three gateways by their ranges');
});
