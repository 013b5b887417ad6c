import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../trainer/backend.ts';
await selectBackend('wasm');
const r = (s: number[]) => tf.randomUniform(s, -1, 1, 'float32', 1);
const best = new Map<string, number>();
function t(name: string, f: () => unknown, reps = 10) {
  tf.tidy(() => { f(); });
  const t0 = performance.now();
  for (let k = 0; k < reps; k++) tf.tidy(() => { const o = f() as tf.Tensor; o.dataSync(); });
  const ms = (performance.now() - t0) / reps;
  best.set(name, Math.min(best.get(name) ?? Infinity, ms));
}
const xb = r([50, 64, 128]), Wb = r([50, 128, 64]);
const xs = tf.unstack(xb), Ws = tf.unstack(Wb);
const W2 = r([128, 64]);
for (let round = 0; round < 4; round++) {
  t('batched 50x64x128 . 50x128x64', () => tf.matMul(xb, Wb));
  t('loop 50 2D presliced', () => tf.stack(xs.map((x, i) => tf.matMul(x as tf.Tensor2D, Ws[i] as tf.Tensor2D))));
  t('loop fresh x (unstack x), presliced W', () => { const a = tf.unstack(xb); return tf.stack(a.map((x, i) => tf.matMul(x as tf.Tensor2D, Ws[i] as tf.Tensor2D))); });
  t('loop presliced x, fresh W (unstack W)', () => { const b = tf.unstack(Wb); return tf.stack(xs.map((x, i) => tf.matMul(x as tf.Tensor2D, b[i] as tf.Tensor2D))); });
  t('unstack only', () => tf.stack(tf.unstack(Wb)));
  t('single 2D fresh W (W2+0) 64x128.128x64', () => tf.matMul(xs[0] as tf.Tensor2D, tf.add(W2, 0) as tf.Tensor2D));
  t('single 2D cached W 64x128.128x64', () => tf.matMul(xs[0] as tf.Tensor2D, W2));
  t('single 2D fresh W, 3200x128', () => tf.matMul(tf.reshape(xb, [3200, 128]), tf.add(W2, 0) as tf.Tensor2D));
  t('single 2D cached W, 3200x128', () => tf.matMul(tf.reshape(xb, [3200, 128]), W2));
  t('add 0 only', () => tf.add(W2, 0));
}
for (const [n, ms] of best) console.log(ms.toFixed(3).padStart(8), n);
