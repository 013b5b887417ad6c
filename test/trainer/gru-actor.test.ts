// AMARL's recurrent actor option (hidden state h_a): the GRU maths by hand, and one forward pass
// everywhere — the learner's stacked tfjs cells, the plain runner, the exported tfjs layers model,
// ONNX in onnxruntime-node and -web, the evaluation and the gateway — with h stepping only at decisions.
import t from 'tap';
import * as tf from '@tensorflow/tfjs';
import pino from 'pino';
import { cpSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { readCheckpoint } from '../../trainer/checkpoint.ts';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { selectBackend } from '../../trainer/backend.ts';
import { Rng, deriveSeed } from '../../core/rng.ts';
import { loadScenario } from '../../core/scenario/load.ts';
import { Amarl } from '../../trainer/algos/amarl.ts';
import { ActorRunner, type ActorNet } from '../../trainer/actor-net.ts';
import { saveActor } from '../../trainer/export-tfjs.ts';
import { readActor } from '../../trainer/actor-file.ts';
import { actorToOnnx, onnxToActorNet } from '../../trainer/export-onnx.ts';
import { train } from '../../trainer/train.ts';
import { exportRun } from '../../trainer/export-set.ts';
import { evaluatePolicy, loadRunPolicy } from '../../trainer/evaluate.ts';
import { runModelInSim } from '../../twin/predict.ts';
import { createActorSession } from '../../runtime-ied/policy.ts';
import { IedGatewayRuntime } from '../../runtime-ied/gateway.ts';
import { systemClock, PLANT_EPOCH_MS } from '../../protocol/clock.ts';
import { topics } from '../../protocol/topics.ts';
import { startAedes, clientPool } from '../helpers/brokers.ts';
import { ENCODER_META, GMEL2024_SCALES } from '../helpers/models.ts';

await selectBackend('auto');
const f = (...v: number[]) => Float32Array.from(v);
const meta = { policyVersion: 'gru-test', ...ENCODER_META, ied: 0, algo: 'amarl', actionNames: [] };

t.test('GRU cell by hand (H = 1)', async (t) => {
  // e = relu(0.5·1 + 0.25·(−2) + 0.2) = 0.2; z = σ(0.1 − 0.5) = 0.401312; r = σ(0.2 + 0.5) = 0.668188;
  // ĥ = tanh(0.4 + 0.5·r·h + 0.1) = 0.583034; h' = z·h + (1 − z)·ĥ = 0.549711; logits = [h', 0.3 − h']
  const net: ActorNet = {
    kind: 'gru',
    encoder: { kernel: f(0.5, 0.25), bias: f(0.2), inputs: 2, outputs: 1, activation: 'relu' },
    cell: { inputs: 1, hidden: 1, Wz: f(0.5), Uz: f(-1), bz: f(0), Wr: f(1), Ur: f(1), br: f(0), Wh: f(2), Uh: f(0.5), bh: f(0.1) },
    head: { kernel: f(1, -1), bias: f(0, 0.3), inputs: 1, outputs: 2, activation: 'linear' },
  };
  const h = f(0.5);
  const logits = new ActorRunner(net).logits(f(1, -2), 0, h);
  t.ok(Math.abs((h[0] as number) - 0.5497114) < 1e-6, `h' = ${h[0]}`);
  t.ok(Math.abs((logits[0] as number) - 0.5497114) < 1e-6 && Math.abs((logits[1] as number) + 0.2497114) < 1e-6, `logits ${Array.from(logits)}`);
  t.throws(() => new ActorRunner(net).logits(f(1, -2), 0), /needs a hidden state of 1 floats/);
});

t.test('learner, plain runner, tfjs layers file and ONNX agree step by step', async (t) => {
  const [I, D, A, H] = [3, 8, 3, 6];
  const learner = new Amarl(I, D, A, 5, { actor: 'gru', actorHidden: H });
  t.equal(learner.hiddenSize, H);
  const rng = new Rng(4);
  const steps = 6;
  const obs = Array.from({ length: steps }, () => Float32Array.from({ length: I * D }, () => rng.uniform() * 2 - 0.5));
  // IED 1 has no task at step 2: its state must not move there
  const hasTask = Array.from({ length: steps }, (_, s) => Uint8Array.from({ length: I }, (_, i) => (s === 2 && i === 1 ? 0 : 1)));
  const hidden = new Float32Array(I * H);
  const actions = new Int32Array(I);
  const learnerStates: Float32Array[] = [];
  const learnerActions: number[][] = [];
  for (let s = 0; s < steps; s++) {
    const before = hidden.slice();
    learner.act(obs[s] as Float32Array, hasTask[s] as Uint8Array, actions, false, hidden);
    if (s === 2) t.same(Array.from(hidden.subarray(H, 2 * H)), Array.from(before.subarray(H, 2 * H)), 'no task: h unchanged');
    learnerStates.push(hidden.slice());
    learnerActions.push(Array.from(actions));
  }
  const dir = mkdtempSync(join(tmpdir(), 'gmel-gru-'));
  for (let i = 0; i < I; i++) {
    const net = learner.actorNet(i);
    await saveActor(join(dir, `ied-${i}`), net, { ...meta, ied: i, actionNames: ['local', 'edge-1', 'edge-2'], runName: 'gru', episode: 0 });
    const loaded = readActor(join(dir, `ied-${i}`));
    t.equal(loaded.net.kind, 'gru', 'the layers file reads back as a GRU actor');
    const json = JSON.parse(readFileSync(join(dir, `ied-${i}`, 'model.json'), 'utf8'));
    const bin = readFileSync(join(dir, `ied-${i}`, 'weights.bin'));
    const tfModel = await tf.loadLayersModel(tf.io.fromMemory({ modelTopology: json.modelTopology, weightSpecs: json.weightsManifest[0].weights, weightData: bin.buffer.slice(bin.byteOffset, bin.byteOffset + bin.byteLength) }));
    const bytes = actorToOnnx(loaded.net, { ...meta, ied: i });
    t.equal(onnxToActorNet(bytes).kind, 'gru');
    const sessions = [await createActorSession(bytes, 'node', { inputs: D, actions: A }), await createActorSession(bytes, 'web', { inputs: D, actions: A })];
    t.equal(sessions[0]?.hiddenSize, H, 'the session reports its state width');
    const runner = new ActorRunner(loaded.net);
    const hRunner = new Float32Array(H);
    const hOrt: Float32Array[] = sessions.map(() => new Float32Array(H));
    let hTf: Float32Array = new Float32Array(H);
    let worst = 0;
    let sameActions = 0;
    let decisions = 0;
    for (let s = 0; s < steps; s++) {
      if (!(hasTask[s] as Uint8Array)[i]) continue;
      decisions++;
      const o = (obs[s] as Float32Array).subarray(i * D, (i + 1) * D);
      const logits = runner.logits(o, 0, hRunner);
      const expected = (learnerStates[s] as Float32Array).subarray(i * H, (i + 1) * H);
      const [tfLogits, tfNext] = tf.tidy(() => (tfModel.predict([tf.tensor2d(o, [1, D]), tf.tensor2d(hTf, [1, H])]) as tf.Tensor[]).map((x) => x.dataSync() as Float32Array)) as [Float32Array, Float32Array];
      hTf = tfNext;
      for (let k = 0; k < H; k++) worst = Math.max(worst, Math.abs((hRunner[k] as number) - (expected[k] as number)), Math.abs((tfNext[k] as number) - (expected[k] as number)));
      for (let a = 0; a < A; a++) worst = Math.max(worst, Math.abs((tfLogits[a] as number) - (logits[a] as number)));
      for (const [e, session] of sessions.entries()) {
        const d = await session!.decide(o, hOrt[e]);
        hOrt[e] = d.hidden;
        for (let k = 0; k < H; k++) worst = Math.max(worst, Math.abs((d.hidden[k] as number) - (expected[k] as number)));
        if (d.action === (learnerActions[s] as number[])[i]) sameActions++;
      }
    }
    t.ok(worst < 1e-5, `IED ${i}: max |Δ| over h and logits ${worst.toExponential(2)}`);
    t.equal(sameActions, 2 * decisions, `IED ${i}: both ONNX engines pick the learner's action at every decision`);
    await t.rejects(sessions[0]!.decide(f(...new Array(D).fill(0))), /needs a hidden state of 6 floats, got 0/);
    for (const s of sessions) await s.release();
    tfModel.dispose();
  }
  learner.dispose();
});

t.test('a GRU run: resume is exact; its ONNX set runs in the simulator exactly as the trainer evaluates it', async (t) => {
  // busy enough that tasks are lost: a difference in any decision would show in the completion rate
  const scenario = loadScenario('gmel2024', { ieds: 4, edgeServers: 2, episodeSlots: 30, 'arrivals.probability': 0.9 });
  const config = { actor: 'gru', actorHidden: 16 };
  const straight = mkdtempSync(join(tmpdir(), 'gmel-gru-straight-'));
  const resumed = mkdtempSync(join(tmpdir(), 'gmel-gru-resumed-'));
  await train({ algo: 'amarl', scenario, preset: 'smoke', seed: 4, outDir: straight, episodes: 4, checkpointEvery: 2, config });
  await train({ algo: 'amarl', scenario, preset: 'smoke', seed: 4, outDir: resumed, episodes: 2, checkpointEvery: 2, config });
  await train({ algo: 'amarl', scenario, preset: 'smoke', seed: 4, outDir: resumed, episodes: 4, checkpointEvery: 2, config, resume: true });
  const weights = (d: string) => readFileSync(join(d, 'actors', 'ied-1', 'weights.bin'));
  t.ok(weights(resumed).equals(weights(straight)), 'same final actor weights after resume');
  // a cut replay (here inside the last episode's recurrent states) is named, not read past its end
  const cut = mkdtempSync(join(tmpdir(), 'gmel-gru-cut-'));
  cpSync(join(straight, 'checkpoint'), join(cut, 'checkpoint'), { recursive: true });
  const replay = join(cut, 'checkpoint', 'replay.bin');
  writeFileSync(replay, readFileSync(replay).subarray(0, statSync(replay).size - 100));
  t.throws(() => readCheckpoint(cut), /replay\.bin is truncated at episode \d+/);
  // the twin's fine-tune names no settings: it inherits the incumbent's GRU actors
  const tuned = mkdtempSync(join(tmpdir(), 'gmel-gru-tuned-'));
  await train({ algo: 'amarl', scenario, preset: 'smoke', seed: 9, outDir: tuned, episodes: 1, initFrom: straight });
  t.equal(JSON.parse(readFileSync(join(tuned, 'config.json'), 'utf8')).learner.actor, 'gru', 'a fine-tune keeps the incumbent\'s actor network');
  const { dir, manifest } = exportRun({ runDir: straight, outDir: join(straight, 'models') });
  t.equal(manifest.files['ied-0.onnx']?.hiddenSize, 16, 'the manifest records the state width');
  for (const seed of [31, 32]) {
    const viaOnnx = await runModelInSim(scenario, dir, 1, seed);
    const viaTrainer = await evaluatePolicy(scenario, await loadRunPolicy(straight), [deriveSeed(seed, 0)]);
    t.ok(viaOnnx.summary.arrived > 0 && viaOnnx.summary.completionRate < 1, `some tasks are lost (${viaOnnx.summary.completionRate.toFixed(4)})`);
    t.equal(viaOnnx.summary.completionRate, viaTrainer.completionRate, `seed ${seed}: same completion rate (${viaOnnx.summary.completionRate.toFixed(4)})`);
    t.equal(viaOnnx.summary.meanLatency, viaTrainer.meanLatency.mean, `seed ${seed}: same mean latency`);
  }
});

t.test('the gateway keeps each IED\'s state between decisions and resets it on a model swap and every episode', async (t) => {
  // episodes of 10^5 slots (about 3 h): no episode boundary falls inside this test but by rare chance
  const scenario = loadScenario('gmel2024', { ieds: 1, episodeSlots: 100_000 });
  const D = 20;
  // e = 1 always; z ≈ 0 so h' = ĥ = tanh(1 − 3·h): h goes 0.76, −0.86, 0.998, −0.78 …; action = h' > 0 ? edge 1 : local
  const net: ActorNet = {
    kind: 'gru',
    encoder: { kernel: new Float32Array(D), bias: f(1), inputs: D, outputs: 1, activation: 'relu' },
    cell: { inputs: 1, hidden: 1, Wz: f(0), Uz: f(0), bz: f(-30), Wr: f(0), Ur: f(0), br: f(30), Wh: f(0), Uh: f(-3), bh: f(1) },
    head: { kernel: f(0, 10, 0, 0, 0, 0), bias: new Float32Array(6), inputs: 1, outputs: 6, activation: 'linear' },
  };
  const bytes = actorToOnnx(net, meta);
  const session = () => createActorSession(bytes, 'node', { inputs: D, actions: 6 });
  const broker = await startAedes();
  const { connect, endAll } = clientPool(broker.url);
  const gateway = await IedGatewayRuntime.create({ scenario, iedIds: [0], model: { version: 'gru-a', scales: GMEL2024_SCALES, sessions: new Map([[0, await session()]]) }, mqtt: await connect('gw'), clock: systemClock, epochMs: PLANT_EPOCH_MS, logger: pino({ level: 'silent' }) });
  const pub = await connect('pub');
  const actions: number[] = [];
  pub.on('message', (_t, payload) => actions.push((JSON.parse(payload.toString()) as { action: number }).action));
  await pub.subscribeAsync(topics.decision(0), { qos: 1 });
  const decide = async (n: number) => {
    for (let k = 0; k < n; k++) {
      const before = actions.length;
      await pub.publishAsync(topics.task(0), JSON.stringify({ v: 1, taskId: `t-${Math.random()}`, iedId: 0, sizeMbit: 4, density: 0.02, deadlineSeconds: 2.5, createdAt: Date.now() }), { qos: 1 });
      for (let w = 0; w < 100 && actions.length === before; w++) await new Promise((r) => setTimeout(r, 10));
    }
  };
  await decide(4);
  t.same(actions, [1, 0, 1, 0], 'decisions follow the carried state (a stateless gateway would offload every time)');
  await gateway.swapModel({ version: 'gru-b', scales: GMEL2024_SCALES, sessions: new Map([[0, await session()]]) });
  await decide(1);
  t.equal(actions.at(-1), 1, 'after a swap the new actor starts from h = 0');
  await gateway.close();
  // episodes of 5 slots (0.5 s): the state restarts at every episode, as in training
  const short = await IedGatewayRuntime.create({ scenario: loadScenario('gmel2024', { ieds: 1, episodeSlots: 5 }), iedIds: [0], model: { version: 'gru-c', scales: GMEL2024_SCALES, sessions: new Map([[0, await session()]]) }, mqtt: await connect('gw-short'), clock: systemClock, epochMs: PLANT_EPOCH_MS, logger: pino({ level: 'silent' }) });
  actions.length = 0;
  await decide(1);
  await new Promise((r) => setTimeout(r, 600));
  await decide(1);
  t.same(actions, [1, 1], 'a new episode starts from h = 0 (carrying h would give 1, 0)');
  await short.close();
  await endAll();
  await broker.close();
});
