// A gateway asked to stop: it lets the accepted tasks reach their outcomes (and serves those that
// arrive meanwhile), reports any still open as dropped, and every accepted task, a late one too, gets
// exactly one result. With a journal, what is still open is left to the gateway's next process.
import t from 'tap';
import pino from 'pino';
import { loadScenario } from '../../core/scenario/load.ts';
import { systemClock, PLANT_EPOCH_MS } from '../../protocol/clock.ts';
import { IedGatewayRuntime } from '../../runtime-ied/gateway.ts';
import { EdgeServerRuntime } from '../../runtime-edge/edge-server.ts';
import { loadModelHandle, releaseModel } from '../../runtime-ied/model-loader.ts';
import { topics } from '../../protocol/topics.ts';
import { startAedes, clientPool } from '../helpers/brokers.ts';
import { TaskJournal } from '../../runtime-ied/journal.ts';
import { connectMqtt, endAfterAcks } from '../../protocol/mqtt.ts';
import { offloadingModel } from '../helpers/models.ts';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

for (const [label, drainMs] of [['with time to drain', 6000], ['without time to drain', 0]] as const) {
  t.test(`gateway.close(), ${label}: one result per accepted task, the late one too`, { timeout: 30_000 }, async (t) => {
    const scenario = loadScenario('gmel2024', { ieds: 4 });
    const logger = pino({ level: 'silent' });
    const broker = await startAedes();
    const { connect, endAll } = clientPool(broker.url);
    const edges = [];
    for (let m = 1; m <= scenario.edgeServers; m++) edges.push(await EdgeServerRuntime.create({ scenario, edgeServerId: m, mqtt: await connect(`edge-${m}`), clock: systemClock, epochMs: PLANT_EPOCH_MS, logger }));
    const gateway = await IedGatewayRuntime.create({ scenario, iedIds: [0, 1, 2, 3], model: await loadModelHandle('models/gmel2024-amarl', scenario, [0, 1, 2, 3], 'node'), mqtt: await connect('gw'), clock: systemClock, epochMs: PLANT_EPOCH_MS, logger });
    const pub = await connect('pub');
    const results = new Map<string, number>();
    const decided = new Set<string>();
    pub.on('message', (topic, payload) => {
      const { taskId } = JSON.parse(payload.toString()) as { taskId: string };
      if (topic.endsWith('/decision')) decided.add(taskId);
      else results.set(taskId, (results.get(taskId) ?? 0) + 1);
    });
    await pub.subscribeAsync(['gmel/v1/ied/+/result', 'gmel/v1/ied/+/decision'], { qos: 1 });
    const task = (taskId: string, i: number) => pub.publishAsync(topics.task(i), JSON.stringify({ v: 1, taskId, iedId: i, sizeMbit: 30, density: 0.06, deadlineSeconds: 2.5, createdAt: Date.now() }), { qos: 1 });
    const accepted = Array.from({ length: 12 }, (_, k) => `a-${k}`);
    for (const [k, id] of accepted.entries()) await task(id, k % 4);
    for (let k = 0; k < 40 && decided.size < accepted.length; k++) await sleep(25);
    const closing = gateway.close({ drainMs });
    await task('late', 0); // arrives while the gateway drains
    await closing;
    await sleep(300);
    t.same(accepted.filter((id) => results.get(id) !== 1), [], 'every accepted task has exactly one result');
    t.equal(results.get('late'), 1, 'the task announced during shutdown has exactly one result');
    if (drainMs > 0) t.ok(decided.has('late'), 'while draining, it was decided as usual');
    else t.notOk(decided.has('late'), 'after the drain, it was reported dropped undecided');
    if (drainMs === 0) t.equal(results.size, accepted.length + 1, 'open tasks reported dropped at once');
    for (const e of edges) await e.close();
    await releaseModel(gateway.currentModel);
    await endAll();
    await broker.close();
  });
}

t.test('with a journal, close() leaves open tasks to the next process; tasks of IEDs it no longer serves are reported', { timeout: 30_000 }, async (t) => {
  const scenario = loadScenario('gmel2024', { ieds: 4 });
  const logger = pino({ level: 'silent' });
  const broker = await startAedes();
  const { connect, endAll } = clientPool(broker.url);
  const dir = mkdtempSync(join(tmpdir(), 'gmel-close-journal-'));
  const pub = await connect('pub');
  const results = new Map<string, string[]>();
  pub.on('message', (_topic, payload) => {
    const r = JSON.parse(payload.toString()) as { taskId: string; outcome: string; stage: string };
    results.set(r.taskId, [...(results.get(r.taskId) ?? []), `${r.outcome} ${r.stage}`]);
  });
  await pub.subscribeAsync('gmel/v1/ied/+/result', { qos: 1 });
  const gateway = async (iedIds: number[]) => {
    const journal = TaskJournal.open({ dir, clock: systemClock });
    const model = await loadModelHandle('models/gmel2024-amarl', scenario, iedIds, 'node');
    const rt = await IedGatewayRuntime.create({ scenario, iedIds, model, mqtt: await connect(`gw-${iedIds.join('')}`), clock: systemClock, epochMs: PLANT_EPOCH_MS, logger, journal });
    return { rt, journal: journal.journal, recovered: journal.recovered };
  };
  const first = await gateway([0, 1, 2, 3]);
  const ids = Array.from({ length: 8 }, (_, k) => `j-${k}`);
  for (const [k, id] of ids.entries()) await pub.publishAsync(topics.task(k % 4), JSON.stringify({ v: 1, taskId: id, iedId: k % 4, sizeMbit: 30, density: 0.06, deadlineSeconds: 2.5, createdAt: Date.now() }), { qos: 1 });
  for (let k = 0; k < 40 && first.journal.size < ids.length; k++) await sleep(25);
  await first.rt.close({ drainMs: 0 }); // no edge servers: the tasks are pending, local, uplink or offloaded
  await sleep(200);
  const reportedAtClose = [...results.keys()].length;
  first.journal.close();
  await releaseModel(first.rt.currentModel);
  const second = await gateway([0, 1]); // IEDs 2 and 3 have moved to another gateway
  t.equal(second.recovered.open.length + second.recovered.unsettled.length, ids.length - reportedAtClose, 'the next process found every task not yet reported');
  for (let k = 0; k < 200 && ids.some((id) => !results.has(id)); k++) await sleep(50);
  t.same(ids.filter((id) => results.get(id)?.length !== 1).map((id) => `${id}: ${results.get(id)?.join(', ') ?? 'none'}`), [], 'every task has exactly one result over the two processes');
  t.ok(ids.filter((_, k) => k % 4 >= 2).every((id) => results.get(id)?.[0]?.startsWith('dropped')), 'the tasks of IEDs 2 and 3 were reported dropped by the journal that accepted them');
  await second.rt.close({ drainMs: 0 });
  second.journal.close();
  await releaseModel(second.rt.currentModel);
  await endAll();
  await broker.close();
});

t.test('with a journal, an edge result that arrives after close() still reaches its one result', { timeout: 30_000 }, async (t) => {
  const scenario = loadScenario('gmel2024', { ieds: 2 });
  const logger = pino({ level: 'silent' });
  const broker = await startAedes();
  const { connect, endAll } = clientPool(broker.url);
  const dir = mkdtempSync(join(tmpdir(), 'gmel-close-edge-'));
  const pub = await connect('pub-edge');
  const results = new Map<string, string[]>();
  const offloads: string[] = [];
  pub.on('message', (topic, payload) => {
    const m = JSON.parse(payload.toString()) as { taskId: string; outcome: string; stage: string };
    if (topic.endsWith('/offload')) offloads.push(m.taskId);
    else results.set(m.taskId, [...(results.get(m.taskId) ?? []), `${m.outcome} ${m.stage}`]);
  });
  await pub.subscribeAsync(['gmel/v1/ied/+/result', 'gmel/v1/edge/+/offload'], { qos: 1 });
  const start = async () => {
    const opened = TaskJournal.open({ dir, clock: systemClock });
    const mqtt = await connectMqtt({ url: broker.url, clientId: 'gw-edge-close', ackAfterListen: true });
    const rt = await IedGatewayRuntime.create({ scenario, iedIds: [0, 1], model: await offloadingModel([0, 1]), mqtt, clock: systemClock, epochMs: PLANT_EPOCH_MS, logger, journal: opened });
    return { rt, mqtt, journal: opened.journal };
  };
  const first = await start();
  for (const [k, id] of ['e-a', 'e-b'].entries()) await pub.publishAsync(topics.task(k), JSON.stringify({ v: 1, taskId: id, iedId: k, sizeMbit: 2, density: 0.01, deadlineSeconds: 2.5, createdAt: Date.now() }), { qos: 1 });
  for (let k = 0; k < 100 && offloads.length < 2; k++) await sleep(25);
  t.same(offloads.sort(), ['e-a', 'e-b'], 'both tasks were offloaded to edge server 1');
  await first.rt.close({ drainMs: 0 });
  // edge server 1 answers for e-a while the gateway is shutting down (before its connection ends)
  await pub.publishAsync(topics.edgeResult(0, 1), JSON.stringify({ v: 1, taskId: 'e-a', iedId: 0, outcome: 'completed', stage: 'edge', latencySeconds: 0.3, at: Date.now(), edgeServerId: 1 }), { qos: 1 });
  await sleep(200);
  await endAfterAcks(first.mqtt, () => first.rt.unsent);
  first.journal.close();
  const second = await start(); // e-b: still awaiting its edge result; the watchdog reports it after deadline + grace
  for (let k = 0; k < 300 && !(results.has('e-a') && results.has('e-b')); k++) await sleep(25);
  t.same(results.get('e-a'), ['completed edge'], 'the edge result that came after close() is the task\'s one result');
  t.same(results.get('e-b'), ['dropped edge'], 'the other offload, never answered, is reported by the next process\'s watchdog, once');
  await second.rt.close({ drainMs: 0 });
  await endAfterAcks(second.mqtt, () => second.rt.unsent);
  second.journal.close();
  await endAll();
  await broker.close();
});

t.test('without a journal, a task that arrives while the connection ends gets one result, here or from the next process', { timeout: 30_000 }, async (t) => {
  const scenario = loadScenario('gmel2024', { ieds: 1 });
  const logger = pino({ level: 'silent' });
  const broker = await startAedes();
  const { connect, endAll } = clientPool(broker.url);
  const pub = await connect('pub-late');
  const results = new Map<string, number>();
  pub.on('message', (_topic, payload) => {
    const { taskId } = JSON.parse(payload.toString()) as { taskId: string };
    results.set(taskId, (results.get(taskId) ?? 0) + 1);
  });
  await pub.subscribeAsync('gmel/v1/ied/+/result', { qos: 1 });
  const start = async () => {
    const mqtt = await connectMqtt({ url: broker.url, clientId: 'gw-late' });
    const model = await loadModelHandle('models/gmel2024-amarl', scenario, [0], 'node');
    return { mqtt, model, rt: await IedGatewayRuntime.create({ scenario, iedIds: [0], model, mqtt, clock: systemClock, epochMs: PLANT_EPOCH_MS, logger }) };
  };
  const first = await start();
  await first.rt.close({ drainMs: 0 });
  const late = Array.from({ length: 5 }, (_, k) => `late-${k}`);
  const sent = Promise.all(late.map((id) => pub.publishAsync(topics.task(0), JSON.stringify({ v: 1, taskId: id, iedId: 0, sizeMbit: 5, density: 0.02, deadlineSeconds: 2.5, createdAt: Date.now() }), { qos: 1 })));
  await endAfterAcks(first.mqtt, () => first.rt.unsent); // the tasks arrive before, during or after this
  await sent;
  await releaseModel(first.model);
  const second = await start(); // the same persistent session: what the first did not acknowledge comes here
  for (let k = 0; k < 200 && late.some((id) => !results.has(id)); k++) await sleep(25);
  await sleep(300);
  t.same(late.filter((id) => results.get(id) !== 1).map((id) => `${id}: ${results.get(id) ?? 0}`), [], 'each late task has exactly one result');
  await second.rt.close({ drainMs: 0 });
  await endAfterAcks(second.mqtt, () => second.rt.unsent);
  await releaseModel(second.model);
  await endAll();
  await broker.close();
});
