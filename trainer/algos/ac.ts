/**
 * Actor-Critic baseline: independent advantage actor-critic per IED, on-policy.
 *
 * | piece        | here                                                                          |
 * |--------------|-------------------------------------------------------------------------------|
 * | actor π_i    | per-IED MLP o_i → H → H → M+1 logits                                          |
 * | critic V_i   | per-IED MLP o_i → H → H → 1 (its own observation only: no centralization)     |
 * | advantage    | δ = r_i + γ(1−done)V_i(o'_i) − V_i(o_i) on the episode just played           |
 * | losses       | actor −E[log π_i(a_i|o_i)·δ] − β·H(π_i) on rows with a task; critic E[δ²]     |
 * | data         | the latest episode, all T·I transitions, `updatesPerRound` full-batch steps   |
 */
import * as tf from '@tensorflow/tfjs';
import { AgentMlp, clipByGlobalNorm } from '../layers.ts';
import { EpisodeReplay, type EpisodeRecord } from '../replay.ts';
import { LearnerBase, type Learner, type UpdateStats, type ActorNet } from '../learner.ts';

export interface AcConfig {
  /** actor learning rate (paper 1e-3) */
  actorLr: number;
  /** critic learning rate (paper 5e-3) */
  criticLr: number;
  /** discount per slot */
  gamma: number;
  /** hidden width */
  hidden: number;
  /** entropy bonus β */
  entropy: number;
  /** full-batch gradient steps per episode */
  updatesPerRound: number;
  /** global-norm gradient clip */
  clip: number;
}

export const AC_DEFAULTS: AcConfig = { actorLr: 1e-3, criticLr: 5e-3, gamma: 0.99, hidden: 64, entropy: 0.01, updatesPerRound: 1, clip: 10 };

export class ActorCritic extends LearnerBase<AcConfig> implements Learner {
  readonly algo = 'ac' as const;
  /** on-policy: keeps only the latest episode (and so checkpoints stay small) */
  readonly replay: EpisodeReplay;
  private readonly actor: AgentMlp;
  private readonly critic: AgentMlp;
  protected readonly optimizers: { readonly actorOpt: tf.Optimizer; readonly criticOpt: tf.Optimizer };

  constructor(I: number, D: number, A: number, seed: number, config: Partial<AcConfig> = {}) {
    super(I, D, A, seed, { ...AC_DEFAULTS, ...config });
    this.actor = new AgentMlp(this.initRng, I, D, this.config.hidden, A, 'ac/actor');
    this.critic = new AgentMlp(this.initRng, I, D, this.config.hidden, 1, 'ac/critic');
    this.optimizers = { actorOpt: tf.train.adam(this.config.actorLr), criticOpt: tf.train.adam(this.config.criticLr) };
    this.replay = new EpisodeReplay(1, I, D);
  }

  act(obs: Float32Array, _hasTask: Uint8Array, actions: Int32Array, explore: boolean): void {
    const logits = tf.tidy(() => this.actor.apply(tf.tensor3d(obs, [this.I, 1, this.D])).dataSync() as Float32Array);
    this.actFromLogits(logits, actions, explore);
  }

  /** One full-batch step on an episode: rows are (slot, IED) pairs laid out agent-major. */
  step(e: EpisodeRecord): { criticLoss: number; actorLoss: number } {
    const { I, D, A, config: c } = this;
    const T = e.slots;
    // agent-major copies: [I, T, ·]
    const obs = new Float32Array(I * T * D);
    const next = new Float32Array(I * T * D);
    const acts = new Int32Array(I * T);
    const rews = new Float32Array(I * T);
    const mask = new Float32Array(I * T);
    const notDone = new Float32Array(T).fill(1);
    notDone[T - 1] = 0;
    for (let t = 0; t < T; t++)
      for (let i = 0; i < I; i++) {
        obs.set(e.obs.subarray((t * I + i) * D, (t * I + i + 1) * D), (i * T + t) * D);
        next.set(e.obs.subarray(((t + 1) * I + i) * D, ((t + 1) * I + i + 1) * D), (i * T + t) * D);
        acts[i * T + t] = e.actions[t * I + i] as number;
        rews[i * T + t] = e.rewards[t * I + i] as number;
        mask[i * T + t] = e.hasTask[t * I + i] as number;
      }
    return tf.tidy(() => {
      const o = tf.tensor3d(obs, [I, T, D]);
      const o2 = tf.tensor3d(next, [I, T, D]);
      const target = tf.add(tf.tensor2d(rews, [I, T]), tf.mul(tf.mul(tf.squeeze(this.critic.apply(o2), [2]), tf.tensor1d(notDone)), c.gamma));
      this.inspect?.('target', target);
      const critic = tf.variableGrads(() => tf.mean(tf.square(tf.sub(target, tf.squeeze(this.critic.apply(o), [2])))) as tf.Scalar, this.critic.variables);
      const advantage = tf.sub(target, tf.squeeze(this.critic.apply(o), [2])); // constant for the actor
      const m = tf.tensor2d(mask, [I, T]);
      const rows = tf.maximum(tf.sum(m), 1);
      const onehot = tf.oneHot(tf.tensor2d(acts, [I, T], 'int32'), A).toFloat();
      const actor = tf.variableGrads(() => {
        const logPi = tf.logSoftmax(this.actor.apply(o));
        const logPiA = tf.sum(tf.mul(logPi, onehot), 2);
        const entropy = tf.neg(tf.sum(tf.mul(tf.exp(logPi), logPi), 2));
        const perRow = tf.add(tf.mul(logPiA, advantage), tf.mul(entropy, c.entropy));
        return tf.neg(tf.div(tf.sum(tf.mul(perRow, m)), rows)) as tf.Scalar;
      }, this.actor.variables);
      this.optimizers.criticOpt.applyGradients(clipByGlobalNorm(critic.grads, c.clip * I));
      this.optimizers.actorOpt.applyGradients(clipByGlobalNorm(actor.grads, c.clip * I));
      return { criticLoss: critic.value.dataSync()[0] as number, actorLoss: actor.value.dataSync()[0] as number };
    });
  }

  update(): UpdateStats | undefined {
    const e = this.replay.latest();
    return e ? this.rounds(this.config.updatesPerRound, () => this.step(e)) : undefined;
  }

  variableGroups(): Record<'actor' | 'critic', tf.Variable[]> {
    return { actor: this.actor.variables, critic: this.critic.variables };
  }

  actorNet(ied: number): ActorNet {
    return { kind: 'mlp', layers: this.actor.layers(ied) };
  }
}
