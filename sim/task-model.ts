/**
 * The scenario layer between the world and the env adapter: what a task's outcome is worth and
 * what an IED sees.
 *
 * | piece        | definition                                                                      |
 * |--------------|---------------------------------------------------------------------------------|
 * | taskReward   | eq. (4) per task: C − T_i, T_i its latency (s); a dropped task is charged      |
 * |              | dropLatencySeconds (Tang & Wong charge 2 × the maximum delay)                   |
 * | credit       | the reward goes to the transition of the slot where the task was decided,     |
 * |              | reported in the step where its outcome becomes known (delayed credit)          |
 * | no-op        | an IED without a task in a slot has a no-op transition: action ignored, no     |
 * |              | credit ever; learners skip it (infos.hasTask = false)                           |
 * | observation  | core/observation.ts, fed with world.observationFields(i)                        |
 * | task draw    | drawTaskParameters: uniform s, e, d (shared with the live plant emulator)     |
 *
 * The γ^t sum of eq. (4) is the return the learners maximise, not a per-step quantity.
 */
import type { Scenario } from '../core/scenario/schema.ts';
import type { Rng } from '../core/rng.ts';

export interface TaskParameters {
  readonly sizeMbit: number;
  readonly density: number;
  readonly deadlineSeconds: number;
}

/** A task's (s, e, d), uniform over the scenario's ranges (Sec. V-A); the simulator and the live emulator share it. */
export function drawTaskParameters(rng: Rng, task: Scenario['task']): TaskParameters {
  const sizeMbit = rng.between(task.sizeMbit.min, task.sizeMbit.max);
  const density = rng.between(task.densityGcyclesPerMbit.min, task.densityGcyclesPerMbit.max);
  return { sizeMbit, density, deadlineSeconds: rng.between(task.deadlineSeconds.min, task.deadlineSeconds.max) };
}

export function taskReward(scenario: Scenario, completed: boolean, latencySeconds: number): number {
  const r = scenario.reward;
  return r.completionConstant - (completed ? latencySeconds : r.dropLatencySeconds);
}
