// ONNX export: tfjs, onnxruntime-node and onnxruntime-web agree within 1e-5 and pick the same action,
// on random and on simulator observations; the manifest catches tampering and encoder mismatches.
import t from 'tap';
import * as tf from '@tensorflow/tfjs';
import * as ortNode from 'onnxruntime-node';
import * as ortWeb from 'onnxruntime-web';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { selectBackend } from '../../trainer/backend.ts';
import { loadScenario } from '../../core/scenario/load.ts';
import { Rng } from '../../core/rng.ts';
import { GmelParallelEnv } from '../../sim/env.ts';
import { train } from '../../trainer/train.ts';
import { exportRun } from '../../trainer/export-set.ts';
import { buildActorModel } from '../../trainer/export-tfjs.ts';
import { readActor } from '../../trainer/actor-file.ts';
import { onnxMetadata } from '../../trainer/export-onnx.ts';
import { loadVerifiedModel, verifyModelSet, readManifest } from '../../core/model-set.ts';

await selectBackend('auto');
ortWeb.env.wasm.numThreads = 1;
const scenario = loadScenario('gmel2024', { ieds: 3, episodeSlots: 30 });
const root = mkdtempSync(join(tmpdir(), 'gmel-onnx-'));
const run = join(root, 'run');
await train({ algo: 'amarl', scenario, preset: 'smoke', seed: 2, outDir: run, episodes: 3 });
const { dir, manifest } = exportRun({ runDir: run, outDir: join(root, 'models', 'smoke') });

function simulatorObservations(count: number): Float32Array {
  const env = new GmelParallelEnv(scenario);
  const rng = new Rng(8);
  const rows: number[] = [];
  let v = env.resetVector(77);
  const actions = new Int32Array(scenario.ieds);
  while (rows.length < count * env.world.obsSize && !v.done) {
    rows.push(...v.observations);
    for (let i = 0; i < scenario.ieds; i++) actions[i] = rng.int(env.world.M + 1);
    v = env.stepVector(actions);
  }
  return Float32Array.from(rows.slice(0, count * env.world.obsSize));
}

t.test('three engines agree on every IED\'s actor', async (t) => {
  const D = manifest.files['ied-0.onnx']?.inputSize as number;
  const A = manifest.actionNames.length;
  const rng = new Rng(5);
  const inputs = { random: Float32Array.from({ length: 64 * D }, () => rng.uniform() * 3 - 0.5), simulator: simulatorObservations(60) };
  for (let ied = 0; ied < scenario.ieds; ied++) {
    const bytes = loadVerifiedModel(dir, ied);
    t.equal(onnxMetadata(bytes)['gmel.policy_version'], manifest.version);
    const node = await ortNode.InferenceSession.create(bytes);
    const web = await ortWeb.InferenceSession.create(bytes, { executionProviders: ['wasm'] });
    const model = buildActorModel(readActor(join(run, 'actors', `ied-${ied}`)).net);
    for (const [kind, obs] of Object.entries(inputs)) {
      const n = obs.length / D;
      const expected = tf.tidy(() => (model.predict(tf.tensor2d(obs, [n, D])) as tf.Tensor).dataSync() as Float32Array);
      const fromNode = await node.run({ obs: new ortNode.Tensor('float32', obs, [n, D]) });
      const fromWeb = await web.run({ obs: new ortWeb.Tensor('float32', obs, [n, D]) });
      for (const [engine, out] of [['onnxruntime-node', fromNode], ['onnxruntime-web', fromWeb]] as const) {
        const logits = out.logits?.data as Float32Array;
        const actions = out.action?.data as BigInt64Array;
        let worst = 0;
        let sameAction = 0;
        for (let b = 0; b < n; b++) {
          let best = 0;
          for (let a = 0; a < A; a++) {
            worst = Math.max(worst, Math.abs((logits[b * A + a] as number) - (expected[b * A + a] as number)));
            if ((expected[b * A + a] as number) > (expected[b * A + best] as number)) best = a;
          }
          if (Number(actions[b]) === best) sameAction++;
        }
        t.ok(worst < 1e-5, `IED ${ied} ${kind} ${engine}: max |Δlogit| ${worst.toExponential(2)}`);
        t.equal(sameAction, n, `IED ${ied} ${kind} ${engine}: same action on all ${n}`);
      }
    }
    model.dispose();
    await node.release();
    await web.release();
  }
});

t.test('the manifest records provenance and catches tampering', async (t) => {
  t.equal(manifest.algo, 'amarl');
  t.equal(manifest.ieds, 3);
  t.equal(manifest.training.seed, 2);
  t.equal(manifest.obsEncoderVersion, 'gmel-obs/2');
  t.same(Object.keys(manifest.files).sort(), ['ied-0.onnx', 'ied-1.onnx', 'ied-2.onnx']);
  t.ok(verifyModelSet(dir));
  const again = exportRun({ runDir: run, outDir: join(root, 'models', 'smoke') });
  t.equal(again.manifest.version, manifest.version, 'same run → same version');
  const file = join(dir, 'ied-1.onnx');
  const bytes = readFileSync(file);
  bytes[bytes.length - 5] = (bytes[bytes.length - 5] as number) ^ 0xff;
  writeFileSync(file, bytes);
  t.throws(() => loadVerifiedModel(dir, 1), /ied-1\.onnx has sha256 .* \(tampered or corrupt\)/);
  t.throws(() => loadVerifiedModel(dir, 7), /no model for IED 7/);
  const m = readManifest(dir);
  writeFileSync(join(dir, 'manifest.json'), JSON.stringify({ ...m, obsEncoderVersion: 'gmel-obs/0' }));
  t.throws(() => loadVerifiedModel(dir, 0), /built for observations gmel-obs\/0, this runtime encodes gmel-obs\/2/);
});

const hasOnnxChecker = spawnSync('/usr/bin/python3', ['-c', 'import onnx'], { encoding: 'utf8' }).status === 0;
t.test('the ONNX project\'s own checker accepts the export (python3-onnx, as CI installs it)', { skip: hasOnnxChecker ? false : 'python3-onnx is not installed here (.ci/run installs it)' }, async (t) => {
  const fresh = exportRun({ runDir: run, outDir: join(root, 'models', 'checked') });
  // and a recurrent (GRU) actor's graph
  const gruRun = join(root, 'gru-run');
  await train({ algo: 'amarl', scenario, preset: 'smoke', seed: 2, outDir: gruRun, episodes: 1, config: { actor: 'gru', actorHidden: 8 } });
  const gru = exportRun({ runDir: gruRun, outDir: join(root, 'models', 'checked-gru') });
  const files = [...Object.keys(fresh.manifest.files).map((f) => join(fresh.dir, f)), join(gru.dir, 'ied-0.onnx')];
  const script = new URL('../../scripts/check_onnx.py', import.meta.url).pathname;
  const r = spawnSync('/usr/bin/python3', [script, ...files], { encoding: 'utf8' });
  t.equal(r.status, 0, r.stderr);
  t.match(r.stdout, /ok .*ied-0\.onnx \(ir 8, opset 13\)/);
  t.match(r.stdout, /ok .*checked-gru.*ied-0\.onnx/);
});
