// Hostile or broken clients (issue #10): a gateway refuses tasks whose stamps or quantities lie outside
// the plant's bounds and edge results it cannot have asked for, each with a code, a count and a
// rate-limited log line; it never decides a refused task and keeps deciding legitimate ones.
import t from 'tap';
import pino from 'pino';
import type { MqttClient } from 'mqtt';
import { loadScenario } from '../../core/scenario/load.ts';
import { Rng } from '../../core/rng.ts';
import { systemClock, PLANT_EPOCH_MS } from '../../protocol/clock.ts';
import { topics } from '../../protocol/topics.ts';
import { MAX_CLOCK_SKEW_MS } from '../../protocol/refusals.ts';
import { REFUSAL_LOG_LINES } from '../../protocol/observability.ts';
import type { Result, TaskAnnouncement } from '../../protocol/messages.ts';
import { IedGatewayRuntime, type ModelHandle } from '../../runtime-ied/gateway.ts';
import { admitTask, checkEdgeResult } from '../../runtime-ied/admission.ts';
import { EdgeServerRuntime } from '../../runtime-edge/edge-server.ts';
import { loadModelHandle, releaseModel } from '../../runtime-ied/model-loader.ts';
import { createActorSession } from '../../runtime-ied/policy.ts';
import { actorToOnnx } from '../../trainer/export-onnx.ts';
import { startAedes, clientPool } from '../helpers/brokers.ts';
import { counter } from '../helpers/metrics.ts';
import type { Registry } from 'prom-client';
import { ENCODER_META, GMEL2024_SCALES, offloadingModel } from '../helpers/models.ts';

const scenario = loadScenario('gmel2024', { ieds: 4 });
const { sizeMbit, densityGcyclesPerMbit, deadlineSeconds } = scenario.task;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const rejected = (gw: { registry: Registry }, code: string) => counter(gw, 'gmel_ied_messages_rejected_total', code);

async function until(cond: () => boolean | Promise<boolean>, ms: number): Promise<void> {
  for (const end = Date.now() + ms; Date.now() < end && !(await cond()); ) await sleep(25);
}

/** A gateway serving IEDs 0 and 1 (with `edges` edge servers, 0: none), a client watching decisions and results, a captured log. */
async function rig(o: { model?: ModelHandle; edges?: number } = {}) {
  const broker = await startAedes();
  const { connect, endAll } = clientPool(broker.url);
  const lines: Record<string, unknown>[] = [];
  const logger = pino({ level: 'warn' }, { write: (s: string) => void lines.push(JSON.parse(s) as Record<string, unknown>) });
  const edges: EdgeServerRuntime[] = [];
  for (let m = 1; m <= (o.edges ?? scenario.edgeServers); m++)
    edges.push(await EdgeServerRuntime.create({ scenario, edgeServerId: m, mqtt: await connect(`edge-${m}`), clock: systemClock, epochMs: PLANT_EPOCH_MS, logger: pino({ level: 'silent' }) }));
  const model = o.model ?? (await loadModelHandle('models/gmel2024-amarl', scenario, [0, 1], 'node'));
  const gateway = await IedGatewayRuntime.create({ scenario, iedIds: [0, 1], model, mqtt: await connect('gw'), clock: systemClock, epochMs: PLANT_EPOCH_MS, logger });
  const pub: MqttClient = await connect('pub');
  const decisions = new Map<string, number>();
  const results = new Map<string, Result[]>();
  const offloads: string[] = [];
  pub.on('message', (topic, payload) => {
    const msg = JSON.parse(payload.toString()) as { taskId: string };
    if (topic.endsWith('/decision')) decisions.set(msg.taskId, (decisions.get(msg.taskId) ?? 0) + 1);
    else if (topic.endsWith('/result')) results.set(msg.taskId, [...(results.get(msg.taskId) ?? []), msg as Result]);
    else if (topic.endsWith('/offload')) offloads.push(msg.taskId);
  });
  await pub.subscribeAsync(['gmel/v1/ied/+/decision', 'gmel/v1/ied/+/result', 'gmel/v1/edge/+/offload'], { qos: 1 });
  return {
    gateway, edges, pub, decisions, results, offloads, lines,
    async close() {
      await gateway.close();
      for (const e of edges) await e.close();
      await releaseModel(gateway.currentModel);
      await endAll();
      await broker.close();
    },
  };
}

const task = (taskId: string, over: Partial<TaskAnnouncement> = {}): TaskAnnouncement =>
  ({ v: 1, taskId, iedId: 0, sizeMbit: 10, density: 0.03, deadlineSeconds: 1.5, createdAt: Date.now(), ...over });
const publishTask = (pub: MqttClient, msg: TaskAnnouncement) => pub.publishAsync(topics.task(msg.iedId), JSON.stringify(msg), { qos: 1 });

t.test('tasks with impossible stamps or out-of-range quantities are refused, counted, never decided', { timeout: 60_000 }, async (t) => {
  const r = await rig();
  const now = Date.now();
  const hostile: [TaskAnnouncement, string][] = [
    [task('p', { createdAt: 11795966313051 }), 'clock-skew'], // the task from the issue (year 2343)
    [task('ahead-1min', { createdAt: now + 60_000 }), 'clock-skew'],
    [task('ahead-skew', { createdAt: now + MAX_CLOCK_SKEW_MS + 2000 }), 'clock-skew'],
    [task('stale-1min', { createdAt: now - 60_000 }), 'stale'],
    [task('stale-epoch0', { createdAt: 0 }), 'stale'],
    [task('stale-just', { createdAt: now - 1500 - MAX_CLOCK_SKEW_MS - 2000 }), 'stale'],
    [task('huge', { sizeMbit: 1e4 }), 'out-of-range'],
    [task('dense', { density: 1e3 }), 'out-of-range'],
    [task('hour', { deadlineSeconds: 3600 }), 'out-of-range'],
    [task('just-over', { sizeMbit: sizeMbit.max * 1.01 }), 'out-of-range'],
    [task('just-late', { iedId: 1, deadlineSeconds: deadlineSeconds.max + 0.01 }), 'out-of-range'],
  ];
  for (const [msg] of hostile) await publishTask(r.pub, msg);
  // a flood from the future: counted one by one, logged a few times only
  for (let k = 0; k < 60; k++) await publishTask(r.pub, task(`flood-${k}`, { createdAt: 11795966313051 + k }));
  for (let k = 0; k < 30; k++) await r.pub.publishAsync(topics.task(0), '{"v":1,', { qos: 1 });
  // then the plant's own tasks, at its bounds and inside them
  const good = [
    task('good-0'), task('good-1', { iedId: 1 }), task('good-max', { sizeMbit: sizeMbit.max, density: densityGcyclesPerMbit.max, deadlineSeconds: deadlineSeconds.max }),
    task('good-min', { iedId: 1, sizeMbit: sizeMbit.min, density: densityGcyclesPerMbit.min, deadlineSeconds: deadlineSeconds.min }),
    task('good-skewed', { createdAt: Date.now() + MAX_CLOCK_SKEW_MS - 3000, deadlineSeconds: 2.5 }), // a clock ahead, within the bound
  ];
  for (const msg of good) await publishTask(r.pub, msg);
  await until(() => good.every((g) => r.results.has(g.taskId)), 12_000);
  await r.gateway.idle();

  const expected = (code: string) => hostile.filter(([, c]) => c === code).length;
  t.equal(await rejected(r.gateway, 'clock-skew'), expected('clock-skew') + 60, 'clock-skew counted, each one');
  t.equal(await rejected(r.gateway, 'stale'), expected('stale'), 'stale counted');
  t.equal(await rejected(r.gateway, 'out-of-range'), expected('out-of-range'), 'out-of-range counted');
  t.same([...r.decisions.keys()].sort(), good.map((g) => g.taskId).sort(), 'only the legitimate tasks were decided');
  t.ok([...r.decisions.values()].every((n) => n === 1), 'each once');
  t.same([...r.results.keys()].sort(), good.map((g) => g.taskId).sort(), 'one outcome per legitimate task, none for a refused one');
  t.ok([...r.results.values()].every((rs) => rs.length === 1), 'exactly one each');
  // defect 11: refusal logs are rate-limited per code
  const logged = (code: string) => r.lines.filter((l) => l.code === code && l.suppressed === undefined).length;
  t.ok(logged('clock-skew') <= REFUSAL_LOG_LINES, `clock-skew: ${logged('clock-skew')} lines for ${expected('clock-skew') + 60} refusals`);
  t.equal(await rejected(r.gateway, 'malformed-json'), 30, 'malformed JSON counted');
  t.ok(logged('malformed-json') <= REFUSAL_LOG_LINES, `malformed-json: ${logged('malformed-json')} lines for 30 refusals`);
  t.ok(logged('stale') >= 1 && logged('out-of-range') >= 1, 'the first refusals of a code are logged');
  t.ok(r.lines.filter((l) => l.code === 'out-of-range').every((l) => typeof l.detail === 'string'), 'a refusal line names what was out of bounds');
  t.ok(r.gateway.health().ok, 'still connected and healthy');
  await r.close();
});

t.test('forged edge results do not end an offloaded task; the real one does, once', { timeout: 30_000 }, async (t) => {
  const r = await rig({ model: await offloadingModel(), edges: 0 });
  await publishTask(r.pub, task('o-1', { deadlineSeconds: 2.5 }));
  await until(() => r.offloads.includes('o-1'), 3000);
  t.ok(r.offloads.includes('o-1'), 'the gateway offloaded the task to edge server 1');
  const edgeResult = (iedId: number, over: Partial<Result & { edgeServerId: number }>, server = 1) =>
    r.pub.publishAsync(topics.edgeResult(iedId, server), JSON.stringify({ v: 1, taskId: 'o-1', iedId, outcome: 'completed', stage: 'edge', latencySeconds: 0.4, at: Date.now(), ...over }), { qos: 1 });
  await edgeResult(0, { taskId: 'never-offloaded' });
  await edgeResult(0, { stage: 'local' });
  await edgeResult(0, { stage: 'uplink', outcome: 'dropped' });
  await edgeResult(1, {}); // the right task id, another IED's topic
  await edgeResult(0, {}, 2); // from a server the task was never offloaded to (the topic names the sender)
  await edgeResult(0, { edgeServerId: 1 }, 2); // a payload claiming another server than its topic
  await until(async () => (await rejected(r.gateway, 'id-mismatch')) >= 1, 2000);
  t.equal(await rejected(r.gateway, 'id-mismatch'), 1, 'a payload naming another server than its topic: id-mismatch');
  await until(async () => (await rejected(r.gateway, 'forged')) >= 4, 2000);
  t.equal(await rejected(r.gateway, 'unknown-task'), 1, 'a result for a task never offloaded: unknown-task');
  t.equal(await rejected(r.gateway, 'forged'), 4, 'a wrong stage, IED or sending server for an offloaded task: forged');
  t.notOk(r.results.has('o-1'), 'the offloaded task is still open');
  await edgeResult(0, { latencySeconds: 0.7 });
  await until(() => r.results.has('o-1'), 2000);
  await edgeResult(0, { latencySeconds: 0.7 }); // a redelivery
  await sleep(200);
  t.same(r.results.get('o-1')?.map((x) => [x.outcome, x.stage, x.latencySeconds]), [['completed', 'edge', 0.7]], 'the edge result ended it, once');
  t.equal(await rejected(r.gateway, 'duplicate'), 1, 'the redelivery is counted, not republished');
  await r.close();
});

t.test('an edge result must come from the server the task was offloaded to', async (t) => {
  const msg = task('x', { createdAt: 1_000 });
  const record = { msg, edgeServerId: 2 };
  const result: Result = { v: 1, taskId: 'x', iedId: 0, outcome: 'completed', stage: 'edge', latencySeconds: 0.5, at: 2_000 };
  t.equal(checkEdgeResult(record, result, false, 2), undefined, 'from server 2: accepted');
  t.equal(checkEdgeResult(record, result, false, 3)?.code, 'forged', 'from server 3: forged');
  t.equal(checkEdgeResult(record, { ...result, stage: 'local' }, false, 2)?.code, 'forged');
  t.equal(checkEdgeResult(record, { ...result, iedId: 1 }, false, 2)?.code, 'forged');
  t.equal(checkEdgeResult(undefined, result, true, 2)?.code, 'duplicate', 'already resolved');
  t.equal(checkEdgeResult(undefined, result, false, 2)?.code, 'unknown-task');
  // and the task bounds on their own, at the edges of the ranges
  const at = 1_800_000_000_000;
  t.equal(admitTask(task('a', { createdAt: at + MAX_CLOCK_SKEW_MS }), scenario, at), undefined, 'exactly the skew ahead: admitted');
  t.equal(admitTask(task('a', { createdAt: at + MAX_CLOCK_SKEW_MS + 1 }), scenario, at)?.code, 'clock-skew');
  t.equal(admitTask(task('a', { createdAt: at - 1500 - MAX_CLOCK_SKEW_MS }), scenario, at), undefined, 'deadline exactly the skew ago: admitted');
  t.equal(admitTask(task('a', { createdAt: at - 1500 - MAX_CLOCK_SKEW_MS - 1 }), scenario, at)?.code, 'stale');
  t.equal(admitTask(task('a', { createdAt: at, sizeMbit: sizeMbit.max, density: densityGcyclesPerMbit.max, deadlineSeconds: deadlineSeconds.max }), scenario, at), undefined, 'the declared maxima: admitted');
  t.equal(admitTask(task('a', { createdAt: at, density: densityGcyclesPerMbit.max * 1.001 }), scenario, at)?.code, 'out-of-range');
});

t.test('property: 200 random schema-valid messages, then every legitimate task is decided once and has one outcome', { timeout: 60_000 }, async (t) => {
  const r = await rig();
  const rng = new Rng(10);
  const pick = <T>(xs: readonly T[]): T => xs[rng.int(xs.length)] as T;
  const now = Date.now();
  // each field: anywhere the schema allows, or where the plant's own values lie (so some random messages pass)
  const time = () => pick([() => rng.between(0, 2e13), () => now + rng.between(-600_000, 600_000), () => now + rng.between(-8000, 8000), () => now, () => now])();
  const ied = () => pick([0, 0, 1, 1, 2, 3, rng.int(1_000_001)]);
  const positive = (max: number, plausible: number) => pick([rng.between(1e-9, 1) * max, rng.between(1e-9, 1) * plausible, rng.between(1e-9, 1) * plausible]);
  const ids: string[] = [];
  const id = () => (ids.length > 0 && rng.uniform() < 0.2 ? pick(ids) : `r-${ids.push(`r-${ids.length}`) - 1}`);
  const sent: TaskAnnouncement[] = [];
  for (let k = 0; k < 200; k++) {
    const kind = rng.int(3);
    if (kind === 0) {
      const msg = task(id(), { iedId: ied(), sizeMbit: positive(1e4, 40), density: positive(1e3, 0.0625), deadlineSeconds: positive(3600, 2.5), createdAt: time() });
      sent.push(msg);
      await publishTask(r.pub, msg);
    } else if (kind === 1) {
      const createdAt = time();
      const m = pick([1, 1, 2, 3, 4, 5, 1 + rng.int(1024)]);
      const offload = { v: 1, taskId: id(), iedId: ied(), edgeServerId: m, sizeMbit: positive(1e4, 40), density: positive(1e3, 0.0625), createdAt, deadlineAt: pick([createdAt + rng.between(0, 3.6e6), time()]), uploadedAt: time() };
      await r.pub.publishAsync(topics.offload(m), JSON.stringify(offload), { qos: 1 });
    } else {
      const i = ied();
      const result = { v: 1, taskId: id(), iedId: i, outcome: pick(['completed', 'dropped']), stage: pick(['pending', 'local', 'uplink', 'edge']), latencySeconds: rng.between(0, 1e4), at: time() };
      await r.pub.publishAsync(topics.edgeResult(i, pick([1, 2, 3, 1 + rng.int(1024)])), JSON.stringify(result), { qos: 1 });
    }
  }
  const sentBy = Date.now();
  const legit = Array.from({ length: 8 }, (_, k) => task(`legit-${k}`, { iedId: k % 2, sizeMbit: 4 + 4 * k, density: 0.0125 + 0.005 * k, deadlineSeconds: 2.5 }));
  for (const msg of legit) await publishTask(r.pub, msg);
  await until(() => legit.every((g) => r.results.has(g.taskId)), 15_000);
  await r.gateway.idle();
  t.same(legit.filter((g) => r.decisions.get(g.taskId) !== 1), [], 'every legitimate task decided exactly once');
  t.same(legit.filter((g) => r.results.get(g.taskId)?.length !== 1), [], 'every legitimate task has exactly one outcome');
  // an independent check of the bounds on what the gateway did decide: it received each between `now` and `sentBy`
  const decidedRandom = sent.filter((m) => r.decisions.has(m.taskId) && (m.iedId === 0 || m.iedId === 1));
  const outside = decidedRandom.filter((m) => m.sizeMbit > sizeMbit.max || m.density > densityGcyclesPerMbit.max || m.deadlineSeconds > deadlineSeconds.max
    || m.createdAt > sentBy + 1000 + MAX_CLOCK_SKEW_MS || m.createdAt + m.deadlineSeconds * 1000 < now - MAX_CLOCK_SKEW_MS);
  t.same(outside.map((m) => m.taskId), [], 'no out-of-bounds random task was decided');
  t.ok(decidedRandom.length > 0, `some random tasks were within bounds and decided (${decidedRandom.length})`);
  t.ok([...r.results.values()].every((rs) => rs.length === 1), 'no task has two outcomes');
  t.ok(r.gateway.health().ok && r.edges.every((e) => e.health().ok), 'the gateway and the edge servers are healthy');
  await r.close();
});
