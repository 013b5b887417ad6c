/**
 * Matrix products kept on the wasm backend's fast path (issue #12; the profile is
 * bench/results/training-profile.json, read in trainer/README.md "Training speed").
 *
 * tfjs-backend-wasm 4.x hands a matMul to XNNPACK only when it is 2-D and untransposed. A batched
 * product (the per-agent layers, [I, B, in]·[I, in, out]; attention per sample and head) or a transposed
 * one (every matMul gradient: dA = dY·Bᵀ, dB = Aᵀ·dY) runs a plain loop that measured 4–10× slower
 * here. tf.slice on wasm copies its whole input for every slice, so splitting a stack with tf ops costs
 * more than it saves; uploading each group from one dataSync halved the per-agent layers' time, views
 * (below) saved another third.
 *
 * | function      | product                    | forward                              | backward                    |
 * |---------------|----------------------------|--------------------------------------|-----------------------------|
 * | matMul2d      | a [m, k] · b [k, n]        | one XNNPACK call                     | explicit transposes, 2 calls|
 * | stackedMatMul | a [G, m, k] · b [G, k, n]  | GmelGroupMatMul: G XNNPACK calls on  | 2 transposes, 2G calls      |
 * |               | (or a · bᵀ)                | views into the stacks (no copies)    |                             |
 *
 * GmelGroupMatMul relies on tfjs-backend-wasm 4.x internals (dataIdMap, registerTensor, the BatchMatMul
 * export), as the package's own kernels do. Both functions compute exactly tf.matMul's products and
 * gradients (only the summation order inside a dot product may differ: float rounding); on any other
 * backend they are tf.matMul itself.
 */
import * as tf from '@tensorflow/tfjs';

let enabled = true;
/** Off: plain tf.matMul everywhere (bench/train.ts times both in one process; the tests check both agree). */
export function useFastMatMul(on: boolean): void {
  enabled = on;
}
const onWasm = (): boolean => enabled && tf.getBackend() === 'wasm';
/**
 * Multiply-adds per group below which the batched kernel stays: each group costs a few wasm calls and an
 * XNNPACK operator (~10 µs), more than the plain loop needs for a small product. Acting (one row per agent,
 * 50 × [1×20]·[20×64]) measured 2–6× slower through groups; training's products (≥ 40 K per group) 3–5× faster.
 */
const MIN_GROUP_WORK = 8192;

/** a [m, k] · b [k, n] → [m, n] */
export function matMul2d(a: tf.Tensor2D, b: tf.Tensor2D): tf.Tensor2D {
  if (!onWasm()) return tf.matMul(a, b);
  return fastMatMul2d(a, b) as tf.Tensor2D;
}

/** customGrad's save callback (its parameter type is a union with Tensor) */
type Save = (tensors: tf.Tensor[]) => void;

const fastMatMul2d = tf.customGrad((a, b, save) => {
  (save as Save)([a as tf.Tensor, b as tf.Tensor]);
  return {
    value: tf.matMul(a as tf.Tensor2D, b as tf.Tensor2D),
    gradFunc: (dy, saved) => {
      const [x, w] = saved as [tf.Tensor2D, tf.Tensor2D];
      const g = dy as tf.Tensor2D;
      return [tf.matMul(g, tf.transpose(w)), tf.matMul(tf.transpose(x), g)];
    },
  };
});

/** a [G, m, k] · b [G, k, n] → [G, m, n] group by group; transposeB: b is [G, n, k] and a · bᵀ is taken */
export function stackedMatMul(a: tf.Tensor3D, b: tf.Tensor3D, transposeB = false): tf.Tensor3D {
  const [, m, k] = a.shape;
  const n = b.shape[transposeB ? 1 : 2];
  if (!onWasm() || m * k * n < MIN_GROUP_WORK) return tf.matMul(a, b, false, transposeB);
  return (transposeB ? fastStackedMatMulBT(a, b) : fastStackedMatMul(a, b)) as tf.Tensor3D;
}

/** tfjs-backend-wasm's backend object, as far as the group kernel below needs it (4.x internals) */
interface WasmBackend {
  dataIdMap: { get(dataId: object): { memoryOffset: number } };
  dataIdNextNumber: number;
  makeOutput(shape: number[], dtype: 'float32'): tf.TensorInfo;
  wasm: {
    cwrap(name: string, ret: null, args: string[]): (...a: unknown[]) => void;
    tfjs: { registerTensor(id: number, size: number, offset: number): void; disposeData(id: number): void };
  };
}

/** the wasm module's 2-D product, bound once per module (a re-created backend has a new one) */
const wasmMatMuls = new WeakMap<object, (...a: unknown[]) => void>();
const GROUP_MATMUL = 'GmelGroupMatMul';

/**
 * a [G, m, k] · b [G, k, n] as G calls of the wasm backend's own 2-D (XNNPACK) product, on views into the
 * stacks' memory: each group is registered with the wasm side as a tensor at its offset (no copy) and
 * unregistered right after (the memory stays the stack's; only the JS side ever frees it).
 */
function groupMatMulKernel({ inputs, backend }: { inputs: tf.NamedTensorInfoMap; backend: unknown }): tf.TensorInfo {
  const wb = backend as WasmBackend;
  const a = inputs.a as tf.TensorInfo;
  const b = inputs.b as tf.TensorInfo;
  const [G, m, k] = a.shape as [number, number, number];
  const n = b.shape[2] as number;
  // the views below read G·m·k and G·k·n floats: any other shape or dtype would read out of bounds
  if (b.shape[0] !== G || b.shape[1] !== k || a.dtype !== 'float32' || b.dtype !== 'float32') throw new Error(`${GROUP_MATMUL}: [${a.shape}] ${a.dtype} · [${b.shape}] ${b.dtype}: not two float32 stacks of matching groups`);
  const out = wb.makeOutput([G, m, n], 'float32');
  let wasmMatMul = wasmMatMuls.get(wb.wasm);
  if (!wasmMatMul) wasmMatMuls.set(wb.wasm, (wasmMatMul = wb.wasm.cwrap('BatchMatMul', null, ['number', 'array', 'number', 'number', 'array', 'number', 'number', 'number', 'number'])));
  const offsets = [a, b, out].map((t) => wb.dataIdMap.get(t.dataId).memoryOffset);
  const sizes = [m * k, k * n, m * n];
  const aShape = new Uint8Array(new Int32Array([1, m, k]).buffer);
  const bShape = new Uint8Array(new Int32Array([1, k, n]).buffer);
  const { registerTensor, disposeData } = wb.wasm.tfjs;
  for (let g = 0; g < G; g++) {
    const ids = sizes.map((size, t) => {
      const id = wb.dataIdNextNumber++;
      registerTensor(id, size, (offsets[t] as number) + 4 * g * size);
      return id;
    });
    wasmMatMul(ids[0], aShape, 3, ids[1], bShape, 3, false, false, ids[2]);
    for (const id of ids) disposeData(id);
  }
  return out;
}
tf.registerKernel({ kernelName: GROUP_MATMUL, backendName: 'wasm', kernelFunc: groupMatMulKernel as unknown as tf.KernelFunc });

const groupMatMul = (a: tf.Tensor, b: tf.Tensor): tf.Tensor3D => tf.engine().runKernel(GROUP_MATMUL, { a, b }) as tf.Tensor3D;

const T = (x: tf.Tensor): tf.Tensor => tf.transpose(x, [0, 2, 1]);

const fastStackedMatMul = tf.customGrad((a, b, save) => {
  (save as Save)([a as tf.Tensor, b as tf.Tensor]);
  return {
    value: groupMatMul(a as tf.Tensor, b as tf.Tensor),
    gradFunc: (dy, saved) => {
      const [x, w] = saved as [tf.Tensor, tf.Tensor];
      // dA_g = dY_g · B_gᵀ, dB_g = A_gᵀ · dY_g, with the transposes done once on the whole stack
      return [groupMatMul(dy as tf.Tensor, T(w)), groupMatMul(T(x), dy as tf.Tensor)];
    },
  };
});

/** a · bᵀ: forward transposes b once; dA_g = dY_g · B_g needs none, dB_g = dY_gᵀ · A_g one */
const fastStackedMatMulBT = tf.customGrad((a, b, save) => {
  (save as Save)([a as tf.Tensor, b as tf.Tensor]);
  return {
    value: groupMatMul(a as tf.Tensor, T(b as tf.Tensor)),
    gradFunc: (dy, saved) => {
      const [x, w] = saved as [tf.Tensor, tf.Tensor];
      return [groupMatMul(dy as tf.Tensor, w), groupMatMul(T(dy as tf.Tensor), x)];
    },
  };
});
