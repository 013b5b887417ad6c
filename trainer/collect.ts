/**
 * Running one training episode on the simulator's vector path and recording it with delayed credit.
 */
import { GmelParallelEnv } from '../sim/env.ts';
import { newEpisodeRecord, type EpisodeRecord } from './replay.ts';
import type { MetricsSummary } from '../sim/metrics.ts';

/**
 * Decide for every IED: obs is I × D (agent-major rows), write actions[i]. `hidden` (I × H) is the
 * recurrent actors' state, owned here: zero at the episode's start, stepped by the actor in place.
 */
export type ActFn = (obs: Float32Array, hasTask: Uint8Array, actions: Int32Array, hidden: Float32Array) => void;

export interface CollectedEpisode {
  readonly record: EpisodeRecord;
  /** Σ over IEDs and slots of eq. (4) rewards */
  readonly totalReward: number;
  readonly summary: MetricsSummary;
}

export function collectEpisode(env: GmelParallelEnv, seed: number, act: ActFn, hiddenSize = 0): CollectedEpisode {
  const I = env.world.I;
  const D = env.world.obsSize;
  const T = env.scenario.episodeSlots;
  const record = newEpisodeRecord(T, I, D, hiddenSize);
  const actions = new Int32Array(I);
  const hidden = new Float32Array(I * hiddenSize);
  let v = env.resetVector(seed);
  let totalReward = 0;
  for (let t = 0; t < T; t++) {
    record.obs.set(v.observations, t * I * D);
    record.hasTask.set(v.hasTask, t * I);
    record.hidden.set(hidden, t * I * hiddenSize);
    act(v.observations, v.hasTask, actions, hidden);
    record.actions.set(actions, t * I);
    v = env.stepVector(actions);
    for (let k = 0; k < v.creditCount; k++) {
      const at = (v.creditSlot[k] as number) * I + (v.creditIed[k] as number);
      record.rewards[at] = (record.rewards[at] as number) + (v.creditReward[k] as number);
      totalReward += v.creditReward[k] as number;
    }
    if (v.done !== (t === T - 1)) throw new Error(`episode ended at step ${t + 1} of ${T}`);
  }
  record.obs.set(v.observations, T * I * D);
  record.hasTask.set(v.hasTask, T * I);
  record.hidden.set(hidden, T * I * hiddenSize);
  return { record, totalReward, summary: env.metrics.summary() };
}
