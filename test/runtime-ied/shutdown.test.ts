// A gateway asked to stop: it refuses new tasks, lets the accepted ones reach their outcomes, reports
// any still open as dropped, and every accepted task gets exactly one result.
import t from 'tap';
import pino from 'pino';
import { loadScenario } from '../../core/scenario/load.ts';
import { systemClock, PLANT_EPOCH_MS } from '../../protocol/clock.ts';
import { IedGatewayRuntime } from '../../runtime-ied/gateway.ts';
import { EdgeServerRuntime } from '../../runtime-edge/edge-server.ts';
import { loadModelHandle, releaseModel } from '../../runtime-ied/model-loader.ts';
import { topics } from '../../protocol/topics.ts';
import { startAedes, clientPool } from '../helpers/brokers.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

for (const [label, drainMs] of [['with time to drain', 6000], ['without time to drain', 0]] as const) {
  t.test(`gateway.close(), ${label}: one result per accepted task, no task accepted after`, { timeout: 30_000 }, async (t) => {
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
    t.notOk(decided.has('late') || results.has('late'), 'the task announced during shutdown was not accepted');
    if (drainMs === 0) t.ok([...results.values()].length === accepted.length, 'open tasks reported dropped at once');
    for (const e of edges) await e.close();
    await releaseModel(gateway.currentModel);
    await endAll();
    await broker.close();
  });
}
