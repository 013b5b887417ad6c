/**
 * MADDPG baseline (Lowe et al. 2017) for discrete actions via Gumbel-softmax.
 *
 * | piece      | here                                                                              |
 * |------------|-----------------------------------------------------------------------------------|
 * | actor π_i  | per-IED MLP o_i → H → H → M+1 logits                                              |
 * | critic Q_i | per-IED MLP over ALL observations and actions: [o_1..o_I, a_1..a_I] → H → H → 1   |
 * |            | (its first layer for all IEDs is one flat matmul: the input is the same for all)  |
 * | target     | y_i = r_i + γ(1−done) Q'_i(O', A'), A' one-hot samples of the target actors        |
 * | actor step | ∇ Q_i(O, a_1..ã_i..a_I), ã_i = Gumbel-softmax(logits_i), others from the replay;  |
 * |            | straight-through by default (the critic sees a one-hot action, as in training;   |
 * |            | the gradient is the soft sample's), optional entropy bonus β·H(π_i)               |
 * | no-op rows | the critic learns them; actors skip them                                           |
 */
import * as tf from '@tensorflow/tfjs';
import { Rng } from '../../core/rng.ts';
import { AgentDense, AgentMlp, SharedDense, softUpdate, hardUpdate, clipByGlobalNorm } from '../layers.ts';
import { EpisodeReplay, type Batch } from '../replay.ts';
import { LearnerBase, gumbelNoise, type Learner, type UpdateStats, type ActorNet } from '../learner.ts';

export interface MaddpgConfig {
  /** actor learning rate (paper 1e-3, same as AMARL for a fair comparison) */
  actorLr: number;
  /** critic learning rate (paper 5e-3) */
  criticLr: number;
  /** discount per slot */
  gamma: number;
  /** minibatch (paper 64) */
  batchSize: number;
  /** Polyak τ */
  tau: number;
  /** hidden widths of actors and critics */
  hidden: number;
  /** Gumbel-softmax temperature of the relaxed action */
  gumbelTemperature: number;
  /** gradient steps per episode */
  updatesPerRound: number;
  /** replay capacity in episodes */
  replayEpisodes: number;
  /** global-norm gradient clips */
  criticClipPerAgent: number;
  actorClip: number;
  /** straight-through Gumbel-softmax: one-hot forward, soft gradient (Iqbal & Sha's MADDPG baseline) */
  straightThrough: boolean;
  /** entropy bonus β on the actors' objective (0: vanilla MADDPG; 0.01 = AMARL's temperature λ) */
  entropyBonus: number;
  /** episodes collected before updates start (AMARL waits 2) */
  warmupEpisodes: number;
}

export const MADDPG_DEFAULTS: MaddpgConfig = {
  actorLr: 1e-3, criticLr: 5e-3, gamma: 0.99, batchSize: 64, tau: 0.005, hidden: 64, gumbelTemperature: 1,
  updatesPerRound: 4, replayEpisodes: 300, criticClipPerAgent: 10, actorClip: 0.5,
  straightThrough: true, entropyBonus: 0.01, warmupEpisodes: 2,
};

/** One-hot of the argmax forward, identity gradient backward (straight-through estimator). */
export const straightThroughOneHot = tf.customGrad(((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
  const soft = args[0] as tf.Tensor;
  return { value: tf.oneHot(tf.argMax(soft, -1), soft.shape[soft.shape.length - 1] as number).toFloat(), gradFunc: (dy: tf.Tensor) => dy };
}) as Parameters<typeof tf.customGrad>[0]);

class CentralCritics {
  /** first layer of every IED's critic, side by side: [I·(D+A), I·H] */
  readonly first: SharedDense;
  readonly l2: AgentDense;
  readonly out: AgentDense;
  constructor(rng: Rng, readonly I: number, readonly D: number, readonly A: number, readonly H: number, name: string) {
    this.first = new SharedDense(rng, I * (D + A), I * H, `${name}/l1`);
    this.l2 = new AgentDense(rng, I, H, H, `${name}/l2`);
    this.out = new AgentDense(rng, I, H, 1, `${name}/out`);
  }
  /** joint input [B, I·(D+A)] from obs [I,B,D] and actions [I,B,A] */
  joint(obs: tf.Tensor3D, actions: tf.Tensor3D): tf.Tensor2D {
    const B = obs.shape[1];
    const flat = (x: tf.Tensor3D) => tf.reshape(tf.transpose(x, [1, 0, 2]), [B, -1]);
    return tf.concat([flat(obs), flat(actions)], 1) as tf.Tensor2D;
  }
  /** first-layer pre-activations per IED [I, B, H] */
  pre(joint: tf.Tensor2D): tf.Tensor3D {
    const B = joint.shape[0];
    return tf.transpose(tf.reshape(this.first.apply(joint), [B, this.I, this.H]), [1, 0, 2]) as tf.Tensor3D;
  }
  rest(pre: tf.Tensor3D): tf.Tensor2D {
    return tf.squeeze(this.out.apply(tf.relu(this.l2.apply(tf.relu(pre) as tf.Tensor3D)) as tf.Tensor3D), [2]) as tf.Tensor2D;
  }
  /** Q_i for each IED of the same joint input: [I, B] */
  q(obs: tf.Tensor3D, actions: tf.Tensor3D): tf.Tensor2D {
    return this.rest(this.pre(this.joint(obs, actions)));
  }
  /** W block mapping IED i's own action into IED i's first layer: [I, A, H] */
  ownActionWeights(): tf.Tensor3D {
    const { I, D, A, H } = this;
    const W = this.first.W as tf.Tensor2D;
    const blocks = Array.from({ length: I }, (_, i) => tf.slice(W, [I * D + i * A, i * H], [A, H]));
    return tf.stack(blocks) as tf.Tensor3D;
  }
  get variables(): tf.Variable[] {
    return [...this.first.variables, ...this.l2.variables, ...this.out.variables];
  }
}

export class Maddpg extends LearnerBase<MaddpgConfig> implements Learner {
  readonly algo = 'maddpg' as const;
  readonly replay: EpisodeReplay;
  private readonly actors: AgentMlp;
  private readonly targetActors: AgentMlp;
  private readonly critics: CentralCritics;
  private readonly targetCritics: CentralCritics;
  protected readonly optimizers: { readonly actorOpt: tf.Optimizer; readonly criticOpt: tf.Optimizer };

  constructor(I: number, D: number, A: number, seed: number, config: Partial<MaddpgConfig> = {}) {
    super(I, D, A, seed, { ...MADDPG_DEFAULTS, ...config });
    const H = this.config.hidden;
    this.actors = new AgentMlp(this.initRng, I, D, H, A, 'maddpg/actor');
    this.targetActors = new AgentMlp(this.initRng, I, D, H, A, 'maddpg/actor_target');
    this.critics = new CentralCritics(this.initRng, I, D, A, H, 'maddpg/critic');
    this.targetCritics = new CentralCritics(this.initRng, I, D, A, H, 'maddpg/critic_target');
    hardUpdate(this.targetActors.variables, this.actors.variables);
    hardUpdate(this.targetCritics.variables, this.critics.variables);
    this.optimizers = { actorOpt: tf.train.adam(this.config.actorLr), criticOpt: tf.train.adam(this.config.criticLr) };
    this.replay = new EpisodeReplay(this.config.replayEpisodes, I, D);
  }

  act(obs: Float32Array, _hasTask: Uint8Array, actions: Int32Array, explore: boolean): void {
    const logits = tf.tidy(() => this.actors.apply(tf.tensor3d(obs, [this.I, 1, this.D])).dataSync() as Float32Array);
    this.actFromLogits(logits, actions, explore);
  }

  private gumbel(shape: [number, number, number]): tf.Tensor3D {
    return tf.tensor3d(gumbelNoise(() => this.rng.uniform(), shape[0] * shape[1] * shape[2]), shape);
  }

  step(batch: Batch): { criticLoss: number; actorLoss: number } {
    const { I, D, A, config: c } = this;
    const B = batch.size;
    return tf.tidy(() => {
      const obs = tf.tensor3d(batch.obs, [I, B, D]);
      const nextObs = tf.tensor3d(batch.nextObs, [I, B, D]);
      const actions = tf.oneHot(tf.tensor2d(batch.actions, [I, B], 'int32'), A).toFloat() as tf.Tensor3D;
      const notDone = tf.sub(1, tf.tensor1d(batch.done));
      const nextActions = tf.oneHot(tf.argMax(tf.add(this.targetActors.apply(nextObs), this.gumbel([I, B, A])), 2), A).toFloat() as tf.Tensor3D;
      const y = tf.add(tf.tensor2d(batch.rewards, [I, B]), tf.mul(tf.mul(this.targetCritics.q(nextObs, nextActions), notDone), c.gamma));
      this.inspect?.('target', y);
      const critic = tf.variableGrads(() => tf.sum(tf.mean(tf.square(tf.sub(this.critics.q(obs, actions), y)), 1)) as tf.Scalar, this.critics.variables);
      this.optimizers.criticOpt.applyGradients(clipByGlobalNorm(critic.grads, c.criticClipPerAgent * I));
      // actor: Q_i with IED i's own action replaced by its relaxed action (others from the replay)
      const base = this.critics.pre(this.critics.joint(obs, actions)); // [I, B, H]
      const ownW = this.critics.ownActionWeights(); // [I, A, H]
      const mask = tf.tensor2d(Float32Array.from(batch.hasTask), [I, B]);
      const rows = tf.maximum(tf.sum(mask, 1), 1);
      const noise = this.gumbel([I, B, A]);
      const actor = tf.variableGrads(() => {
        const logits = this.actors.apply(obs);
        const soft = tf.softmax(tf.div(tf.add(logits, noise), c.gumbelTemperature)) as tf.Tensor3D;
        const relaxed = c.straightThrough ? (straightThroughOneHot(soft) as tf.Tensor3D) : soft;
        const pre = tf.add(base, tf.matMul(tf.sub(relaxed, actions) as tf.Tensor3D, ownW)) as tf.Tensor3D;
        let q: tf.Tensor = this.critics.rest(pre);
        if (c.entropyBonus > 0) {
          const logPi = tf.logSoftmax(logits);
          q = tf.add(q, tf.mul(tf.neg(tf.sum(tf.mul(tf.exp(logPi), logPi), 2)), c.entropyBonus));
        }
        const perAgent = tf.div(tf.sum(tf.mul(q, mask), 1), rows);
        return tf.add(tf.neg(tf.sum(perAgent)), tf.mul(tf.mean(tf.square(logits)), 1e-3)) as tf.Scalar;
      }, this.actors.variables);
      this.optimizers.actorOpt.applyGradients(clipByGlobalNorm(actor.grads, c.actorClip * Math.sqrt(I)));
      return { criticLoss: critic.value.dataSync()[0] as number, actorLoss: actor.value.dataSync()[0] as number };
    });
  }

  update(): UpdateStats | undefined {
    const c = this.config;
    if (this.replay.episodes < c.warmupEpisodes || this.replay.transitions < c.batchSize) return undefined;
    return this.rounds(c.updatesPerRound, () => {
      const losses = this.step(this.replay.sample(c.batchSize, this.rng));
      softUpdate(this.targetActors.variables, this.actors.variables, c.tau);
      softUpdate(this.targetCritics.variables, this.critics.variables, c.tau);
      return losses;
    });
  }

  variableGroups(): Record<'actors' | 'targetActors' | 'critics' | 'targetCritics', tf.Variable[]> {
    return { actors: this.actors.variables, targetActors: this.targetActors.variables, critics: this.critics.variables, targetCritics: this.targetCritics.variables };
  }

  actorNet(ied: number): ActorNet {
    return { kind: 'mlp', layers: this.actors.layers(ied) };
  }
}
