/**
 * A PettingZoo-ParallelEnv-like adapter over the world, plus a vectorized path for trainers.
 *
 * | API                   | returns                                                                  |
 * |-----------------------|--------------------------------------------------------------------------|
 * | possibleAgents        | ["ied_0", …, "ied_{I−1}"]                                                 |
 * | observationSpace(a)   | Box(shape [5 + 3M], float32) — layout in core/observation.ts             |
 * | actionSpace(a)        | Discrete(M + 1): 0 local, m offload to edge server m                      |
 * | reset({seed})         | observations, infos                                                      |
 * | step(actions)         | observations, rewards, terminations, truncations, infos (keyed by agent) |
 * | state()               | all agents' observations, concatenated (the centralized critic's view)   |
 * | stepVector(actions)   | the same step without per-agent objects (see VectorStep)                 |
 *
 * rewards[a] is the sum of eq. (4) credits of a's tasks resolved in this step; infos[a].credits tells
 * which decision slot each belongs to, so learners can credit the right transition. The last step
 * (slot T−1) runs the drain, so every task's credit has arrived when terminations are true; episodes
 * are never truncated.
 */
import { World } from './world.ts';
import type { Scenario } from '../core/scenario/schema.ts';
import type { ObservationScales } from '../core/observation.ts';
import type { Metrics } from './metrics.ts';

export type AgentId = `ied_${number}`;

export interface Credit {
  /** slot in which the credited decision was taken */
  readonly slot: number;
  readonly reward: number;
  readonly completed: boolean;
}

export interface AgentInfo {
  /** the slot the returned observation belongs to */
  readonly slot: number;
  /** whether the agent has a task to decide on in that slot (else its next action is a no-op) */
  readonly hasTask: boolean;
  readonly credits: readonly Credit[];
}

export interface StepResult {
  readonly observations: Record<AgentId, Float32Array>;
  readonly rewards: Record<AgentId, number>;
  readonly terminations: Record<AgentId, boolean>;
  readonly truncations: Record<AgentId, boolean>;
  readonly infos: Record<AgentId, AgentInfo>;
}

export interface ResetResult {
  readonly observations: Record<AgentId, Float32Array>;
  readonly infos: Record<AgentId, AgentInfo>;
}

/** Views into buffers the env reuses: copy what you keep past the next step. */
export interface VectorStep {
  /** I × obsSize, row i = agent i */
  readonly observations: Float32Array;
  /** 1 where agent i has a task this slot */
  readonly hasTask: Uint8Array;
  readonly done: boolean;
  /** credits resolved in this step: parallel arrays of length creditCount */
  readonly creditCount: number;
  readonly creditIed: Int32Array;
  readonly creditSlot: Int32Array;
  readonly creditReward: Float64Array;
  readonly creditCompleted: Uint8Array;
}

export interface BoxSpace {
  readonly kind: 'box';
  readonly shape: readonly [number];
  readonly low: number;
  readonly high: number;
}
export interface DiscreteSpace {
  readonly kind: 'discrete';
  readonly n: number;
}

export class GmelParallelEnv {
  readonly world: World;
  readonly possibleAgents: readonly AgentId[];
  private readonly obs: Float32Array;
  private readonly hasTask: Uint8Array;
  private readonly actionBuffer: Int32Array;

  /** the scales observations are encoded with: the model's (a fine-tune keeps its parent's), default the plant's */
  readonly obsScales: ObservationScales;

  constructor(readonly scenario: Scenario, opts: { readonly obsScales?: ObservationScales } = {}) {
    this.world = new World(scenario);
    this.obsScales = opts.obsScales ?? this.world.scales;
    this.possibleAgents = Array.from({ length: scenario.ieds }, (_, i) => `ied_${i}` as AgentId);
    this.obs = new Float32Array(scenario.ieds * this.world.obsSize);
    this.hasTask = new Uint8Array(scenario.ieds);
    this.actionBuffer = new Int32Array(scenario.ieds);
  }

  get agents(): readonly AgentId[] {
    return this.world.done ? [] : this.possibleAgents;
  }

  observationSpace(_agent: AgentId): BoxSpace {
    return { kind: 'box', shape: [this.world.obsSize], low: 0, high: Number.POSITIVE_INFINITY };
  }

  actionSpace(_agent: AgentId): DiscreteSpace {
    return { kind: 'discrete', n: this.world.M + 1 };
  }

  get metrics(): Metrics {
    return this.world.metrics;
  }

  resetVector(seed: number): VectorStep {
    this.world.reset(seed);
    return this.snapshot();
  }

  stepVector(actions: ArrayLike<number>): VectorStep {
    this.world.step(actions);
    return this.snapshot();
  }

  reset(options: { seed: number }): ResetResult {
    const v = this.resetVector(options.seed);
    return { observations: this.perAgentObservations(v), infos: this.perAgentInfos(v) };
  }

  step(actions: Readonly<Partial<Record<AgentId, number>>>): StepResult {
    const buffer = this.actionBuffer;
    this.possibleAgents.forEach((agent, i) => {
      const a = actions[agent];
      if (a === undefined && this.world.currentTask[i] !== -1) throw new RangeError(`missing action for ${agent}, which has a task`);
      if (a !== undefined && !Number.isInteger(a)) throw new RangeError(`action of IED ${i} must be an integer in 0..${this.world.M}, got ${a}`);
      buffer[i] = a ?? 0;
    });
    const v = this.stepVector(buffer);
    const rewards = {} as Record<AgentId, number>;
    const terminations = {} as Record<AgentId, boolean>;
    const truncations = {} as Record<AgentId, boolean>;
    for (const agent of this.possibleAgents) {
      rewards[agent] = 0;
      terminations[agent] = v.done;
      truncations[agent] = false;
    }
    for (let k = 0; k < v.creditCount; k++) {
      const agent = this.possibleAgents[v.creditIed[k] as number] as AgentId;
      rewards[agent] = (rewards[agent] as number) + (v.creditReward[k] as number);
    }
    return { observations: this.perAgentObservations(v), rewards, terminations, truncations, infos: this.perAgentInfos(v) };
  }

  /** The global view for a centralized critic: every agent's observation, in agent order (a copy). */
  state(): Float32Array {
    return this.obs.slice();
  }

  private snapshot(): VectorStep {
    const w = this.world;
    w.observeAll(this.obs, this.obsScales);
    for (let i = 0; i < w.I; i++) this.hasTask[i] = w.currentTask[i] !== -1 ? 1 : 0;
    return {
      observations: this.obs,
      hasTask: this.hasTask,
      done: w.done,
      creditCount: w.credits.count,
      creditIed: w.credits.ied,
      creditSlot: w.credits.slot,
      creditReward: w.credits.reward,
      creditCompleted: w.credits.completed,
    };
  }

  private perAgentObservations(v: VectorStep): Record<AgentId, Float32Array> {
    const size = this.world.obsSize;
    const out = {} as Record<AgentId, Float32Array>;
    this.possibleAgents.forEach((agent, i) => {
      out[agent] = v.observations.slice(i * size, (i + 1) * size);
    });
    return out;
  }

  private perAgentInfos(v: VectorStep): Record<AgentId, AgentInfo> {
    const credits: Credit[][] = this.possibleAgents.map(() => []);
    for (let k = 0; k < v.creditCount; k++) {
      (credits[v.creditIed[k] as number] as Credit[]).push({
        slot: v.creditSlot[k] as number,
        reward: v.creditReward[k] as number,
        completed: v.creditCompleted[k] === 1,
      });
    }
    const out = {} as Record<AgentId, AgentInfo>;
    this.possibleAgents.forEach((agent, i) => {
      out[agent] = { slot: this.world.slot, hasTask: v.hasTask[i] === 1, credits: credits[i] as Credit[] };
    });
    return out;
  }
}
