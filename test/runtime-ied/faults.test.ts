// Bad input and faults: each refused with a counted, logged reason; the runtimes keep running; no task
// is executed twice; a tampered or ill-fitting model is refused.
import t from 'tap';
import pino from 'pino';
import type { MqttClient } from 'mqtt';
import { mkdtempSync, readFileSync, writeFileSync, cpSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadScenario } from '../../core/scenario/load.ts';
import { systemClock } from '../../protocol/clock.ts';
import { IedGatewayRuntime } from '../../runtime-ied/gateway.ts';
import { EdgeServerRuntime } from '../../runtime-edge/edge-server.ts';
import { loadModelHandle, releaseModel } from '../../runtime-ied/model-loader.ts';
import { resolveModelDir } from '../../core/model-set.ts';
import { createActorSession } from '../../runtime-ied/policy.ts';
import { actorToOnnx } from '../../trainer/export-onnx.ts';
import onnxProto from 'onnx-proto';
import { topics } from '../../protocol/topics.ts';
import { MAX_PAYLOAD_BYTES } from '../../protocol/messages.ts';
import { startAedes, clientPool } from '../helpers/brokers.ts';
import { counter } from '../helpers/metrics.ts';
import { ENCODER_META } from '../helpers/models.ts';

const logger = pino({ level: 'silent' });
const scenario = loadScenario('gmel2024', { ieds: 4 });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));


t.test('malformed, invalid, unknown, oversized and duplicate messages', async (t) => {
  const broker = await startAedes();
  const { connect, endAll } = clientPool(broker.url);
  const epochMs = Math.ceil(Date.now() / 100) * 100;
  const model = await loadModelHandle('models/gmel2024-amarl', scenario, [0, 1], 'node');
  const gateway = await IedGatewayRuntime.create({ scenario, iedIds: [0, 1], model, mqtt: await connect('gw'), clock: systemClock, epochMs, logger });
  const edge = await EdgeServerRuntime.create({ scenario, edgeServerId: 1, mqtt: await connect('edge1'), clock: systemClock, epochMs, logger });
  const pub: MqttClient = await connect('pub');
  const decisions: string[] = [];
  await pub.subscribeAsync(topics.decision(0), { qos: 1 });
  pub.on('message', (_topic, payload) => decisions.push((JSON.parse(payload.toString()) as { taskId: string }).taskId));
  const task = (taskId: string, iedId = 0) => JSON.stringify({ v: 1, taskId, iedId, sizeMbit: 8, density: 0.02, deadlineSeconds: 2, createdAt: Date.now() });
  await pub.publishAsync(topics.task(0), '{"v":1, "taskId": ', { qos: 1 });
  await pub.publishAsync(topics.task(0), JSON.stringify({ v: 1, taskId: 'x', iedId: 0 }), { qos: 1 });
  await pub.publishAsync(topics.task(0), 'x'.repeat(MAX_PAYLOAD_BYTES + 10), { qos: 1 });
  await pub.publishAsync(topics.task(0), task('mismatch', 1), { qos: 1 });
  await pub.publishAsync(topics.task(3), task('not-served', 3), { qos: 1 }); // IED 3 exists but this gateway serves 0 and 1
  await pub.publishAsync(topics.offload(1), JSON.stringify({ v: 1, taskId: 'off-9', iedId: 99, edgeServerId: 1, sizeMbit: 1, density: 0.01, createdAt: Date.now(), deadlineAt: Date.now() + 1000, uploadedAt: Date.now() }), { qos: 1 });
  await pub.publishAsync(topics.task(0), task('good-1'), { qos: 1 });
  await pub.publishAsync(topics.task(0), task('good-1'), { qos: 1 });
  await sleep(600);
  await gateway.idle();
  t.equal(await counter(gateway, 'gmel_ied_messages_rejected_total', 'malformed-json'), 1, 'malformed JSON counted');
  t.equal(await counter(gateway, 'gmel_ied_messages_rejected_total', 'schema'), 1, 'schema failure counted');
  t.equal(await counter(gateway, 'gmel_ied_messages_rejected_total', 'oversized'), 1, 'oversized counted');
  t.equal(await counter(gateway, 'gmel_ied_messages_rejected_total', 'id-mismatch'), 1, 'topic/payload id mismatch counted');
  t.equal(await counter(gateway, 'gmel_ied_messages_rejected_total', 'duplicate'), 1, 'duplicate task id counted');
  t.equal(await counter(edge, 'gmel_edge_messages_rejected_total', 'unknown-ied'), 1, 'edge: unknown IED counted');
  t.same(decisions, ['good-1'], 'the good task was decided exactly once, after all the bad input');
  t.ok(gateway.health().ok && edge.health().ok, 'both still healthy');
  await gateway.close();
  await edge.close();
  await releaseModel(model);
  await endAll();
  await broker.close();
});

t.test('an edge server survives impossible stamps: a deadline before creation, clocks ahead of its own', async (t) => {
  const broker = await startAedes();
  const { connect, endAll } = clientPool(broker.url);
  const epochMs = Math.ceil(Date.now() / 100) * 100;
  const edge = await EdgeServerRuntime.create({ scenario, edgeServerId: 1, mqtt: await connect('edge-stamps'), clock: systemClock, epochMs, logger });
  const pub = await connect('pub-stamps');
  const results: { taskId: string; outcome: string; latencySeconds: number }[] = [];
  await pub.subscribeAsync(topics.edgeResultsOf(0), { qos: 1 });
  pub.on('message', (_topic, payload) => results.push(JSON.parse(payload.toString())));
  const offload = (taskId: string, createdAt: number, deadlineAt: number, uploadedAt: number) =>
    pub.publishAsync(topics.offload(1), JSON.stringify({ v: 1, taskId, iedId: 0, edgeServerId: 1, sizeMbit: 1, density: 0.01, createdAt, deadlineAt, uploadedAt }), { qos: 1 });
  const now = Date.now();
  await offload('backwards', now, now - 1000, now); // deadline before creation
  await offload('ahead', now + 5000, now + 8000, now + 5000); // a gateway clock 5 s ahead of ours
  await offload('normal', now, now + 3000, now);
  for (let k = 0; k < 40 && results.length < 2; k++) await sleep(50);
  t.equal(await counter(edge, 'gmel_edge_messages_rejected_total', 'invalid'), 1, 'the impossible deadline is refused');
  t.same(results.map((r) => [r.taskId, r.outcome]).sort(), [['ahead', 'completed'], ['normal', 'completed']], 'both real tasks served');
  t.ok(results.every((r) => r.latencySeconds >= 0), `latencies ${results.map((r) => r.latencySeconds)} are never negative`);
  t.ok(edge.health().ok, 'still healthy');
  await edge.close();
  await endAll();
  await broker.close();
});

t.test('a model that does not fit, or was tampered with, is refused with the reason', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'gmel-badmodel-'));
  cpSync(resolveModelDir('models/gmel2024-amarl'), dir, { recursive: true });
  // wrong input size: an actor built for 11 inputs
  const layer = (inputs: number, outputs: number, activation: 'relu' | 'linear') => ({ kernel: new Float32Array(inputs * outputs), bias: new Float32Array(outputs), inputs, outputs, activation });
  const narrow = actorToOnnx({ kind: 'mlp', layers: [layer(11, 8, 'relu'), layer(8, 6, 'linear')] }, { policyVersion: 'x', ...ENCODER_META, ied: 0, algo: 'amarl', actionNames: [] });
  await t.rejects(createActorSession(narrow, 'node', { inputs: 20, actions: 6 }), /the model takes 11 inputs, the observation encoder makes 20/);
  await t.rejects(createActorSession(narrow, 'web', { inputs: 11, actions: 3 }), /chooses among 6 actions, the plant has 3/);
  await t.rejects(createActorSession(new Uint8Array([1, 2, 3, 4]), 'node', { inputs: 20, actions: 6 }), /not an ONNX model|no "obs" input/);
  // a byte flipped in IED 2's model
  const file = join(dir, 'ied-2.onnx');
  const bytes = readFileSync(file);
  bytes[100] = (bytes[100] as number) ^ 1;
  writeFileSync(file, bytes);
  await t.rejects(loadModelHandle(dir, scenario, [0, 1, 2], 'node'), /ied-2\.onnx has sha256 .* \(tampered or corrupt\)/);
  await t.rejects(loadModelHandle(join(dir, 'nope'), scenario, [0], 'node'), /no model set here/);
  // a recurrent graph missing its state output
  const f = (n: number) => new Float32Array(n);
  const gru = actorToOnnx({
    kind: 'gru', encoder: { kernel: f(40), bias: f(2), inputs: 20, outputs: 2, activation: 'relu' },
    cell: { inputs: 2, hidden: 2, Wz: f(4), Wr: f(4), Wh: f(4), Uz: f(4), Ur: f(4), Uh: f(4), bz: f(2), br: f(2), bh: f(2) },
    head: { kernel: f(12), bias: f(6), inputs: 2, outputs: 6, activation: 'linear' },
  }, { policyVersion: 'x', ...ENCODER_META, ied: 0, algo: 'amarl', actionNames: [] });
  const whole = await createActorSession(gru, 'node', { inputs: 20, actions: 6 });
  t.equal(whole.hiddenSize, 2, 'a whole GRU graph loads');
  await whole.release();
  const model = onnxProto.onnx.ModelProto.decode(gru);
  const graph = model.graph as onnxProto.onnx.GraphProto;
  graph.output = graph.output.filter((o) => o.name !== 'h_next');
  await t.rejects(createActorSession(onnxProto.onnx.ModelProto.encode(model).finish(), 'node', { inputs: 20, actions: 6 }), /needs both an "h" input and an "h_next" output/);
});
