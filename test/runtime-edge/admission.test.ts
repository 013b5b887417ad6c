// An edge server admits only offloads a gateway of this plant could have sent (issue #10, defect 6):
// sizes and densities within the declared ranges, a deadline within the declared maximum of the task's
// creation, a creation within the clock-skew bound; and no more queued tasks from one IED than its
// arrival process can have alive at once. Hostile offloads are refused with a code and counted; the
// server keeps serving legitimate ones.
import t from 'tap';
import pino from 'pino';
import type { MqttClient } from 'mqtt';
import type { Registry } from 'prom-client';
import { loadScenario } from '../../core/scenario/load.ts';
import { systemClock, PLANT_EPOCH_MS } from '../../protocol/clock.ts';
import { topics } from '../../protocol/topics.ts';
import { MAX_CLOCK_SKEW_MS } from '../../protocol/refusals.ts';
import type { Offload, Result } from '../../protocol/messages.ts';
import { EdgeServerRuntime } from '../../runtime-edge/edge-server.ts';
import { admitOffload, edgeQueueCap } from '../../runtime-edge/admission.ts';
import { startAedes, clientPool } from '../helpers/brokers.ts';

const scenario = loadScenario('gmel2024', { ieds: 4 });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function rejected(rt: { registry: Registry }, code: string): Promise<number> {
  const metric = (await rt.registry.getMetricsAsJSON()).find((m) => m.name === 'gmel_edge_messages_rejected_total');
  return metric?.values.filter((v) => v.labels.reason === code).reduce((a, v) => a + v.value, 0) ?? 0;
}

async function until(cond: () => boolean, ms: number): Promise<void> {
  for (const end = Date.now() + ms; Date.now() < end && !cond(); ) await sleep(25);
}

async function rig() {
  const broker = await startAedes();
  const { connect, endAll } = clientPool(broker.url);
  const edge = await EdgeServerRuntime.create({ scenario, edgeServerId: 1, mqtt: await connect('edge-1'), clock: systemClock, epochMs: PLANT_EPOCH_MS, logger: pino({ level: 'silent' }) });
  const pub: MqttClient = await connect('pub');
  const results = new Map<string, Result[]>();
  pub.on('message', (_topic, payload) => {
    const r = JSON.parse(payload.toString()) as Result;
    results.set(r.taskId, [...(results.get(r.taskId) ?? []), r]);
  });
  await pub.subscribeAsync('gmel/v1/ied/+/edge-result/+', { qos: 1 });
  return {
    edge, pub, results,
    async close() {
      await edge.close();
      await endAll();
      await broker.close();
    },
  };
}

const offload = (taskId: string, over: Partial<Offload> = {}): Offload => {
  const now = Date.now();
  return { v: 1, taskId, iedId: 0, edgeServerId: 1, sizeMbit: 10, density: 0.03, createdAt: now, deadlineAt: now + 2000, uploadedAt: now, ...over };
};
const send = (pub: MqttClient, o: Offload) => pub.publishAsync(topics.offload(1), JSON.stringify(o), { qos: 1 });

t.test('50 hostile offloads do not stall an edge server', { timeout: 30_000 }, async (t) => {
  const r = await rig();
  const now = Date.now();
  // the flood: the largest task the schema allows, with an hour to finish
  for (let k = 0; k < 50; k++) await send(r.pub, offload(`hostile-${k}`, { sizeMbit: 1e4, density: 1e3, deadlineAt: now + 3_600_000 }));
  await send(r.pub, offload('far-future', { createdAt: 11795966313051, deadlineAt: 11795966314551, uploadedAt: 11795966313051 }));
  await send(r.pub, offload('stale', { createdAt: now - 60_000, deadlineAt: now - 58_000, uploadedAt: now - 59_000 }));
  await send(r.pub, offload('long-deadline', { deadlineAt: now + (scenario.task.deadlineSeconds.max * 1000 + MAX_CLOCK_SKEW_MS + 1000) }));
  await send(r.pub, offload('too-large', { sizeMbit: scenario.task.sizeMbit.max * 1.01 }));
  const legit = [offload('legit-0'), offload('legit-1', { iedId: 1 }), offload('legit-2', { sizeMbit: 40, density: 0.0625, deadlineAt: Date.now() + 2500 })];
  for (const o of legit) await send(r.pub, o);
  await until(() => legit.every((o) => r.results.has(o.taskId)), 5000);
  t.equal(await rejected(r.edge, 'out-of-range'), 52, 'size, density, deadline beyond the plant: out-of-range');
  t.equal(await rejected(r.edge, 'clock-skew'), 1, 'created far in the future: clock-skew');
  t.equal(await rejected(r.edge, 'stale'), 1, 'its deadline passed long ago: stale');
  t.same(legit.map((o) => r.results.get(o.taskId)?.map((x) => x.outcome)), [['completed'], ['completed'], ['completed']], 'legitimate offloads are served, behind the flood');
  t.same([...r.results.keys()].sort(), legit.map((o) => o.taskId).sort(), 'no result for a refused offload');
  t.ok(r.edge.health().ok, 'healthy');
  await r.close();
});

t.test('per-IED fairness: one IED cannot fill an edge server', { timeout: 30_000 }, async (t) => {
  const r = await rig();
  const cap = edgeQueueCap(scenario);
  t.equal(cap, 26, 'ceil(2.5 s / 0.1 s) + 1: a Bernoulli IED has at most 26 tasks alive at once');
  // the largest legitimate tasks, in one burst from IED 1: the first `cap` queue, the rest are refused
  const burst = Array.from({ length: cap + 5 }, (_, k) => offload(`burst-${k}`, { iedId: 1, sizeMbit: 40, density: 0.0625, deadlineAt: Date.now() + 2500 }));
  await Promise.all(burst.map((o) => send(r.pub, o)));
  await send(r.pub, offload('other-ied', { iedId: 2 }));
  await until(() => r.results.has('other-ied'), 4000);
  t.equal(await rejected(r.edge, 'queue-full'), 5, 'beyond the cap: queue-full');
  t.same(r.results.get('other-ied')?.map((x) => x.outcome), ['completed'], 'another IED is still served');
  await until(() => r.results.size >= cap + 1, 6000);
  t.equal(r.results.size, cap + 1, 'every admitted offload reaches an outcome, refused ones none');
  // once IED 1's queue has drained, it is admitted again
  await send(r.pub, offload('after', { iedId: 1 }));
  await until(() => r.results.has('after'), 3000);
  t.same(r.results.get('after')?.map((x) => x.outcome), ['completed'], 'admitted again once its queue drained');
  await r.close();
});

t.test('admitOffload at the bounds', async (t) => {
  const now = 1_800_000_000_000;
  const at = (over: Partial<Offload>) => offload('a', { createdAt: now, deadlineAt: now + 2000, uploadedAt: now, ...over });
  const none = () => 0;
  t.equal(admitOffload(at({}), scenario, now, none), undefined);
  t.equal(admitOffload(at({ createdAt: now + MAX_CLOCK_SKEW_MS, deadlineAt: now + MAX_CLOCK_SKEW_MS + 1000 }), scenario, now, none), undefined, 'exactly the skew ahead');
  t.equal(admitOffload(at({ createdAt: now + MAX_CLOCK_SKEW_MS + 1, deadlineAt: now + MAX_CLOCK_SKEW_MS + 1000 }), scenario, now, none)?.code, 'clock-skew');
  t.equal(admitOffload(at({ createdAt: now - 8000, deadlineAt: now - MAX_CLOCK_SKEW_MS }), scenario, now, none), undefined, 'deadline exactly the skew ago');
  t.equal(admitOffload(at({ createdAt: now - 8000, deadlineAt: now - MAX_CLOCK_SKEW_MS - 1 }), scenario, now, none)?.code, 'stale');
  t.equal(admitOffload(at({ deadlineAt: now - 1 }), scenario, now, none)?.code, 'invalid', 'a deadline before creation');
  t.equal(admitOffload(at({ deadlineAt: now + 2500 + MAX_CLOCK_SKEW_MS }), scenario, now, none), undefined, 'the longest deadline (+ the skew)');
  t.equal(admitOffload(at({ deadlineAt: now + 2500 + MAX_CLOCK_SKEW_MS + 1 }), scenario, now, none)?.code, 'out-of-range');
  t.equal(admitOffload(at({ sizeMbit: 40, density: 0.0625 }), scenario, now, none), undefined, 'the declared maxima');
  t.equal(admitOffload(at({ density: 0.0626 }), scenario, now, none)?.code, 'out-of-range');
  t.equal(admitOffload(at({ iedId: 4 }), scenario, now, none)?.code, 'unknown-ied');
  t.equal(admitOffload(at({}), scenario, now, () => edgeQueueCap(scenario) - 1), undefined, 'one place left');
  t.equal(admitOffload(at({}), scenario, now, () => edgeQueueCap(scenario))?.code, 'queue-full');
  t.equal(edgeQueueCap(loadScenario('gmel2024', { 'arrivals.process': 'poisson', 'arrivals.probability': 1.2 })), 65, 'Poisson arrivals: mean 31.2 over 26 slots + 6σ');
  t.equal(edgeQueueCap(loadScenario('gmel2024', { 'arrivals.process': 'poisson' })), 26, 'Poisson 0.3: never below the Bernoulli cap');
});
