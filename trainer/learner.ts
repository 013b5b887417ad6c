/**
 * What every learner (AMARL and the baselines) offers the shared training loop, evaluation and export.
 * One learner holds the policies of all I IEDs, vectorized.
 */
import * as tf from '@tensorflow/tfjs';
import { Rng } from '../core/rng.ts';
import type { EpisodeRecord, EpisodeReplay } from './replay.ts';
import type { ActorNet } from './actor-net.ts';

export type { ActorLayer, ActorNet } from './actor-net.ts';

export { ALGORITHMS, type Algorithm } from './presets.ts';
import type { Algorithm } from './presets.ts';

export interface UpdateStats {
  /** gradient steps taken in this round */
  readonly steps: number;
  readonly criticLoss: number;
  readonly actorLoss: number;
}

/** Saved state: every variable and optimizer slot by name, plus JSON-able extras (RNG states…). */
export interface LearnerState {
  readonly tensors: Record<string, { shape: number[]; data: Float32Array }>;
  readonly extra: Record<string, unknown>;
}

export interface Learner {
  readonly algo: Algorithm;
  readonly replay: EpisodeReplay;
  /** the full configuration that built the networks (saved with the run) */
  readonly config: object;
  /** width of each actor's recurrent state h_a (0: feed-forward actors) */
  readonly hiddenSize: number;
  /**
   * Fill actions for all IEDs from obs (I × D); explore = sample/ε-greedy, else greedy. `hidden`
   * (I × hiddenSize, owned by the caller, zero at episode start) steps where hasTask is 1.
   */
  act(obs: Float32Array, hasTask: Uint8Array, actions: Int32Array, explore: boolean, hidden: Float32Array): void;
  /** store a finished episode */
  observe(episode: EpisodeRecord): void;
  /** one update round (called once per episode); undefined while warming up */
  update(): UpdateStats | undefined;
  saveState(): Promise<LearnerState>;
  loadState(state: LearnerState): Promise<void>;
  /** IED i's actor as plain arrays (its logits are the action preferences) */
  actorNet(ied: number): ActorNet;
  dispose(): void;
}

/** Read variables into a LearnerState's tensor map. */
export function readVariables(vars: readonly tf.Variable[], into: Record<string, { shape: number[]; data: Float32Array }>, prefix: string): void {
  vars.forEach((v, k) => {
    into[`${prefix}/${k}`] = { shape: v.shape.slice(), data: v.dataSync().slice() as Float32Array };
  });
}

/** Write variables back from a LearnerState (shapes must match: the config is saved with them). */
export function writeVariables(vars: readonly tf.Variable[], from: LearnerState['tensors'], prefix: string): void {
  vars.forEach((v, k) => {
    const saved = from[`${prefix}/${k}`];
    if (!saved) throw new Error(`checkpoint lacks ${prefix}/${k}`);
    if (saved.shape.join('x') !== v.shape.join('x')) throw new Error(`checkpoint ${prefix}/${k} has shape ${saved.shape.join('x')}, network ${v.shape.join('x')}`);
    v.assign(tf.tensor(saved.data, saved.shape));
  });
}

/**
 * Adam keeps β1^t and β2^t as running float32 products; setWeights() recomputes them with pow(), which
 * differs in the last bits, so a resumed run would drift from an uninterrupted one. We save and
 * restore the running products too (they are fields of tfjs's AdamOptimizer, not part of its API).
 */
interface AdamInternals {
  accBeta1?: tf.Variable;
  accBeta2?: tf.Variable;
}

/** Adam state round-trip (slot variables, iteration count, running β powers). */
export async function readOptimizer(opt: tf.Optimizer, into: LearnerState['tensors'], prefix: string): Promise<void> {
  const weights = await opt.getWeights();
  weights.forEach((w, k) => {
    into[`${prefix}/${k}`] = { shape: w.tensor.shape.slice(), data: Float32Array.from(w.tensor.dataSync()) };
  });
  const adam = opt as unknown as AdamInternals;
  if (adam.accBeta1 && adam.accBeta2)
    into[`${prefix}/betaPowers`] = { shape: [2], data: Float32Array.of(adam.accBeta1.dataSync()[0] as number, adam.accBeta2.dataSync()[0] as number) };
}

/** Adam keeps its slots by position (the order gradients are applied), so they are restored in order. */
export async function writeOptimizer(opt: tf.Optimizer, from: LearnerState['tensors'], prefix: string): Promise<void> {
  const saved: { name: string; tensor: tf.Tensor }[] = [];
  for (let k = 0; from[`${prefix}/${k}`]; k++) {
    const w = from[`${prefix}/${k}`] as { shape: number[]; data: Float32Array };
    saved.push({ name: `${prefix}/${k}`, tensor: tf.tensor(w.data, w.shape) });
  }
  if (saved.length > 0) await opt.setWeights(saved);
  const powers = from[`${prefix}/betaPowers`];
  const adam = opt as unknown as AdamInternals;
  if (powers && adam.accBeta1 && adam.accBeta2) {
    adam.accBeta1.assign(tf.scalar(powers.data[0] as number));
    adam.accBeta2.assign(tf.scalar(powers.data[1] as number));
  }
}

/** Gumbel-max sampling: argmax(logits + g), g = −log(−log u) with u from our seeded Rng. */
export function gumbelNoise(uniform: () => number, count: number): Float32Array {
  const out = new Float32Array(count);
  for (let k = 0; k < count; k++) out[k] = -Math.log(-Math.log(uniform() * (1 - 2e-7) + 1e-7));
  return out;
}

/** A learner's trainable state: named variable groups and optimizers (the checkpoint's contents). */
export interface StateParts {
  readonly groups: Record<string, tf.Variable[]>;
  readonly optimizers: Record<string, tf.Optimizer>;
}

export async function saveParts(parts: StateParts, extra: Record<string, unknown>): Promise<LearnerState> {
  const tensors: LearnerState['tensors'] = {};
  for (const [g, vars] of Object.entries(parts.groups)) readVariables(vars, tensors, g);
  for (const [name, opt] of Object.entries(parts.optimizers)) await readOptimizer(opt, tensors, name);
  return { tensors, extra };
}

export async function loadParts(parts: StateParts, state: LearnerState): Promise<void> {
  for (const [g, vars] of Object.entries(parts.groups)) writeVariables(vars, state.tensors, g);
  for (const [name, opt] of Object.entries(parts.optimizers)) await writeOptimizer(opt, state.tensors, name);
}

export function disposeParts(parts: StateParts): void {
  for (const vars of Object.values(parts.groups)) for (const v of vars) v.dispose();
  for (const opt of Object.values(parts.optimizers)) opt.dispose();
}

/**
 * A learner's checkpoint: its variables by group and its optimizers (StateParts), its RNG, its config
 * (so a checkpoint describes itself) and any counters of its own. Shared by every algorithm so each
 * algorithm file states only what it holds.
 */
export class Checkpointer {
  constructor(
    private readonly parts: () => StateParts,
    private readonly rng: Rng,
    private readonly config: object,
    private readonly counters?: { read(): Record<string, number>; write(extra: Record<string, unknown>): void },
  ) {}

  save(): Promise<LearnerState> {
    return saveParts(this.parts(), { rng: this.rng.state(), config: this.config, ...this.counters?.read() });
  }

  async load(state: LearnerState): Promise<void> {
    await loadParts(this.parts(), state);
    this.rng.restore(state.extra.rng as [number, number, number, number]);
    this.counters?.write(state.extra);
  }

  dispose(): void {
    disposeParts(this.parts());
  }
}

/**
 * What every learner shares, so each algorithm file holds only its networks and update steps: its
 * sizes (I IEDs, observation width D, A actions), its config, its run generator (exploration and
 * sampling; networks are initialised from their own stream), its replay, action choice from logits,
 * the loop of gradient steps of one round, and its checkpoint, built from the variable groups
 * `variableGroups()` names, the `optimizers` and any counters `counters()` names.
 */
export abstract class LearnerBase<C extends object> {
  readonly config: C;
  protected readonly rng: Rng;
  /** the networks' initial weights come from a stream of their own, apart from exploration */
  protected readonly initRng: Rng;
  private readonly checkpoint: Checkpointer;
  /** Test hook, unset in training: an update hands it named intermediate tensors (its 'target') while they live. */
  inspect?: (name: string, value: tf.Tensor) => void;
  /** the episodes this learner learns from (on-policy learners keep one) */
  abstract readonly replay: EpisodeReplay;
  /** the optimizers by checkpoint name (e.g. actorOpt, criticOpt) */
  protected abstract readonly optimizers: Readonly<Record<string, tf.Optimizer>>;

  protected constructor(readonly I: number, readonly D: number, readonly A: number, seed: number, config: C) {
    this.config = config;
    this.rng = new Rng(seed);
    this.initRng = new Rng(seed ^ 0x5eed);
    this.checkpoint = new Checkpointer(() => ({ groups: this.variableGroups(), optimizers: this.optimizers }), this.rng, this.config, {
      read: () => this.counters(),
      write: (extra) => this.restoreCounters(extra),
    });
  }

  /** width of each actor's recurrent state h_a: feed-forward actors have none */
  get hiddenSize(): number {
    return 0;
  }

  /** the variables by checkpoint group (tests read them too) */
  abstract variableGroups(): Record<string, tf.Variable[]>;

  /** counters a checkpoint carries besides the weights (e.g. DQN's ε schedule) */
  protected counters(): Record<string, number> {
    return {};
  }

  protected restoreCounters(_extra: Record<string, unknown>): void {}

  observe(episode: EpisodeRecord): void {
    this.replay.add(episode);
  }

  /** Each IED's action from its policy logits (I × A): greedy, or with `explore` a softmax sample (Gumbel-max). */
  protected actFromLogits(logits: Float32Array, actions: Int32Array, explore: boolean): void {
    const noise = explore ? gumbelNoise(() => this.rng.uniform(), this.I * this.A) : undefined;
    chooseActions(logits, this.I, this.A, actions, noise);
  }

  /** `n` gradient steps (`step` returns each one's losses) and their mean losses, as one round's stats. */
  protected rounds(n: number, step: () => { criticLoss: number; actorLoss: number }): UpdateStats {
    let criticLoss = 0;
    let actorLoss = 0;
    for (let k = 0; k < n; k++) {
      const r = step();
      criticLoss += r.criticLoss;
      actorLoss += r.actorLoss;
    }
    return { steps: n, criticLoss: criticLoss / n, actorLoss: actorLoss / n };
  }

  saveState(): Promise<LearnerState> {
    return this.checkpoint.save();
  }

  loadState(state: LearnerState): Promise<void> {
    return this.checkpoint.load(state);
  }

  dispose(): void {
    this.checkpoint.dispose();
  }
}

/**
 * Each IED's action from its logits (I × A, row-major): argmax, or with `noise` (Gumbel) a sample
 * from the softmax policy (Gumbel-max).
 */
export function chooseActions(logits: Float32Array, agents: number, actionCount: number, actions: Int32Array, noise?: Float32Array): void {
  for (let i = 0; i < agents; i++) {
    let best = 0;
    let bestScore = -Infinity;
    for (let a = 0; a < actionCount; a++) {
      const score = (logits[i * actionCount + a] as number) + (noise ? (noise[i * actionCount + a] as number) : 0);
      if (score > bestScore) {
        bestScore = score;
        best = a;
      }
    }
    actions[i] = best;
  }
}
