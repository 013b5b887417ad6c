// Exported actors: the TensorFlow.js layers files load in tfjs and the plain forward pass agrees with it;
// DQN's folded dueling head reproduces its Q-values.
import t from 'tap';
import * as tf from '@tensorflow/tfjs';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { selectBackend } from '../../trainer/backend.ts';
import { Rng } from '../../core/rng.ts';
import { OBS_ENCODER_VERSION } from '../../core/observation.ts';
import { Amarl } from '../../trainer/algos/amarl.ts';
import { Dqn } from '../../trainer/algos/dqn.ts';
import { saveActor } from '../../trainer/export-tfjs.ts';
import { readActor } from '../../trainer/actor-file.ts';
import { ActorRunner } from '../../trainer/actor-net.ts';
import { loadRunPolicy } from '../../trainer/evaluate.ts';

await selectBackend('auto');
const [I, D, A] = [3, 11, 3];

async function loadInTfjs(dir: string): Promise<tf.LayersModel> {
  const json = JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8'));
  const bin = readFileSync(join(dir, 'weights.bin'));
  return tf.loadLayersModel(tf.io.fromMemory({
    modelTopology: json.modelTopology,
    weightSpecs: json.weightsManifest[0].weights,
    weightData: bin.buffer.slice(bin.byteOffset, bin.byteOffset + bin.byteLength),
  }));
}

t.test('layers-format actor: tfjs and the plain forward pass agree', async (t) => {
  const learner = new Amarl(I, D, A, 9);
  const dir = mkdtempSync(join(tmpdir(), 'gmel-actor-'));
  const meta = { obsEncoderVersion: OBS_ENCODER_VERSION, ied: 2, algo: 'amarl', actionNames: ['local', 'edge-1', 'edge-2'], runName: 'test', episode: 0 };
  await saveActor(dir, learner.actorNet(2), meta);
  const loaded = readActor(dir);
  t.same(loaded.metadata, meta, 'metadata travels with the model');
  const model = await loadInTfjs(dir);
  const rng = new Rng(1);
  const obs = Float32Array.from({ length: 20 * D }, () => rng.uniform() * 2);
  const expected = (model.predict(tf.tensor2d(obs, [20, D])) as tf.Tensor).dataSync();
  const runner = new ActorRunner(loaded.net);
  let worst = 0;
  for (let b = 0; b < 20; b++) {
    const logits = runner.logits(obs, b * D);
    for (let a = 0; a < A; a++) worst = Math.max(worst, Math.abs((logits[a] as number) - (expected[b * A + a] as number)));
  }
  t.ok(worst < 1e-5, `max |Δ| ${worst}`);
  model.dispose();
  learner.dispose();
});

t.test('DQN: the folded dueling head gives the same Q-values', async (t) => {
  const learner = new Dqn(I, D, A, 3);
  const rng = new Rng(2);
  const obs = Float32Array.from({ length: I * D }, () => rng.uniform());
  const folded = Array.from(new ActorRunner(learner.actorNet(1)).logits(obs, D).subarray(0, A));
  const groups = learner.variableGroups();
  t.ok(groups.online.length > 0);
  // Q from the learner's network for IED 1
  const q = tf.tidy(() => (learner as unknown as { online: { q(x: tf.Tensor3D): tf.Tensor3D } }).online.q(tf.tensor3d(obs, [I, 1, D])).dataSync());
  const direct = Array.from(q.subarray(A, 2 * A));
  t.ok(folded.every((v, a) => Math.abs(v - (direct[a] as number)) < 1e-5), `${folded} ≈ ${direct}`);
  learner.dispose();
});

t.test('a run whose actors expect another observation encoder is refused', async (t) => {
  const learner = new Amarl(1, D, A, 9);
  const run = mkdtempSync(join(tmpdir(), 'gmel-run-'));
  await saveActor(join(run, 'actors', 'ied-0'), learner.actorNet(0), { obsEncoderVersion: 'gmel-obs/0', ied: 0, algo: 'amarl', actionNames: [], runName: 'x', episode: 0 });
  await t.rejects(loadRunPolicy(run), /expects observations gmel-obs\/0, this build encodes gmel-obs\/2/);
  // a truncated weights file is named as such
  const weights = join(run, 'actors', 'ied-0', 'weights.bin');
  writeFileSync(weights, readFileSync(weights).subarray(0, 40));
  t.throws(() => readActor(join(run, 'actors', 'ied-0')), /weights\.bin has 10 floats/);
  learner.dispose();
});
