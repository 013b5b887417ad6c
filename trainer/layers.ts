/**
 * Parameter groups for vectorized multi-agent networks, after MAAC's split of per-agent and shared
 * parameters. Per-agent weights are stacked along a leading agent axis so that 50 agents are one
 * batched matmul, not 50 small models in a JS loop (bench/train.ts measures both layouts). On wasm
 * the products run through matmul.ts, group by group on XNNPACK (issue #12).
 *
 * | class        | weights                 | input → output               |
 * |--------------|-------------------------|------------------------------|
 * | AgentDense   | W [I, in, out], b [I,1,out] | x [I, B, in] → [I, B, out] |
 * | SharedDense  | W [in, out], b [out]    | x [..., in] → [..., out]     |
 * | AgentGru     | W [I, in, 3H], U [I, H, 3H], b [I,1,3H] (z, r, ĥ) | x [I,B,in], h [I,B,H] → h' |
 *
 * Initialisation: Glorot-uniform from an explicit seeded Rng (never tf's global random state).
 */
import * as tf from '@tensorflow/tfjs';
import type { Rng } from '../core/rng.ts';
import type { ActorLayer } from './actor-net.ts';
import { matMul2d, stackedMatMul } from './matmul.ts';

let variableCounter = 0;
/** tfjs variable names are process-global: make each one unique (two learners may coexist). */
export function uniqueName(name: string): string {
  return `${name}#${variableCounter++}`;
}

function glorot(rng: Rng, count: number, fanIn: number, fanOut: number): Float32Array {
  const limit = Math.sqrt(6 / (fanIn + fanOut));
  const out = new Float32Array(count);
  for (let k = 0; k < count; k++) out[k] = (rng.uniform() * 2 - 1) * limit;
  return out;
}

export class AgentDense {
  readonly W: tf.Variable;
  readonly b: tf.Variable;
  constructor(rng: Rng, readonly agents: number, readonly inputs: number, readonly outputs: number, name: string, bias = true) {
    this.W = tf.variable(tf.tensor3d(glorot(rng, agents * inputs * outputs, inputs, outputs), [agents, inputs, outputs]), true, uniqueName(`${name}/W`));
    this.b = tf.variable(tf.zeros([agents, 1, outputs]), bias, uniqueName(`${name}/b`));
  }
  apply(x: tf.Tensor3D): tf.Tensor3D {
    return tf.add(stackedMatMul(x, this.W as tf.Tensor3D), this.b) as tf.Tensor3D;
  }
  get variables(): tf.Variable[] {
    return this.b.trainable ? [this.W, this.b] : [this.W];
  }
}

/**
 * I per-agent MLPs stacked (one batched matmul per layer): inputs → H → H → outputs, relu, relu,
 * linear. The actors of AMARL (MLP), MADDPG and AC, and AC's critics.
 */
export class AgentMlp {
  readonly l1: AgentDense;
  readonly l2: AgentDense;
  readonly out: AgentDense;
  constructor(rng: Rng, agents: number, inputs: number, hidden: number, outputs: number, name: string) {
    this.l1 = new AgentDense(rng, agents, inputs, hidden, `${name}/l1`);
    this.l2 = new AgentDense(rng, agents, hidden, hidden, `${name}/l2`);
    this.out = new AgentDense(rng, agents, hidden, outputs, `${name}/out`);
  }
  /** x [I, B, inputs] → [I, B, outputs] */
  apply(x: tf.Tensor3D): tf.Tensor3D {
    return this.out.apply(this.trunk(x));
  }
  /** the two hidden layers: x [I, B, inputs] → [I, B, H] */
  trunk(x: tf.Tensor3D): tf.Tensor3D {
    return tf.relu(this.l2.apply(tf.relu(this.l1.apply(x)) as tf.Tensor3D)) as tf.Tensor3D;
  }
  get variables(): tf.Variable[] {
    return [...this.l1.variables, ...this.l2.variables, ...this.out.variables];
  }
  /** agent `ied`'s three layers, for export (actor-net.ts) */
  layers(ied: number): ActorLayer[] {
    return agentDenseLayers([this.l1, this.l2, this.out], ied, ['relu', 'relu', 'linear']);
  }
}

/** Dueling head (Wang et al. 2016): Q(a) = V + A(a) − mean_a A(a), over the last axis. */
export function duelingQ(value: tf.Tensor3D, advantage: tf.Tensor3D): tf.Tensor3D {
  return tf.add(value, tf.sub(advantage, tf.mean(advantage, 2, true))) as tf.Tensor3D;
}

/** Slice agent `ied`'s kernel and bias out of stacked per-agent layers. */
export function agentDenseLayers(layers: readonly AgentDense[], ied: number, activations: readonly ('relu' | 'linear')[]): ActorLayer[] {
  return layers.map((l, k) => {
    const W = l.W.dataSync() as Float32Array;
    const b = l.b.dataSync() as Float32Array;
    const size = l.inputs * l.outputs;
    return {
      kernel: W.slice(ied * size, (ied + 1) * size),
      bias: b.slice(ied * l.outputs, (ied + 1) * l.outputs),
      inputs: l.inputs,
      outputs: l.outputs,
      activation: activations[k] ?? 'linear',
    };
  });
}

export class SharedDense {
  readonly W: tf.Variable;
  readonly b: tf.Variable | undefined;
  constructor(rng: Rng, readonly inputs: number, readonly outputs: number, name: string, bias = true) {
    this.W = tf.variable(tf.tensor2d(glorot(rng, inputs * outputs, inputs, outputs), [inputs, outputs]), true, uniqueName(`${name}/W`));
    this.b = bias ? tf.variable(tf.zeros([outputs]), true, uniqueName(`${name}/b`)) : undefined;
  }
  /** x [..., in]: flattened to one matmul (fast on every backend), reshaped back. */
  apply(x: tf.Tensor): tf.Tensor {
    const shape = x.shape;
    const flat = tf.reshape(x, [-1, this.inputs]) as tf.Tensor2D;
    let y: tf.Tensor = matMul2d(flat, this.W as tf.Tensor2D);
    if (this.b) y = tf.add(y, this.b);
    return tf.reshape(y, [...shape.slice(0, -1), this.outputs]);
  }
  get variables(): tf.Variable[] {
    return this.b ? [this.W, this.b] : [this.W];
  }
}

/**
 * Per-agent GRU cells (Cho et al. 2014; reset gate before the recurrent product, as Keras'
 * reset_after = false): z = σ(xWz + hUz + bz), r = σ(xWr + hUr + br),
 * ĥ = tanh(xWh + (r⊙h)Uh + bh), h' = z⊙h + (1 − z)⊙ĥ. Gate columns are stacked [z | r | ĥ].
 */
export class AgentGru {
  readonly W: tf.Variable;
  readonly U: tf.Variable;
  readonly b: tf.Variable;
  constructor(rng: Rng, readonly agents: number, readonly inputs: number, readonly hidden: number, name: string) {
    const H = hidden;
    this.W = tf.variable(tf.tensor3d(glorot(rng, agents * inputs * 3 * H, inputs, H), [agents, inputs, 3 * H]), true, uniqueName(`${name}/W`));
    this.U = tf.variable(tf.tensor3d(glorot(rng, agents * H * 3 * H, H, H), [agents, H, 3 * H]), true, uniqueName(`${name}/U`));
    this.b = tf.variable(tf.zeros([agents, 1, 3 * H]), true, uniqueName(`${name}/b`));
  }
  apply(x: tf.Tensor3D, h: tf.Tensor3D): tf.Tensor3D {
    const H = this.hidden;
    const xw = tf.add(stackedMatMul(x, this.W as tf.Tensor3D), this.b);
    const [xz, xr, xh] = tf.split(xw, [H, H, H], 2) as [tf.Tensor3D, tf.Tensor3D, tf.Tensor3D];
    const [Uzr, Uh] = tf.split(this.U, [2 * H, H], 2) as [tf.Tensor3D, tf.Tensor3D];
    const [hz, hr] = tf.split(stackedMatMul(h, Uzr), [H, H], 2) as [tf.Tensor3D, tf.Tensor3D];
    const z = tf.sigmoid(tf.add(xz, hz));
    const r = tf.sigmoid(tf.add(xr, hr));
    const candidate = tf.tanh(tf.add(xh, stackedMatMul(tf.mul(r, h) as tf.Tensor3D, Uh)));
    return tf.add(tf.mul(z, h), tf.mul(tf.sub(1, z), candidate)) as tf.Tensor3D;
  }
  get variables(): tf.Variable[] {
    return [this.W, this.U, this.b];
  }
}

/** Polyak averaging target ← τ·online + (1 − τ)·target, in place. */
export function softUpdate(target: readonly tf.Variable[], online: readonly tf.Variable[], tau: number): void {
  tf.tidy(() => {
    target.forEach((t, k) => t.assign(tf.add(tf.mul(online[k] as tf.Variable, tau), tf.mul(t, 1 - tau))));
  });
}

/** Copy online weights into target weights. */
export function hardUpdate(target: readonly tf.Variable[], online: readonly tf.Variable[]): void {
  softUpdate(target, online, 1);
}

/** Global-norm gradient clipping, in a tidy. */
export function clipByGlobalNorm(grads: Record<string, tf.Tensor>, maxNorm: number): Record<string, tf.Tensor> {
  const names = Object.keys(grads);
  const norm = tf.sqrt(tf.addN(names.map((n) => tf.sum(tf.square(grads[n] as tf.Tensor))))).dataSync()[0] as number;
  if (!(norm > maxNorm)) return grads;
  const scale = maxNorm / norm;
  return Object.fromEntries(names.map((n) => [n, tf.mul(grads[n] as tf.Tensor, scale)]));
}

/** Leaky ReLU with MAAC's slope. */
export const leaky = (x: tf.Tensor): tf.Tensor => tf.leakyRelu(x, 0.01);
