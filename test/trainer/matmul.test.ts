// The wasm fast-path products (trainer/matmul.ts) give tf.matMul's values and gradients, up to float rounding,
// for every form the learners use: 2-D (shared layers), stacked (per-agent layers, GRU cells) and stacked a·bᵀ
// (attention logits); and they leave no tensors behind.
import t from 'tap';
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../../trainer/backend.ts';
import { matMul2d, stackedMatMul, useFastMatMul } from '../../trainer/matmul.ts';
import { Rng } from '../../core/rng.ts';

await selectBackend('auto');

const rng = new Rng(9);
const random = (shape: number[]) => tf.tensor(Float32Array.from({ length: shape.reduce((p, s) => p * s, 1) }, () => rng.uniform() * 2 - 1), shape);
const worst = (a: tf.Tensor, b: tf.Tensor) => tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0] as number);

/** value and both gradients of Σ (w ⊙ f(a, b)) with a fixed random w, so every output element matters */
function run(f: (a: tf.Tensor, b: tf.Tensor) => tf.Tensor, a: tf.Tensor, b: tf.Tensor, w: tf.Tensor): tf.Tensor[] {
  const value = f(a, b);
  const [da, db] = tf.grads((x: tf.Tensor, y: tf.Tensor) => tf.sum(tf.mul(f(x, y), w)))([a, b]);
  return [value, da as tf.Tensor, db as tf.Tensor];
}

const cases: { name: string; a: number[]; b: number[]; fast: (a: tf.Tensor, b: tf.Tensor) => tf.Tensor; plain: (a: tf.Tensor, b: tf.Tensor) => tf.Tensor }[] = [
  { name: '2-D [37×11]·[11×5]', a: [37, 11], b: [11, 5], fast: (a, b) => matMul2d(a as tf.Tensor2D, b as tf.Tensor2D), plain: (a, b) => tf.matMul(a as tf.Tensor2D, b as tf.Tensor2D) },
  { name: 'stacked [7, 33×17]·[7, 17×20]', a: [7, 33, 17], b: [7, 17, 20], fast: (a, b) => stackedMatMul(a as tf.Tensor3D, b as tf.Tensor3D), plain: (a, b) => tf.matMul(a as tf.Tensor3D, b as tf.Tensor3D) },
  { name: 'stacked a·bᵀ [5, 40×8]·[5, 30×8]ᵀ', a: [5, 40, 8], b: [5, 30, 8], fast: (a, b) => stackedMatMul(a as tf.Tensor3D, b as tf.Tensor3D, true), plain: (a, b) => tf.matMul(a as tf.Tensor3D, b as tf.Tensor3D, false, true) },
];

for (const c of cases) {
  t.test(c.name, async (t) => {
    const [a, b] = [random(c.a), random(c.b)];
    const w = random(c.fast(a, b).shape);
    const before = tf.memory().numTensors;
    const fast = run(c.fast, a, b, w);
    useFastMatMul(false);
    const plain = run(c.plain, a, b, w);
    useFastMatMul(true);
    ['value', '∂/∂a', '∂/∂b'].forEach((what, k) => {
      const [f, p] = [fast[k] as tf.Tensor, plain[k] as tf.Tensor];
      t.same(f.shape, p.shape, `${what}: shape ${p.shape.join('×')}`);
      t.ok(worst(f, p) < 1e-5, `${what}: equal to tf.matMul's within float rounding (worst |Δ| ${worst(f, p).toExponential(2)})`);
    });
    if (tf.getBackend() === 'wasm' && c.a.length === 3) {
      const profile = await tf.profile(() => c.fast(a, b));
      t.ok(profile.kernelNames.includes('GmelGroupMatMul'), `on wasm it runs the group kernel (${profile.kernelNames.join(', ')})`);
      tf.dispose(profile.result as tf.Tensor);
    }
    tf.dispose([...fast, ...plain]);
    t.equal(tf.memory().numTensors, before, 'no tensors left behind');
    tf.dispose([a, b, w]);
  });
}
