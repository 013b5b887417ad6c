/**
 * DQN baseline (as Tang & Wong): independent per-IED double DQN with a dueling head, ε-greedy.
 *
 * | piece     | here                                                                            |
 * |-----------|---------------------------------------------------------------------------------|
 * | Q_i       | per-IED MLP o_i → H → H → dueling V_i + (A_i − mean A_i), stacked over IEDs     |
 * | target    | y = r_i + γ(1−done) Q'_i(o'_i, argmax_a Q_i(o'_i, a)) (double DQN)              |
 * | behaviour | ε-greedy, ε linear from epsilonStart to epsilonEnd over epsilonEpisodes         |
 * | no-op     | learned like any transition (r = 0), so values bootstrap through empty slots   |
 * | export    | the dueling head folds exactly into one dense layer: the greedy actor is argmax |
 */
import * as tf from '@tensorflow/tfjs';
import { Rng } from '../../core/rng.ts';
import { AgentDense, AgentMlp, duelingQ, softUpdate, hardUpdate, clipByGlobalNorm, agentDenseLayers } from '../layers.ts';
import { EpisodeReplay, type Batch, type EpisodeRecord } from '../replay.ts';
import { LearnerBase, type Learner, type UpdateStats, type ActorLayer, type ActorNet } from '../learner.ts';

export interface DqnConfig {
  /** learning rate (the paper's actor rate, 1e-3) */
  lr: number;
  /** discount per slot */
  gamma: number;
  /** minibatch (paper 64) */
  batchSize: number;
  /** Polyak τ of the target network */
  tau: number;
  /** hidden width */
  hidden: number;
  /** ε at the first episode */
  epsilonStart: number;
  /** ε after epsilonEpisodes */
  epsilonEnd: number;
  /** episodes of linear ε decay */
  epsilonEpisodes: number;
  /** gradient steps per episode */
  updatesPerRound: number;
  /** replay capacity in episodes */
  replayEpisodes: number;
  /** global-norm gradient clip */
  clip: number;
}

export const DQN_DEFAULTS: DqnConfig = {
  lr: 1e-3, gamma: 0.99, batchSize: 64, tau: 0.005, hidden: 64, epsilonStart: 1, epsilonEnd: 0.05,
  epsilonEpisodes: 100, updatesPerRound: 4, replayEpisodes: 300, clip: 10,
};

/** Per-IED dueling Q-network: the MLP trunk, its output layer as the value head V, and an advantage head. */
class DuelingQ extends AgentMlp {
  readonly advantage: AgentDense;
  constructor(rng: Rng, I: number, D: number, A: number, H: number, name: string) {
    super(rng, I, D, H, 1, name);
    this.advantage = new AgentDense(rng, I, H, A, `${name}/adv`);
  }
  q(obs: tf.Tensor3D): tf.Tensor3D {
    const h = this.trunk(obs);
    return duelingQ(this.out.apply(h), this.advantage.apply(h));
  }
  override get variables(): tf.Variable[] {
    return [...super.variables, ...this.advantage.variables];
  }
}

export class Dqn extends LearnerBase<DqnConfig> implements Learner {
  readonly algo = 'dqn' as const;
  readonly replay: EpisodeReplay;
  private readonly online: DuelingQ;
  private readonly target: DuelingQ;
  protected readonly optimizers: { readonly opt: tf.Optimizer };
  private episodesSeen = 0;

  constructor(I: number, D: number, A: number, seed: number, config: Partial<DqnConfig> = {}) {
    super(I, D, A, seed, { ...DQN_DEFAULTS, ...config });
    this.online = new DuelingQ(this.initRng, I, D, A, this.config.hidden, 'dqn/q');
    this.target = new DuelingQ(this.initRng, I, D, A, this.config.hidden, 'dqn/q_target');
    hardUpdate(this.target.variables, this.online.variables);
    this.optimizers = { opt: tf.train.adam(this.config.lr) };
    this.replay = new EpisodeReplay(this.config.replayEpisodes, I, D);
  }

  epsilon(): number {
    const c = this.config;
    const f = Math.min(1, this.episodesSeen / Math.max(1, c.epsilonEpisodes));
    return c.epsilonStart + (c.epsilonEnd - c.epsilonStart) * f;
  }

  act(obs: Float32Array, _hasTask: Uint8Array, actions: Int32Array, explore: boolean): void {
    const { I, A } = this;
    const q = tf.tidy(() => this.online.q(tf.tensor3d(obs, [I, 1, this.D])).dataSync() as Float32Array);
    const eps = explore ? this.epsilon() : 0;
    for (let i = 0; i < I; i++) {
      if (explore && this.rng.uniform() < eps) {
        actions[i] = this.rng.int(A);
        continue;
      }
      let best = 0;
      for (let a = 1; a < A; a++) if ((q[i * A + a] as number) > (q[i * A + best] as number)) best = a;
      actions[i] = best;
    }
  }

  override observe(episode: EpisodeRecord): void {
    super.observe(episode);
    this.episodesSeen++;
  }

  step(batch: Batch): number {
    const { I, D, A, config: c } = this;
    const B = batch.size;
    return tf.tidy(() => {
      const obs = tf.tensor3d(batch.obs, [I, B, D]);
      const nextObs = tf.tensor3d(batch.nextObs, [I, B, D]);
      const actions = tf.oneHot(tf.tensor2d(batch.actions, [I, B], 'int32'), A).toFloat();
      const rewards = tf.tensor2d(batch.rewards, [I, B]);
      const notDone = tf.sub(1, tf.tensor1d(batch.done));
      const nextBest = tf.oneHot(tf.argMax(this.online.q(nextObs), 2), A).toFloat(); // double DQN: online picks
      const nextValue = tf.sum(tf.mul(this.target.q(nextObs), nextBest), 2); // target evaluates
      const y = tf.add(rewards, tf.mul(tf.mul(nextValue, notDone), c.gamma));
      this.inspect?.('target', y);
      const { value, grads } = tf.variableGrads(() => {
        const q = tf.sum(tf.mul(this.online.q(obs), actions), 2);
        return tf.sum(tf.mean(tf.square(tf.sub(q, y)), 1)) as tf.Scalar;
      }, this.online.variables);
      this.optimizers.opt.applyGradients(clipByGlobalNorm(grads, c.clip * I));
      return value.dataSync()[0] as number;
    });
  }

  update(): UpdateStats | undefined {
    const c = this.config;
    if (this.replay.transitions < c.batchSize) return undefined;
    return this.rounds(c.updatesPerRound, () => {
      const criticLoss = this.step(this.replay.sample(c.batchSize, this.rng));
      softUpdate(this.target.variables, this.online.variables, c.tau);
      return { criticLoss, actorLoss: 0 };
    });
  }

  protected override counters(): Record<string, number> {
    return { episodesSeen: this.episodesSeen };
  }

  protected override restoreCounters(extra: Record<string, unknown>): void {
    this.episodesSeen = extra.episodesSeen as number;
  }

  variableGroups(): Record<'online' | 'target', tf.Variable[]> {
    return { online: this.online.variables, target: this.target.variables };
  }

  actorNet(ied: number): ActorNet {
    const [l1, l2] = agentDenseLayers([this.online.l1, this.online.l2], ied, ['relu', 'relu']) as [ActorLayer, ActorLayer];
    const [v, adv] = agentDenseLayers([this.online.out, this.online.advantage], ied, ['linear', 'linear']) as [ActorLayer, ActorLayer];
    const H = this.config.hidden;
    const A = this.A;
    const kernel = new Float32Array(H * A);
    const bias = new Float32Array(A);
    let meanBias = 0;
    for (let a = 0; a < A; a++) meanBias += (adv.bias[a] as number) / A;
    for (let h = 0; h < H; h++) {
      let meanRow = 0;
      for (let a = 0; a < A; a++) meanRow += (adv.kernel[h * A + a] as number) / A;
      for (let a = 0; a < A; a++) kernel[h * A + a] = (v.kernel[h] as number) + (adv.kernel[h * A + a] as number) - meanRow;
    }
    for (let a = 0; a < A; a++) bias[a] = (v.bias[0] as number) + (adv.bias[a] as number) - meanBias;
    return { kind: 'mlp', layers: [l1, l2, { kernel, bias, inputs: H, outputs: A, activation: 'linear' }] };
  }
}
