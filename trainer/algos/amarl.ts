/**
 * AMARL (Li et al. 2024, Sec. IV-B): per-IED actors, one attention critic in the manner of MAAC
 * (Iqbal & Sha 2019), trained centrally; actors act on their own observation only.
 *
 * | piece           | here                                                                        |
 * |-----------------|-----------------------------------------------------------------------------|
 * | actor π_i       | per-IED MLP o_i → H → H → M+1 logits (relu); option actor = "gru":         |
 * |                 | o_i → H (relu) → GRU cell with state h_a (H) → M+1 logits                   |
 * | encoders η_i    | per-IED: state-action e^sa_i = lrelu(W[o_i, a_i]), state e^s_i = lrelu(W o_i) |
 * | attention ω_i   | shared, `heads` heads: query from e^s_i, keys/values from e^sa_j, j ≠ i     |
 * | head φ_i (eq. 6)| per-IED: lrelu(W[e^s_i, ω_i]) → dropout → dueling V_i + (A_i − mean A_i)   |
 * | critic loss     | eq. (7): Σ_i E(Q_i(O, A) − y_i)², shared grads scaled by 1/I               |
 * | target (eq. 8)  | y_i = r_i + γ(1−done) Σ_a π'_i(a)(Q'_i(O', a, A'_−i) − λ log π'_i(a)),      |
 * |                 | A' sampled from target actors whose logits get N(0, σ) (policy smoothing)   |
 * | policy update   | "expected": ∇ Σ_a π_i(a)(Q_i(a) − λ log π_i(a)) (MAAC's counterfactual-    |
 * |                 | baseline gradient in expectation), or "gumbel": eq. (5) through a relaxed   |
 * |                 | Gumbel-softmax action; others' actions sampled from current policies        |
 * | no-op slots     | critics learn them (r = 0, bootstrapping through); actors skip them         |
 * | h_a (gru)       | zero at episode start, steps at the IED's decision slots only; learned from |
 * |                 | the stored state (one step of backprop through the cell, R2D2-style)        |
 *
 * Longer than 300 lines on purpose: one algorithm reads top to bottom in one file (config, networks,
 * update steps), as in CleanRL; shared infrastructure lives in layers.ts, learner.ts and replay.ts.
 */
import * as tf from '@tensorflow/tfjs';
import { Rng } from '../../core/rng.ts';
import { InputError } from '../../core/errors.ts';
import { AgentDense, AgentGru, AgentMlp, agentDenseLayers, duelingQ, SharedDense, softUpdate, hardUpdate, clipByGlobalNorm, leaky } from '../layers.ts';
import { stackedMatMul } from '../matmul.ts';
import { EpisodeReplay, type Batch } from '../replay.ts';
import { LearnerBase, gumbelNoise,
  type Learner, type UpdateStats, type ActorLayer, type ActorNet,
} from '../learner.ts';

export interface AmarlConfig {
  /** actor network: "mlp" (default) or "gru" (the paper's recurrent option with hidden state h_a) */
  actor: 'mlp' | 'gru';
  /** actor learning rate (paper Sec. V-A) */
  actorLr: number;
  /** critic learning rate (paper Sec. V-A) */
  criticLr: number;
  /** discount γ per slot (paper Sec. V-A) */
  gamma: number;
  /** minibatch of joint transitions (paper Sec. V-A) */
  batchSize: number;
  /** Polyak τ for target networks (MAAC uses 1e-3 with 12 parallel envs; we update 4× per episode, so faster) */
  tau: number;
  /** actor hidden width (ours; MAAC 128, halved for 2-core training) */
  actorHidden: number;
  /** encoder width E of η_i (MAAC 128, halved) */
  encoderSize: number;
  /** attention heads (MAAC 4) */
  heads: number;
  /** per-head key/value width (MAAC 32, halved) */
  headSize: number;
  /** hidden width of φ_i (MAAC 128, halved) */
  criticHidden: number;
  /** dropout on φ_i's hidden layer during training (paper Sec. V-A) */
  dropout: number;
  /** entropy temperature λ of eq. (8) (MAAC: 1 / reward_scale = 0.01) */
  temperature: number;
  /** σ of the Gaussian noise on target actors' logits (target policy smoothing, Sec. IV-B) */
  targetNoise: number;
  /** attention-logit regulariser weight (MAAC 1e-3) */
  attentionReg: number;
  /** actor-logit regulariser weight (MAAC 1e-3) */
  logitReg: number;
  /** critic gradient global-norm clip, per agent (MAAC 10 · n_agents) */
  criticClipPerAgent: number;
  /** actor gradient global-norm clip (MAAC 0.5) */
  actorClip: number;
  /** gradient steps per update round; one round per episode = 100 env steps (MAAC: 4 per 100) */
  updatesPerRound: number;
  /** replay capacity in episodes */
  replayEpisodes: number;
  /** episodes collected before updates start */
  warmupEpisodes: number;
  /** policy gradient estimator (see the table above) */
  policyGradient: 'expected' | 'gumbel';
  /** Gumbel-softmax temperature for policyGradient = "gumbel" */
  gumbelTemperature: number;
}

export const AMARL_DEFAULTS: AmarlConfig = {
  actor: 'mlp', actorLr: 1e-3, criticLr: 5e-3, gamma: 0.99, batchSize: 64, tau: 0.005,
  actorHidden: 64, encoderSize: 64, heads: 4, headSize: 16, criticHidden: 64,
  dropout: 0.1, temperature: 0.01, targetNoise: 0.1, attentionReg: 1e-3, logitReg: 1e-3,
  criticClipPerAgent: 10, actorClip: 0.5, updatesPerRound: 4, replayEpisodes: 300, warmupEpisodes: 2,
  policyGradient: 'expected', gumbelTemperature: 1,
};

// ---------------------------------------------------------------- networks

/** logits [I, B, A] and the recurrent state after this decision [I, B, H] (H = 0: unchanged, empty) */
interface ActorStep {
  readonly logits: tf.Tensor3D;
  readonly hidden: tf.Tensor3D;
}

/** The I actors, stacked: feed-forward or recurrent, one interface. */
interface ActorStack {
  readonly hiddenSize: number;
  forward(obs: tf.Tensor3D, hidden: tf.Tensor3D): ActorStep;
  readonly variables: tf.Variable[];
  net(ied: number): ActorNet;
}

class MlpActors implements ActorStack {
  readonly hiddenSize = 0;
  private readonly mlp: AgentMlp;
  constructor(rng: Rng, I: number, D: number, A: number, H: number, name: string) {
    this.mlp = new AgentMlp(rng, I, D, H, A, name);
  }
  forward(obs: tf.Tensor3D, hidden: tf.Tensor3D): ActorStep {
    return { logits: this.mlp.apply(obs), hidden };
  }
  get variables(): tf.Variable[] {
    return this.mlp.variables;
  }
  net(ied: number): ActorNet {
    return { kind: 'mlp', layers: this.mlp.layers(ied) };
  }
}

class GruActors implements ActorStack {
  readonly encoder: AgentDense;
  readonly cell: AgentGru;
  readonly out: AgentDense;
  constructor(rng: Rng, I: number, D: number, A: number, readonly hiddenSize: number, name: string) {
    this.encoder = new AgentDense(rng, I, D, hiddenSize, `${name}/enc`);
    this.cell = new AgentGru(rng, I, hiddenSize, hiddenSize, `${name}/gru`);
    this.out = new AgentDense(rng, I, hiddenSize, A, `${name}/out`);
  }
  forward(obs: tf.Tensor3D, hidden: tf.Tensor3D): ActorStep {
    const next = this.cell.apply(tf.relu(this.encoder.apply(obs)) as tf.Tensor3D, hidden);
    return { logits: this.out.apply(next), hidden: next };
  }
  get variables(): tf.Variable[] {
    return [...this.encoder.variables, ...this.cell.variables, ...this.out.variables];
  }
  net(ied: number): ActorNet {
    const [encoder, head] = agentDenseLayers([this.encoder, this.out], ied, ['relu', 'linear']) as [ActorLayer, ActorLayer];
    const H = this.hiddenSize;
    const In = this.cell.inputs;
    const W = this.cell.W.dataSync() as Float32Array;
    const U = this.cell.U.dataSync() as Float32Array;
    const b = this.cell.b.dataSync() as Float32Array;
    // IED ied's [rows, 3H] block, columns g·H … (g+1)·H − 1 → [rows, H]
    const gate = (src: Float32Array, rows: number, g: number) => {
      const out = new Float32Array(rows * H);
      const base = ied * rows * 3 * H;
      for (let k = 0; k < rows; k++) out.set(src.subarray(base + k * 3 * H + g * H, base + k * 3 * H + (g + 1) * H), k * H);
      return out;
    };
    return {
      kind: 'gru', encoder, head,
      cell: {
        inputs: In, hidden: H,
        Wz: gate(W, In, 0), Wr: gate(W, In, 1), Wh: gate(W, In, 2),
        Uz: gate(U, H, 0), Ur: gate(U, H, 1), Uh: gate(U, H, 2),
        bz: gate(b, 1, 0), br: gate(b, 1, 1), bh: gate(b, 1, 2),
      },
    };
  }
}

function makeActors(c: AmarlConfig, rng: Rng, I: number, D: number, A: number, name: string): ActorStack {
  return c.actor === 'gru' ? new GruActors(rng, I, D, A, c.actorHidden, name) : new MlpActors(rng, I, D, A, c.actorHidden, name);
}

interface CriticOutput {
  /** Q_i for every own action, given the others' actions: [I, B, A] */
  readonly qAll: tf.Tensor3D;
  /** raw attention logits [B·heads, I, I] (for the regulariser) */
  readonly attentionLogits: tf.Tensor3D;
  /** attention weights over the other agents [B·heads, I, I], rows sum to 1 */
  readonly attention: tf.Tensor3D;
}

class AttentionCritic {
  /** per-agent parameters (η_i, φ_i) */
  readonly perAgent: { sa: AgentDense; s: AgentDense; head: AgentDense; value: AgentDense; advantage: AgentDense };
  /** shared attention parameters (all heads in one matrix each) */
  readonly shared: { keys: SharedDense; queries: SharedDense; values: SharedDense };
  constructor(rng: Rng, readonly I: number, readonly D: number, readonly A: number, readonly c: AmarlConfig, name: string) {
    const E = c.encoderSize;
    const HD = c.heads * c.headSize;
    this.perAgent = {
      sa: new AgentDense(rng, I, D + A, E, `${name}/sa`),
      s: new AgentDense(rng, I, D, E, `${name}/s`),
      head: new AgentDense(rng, I, E + HD, c.criticHidden, `${name}/head`),
      value: new AgentDense(rng, I, c.criticHidden, 1, `${name}/value`),
      advantage: new AgentDense(rng, I, c.criticHidden, A, `${name}/adv`),
    };
    this.shared = {
      keys: new SharedDense(rng, E, HD, `${name}/keys`, false),
      queries: new SharedDense(rng, E, HD, `${name}/queries`, false),
      values: new SharedDense(rng, E, HD, `${name}/values`),
    };
  }
  get perAgentVariables(): tf.Variable[] {
    return Object.values(this.perAgent).flatMap((l) => l.variables);
  }
  get sharedVariables(): tf.Variable[] {
    return Object.values(this.shared).flatMap((l) => l.variables);
  }

  /** eq. (6). dropoutSeed undefined = evaluation mode. */
  forward(obs: tf.Tensor3D, actionsOneHot: tf.Tensor3D, dropoutSeed?: number): CriticOutput {
    const { I, c } = this;
    const B = obs.shape[1];
    const heads = c.heads;
    const d = c.headSize;
    const sa = leaky(this.perAgent.sa.apply(tf.concat([obs, actionsOneHot], 2) as tf.Tensor3D)) as tf.Tensor3D;
    const s = leaky(this.perAgent.s.apply(obs)) as tf.Tensor3D;
    // [I, B, heads·d] → [B·heads, I, d]
    const split = (x: tf.Tensor) => tf.reshape(tf.transpose(tf.reshape(x, [I, B, heads, d]), [1, 2, 0, 3]), [B * heads, I, d]) as tf.Tensor3D;
    const keys = split(this.shared.keys.apply(sa));
    const values = split(leaky(this.shared.values.apply(sa)));
    const queries = split(this.shared.queries.apply(s));
    const attentionLogits = tf.div(stackedMatMul(queries, keys, true), Math.sqrt(d)) as tf.Tensor3D;
    // agent i attends over the others only: −∞ on the diagonal
    const selfMask = tf.mul(tf.eye(I), -1e9);
    const attention = tf.softmax(tf.add(attentionLogits, selfMask)) as tf.Tensor3D;
    const attended = stackedMatMul(attention, values); // [B·heads, I, d]
    const omega = tf.reshape(tf.transpose(tf.reshape(attended, [B, heads, I, d]), [2, 0, 1, 3]), [I, B, heads * d]) as tf.Tensor3D;
    let hidden = leaky(this.perAgent.head.apply(tf.concat([s, omega], 2) as tf.Tensor3D));
    if (dropoutSeed !== undefined && c.dropout > 0) hidden = tf.dropout(hidden, c.dropout, undefined, dropoutSeed);
    const value = this.perAgent.value.apply(hidden as tf.Tensor3D);
    const advantage = this.perAgent.advantage.apply(hidden as tf.Tensor3D);
    const qAll = duelingQ(value, advantage);
    return { qAll, attentionLogits, attention };
  }
}

// ---------------------------------------------------------------- learner

export class Amarl extends LearnerBase<AmarlConfig> implements Learner {
  readonly algo = 'amarl' as const;
  private readonly actors: ActorStack;
  private readonly targetActors: ActorStack;
  private readonly critic: AttentionCritic;
  private readonly targetCritic: AttentionCritic;
  protected readonly optimizers: { readonly actorOpt: tf.Optimizer; readonly criticOpt: tf.Optimizer };
  readonly replay: EpisodeReplay;

  constructor(I: number, D: number, A: number, seed: number, config: Partial<AmarlConfig> = {}) {
    super(I, D, A, seed, { ...AMARL_DEFAULTS, ...config });
    if (this.config.actor !== 'mlp' && this.config.actor !== 'gru') throw new InputError(`amarl setting "actor" must be "mlp" or "gru", got ${JSON.stringify(this.config.actor)}`);
    if (this.config.policyGradient !== 'expected' && this.config.policyGradient !== 'gumbel')
      throw new InputError(`amarl setting "policyGradient" must be "expected" or "gumbel", got ${JSON.stringify(this.config.policyGradient)}`);
    const c = this.config;
    this.actors = makeActors(c, this.initRng, I, D, A, 'amarl/actor');
    this.targetActors = makeActors(c, this.initRng, I, D, A, 'amarl/actor_target');
    this.critic = new AttentionCritic(this.initRng, I, D, A, c, 'amarl/critic');
    this.targetCritic = new AttentionCritic(this.initRng, I, D, A, c, 'amarl/critic_target');
    hardUpdate(this.targetActors.variables, this.actors.variables);
    hardUpdate(this.criticVariables(this.targetCritic), this.criticVariables(this.critic));
    this.optimizers = { actorOpt: tf.train.adam(c.actorLr), criticOpt: tf.train.adam(c.criticLr) };
    this.replay = new EpisodeReplay(c.replayEpisodes, I, D, this.actors.hiddenSize);
  }

  override get hiddenSize(): number {
    return this.actors.hiddenSize;
  }

  private criticVariables(c: AttentionCritic): tf.Variable[] {
    return [...c.perAgentVariables, ...c.sharedVariables];
  }

  act(obs: Float32Array, hasTask: Uint8Array, actions: Int32Array, explore: boolean, hidden: Float32Array): void {
    const { I } = this;
    const H = this.hiddenSize;
    const [logits, next] = tf.tidy(() => {
      const step = this.actors.forward(tf.tensor3d(obs, [I, 1, this.D]), tf.tensor3d(hidden, [I, 1, H]));
      return [step.logits.dataSync() as Float32Array, step.hidden.dataSync() as Float32Array];
    });
    // h_a steps only where the IED decides a task
    if (H > 0) for (let i = 0; i < I; i++) if (hasTask[i]) hidden.set(next.subarray(i * H, (i + 1) * H), i * H);
    this.actFromLogits(logits, actions, explore);
  }

  /** Joint actions sampled from `logits` (+ optional Gaussian smoothing), as one-hot [I, B, A]. */
  private sampleOneHot(logits: tf.Tensor3D, smoothing: number): tf.Tensor3D {
    const n = logits.size;
    const gumbel = tf.tensor(gumbelNoise(() => this.rng.uniform(), n), logits.shape);
    let noisy: tf.Tensor = tf.add(logits, gumbel);
    if (smoothing > 0) {
      const g = new Float32Array(n);
      for (let k = 0; k < n; k++) g[k] = this.rng.normal() * smoothing;
      noisy = tf.add(noisy, tf.tensor(g, logits.shape));
    }
    return tf.oneHot(tf.argMax(noisy, 2), this.A).toFloat() as tf.Tensor3D;
  }

  /** eq. (7)–(8): one critic step on a batch. Returns the loss. */
  criticStep(batch: Batch): number {
    const { I, D, A, config: c } = this;
    const B = batch.size;
    const H = this.hiddenSize;
    return tf.tidy(() => {
      const obs = tf.tensor3d(batch.obs, [I, B, D]);
      const nextObs = tf.tensor3d(batch.nextObs, [I, B, D]);
      const nextHidden = tf.tensor3d(batch.nextHidden, [I, B, H]);
      const actions = tf.oneHot(tf.tensor2d(batch.actions, [I, B], 'int32'), A).toFloat() as tf.Tensor3D;
      const rewards = tf.tensor2d(batch.rewards, [I, B]);
      const notDone = tf.sub(1, tf.tensor1d(batch.done)); // [B]
      // eq. (8): soft target from target actors (smoothed) and the target critic
      const nextLogits = this.targetActors.forward(nextObs, nextHidden).logits;
      const nextActions = this.sampleOneHot(nextLogits, c.targetNoise);
      const nextLogPi = tf.logSoftmax(nextLogits);
      const nextQ = this.targetCritic.forward(nextObs, nextActions).qAll;
      const softValue = tf.sum(tf.mul(tf.exp(nextLogPi), tf.sub(nextQ, tf.mul(nextLogPi, c.temperature))), 2); // [I, B]
      const y = tf.add(rewards, tf.mul(tf.mul(softValue, notDone), c.gamma));
      this.inspect?.('target', y);
      const seed = this.rng.nextUint32();
      const lossFn = () => {
        const out = this.critic.forward(obs, actions, seed);
        const q = tf.sum(tf.mul(out.qAll, actions), 2); // Q_i(O, A) of the taken action
        const regression = tf.sum(tf.mean(tf.square(tf.sub(q, y)), 1)); // Σ_i E(·)² (eq. 7)
        return tf.add(regression, tf.mul(tf.mean(tf.square(out.attentionLogits)), c.attentionReg)) as tf.Scalar;
      };
      const { value, grads } = tf.variableGrads(lossFn, this.criticVariables(this.critic));
      // MAAC: shared attention gradients are the sum over I agents' losses; scale them back
      for (const v of this.critic.sharedVariables) grads[v.name] = tf.div(grads[v.name] as tf.Tensor, I);
      this.optimizers.criticOpt.applyGradients(clipByGlobalNorm(grads, c.criticClipPerAgent * I));
      return value.dataSync()[0] as number;
    });
  }

  /** Policy step for every actor on a batch (only rows where the IED had a task). Returns the loss. */
  actorStep(batch: Batch): number {
    const { I, D, A, config: c } = this;
    const B = batch.size;
    return tf.tidy(() => {
      const obs = tf.tensor3d(batch.obs, [I, B, D]);
      const hidden = tf.tensor3d(batch.hidden, [I, B, this.hiddenSize]);
      const mask = tf.tensor2d(Float32Array.from(batch.hasTask), [I, B]);
      const rows = tf.maximum(tf.sum(mask, 1), 1); // [I]
      const lossFn = () => {
        const logits = this.actors.forward(obs, hidden).logits;
        // others' actions from the current policies (MAAC), sampled from these same logits (one actor pass,
        // not two); read back into a new tensor so that no gradient path runs through the critic
        const sampled = this.sampleOneHot(tf.tensor3d(logits.dataSync() as Float32Array, logits.shape), 0);
        const qAll = this.critic.forward(obs, sampled).qAll; // critic is not among the variables below
        const gumbel = c.policyGradient === 'gumbel' ? tf.tensor(gumbelNoise(() => this.rng.uniform(), I * B * A), [I, B, A]) : undefined;
        const logPi = tf.logSoftmax(logits);
        const pi = tf.exp(logPi);
        const weights = gumbel ? tf.softmax(tf.div(tf.add(logits, gumbel), c.gumbelTemperature)) : pi;
        // maximise Σ_a w(a)·Q_i(a) − λ Σ_a π(a) log π(a)
        const objective = tf.sub(tf.sum(tf.mul(weights, qAll), 2), tf.mul(tf.sum(tf.mul(pi, logPi), 2), c.temperature)); // [I, B]
        const perAgent = tf.div(tf.sum(tf.mul(objective, mask), 1), rows);
        return tf.add(tf.neg(tf.sum(perAgent)), tf.mul(tf.mean(tf.square(logits)), c.logitReg)) as tf.Scalar;
      };
      const { value, grads } = tf.variableGrads(lossFn, this.actors.variables);
      this.optimizers.actorOpt.applyGradients(clipByGlobalNorm(grads, c.actorClip * Math.sqrt(I)));
      return value.dataSync()[0] as number;
    });
  }

  update(): UpdateStats | undefined {
    const c = this.config;
    if (this.replay.episodes < c.warmupEpisodes || this.replay.transitions < c.batchSize) return undefined;
    return this.rounds(c.updatesPerRound, () => {
      const batch = this.replay.sample(c.batchSize, this.rng);
      const losses = { criticLoss: this.criticStep(batch), actorLoss: this.actorStep(batch) };
      softUpdate(this.targetActors.variables, this.actors.variables, c.tau);
      softUpdate(this.criticVariables(this.targetCritic), this.criticVariables(this.critic), c.tau);
      return losses;
    });
  }

  /** Attention weights of the online critic on a batch: [B·heads, I, I] (tests, diagnostics). */
  attentionWeights(batch: Batch): Float32Array {
    const { I, D, A } = this;
    return tf.tidy(() => {
      const obs = tf.tensor3d(batch.obs, [I, batch.size, D]);
      const actions = tf.oneHot(tf.tensor2d(batch.actions, [I, batch.size], 'int32'), A).toFloat() as tf.Tensor3D;
      return this.critic.forward(obs, actions).attention.dataSync() as Float32Array;
    });
  }

  /** Variables by group, for tests and checkpoints. */
  variableGroups(): Record<'actors' | 'targetActors' | 'critic' | 'targetCritic', tf.Variable[]> {
    return {
      actors: this.actors.variables,
      targetActors: this.targetActors.variables,
      critic: this.criticVariables(this.critic),
      targetCritic: this.criticVariables(this.targetCritic),
    };
  }

  actorNet(ied: number): ActorNet {
    return this.actors.net(ied);
  }
}
